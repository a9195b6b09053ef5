import { assert } from "../lib/assert.js";

/** Records per page (2^15 records × 64 bytes = 2 MiB per page). */
const pageShift = 15;
const pageRecords = 1 << pageShift;
const pageMask = pageRecords - 1;
/** Bytes per record: one 64-byte row, so a point read touches a single cache line. */
const rowBytes = 64;
/** Float64 slots per row: main, create, version, lease come first. */
const F = rowBytes / 8;
/** Int32 slots per row: sub, prev, keyId, chunk, offset, keyLen, valLen follow at index 8. */
const I = rowBytes / 4;
/** Initial length of `order`. */
const initialOrder = 1024;

/**
 * The revision history: one record per change of one key, stored row-wise in 2 MiB pages of
 * 64-byte rows, so that a million revisions cost 64 bytes each (no growth slack beyond one page),
 * nothing for the garbage collector, and one cache miss to read. A record is addressed by its
 * slot; freed slots (compaction) are reused.
 *
 * Fields: `main`/`sub` the revision; `create` the generation's create revision; `version` the
 * version (0 = tombstone: the key was deleted at this revision); `lease`; `prev` the previous
 * (older) record of the same key or -1; `keyId` the key (-1 in a freed slot); and where the
 * record's bytes (key, then value) live in the value arena (`chunk`, `offset`, `keyLen`, `valLen`).
 *
 * `order` lists every retained record in revision order (main, then sub): snapshots, hashes and
 * watch catch-up walk it.
 */
export class History {
  readonly #pf: Float64Array[] = [];
  readonly #pi: Int32Array[] = [];
  /** Retained record slots in revision order; entries `[0, orderLength)` are valid. */
  order: Int32Array = new Int32Array(initialOrder);
  orderLength = 0;
  #highWater = 0;
  #free: number[] = [];

  /** Number of retained records. */
  get size(): number {
    return this.orderLength;
  }

  main(s: number): number {
    return (this.#pf[s >>> pageShift] as Float64Array)[(s & pageMask) * F] as number;
  }
  create(s: number): number {
    return (this.#pf[s >>> pageShift] as Float64Array)[(s & pageMask) * F + 1] as number;
  }
  version(s: number): number {
    return (this.#pf[s >>> pageShift] as Float64Array)[(s & pageMask) * F + 2] as number;
  }
  lease(s: number): number {
    return (this.#pf[s >>> pageShift] as Float64Array)[(s & pageMask) * F + 3] as number;
  }
  sub(s: number): number {
    return (this.#pi[s >>> pageShift] as Int32Array)[(s & pageMask) * I + 8] as number;
  }
  prev(s: number): number {
    return (this.#pi[s >>> pageShift] as Int32Array)[(s & pageMask) * I + 9] as number;
  }
  keyId(s: number): number {
    return (this.#pi[s >>> pageShift] as Int32Array)[(s & pageMask) * I + 10] as number;
  }
  chunk(s: number): number {
    return (this.#pi[s >>> pageShift] as Int32Array)[(s & pageMask) * I + 11] as number;
  }
  offset(s: number): number {
    return (this.#pi[s >>> pageShift] as Int32Array)[(s & pageMask) * I + 12] as number;
  }
  keyLen(s: number): number {
    return (this.#pi[s >>> pageShift] as Int32Array)[(s & pageMask) * I + 13] as number;
  }
  valLen(s: number): number {
    return (this.#pi[s >>> pageShift] as Int32Array)[(s & pageMask) * I + 14] as number;
  }

  /** Fills the revision fields of a record. */
  set(
    s: number,
    main: number,
    sub: number,
    create: number,
    version: number,
    lease: number,
    prev: number,
    keyId: number,
  ): void {
    const f = this.#pf[s >>> pageShift] as Float64Array;
    const i = this.#pi[s >>> pageShift] as Int32Array;
    const fo = (s & pageMask) * F;
    const io = (s & pageMask) * I;
    f[fo] = main;
    f[fo + 1] = create;
    f[fo + 2] = version;
    f[fo + 3] = lease;
    i[io + 8] = sub;
    i[io + 9] = prev;
    i[io + 10] = keyId;
  }

  setPrev(s: number, prev: number): void {
    (this.#pi[s >>> pageShift] as Int32Array)[(s & pageMask) * I + 9] = prev;
  }

  /** Sets where the record's key and value bytes live in the arena. */
  setBytes(s: number, chunk: number, offset: number, keyLen: number, valLen: number): void {
    const i = this.#pi[s >>> pageShift] as Int32Array;
    const io = (s & pageMask) * I;
    i[io + 11] = chunk;
    i[io + 12] = offset;
    i[io + 13] = keyLen;
    i[io + 14] = valLen;
  }

  /** Takes a slot for a new record (the caller fills every field) and appends it to `order`. */
  alloc(): number {
    let slot = this.#free.pop();
    if (slot === undefined) {
      if (this.#highWater === this.#pf.length * pageRecords) {
        const f = new Float64Array(pageRecords * F);
        this.#pf.push(f);
        this.#pi.push(new Int32Array(f.buffer));
      }
      slot = this.#highWater++;
    }
    if (this.orderLength === this.order.length) {
      const grown = new Int32Array(this.order.length * 2);
      grown.set(this.order);
      this.order = grown;
    }
    this.order[this.orderLength++] = slot;
    return slot;
  }

  /** Marks a slot free; `order` must be rewritten by {@link History.dropFreed} afterwards. */
  free(slot: number): void {
    assert(this.keyId(slot) !== -1, `History: slot ${slot} freed twice`);
    (this.#pi[slot >>> pageShift] as Int32Array)[(slot & pageMask) * I + 10] = -1;
    this.#free.push(slot);
  }

  /** Removes freed slots from `order`, keeping the revision order of the rest. */
  dropFreed(): void {
    let w = 0;
    for (let r = 0; r < this.orderLength; r++) {
      const slot = this.order[r] as number;
      if (this.keyId(slot) !== -1) this.order[w++] = slot;
    }
    this.orderLength = w;
    if (this.order.length > initialOrder && w * 4 < this.order.length) {
      this.order = this.order.slice(0, Math.max(initialOrder, w * 2));
    }
  }

  /** Index in `order` of the first record with main revision `>= main`. */
  firstAtOrAfter(main: number): number {
    let lo = 0;
    let hi = this.orderLength;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.main(this.order[mid] as number) < main) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
