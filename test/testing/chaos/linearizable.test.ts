// The linearizability checker on hand-written histories whose verdict is known, on simulated
// histories of a real linearizable register / list (property tests, fixed seeds), and on its
// bounds: minimisation, the search budget, and the time it takes on a chaos-sized history.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type {
  AppendInput,
  AppendOp,
  AppendOutput,
  Op,
  Outcome,
  RegisterInput,
  RegisterOp,
  RegisterOutput,
} from "../../../src/testing/chaos/history.js";
import {
  checkAppend,
  checkRegister,
  type LinearizabilityResult,
} from "../../../src/testing/chaos/linearizable.js";
import { AppendHistory, RegisterHistory, simulateAppend, simulateRegister } from "./histories.js";

const inf = Number.POSITIVE_INFINITY;

function verdictOf<I, O>(r: LinearizabilityResult<I, O>): string {
  return r.verdict;
}

/**
 * A naive reference: tries every order (no memoisation, no pruning) of the ok ops and any subset
 * of the unknown ops, respecting real-time order, with a plain list / register.
 */
function bruteForce<I, O, S>(
  ops: readonly Op<I, O>[],
  init: S,
  apply: (s: S, input: I, output: O | null) => S | undefined,
): boolean {
  const live = ops.filter((op) => op.outcome !== "fail");
  const end = (op: Op<I, O>) => (op.outcome === "unknown" ? inf : op.complete);
  const done = new Set<number>();
  const go = (s: S): boolean => {
    if (live.every((op) => op.outcome !== "ok" || done.has(op.id))) return true;
    for (const op of live) {
      if (done.has(op.id)) continue;
      // op may go next only if no pending op completed strictly before it was invoked.
      if (live.some((p) => !done.has(p.id) && p !== op && end(p) < op.invoke)) continue;
      const n = apply(s, op.input, op.outcome === "ok" ? op.output : null);
      if (n === undefined) continue;
      done.add(op.id);
      const ok = go(n);
      done.delete(op.id);
      if (ok) return true;
    }
    return false;
  };
  return go(init);
}

function naiveRegister(s: string | null, input: RegisterInput, output: RegisterOutput | null) {
  if (input.f === "read")
    return output === null || (output.f === "read" && output.value === s) ? s : undefined;
  if (input.f === "write") return input.value;
  const hit = s === input.expect;
  if (output !== null && (output.f !== "cas" || output.succeeded !== hit)) return undefined;
  return hit ? input.value : s;
}

function naiveList(s: readonly string[], input: AppendInput, output: AppendOutput | null) {
  if (input.f === "append") return [...s, input.elem];
  if (output === null) return s;
  return output.f === "read" &&
    output.list.join("\u0000") === s.join("\u0000") &&
    output.list.length === s.length
    ? s
    : undefined;
}

const arbOutcome = fc.constantFrom<Outcome>("ok", "ok", "ok", "unknown", "fail");
const arbTimes = fc.tuple(fc.nat(12), fc.nat(6));

/** Small random register histories with arbitrary (often impossible) outputs. */
const arbRegister = fc
  .array(fc.tuple(fc.nat(2), fc.nat(3), arbTimes, arbOutcome, fc.nat(4), fc.nat(4), fc.boolean()), {
    minLength: 1,
    maxLength: 7,
  })
  .map((rows) =>
    rows.map(([kind, client, [t0, d], outcome, a, b, succeeded], id): RegisterOp => {
      const pick = (n: number) => (n === 0 ? null : `v${n}`);
      const base = { id, client, key: "k", invoke: t0, complete: t0 + d, outcome };
      if (kind === 0) {
        return {
          ...base,
          input: { f: "read" },
          output: outcome === "ok" ? { f: "read", value: pick(a) } : null,
        };
      }
      if (kind === 1) {
        return {
          ...base,
          input: { f: "write", value: `v${(id % 4) + 1}` },
          output: outcome === "ok" ? { f: "write" } : null,
        };
      }
      const input = { f: "cas", expect: pick(b), value: `v${(id % 4) + 1}` } as const;
      return { ...base, input, output: outcome === "ok" ? { f: "cas", succeeded } : null };
    }),
  );

/** Small random append histories: unique elements, reads of arbitrary lists of them. */
const arbAppend = fc
  .array(fc.tuple(fc.boolean(), fc.nat(3), arbTimes, arbOutcome, fc.array(fc.nat(6), { maxLength: 4 })), {
    minLength: 1,
    maxLength: 7,
  })
  .map((rows) =>
    rows.map(([isRead, client, [t0, d], outcome, list], id): AppendOp => {
      const base = { id, client, key: "l", invoke: t0, complete: t0 + d, outcome };
      if (isRead) {
        const l = list.map((n) => `e${n}`);
        return { ...base, input: { f: "read" }, output: outcome === "ok" ? { f: "read", list: l } : null };
      }
      return {
        ...base,
        input: { f: "append", elem: `e${id}` },
        output: outcome === "ok" ? { f: "append" } : null,
      };
    }),
  );

test("checkRegister: concurrent writes, then reads in either order, are valid", () => {
  // Proves two overlapping writes may take effect in either order, and reads overlapping them may
  // see either value (or the initial null) as long as one order explains all of them.
  for (const last of ["a", "b"]) {
    const h = new RegisterHistory().write(1, "a", 0, 10).write(2, "b", 1, 9).read(3, last, 11, 12);
    assert.equal(verdictOf(checkRegister(h.ops)), "valid", `final read ${last}`);
  }
  const overlapping = new RegisterHistory()
    .write(1, "a", 0, 10)
    .write(2, "b", 0, 10)
    .read(3, null, 1, 2)
    .read(4, "b", 3, 4)
    .read(5, "a", 5, 6)
    .read(3, "a", 11, 12);
  assert.equal(checkRegister(overlapping.ops).verdict, "valid");
  const touching = new RegisterHistory().write(1, "a", 0, 5).read(2, null, 5, 6);
  assert.equal(checkRegister(touching.ops).verdict, "valid", "ops touching at one instant are concurrent");
});

test("checkRegister: reads of both values after both writes completed must agree on one order", () => {
  // Proves the checker rejects a history where one reader sees a then b and another b then a,
  // after both writes completed: no single order explains them.
  const h = new RegisterHistory()
    .write(1, "a", 0, 10)
    .write(2, "b", 0, 10)
    .read(3, "a", 11, 12)
    .read(4, "b", 13, 14)
    .read(3, "a", 15, 16);
  const r = checkRegister(h.ops);
  assert.equal(r.verdict, "invalid");
  assert.equal(r.keys[0]?.key, "k");
});

test("checkRegister: a stale read after a completed write is invalid", () => {
  // Proves a read that starts after a write of b completed cannot return the older value a.
  const h = new RegisterHistory().write(1, "a", 0, 1).write(1, "b", 2, 3).read(2, "a", 4, 5);
  const r = checkRegister(h.ops);
  assert.equal(r.verdict, "invalid");
  const w = r.keys[0]?.witness;
  assert.ok(w !== null && w !== undefined);
  assert.deepEqual(
    w.ops.map((op) => op.id),
    [0, 1, 2],
    "all three ops are needed to show the stale read",
  );
  assert.equal(w.minimal, true);
});

test("checkRegister: a lost write (acknowledged, never seen, never overwritten) is invalid", () => {
  // Proves an ok write must be visible to reads that start after it completed.
  const h = new RegisterHistory().write(1, "a", 0, 1).read(2, null, 2, 3).read(3, null, 10, 11);
  assert.equal(checkRegister(h.ops).verdict, "invalid");
});

test("checkRegister: a read of a value never written, or written only by a failed write, is invalid", () => {
  // Proves reads must return a value some write that may have taken effect installed; a failed
  // write definitely did not take effect, so its value is an uncommitted one.
  const never = new RegisterHistory().write(1, "a", 0, 1).read(2, "z", 2, 3);
  const r1 = checkRegister(never.ops);
  assert.equal(r1.verdict, "invalid");
  assert.match(r1.keys[0]?.anomalies[0] ?? "", /never written/);
  const uncommitted = new RegisterHistory().write(1, "x", 0, 1, "fail").read(2, "x", 2, 3);
  const r2 = checkRegister(uncommitted.ops);
  assert.equal(r2.verdict, "invalid");
  assert.match(r2.keys[0]?.anomalies[0] ?? "", /failed op/);
  const concurrentFailed = new RegisterHistory().write(1, "x", 0, 10, "fail").read(2, "x", 2, 3);
  assert.equal(checkRegister(concurrentFailed.ops).verdict, "invalid", "even while the failed write runs");
});

test("checkRegister: an unknown-outcome write may appear later, or never", () => {
  // Proves an unknown op may take effect at any time after its invoke (even long after the
  // client gave up on it) or not at all, but only once.
  const appears = new RegisterHistory()
    .write(1, "a", 0, 5, "unknown")
    .read(2, null, 6, 7)
    .read(2, "a", 100, 101);
  assert.equal(checkRegister(appears.ops).verdict, "valid");
  const never = new RegisterHistory()
    .write(1, "a", 0, 5, "unknown")
    .read(2, null, 6, 7)
    .read(2, null, 1000, 1001);
  assert.equal(checkRegister(never.ops).verdict, "valid");
  const flickers = new RegisterHistory()
    .write(1, "a", 0, 5, "unknown")
    .read(2, "a", 6, 7)
    .read(2, null, 8, 9);
  assert.equal(checkRegister(flickers.ops).verdict, "invalid", "once seen, it cannot un-happen");
  const beforeInvoke = new RegisterHistory().read(2, "a", 0, 1).write(1, "a", 2, 3, "unknown");
  assert.equal(checkRegister(beforeInvoke.ops).verdict, "invalid", "not before its invoke");
});

test("checkRegister: compare-and-set succeeds exactly when the value matches", () => {
  // Proves the cas semantics: success iff the current value equals the expectation (null =
  // absent), and a successful cas installs its value.
  const chain = new RegisterHistory()
    .cas(1, null, "a", 0, 1, true)
    .cas(2, null, "b", 2, 3, false)
    .cas(2, "a", "b", 4, 5, true)
    .read(1, "b", 6, 7);
  assert.equal(checkRegister(chain.ops).verdict, "valid");
  const wrongSuccess = new RegisterHistory().write(1, "a", 0, 1).cas(2, "z", "b", 2, 3, true);
  assert.equal(checkRegister(wrongSuccess.ops).verdict, "invalid");
  const wrongFailure = new RegisterHistory().write(1, "a", 0, 1).cas(2, "a", "b", 2, 3, false);
  assert.equal(checkRegister(wrongFailure.ops).verdict, "invalid");
  const racing = new RegisterHistory()
    .write(1, "a", 0, 1)
    .cas(2, "a", "b", 2, 10, true)
    .cas(3, "a", "c", 2, 10, true);
  assert.equal(checkRegister(racing.ops).verdict, "invalid", "two cas from a cannot both succeed");
  const unknownCas = new RegisterHistory()
    .write(1, "a", 0, 1)
    .cas(2, "a", "b", 2, 3, "unknown")
    .read(3, "b", 9, 10);
  assert.equal(checkRegister(unknownCas.ops).verdict, "valid", "an unknown cas may have succeeded");
  const failedCasExplained = new RegisterHistory()
    .write(1, "a", 0, 1)
    .write(3, "v", 2, 3, "unknown")
    .cas(2, "a", "b", 4, 5, false);
  assert.equal(checkRegister(failedCasExplained.ops).verdict, "valid", "an unseen unknown write explains it");
});

test("checkAppend: concurrent appends and consistent reads are valid", () => {
  // Proves reads may see concurrent appends in either order, as long as all reads agree.
  const h = new AppendHistory()
    .append(1, "a", 0, 10)
    .append(2, "b", 0, 10)
    .read(3, [], 0, 1)
    .read(3, ["b"], 2, 3)
    .read(4, ["b", "a"], 11, 12)
    .append(5, "c", 12, 20, "unknown")
    .read(4, ["b", "a"], 21, 22);
  assert.equal(checkAppend(h.ops).verdict, "valid");
});

test("checkAppend: duplicated, lost, reordered and uncommitted appends are invalid", () => {
  // Proves the list model catches the anomalies the append workload exists for.
  const duplicated = new AppendHistory().append(1, "a", 0, 1).read(2, ["a", "a"], 2, 3);
  const r = checkAppend(duplicated.ops);
  assert.equal(r.verdict, "invalid");
  assert.match(r.keys[0]?.anomalies.join() ?? "", /twice/);
  const lost = new AppendHistory().append(1, "a", 0, 1).append(2, "b", 2, 3).read(3, ["b"], 4, 5);
  assert.equal(checkAppend(lost.ops).verdict, "invalid");
  const reordered = new AppendHistory()
    .append(1, "a", 0, 10)
    .append(2, "b", 0, 10)
    .read(3, ["a", "b"], 11, 12)
    .read(4, ["b", "a"], 13, 14);
  assert.equal(checkAppend(reordered.ops).verdict, "invalid");
  const uncommitted = new AppendHistory().append(1, "a", 0, 1, "fail").read(2, ["a"], 2, 3);
  const u = checkAppend(uncommitted.ops);
  assert.equal(u.verdict, "invalid");
  assert.match(u.keys[0]?.anomalies.join() ?? "", /failed append/);
});

test("checkRegister: keys are checked independently; fail ops are dropped; unknown on budget", () => {
  // Proves per-key partitioning (a violation on one key does not taint another), and that a
  // search past its step budget answers "unknown" instead of running on.
  const a = new RegisterHistory("a").write(1, "x", 0, 1).read(2, "x", 2, 3);
  const b = new RegisterHistory("b").write(1, "y", 0, 1).read(2, null, 2, 3);
  const ops = [...a.ops, ...b.ops.map((op) => ({ ...op, id: op.id + 100 }))];
  const r = checkRegister(ops);
  assert.equal(r.verdict, "invalid");
  assert.deepEqual(
    r.keys.map((k) => [k.key, k.verdict]),
    [
      ["a", "valid"],
      ["b", "invalid"],
    ],
  );
  const big = simulateRegister({ seed: 5, keys: 1, clients: 8, ops: 400 });
  const bounded = checkRegister(big, { stepsMaxPerKey: 10 });
  assert.equal(bounded.verdict, "unknown");
  assert.match(bounded.keys[0]?.reason ?? "", /step budget/);
  const failedOnly = new RegisterHistory().write(1, "a", 0, 1, "fail").read(2, null, 2, 3);
  assert.equal(checkRegister(failedOnly.ops).verdict, "valid");
});

test("checkRegister: malformed histories are rejected", () => {
  // Proves recording bugs (reused ids, output without "ok") crash instead of being judged.
  const h = new RegisterHistory().write(1, "a", 0, 1).read(2, "a", 2, 3);
  const dup = [...h.ops, { ...(h.ops[0] as RegisterOp) }];
  assert.throws(() => checkRegister(dup), /op id 0 used twice/);
  const noOutput: RegisterOp = { ...(h.ops[1] as RegisterOp), output: null };
  assert.throws(() => checkRegister([noOutput]), /outcome ok and output null/);
  const twice = new AppendHistory().append(1, "a", 0, 1).append(2, "a", 2, 3);
  assert.throws(() => checkAppend(twice.ops), /appended by ops 0 and 1/);
});

test("checkRegister: agrees with a brute-force search on small random histories (property)", () => {
  // Proves the optimised search (memoisation, pruning of unobserved unknown ops, effect
  // deadlines, skipped useless placements) decides exactly like trying every order.
  let valid = 0;
  let invalid = 0;
  fc.assert(
    fc.property(arbRegister, (ops) => {
      const expected = bruteForce(ops, null as string | null, naiveRegister);
      if (expected) valid++;
      else invalid++;
      assert.equal(checkRegister(ops).verdict, expected ? "valid" : "invalid");
    }),
    { seed: 4711, numRuns: 3000 },
  );
  assert.ok(valid > 300 && invalid > 300, `both verdicts exercised: ${valid} valid, ${invalid} invalid`);
});

test("checkAppend: agrees with a brute-force search on small random histories (property)", () => {
  // Proves the append model over the master sequence (the longest read) decides exactly like a
  // plain list, including lists with duplicates and reads out of order.
  let valid = 0;
  let invalid = 0;
  fc.assert(
    fc.property(arbAppend, (ops) => {
      const expected = bruteForce(ops, [] as readonly string[], naiveList);
      if (expected) valid++;
      else invalid++;
      assert.equal(checkAppend(ops).verdict, expected ? "valid" : "invalid");
    }),
    { seed: 1234, numRuns: 3000 },
  );
  assert.ok(valid > 300 && invalid > 300, `both verdicts exercised: ${valid} valid, ${invalid} invalid`);
});

test("checkRegister: random sequential histories are valid (property)", () => {
  // Proves no false positive when ops never overlap: each op sees exactly the previous state.
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 4 }), (seed, keys) => {
      const ops = simulateRegister({ seed, keys, clients: 3, ops: 60, sequential: true, failRate: 0.1 });
      return checkRegister(ops).verdict === "valid";
    }),
    { seed: 6061, numRuns: 200 },
  );
});

test("checkRegister and checkAppend: simulated linearizable histories with concurrency are valid (property)", () => {
  // Proves no false positive on histories of a real atomic register / list, with overlapping
  // ops, failed ops and unknown ops that took effect late or never.
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      fc.integer({ min: 1, max: 6 }),
      fc.double({ min: 0, max: 0.3, noNaN: true }),
      (seed, clients, unknownRate) => {
        const o = { seed, keys: 2, clients, ops: 80, unknownRate, failRate: 0.05 };
        return (
          checkRegister(simulateRegister(o)).verdict === "valid" &&
          checkAppend(simulateAppend(o)).verdict === "valid"
        );
      },
    ),
    { seed: 1701, numRuns: 150 },
  );
});

/** Replaces one ok read's value with one that makes the history fail (found by trying). */
function corrupt(ops: readonly RegisterOp[], pick: number): RegisterOp[] | null {
  const reads = ops.filter((op) => op.outcome === "ok" && op.input.f === "read");
  const values = ops.flatMap((op) => (op.input.f === "write" ? [op.input.value] : []));
  for (let i = 0; i < reads.length; i++) {
    const victim = reads[(pick + i) % reads.length] as RegisterOp;
    for (const value of values) {
      const bad = ops.map((op) =>
        op.id === victim.id ? { ...op, output: { f: "read" as const, value } } : op,
      );
      if (checkRegister(bad, { shrinkStepsMax: 0 }).verdict === "invalid") return bad;
    }
  }
  return null;
}

test("checkRegister: the witness of a violation is a smaller history that still fails (property)", () => {
  // Proves minimisation shrinks, and only ever to a sub-history (ids of the original, outputs
  // unchanged or dropped) that is itself not linearizable.
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.nat(1000), (seed, pick) => {
      const bad = corrupt(simulateRegister({ seed, keys: 1, clients: 4, ops: 60, unknownRate: 0.1 }), pick);
      fc.pre(bad !== null);
      if (bad === null) return true;
      const r = checkRegister(bad);
      const k = r.keys[0];
      assert.ok(k !== undefined && k.witness !== null);
      const w = k.witness;
      assert.ok(w.ops.length < k.opsSearched, `witness ${w.ops.length} of ${k.opsSearched} ops`);
      assert.equal(checkRegister(w.ops).verdict, "invalid");
      const byId = new Map(bad.map((op) => [op.id, op]));
      for (const op of w.ops) {
        const orig = byId.get(op.id);
        assert.ok(orig !== undefined);
        assert.deepEqual(op.input, orig.input);
        assert.ok(op.outcome === orig.outcome || op.outcome === "unknown");
      }
      return true;
    }),
    { seed: 31337, numRuns: 40 },
  );
});

test("checkRegister: the witness of a stale read among many ops is small", () => {
  // Proves truncation and dropping cut a long history down to the few ops that show the anomaly.
  const ops = simulateRegister({ seed: 99, keys: 1, clients: 5, ops: 300 });
  const last = Math.max(...ops.map((op) => op.complete));
  const stale: RegisterOp[] = [
    ...ops,
    {
      id: 1000,
      client: 9,
      key: "k0",
      input: { f: "write", value: "fresh" },
      invoke: last + 1,
      complete: last + 2,
      outcome: "ok",
      output: { f: "write" },
    },
    {
      id: 1001,
      client: 9,
      key: "k0",
      input: { f: "write", value: "newer" },
      invoke: last + 3,
      complete: last + 4,
      outcome: "ok",
      output: { f: "write" },
    },
    {
      id: 1002,
      client: 8,
      key: "k0",
      input: { f: "read" },
      invoke: last + 5,
      complete: last + 6,
      outcome: "ok",
      output: { f: "read", value: "fresh" },
    },
  ];
  const r = checkRegister(stale);
  const w = r.keys[0]?.witness;
  assert.ok(w !== null && w !== undefined);
  assert.ok(w.ops.length <= 4, `witness has ${w.ops.length} ops: ${JSON.stringify(w.ops)}`);
  assert.ok(w.ops.some((op) => op.id === 1002));
});

test("checkRegister and checkAppend: ~5,000 ops on 10 keys check in a couple of seconds", () => {
  // Proves the memoised search is fast enough for chaos-run histories with moderate concurrency
  // (24 clients over 10 keys, 5% unknown outcomes).
  const o = { seed: 2024, keys: 10, clients: 24, ops: 5000, unknownRate: 0.05, failRate: 0.02 };
  const reg = simulateRegister(o);
  const app = simulateAppend(o);
  const t0 = performance.now();
  const r = checkRegister(reg);
  const t1 = performance.now();
  const a = checkAppend(app);
  const t2 = performance.now();
  assert.equal(r.verdict, "valid");
  assert.equal(a.verdict, "valid");
  assert.ok(t1 - t0 < 3000, `register check took ${Math.round(t1 - t0)} ms`);
  assert.ok(t2 - t1 < 3000, `append check took ${Math.round(t2 - t1)} ms`);
});
