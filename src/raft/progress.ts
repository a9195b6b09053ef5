import { assert } from "../lib/assert.js";
import type { Index } from "./types.js";

/**
 * A bounded window of appends sent to one follower and not yet acknowledged: at most `countMax`
 * messages and `bytesMax` data bytes (0 = no byte limit) in flight.
 */
export class Inflights {
  readonly countMax: number;
  readonly bytesMax: number;
  #indexes: Index[] = [];
  #sizes: number[] = [];
  #head = 0;
  bytes = 0;

  constructor(countMax: number, bytesMax: number) {
    assert(countMax > 0, `Inflights: 'countMax' must be positive, got ${countMax}`);
    this.countMax = countMax;
    this.bytesMax = bytesMax;
  }

  get count(): number {
    return this.#indexes.length - this.#head;
  }

  full(): boolean {
    return this.count >= this.countMax || (this.bytesMax > 0 && this.bytes >= this.bytesMax);
  }

  /** Records an append whose last entry is `index`, carrying `bytes` data bytes. */
  add(index: Index, bytes: number): void {
    assert(!this.full(), "Inflights.add: window is full");
    this.#indexes.push(index);
    this.#sizes.push(bytes);
    this.bytes += bytes;
  }

  /** Frees every append whose last index is ≤ `index` (they were acknowledged). */
  freeLE(index: Index): void {
    while (this.#head < this.#indexes.length && (this.#indexes[this.#head] as Index) <= index) {
      this.bytes -= this.#sizes[this.#head] as number;
      this.#head++;
    }
    if (this.#head > 64 && this.#head * 2 > this.#indexes.length) {
      this.#indexes = this.#indexes.slice(this.#head);
      this.#sizes = this.#sizes.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Frees the oldest append (a heartbeat response proves the follower is alive). */
  freeFirst(): void {
    const first = this.#indexes[this.#head];
    if (first !== undefined) this.freeLE(first);
  }

  reset(): void {
    this.#indexes = [];
    this.#sizes = [];
    this.#head = 0;
    this.bytes = 0;
  }
}

/** The replication states of a follower, as seen by the leader. */
export const ProgressState = {
  /** Unknown match: one append per heartbeat interval, backing off on rejection. */
  probe: "probe",
  /** Known match: appends are pipelined optimistically within the inflight window. */
  replicate: "replicate",
  /** A snapshot is being sent; appends are paused until it is reported. */
  snapshot: "snapshot",
} as const;
export type ProgressState = (typeof ProgressState)[keyof typeof ProgressState];

/** The leader's view of one follower's (or its own) log. */
export class Progress {
  /** Highest index known to be replicated (durably) on the node. */
  match: Index = 0;
  /** Next index to send. */
  next: Index;
  state: ProgressState = ProgressState.probe;
  /** In snapshot state: the index of the snapshot being sent. */
  pendingSnapshot: Index = 0;
  /**
   * Whether the node was heard from since the last CheckQuorum round. False until it answers: a
   * new leader that hears from no quorum for one election timeout must step down (thesis §6.2).
   */
  recentActive = false;
  /** In probe state: an append was sent and its answer (or a heartbeat answer) is awaited. */
  probeSent = false;
  /** Highest heartbeat round the node acknowledged in this term (ReadIndex, lease). */
  ackedRound = 0;
  isLearner: boolean;
  readonly inflights: Inflights;

  constructor(next: Index, isLearner: boolean, inflightCountMax: number, inflightBytesMax: number) {
    this.next = next;
    this.isLearner = isLearner;
    this.inflights = new Inflights(inflightCountMax, inflightBytesMax);
  }

  #resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === ProgressState.snapshot) {
      const pending = this.pendingSnapshot;
      this.#resetState(ProgressState.probe);
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.#resetState(ProgressState.probe);
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.#resetState(ProgressState.replicate);
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: Index): void {
    this.#resetState(ProgressState.snapshot);
    this.pendingSnapshot = snapshotIndex;
  }

  /** Records an acknowledgement of `index`; returns whether `match` advanced. */
  maybeUpdate(index: Index): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * Handles a rejected append of (`rejected`, ...) with the follower's hint `matchHint`.
   * Returns false if the rejection is stale (already superseded).
   */
  maybeDecrTo(rejected: Index, matchHint: Index): boolean {
    if (this.state === ProgressState.replicate) {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1, 1);
    this.probeSent = false;
    return true;
  }

  /** Whether the leader should hold off sending appends to this node for now. */
  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.probe:
        return this.probeSent;
      case ProgressState.replicate:
        return this.inflights.full();
      case ProgressState.snapshot:
        return true;
    }
  }

  /** Updates the state after sending entries whose last index is `last` (0 entries: `last` = next - 1). */
  sentEntries(count: number, last: Index, bytes: number): void {
    if (this.state === ProgressState.replicate) {
      if (count > 0) {
        this.next = last + 1;
        this.inflights.add(last, bytes);
      }
    } else if (this.state === ProgressState.probe) {
      this.probeSent = true;
    }
  }
}
