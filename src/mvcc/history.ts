import { assert } from "../lib/assert.js";

/** Initial capacity of the record columns. */
const initialRecords = 1024;

/**
 * The revision history: one record per change of one key, stored column-wise in typed arrays so
 * that a million revisions cost a few dozen bytes each and nothing for the garbage collector.
 * A record is addressed by its slot; freed slots (compaction) are reused.
 *
 * Columns: `main`/`sub` the revision; `create` the generation's create revision; `version` the
 * version (0 = tombstone: the key was deleted at this revision); `lease`; `prev` the previous
 * (older) record of the same key or -1; `keyId` the key (-1 in a freed slot); and the value's
 * location in the value arena.
 *
 * `order` lists every retained record in revision order (main, then sub): snapshots, hashes and
 * watch catch-up walk it.
 */
export class History {
  main: Float64Array = new Float64Array(initialRecords);
  sub: Uint32Array = new Uint32Array(initialRecords);
  create: Float64Array = new Float64Array(initialRecords);
  version: Float64Array = new Float64Array(initialRecords);
  lease: Float64Array = new Float64Array(initialRecords);
  prev: Int32Array = new Int32Array(initialRecords);
  keyId: Int32Array = new Int32Array(initialRecords);
  valChunk: Uint32Array = new Uint32Array(initialRecords);
  valOff: Uint32Array = new Uint32Array(initialRecords);
  valLen: Uint32Array = new Uint32Array(initialRecords);
  /** Retained record slots in revision order; entries `[0, orderLength)` are valid. */
  order: Int32Array = new Int32Array(initialRecords);
  orderLength = 0;
  #highWater = 0;
  #free: number[] = [];

  /** Number of retained records. */
  get size(): number {
    return this.orderLength;
  }

  /** Takes a slot for a new record (the caller fills every column) and appends it to `order`. */
  alloc(): number {
    let slot = this.#free.pop();
    if (slot === undefined) {
      if (this.#highWater === this.main.length) this.#grow();
      slot = this.#highWater++;
    }
    if (this.orderLength === this.order.length) this.order = growInt32(this.order, this.order.length * 2);
    this.order[this.orderLength++] = slot;
    return slot;
  }

  /** Marks a slot free; `order` must be rewritten by {@link History.dropFreed} afterwards. */
  free(slot: number): void {
    assert(this.keyId[slot] !== -1, `History: slot ${slot} freed twice`);
    this.keyId[slot] = -1;
    this.#free.push(slot);
  }

  /** Removes freed slots from `order`, keeping the revision order of the rest. */
  dropFreed(): void {
    let w = 0;
    for (let r = 0; r < this.orderLength; r++) {
      const slot = this.order[r] as number;
      if (this.keyId[slot] !== -1) this.order[w++] = slot;
    }
    this.orderLength = w;
    if (this.order.length > initialRecords && w * 4 < this.order.length) {
      this.order = this.order.slice(0, Math.max(initialRecords, w * 2));
    }
  }

  /** Index in `order` of the first record with main revision `>= main`. */
  firstAtOrAfter(main: number): number {
    let lo = 0;
    let hi = this.orderLength;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.main[this.order[mid] as number] as number) < main) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #grow(): void {
    const n = Math.max(initialRecords, Math.ceil(this.main.length * 1.5));
    this.main = growFloat64(this.main, n);
    this.sub = growUint32(this.sub, n);
    this.create = growFloat64(this.create, n);
    this.version = growFloat64(this.version, n);
    this.lease = growFloat64(this.lease, n);
    this.prev = growInt32(this.prev, n);
    this.keyId = growInt32(this.keyId, n);
    this.valChunk = growUint32(this.valChunk, n);
    this.valOff = growUint32(this.valOff, n);
    this.valLen = growUint32(this.valLen, n);
  }
}

function growFloat64(a: Float64Array, n: number): Float64Array {
  const b = new Float64Array(n);
  b.set(a);
  return b;
}

function growUint32(a: Uint32Array, n: number): Uint32Array {
  const b = new Uint32Array(n);
  b.set(a);
  return b;
}

function growInt32(a: Int32Array, n: number): Int32Array {
  const b = new Int32Array(n);
  b.set(a.subarray(0, Math.min(a.length, n)));
  return b;
}
