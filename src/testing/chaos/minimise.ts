/**
 * Shrinks a non-linearizable history of one key to a small failing sub-history (a witness).
 *
 * Only steps that keep a valid history valid are used, so every intermediate history still
 * failing proves the original fails for the same reason (a naive "drop any op" shrink could
 * drop the write a read depends on and report a violation the full history does not have):
 * 1. Truncation at a time T: ops invoked after T are dropped and ops still running at T become
 *    "unknown". Every kept "ok" op completes by T, so it precedes every dropped op in any
 *    linearization; the binary search finds the earliest T at which the history already fails.
 * 2. Dropping read-only ops (reads, failed cas): they never change the state.
 * 3. Dropping an "ok" state-changing op that nobody observes: weakening it to "unknown" keeps a
 *    valid history valid (its interval only grows, its output is freed), and an unknown op
 *    nobody observed can go ({@link Model.unobserved}). Ops are never left weakened: pending
 *    unknown ops multiply the orders the search must try.
 * Steps 2 and 3 are tried on halving groups of ops (as delta debugging does), then one op at a
 * time, until nothing more can go. Bounded by steps and time; past a bound the smallest failing
 * history found so far is returned with `minimal: false`. Pure code: no I/O.
 */
import { effectiveComplete, type Op } from "./history.js";
import type { Model } from "./models.js";
import { prune, searchLinearization } from "./search.js";

/** A minimal failing sub-history of one key: not linearizable on its own and, since it was
 *  derived only by verdict-preserving steps, a proof that the full history is not either. */
export interface Witness<I, O> {
  readonly key: string;
  /** The ops, sorted by invoke; ops weakened to "unknown" by the shrinker have output null. */
  readonly ops: readonly Op<I, O>[];
  /** How many ops of the key the shrinker started from (after pruning). */
  readonly originalOps: number;
  /** False if a budget ran out (the witness may not be minimal). */
  readonly minimal: boolean;
  /** The longest partial linearization of `ops` (op ids): where every order got stuck. */
  readonly linearized: readonly number[];
}

/** Bounds of one minimisation. */
export interface MinimiseOptions {
  /** Model steps over all the searches of the minimisation. */
  readonly stepsMax: number;
  /** Wall-clock budget, in ms of `now`. */
  readonly timeMsMax: number;
  /** The clock, in ms. */
  readonly now: () => number;
}

/** Cache entries per search during minimisation (a search past it counts as "not failing"). */
const shrinkCacheEntriesMax = 500_000;

function weaken<I, O>(op: Op<I, O>): Op<I, O> {
  return { ...op, outcome: "unknown", output: null };
}

/** Runs searches within the shared budget; remembers whether any was cut short. */
class Prover<S, I, O> {
  stepsLeft: number;
  inconclusive = false;
  longest: readonly number[] = [];
  readonly #model: Model<S, I, O>;
  readonly #options: MinimiseOptions;
  readonly #deadline: number;

  constructor(model: Model<S, I, O>, options: MinimiseOptions) {
    this.#model = model;
    this.#options = options;
    this.stepsLeft = options.stepsMax;
    this.#deadline = options.now() + options.timeMsMax;
  }

  get exhausted(): boolean {
    return this.stepsLeft <= 0 || this.#options.now() > this.#deadline;
  }

  /** True if `ops` is shown not linearizable within the budget. */
  fails(ops: readonly Op<I, O>[]): boolean {
    if (this.exhausted) {
      this.inconclusive = true;
      return false;
    }
    const r = searchLinearization(this.#model, ops, {
      stepsMax: this.stepsLeft,
      cacheEntriesMax: shrinkCacheEntriesMax,
      deadline: this.#deadline,
      now: this.#options.now,
    });
    this.stepsLeft -= r.steps;
    if (r.verdict === "unknown") this.inconclusive = true;
    if (r.verdict !== "invalid") return false;
    this.longest = r.longest;
    return true;
  }
}

/** The history cut at time `t`: ops invoked after it dropped, ops running at it made unknown. */
function truncate<S, I, O>(model: Model<S, I, O>, ops: readonly Op<I, O>[], t: number): Op<I, O>[] {
  const cut = ops.filter((op) => op.invoke <= t).map((op) => (effectiveComplete(op) <= t ? op : weaken(op)));
  return prune(model, cut);
}

function truncateEarliest<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Op<I, O>[],
  prover: Prover<S, I, O>,
): Op<I, O>[] {
  const times = [...new Set(ops.filter((op) => op.outcome === "ok").map((op) => op.complete))].sort(
    (a, b) => a - b,
  );
  let best = ops.slice();
  let lo = 0;
  let hi = times.length - 1;
  // Failing is monotone in the cut time (a later cut is a history the earlier cut derives from);
  // cutting at the last "ok" completion is equivalent to the whole history.
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const cut = truncate(model, ops, times[mid] as number);
    if (prover.fails(cut)) {
      best = cut;
      hi = mid - 1;
    } else {
      lo = mid + 1;
    }
  }
  return best;
}

/** Ops the shrinker may try to drop: every "ok" op (read-only ones directly, the others by
 *  weakening them first) and unknown ops nobody observed. */
function candidates<S, I, O>(model: Model<S, I, O>, ops: readonly Op<I, O>[]): number[] {
  const unseen = model.unobserved(ops);
  return ops.filter((op) => op.outcome === "ok" || unseen.has(op.id)).map((op) => op.id);
}

/**
 * Drops the ops of `group` that can go: read-only ones, and state-changing ones that nobody
 * observes once weakened to "unknown". A state-changing op that would stay (observed) is kept
 * as it was rather than weakened: unknown ops that stay multiply the orders the search must try.
 */
function applyGroup<S, I, O>(model: Model<S, I, O>, ops: readonly Op<I, O>[], group: ReadonlySet<number>) {
  const dropped = new Set<number>();
  let weakened = new Set<number>();
  for (const op of ops) {
    if (!group.has(op.id)) continue;
    if (op.outcome !== "ok") dropped.add(op.id);
    else if (model.readOnly(op.input, op.output)) dropped.add(op.id);
    else weakened.add(op.id);
  }
  // Weakening an op removes what it observed (a cas's expectation), so iterate to a fixpoint.
  for (;;) {
    const trial = ops
      .filter((op) => !dropped.has(op.id))
      .map((op) => (weakened.has(op.id) ? weaken(op) : op));
    const unseen = model.unobserved(trial);
    const next = new Set([...weakened].filter((id) => unseen.has(id)));
    if (next.size === weakened.size) break;
    weakened = next;
  }
  for (const id of weakened) dropped.add(id);
  return dropped.size === 0
    ? null
    : prune(
        model,
        ops.filter((op) => !dropped.has(op.id)),
      );
}

/** One pass over the candidates in groups of `size`; returns the (possibly) smaller history. */
function pass<S, I, O>(
  model: Model<S, I, O>,
  ops: Op<I, O>[],
  size: number,
  prover: Prover<S, I, O>,
): { ops: Op<I, O>[]; progressed: boolean } {
  const ids = candidates(model, ops);
  let progressed = false;
  for (let start = 0; start < ids.length && !prover.exhausted; start += size) {
    const next = applyGroup(model, ops, new Set(ids.slice(start, start + size)));
    if (next !== null && prover.fails(next)) {
      ops = next;
      progressed = true;
    }
  }
  return { ops, progressed };
}

/**
 * Shrinks `ops` (one key's pruned ops, known not linearizable) to a small sub-history that is
 * still not linearizable, within the budget of `options`.
 */
export function minimise<S, I, O>(
  model: Model<S, I, O>,
  key: string,
  ops: readonly Op<I, O>[],
  options: MinimiseOptions,
): Witness<I, O> {
  const prover = new Prover(model, options);
  let cur = truncateEarliest(model, ops, prover);
  let size = Math.max(1, cur.length >>> 1);
  while (!prover.exhausted) {
    const r = pass(model, cur, size, prover);
    cur = r.ops;
    if (!r.progressed) {
      if (size === 1) break;
      size = Math.max(1, size >>> 1);
    } else {
      size = Math.max(1, Math.min(size, cur.length >>> 1));
    }
  }
  const minimal = !prover.inconclusive && !prover.exhausted;
  // One more search, so that `linearized` describes exactly the witness (which is small).
  const last = searchLinearization(model, cur, {
    stepsMax: options.stepsMax,
    cacheEntriesMax: shrinkCacheEntriesMax,
    deadline: Number.POSITIVE_INFINITY,
    now: options.now,
  });
  const linearized = last.verdict === "invalid" ? last.longest : prover.longest;
  const sorted = cur.slice().sort((a, b) => a.invoke - b.invoke || a.id - b.id);
  return { key, ops: sorted, originalOps: ops.length, minimal, linearized };
}
