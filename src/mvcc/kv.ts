import { assert } from "../lib/assert.js";
import { ValueArena } from "./arena.js";
import { bytesToBinary, EMPTY_BYTES } from "./bytes.js";
import { History } from "./history.js";
import { KeyIndex } from "./keyindex.js";
import { recordOverheadBytes } from "./limits.js";
import type { KeyValue, LeaseId, Revision } from "./types.js";

/** Receives every committed revision's changes (record slots in sub-revision order). */
export type RevisionListener = (revision: Revision, slots: readonly number[]) => void;

/** Receives lease attachment changes as keys are put and deleted. */
export interface LeaseAttachments {
  attach(lease: LeaseId, key: string): void;
  detach(lease: LeaseId, key: string): void;
}

/**
 * The multi-version key space: revision counters, the key index and the history of every key.
 * It applies already-validated changes and answers visibility questions; request semantics
 * (ranges with options, txns, limits) live in the layers above.
 *
 * Writes happen inside `beginWrite()` … `endWrite()`: all changes of one request share main
 * revision `current + 1` with increasing sub revisions; the revision only advances if something
 * changed. Reads inside a write see the request's earlier changes (read at {@link Kv.readRevision}).
 */
export class Kv {
  readonly history = new History();
  readonly keys = new KeyIndex({
    keyEquals: (slot, pos, key) => this.keyEquals(slot, pos, key),
    keyIdOf: (slot) => this.history.keyId(slot),
    keyBytes: (slot) => this.keyBytesOf(slot),
    compareKey: (slot, key) => {
      const h = this.history;
      return this.arena.compareString(h.chunk(slot), h.offset(slot), h.keyLen(slot), key);
    },
    comparePacked: (pos, length, key) => this.arena.comparePacked(pos, length, key),
    keyHead: (slot, at) => {
      const h = this.history;
      return this.arena.headAt(h.chunk(slot), h.offset(slot), h.keyLen(slot), at);
    },
    headPacked: (pos, length, at) => this.arena.headPacked(pos, length, at),
  });
  arena = new ValueArena();
  #current: Revision = 1;
  #compacted: Revision = 0;
  #accountedBytes = 0;
  #writing = false;
  #changes: number[] = [];
  #rewrites = 0;
  #releasedBytes = 0;
  listener: RevisionListener | null = null;
  attachments: LeaseAttachments | null = null;

  /** The store revision (of the last completed write; 1 for an empty store). */
  get currentRevision(): Revision {
    return this.#current;
  }

  /** The last compaction revision; 0 if never compacted. */
  get compactRevision(): Revision {
    return this.#compacted;
  }

  /** Bytes counted against the quota: per retained record, key + value + overhead. */
  get accountedBytes(): number {
    return this.#accountedBytes;
  }

  /**
   * Bytes of memory that repacks dropped since the store was created (old arena chunks, history
   * pages and key index tables, allocated sizes): garbage the host's collector can return to the
   * system. It grows only in {@link Kv.compact} (and {@link Kv.repack}).
   */
  get releasedBytes(): number {
    return this.#releasedBytes;
  }

  /**
   * Counts the changes that rewrite retained history (compactions and repacks free, move and
   * renumber records), so long-running readers (snapshot encoders) can check they saw none.
   * Writes only append records and leave this unchanged.
   */
  get rewrites(): number {
    return this.#rewrites;
  }

  /** The revision a read sees: inside a write with changes, the write's own revision. */
  get readRevision(): Revision {
    return this.#writing && this.#changes.length > 0 ? this.#current + 1 : this.#current;
  }

  /** Starts a write request. */
  beginWrite(): void {
    assert(!this.#writing, "Kv: nested write");
    this.#writing = true;
    this.#changes = [];
  }

  /** Ends a write request; returns the resulting store revision. */
  endWrite(): Revision {
    assert(this.#writing, "Kv: endWrite without beginWrite");
    this.#writing = false;
    const changes = this.#changes;
    if (changes.length === 0) return this.#current;
    this.#current++;
    this.#changes = [];
    this.listener?.(this.#current, changes);
    return this.#current;
  }

  /** Number of changes made so far by the current write. */
  get pendingChanges(): number {
    return this.#changes.length;
  }

  /** The newest record slot of key id `id` visible at `rev`, or -1 when absent (or deleted). */
  slotAt(id: number, rev: Revision): number {
    return id < 0 ? -1 : this.slotFrom(this.keys.head[id] as number, rev);
  }

  /** Like {@link Kv.slotAt}, starting from a key's newest record slot (-1 = no key). */
  slotFrom(slot: number, rev: Revision): number {
    const h = this.history;
    while (slot !== -1 && h.main(slot) > rev) slot = h.prev(slot);
    if (slot === -1 || h.version(slot) === 0) return -1;
    return slot;
  }

  /** The live record slot of `key` at the read revision, or -1. */
  liveSlot(key: string): number {
    return this.slotAt(this.keys.lookup(key), this.readRevision);
  }

  /** Materialises the key-value of a live record; key and value are views into the arena. */
  keyValue(slot: number, keysOnly = false): KeyValue {
    const h = this.history;
    const chunk = h.chunk(slot);
    const offset = h.offset(slot);
    const keyLen = h.keyLen(slot);
    return {
      key: this.arena.view(chunk, offset, keyLen),
      createRevision: h.create(slot),
      modRevision: h.main(slot),
      version: h.version(slot),
      value: keysOnly ? EMPTY_BYTES : this.arena.view(chunk, offset + keyLen, h.valLen(slot)),
      lease: h.lease(slot),
    };
  }

  /** The value of a record (empty for tombstones). */
  valueOf(slot: number): Uint8Array {
    const h = this.history;
    return this.arena.view(h.chunk(slot), h.offset(slot) + h.keyLen(slot), h.valLen(slot));
  }

  /** The key bytes of a record (a view into the arena). */
  keyBytesOf(slot: number): Uint8Array {
    const h = this.history;
    return this.arena.view(h.chunk(slot), h.offset(slot), h.keyLen(slot));
  }

  /** The binary-string key of a record. */
  keyOf(slot: number): string {
    return bytesToBinary(this.keyBytesOf(slot));
  }

  /**
   * Whether record `slot` (bytes at packed arena position `pos`, or -1) is a change of the key with
   * these bytes. The record's key length is loaded before the bytes are compared, so the two
   * cache misses overlap.
   */
  keyEquals(slot: number, pos: number, key: Uint8Array): boolean {
    const h = this.history;
    const keyLen = h.keyLen(slot);
    const same =
      pos >= 0 ? this.arena.equalsPacked(pos, key) : this.arena.equals(h.chunk(slot), h.offset(slot), key);
    return same && keyLen === key.length;
  }

  /**
   * Records a put of `key` (binary string of `keyBytes`) inside the current write. The caller
   * has validated it. Returns the new record's slot.
   */
  put(key: string, keyBytes: Uint8Array, value: Uint8Array, lease: LeaseId): number {
    assert(this.#writing, "Kv: put outside a write");
    const h = this.history;
    const rev = this.#current + 1;
    let id = this.keys.lookup(key);
    const prevSlot = id === -1 ? -1 : (this.keys.head[id] as number);
    const live = prevSlot !== -1 && h.version(prevSlot) !== 0;
    const slot = h.alloc();
    this.arena.appendPair(keyBytes, value);
    h.setBytes(slot, this.arena.lastChunk, this.arena.lastOffset, keyBytes.length, value.length);
    if (id === -1) id = this.keys.add(key, slot, this.arena.lastPacked);
    else this.keys.setHead(id, slot, this.arena.lastPacked);
    const create = live ? h.create(prevSlot) : rev;
    const version = live ? h.version(prevSlot) + 1 : 1;
    h.set(slot, rev, this.#changes.length, create, version, lease, prevSlot, id);
    this.#changes.push(slot);
    this.#accountedBytes += recordOverheadBytes + key.length + value.length;
    const oldLease = live ? h.lease(prevSlot) : 0;
    if (this.attachments !== null && oldLease !== lease) {
      if (oldLease !== 0) this.attachments.detach(oldLease, key);
      if (lease !== 0) this.attachments.attach(lease, key);
    }
    return slot;
  }

  /** Records the deletion of live key id `id` inside the current write; returns the tombstone slot. */
  tombstone(id: number): number {
    assert(this.#writing, "Kv: delete outside a write");
    const h = this.history;
    const prevSlot = this.keys.head[id] as number;
    assert(prevSlot !== -1 && h.version(prevSlot) !== 0, "Kv: deleting an absent key");
    const keyLen = h.keyLen(prevSlot);
    const slot = h.alloc();
    h.set(slot, this.#current + 1, this.#changes.length, 0, 0, 0, prevSlot, id);
    this.arena.appendPair(this.keyBytesOf(prevSlot), EMPTY_BYTES);
    h.setBytes(slot, this.arena.lastChunk, this.arena.lastOffset, keyLen, 0);
    this.keys.setHead(id, slot, this.arena.lastPacked);
    this.#changes.push(slot);
    this.#accountedBytes += recordOverheadBytes + keyLen;
    const oldLease = h.lease(prevSlot);
    if (this.attachments !== null && oldLease !== 0) this.attachments.detach(oldLease, this.keyOf(prevSlot));
    return slot;
  }

  /**
   * Compacts history at `rev` (validated by the caller: `compactRevision < rev <= current`).
   * Per key: every record at or above `rev` stays (so watchers starting at `rev` see every event
   * of that revision, including deletes); below it only the newest record stays, and only if it
   * is not a tombstone and no record sits exactly at `rev`. A key left with no history is removed.
   * When most of the history's rows, the key index's table or the arena's bytes are then free,
   * each is replaced by a dense copy and the old memory dropped ({@link Kv.releasedBytes}).
   */
  compact(rev: Revision): void {
    assert(!this.#writing, "Kv: compact inside a write");
    assert(rev > this.#compacted && rev <= this.#current, `Kv: bad compaction revision ${rev}`);
    const h = this.history;
    const keys = this.keys;
    keys.forEachId((id) => {
      let slot = keys.head[id] as number;
      let newestKept = -1;
      let sawAtRev = false;
      while (slot !== -1 && h.main(slot) >= rev) {
        if (h.main(slot) === rev) sawAtRev = true;
        newestKept = slot;
        slot = h.prev(slot);
      }
      if (slot === -1) return;
      // `slot` is the newest record below `rev`.
      let firstDropped = slot;
      if (!sawAtRev && h.version(slot) !== 0) {
        newestKept = slot;
        firstDropped = h.prev(slot);
      }
      if (firstDropped === -1) return;
      // A key with nothing left leaves the index (while its records are still readable).
      if (newestKept === -1) keys.remove(id, this.keyOf(keys.head[id] as number));
      else h.setPrev(newestKept, -1);
      for (let s = firstDropped; s !== -1; s = h.prev(s)) this.#freeRecord(s);
    });
    h.dropFreed();
    this.#compacted = rev;
    this.#rewrites++;
    // Give memory back once most of it is garbage: the history's rows, the key index's table,
    // the value arena's chunks (each replaced by a dense copy; the old ones are left to the GC).
    if (h.sparse) this.#repackHistory();
    this.#releasedBytes += keys.shrink();
    if (this.arena.wasteful) this.#repackArena();
  }

  /**
   * Moves the history into dense pages and the live bytes into a fresh arena now, as
   * {@link Kv.compact} does by itself once most of either is garbage. Changes no revision, key or
   * value; for tests and tools.
   */
  repack(): void {
    assert(!this.#writing, "Kv: repack inside a write");
    this.#rewrites++;
    this.#repackHistory();
    this.#releasedBytes += this.keys.shrink();
    this.#repackArena();
  }

  #repackHistory(): void {
    const before = this.history.pageBytes;
    this.keys.remapSlots(this.history.repack());
    this.#releasedBytes += before;
  }

  /** Restores the revision counters (snapshot restore); the history must already be loaded. */
  restoreRevisions(current: Revision, compacted: Revision): void {
    this.#current = current;
    this.#compacted = compacted;
  }

  /**
   * Appends a record during snapshot restore, in revision order. `create`/`version` as stored;
   * version 0 marks a tombstone.
   */
  restoreRecord(
    key: string,
    keyBytes: Uint8Array,
    main: number,
    sub: number,
    create: number,
    version: number,
    lease: number,
    value: Uint8Array,
  ): void {
    const h = this.history;
    let id = this.keys.lookup(key);
    const prevSlot = id === -1 ? -1 : (this.keys.head[id] as number);
    const slot = h.alloc();
    this.arena.appendPair(keyBytes, value);
    h.setBytes(slot, this.arena.lastChunk, this.arena.lastOffset, keyBytes.length, value.length);
    if (id === -1) id = this.keys.add(key, slot, this.arena.lastPacked);
    else this.keys.setHead(id, slot, this.arena.lastPacked);
    h.set(slot, main, sub, create, version, lease, prevSlot, id);
    this.#accountedBytes += recordOverheadBytes + key.length + value.length;
  }

  #freeRecord(slot: number): void {
    const h = this.history;
    const len = h.valLen(slot);
    this.arena.release(h.keyLen(slot) + len);
    this.#accountedBytes -= recordOverheadBytes + h.keyLen(slot) + len;
    h.free(slot);
  }

  /** Copies every live record's bytes into a fresh arena, dropping the garbage left by compactions. */
  #repackArena(): void {
    const h = this.history;
    const fresh = new ValueArena(this.arena.liveBytes);
    for (let i = 0; i < h.orderLength; i++) {
      const slot = h.order[i] as number;
      const keyLen = h.keyLen(slot);
      const valLen = h.valLen(slot);
      fresh.appendPair(this.arena.view(h.chunk(slot), h.offset(slot), keyLen + valLen), EMPTY_BYTES);
      // The key index finds the entry by hashing the head's key bytes, read through the slot's
      // position in the current arena: update the index before the slot points into `fresh`.
      if (this.keys.head[h.keyId(slot)] === slot) this.keys.setHead(h.keyId(slot), slot, fresh.lastPacked);
      h.setBytes(slot, fresh.lastChunk, fresh.lastOffset, keyLen, valLen);
    }
    this.#releasedBytes += this.arena.chunkBytes;
    this.arena = fresh;
  }
}
