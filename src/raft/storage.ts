import { AssertionError, assert } from "../lib/assert.js";
import { EntryColumns } from "./entrycolumns.js";
import type { ConfState, Entry, HardState, Index, Snapshot, Term } from "./types.js";

/** Returned by {@link Storage.term} for an index below the first available entry. */
export const TERM_COMPACTED = -1;
/** Returned by {@link Storage.term} for an index above the last entry. */
export const TERM_UNAVAILABLE = -2;

/** Returned by {@link Storage.entries} when part of the range has been compacted away. */
export const ENTRIES_COMPACTED = "compacted";
/** Returned by {@link Storage.snapshot} while a snapshot is being produced; retry later. */
export const SNAPSHOT_UNAVAILABLE = "snapshotUnavailable";

/** The empty configuration: no voters, no learners. */
export const emptyConfState: ConfState = {
  voters: [],
  votersOutgoing: [],
  learners: [],
  learnersNext: [],
  autoLeave: false,
};

/**
 * The durable log as the Raft core reads it. The core never writes here: the driver appends each
 * Ready's entries (and installs its snapshot) once they are durable, then calls `advance()`.
 * Index `firstIndex() - 1` is the snapshot (or sentinel) position, whose term is still known.
 */
export interface Storage {
  /** The persisted hard state and configuration this node restarts with. */
  initialState(): { hardState: HardState; confState: ConfState };
  /**
   * Entries in `[lo, hi)`, at least one if any exist, stopping before the total data size passes
   * `bytesMax`. {@link ENTRIES_COMPACTED} if `lo` is below `firstIndex()`.
   */
  entries(lo: Index, hi: Index, bytesMax: number): readonly Entry[] | typeof ENTRIES_COMPACTED;
  /** Term of entry `index`, valid for `[firstIndex() - 1, lastIndex()]`; sentinels outside it. */
  term(index: Index): Term;
  /** Index of the first entry still stored (snapshot index + 1). */
  firstIndex(): Index;
  /** Index of the last stored entry (the snapshot index if none follow it). */
  lastIndex(): Index;
  /** The most recent snapshot, or {@link SNAPSHOT_UNAVAILABLE}. */
  snapshot(): Snapshot | typeof SNAPSHOT_UNAVAILABLE;
}

/** Bytes an entry adds to a message or batch besides its data (term, index, type, framing). */
export const entryOverheadBytes = 16;

/**
 * Approximate encoded size of an entry: its data plus {@link entryOverheadBytes}. The unit of the
 * per-message, in-flight and per-Ready byte limits, so that empty entries (no-ops) count too.
 */
export function entryBytes(entry: Entry): number {
  return entry.data.length + entryOverheadBytes;
}

/** Data bytes of an entry: the unit of the uncommitted-log limit (a no-op costs nothing). */
export function entryPayloadBytes(entry: Entry): number {
  return entry.data.length;
}

/**
 * An in-memory {@link Storage}; used by tests, the simulator, and the server as the cache in front
 * of the WAL. Entries are held as {@link EntryColumns} (no object per entry for the collector to
 * trace); position 0 is a dummy holding the snapshot index and term, at index `#offset`.
 */
export class MemoryStorage implements Storage {
  #hardState: HardState = { term: 0, vote: 0, commit: 0 };
  #snapshot: Snapshot = {
    metadata: { index: 0, term: 0, confState: emptyConfState },
    data: new Uint8Array(0),
  };
  readonly #entries = new EntryColumns();
  /** Index of position 0 of `#entries` (the dummy). */
  #offset: Index = 0;
  /**
   * The entries of the last {@link append}, as given (until the next append or snapshot): the
   * ones a leader commits next, served without materialising them again from the columns.
   */
  #recent: readonly Entry[] = [];

  constructor() {
    this.#entries.push(0, 0, new Uint8Array(0));
  }

  /**
   * A new cluster member's storage: a genesis snapshot at index 1, term 1, holding the initial
   * configuration, and a hard state at term 1 with that index committed. Members that join later
   * start with empty storage; since the configuration is not in the log, the leader must send them
   * a snapshot (their probe reaches index 0, below the log), from which they learn it.
   */
  static bootstrap(confState: ConfState): MemoryStorage {
    const storage = new MemoryStorage();
    storage.applySnapshot({ metadata: { index: 1, term: 1, confState }, data: new Uint8Array(0) });
    storage.setHardState({ term: 1, vote: 0, commit: 1 });
    return storage;
  }

  /**
   * A storage holding only a configuration at index 0. For tests of a fixed membership: a node
   * joining such a cluster with empty storage can receive entries from index 1 but never learns
   * the initial configuration unless the leader has compacted past it (use {@link bootstrap}).
   */
  static withConfState(confState: ConfState): MemoryStorage {
    const storage = new MemoryStorage();
    storage.#snapshot = { metadata: { index: 0, term: 0, confState }, data: new Uint8Array(0) };
    return storage;
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.#hardState, confState: this.#snapshot.metadata.confState };
  }

  /** Records the hard state (the driver calls this with each Ready's hard state). */
  setHardState(hardState: HardState): void {
    this.#hardState = hardState;
  }

  get hardState(): HardState {
    return this.#hardState;
  }

  entries(lo: Index, hi: Index, bytesMax: number): readonly Entry[] | typeof ENTRIES_COMPACTED {
    const offset = this.#offset;
    if (lo <= offset) return ENTRIES_COMPACTED;
    if (hi > this.lastIndex() + 1)
      throw new AssertionError(`entries: hi ${hi} is past the last index ${this.lastIndex()}`);
    // As limitBytes: at least one entry, then as many as fit in `bytesMax`.
    const out: Entry[] = [];
    const recent = this.#recent;
    const recentFirst = recent[0]?.index ?? Number.POSITIVE_INFINITY;
    let total = 0;
    for (let index = lo; index < hi; index++) {
      total += this.#entries.dataBytes(index - offset) + entryOverheadBytes;
      if (total > bytesMax && out.length > 0) break;
      out.push(
        index >= recentFirst && index - recentFirst < recent.length
          ? (recent[index - recentFirst] as Entry)
          : this.#entries.entry(index - offset, index),
      );
    }
    return out;
  }

  term(index: Index): Term {
    const pos = index - this.#offset;
    if (pos < 0) return TERM_COMPACTED;
    return pos >= this.#entries.length ? TERM_UNAVAILABLE : this.#entries.term(pos);
  }

  firstIndex(): Index {
    return this.#offset + 1;
  }

  lastIndex(): Index {
    return this.#offset + this.#entries.length - 1;
  }

  snapshot(): Snapshot {
    return this.#snapshot;
  }

  /**
   * Drops the current snapshot's data from memory (its metadata stays): for a driver that keeps
   * the data on disk and loads it back when a snapshot has to be sent. {@link snapshot} then
   * returns the snapshot with empty data.
   */
  releaseSnapshotData(): void {
    this.#snapshot = { metadata: this.#snapshot.metadata, data: new Uint8Array(0) };
  }

  /** Replaces everything with `snapshot`; a snapshot older than the current one is ignored. */
  applySnapshot(snapshot: Snapshot): boolean {
    if (snapshot.metadata.index <= this.#snapshot.metadata.index) return false;
    this.#snapshot = snapshot;
    const { index, term } = snapshot.metadata;
    this.#entries.clear();
    this.#entries.push(term, 0, new Uint8Array(0));
    this.#offset = index;
    this.#recent = [];
    return true;
  }

  /**
   * Records a snapshot of the state machine as of `index` (which must be stored and not before the
   * current snapshot); entries are kept until {@link compact}.
   */
  createSnapshot(index: Index, confState: ConfState, data: Uint8Array): Snapshot {
    assert(
      index >= this.#snapshot.metadata.index,
      `createSnapshot: index ${index} is older than the snapshot`,
    );
    assert(
      index <= this.lastIndex(),
      `createSnapshot: index ${index} is past the last index ${this.lastIndex()}`,
    );
    const term = this.term(index);
    assert(term >= 0, `createSnapshot: no term for index ${index}`);
    this.#snapshot = { metadata: { index, term, confState }, data };
    return this.#snapshot;
  }

  /** Drops entries before `compactIndex`, which becomes the dummy; must not pass the last index. */
  compact(compactIndex: Index): void {
    const offset = this.#offset;
    if (compactIndex <= offset) return;
    assert(
      compactIndex <= this.lastIndex(),
      `compact: ${compactIndex} is past the last index ${this.lastIndex()}`,
    );
    // The entry at compactIndex becomes the dummy: only its term is read from now on.
    this.#entries.dropFront(compactIndex - offset);
    this.#offset = compactIndex;
  }

  /** Appends entries, replacing any stored suffix they conflict with; compacted ones are skipped. */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const offset = this.#offset;
    const last = (entries[entries.length - 1] as Entry).index;
    if (last <= offset) return;
    const skip = first.index <= offset ? offset + 1 - first.index : 0;
    const start = first.index + skip;
    if (start > this.lastIndex() + 1)
      throw new AssertionError(`append: gap between ${this.lastIndex()} and ${start}`);
    this.#entries.truncate(start - offset);
    for (let i = skip; i < entries.length; i++) {
      const e = entries[i] as Entry;
      this.#entries.push(e.term, e.type, e.data);
    }
    this.#recent = entries.slice(skip);
  }
}

/** The longest prefix of `entries` within `bytesMax` data bytes, but never empty if `entries` is not. */
export function limitBytes<T extends Entry>(entries: T[], bytesMax: number): T[] {
  let total = 0;
  for (let i = 0; i < entries.length; i++) {
    total += entryBytes(entries[i] as T);
    if (total > bytesMax && i > 0) {
      entries.length = i;
      break;
    }
  }
  return entries;
}
