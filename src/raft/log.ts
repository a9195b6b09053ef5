import { AssertionError, assert } from "../lib/assert.js";
import {
  ENTRIES_COMPACTED,
  limitBytes,
  type SNAPSHOT_UNAVAILABLE,
  type Storage,
  TERM_COMPACTED,
  TERM_UNAVAILABLE,
} from "./storage.js";
import type { Entry, Index, Snapshot, Term } from "./types.js";

/**
 * The log as the core sees it: the durable part in {@link Storage}, then the unstable tail
 * (entries, or a snapshot, not yet handed to the driver as durable). The unstable tail shadows
 * storage from `unstableOffset` on.
 */
export class RaftLog {
  readonly storage: Storage;
  /** Highest index known committed (on a quorum). */
  committed: Index;
  /** Highest index the driver has applied and acknowledged with `advance()`. */
  applied: Index;
  /** Highest index handed out for applying in a Ready (≥ applied). */
  applying: Index;
  unstableSnapshot: Snapshot | null = null;
  unstableEntries: Entry[] = [];
  /** Index of `unstableEntries[0]`. */
  unstableOffset: Index;

  constructor(storage: Storage, applied: Index) {
    this.storage = storage;
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstableOffset = last + 1;
    this.committed = first - 1;
    this.applied = Math.max(first - 1, applied);
    this.applying = this.applied;
  }

  firstIndex(): Index {
    if (this.unstableSnapshot !== null) return this.unstableSnapshot.metadata.index + 1;
    return this.storage.firstIndex();
  }

  lastIndex(): Index {
    const n = this.unstableEntries.length;
    if (n > 0) return this.unstableOffset + n - 1;
    if (this.unstableSnapshot !== null) return this.unstableSnapshot.metadata.index;
    return this.storage.lastIndex();
  }

  /** The last index that is already durable (the driver has acknowledged it). */
  stableLastIndex(): Index {
    if (this.unstableSnapshot !== null) return Math.min(this.storage.lastIndex(), this.unstableOffset - 1);
    return this.unstableOffset - 1;
  }

  lastTerm(): Term {
    const t = this.term(this.lastIndex());
    if (t < 0) throw new AssertionError(`lastTerm: no term for the last index ${this.lastIndex()}`);
    return t;
  }

  /** Term at `index`, or TERM_COMPACTED / TERM_UNAVAILABLE outside `[firstIndex() - 1, lastIndex()]`. */
  term(index: Index): Term {
    if (index >= this.unstableOffset) {
      const e = this.unstableEntries[index - this.unstableOffset];
      return e === undefined ? TERM_UNAVAILABLE : e.term;
    }
    const snap = this.unstableSnapshot;
    if (snap !== null) {
      if (index === snap.metadata.index) return snap.metadata.term;
      if (index < snap.metadata.index) return TERM_COMPACTED;
    }
    if (index < this.firstIndex() - 1) return TERM_COMPACTED;
    return this.storage.term(index);
  }

  matchTerm(index: Index, term: Term): boolean {
    return this.term(index) === term;
  }

  /** Whether a log ending at (`lastIndex`, `lastTerm`) is at least as up to date as ours (§5.4.1). */
  isUpToDate(lastIndex: Index, lastTerm: Term): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Appends `entries` after (`prevIndex`, `prevTerm`) if that entry matches. Only entries from the
   * first conflicting index on replace ours; a stale, shorter append never truncates (§5.3).
   * Returns the last index the leader vouched for, or -1 on a mismatch.
   */
  maybeAppend(prevIndex: Index, prevTerm: Term, commit: Index, entries: readonly Entry[]): Index {
    if (!this.matchTerm(prevIndex, prevTerm)) return -1;
    const lastNew = prevIndex + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      assert(conflict > this.committed, `maybeAppend: conflict at ${conflict} ≤ committed ${this.committed}`);
      this.append(entries.slice(conflict - prevIndex - 1));
    }
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  /** First index in `entries` whose term differs from ours or that we lack; 0 if none. */
  findConflict(entries: readonly Entry[]): Index {
    for (const e of entries) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The largest index ≤ `index` whose term is ≤ `term` (fast backtracking, §5.3 optimisation):
   * entries after it cannot match a log whose entry at `index` has term `term`.
   */
  findConflictByTerm(index: Index, term: Term): Index {
    for (let i = index; i >= 0; i--) {
      const t = this.term(i);
      if (t < 0 || t <= term) return i;
    }
    return 0;
  }

  /** Appends to the unstable tail, replacing any conflicting suffix; returns the last index. */
  append(entries: readonly Entry[]): Index {
    const first = entries[0];
    if (first === undefined) return this.lastIndex();
    assert(
      first.index > this.committed,
      `append: index ${first.index} would overwrite committed ${this.committed}`,
    );
    const after = first.index;
    const n = this.unstableEntries.length;
    if (after === this.unstableOffset + n) {
      for (const e of entries) this.unstableEntries.push(e);
    } else if (after <= this.unstableOffset) {
      this.unstableOffset = after;
      this.unstableEntries = entries.slice();
    } else {
      this.unstableEntries = this.unstableEntries.slice(0, after - this.unstableOffset).concat(entries);
    }
    return this.lastIndex();
  }

  /** Entries in `[lo, hi)` within `bytesMax` (at least one), or ENTRIES_COMPACTED. */
  slice(lo: Index, hi: Index, bytesMax: number): Entry[] | typeof ENTRIES_COMPACTED {
    if (lo >= hi) return [];
    if (lo < this.firstIndex()) return ENTRIES_COMPACTED;
    if (hi > this.lastIndex() + 1)
      throw new AssertionError(`slice: hi ${hi} past last index ${this.lastIndex()}`);
    let out: Entry[] = [];
    if (lo < this.unstableOffset) {
      const stored = this.storage.entries(lo, Math.min(hi, this.unstableOffset), bytesMax);
      if (stored === ENTRIES_COMPACTED) return ENTRIES_COMPACTED;
      out = stored.slice();
      const want = Math.min(hi, this.unstableOffset) - lo;
      if (out.length < want) return out;
    }
    if (hi > this.unstableOffset) {
      const from = Math.max(lo, this.unstableOffset) - this.unstableOffset;
      const tail = this.unstableEntries.slice(from, hi - this.unstableOffset);
      out = out.length === 0 ? tail : out.concat(tail);
    }
    return limitBytes(out, bytesMax);
  }

  /** Entries from `lo` to the end within `bytesMax`. */
  entriesFrom(lo: Index, bytesMax: number): Entry[] | typeof ENTRIES_COMPACTED {
    if (lo > this.lastIndex()) return [];
    return this.slice(lo, this.lastIndex() + 1, bytesMax);
  }

  commitTo(index: Index): void {
    if (index <= this.committed) return;
    if (index > this.lastIndex())
      throw new AssertionError(`commitTo: ${index} is past the last index ${this.lastIndex()}`);
    this.committed = index;
  }

  hasNextCommittedEntries(): boolean {
    return this.committed > this.applying && this.unstableSnapshot === null;
  }

  /** Committed entries not yet handed out, within `bytesMax` (at least one). */
  nextCommittedEntries(bytesMax: number): Entry[] {
    if (!this.hasNextCommittedEntries()) return [];
    const lo = Math.max(this.applying + 1, this.firstIndex());
    const ents = this.slice(lo, this.committed + 1, bytesMax);
    if (ents === ENTRIES_COMPACTED)
      throw new AssertionError(`nextCommittedEntries: [${lo}, ${this.committed}] compacted`);
    return ents;
  }

  /** The driver persisted entries through (`index`, `term`); drop them from the unstable tail. */
  stableTo(index: Index, term: Term): void {
    if (index < this.unstableOffset) return;
    const e = this.unstableEntries[index - this.unstableOffset];
    // The tail may have been replaced since the Ready was made (same index, other term): keep it.
    if (e === undefined || e.term !== term) return;
    this.unstableEntries = this.unstableEntries.slice(index + 1 - this.unstableOffset);
    this.unstableOffset = index + 1;
  }

  stableSnapshotTo(index: Index): void {
    if (this.unstableSnapshot !== null && this.unstableSnapshot.metadata.index === index) {
      this.unstableSnapshot = null;
    }
  }

  /** Replaces the whole log with `snapshot` (already checked newer than `committed`). */
  restore(snapshot: Snapshot): void {
    const index = snapshot.metadata.index;
    this.committed = index;
    this.unstableOffset = index + 1;
    this.unstableEntries = [];
    this.unstableSnapshot = snapshot;
  }

  /** The snapshot a lagging follower should get: the pending one, else storage's. */
  snapshot(): Snapshot | typeof SNAPSHOT_UNAVAILABLE {
    return this.unstableSnapshot ?? this.storage.snapshot();
  }
}
