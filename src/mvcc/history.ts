import { assert } from "../lib/assert.js";

/**
 * Records per page (2^19 records × 64 bytes = 32 MiB per page): at that size glibc's malloc maps
 * each page on its own, so a page dropped by {@link History.repack} goes back to the system, and
 * rows not written yet are never resident. The first page starts at 64 KiB and grows 4-fold up
 * to 1 MiB, then to full size.
 */
const pageShift = 19;
const pageRecords = 1 << pageShift;
const pageMask = pageRecords - 1;
/** Records of the smallest page (64 KiB). */
const pageRecordsMin = 1024;
/** Pages below this many records (1 MiB) grow 4-fold; larger ones grow to full size. */
const smallPageRecordsMax = 16 * 1024;
/** Free slots below this many are never worth a repack (2 MiB of rows). */
const repackFreeRecordsMin = 32 * 1024;
/** Bytes per record: one 64-byte row, so a point read touches a single cache line. */
const rowBytes = 64;
/** Float64 slots per row: main, create, version, lease come first. */
const F = rowBytes / 8;
/** Int32 slots per row: sub, prev, keyId, chunk, offset, keyLen, valLen follow at index 8. */
const I = rowBytes / 4;
/** Initial length of `order`. */
const initialOrder = 1024;

/**
 * The revision history: one record per change of one key, stored row-wise in pages of 64-byte
 * rows, so that a million revisions cost 64 bytes each, nothing for the garbage collector, and one
 * cache miss to read. A record is addressed by its slot; freed slots (compaction) are reused, and
 * when most slots are free {@link History.repack} moves the records into fresh, dense pages so
 * the memory of the old ones is returned.
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
  #pf: Float64Array[] = [];
  #pi: Int32Array[] = [];
  /** Retained record slots in revision order; entries `[0, orderLength)` are valid. */
  order: Int32Array = new Int32Array(initialOrder);
  orderLength = 0;
  #highWater = 0;
  /** Slots the pages hold: full pages, then the last page's length. */
  #capacity = 0;
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
      if (this.#highWater === this.#capacity) this.#grow();
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

  /** Slots in use or free below the high-water mark (rows the pages hold in memory). */
  get highWater(): number {
    return this.#highWater;
  }

  /** Makes room for one more slot: grows the last page up to full size, or adds a page. */
  #grow(): void {
    const last = this.#pf.length - 1;
    const lastRecords = last < 0 ? pageRecords : (this.#pf[last] as Float64Array).length / F;
    if (lastRecords < pageRecords) {
      const f = sharedRows((lastRecords < smallPageRecordsMax ? 4 * lastRecords : pageRecords) * F);
      f.set(this.#pf[last] as Float64Array);
      this.#pf[last] = f;
      this.#pi[last] = new Int32Array(f.buffer);
      this.#capacity += f.length / F - lastRecords;
      return;
    }
    this.#addPage(this.#pf.length === 0 ? pageRecordsMin : pageRecords);
  }

  #addPage(records: number): void {
    const f = sharedRows(records * F);
    this.#pf.push(f);
    this.#pi.push(new Int32Array(f.buffer));
    this.#capacity = (this.#pf.length - 1) * pageRecords + records;
  }

  /**
   * The pages as they are now, for {@link History.ofPages} in another thread: the rows of records
   * already written stay where they are (pages are shared memory; a page that grows is copied to
   * a new one, the old one keeping its rows) until a repack.
   */
  pageList(): Float64Array[] {
    return [...this.#pf];
  }

  /**
   * A read-only history over pages taken with {@link History.pageList} (e.g. by a snapshot encoder
   * in another thread): its field accessors read those rows; it has no `order` and takes no records.
   */
  static ofPages(pages: readonly Float64Array[]): History {
    const h = new History();
    h.#pf = [...pages];
    h.#pi = pages.map((f) => new Int32Array(f.buffer, f.byteOffset, f.length * 2));
    return h;
  }

  /** Whether most slots are free, enough to make {@link History.repack} worth its copy. */
  get sparse(): boolean {
    const free = this.#highWater - this.orderLength;
    return free > Math.max(this.orderLength, repackFreeRecordsMin);
  }

  /** Bytes of row pages allocated (written or not). */
  get pageBytes(): number {
    let n = 0;
    for (const f of this.#pf) n += f.byteLength;
    return n;
  }

  /**
   * Moves every retained record into fresh pages, slot `i` holding the `i`-th record in revision
   * order, and drops the old pages. Returns the old slot → new slot map (-1 for a free slot) so
   * the caller can rewrite its own references to slots (the key index); `prev` links are
   * rewritten here. No free slots remain.
   */
  repack(): Int32Array {
    const n = this.orderLength;
    const moved = new Int32Array(this.#highWater).fill(-1);
    for (let i = 0; i < n; i++) moved[this.order[i] as number] = i;
    const oldF = this.#pf;
    this.#pf = [];
    this.#pi = [];
    this.#capacity = 0;
    while (this.#capacity < n) {
      const left = n - this.#capacity;
      let records = pageRecordsMin;
      while (records < left && records < pageRecords) {
        records = records < smallPageRecordsMax ? 4 * records : pageRecords;
      }
      this.#addPage(records);
    }
    for (let i = 0; i < n; i++) {
      const s = this.order[i] as number;
      const from = (s & pageMask) * F;
      const to = (i & pageMask) * F;
      const f = this.#pf[i >>> pageShift] as Float64Array;
      f.set((oldF[s >>> pageShift] as Float64Array).subarray(from, from + F), to);
      const ints = this.#pi[i >>> pageShift] as Int32Array;
      const prev = ints[(i & pageMask) * I + 9] as number;
      if (prev !== -1) {
        const prevNew = moved[prev] as number;
        assert(prevNew !== -1, `History.repack: record ${s} links to free slot ${prev}`);
        ints[(i & pageMask) * I + 9] = prevNew;
      }
      this.order[i] = i;
    }
    this.#highWater = n;
    this.#free = [];
    if (this.order.length > initialOrder && n * 4 < this.order.length) {
      this.order = this.order.slice(0, Math.max(initialOrder, n * 2));
    }
    return moved;
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

/** Float64 slots in shared memory (see {@link History.pageList}). */
function sharedRows(n: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(n * 8));
}
