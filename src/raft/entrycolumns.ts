import { assert } from "../lib/assert.js";
import type { Entry, EntryType, Index, Term } from "./types.js";

/** Default size of one chunk of entry data: 256 KiB (an entry larger than that gets its own). */
export const entryChunkBytesDefault = 256 * 1024;
/** Starting capacity of the columns, in entries; they double as needed. */
const columnsInitial = 64;

const noData: Uint8Array = new Uint8Array(0);

/**
 * A run of log entries held as columns: terms, types and data positions in typed arrays, data
 * bytes copied into large chunks. However many entries it holds, it is a handful of objects, so
 * the garbage collector neither copies nor traces one object per entry (a server's log holds up
 * to a snapshot interval of entries, 100,000 by default, and they would otherwise be most of the
 * objects of its heap). Entries are materialised on read, with `data` a view into a chunk.
 *
 * Positions are 0-based from the oldest entry held. Entries are appended at the end, dropped from
 * the front ({@link dropFront}, releasing chunks no entry uses any more) or cut from the end
 * ({@link truncate}; their bytes stay in the chunk until it is released).
 */
export class EntryColumns {
  readonly #chunkBytes: number;
  #terms = new Float64Array(columnsInitial);
  #types = new Uint8Array(columnsInitial);
  /** Sequence number of the chunk holding each entry's data (non-decreasing with position). */
  #chunkSeqs = new Float64Array(columnsInitial);
  #offsets = new Uint32Array(columnsInitial);
  #lengths = new Uint32Array(columnsInitial);
  /** Column slot of position 0. */
  #start = 0;
  #length = 0;
  #chunks: Uint8Array[] = [];
  /** Sequence number of `#chunks[0]`. */
  #firstChunkSeq = 0;
  /** Bytes used in the last chunk. */
  #fill = 0;

  constructor(chunkBytes = entryChunkBytesDefault) {
    assert(Number.isSafeInteger(chunkBytes) && chunkBytes > 0, `EntryColumns: bad chunkBytes ${chunkBytes}`);
    this.#chunkBytes = chunkBytes;
  }

  /** Entries held. */
  get length(): number {
    return this.#length;
  }

  /** Chunks of data held (for tests: released chunks are gone). */
  get chunkCount(): number {
    return this.#chunks.length;
  }

  term(pos: number): Term {
    return this.#terms[this.#start + pos] as number;
  }

  /** Data bytes of the entry at `pos`. */
  dataBytes(pos: number): number {
    return this.#lengths[this.#start + pos] as number;
  }

  /** The entry at `pos`, which has log index `index`. */
  entry(pos: number, index: Index): Entry {
    const slot = this.#start + pos;
    const n = this.#lengths[slot] as number;
    let data = noData;
    if (n > 0) {
      const chunk = this.#chunks[(this.#chunkSeqs[slot] as number) - this.#firstChunkSeq] as Uint8Array;
      const at = this.#offsets[slot] as number;
      data = chunk.subarray(at, at + n);
    }
    return { term: this.#terms[slot] as number, index, type: this.#types[slot] as EntryType, data };
  }

  /** Appends an entry, copying its data. */
  push(term: Term, type: EntryType, data: Uint8Array): void {
    if (this.#start + this.#length === this.#terms.length) this.#makeRoom();
    const slot = this.#start + this.#length;
    this.#terms[slot] = term;
    this.#types[slot] = type;
    this.#lengths[slot] = data.length;
    if (data.length > 0) {
      let last = this.#chunks[this.#chunks.length - 1];
      if (last === undefined || this.#fill + data.length > last.length) {
        last = new Uint8Array(Math.max(this.#chunkBytes, data.length));
        this.#chunks.push(last);
        this.#fill = 0;
      }
      last.set(data, this.#fill);
      this.#offsets[slot] = this.#fill;
      this.#fill += data.length;
    } else {
      this.#offsets[slot] = 0;
    }
    this.#chunkSeqs[slot] = this.#firstChunkSeq + Math.max(0, this.#chunks.length - 1);
    this.#length++;
  }

  /** Keeps positions `[0, length)` only. */
  truncate(length: number): void {
    assert(length >= 0 && length <= this.#length, `EntryColumns: cannot truncate to ${length}`);
    this.#length = length;
  }

  /** Drops positions `[0, n)`; position `n` becomes position 0. Releases chunks no longer used. */
  dropFront(n: number): void {
    assert(n >= 0 && n <= this.#length, `EntryColumns: cannot drop ${n} of ${this.#length}`);
    this.#start += n;
    this.#length -= n;
    const keepFrom = this.#length > 0 ? (this.#chunkSeqs[this.#start] as number) : Number.POSITIVE_INFINITY;
    // The last chunk stays (appends continue in it) even if no entry uses it.
    while (this.#chunks.length > 1 && this.#firstChunkSeq < keepFrom) {
      this.#chunks.shift();
      this.#firstChunkSeq++;
    }
  }

  /** Drops everything, data chunks included. */
  clear(): void {
    this.#start = 0;
    this.#length = 0;
    this.#firstChunkSeq += this.#chunks.length;
    this.#chunks = [];
    this.#fill = 0;
  }

  /** Moves the live slots to the front, or doubles the columns when more than half are live. */
  #makeRoom(): void {
    const from = this.#start;
    const to = from + this.#length;
    if (from >= this.#terms.length / 2) {
      this.#terms.copyWithin(0, from, to);
      this.#types.copyWithin(0, from, to);
      this.#chunkSeqs.copyWithin(0, from, to);
      this.#offsets.copyWithin(0, from, to);
      this.#lengths.copyWithin(0, from, to);
    } else {
      const n = this.#terms.length * 2;
      this.#terms = grow(new Float64Array(n), this.#terms, from, to);
      this.#types = grow(new Uint8Array(n), this.#types, from, to);
      this.#chunkSeqs = grow(new Float64Array(n), this.#chunkSeqs, from, to);
      this.#offsets = grow(new Uint32Array(n), this.#offsets, from, to);
      this.#lengths = grow(new Uint32Array(n), this.#lengths, from, to);
    }
    this.#start = 0;
  }
}

function grow<T extends Float64Array | Uint32Array | Uint8Array>(
  into: T,
  from: T,
  start: number,
  end: number,
): T {
  into.set(from.subarray(start, end));
  return into;
}
