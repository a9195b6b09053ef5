/**
 * The core of the linearizability checker: the Wing & Gong depth-first search over linearization
 * orders of one key's ops, with Lowe's memoisation (a cache of (set of linearized ops, model
 * state) pairs already explored), as Porcupine does; plus the verdict-preserving pruning and the
 * per-key partition of a history. See linearizable.ts for the rules. Pure code: no I/O; the clock
 * is injected through {@link SearchBudget}.
 */
import { assert } from "../../lib/assert.js";
import { effectiveComplete, type Op } from "./history.js";
import { type Model, mix32 } from "./models.js";

/** A checker verdict: "unknown" when a budget ran out before the answer was known. */
export type Verdict = "valid" | "invalid" | "unknown";

/** Bounds of one search. */
export interface SearchBudget {
  /** Model steps tried before giving up. */
  readonly stepsMax: number;
  /** Memoisation cache entries kept before giving up (bounds memory). */
  readonly cacheEntriesMax: number;
  /** Give up once `now()` passes this (same unit as `now`). */
  readonly deadline: number;
  /** The clock, in milliseconds. */
  readonly now: () => number;
}

/** What one search found. `order`/`longest` are op ids in linearization order. */
export type SearchResult =
  | { readonly verdict: "valid"; readonly steps: number; readonly order: readonly number[] }
  | { readonly verdict: "invalid"; readonly steps: number; readonly longest: readonly number[] }
  | { readonly verdict: "unknown"; readonly steps: number; readonly reason: string };

/** How often (in steps) the search reads the clock. */
const clockEverySteps = 1024;

interface Links {
  readonly next: Int32Array;
  readonly prev: Int32Array;
}

/** Node 0 is the list head; op i has call node 2i+1 and return node 2i+2; -1 ends the list. */
function buildLinks(ops: readonly Op<unknown, unknown>[], completes: readonly number[]): Links {
  const events: { time: number; node: number }[] = [];
  ops.forEach((op, i) => {
    events.push({ time: op.invoke, node: 2 * i + 1 });
    events.push({ time: completes[i] as number, node: 2 * i + 2 });
  });
  // Calls before returns at the same instant: touching ops are concurrent (the lenient choice).
  events.sort((a, b) => a.time - b.time || (a.node & 1 ? 0 : 1) - (b.node & 1 ? 0 : 1) || a.node - b.node);
  const next = new Int32Array(2 * ops.length + 1).fill(-1);
  const prev = new Int32Array(2 * ops.length + 1).fill(-1);
  let last = 0;
  for (const e of events) {
    next[last] = e.node;
    prev[e.node] = last;
    last = e.node;
  }
  return { next, prev };
}

function unlink(l: Links, node: number): void {
  const p = l.prev[node] ?? -1;
  const n = l.next[node] ?? -1;
  l.next[p] = n;
  if (n !== -1) l.prev[n] = p;
}

function relink(l: Links, node: number): void {
  const p = l.prev[node] ?? -1;
  const n = l.next[node] ?? -1;
  l.next[p] = node;
  if (n !== -1) l.prev[n] = node;
}

interface CacheEntry<S> {
  /** Offset of the entry's bitset in the pool. */
  readonly at: number;
  readonly state: S;
  readonly restricted: boolean;
}

/**
 * Memoisation cache of explored configurations (linearized set, state, whether the next op is
 * restricted), bucketed by a combined hash. The bitsets live in one growing pool: a typed array
 * per entry would cost more in overhead than in bits.
 */
class Cache<S> {
  readonly #buckets = new Map<number, CacheEntry<S>[]>();
  readonly #equal: (a: S, b: S) => boolean;
  readonly #words: number;
  #pool: Uint32Array;
  size = 0;
  constructor(equal: (a: S, b: S) => boolean, words: number) {
    this.#equal = equal;
    this.#words = words;
    this.#pool = new Uint32Array(Math.max(1024, words * 64));
  }

  #same(at: number, bits: Uint32Array): boolean {
    for (let i = 0; i < this.#words; i++) if (this.#pool[at + i] !== bits[i]) return false;
    return true;
  }

  #store(bits: Uint32Array): number {
    const at = this.size * this.#words;
    if (at + this.#words > this.#pool.length) {
      const grown = new Uint32Array(this.#pool.length * 2);
      grown.set(this.#pool);
      this.#pool = grown;
    }
    this.#pool.set(bits, at);
    this.size++;
    return at;
  }

  /** Adds the configuration; false if it was already there. */
  add(hash: number, bits: Uint32Array, state: S, restricted: boolean): boolean {
    let bucket = this.#buckets.get(hash);
    if (bucket === undefined) {
      bucket = [];
      this.#buckets.set(hash, bucket);
    } else {
      for (const e of bucket) {
        if (e.restricted === restricted && this.#same(e.at, bits) && this.#equal(e.state, state))
          return false;
      }
    }
    bucket.push({ at: this.#store(bits), state, restricted });
    return true;
  }
}

/**
 * One depth-first search (Wing & Gong, with Lowe's cache). At each point the candidates are the
 * calls before the first pending return in the event list, tried in list order.
 *
 * Optional ops (unknown, and nobody observed them) are only placed where they matter: a
 * placement that leaves the state unchanged is the same as never, and one followed at once by a
 * blind write (which replaces the state whatever it is) is absorbed by it. Any linearization can
 * drop such placements and stay valid, so the search forbids them: that is what keeps a history
 * with many timed-out writes from multiplying the configurations. Whether the last op placed was
 * optional is part of the cached configuration, since it restricts the next op.
 */
class Search<S, I, O> {
  readonly #model: Model<S, I, O>;
  readonly #ops: readonly Op<I, O>[];
  readonly #budget: SearchBudget;
  readonly #required: readonly boolean[];
  readonly #links: Links;
  readonly #bits: Uint32Array;
  readonly #opHash: readonly number[];
  readonly #cache: Cache<S>;
  readonly #stackOp: number[] = [];
  readonly #stackState: S[] = [];
  #longest: number[] = [];
  #remaining: number;
  #state: S;
  #bitsHash = 0;
  #steps = 0;
  #node: number;

  constructor(model: Model<S, I, O>, ops: readonly Op<I, O>[], budget: SearchBudget) {
    this.#model = model;
    this.#ops = ops;
    this.#budget = budget;
    const deadlines = model.effectDeadlines?.(ops) ?? new Map<number, number>();
    const completes = ops.map((op) =>
      op.outcome === "ok" ? op.complete : (deadlines.get(op.id) ?? effectiveComplete(op)),
    );
    this.#required = ops.map((op, i) => op.outcome === "ok" || completes[i] !== Number.POSITIVE_INFINITY);
    this.#links = buildLinks(ops, completes);
    this.#bits = new Uint32Array((ops.length + 31) >>> 5);
    this.#opHash = ops.map((_, i) => mix32(i + 0x3c6ef372));
    this.#cache = new Cache<S>(model.equal, this.#bits.length);
    this.#remaining = this.#required.filter((r) => r).length;
    this.#state = model.init();
    this.#node = this.#links.next[0] ?? -1;
  }

  run(): SearchResult {
    while (this.#remaining > 0) {
      const node = this.#node;
      assert(node !== -1, "linearizability search ran off the event list");
      if (node & 1) {
        this.#steps++;
        if (this.#steps > this.#budget.stepsMax) return this.#unknown("step budget exceeded");
        if (this.#steps % clockEverySteps === 0 && this.#budget.now() > this.#budget.deadline) {
          return this.#unknown("time budget exceeded");
        }
        if (this.#tryLinearize((node - 1) >>> 1)) {
          if (this.#cache.size > this.#budget.cacheEntriesMax) return this.#unknown("cache budget exceeded");
        } else {
          this.#node = this.#links.next[node] ?? -1;
        }
      } else if (!this.#backtrack()) {
        const ids = this.#longest.map((j) => (this.#ops[j] as Op<I, O>).id);
        return { verdict: "invalid", steps: this.#steps, longest: ids };
      }
    }
    const order = this.#stackOp.map((j) => (this.#ops[j] as Op<I, O>).id);
    return { verdict: "valid", steps: this.#steps, order };
  }

  #unknown(reason: string): SearchResult {
    return { verdict: "unknown", steps: this.#steps, reason };
  }

  /** Linearizes op i next if the model accepts it, the placement is useful, and the
   *  configuration is new. */
  #tryLinearize(i: number): boolean {
    const op = this.#ops[i] as Op<I, O>;
    const top = this.#stackOp[this.#stackOp.length - 1];
    if (top !== undefined && !this.#required[top] && this.#model.blind?.(op.input) === true) return false;
    const ns = this.#model.step(this.#state, op.input, op.outcome === "ok" ? op.output : null);
    if (ns === undefined) return false;
    const optional = !this.#required[i];
    if (optional && this.#model.equal(ns, this.#state)) return false;
    const h = (this.#bitsHash ^ (this.#opHash[i] as number)) >>> 0;
    const w = i >>> 5;
    this.#bits[w] = (this.#bits[w] as number) | (1 << (i & 31));
    const key = mix32(h ^ Math.imul(this.#model.hash(ns), 0x27d4eb2d) ^ (optional ? 0x5f356495 : 0));
    if (!this.#cache.add(key, this.#bits, ns, optional)) {
      this.#bits[w] = (this.#bits[w] as number) & ~(1 << (i & 31));
      return false;
    }
    this.#stackOp.push(i);
    this.#stackState.push(this.#state);
    this.#state = ns;
    this.#bitsHash = h;
    unlink(this.#links, 2 * i + 1);
    unlink(this.#links, 2 * i + 2);
    if (this.#required[i]) this.#remaining--;
    if (this.#stackOp.length > this.#longest.length) this.#longest = this.#stackOp.slice();
    this.#node = this.#links.next[0] ?? -1;
    return true;
  }

  /** Undoes the last linearization and resumes the scan after it; false if there was none. */
  #backtrack(): boolean {
    const i = this.#stackOp.pop();
    if (i === undefined) return false;
    this.#state = this.#stackState.pop() as S;
    const w = i >>> 5;
    this.#bits[w] = (this.#bits[w] as number) & ~(1 << (i & 31));
    this.#bitsHash = (this.#bitsHash ^ (this.#opHash[i] as number)) >>> 0;
    relink(this.#links, 2 * i + 2);
    relink(this.#links, 2 * i + 1);
    if (this.#required[i]) this.#remaining++;
    this.#node = this.#links.next[2 * i + 1] ?? -1;
    return true;
  }
}

/**
 * Searches for a linearization of `ops` (one key, no failed ops) under `base` (specialised to
 * the ops if the model can be). Returns the order found, or for a violation the longest partial
 * linearization reached, or "unknown" past a bound.
 */
export function searchLinearization<S, I, O>(
  base: Model<S, I, O>,
  ops: readonly Op<I, O>[],
  budget: SearchBudget,
): SearchResult {
  const model = base.specialise === undefined ? base : base.specialise(ops);
  if (model === null) return { verdict: "invalid", steps: 0, longest: [] };
  return new Search(model, ops, budget).run();
}

/**
 * Drops the ops of one key that cannot change the verdict: failed ops, unknown read-only ops,
 * and unknown ops nobody observed.
 */
export function prune<S, I, O>(model: Model<S, I, O>, ops: readonly Op<I, O>[]): Op<I, O>[] {
  const kept = ops.filter(
    (op) => op.outcome === "ok" || (op.outcome === "unknown" && !model.readOnly(op.input, null)),
  );
  const unseen = model.unobserved(kept);
  return unseen.size === 0 ? kept : kept.filter((op) => !unseen.has(op.id));
}

function validateOp(op: Op<unknown, unknown>, ids: Set<number>): void {
  assert(!ids.has(op.id), `malformed history: op id ${op.id} used twice`);
  ids.add(op.id);
  assert(Number.isFinite(op.invoke), `malformed history: op ${op.id} has invoke time ${op.invoke}`);
  assert(
    (op.output !== null) === (op.outcome === "ok"),
    `malformed history: op ${op.id} has outcome ${op.outcome} and output ${JSON.stringify(op.output)}`,
  );
  assert(
    op.outcome === "unknown" || op.complete >= op.invoke,
    `malformed history: op ${op.id} completes at ${op.complete} before its invoke at ${op.invoke}`,
  );
}

/** Groups ops by key (keys in order of first appearance), checking each op is well formed. */
export function partition<I, O>(history: readonly Op<I, O>[]): Map<string, Op<I, O>[]> {
  const ids = new Set<number>();
  const byKey = new Map<string, Op<I, O>[]>();
  for (const op of history) {
    validateOp(op, ids);
    const list = byKey.get(op.key);
    if (list === undefined) byKey.set(op.key, [op]);
    else list.push(op);
  }
  return byKey;
}
