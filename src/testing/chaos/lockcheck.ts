/**
 * Lock / fencing checker: judges the holds of the chaos run's lock workload ({@link LockHold}).
 *
 * What a hold records: Lock returned at `acquired` with the lock key's create revision as the
 * fencing `token`; the holder then read the counter and wrote counter+1, both in txns guarded by
 * "the lock key still has create revision `token`" (so `counterRead` is non-null only if the
 * holder still owned the lock when it read), and released. The hold ends when the holder stops
 * relying on the lock: `releaseInvoked` if recorded, else `released`; null: unknown.
 *
 * A hold is *stale* if its holder learned its lease was lost (`leaseLostAt` set) or its guarded
 * read did not succeed (`counterRead` null): its key may have been deleted (lease expiry) before
 * or while it held, so a later holder may legitimately have been granted the lock.
 *
 * Rules (each violation is one anomaly):
 * 1. token-duplicate: two holds with different leases never have the same token (each lock key
 *    is created at its own revision; the same lease may be granted its own key again).
 * 2. token-order: tokens strictly increase in acquisition order — if h1 was acquired before h2
 *    (`acquired` strictly less), then h1.token < h2.token, unless h2 is stale (a Lock answer
 *    that arrived after the holder's key had already been deleted and the lock granted on).
 * 3. overlap: no two holds overlap in time — if h1.token < h2.token, h1 was acquired first and
 *    h2 was acquired before h1's hold ended, that is a violation unless h1 is stale: its lease
 *    was lost (whenever the holder learned it, the key may have expired before h2's acquisition
 *    could happen), or its guarded read found its key gone. A hold with an unknown end cannot be
 *    shown to overlap. (Pairs whose tokens contradict their acquisition order are reported by
 *    rule 2 only.)
 * 4. counter (lost updates), over holds in token order, with `initialCounter` before any write:
 *    - counter-backwards: a hold's read is at least every value written ("ok") by a hold with a
 *      smaller token (owners are serialized by token, so an earlier owner's write precedes a
 *      later owner's read);
 *    - counter-unwritten: a hold's read is the initial value or a value a hold with a smaller
 *      token wrote or may have written (outcome "ok" or "unknown": counterRead + 1);
 *    - counter-duplicate: two holds with different tokens never both write the same value.
 * Pure code: no I/O.
 */
import { assert } from "../../lib/assert.js";
import type { LockHold } from "./history.js";

/** The kinds of lock anomaly (see the module comment). */
export type LockAnomalyKind =
  | "token-duplicate"
  | "token-order"
  | "overlap"
  | "counter-backwards"
  | "counter-unwritten"
  | "counter-duplicate";

/** One anomaly and the holds that show it. */
export interface LockAnomaly {
  readonly kind: LockAnomalyKind;
  /** One sentence with the tokens, clients and times involved. */
  readonly message: string;
  readonly holds: readonly LockHold[];
}

/** Options of {@link checkLocks}. */
export interface LockCheckOptions {
  /** The counter's value before any write (an absent key reads as this). Default 0. */
  readonly initialCounter?: number;
  /** Anomalies kept in the result (the total is counted anyway). Default 100. */
  readonly anomaliesMax?: number;
}

/** The lock checker's verdict. */
export interface LockResult {
  readonly verdict: "valid" | "invalid";
  readonly holds: number;
  /** Holds whose guarded counter write was acknowledged. */
  readonly writes: number;
  /** Stale holds (see the module comment). */
  readonly stale: number;
  readonly anomalies: readonly LockAnomaly[];
  readonly anomaliesTotal: number;
}

const defaultAnomaliesMax = 100;

/** The hold's end (ns), or null if unknown. */
export function holdEnd(h: LockHold): number | null {
  return h.releaseInvoked ?? h.released;
}

/** True if the hold may have lost its lock key before or while it held (see the module comment). */
export function isStale(h: LockHold): boolean {
  return h.leaseLostAt !== null || h.counterRead === null;
}

function who(h: LockHold): string {
  return `client ${h.client} (token ${h.token}, lease ${h.lease})`;
}

function ms(ns: number): string {
  return `${(ns / 1e6).toFixed(1)} ms`;
}

class Anomalies {
  readonly list: LockAnomaly[] = [];
  total = 0;
  constructor(readonly max: number) {}
  add(kind: LockAnomalyKind, message: string, holds: readonly LockHold[]): void {
    this.total++;
    if (this.list.length < this.max) this.list.push({ kind, message, holds });
  }
}

function checkTokens(holds: readonly LockHold[], out: Anomalies): void {
  const byToken = new Map<number, LockHold>();
  for (const h of holds) {
    const other = byToken.get(h.token);
    if (other !== undefined && other.lease !== h.lease) {
      out.add("token-duplicate", `${who(other)} and ${who(h)} were both granted token ${h.token}`, [
        other,
        h,
      ]);
    }
    byToken.set(h.token, h);
  }
  // Acquisition order: track the largest token among holds acquired strictly earlier.
  const sorted = holds.slice().sort((a, b) => a.acquired - b.acquired);
  let maxEarlier: LockHold | null = null;
  let i = 0;
  while (i < sorted.length) {
    let j = i;
    while (j < sorted.length && (sorted[j] as LockHold).acquired === (sorted[i] as LockHold).acquired) j++;
    for (let k = i; k < j; k++) {
      const h = sorted[k] as LockHold;
      if (maxEarlier !== null && maxEarlier.token > h.token && !isStale(h)) {
        out.add(
          "token-order",
          `${who(h)} acquired at ${ms(h.acquired)}, after ${who(maxEarlier)} acquired at ${ms(maxEarlier.acquired)}, with a smaller token`,
          [maxEarlier, h],
        );
      }
    }
    for (let k = i; k < j; k++) {
      const h = sorted[k] as LockHold;
      if (maxEarlier === null || h.token > maxEarlier.token) maxEarlier = h;
    }
    i = j;
  }
}

function checkOverlaps(holds: readonly LockHold[], out: Anomalies): void {
  const sorted = holds.slice().sort((a, b) => a.acquired - b.acquired);
  for (let j = 0; j < sorted.length; j++) {
    const h2 = sorted[j] as LockHold;
    for (let i = 0; i < j; i++) {
      const h1 = sorted[i] as LockHold;
      const end = holdEnd(h1);
      if (end === null || isStale(h1) || h1.token >= h2.token) continue;
      if (h1.acquired < h2.acquired && h2.acquired < end) {
        out.add(
          "overlap",
          `${who(h2)} acquired at ${ms(h2.acquired)} while ${who(h1)} held the lock (${ms(h1.acquired)} to ${ms(end)}) and was not stale`,
          [h1, h2],
        );
      }
    }
  }
}

function checkCounter(holds: readonly LockHold[], initial: number, out: Anomalies): void {
  const sorted = holds.slice().sort((a, b) => a.token - b.token);
  let maxOk: LockHold | null = null;
  const mayHaveWritten = new Set<number>([initial]);
  const okWriter = new Map<number, LockHold>();
  for (const h of sorted) {
    if (h.counterRead === null) continue;
    if (maxOk !== null && h.counterRead < (maxOk.counterWritten as number)) {
      out.add(
        "counter-backwards",
        `${who(h)} read counter ${h.counterRead}, but ${who(maxOk)} had already written ${maxOk.counterWritten} (lost update)`,
        [maxOk, h],
      );
    } else if (!mayHaveWritten.has(h.counterRead)) {
      out.add("counter-unwritten", `${who(h)} read counter ${h.counterRead}, which no earlier holder wrote`, [
        h,
      ]);
    }
    if (h.writeOutcome === "unknown") mayHaveWritten.add(h.counterRead + 1);
    if (h.writeOutcome !== "ok") continue;
    assert(
      h.counterWritten === h.counterRead + 1,
      `malformed lock hold: ${who(h)} read ${h.counterRead} and wrote ${h.counterWritten}`,
    );
    const twin = okWriter.get(h.counterWritten);
    if (twin !== undefined && twin.token !== h.token) {
      out.add(
        "counter-duplicate",
        `${who(twin)} and ${who(h)} both wrote counter ${h.counterWritten} (lost update)`,
        [twin, h],
      );
    }
    okWriter.set(h.counterWritten, h);
    mayHaveWritten.add(h.counterWritten);
    if (maxOk === null || h.counterWritten > (maxOk.counterWritten as number)) maxOk = h;
  }
}

/** Checks the lock holds of a run (see the module comment for the rules). */
export function checkLocks(holds: readonly LockHold[], options: LockCheckOptions = {}): LockResult {
  const out = new Anomalies(options.anomaliesMax ?? defaultAnomaliesMax);
  checkTokens(holds, out);
  checkOverlaps(holds, out);
  checkCounter(holds, options.initialCounter ?? 0, out);
  return {
    verdict: out.total === 0 ? "valid" : "invalid",
    holds: holds.length,
    writes: holds.filter((h) => h.writeOutcome === "ok").length,
    stale: holds.filter(isStale).length,
    anomalies: out.list,
    anomaliesTotal: out.total,
  };
}
