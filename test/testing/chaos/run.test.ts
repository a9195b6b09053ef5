import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { nemesisKinds } from "../../../src/testing/chaos/nemesis.js";
import {
  type ChaosOptions,
  type ChaosResult,
  runChaos,
  summaryText,
} from "../../../src/testing/chaos/run.js";
import { liveMemberPids } from "../../../src/testing/chaos/runner.js";
import { workloadKinds } from "../../../src/testing/chaos/workloads.js";

/** Runs `options` in a fresh folder, kept (and named in the failure) only when an assertion fails. */
async function chaos(
  name: string,
  options: Omit<ChaosOptions, "dir">,
  check: (r: ChaosResult) => void,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `synod-chaos-${name}-`));
  const r = await runChaos({ ...options, dir });
  assert.deepEqual(liveMemberPids(), [], "no member process outlives the run");
  try {
    check(r);
  } catch (e) {
    process.stderr.write(`${summaryText(r)}\n(run folder kept: ${dir})\n`);
    throw e;
  }
  rmSync(dir, { recursive: true, force: true });
}

test("chaos: a bounded run with every nemesis and every workload on 3 members ends valid and converged", async () => {
  // Proves, on real processes: under SIGKILLs, SIGSTOPs, partitions through the peer proxies,
  // member removal/wipe/re-add and slow fsyncs, the register and append histories are
  // linearizable, the watch and lock histories pass their checkers, every member ends with the
  // same HashKV, clients made progress, watchers resuming far back met the compaction, and every
  // nemesis struck at least once.
  await chaos(
    "bounded",
    {
      nodes: 3,
      timeS: 60,
      nemeses: nemesisKinds.filter((k) => k !== "clock"),
      workloads: [...workloadKinds],
      seed: 20261126,
      compactionRetention: "8s",
    },
    (r) => {
      for (const kind of ["kill", "pause", "partition", "member-remove", "member-add", "disk"]) {
        assert.ok(
          (r.faults[kind] ?? 0) >= 1,
          `nemesis ${kind} struck at least once: ${JSON.stringify(r.faults)}`,
        );
      }
      assert.ok(r.ops.register.ok >= 200, `register made progress: ${JSON.stringify(r.ops.register)}`);
      assert.ok(r.ops.append.ok >= 100, `append made progress: ${JSON.stringify(r.ops.append)}`);
      assert.ok(
        r.watch.events > 0 && r.watch.streams >= 8,
        `watchers saw events: ${JSON.stringify(r.watch)}`,
      );
      assert.ok(r.watch.compacted >= 1, `a watcher resumed below the compaction: ${JSON.stringify(r.watch)}`);
      assert.ok(r.lock.holds >= 5, `locks were held: ${r.lock.holds}`);
      assert.ok(r.convergence.converged, r.convergence.detail);
      for (const [checker, verdict] of Object.entries(r.check.verdicts)) {
        assert.notEqual(verdict, "invalid", `${checker}: ${r.check.lines.join("; ")}`);
      }
      assert.equal(r.valid, true);
    },
  );
});

test("chaos: the stale-reads broken server mode is caught by the linearizability checker; the same run without it is valid", async () => {
  // Proves the harness can fail, and fails for the right reason: with SYNOD_TEST_BUG=stale-reads
  // the members answer linearizable reads from local state, so while the leader is isolated by
  // the proxies it (and the lagging side) serve stale values; the register history must come out
  // invalid. The same run (seed, faults, workload) against the correct server is valid.
  const options: Omit<ChaosOptions, "dir"> = {
    nodes: 3,
    timeS: 12,
    nemeses: ["partition"],
    partitionShapes: ["isolate-leader"],
    workloads: ["register"],
    seed: 2,
  };
  await chaos("stale-reads", { ...options, bug: "stale-reads" }, (r) => {
    assert.ok((r.faults["partition:isolate-leader"] ?? 0) >= 1, JSON.stringify(r.faults));
    assert.equal(r.check.verdicts.register, "invalid", r.check.lines.join("; "));
    assert.equal(r.valid, false);
  });
  await chaos("stale-reads-control", options, (r) => {
    assert.ok((r.faults["partition:isolate-leader"] ?? 0) >= 1, JSON.stringify(r.faults));
    assert.ok(r.ops.register.ok >= 100, `register made progress: ${JSON.stringify(r.ops.register)}`);
    assert.equal(r.check.verdicts.register, "valid", r.check.lines.join("; "));
    assert.equal(r.valid, true);
  });
});
