import { assert } from "../lib/assert.js";
import { EMPTY_BYTES } from "./bytes.js";

/** Bytes of an arena's first chunk, unless a size hint asks for more. */
const chunkBytesMin = 64 * 1024;
/**
 * Bytes of the largest chunk: chunks grow 4-fold up to 1 MiB, and the next ones have this size.
 * At 32 MiB, glibc's malloc serves every chunk with its own mmap whatever its adaptive threshold
 * has grown to (the threshold never exceeds 32 MiB on 64-bit), so a chunk dropped by a repack goes
 * back to the system when V8 collects it, and its pages not written yet are never resident.
 * Smaller chunks come from the malloc heap, which keeps freed memory for reuse: under 1.4 MiB of
 * them per arena.
 */
export const chunkBytesMax = 32 * 1024 * 1024;
/** Chunks below this size are followed by one 4 times larger; from it on, by {@link chunkBytesMax}. */
const smallChunkBytesMax = 1024 * 1024;
/** Byte strings up to this size are copied byte by byte (cheaper than `set` for short keys). */
const smallCopyBytes = 48;
/** Records above this size get a chunk of their own instead of sharing one. */
const sharedRecordBytesMax = 256 * 1024;
/** Garbage below this size is never worth a repack. */
const repackGarbageBytesMin = 8 * 1024 * 1024;
/** Bits of chunk offset in a packed position (chunks are at most 2^25 bytes). */
const offsetBits = 25;
/** Chunks addressable by a packed position (6 bits, so a position stays a non-negative int32). */
const packedChunksMax = 64;
/**
 * Chunk number of the first record with a chunk of its own: such records are numbered apart, so
 * they never use up the packed positions of ordinary chunks (64 of up to 32 MiB: 2 GiB).
 */
const ownChunkBase = 1 << 24;

/**
 * Append-only storage for record bytes (key, then value), outside the JS heap: each is copied once
 * into a large chunk and addressed by (chunk, offset, length). Reads hand out views into the chunks.
 * Chunks are never overwritten, so a view stays valid for as long as its holder keeps it, even
 * after the store replaces the arena with a compacted copy.
 *
 * Chunk sizes grow from 64 KiB (or from the size hint) to {@link chunkBytesMax}, so a small store
 * stays small and a large one lives in chunks the allocator returns to the system when they are
 * dropped.
 *
 * The arena tracks `liveBytes` (released by the store when a revision is compacted away);
 * {@link ValueArena.wasteful} says when copying the live values into a fresh arena pays off.
 */
export class ValueArena {
  readonly #chunks: Uint8Array[] = [];
  /** Chunks of records above {@link sharedRecordBytesMax}, numbered from {@link ownChunkBase}. */
  readonly #own: Uint8Array[] = [];
  #current: Uint8Array = EMPTY_BYTES;
  #currentIndex = -1;
  #used = 0;
  #liveBytes = 0;
  #totalBytes = 0;
  /** Size of the next ordinary chunk. */
  #nextChunkBytes: number;
  /** Chunk index of the last {@link ValueArena.append}. */
  lastChunk = 0;
  /** Offset of the last {@link ValueArena.append}. */
  lastOffset = 0;

  /**
   * `sizeHintBytes`: the bytes expected soon (a repack's live bytes); the first chunk is the
   * smallest chunk size that holds them (64 KiB × 4^k up to 1 MiB, then {@link chunkBytesMax}).
   */
  constructor(sizeHintBytes = 0) {
    let first = chunkBytesMin;
    while (first < sizeHintBytes && first < chunkBytesMax) {
      first = first < smallChunkBytesMax ? 4 * first : chunkBytesMax;
    }
    this.#nextChunkBytes = first;
  }

  /** Bytes of values still referenced by the store. */
  get liveBytes(): number {
    return this.#liveBytes;
  }

  /** Bytes ever appended to this arena. */
  get totalBytes(): number {
    return this.#totalBytes;
  }

  /** Whether more than half the arena is garbage (and there is enough of it to bother). */
  get wasteful(): boolean {
    return this.#totalBytes - this.#liveBytes > Math.max(this.#liveBytes, repackGarbageBytesMin);
  }

  /**
   * Copies `first` and then `second` in, contiguously (a record's key and value); the location
   * of the pair is left in {@link lastChunk} / {@link lastOffset}.
   */
  appendPair(first: Uint8Array, second: Uint8Array): void {
    const n = first.length + second.length;
    this.#liveBytes += n;
    this.#totalBytes += n;
    if (n === 0) {
      this.lastChunk = 0;
      this.lastOffset = 0;
      return;
    }
    let target: Uint8Array;
    let at: number;
    if (n > sharedRecordBytesMax) {
      target = sharedBytes(n);
      this.#own.push(target);
      this.lastChunk = ownChunkBase + this.#own.length - 1;
      at = 0;
    } else {
      if (this.#used + n > this.#current.length) {
        this.#current = sharedBytes(Math.max(this.#nextChunkBytes, n));
        this.#nextChunkBytes =
          this.#nextChunkBytes < smallChunkBytesMax ? 4 * this.#nextChunkBytes : chunkBytesMax;
        this.#chunks.push(this.#current);
        this.#currentIndex = this.#chunks.length - 1;
        this.#used = 0;
      }
      target = this.#current;
      at = this.#used;
      this.lastChunk = this.#currentIndex;
      this.#used += n;
    }
    this.lastOffset = at;
    copyInto(target, first, at);
    copyInto(target, second, at + first.length);
  }

  /** A read-only view of a stored value. */
  view(chunk: number, offset: number, length: number): Uint8Array {
    if (length === 0) return EMPTY_BYTES;
    const c = this.#chunk(chunk);
    assert(
      c !== undefined && offset + length <= c.length,
      `ValueArena: bad location ${chunk}:${offset}+${length}`,
    );
    return c.subarray(offset, offset + length);
  }

  /**
   * The location of the last append packed into one non-negative int32 (6 bits of chunk index,
   * 25 bits of offset), or -1 when it does not fit (a record in a chunk of its own, or past the
   * first 64 chunks: about 2 GiB of records).
   */
  get lastPacked(): number {
    return this.lastChunk < packedChunksMax && this.lastOffset < 1 << offsetBits
      ? this.lastChunk * (1 << offsetBits) + this.lastOffset
      : -1;
  }

  /** Whether the bytes at a packed position start with exactly `bytes`. */
  equalsPacked(pos: number, bytes: Uint8Array): boolean {
    return this.equals(pos >>> offsetBits, pos & ((1 << offsetBits) - 1), bytes);
  }

  /** Bytes of chunk memory allocated (written or not). */
  get chunkBytes(): number {
    let n = 0;
    for (const c of this.#chunks) n += c.length;
    for (const c of this.#own) n += c.length;
    return n;
  }

  /** Whether the bytes at (chunk, offset) start with exactly `bytes`. */
  equals(chunk: number, offset: number, bytes: Uint8Array): boolean {
    const c = this.#chunk(chunk);
    if (c === undefined || offset + bytes.length > c.length) return false;
    for (let i = 0; i < bytes.length; i++) if (c[offset + i] !== bytes[i]) return false;
    return true;
  }

  /**
   * The sign of the `length` bytes at (chunk, offset) compared bytewise with binary-string `key`
   * (one char per byte): negative, zero or positive.
   */
  compareString(chunk: number, offset: number, length: number, key: string): number {
    if (length === 0) return key.length === 0 ? 0 : -1;
    const c = this.#chunk(chunk);
    assert(
      c !== undefined && offset + length <= c.length,
      `ValueArena: bad location ${chunk}:${offset}+${length}`,
    );
    const n = Math.min(length, key.length);
    for (let i = 0; i < n; i++) {
      const d = (c[offset + i] as number) - key.charCodeAt(i);
      if (d !== 0) return d;
    }
    return length - key.length;
  }

  /** {@link ValueArena.compareString} at a packed position. */
  comparePacked(pos: number, length: number, key: string): number {
    return this.compareString(pos >>> offsetBits, pos & ((1 << offsetBits) - 1), length, key);
  }

  /**
   * Bytes `[at, at + 4)` of the `length` bytes at (chunk, offset) as a big-endian unsigned 32-bit
   * number, bytes past `length` read as 0 (the key tree's heads).
   */
  headAt(chunk: number, offset: number, length: number, at: number): number {
    if (at >= length) return 0;
    const c = this.#chunk(chunk);
    assert(
      c !== undefined && offset + length <= c.length,
      `ValueArena: bad location ${chunk}:${offset}+${length}`,
    );
    let h = 0;
    for (let i = at; i < at + 4; i++) h = h * 256 + (i < length ? (c[offset + i] as number) : 0);
    return h;
  }

  /** {@link ValueArena.headAt} at a packed position. */
  headPacked(pos: number, length: number, at: number): number {
    return this.headAt(pos >>> offsetBits, pos & ((1 << offsetBits) - 1), length, at);
  }

  /**
   * The chunks as they are now, for {@link ValueArena.ofChunks} in another thread: every byte
   * appended so far stays where it is (chunks are shared memory and never overwritten).
   */
  chunkLists(): { readonly chunks: Uint8Array[]; readonly own: Uint8Array[] } {
    return { chunks: [...this.#chunks], own: [...this.#own] };
  }

  /**
   * A read-only arena over chunks taken with {@link ValueArena.chunkLists} (e.g. by a snapshot
   * encoder in another thread): {@link ValueArena.view} reads them; nothing is to be appended.
   */
  static ofChunks(lists: {
    readonly chunks: readonly Uint8Array[];
    readonly own: readonly Uint8Array[];
  }): ValueArena {
    const a = new ValueArena();
    for (const c of lists.chunks) a.#chunks.push(c);
    for (const c of lists.own) a.#own.push(c);
    return a;
  }

  #chunk(chunk: number): Uint8Array | undefined {
    return chunk < ownChunkBase ? this.#chunks[chunk] : this.#own[chunk - ownChunkBase];
  }

  /** Marks `length` bytes as no longer referenced. */
  release(length: number): void {
    this.#liveBytes -= length;
    assert(this.#liveBytes >= 0, "ValueArena: released more than stored");
  }
}

function copyInto(target: Uint8Array, source: Uint8Array, at: number): void {
  const n = source.length;
  if (n > smallCopyBytes) {
    target.set(source, at);
    return;
  }
  for (let i = 0; i < n; i++) target[at + i] = source[i] as number;
}

/**
 * Bytes in shared memory: a snapshot encoder in another thread reads the same chunks while this
 * one appends after them.
 */
function sharedBytes(n: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(n));
}
