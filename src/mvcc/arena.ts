import { assert } from "../lib/assert.js";
import { EMPTY_BYTES } from "./bytes.js";

/** Bytes per ordinary arena chunk. */
const chunkBytes = 1024 * 1024;
/** Byte strings up to this size are copied byte by byte (cheaper than `set` for short keys). */
const smallCopyBytes = 48;
/** Values above this size get a chunk of their own instead of sharing one. */
const sharedValueBytesMax = chunkBytes >> 2;

/**
 * Append-only storage for record bytes (key, then value), outside the JS heap: each is copied once
 * into a large chunk and addressed by (chunk, offset, length). Reads hand out views into the chunks.
 * Chunks are never overwritten, so a view stays valid for as long as its holder keeps it, even
 * after the store replaces the arena with a compacted copy.
 *
 * The arena tracks `liveBytes` (released by the store when a revision is compacted away);
 * {@link ValueArena.wasteful} says when copying the live values into a fresh arena pays off.
 */
export class ValueArena {
  readonly #chunks: Uint8Array[] = [];
  #current: Uint8Array = EMPTY_BYTES;
  #currentIndex = -1;
  #used = 0;
  #liveBytes = 0;
  #totalBytes = 0;
  /** Chunk index of the last {@link ValueArena.append}. */
  lastChunk = 0;
  /** Offset of the last {@link ValueArena.append}. */
  lastOffset = 0;

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
    return this.#totalBytes - this.#liveBytes > Math.max(this.#liveBytes, 8 * chunkBytes);
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
    if (n > sharedValueBytesMax) {
      target = new Uint8Array(n);
      this.#chunks.push(target);
      this.lastChunk = this.#chunks.length - 1;
      at = 0;
    } else {
      if (this.#used + n > this.#current.length) {
        this.#current = new Uint8Array(chunkBytes);
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
    const c = this.#chunks[chunk];
    assert(
      c !== undefined && offset + length <= c.length,
      `ValueArena: bad location ${chunk}:${offset}+${length}`,
    );
    return c.subarray(offset, offset + length);
  }

  /**
   * The location of the last append packed into one non-negative int32 (11 bits of chunk index,
   * 20 bits of offset), or -1 when it does not fit.
   */
  get lastPacked(): number {
    return this.lastChunk < 2048 && this.lastOffset < 1 << 20
      ? this.lastChunk * (1 << 20) + this.lastOffset
      : -1;
  }

  /** Whether the bytes at a packed position start with exactly `bytes`. */
  equalsPacked(pos: number, bytes: Uint8Array): boolean {
    return this.equals(pos >>> 20, pos & 0xfffff, bytes);
  }

  /** Whether the bytes at (chunk, offset) start with exactly `bytes`. */
  equals(chunk: number, offset: number, bytes: Uint8Array): boolean {
    const c = this.#chunks[chunk];
    if (c === undefined || offset + bytes.length > c.length) return false;
    for (let i = 0; i < bytes.length; i++) if (c[offset + i] !== bytes[i]) return false;
    return true;
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
