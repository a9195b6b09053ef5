/**
 * Linearizability checker for the chaos histories: the Wing & Gong depth-first search over
 * linearization orders with Lowe's memoisation (a cache of (set of linearized ops, model state)
 * pairs already explored), partitioned per key, as Porcupine does.
 *
 * Rules:
 * - Ops with outcome "fail" definitely did not take effect and are dropped.
 * - Ops with outcome "unknown" may take effect at any point after their invoke, or never: their
 *   completion is +Infinity and their output is unconstrained. A history is linearizable once
 *   every "ok" op is linearized (the remaining unknown ops are placed last, i.e. never happened).
 * - An op that completes at the same instant another is invoked counts as concurrent with it.
 * - Before the search, ops that cannot change the verdict are dropped: unknown read-only ops and
 *   unknown writes nobody observed (see {@link Model.unobserved}).
 * - The search is bounded (steps, cache entries, time): past a bound the key's verdict is
 *   "unknown", never a hang.
 *
 * On a violation the checker also reports anomalies visible without search (a read of a value
 * never written or written only by a failed op, a duplicated list element) and a minimal failing
 * sub-history found by {@link minimise}. Pure code: no I/O; the clock is injected.
 */
import { assert } from "../../lib/assert.js";
import type {
  AppendInput,
  AppendOp,
  AppendOutput,
  Op,
  RegisterInput,
  RegisterOp,
  RegisterOutput,
} from "./history.js";
import { minimise, type Witness } from "./minimise.js";
import { type AppendState, appendModel, type Model, type RegisterState, registerModel } from "./models.js";
import { partition, prune, type SearchBudget, searchLinearization, type Verdict } from "./search.js";

export { type MinimiseOptions, minimise, type Witness } from "./minimise.js";
export type { Verdict } from "./search.js";

/** Options of {@link checkLinearizable}; every field has a default. */
export interface LinearizabilityOptions {
  /** Model steps per key before its verdict is "unknown". Default 20,000,000. */
  readonly stepsMaxPerKey?: number;
  /** Memoisation cache entries per key before its verdict is "unknown" (bounds memory: about
   *  50 bytes plus one bit per op of the key each). Default 1,000,000. */
  readonly cacheEntriesMax?: number;
  /** Wall-clock budget for checking all keys, in ms (shrinking not included). Default 60,000. */
  readonly timeMsMax?: number;
  /** Model steps spent minimising each failing key's history. Default 2,000,000; 0 disables. */
  readonly shrinkStepsMax?: number;
  /** Wall-clock budget for minimising each failing key, in ms. Default 10,000. */
  readonly shrinkTimeMsMax?: number;
  /** The clock used for the time budgets, in ms. Default `performance.now`. */
  readonly now?: () => number;
}

/** The verdict of one key. */
export interface KeyVerdict<I, O> {
  readonly key: string;
  readonly verdict: Verdict;
  /** Ops of the key in the history, including failed ones. */
  readonly ops: number;
  /** Ops the search considered (after dropping failed and verdict-neutral ops). */
  readonly opsSearched: number;
  readonly steps: number;
  /** Why the verdict is "unknown", or null. */
  readonly reason: string | null;
  /** Anomalies visible without search (these alone make the key invalid). */
  readonly anomalies: readonly string[];
  /** For an invalid key: the minimal failing sub-history, when one was found. */
  readonly witness: Witness<I, O> | null;
}

/** The verdict over a whole history: invalid if any key is, else unknown if any key is. */
export interface LinearizabilityResult<I, O> {
  readonly model: string;
  readonly verdict: Verdict;
  /** Ops in the history, and ops that took part in the search. */
  readonly ops: number;
  readonly opsSearched: number;
  readonly steps: number;
  /** Per key, in order of first appearance. */
  readonly keys: readonly KeyVerdict<I, O>[];
}

const defaults = {
  stepsMaxPerKey: 20_000_000,
  cacheEntriesMax: 1_000_000,
  timeMsMax: 60_000,
  shrinkStepsMax: 2_000_000,
  shrinkTimeMsMax: 10_000,
};

function checkKey<S, I, O>(
  model: Model<S, I, O>,
  key: string,
  all: readonly Op<I, O>[],
  budget: SearchBudget,
  options: LinearizabilityOptions,
): KeyVerdict<I, O> {
  const direct = model.anomalies(all);
  const anomalies = direct.map((a) => a.message);
  const ops = prune(model, all);
  const r = searchLinearization(model, ops, budget);
  assert(
    !(r.verdict === "valid" && direct.length > 0),
    `linearizability checker contradicts itself on key ${key}: valid, yet ${anomalies.join("; ")}`,
  );
  const verdict: Verdict = direct.length > 0 ? "invalid" : r.verdict;
  const base = { key, ops: all.length, opsSearched: ops.length, steps: r.steps, anomalies };
  if (verdict !== "invalid") {
    return { ...base, verdict, reason: r.verdict === "unknown" ? r.reason : null, witness: null };
  }
  const shrinkSteps = options.shrinkStepsMax ?? defaults.shrinkStepsMax;
  let witness: Witness<I, O>;
  if (r.verdict === "invalid" && shrinkSteps > 0) {
    witness = minimise(model, key, ops, {
      stepsMax: shrinkSteps,
      timeMsMax: options.shrinkTimeMsMax ?? defaults.shrinkTimeMsMax,
      now: budget.now,
    });
  } else if (r.verdict === "invalid") {
    witness = { key, ops, originalOps: ops.length, minimal: false, linearized: r.longest };
  } else {
    // The search ran out of budget: the ops named by the direct anomalies are a witness on their own.
    const ids = new Set(direct.flatMap((a) => a.opIds));
    const named = all.filter((op) => ids.has(op.id));
    witness = { key, ops: named, originalOps: ops.length, minimal: false, linearized: [] };
  }
  const reason = r.verdict === "unknown" ? `search: ${r.reason}; invalid by direct anomalies` : null;
  return { ...base, verdict, reason, witness };
}

/**
 * Checks a history of one model for linearizability, key by key. Throws an AssertionError on a
 * malformed history (duplicate ids, output without "ok", completion before invoke).
 */
export function checkLinearizable<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Op<I, O>[],
  options: LinearizabilityOptions = {},
): LinearizabilityResult<I, O> {
  const now = options.now ?? (() => performance.now());
  const deadline = now() + (options.timeMsMax ?? defaults.timeMsMax);
  const keys: KeyVerdict<I, O>[] = [];
  for (const [key, ops] of partition(history)) {
    const budget: SearchBudget = {
      stepsMax: options.stepsMaxPerKey ?? defaults.stepsMaxPerKey,
      cacheEntriesMax: options.cacheEntriesMax ?? defaults.cacheEntriesMax,
      deadline,
      now,
    };
    keys.push(checkKey(model, key, ops, budget, options));
  }
  const verdict: Verdict = keys.some((k) => k.verdict === "invalid")
    ? "invalid"
    : keys.some((k) => k.verdict === "unknown")
      ? "unknown"
      : "valid";
  return {
    model: model.name,
    verdict,
    ops: history.length,
    opsSearched: keys.reduce((n, k) => n + k.opsSearched, 0),
    steps: keys.reduce((n, k) => n + k.steps, 0),
    keys,
  };
}

/** {@link checkLinearizable} with the register model. */
export function checkRegister(
  history: readonly RegisterOp[],
  options?: LinearizabilityOptions,
): LinearizabilityResult<RegisterInput, RegisterOutput> {
  return checkLinearizable<RegisterState, RegisterInput, RegisterOutput>(registerModel, history, options);
}

/** {@link checkLinearizable} with the append-list model. */
export function checkAppend(
  history: readonly AppendOp[],
  options?: LinearizabilityOptions,
): LinearizabilityResult<AppendInput, AppendOutput> {
  return checkLinearizable<AppendState, AppendInput, AppendOutput>(appendModel, history, options);
}
