// Builders for chaos-checker tests: hand-written histories in a compact form, and simulated
// histories of a real linearizable register / append list under random concurrency.

import { SeededRng } from "../../../src/lib/rng.js";
import type { AppendOp, Outcome, RegisterOp } from "../../../src/testing/chaos/history.js";

/** Hand-written register history builder; ids are assigned in call order. */
export class RegisterHistory {
  readonly ops: RegisterOp[] = [];
  constructor(readonly key = "k") {}

  #add(op: Omit<RegisterOp, "id" | "key">): this {
    this.ops.push({ id: this.ops.length, key: this.key, ...op });
    return this;
  }
  /** A write of `value` by `client` over [t0, t1]; outcome "ok" unless given. */
  write(client: number, value: string, t0: number, t1: number, outcome: Outcome = "ok"): this {
    const output = outcome === "ok" ? ({ f: "write" } as const) : null;
    return this.#add({ client, input: { f: "write", value }, invoke: t0, complete: t1, outcome, output });
  }
  /** An ok read returning `value` over [t0, t1]. */
  read(client: number, value: string | null, t0: number, t1: number): this {
    return this.#add({
      client,
      input: { f: "read" },
      invoke: t0,
      complete: t1,
      outcome: "ok",
      output: { f: "read", value },
    });
  }
  /** A compare-and-set; `result` is its ok answer, or "unknown" / "fail". */
  cas(
    client: number,
    expect: string | null,
    value: string,
    t0: number,
    t1: number,
    result: boolean | Outcome,
  ): this {
    const outcome: Outcome = typeof result === "boolean" ? "ok" : result;
    const output = typeof result === "boolean" ? ({ f: "cas", succeeded: result } as const) : null;
    return this.#add({
      client,
      input: { f: "cas", expect, value },
      invoke: t0,
      complete: t1,
      outcome,
      output,
    });
  }
}

/** Hand-written append-list history builder. */
export class AppendHistory {
  readonly ops: AppendOp[] = [];
  constructor(readonly key = "l") {}

  #add(op: Omit<AppendOp, "id" | "key">): this {
    this.ops.push({ id: this.ops.length, key: this.key, ...op });
    return this;
  }
  append(client: number, elem: string, t0: number, t1: number, outcome: Outcome = "ok"): this {
    const output = outcome === "ok" ? ({ f: "append" } as const) : null;
    return this.#add({ client, input: { f: "append", elem }, invoke: t0, complete: t1, outcome, output });
  }
  read(client: number, list: readonly string[], t0: number, t1: number): this {
    return this.#add({
      client,
      input: { f: "read" },
      invoke: t0,
      complete: t1,
      outcome: "ok",
      output: { f: "read", list },
    });
  }
}

/** Shape of a simulated run. Times are abstract units (the checker only compares them). */
export interface SimOptions {
  readonly seed: number;
  readonly keys: number;
  readonly clients: number;
  readonly ops: number;
  /** No two ops overlap in time (one global sequence). */
  readonly sequential?: boolean;
  /** Probability an op ends "unknown" (then it takes effect with probability 1/2, possibly late). */
  readonly unknownRate?: number;
  /** Probability an op ends "fail" (no effect). */
  readonly failRate?: number;
  /** Longest op duration. */
  readonly durationMax?: number;
}

interface Planned {
  readonly client: number;
  readonly key: string;
  readonly invoke: number;
  readonly complete: number;
  readonly outcome: Outcome;
  /** When it takes effect, or null for never. */
  readonly at: number | null;
  readonly roll: number;
  readonly seq: number;
}

/** Client timelines: each client runs its ops one after another; effect points inside [invoke, complete]. */
function plan(o: SimOptions): Planned[] {
  const rng = new SeededRng(o.seed);
  const clock = new Array<number>(o.clients).fill(0);
  const durationMax = o.durationMax ?? 10;
  const out: Planned[] = [];
  let global = 0;
  for (let seq = 0; seq < o.ops; seq++) {
    const client = rng.intBelow(o.clients);
    const start = o.sequential ? global + 1 + rng.intBelow(3) : (clock[client] as number) + rng.intBelow(4);
    const complete = start + 1 + rng.intBelow(durationMax);
    const r = rng.float();
    const outcome: Outcome =
      r < (o.unknownRate ?? 0) ? "unknown" : r < (o.unknownRate ?? 0) + (o.failRate ?? 0) ? "fail" : "ok";
    let at: number | null = start + rng.float() * (complete - start);
    if (outcome === "fail") at = null;
    if (outcome === "unknown") at = rng.float() < 0.5 ? null : start + rng.float() * 3 * durationMax;
    const key = `k${rng.intBelow(o.keys)}`;
    out.push({ client, key, invoke: start, complete, outcome, at, roll: rng.float(), seq });
    clock[client] = complete + 1;
    global = complete;
  }
  return out;
}

/** A history of a linearizable register: each op takes effect atomically at its effect point. */
export function simulateRegister(o: SimOptions): RegisterOp[] {
  const planned = plan(o);
  const state = new Map<string, string | null>();
  const written = new Map<string, string[]>();
  const ops: RegisterOp[] = [];
  const byEffect = planned
    .map((p, i) => ({ p, i }))
    .sort((a, b) => (a.p.at ?? a.p.complete) - (b.p.at ?? b.p.complete) || a.i - b.i);
  const result = new Array<RegisterOp>(planned.length);
  for (const { p, i } of byEffect) {
    const cur = state.get(p.key) ?? null;
    const pool = written.get(p.key) ?? [];
    const value = `v${p.seq}`;
    const base = {
      id: i,
      client: p.client,
      key: p.key,
      invoke: p.invoke,
      complete: p.complete,
      outcome: p.outcome,
    };
    const live = p.at !== null;
    let op: RegisterOp;
    if (p.roll < 0.45) {
      op = { ...base, input: { f: "read" }, output: p.outcome === "ok" ? { f: "read", value: cur } : null };
    } else if (p.roll < 0.8) {
      if (live) state.set(p.key, value);
      op = { ...base, input: { f: "write", value }, output: p.outcome === "ok" ? { f: "write" } : null };
    } else {
      // Expect the current value half the time, an older one otherwise.
      const expect = p.roll < 0.9 ? cur : (pool[Math.floor(p.roll * 997) % Math.max(1, pool.length)] ?? null);
      const succeeded = cur === expect;
      if (live && succeeded) state.set(p.key, value);
      op = {
        ...base,
        input: { f: "cas", expect, value },
        output: p.outcome === "ok" ? { f: "cas", succeeded } : null,
      };
    }
    if (op.input.f !== "read") pool.push(value);
    written.set(p.key, pool);
    result[i] = op;
  }
  for (const op of result) ops.push(op);
  return ops;
}

/** A history of a linearizable append-only list per key. */
export function simulateAppend(o: SimOptions): AppendOp[] {
  const planned = plan(o);
  const lists = new Map<string, string[]>();
  const byEffect = planned
    .map((p, i) => ({ p, i }))
    .sort((a, b) => (a.p.at ?? a.p.complete) - (b.p.at ?? b.p.complete) || a.i - b.i);
  const result = new Array<AppendOp>(planned.length);
  for (const { p, i } of byEffect) {
    const list = lists.get(p.key) ?? [];
    const base = {
      id: i,
      client: p.client,
      key: p.key,
      invoke: p.invoke,
      complete: p.complete,
      outcome: p.outcome,
    };
    if (p.roll < 0.4) {
      result[i] = {
        ...base,
        input: { f: "read" },
        output: p.outcome === "ok" ? { f: "read", list: list.slice() } : null,
      };
    } else {
      const elem = `e${p.seq}`;
      if (p.at !== null) lists.set(p.key, [...list, elem]);
      result[i] = {
        ...base,
        input: { f: "append", elem },
        output: p.outcome === "ok" ? { f: "append" } : null,
      };
    }
  }
  return result;
}
