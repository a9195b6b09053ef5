/**
 * One chaos run, start to end: start a cluster behind the fault proxies, run the workloads while
 * the nemeses inject faults, stop the faults and heal everything, check that every member
 * converged (HashKV equal at the same revision), stop every process, check the history, and write
 * the run folder (member logs, events, history, verdicts, report).
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type CheckSummary, checkHistory } from "./check.js";
import { type ChaosEvent, EventLog, RunClock } from "./events.js";
import type { Outcome } from "./history.js";
import { type FaultCounts, Nemesis, type NemesisKind, type PartitionShape } from "./nemesis.js";
import type { ProxyStats } from "./proxy.js";
import { ChaosCluster, installCleanup, sleep } from "./runner.js";
import { type ChaosHistory, runWorkloads, type WorkloadKind } from "./workloads.js";

/** Options of {@link runChaos}. */
export interface ChaosOptions {
  /** 3 or 5 members. */
  readonly nodes: number;
  /** Seconds of workload (faults run during it; healing and checks come after). */
  readonly timeS: number;
  readonly nemeses: readonly NemesisKind[];
  readonly workloads: readonly WorkloadKind[];
  readonly seed: number;
  /** The run folder. */
  readonly dir: string;
  /** A deliberately broken server mode (SYNOD_TEST_BUG), for the harness's own test. */
  readonly bug?: string;
  readonly heartbeatMs?: number;
  readonly electionMs?: number;
  /** Operations per client at most (default unbounded within the time). */
  readonly opsPerClientMax?: number;
  /** Clients per workload. */
  readonly clients?: Partial<Record<WorkloadKind, number>>;
  /** Client call timeout in ms. */
  readonly timeoutMs?: number;
  /** Partition shapes the partition nemesis draws from (default all). */
  readonly partitionShapes?: readonly PartitionShape[];
  /** `--snapshot-count` of the members (default 2000). */
  readonly snapshotCount?: number;
  /** Periodic auto-compaction retention of the members, e.g. "20s" (the default; "0" = off). */
  readonly compactionRetention?: string;
  /** Keep the members' data directories of a valid run too (default: only of an invalid one). */
  readonly keepData?: boolean;
  /** Echo events to stderr. */
  readonly echo?: boolean;
  /** The compiled synod entry point (default: the one of this build). */
  readonly mainJs?: string;
}

/** Counts of operations by outcome. */
export type OutcomeCounts = Record<Outcome, number>;

/** Whether every member ended with the same state. */
export interface Convergence {
  readonly converged: boolean;
  readonly revision: number;
  /** Per member: hash and compact revision, or an error text. */
  readonly members: Record<string, string>;
  readonly detail: string;
}

/** What a run produced. */
export interface ChaosResult {
  readonly dir: string;
  readonly options: ChaosOptions;
  readonly history: ChaosHistory;
  readonly events: readonly ChaosEvent[];
  readonly faults: FaultCounts;
  readonly proxy: ProxyStats;
  readonly ops: Record<"register" | "append" | "lockWrites", OutcomeCounts>;
  readonly watch: { readonly streams: number; readonly events: number; readonly compacted: number };
  readonly lock: { readonly holds: number };
  readonly convergence: Convergence;
  readonly check: CheckSummary;
  /** Valid history and converged members. */
  readonly valid: boolean;
  readonly durationMs: number;
}

/** Runs one chaos test; see the file comment. Every member process is gone when it resolves. */
export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  installCleanup();
  mkdirSync(options.dir, { recursive: true });
  const clock = new RunClock();
  const events = new EventLog(clock, join(options.dir, "events.jsonl"), options.echo ?? false);
  events.add(
    "run",
    `nodes ${options.nodes}, ${options.timeS} s, nemeses [${options.nemeses.join(",")}], workloads [${options.workloads.join(",")}], seed ${options.seed}${options.bug === undefined ? "" : `, BUG ${options.bug}`}`,
  );
  const cluster = await ChaosCluster.create({
    nodes: options.nodes,
    dir: options.dir,
    ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
    ...(options.electionMs === undefined ? {} : { electionMs: options.electionMs }),
    ...(options.bug === undefined ? {} : { bug: options.bug }),
    ...(options.mainJs === undefined ? {} : { mainJs: options.mainJs }),
    ...(options.snapshotCount === undefined ? {} : { snapshotCount: options.snapshotCount }),
    ...(options.compactionRetention === undefined
      ? {}
      : { compactionRetention: options.compactionRetention }),
    onEvent: (kind, detail) => events.add(kind, detail),
  });
  let history: ChaosHistory = { register: [], append: [], watch: [], lock: [] };
  let convergence: Convergence = { converged: false, revision: 0, members: {}, detail: "not checked" };
  const nemesis = new Nemesis(cluster, {
    kinds: options.nemeses,
    seed: options.seed,
    events,
    ...(options.partitionShapes === undefined ? {} : { shapes: options.partitionShapes }),
  });
  try {
    await cluster.startAll();
    events.add(
      "cluster",
      `started: ${cluster.members.map((m) => `${m.name}=${m.id.toString(16)}`).join(" ")}`,
    );
    nemesis.start();
    history = await runWorkloads({
      cluster,
      clock,
      kinds: options.workloads,
      seed: options.seed,
      deadlineMs: clock.nowMs() + options.timeS * 1000,
      opsPerClientMax: options.opsPerClientMax ?? Number.MAX_SAFE_INTEGER,
      ...(options.clients === undefined ? {} : { clients: options.clients }),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    });
    events.add("workload", "done");
    await nemesis.stop();
    await nemesis.healAll();
    convergence = await checkConvergence(cluster, events);
  } catch (e) {
    events.add("error", e instanceof Error ? (e.stack ?? e.message) : String(e));
    convergence = { ...convergence, detail: `run failed: ${String(e)}` };
  } finally {
    await nemesis.stop().catch(() => undefined);
    await cluster.destroy();
  }
  events.add("cluster", "every member stopped");
  writeFileSync(join(options.dir, "history.json"), JSON.stringify(history));
  const check = checkHistory(history, options.dir, events.events, convergence, runTitle(options));
  events.add("check", check.lines.join("; "));
  const result: ChaosResult = {
    dir: options.dir,
    options,
    history,
    events: events.events,
    faults: nemesis.counts,
    proxy: cluster.network.stats(),
    ops: {
      register: countOutcomes(history.register.map((o) => o.outcome)),
      append: countOutcomes(history.append.map((o) => o.outcome)),
      lockWrites: countOutcomes(
        history.lock.flatMap((h) => (h.writeOutcome === null ? [] : [h.writeOutcome])),
      ),
    },
    watch: {
      streams: history.watch.length,
      events: history.watch.reduce((n, w) => n + w.events.length, 0),
      compacted: history.watch.filter((w) => w.compactedAt !== null).length,
    },
    lock: { holds: history.lock.length },
    convergence,
    check,
    valid: check.valid && convergence.converged,
    durationMs: Math.round(clock.nowMs()),
  };
  writeFileSync(join(options.dir, "run-summary.txt"), `${summaryText(result)}\n`);
  // Data directories (with every wiped copy: gigabytes after a long run) are kept only for a
  // post-mortem of an invalid run.
  if (result.valid && !(options.keepData ?? false))
    rmSync(join(options.dir, "data"), { recursive: true, force: true });
  writeFileSync(
    join(options.dir, "result.json"),
    JSON.stringify({ ...result, history: undefined, events: undefined }, null, 2),
  );
  return result;
}

function runTitle(o: ChaosOptions): string {
  return `chaos run: ${o.nodes} nodes, ${o.timeS} s, seed ${o.seed}, nemeses [${o.nemeses.join(",")}], workloads [${o.workloads.join(",")}]${o.bug === undefined ? "" : `, BUG MODE ${o.bug}`}`;
}

function countOutcomes(outcomes: readonly Outcome[]): OutcomeCounts {
  const c: OutcomeCounts = { ok: 0, fail: 0, unknown: 0 };
  for (const o of outcomes) c[o]++;
  return c;
}

/**
 * After healing: waits until every member answers, writes a sentinel through the cluster, waits
 * until every member reports the same revision, and compares HashKV at that revision.
 */
async function checkConvergence(cluster: ChaosCluster, events: EventLog): Promise<Convergence> {
  const deadline = Date.now() + 60_000;
  let detail = "";
  let nextReport = Date.now() + 5000;
  // One committed write after healing (the members then learn every commit before it); the
  // revisions are polled without writing again, so that followers can catch up with the leader.
  let sentinel = false;
  while (Date.now() < deadline) {
    if (!sentinel) {
      const leader = await cluster.admin.leader();
      if (leader === null) {
        detail = "no leader";
        await sleep(250);
        continue;
      }
      const put = await cluster.admin.put(leader, "chaos/sentinel", String(Date.now()));
      if (put instanceof Error) {
        detail = `sentinel put via ${leader.name} failed: ${put.message}`;
        if (Date.now() > nextReport) {
          events.add("convergence-wait", detail);
          nextReport = Date.now() + 5000;
        }
        await sleep(250);
        continue;
      }
      sentinel = true;
    }
    const statuses = await Promise.all(cluster.members.map((m) => cluster.admin.status(m)));
    const revisions = statuses.map((s) => s?.revision ?? -1);
    const rev = revisions[0] ?? -1;
    if (rev < 0 || revisions.some((r) => r !== rev)) {
      detail = `revisions differ: ${cluster.members
        .map((m, i) => {
          const s = statuses[i];
          return s === null || s === undefined
            ? `${m.name}=?`
            : `${m.name}=${s.revision} (term ${s.raftTerm}, leader ${s.leader.toString(16)}, commit ${s.raftIndex}, applied ${s.raftAppliedIndex})`;
        })
        .join(" ")}`;
      if (Date.now() > nextReport) {
        events.add("convergence-wait", detail);
        nextReport = Date.now() + 5000;
      }
      await sleep(200);
      continue;
    }
    const hashes = await Promise.all(cluster.members.map((m) => cluster.admin.hashKv(m, rev)));
    const members: Record<string, string> = {};
    for (const [i, m] of cluster.members.entries()) {
      const h = hashes[i];
      members[m.name] =
        h === undefined || h instanceof Error
          ? `error ${String(h)}`
          : `hash ${h.hash} compact ${h.compactRevision}`;
    }
    const distinct = new Set(Object.values(members));
    if (Object.values(members).some((v) => v.startsWith("error"))) {
      detail = `HashKV failed: ${JSON.stringify(members)}`;
      await sleep(500);
      continue;
    }
    const converged = distinct.size === 1;
    const d = converged
      ? `all ${cluster.members.length} members: HashKV equal at revision ${rev}`
      : `HashKV differs at revision ${rev}: ${JSON.stringify(members)}`;
    events.add("convergence", d);
    return { converged, revision: rev, members, detail: d };
  }
  events.add("convergence", `not reached in 60 s: ${detail}`);
  return { converged: false, revision: 0, members: {}, detail: `not reached in 60 s: ${detail}` };
}

/** The human summary of a run (also written to run-summary.txt; report.ts writes summary.txt). */
export function summaryText(r: ChaosResult): string {
  const fmt = (c: OutcomeCounts): string =>
    `${c.ok + c.fail + c.unknown} (ok ${c.ok}, fail ${c.fail}, unknown ${c.unknown})`;
  const faults = Object.entries(r.faults)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  const lines = [
    runTitle(r.options),
    `  duration:        ${(r.durationMs / 1000).toFixed(1)} s`,
    `  register ops:    ${fmt(r.ops.register)}`,
    `  append ops:      ${fmt(r.ops.append)}`,
    `  watch:           ${r.watch.streams} streams, ${r.watch.events} events, ${r.watch.compacted} compacted notices`,
    `  lock:            ${r.lock.holds} holds, guarded writes ${fmt(r.ops.lockWrites)}`,
    `  faults:          ${faults === "" ? "none" : faults}`,
    `  proxy:           ${r.proxy.accepted} connections, ${r.proxy.refused} refused, ${r.proxy.stalled} stalled, ${r.proxy.reset} reset`,
    `  convergence:     ${r.convergence.detail}`,
    ...r.check.lines.map((l) => `  ${l}`),
    `  run folder:      ${r.dir} (report: ${r.check.files.join(", ")})`,
    `verdict: ${r.valid ? "VALID" : "INVALID"}`,
  ];
  return lines.join("\n");
}
