/**
 * Sequential specifications for the linearizability checker: a register (read / write / cas,
 * initially absent) and an append-only list (read the whole list / append a unique element).
 *
 * A {@link Model} is deterministic: the next state depends only on the state and the input, so an
 * operation whose outcome is unknown (output `null`) always has exactly one effect when it is
 * linearized, and its output is unconstrained. Pure code: no I/O, no clock.
 */
import { assert } from "../../lib/assert.js";
import type { AppendInput, AppendOutput, Op, RegisterInput, RegisterOutput } from "./history.js";

/** An anomaly a model can see without a search (e.g. a read of a value nobody wrote). */
export interface DirectAnomaly {
  /** One sentence saying what is wrong, with the values involved. */
  readonly message: string;
  /** The ids of the operations that show it. */
  readonly opIds: readonly number[];
}

/**
 * A sequential specification, as the checker needs it.
 *
 * Contract: `step` with output `null` (unknown outcome) never returns `undefined`; `hash` and
 * `equal` agree (equal states have equal hashes); `readOnly` ops never change the state; and the
 * ids `unobserved` returns stay droppable after any other droppable op is dropped (so the
 * checker may drop them all at once).
 */
export interface Model<S, I, O> {
  /** Short name used in reports ("register", "append"). */
  readonly name: string;
  /** The state before any operation. */
  init(): S;
  /** The state after `input` took effect in `state` and answered `output` (null = unknown), or
   *  `undefined` if the answer is impossible in that state. */
  step(state: S, input: I, output: O | null): S | undefined;
  /** A 32-bit hash of a state, for the memoisation cache. */
  hash(state: S): number;
  /** State equality, for the memoisation cache. */
  equal(a: S, b: S): boolean;
  /** Optional: true if the op sets the state whatever it was (a blind write), so that an
   *  unobserved op placed just before it is absorbed by it. */
  blind?(input: I): boolean;
  /** True if the op (ok, or unknown with null output) never changes the state, so dropping it from
   *  a linearizable history leaves it linearizable. */
  readOnly(input: I, output: O | null): boolean;
  /**
   * Ids of unknown-outcome ops in `ops` whose effect nobody can have observed: removing them from
   * `ops` changes no verdict (a linearization with them is one without them, and one without them
   * extends to one with them by placing them last).
   */
  unobserved(ops: readonly Op<I, O>[]): ReadonlySet<number>;
  /** Anomalies visible without search, over all ops of one key including failed ones. Throws an
   *  AssertionError on a malformed history (e.g. an append element used twice). */
  anomalies(ops: readonly Op<I, O>[]): readonly DirectAnomaly[];
  /** Human-readable op, e.g. `cas(a→b) = false`, for reports. */
  describe(input: I, output: O | null): string;
  /**
   * Optional: for unknown ops in `ops` that must have taken effect (someone observed their unique
   * value), the time by which they did (the earliest completion of an observer). The search then
   * treats them as required ops completing then, instead of pending forever; the verdict is the
   * same, the search much smaller.
   */
  effectDeadlines?(ops: readonly Op<I, O>[]): ReadonlyMap<number, number>;
  /**
   * Optional: the model to search one key's `ops` with (e.g. one that knows the values the key's
   * reads returned), or null if `ops` is not linearizable for a reason seen without search.
   * Must judge `ops` exactly as this model does.
   */
  specialise?(ops: readonly Op<I, O>[]): Model<S, I, O> | null;
}

/** FNV-1a over UTF-16 code units, then a final avalanche; a 32-bit unsigned hash. */
export function stringHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  }
  return mix32(h);
}

/** A 32-bit integer finaliser (murmur3's fmix32); unsigned result. */
export function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

const nullHash = 0x5bd1e995;

function show(value: string | null): string {
  return value === null ? "nil" : JSON.stringify(value);
}

/** Register state: the value, or null while the key is absent. */
export type RegisterState = string | null;

/** The values a register op has seen: an ok read's value, an ok successful cas's expectation. */
function registerObserved(op: Op<RegisterInput, RegisterOutput>): string | null | undefined {
  if (op.outcome !== "ok" || op.output === null) return undefined;
  if (op.output.f === "read") return op.output.value;
  if (op.input.f === "cas" && op.output.f === "cas" && op.output.succeeded) return op.input.expect;
  return undefined;
}

/** The value a register op may install (write, or cas), or undefined for reads. */
function registerProduced(input: RegisterInput): string | undefined {
  return input.f === "read" ? undefined : input.value;
}

/** An ok cas that failed: a constraint "the value was not the expectation" at its point. */
function isFailedCas(op: Op<RegisterInput, RegisterOutput>): boolean {
  return op.input.f === "cas" && op.outcome === "ok" && op.output?.f === "cas" && !op.output.succeeded;
}

function registerAnomalies(ops: readonly Op<RegisterInput, RegisterOutput>[]): DirectAnomaly[] {
  const writers = new Map<string, Op<RegisterInput, RegisterOutput>[]>();
  for (const op of ops) {
    const v = registerProduced(op.input);
    if (v === undefined) continue;
    const list = writers.get(v) ?? [];
    list.push(op);
    writers.set(v, list);
  }
  const out: DirectAnomaly[] = [];
  for (const op of ops) {
    const seen = registerObserved(op);
    if (seen === undefined || seen === null) continue;
    const ws = writers.get(seen) ?? [];
    const verb = op.input.f === "read" ? "read" : "cas expected";
    if (ws.length === 0) {
      out.push({ message: `op ${op.id} ${verb} ${show(seen)}, a value never written`, opIds: [op.id] });
    } else if (ws.every((w) => w.outcome === "fail")) {
      out.push({
        message: `op ${op.id} ${verb} ${show(seen)}, written only by failed op(s) ${ws.map((w) => w.id).join(", ")}`,
        opIds: [op.id, ...ws.map((w) => w.id)],
      });
    }
  }
  return out;
}

/** The register: read / write / compare-and-set on one key whose initial value is null (absent). */
export const registerModel: Model<RegisterState, RegisterInput, RegisterOutput> = {
  name: "register",
  init: () => null,
  step(state, input, output) {
    switch (input.f) {
      case "read":
        if (output === null) return state;
        return output.f === "read" && output.value === state ? state : undefined;
      case "write":
        return output === null || output.f === "write" ? input.value : undefined;
      case "cas": {
        const matches = state === input.expect;
        if (output === null) return matches ? input.value : state;
        if (output.f !== "cas" || output.succeeded !== matches) return undefined;
        return matches ? input.value : state;
      }
    }
  },
  hash: (state) => (state === null ? nullHash : stringHash(state)),
  equal: (a, b) => a === b,
  blind: (input) => input.f === "write",
  readOnly(input, output) {
    if (input.f === "read") return true;
    return input.f === "cas" && output?.f === "cas" && !output.succeeded;
  },
  unobserved(ops) {
    const observed = new Set<string | null>();
    const produced = new Map<string, number>();
    let firstWriteDone = Number.POSITIVE_INFINITY;
    for (const op of ops) {
      const seen = registerObserved(op);
      if (seen !== undefined) observed.add(seen);
      // An unknown cas's expectation is a value it may have matched: keep that value's writer.
      if (op.input.f === "cas" && op.outcome === "unknown") observed.add(op.input.expect);
      const v = registerProduced(op.input);
      if (v !== undefined && op.outcome !== "fail") produced.set(v, (produced.get(v) ?? 0) + 1);
      if (v !== undefined && op.outcome === "ok" && !registerModel.readOnly(op.input, op.output)) {
        firstWriteDone = Math.min(firstWriteDone, op.complete);
      }
    }
    const failedCas = ops.filter(isFailedCas);
    const out = new Set<number>();
    for (const op of ops) {
      const v = registerProduced(op.input);
      if (op.outcome !== "unknown" || v === undefined || observed.has(v)) continue;
      // Without op, the state in its window is the value before it, p. A failed cas expecting
      // p there would then succeed: block if one may come after op and p may be its expectation.
      const blocked = failedCas.some((c) => {
        if (c.complete < op.invoke || c.input.f !== "cas") return false;
        const x = c.input.expect;
        if (x === null) return firstWriteDone >= op.invoke;
        return (produced.get(x) ?? 0) - (x === v ? 1 : 0) > 0;
      });
      if (!blocked) out.add(op.id);
    }
    return out;
  },
  anomalies: registerAnomalies,
  effectDeadlines(ops) {
    const producers = new Map<string, number>();
    for (const op of ops) {
      const v = registerProduced(op.input);
      if (v !== undefined && op.outcome !== "fail") producers.set(v, (producers.get(v) ?? 0) + 1);
    }
    const firstSeen = new Map<string | null, number>();
    for (const op of ops) {
      const seen = registerObserved(op);
      if (seen !== undefined)
        firstSeen.set(seen, Math.min(firstSeen.get(seen) ?? Number.POSITIVE_INFINITY, op.complete));
    }
    const out = new Map<number, number>();
    for (const op of ops) {
      const v = registerProduced(op.input);
      if (op.outcome !== "unknown" || v === undefined || producers.get(v) !== 1) continue;
      const by = firstSeen.get(v);
      if (by !== undefined) out.set(op.id, by);
    }
    return out;
  },
  describe(input, output) {
    const call =
      input.f === "read"
        ? "read()"
        : input.f === "write"
          ? `write(${show(input.value)})`
          : `cas(${show(input.expect)}→${show(input.value)})`;
    if (output === null) return call;
    if (output.f === "read") return `${call} = ${show(output.value)}`;
    if (output.f === "cas") return `${call} = ${output.succeeded}`;
    return `${call} = ok`;
  },
};

/**
 * Append-list state, relative to the key's master sequence M (the longest list any ok read
 * returned): the list is M's first `state` elements, or {@link appendPoisoned} once an element
 * outside M was appended. Every read of a linearizable history returns a prefix of M (lists only
 * grow at the end); an element nobody read can only have been appended after every read and after
 * every element of M, so all such lists have the same future and one state stands for them.
 * This makes the state an integer instead of a list, so concurrent appends in different orders
 * do not multiply the states the search must visit.
 */
export type AppendState = number;
/** The append state after an element no read returned was appended. */
export const appendPoisoned = -1;

function appendAnomalies(ops: readonly Op<AppendInput, AppendOutput>[]): DirectAnomaly[] {
  const appenders = new Map<string, Op<AppendInput, AppendOutput>>();
  for (const op of ops) {
    if (op.input.f !== "append") continue;
    const prior = appenders.get(op.input.elem);
    assert(
      prior === undefined,
      `malformed append history: element ${show(op.input.elem)} appended by ops ${prior?.id} and ${op.id}`,
    );
    appenders.set(op.input.elem, op);
  }
  const out: DirectAnomaly[] = [];
  for (const op of ops) {
    if (op.outcome !== "ok" || op.output?.f !== "read") continue;
    const seen = new Set<string>();
    for (const elem of op.output.list) {
      if (seen.has(elem)) {
        out.push({
          message: `op ${op.id} read element ${show(elem)} twice (duplicated append)`,
          opIds: [op.id],
        });
      }
      seen.add(elem);
      const w = appenders.get(elem);
      if (w === undefined) {
        out.push({ message: `op ${op.id} read element ${show(elem)}, never appended`, opIds: [op.id] });
      } else if (w.outcome === "fail") {
        out.push({
          message: `op ${op.id} read element ${show(elem)} of failed append op ${w.id}`,
          opIds: [op.id, w.id],
        });
      }
    }
  }
  const master = longestRead(ops);
  for (const op of ops) {
    if (master === null || op.outcome !== "ok" || op.output?.f !== "read") continue;
    if (!isPrefix(op.output.list, master.list)) {
      out.push({
        message: `op ${op.id} read [${op.output.list.map(show).join(", ")}], not a prefix of op ${master.op.id}'s read [${master.list.map(show).join(", ")}] (append order inconsistency)`,
        opIds: [op.id, master.op.id],
      });
    }
  }
  return out;
}

function longestRead(
  ops: readonly Op<AppendInput, AppendOutput>[],
): { op: Op<AppendInput, AppendOutput>; list: readonly string[] } | null {
  let best: { op: Op<AppendInput, AppendOutput>; list: readonly string[] } | null = null;
  for (const op of ops) {
    if (op.outcome !== "ok" || op.output?.f !== "read") continue;
    if (best === null || op.output.list.length > best.list.length) best = { op, list: op.output.list };
  }
  return best;
}

function isPrefix(a: readonly string[], b: readonly string[]): boolean {
  if (a.length > b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function appendDescribe(input: AppendInput, output: AppendOutput | null): string {
  const call = input.f === "read" ? "read()" : `append(${show(input.elem)})`;
  if (output === null) return call;
  return output.f === "read" ? `${call} = [${output.list.map(show).join(", ")}]` : `${call} = ok`;
}

/** The append-list model over the master sequence `master` (see {@link AppendState}). */
function appendModelOver(master: readonly string[]): Model<AppendState, AppendInput, AppendOutput> {
  const position = new Map<string, number>(master.map((e, i) => [e, i]));
  const model: Model<AppendState, AppendInput, AppendOutput> = {
    name: "append",
    init: () => 0,
    step(state, input, output) {
      if (input.f === "read") {
        if (output === null) return state;
        if (output.f !== "read" || state === appendPoisoned || output.list.length !== state) return undefined;
        // Every ok read is a prefix of the master sequence (checked by `specialise`); spot-check it.
        return state === 0 || output.list[state - 1] === master[state - 1] ? state : undefined;
      }
      if (output !== null && output.f !== "append") return undefined;
      const at = position.get(input.elem);
      if (at === undefined) return appendPoisoned;
      if (at === state) return state + 1;
      // Off the master sequence: no read could return it. An unknown op must still have an effect.
      return output === null ? appendPoisoned : undefined;
    },
    hash: (state) => mix32(state + 0x2545f491),
    equal: (a, b) => a === b,
    readOnly: (input) => input.f === "read",
    unobserved(ops) {
      const observed = new Set<string>();
      for (const op of ops) {
        if (op.outcome === "ok" && op.output?.f === "read") for (const e of op.output.list) observed.add(e);
      }
      const out = new Set<number>();
      for (const op of ops) {
        if (op.outcome === "unknown" && op.input.f === "append" && !observed.has(op.input.elem))
          out.add(op.id);
      }
      return out;
    },
    anomalies: appendAnomalies,
    describe: appendDescribe,
    effectDeadlines(ops) {
      const firstSeen = new Map<string, number>();
      for (const op of ops) {
        if (op.outcome !== "ok" || op.output?.f !== "read") continue;
        for (const e of op.output.list)
          firstSeen.set(e, Math.min(firstSeen.get(e) ?? Number.POSITIVE_INFINITY, op.complete));
      }
      const out = new Map<number, number>();
      for (const op of ops) {
        const by =
          op.outcome === "unknown" && op.input.f === "append" ? firstSeen.get(op.input.elem) : undefined;
        if (by !== undefined) out.set(op.id, by);
      }
      return out;
    },
    specialise(ops) {
      const m = longestRead(ops);
      if (m === null) return appendModelOver([]);
      if (new Set(m.list).size !== m.list.length) return null;
      for (const op of ops) {
        if (op.outcome === "ok" && op.output?.f === "read" && !isPrefix(op.output.list, m.list)) return null;
      }
      return appendModelOver(m.list);
    },
  };
  return model;
}

/**
 * The append-only list on one key, initially empty; elements are unique per key. The search
 * uses `specialise(ops)` (the model over that key's master sequence); this base model has an
 * empty master sequence.
 */
export const appendModel: Model<AppendState, AppendInput, AppendOutput> = appendModelOver([]);
