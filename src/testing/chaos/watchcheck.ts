/**
 * Watch checker: judges what the chaos run's watchers observed ({@link WatchObservation}).
 *
 * The union of all observations is taken as the record of what happened at each revision (the
 * "truth"); then, for each observer:
 * - order: event revisions never decrease, and the events of one revision (several keys of one
 *   txn) come together, each key once ("reorder", "duplicate");
 * - range: no event before the start revision, and `revision === modRevision` ("out-of-range",
 *   "mod-revision");
 * - no gaps: for every revision in the observer's covered range, it saw every event of the truth
 *   on a key under its prefix ("gap"). The covered range is [startRevision, lastRevision]; if the
 *   stream ended with a compacted notice, events before the compact revision may be missing, so
 *   it starts at max(startRevision, compactedAt);
 * - agreement: every observer's event at a (revision, key) has the same type and value as the
 *   others' ("divergent");
 * - optionally, every put (and delete) on a key the register / append workloads own corresponds
 *   to a write of theirs that may have taken effect: ok or unknown, never failed ("unknown-write").
 *
 * A gap can only be seen where another observer saw the event; with a single observer only
 * order, range and the write cross-check apply. Pure code: no I/O.
 */
import type { AppendOp, RegisterOp, WatchEvent, WatchObservation } from "./history.js";

/** The kinds of watch anomaly (see the module comment). */
export type WatchAnomalyKind =
  | "reorder"
  | "duplicate"
  | "out-of-range"
  | "mod-revision"
  | "gap"
  | "divergent"
  | "unknown-write";

/** One anomaly, with the observer and revision it was seen at. */
export interface WatchAnomaly {
  readonly kind: WatchAnomalyKind;
  readonly watcher: number;
  readonly revision: number;
  /** The key involved ("" when several: see `message`). */
  readonly key: string;
  /** One sentence with the values involved. */
  readonly message: string;
}

/**
 * Judges one watched write: null if it is explained, a reason if not, undefined if the key is
 * not one the check knows (then it is not judged).
 */
export type WriteCheck = (
  key: string,
  type: WatchEvent["type"],
  value: string | null,
) => string | null | undefined;

/** Options of {@link checkWatches}. */
export interface WatchCheckOptions {
  /** Cross-check of watched writes against the workloads' histories. Default: none. */
  readonly writeCheck?: WriteCheck;
  /** Anomalies kept in the result (the total is counted anyway). Default 100. */
  readonly anomaliesMax?: number;
}

/** The watch checker's verdict. */
export interface WatchResult {
  readonly verdict: "valid" | "invalid";
  readonly watchers: number;
  /** Events observed, over all observers. */
  readonly events: number;
  /** Distinct revisions seen by any observer. */
  readonly revisions: number;
  /** The first `anomaliesMax` anomalies. */
  readonly anomalies: readonly WatchAnomaly[];
  readonly anomaliesTotal: number;
}

const defaultAnomaliesMax = 100;

function show(value: string | null): string {
  return value === null ? "nil" : JSON.stringify(value);
}

function describe(e: WatchEvent): string {
  return e.type === "delete"
    ? `delete ${JSON.stringify(e.key)}`
    : `put ${JSON.stringify(e.key)}=${show(e.value)}`;
}

class Anomalies {
  readonly list: WatchAnomaly[] = [];
  total = 0;
  constructor(readonly max: number) {}
  add(kind: WatchAnomalyKind, watcher: number, revision: number, key: string, message: string): void {
    this.total++;
    if (this.list.length < this.max) this.list.push({ kind, watcher, revision, key, message });
  }
}

/** Per-observer checks: order, duplicates, range. */
function checkOrder(o: WatchObservation, out: Anomalies): void {
  let prev = Number.NEGATIVE_INFINITY;
  let keysAtPrev = new Set<string>();
  for (const e of o.events) {
    if (e.revision < o.startRevision) {
      out.add(
        "out-of-range",
        o.watcher,
        e.revision,
        e.key,
        `watcher ${o.watcher} got ${describe(e)} at revision ${e.revision}, before its start revision ${o.startRevision}`,
      );
    }
    if (e.modRevision !== e.revision) {
      out.add(
        "mod-revision",
        o.watcher,
        e.revision,
        e.key,
        `watcher ${o.watcher} got ${describe(e)} at revision ${e.revision} with mod revision ${e.modRevision}`,
      );
    }
    if (e.revision < prev) {
      out.add(
        "reorder",
        o.watcher,
        e.revision,
        e.key,
        `watcher ${o.watcher} got revision ${e.revision} (${describe(e)}) after revision ${prev}`,
      );
      continue;
    }
    if (e.revision > prev) {
      prev = e.revision;
      keysAtPrev = new Set();
    } else if (keysAtPrev.has(e.key)) {
      out.add(
        "duplicate",
        o.watcher,
        e.revision,
        e.key,
        `watcher ${o.watcher} got two events for ${JSON.stringify(e.key)} at revision ${e.revision}`,
      );
    }
    keysAtPrev.add(e.key);
  }
}

/** The union of all observations: revision → key → the first event seen (and by whom). */
function buildTruth(observations: readonly WatchObservation[], out: Anomalies) {
  const truth = new Map<number, Map<string, { event: WatchEvent; watcher: number }>>();
  for (const o of observations) {
    for (const e of o.events) {
      let keys = truth.get(e.revision);
      if (keys === undefined) {
        keys = new Map();
        truth.set(e.revision, keys);
      }
      const seen = keys.get(e.key);
      if (seen === undefined) {
        keys.set(e.key, { event: e, watcher: o.watcher });
      } else if (seen.event.type !== e.type || seen.event.value !== e.value) {
        out.add(
          "divergent",
          o.watcher,
          e.revision,
          e.key,
          `at revision ${e.revision} watcher ${o.watcher} got ${describe(e)} but watcher ${seen.watcher} got ${describe(seen.event)}`,
        );
      }
    }
  }
  return truth;
}

/** The first index in sorted `xs` whose value is >= `x`. */
function lowerBound(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((xs[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function checkGaps(
  o: WatchObservation,
  truth: ReadonlyMap<number, ReadonlyMap<string, { event: WatchEvent; watcher: number }>>,
  revisions: readonly number[],
  out: Anomalies,
): void {
  const from = Math.max(o.startRevision, o.compactedAt ?? Number.NEGATIVE_INFINITY);
  const own = new Set(o.events.map((e) => `${e.revision}\u0000${e.key}`));
  for (let i = lowerBound(revisions, from); i < revisions.length; i++) {
    const rev = revisions[i] as number;
    if (rev > o.lastRevision) break;
    const missing: WatchEvent[] = [];
    let witness = -1;
    for (const [key, seen] of truth.get(rev) ?? []) {
      if (!key.startsWith(o.prefix) || own.has(`${rev}\u0000${key}`)) continue;
      missing.push(seen.event);
      witness = seen.watcher;
    }
    if (missing.length === 0) continue;
    const range = `revisions ${from}..${o.lastRevision}${o.compactedAt === null ? "" : `, compacted at ${o.compactedAt}`}`;
    const key = missing.length === 1 ? (missing[0]?.key ?? "") : "";
    out.add(
      "gap",
      o.watcher,
      rev,
      key,
      `watcher ${o.watcher} (prefix ${JSON.stringify(o.prefix)}, ${range}) missed ${missing.map(describe).join(", ")} at revision ${rev}, seen by watcher ${witness}`,
    );
  }
}

/** Checks the watch observations of a run (see the module comment for the rules). */
export function checkWatches(
  observations: readonly WatchObservation[],
  options: WatchCheckOptions = {},
): WatchResult {
  const out = new Anomalies(options.anomaliesMax ?? defaultAnomaliesMax);
  for (const o of observations) checkOrder(o, out);
  const truth = buildTruth(observations, out);
  const revisions = [...truth.keys()].sort((a, b) => a - b);
  for (const o of observations) checkGaps(o, truth, revisions, out);
  const check = options.writeCheck;
  if (check !== undefined) {
    for (const rev of revisions) {
      for (const [key, seen] of truth.get(rev) ?? []) {
        const problem = check(key, seen.event.type, seen.event.value);
        if (typeof problem === "string") {
          out.add(
            "unknown-write",
            seen.watcher,
            rev,
            key,
            `watcher ${seen.watcher} got ${describe(seen.event)} at revision ${rev}: ${problem}`,
          );
        }
      }
    }
  }
  return {
    verdict: out.total === 0 ? "valid" : "invalid",
    watchers: observations.length,
    events: observations.reduce((n, o) => n + o.events.length, 0),
    revisions: revisions.length,
    anomalies: out.list,
    anomaliesTotal: out.total,
  };
}

/**
 * The cross-check for register keys: a watched put must carry the value of a write or cas on
 * that key that was ok (a cas: ok and succeeded) or unknown; the register workload never
 * deletes. Keys without register ops are not judged.
 */
export function registerWriteCheck(ops: readonly RegisterOp[]): WriteCheck {
  const written = new Map<string, Map<string, boolean>>();
  for (const op of ops) {
    const values = written.get(op.key) ?? new Map<string, boolean>();
    written.set(op.key, values);
    if (op.input.f === "read") continue;
    const took =
      op.outcome === "unknown" || (op.outcome === "ok" && (op.output?.f !== "cas" || op.output.succeeded));
    values.set(op.input.value, (values.get(op.input.value) ?? false) || took);
  }
  return (key, type, value) => {
    const values = written.get(key);
    if (values === undefined) return undefined;
    if (type === "delete") return "the register workload never deletes";
    const took = value === null ? undefined : values.get(value);
    if (took === undefined) return "no register op wrote that value";
    return took ? null : "only a failed (or unsuccessful cas) op wrote that value";
  };
}

/**
 * The cross-check for append keys: a watched put carries the whole list (decoded by `decode`,
 * default: elements joined by one space); its last element must be appended by an ok or unknown
 * append on that key, and every element by a non-failed one. Keys without append ops are not
 * judged; the append workload never deletes.
 */
export function appendWriteCheck(
  ops: readonly AppendOp[],
  decode: (value: string) => readonly string[] = (v) => (v === "" ? [] : v.split(" ")),
): WriteCheck {
  const appended = new Map<string, Map<string, boolean>>();
  for (const op of ops) {
    const elems = appended.get(op.key) ?? new Map<string, boolean>();
    appended.set(op.key, elems);
    if (op.input.f === "append") elems.set(op.input.elem, op.outcome !== "fail");
  }
  return (key, type, value) => {
    const elems = appended.get(key);
    if (elems === undefined) return undefined;
    if (type === "delete" || value === null) return "the append workload never deletes";
    const list = decode(value);
    if (list.length === 0) return "an append always writes at least one element";
    for (const e of list) {
      const took = elems.get(e);
      if (took === undefined) return `element ${JSON.stringify(e)} was never appended`;
      if (!took) return `element ${JSON.stringify(e)} comes from a failed append`;
    }
    return null;
  };
}

/** Several write checks as one: the first that knows the key judges it. */
export function combineWriteChecks(...checks: readonly WriteCheck[]): WriteCheck {
  return (key, type, value) => {
    for (const c of checks) {
      const r = c(key, type, value);
      if (r !== undefined) return r;
    }
    return undefined;
  };
}
