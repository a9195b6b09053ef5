import { assert } from "../lib/assert.js";
import { EMPTY_BYTES } from "./bytes.js";

/** Bytes per ordinary arena chunk. */
const chunkBytes = 1024 * 1024;
/** Values above this size get a chunk of their own instead of sharing one. */
const sharedValueBytesMax = chunkBytes >> 2;

/**
 * Append-only storage for values, outside the JS heap: each stored value is copied once into a
 * large chunk and addressed by (chunk, offset, length). Reads hand out views into the chunks.
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

  /** Copies `value` in; its location is left in {@link lastChunk} / {@link lastOffset}. */
  append(value: Uint8Array): void {
    const n = value.length;
    this.#liveBytes += n;
    this.#totalBytes += n;
    if (n === 0) {
      this.lastChunk = 0;
      this.lastOffset = 0;
      return;
    }
    if (n > sharedValueBytesMax) {
      const own = new Uint8Array(n);
      own.set(value);
      this.#chunks.push(own);
      this.lastChunk = this.#chunks.length - 1;
      this.lastOffset = 0;
      return;
    }
    if (this.#used + n > this.#current.length) {
      this.#current = new Uint8Array(chunkBytes);
      this.#chunks.push(this.#current);
      this.#currentIndex = this.#chunks.length - 1;
      this.#used = 0;
    }
    this.#current.set(value, this.#used);
    this.lastChunk = this.#currentIndex;
    this.lastOffset = this.#used;
    this.#used += n;
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

  /** Marks `length` bytes as no longer referenced. */
  release(length: number): void {
    this.#liveBytes -= length;
    assert(this.#liveBytes >= 0, "ValueArena: released more than stored");
  }
}
