import { assert } from "../lib/assert.js";
import { bytesToBinary } from "./bytes.js";
import { KeyTree } from "./keytree.js";

/** Initial hash table capacity (entries; a power of two). */
const initialCapacity = 1024;
/** Int32 slots per hash table entry. */
const E = 3;

/** How the index reads the history it points into. */
export interface KeyRecords {
  /**
   * Whether record `slot`, whose bytes start at packed arena position `pos` (-1 = unknown, read
   * it from the record), is a change of the key with these bytes.
   */
  keyEquals(slot: number, pos: number, key: Uint8Array): boolean;
  /** The key bytes of record `slot`. */
  keyBytes(slot: number): Uint8Array;
  /** The sign of the key of record `slot` compared bytewise with binary-string `key`. */
  compareKey(slot: number, key: string): number;
  /** The sign of the `length` key bytes at packed arena position `pos` compared with `key`. */
  comparePacked(pos: number, length: number, key: string): number;
  /** Bytes `[at, at + 4)` of the key of record `slot` as one big-endian number (0 past its end). */
  keyHead(slot: number, at: number): number;
  /** Bytes `[at, at + 4)` of the `length` key bytes at packed arena position `pos`. */
  headPacked(pos: number, length: number, at: number): number;
  /** The key id of record `slot`. */
  keyIdOf(slot: number): number;
}

/**
 * Every key with retained history: a hash table from key to the key's newest record for point
 * lookups, a {@link KeyTree} of key ids for ordered ranges, and per key id the newest record slot
 * (`head`; -1 for a free id). Ids of keys whose history was compacted away are reused. The key
 * bytes themselves live with each record in the arena, so the index holds no second copy besides
 * the tree's separator strings (one per tree node).
 *
 * The hash table is open addressing with linear probing over one `Int32Array` of 12-byte entries
 * (hash, newest record slot, packed arena position of that record's bytes), kept at most half
 * full; a record slot belongs to exactly one key, so it identifies the entry. Point reads hash the
 * request bytes directly and verify a match against the key bytes stored with the record: no
 * string is built, and after the entry the record and its key bytes are fetched independently, so
 * a read waits for about two cache misses in sequence.
 */
export class KeyIndex {
  /** Entries (hash, head slot + 1, arena position); head slot + 1 = 0 marks an empty entry. */
  #table = new Int32Array(initialCapacity * E);
  #mask = initialCapacity - 1;
  #size = 0;
  /** The table position found by the last lookup or insert (a hint; checked before use). */
  #lastEntry = 0;
  readonly tree: KeyTree;
  /** Key id → newest record slot (-1 for a free id). */
  head: Int32Array = new Int32Array(1024).fill(-1);
  /**
   * Key id → (packed arena position of the head record's bytes or -1, key length): the tree
   * compares a key id with one read of the arena instead of going through the history row.
   */
  #keyRef: Int32Array = new Int32Array(2 * 1024);
  #nextId = 0;
  readonly #free: number[] = [];
  readonly #records: KeyRecords;
  /** Keys added during a bulk load, inserted into the tree at its end; null outside one. */
  #bulk: string[] | null = null;

  constructor(records: KeyRecords) {
    this.#records = records;
    this.tree = new KeyTree({
      compare: (id, key) => {
        const pos = this.#keyRef[2 * id] as number;
        return pos >= 0
          ? records.comparePacked(pos, this.#keyRef[2 * id + 1] as number, key)
          : records.compareKey(this.head[id] as number, key);
      },
      keyOf: (id) => bytesToBinary(records.keyBytes(this.head[id] as number)),
      headOf: (id, at) => {
        const pos = this.#keyRef[2 * id] as number;
        return pos >= 0
          ? records.headPacked(pos, this.#keyRef[2 * id + 1] as number, at)
          : records.keyHead(this.head[id] as number, at);
      },
    });
  }

  /** Number of keys. */
  get size(): number {
    return this.#size;
  }

  /** The id of binary-string `key`, or -1. */
  lookup(key: string): number {
    const h = hashString(key);
    const t = this.#table;
    for (let i = h & this.#mask; ; i = (i + 1) & this.#mask) {
      const head1 = t[E * i + 1] as number;
      if (head1 === 0) return -1;
      if (t[E * i] === h && this.#records.compareKey(head1 - 1, key) === 0) {
        this.#lastEntry = i;
        return this.#records.keyIdOf(head1 - 1);
      }
    }
  }

  /** The newest record slot of the key with these bytes, or -1 (no string is built). */
  headOfBytes(key: Uint8Array): number {
    const h = hashBytes(key);
    const t = this.#table;
    for (let i = h & this.#mask; ; i = (i + 1) & this.#mask) {
      const head1 = t[E * i + 1] as number;
      if (head1 === 0) return -1;
      if (t[E * i] === h && this.#records.keyEquals(head1 - 1, t[E * i + 2] as number, key)) return head1 - 1;
    }
  }

  /**
   * Adds a key that is not present yet, with its first record `slot` whose bytes are at packed
   * arena position `pos` (-1 if not packable); returns its new id.
   */
  add(key: string, slot: number, pos: number): number {
    let id = this.#free.pop();
    if (id === undefined) {
      id = this.#nextId++;
      if (id === this.head.length) {
        const grown = new Int32Array(Math.ceil(this.head.length * 1.5)).fill(-1);
        grown.set(this.head);
        this.head = grown;
        const refs = new Int32Array(2 * grown.length);
        refs.set(this.#keyRef);
        this.#keyRef = refs;
      }
    }
    if (2 * (this.#size + 1) > this.#mask + 1) this.#resize(2 * (this.#mask + 1));
    this.#insert(hashString(key), slot, pos);
    this.head[id] = slot;
    this.#keyRef[2 * id] = pos;
    this.#keyRef[2 * id + 1] = key.length;
    this.#size++;
    if (this.#bulk !== null) this.#bulk.push(key);
    else this.tree.insert(id, key);
    return id;
  }

  /**
   * Starts a bulk load into an empty index (snapshot restore): keys added until
   * {@link KeyIndex.endBulk} reach the tree in one sorted O(n) build instead of one by one.
   */
  beginBulk(): void {
    assert(this.#size === 0 && this.#bulk === null, "KeyIndex: bulk load into a non-empty index");
    this.#bulk = [];
  }

  /** Ends a bulk load: sorts the added keys (bytewise) and builds the tree. */
  endBulk(): void {
    const keys = this.#bulk;
    assert(keys !== null, "KeyIndex: endBulk without beginBulk");
    this.#bulk = null;
    keys.sort();
    this.tree.load(
      keys,
      keys.map((key) => this.lookup(key)),
    );
  }

  /** Sets the newest record slot of key id `id` and the packed arena position of its bytes. */
  setHead(id: number, slot: number, pos: number): void {
    const at = this.#entryOf(id);
    this.#table[E * at + 1] = slot + 1;
    this.#table[E * at + 2] = pos;
    this.head[id] = slot;
    this.#keyRef[2 * id] = pos;
  }

  /** Removes binary-string `key` (id `id`), whose history is entirely gone. */
  remove(id: number, key: string): void {
    assert(this.head[id] !== -1, `KeyIndex: removing free key id ${id}`);
    this.#erase(this.#entryOf(id));
    this.#size--;
    this.tree.delete(key);
    this.head[id] = -1;
    this.#free.push(id);
  }

  /**
   * Rewrites every record slot the index holds after the history moved its records
   * (`moved[old]` = new slot). Entries stay where they are: they are placed by key hash.
   */
  remapSlots(moved: Int32Array): void {
    const t = this.#table;
    for (let i = 1; i < t.length; i += E) {
      const head1 = t[i] as number;
      if (head1 !== 0) t[i] = (moved[head1 - 1] as number) + 1;
    }
    const head = this.head;
    for (let id = 0; id < this.#nextId; id++) {
      const slot = head[id] as number;
      if (slot !== -1) {
        head[id] = moved[slot] as number;
        assert(head[id] !== -1, `KeyIndex: key id ${id}'s newest record ${slot} did not move`);
      }
    }
  }

  /**
   * Halves the hash table while it is at most 1/8 full (after compaction removed many keys);
   * returns the bytes of the table it dropped (0 if it kept it).
   */
  shrink(): number {
    let capacity = this.#mask + 1;
    while (capacity > initialCapacity && 8 * this.#size <= capacity) capacity >>= 1;
    if (capacity === this.#mask + 1) return 0;
    const before = this.#table.byteLength;
    this.#resize(capacity);
    return before;
  }

  /** Calls `visit` with each key id in `[start, end)` in key order (`end` null = unbounded). */
  forEachInRange(start: string, end: string | null, visit: (id: number) => boolean | undefined): void {
    this.tree.forEachInRange(start, end, visit);
  }

  /** Calls `visit` with every live key id, in id order (not key order). */
  forEachId(visit: (id: number) => void): void {
    const head = this.head;
    for (let id = 0; id < this.#nextId; id++) if (head[id] !== -1) visit(id);
  }

  /** The table position of key id `id`, identified by its current head slot. */
  #entryOf(id: number): number {
    const t = this.#table;
    const head = this.head[id] as number;
    if (t[E * this.#lastEntry + 1] === head + 1) return this.#lastEntry;
    for (let i = hashBytes(this.#records.keyBytes(head)) & this.#mask; ; i = (i + 1) & this.#mask) {
      const e = t[E * i + 1] as number;
      assert(e !== 0, `KeyIndex: key id ${id} missing from the hash table`);
      if (e === head + 1) return i;
    }
  }

  #insert(h: number, slot: number, pos: number): void {
    const t = this.#table;
    let i = h & this.#mask;
    while (t[E * i + 1] !== 0) i = (i + 1) & this.#mask;
    t[E * i] = h;
    t[E * i + 1] = slot + 1;
    t[E * i + 2] = pos;
    this.#lastEntry = i;
  }

  /** Removes entry `i` and shifts later entries of the probe run back (no tombstones). */
  #erase(i: number): void {
    const t = this.#table;
    const mask = this.#mask;
    let hole = i;
    for (let j = (hole + 1) & mask; t[E * j + 1] !== 0; j = (j + 1) & mask) {
      const home = (t[E * j] as number) & mask;
      // Move j into the hole unless its home lies cyclically in (hole, j].
      const stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (stays) continue;
      t.copyWithin(E * hole, E * j, E * j + E);
      hole = j;
    }
    t.fill(0, E * hole, E * hole + E);
  }

  #resize(capacity: number): void {
    const old = this.#table;
    this.#table = new Int32Array(capacity * E);
    this.#mask = capacity - 1;
    for (let i = 0; i < old.length; i += E) {
      const head1 = old[i + 1] as number;
      if (head1 !== 0) this.#insert(old[i] as number, head1 - 1, old[i + 2] as number);
    }
  }
}

/** Murmur3 (32-bit) over the bytes, four at a time, seeded with the length. */
function hashBytes(key: Uint8Array): number {
  const n = key.length;
  let h = n;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const k =
      (key[i] as number) |
      ((key[i + 1] as number) << 8) |
      ((key[i + 2] as number) << 16) |
      ((key[i + 3] as number) << 24);
    h = mixWord(h, k);
  }
  let k = 0;
  for (let shift = 0; i < n; i++, shift += 8) k |= (key[i] as number) << shift;
  return finish(h, k, n);
}

/** {@link hashBytes} of a binary string (one char per byte). */
function hashString(key: string): number {
  const n = key.length;
  let h = n;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const k =
      key.charCodeAt(i) |
      (key.charCodeAt(i + 1) << 8) |
      (key.charCodeAt(i + 2) << 16) |
      (key.charCodeAt(i + 3) << 24);
    h = mixWord(h, k);
  }
  let k = 0;
  for (let shift = 0; i < n; i++, shift += 8) k |= key.charCodeAt(i) << shift;
  return finish(h, k, n);
}

function scramble(k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, 0x1b873593);
}

function mixWord(h: number, k: number): number {
  h ^= scramble(k);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finish(h: number, tail: number, n: number): number {
  if ((n & 3) !== 0) h ^= scramble(tail);
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
