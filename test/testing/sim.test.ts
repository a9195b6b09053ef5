// The seeded cluster simulator: clean runs pass, broken Raft variants are caught, runs replay exactly.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { InjectedBugs } from "../../src/raft/config.js";
import { RaftLog } from "../../src/raft/log.js";
import { MemoryStorage } from "../../src/raft/storage.js";
import { RegisterHistory } from "../../src/testing/sim/history.js";
import { Invariants, InvariantViolation } from "../../src/testing/sim/invariants.js";
import { replayCommand, type SimOptions, simulate } from "../../src/testing/sim/simulator.js";

function runSeeds(
  first: number,
  count: number,
  base: Omit<SimOptions, "seed">,
): { seeds: number; acked: number; reads: number } {
  let acked = 0;
  let reads = 0;
  for (let seed = first; seed < first + count; seed++) {
    const opts = { ...base, seed };
    const res = simulate(opts);
    if (!res.ok) assert.fail(`seed ${seed} failed: ${res.error}\nreplay with: ${replayCommand(opts)}`);
    acked += res.stats.writesAcked;
    reads += res.stats.readsOk;
  }
  return { seeds: count, acked, reads };
}

test("Simulation: 400 seeds of 3-node clusters under faults keep every safety property and recover", () => {
  // Proves the core under random faults: all invariants hold after every step, reads are
  // linearizable, and after healing a write commits on every member within the liveness bound.
  const r = runSeeds(1, 400, { nodes: 3 });
  assert.ok(r.acked > 1000 && r.reads > 1000, `the workload must do real work: ${JSON.stringify(r)}`);
});

test("Simulation: 400 seeds of 5-node clusters under faults keep every safety property and recover", () => {
  // Same as the 3-node run, with 5 voters (and joint configurations of up to 8 nodes).
  const r = runSeeds(1, 400, { nodes: 5 });
  assert.ok(r.acked > 1000 && r.reads > 1000, `the workload must do real work: ${JSON.stringify(r)}`);
});

test("Simulation: leader churn (deposed right after winning or committing) keeps every property", () => {
  // Proves the core under the fault profile that exposes commit-rule bugs (100 seeds each of 3
  // and 5 nodes).
  runSeeds(2001, 100, { nodes: 3, profile: "churn" });
  runSeeds(2001, 100, { nodes: 5, profile: "churn" });
});

test("Simulation: lease-based reads stay linearizable under faults (100 seeds each of 3 and 5 nodes)", () => {
  // Proves lease reads are safe with clock-rate differences, pauses, crashes and transfers.
  runSeeds(1001, 100, { nodes: 3, readOnlyOption: "leaseBased" });
  runSeeds(1001, 100, { nodes: 5, readOnlyOption: "leaseBased" });
});

const brokenVariants: { bug: keyof InjectedBugs; profile: "swarm" | "churn"; expect: RegExp }[] = [
  {
    bug: "commitByCountingOldTerms",
    profile: "churn",
    expect: /Leader Completeness|committed entry changed|State Machine Safety/,
  },
  { bug: "voteWithoutPersist", profile: "swarm", expect: /Election Safety|durable vote/ },
  {
    bug: "ignoreLogUpToDate",
    profile: "swarm",
    expect: /Leader Completeness|committed entry changed|State Machine Safety/,
  },
];

for (const { bug, profile, expect } of brokenVariants) {
  test(`Simulation: finds the injected bug '${bug}' within 500 seeds (${profile} faults)`, () => {
    // Proves the simulator has teeth: a deliberately broken core is caught, and the failure
    // names the violated property and a command that replays it.
    for (let seed = 1; seed <= 500; seed++) {
      const opts: SimOptions = { seed, nodes: 3, profile, bugs: { [bug]: true } };
      const res = simulate(opts);
      if (res.ok) continue;
      assert.match(res.error, expect);
      const replay = replayCommand(opts);
      assert.match(replay, new RegExp(`--first-seed ${seed} --nodes 3`));
      assert.match(replay, new RegExp(`--bug ${bug}`));
      return;
    }
    assert.fail(`bug '${bug}' was not found within 500 seeds`);
  });
}

test("Simulation: a seed replays exactly (same trace, same statistics)", () => {
  // Proves determinism: everything random comes from the seed.
  const run = (): { lines: string[]; stats: unknown } => {
    const lines: string[] = [];
    const res = simulate({ seed: 77, nodes: 5, trace: (l) => lines.push(l) });
    return { lines, stats: res.stats };
  };
  const a = run();
  const b = run();
  assert.ok(a.lines.length > 10);
  assert.deepEqual(a.lines, b.lines);
  assert.deepEqual(a.stats, b.stats);
});

test("Invariants: two leaders in one term violate Election Safety", () => {
  // Proves the checker itself can fail (a checker that never fires would make the runs meaningless).
  const inv = new Invariants();
  const emptyLog = new RaftLog(new MemoryStorage(), 0);
  inv.observeNode(1, "leader", 3, emptyLog);
  assert.throws(() => inv.observeNode(2, "leader", 3, emptyLog), InvariantViolation);
});

test("Invariants: a vote changed within a term and a commit going back are violations", () => {
  // Proves the durable hard-state checks fire.
  const inv = new Invariants();
  inv.persistedHardState(1, { term: 2, vote: 3, commit: 5 });
  assert.throws(() => inv.persistedHardState(1, { term: 2, vote: 4, commit: 5 }), /two votes in one term/);
  const inv2 = new Invariants();
  inv2.persistedHardState(1, { term: 2, vote: 3, commit: 5 });
  assert.throws(
    () => inv2.persistedHardState(1, { term: 2, vote: 3, commit: 4 }),
    /commit of node 1 went back/,
  );
});

test("Invariants: different data applied at one index violates State Machine Safety", () => {
  // Proves the apply check fires.
  const inv = new Invariants();
  inv.applied(1, { index: 4, term: 2, type: 0, data: new Uint8Array([1]) });
  assert.throws(
    () => inv.applied(2, { index: 4, term: 2, type: 0, data: new Uint8Array([2]) }),
    /State Machine Safety/,
  );
});

test("RegisterHistory: a stale read after a completed write is not linearizable", () => {
  // Proves the read checker rejects the classic stale read and accepts a fresh one.
  const h = new RegisterHistory();
  h.invokeWrite({ id: 1, kind: "write", key: "x", value: 1, call: 0, ret: null });
  h.writeCommitted(1, 10);
  h.writeReturned(1, 5);
  h.readReturned({ id: 2, kind: "read", key: "x", value: 1, call: 6, ret: 8 });
  assert.throws(
    () => h.readReturned({ id: 3, kind: "read", key: "x", value: 0, call: 9, ret: 12 }),
    /stale read 3/,
  );
});

test("RegisterHistory: reading a value never written, or from the future, is not linearizable", () => {
  // Proves the remaining read rules fire.
  const h = new RegisterHistory();
  assert.throws(
    () => h.readReturned({ id: 1, kind: "read", key: "x", value: 99, call: 0, ret: 1 }),
    /never written/,
  );
  h.invokeWrite({ id: 2, kind: "write", key: "x", value: 2, call: 50, ret: null });
  h.writeCommitted(2, 3);
  assert.throws(
    () => h.readReturned({ id: 3, kind: "read", key: "x", value: 2, call: 10, ret: 20 }),
    /from the future/,
  );
});
