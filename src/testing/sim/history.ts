import { InvariantViolation } from "./invariants.js";

/** One client operation on a register key, as the simulator recorded it. */
export interface Operation {
  readonly id: number;
  readonly kind: "write" | "read";
  readonly key: string;
  /** Written value (writes), or the value read (reads; 0 = never written). */
  value: number;
  readonly call: number;
  /** Return time; null while pending or if the outcome is unknown (timeout, crash). */
  ret: number | null;
}

/**
 * Checks client reads of per-key registers for linearizability as they complete. Raft's log fixes
 * the order of writes (their positions), so a history is linearizable exactly when reads fit into
 * that order: a read returns a value whose write was invoked before the read returned; it sees
 * every write that completed before it began; reads that do not overlap in time see positions in
 * time order; and a write invoked after a read returned lands after the value that read saw.
 * Written values are unique, so a value identifies its write.
 */
export class RegisterHistory {
  readonly #writes = new Map<number, Operation & { pos: number }>();
  readonly #writesByKey = new Map<string, (Operation & { pos: number })[]>();
  readonly #readsByKey = new Map<string, { call: number; ret: number; pos: number; id: number }[]>();
  readsChecked = 0;

  invokeWrite(op: Operation): void {
    const w = { ...op, pos: 0 };
    this.#writes.set(op.value, w);
    const list = this.#writesByKey.get(op.key) ?? [];
    list.push(w);
    this.#writesByKey.set(op.key, list);
  }

  /** The write of `value` was applied at log `index` (its linearization order). */
  writeCommitted(value: number, index: number): void {
    const w = this.#writes.get(value);
    if (w === undefined || w.pos !== 0) return;
    w.pos = index;
    for (const r of this.#readsByKey.get(w.key) ?? []) {
      if (r.ret < w.call && index <= r.pos) {
        throw new InvariantViolation(
          `linearizability: write ${value} on '${w.key}' invoked at ${w.call} after read ${r.id} returned at ${r.ret}, ` +
            `but is ordered at ${index}, not after the read's value at ${r.pos}`,
        );
      }
    }
  }

  writeReturned(value: number, time: number): void {
    const w = this.#writes.get(value);
    if (w !== undefined) w.ret = time;
  }

  /** Checks a completed read; throws {@link InvariantViolation} if it cannot be linearized. */
  readReturned(op: Operation): void {
    this.readsChecked++;
    const ret = op.ret ?? Number.POSITIVE_INFINITY;
    let pos = 0;
    if (op.value !== 0) {
      const w = this.#writes.get(op.value);
      if (w === undefined || w.key !== op.key) {
        throw new InvariantViolation(
          `linearizability: read ${op.id} of '${op.key}' returned ${op.value}, never written there`,
        );
      }
      if (w.call > ret)
        throw new InvariantViolation(
          `linearizability: read ${op.id} returned write ${op.value} from the future`,
        );
      if (w.pos === 0)
        throw new InvariantViolation(`linearizability: read ${op.id} returned uncommitted write ${op.value}`);
      pos = w.pos;
    }
    for (const w of this.#writesByKey.get(op.key) ?? []) {
      if (w.ret !== null && w.ret < op.call && w.pos > pos) {
        throw new InvariantViolation(
          `linearizability: stale read ${op.id} of '${op.key}' at [${op.call}, ${ret}] returned ${op.value} (position ${pos}), ` +
            `but write ${w.value} (position ${w.pos}) completed at ${w.ret}`,
        );
      }
    }
    const reads = this.#readsByKey.get(op.key) ?? [];
    for (const r of reads) {
      if (r.ret < op.call && r.pos > pos) {
        throw new InvariantViolation(
          `linearizability: read ${op.id} of '${op.key}' saw position ${pos} after read ${r.id} had seen ${r.pos}`,
        );
      }
    }
    reads.push({ call: op.call, ret, pos, id: op.id });
    this.#readsByKey.set(op.key, reads);
  }
}
