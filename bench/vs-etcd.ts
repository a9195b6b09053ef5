// `npm run bench:vs-etcd`: Synod against etcd 3.4 on this machine, side by side.
//
// Installs Debian's etcd-server if `etcd` is missing (as root), starts a 3-member etcd and a
// 3-member Synod (real processes, free loopback ports, data under one temporary folder, the same
// --heartbeat-interval and --election-timeout, fsync on), measures the machine's own limits
// (raw fdatasync rate on that disk, loopback round trip), runs every workload against both in
// alternation, runs `etcdctl check perf --load=l` against two fresh clusters, optionally loads
// 1M keys of 100 bytes into two more fresh clusters and reads each member's RSS (--memory), and
// prints one table: workload, etcd figure,
// Synod figure, ratio Synod/etcd, target, PASS/MISS. Both clusters are stopped by pid at the end,
// also on failure or Ctrl-C.
//
// Flags: --duration=10s (per workload and round) --warmup=3s (per side, unrecorded) --rounds=1 --only=put-256,range-l,...
//        --check-perf-load=l (or "none") --memory --memory-keys=1000000 --json
//        --synod-node-args="--cpu-prof --cpu-prof-dir=/tmp/prof" (also env SYNOD_NODE_ARGS)
//        --synod-main=<path to main.js> --keep-data
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { EtcdClient } from "../src/api/etcd/client/mod.js";
import { FlagReader, parseArgs } from "./lib/args.js";
import {
  type BenchCluster,
  ensureEtcdInstalled,
  etcdLauncher,
  killAllSync,
  startCluster,
  synodLauncher,
} from "./lib/clusters.js";
import {
  type CheckPerf,
  checkPerf,
  compareTable,
  detailTable,
  errorMark,
  opts,
  type Pair,
  type Row,
  rowOf,
  runPair,
} from "./lib/compare.js";
import { machineDescription, measureFdatasync, measureLoopbackRtt } from "./lib/machine.js";
import { fullSuite } from "./lib/suite.js";
import { runLoad } from "./lib/workloads.js";

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

interface Settings {
  readonly durationMs: number;
  /** Unrecorded load per side before each comparison's rounds. */
  readonly warmupMs: number;
  readonly rounds: number;
  readonly only: ReadonlySet<string> | null;
  readonly checkPerfLoad: string;
  readonly memory: boolean;
  readonly memoryKeys: number;
  readonly json: boolean;
  readonly synodNodeArgs: string[];
  readonly synodMain: string;
  readonly keepData: boolean;
}

function settings(argv: readonly string[]): Settings {
  const { flags, positionals } = parseArgs(argv, new Set(["memory", "json", "keep-data"]));
  if (positionals.length > 0)
    throw new Error(`bench:vs-etcd takes only flags, got '${positionals.join(" ")}'`);
  const r = new FlagReader(flags);
  const only = r.string("only", "");
  const s: Settings = {
    durationMs: r.duration("duration", 10_000),
    warmupMs: r.duration("warmup", 3000),
    rounds: r.int("rounds", 1),
    only: only === "" ? null : new Set(only.split(",")),
    checkPerfLoad: r.string("check-perf-load", "l"),
    memory: r.bool("memory"),
    memoryKeys: r.int("memory-keys", 1_000_000),
    json: r.bool("json"),
    synodNodeArgs: r
      .string("synod-node-args", process.env.SYNOD_NODE_ARGS ?? "")
      .split(" ")
      .filter((a) => a !== ""),
    synodMain: r.string("synod-main", fileURLToPath(new URL("../src/cli/main.js", import.meta.url))),
    keepData: r.bool("keep-data"),
  };
  r.done();
  return s;
}

/** Puts the key the range workloads read ("foo", 256 bytes) on a cluster. */
async function prefill(c: BenchCluster): Promise<void> {
  const client = new EtcdClient({ endpoints: c.endpoints });
  try {
    await client.put({ key: "foo", value: new Uint8Array(256).fill(0x62) });
  } finally {
    client.close();
  }
}

/** The outcome of loading a fresh cluster for the memory step. */
interface Loaded {
  /** RSS per member, bytes, once the load has settled. */
  readonly rss: number[];
  /** Puts that failed. */
  readonly errors: number;
}

/** Loads `keys` keys of 100 bytes into a cluster, waits for things to settle, reads RSS per member. */
async function memoryAfterLoad(c: BenchCluster, keys: number): Promise<Loaded> {
  const r = await runLoad(
    opts({
      workload: "put",
      endpoints: c.endpoints,
      conns: 16,
      clients: 256,
      total: keys,
      keySize: 16,
      valSize: 100,
      keySpaceSize: keys,
      sequentialKeys: true,
    }),
  );
  const sample = r.errorSamples.length > 0 ? `, first: ${r.errorSamples[0]}` : "";
  log(`  ${c.kind}: loaded ${r.ok} keys in ${r.seconds.toFixed(1)} s (${r.errors} errors${sample})`);
  await new Promise((res) => setTimeout(res, 5000));
  return { rss: c.rss(), errors: r.errors };
}

const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;

function checkPerfRow(load: string, e: CheckPerf, s: CheckPerf): Row {
  const verdict = (s.pass && !e.pass) || s.writesPerSecond > e.writesPerSecond ? "PASS" : "MISS";
  return {
    title: `etcdctl check perf --load=${load} (${e.pass ? "PASS" : "FAIL"} / ${s.pass ? "PASS" : "FAIL"})`,
    unit: "writes/s",
    etcd: e.writesPerSecond,
    synod: s.writesPerSecond,
    higherIsBetter: true,
    target: null,
    targetText: "passes or faster",
    verdict,
  };
}

async function main(): Promise<void> {
  const s = settings(process.argv.slice(2));
  ensureEtcdInstalled(log);
  const root = mkdtempSync(join(tmpdir(), "synod-vs-etcd-"));
  const clusters: BenchCluster[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.allSettled(clusters.map((c) => c.stop()));
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    log(`${signal}: stopping both clusters`);
    void stopAll().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  process.once("exit", killAllSync);
  try {
    log(`machine: ${machineDescription()}`);
    const fsync = measureFdatasync(root);
    const rtt = await measureLoopbackRtt();
    log(
      `disk (${root}): ${fsync.perSecond.toFixed(0)} fdatasync/s of ${fsync.bytes} B appends (p50 ${fsync.p50Ms.toFixed(2)} ms, p99 ${fsync.p99Ms.toFixed(2)} ms); loopback TCP round trip p50 ${rtt.p50Us.toFixed(0)} us, p99 ${rtt.p99Us.toFixed(0)} us`,
    );
    const cluster = { heartbeatMs: 100, electionMs: 1000, size: 3 };
    clusters.push(await startCluster(root, etcdLauncher(), cluster));
    clusters.push(await startCluster(root, synodLauncher(s.synodMain, s.synodNodeArgs), cluster));
    const [etcd, synod] = clusters as [BenchCluster, BenchCluster];
    log(`etcd  ${etcd.endpoints.join(",")} (pids ${etcd.members.map((m) => m.proc.pid).join(",")})`);
    log(`synod ${synod.endpoints.join(",")} (pids ${synod.members.map((m) => m.proc.pid).join(",")})`);
    await prefill(etcd);
    await prefill(synod);

    const pairs: Pair[] = [];
    for (const c of fullSuite(s.durationMs)) {
      if (s.only !== null && !s.only.has(c.id)) continue;
      log(`${c.title}`);
      pairs.push(await runPair(c, etcd, synod, s.rounds, log, s.warmupMs));
    }
    const rows: Row[] = pairs.map(rowOf);

    // check perf and the memory step each run on two fresh clusters (new data directories): the
    // workloads before leave each cluster a different history (the faster side holds more
    // revisions by then), and Synod's snapshots cost in proportion to the state they hold.
    const freshPair = async (name: string): Promise<[BenchCluster, BenchCluster]> => {
      await stopAll();
      clusters.length = 0;
      const dir = join(root, name);
      clusters.push(await startCluster(dir, etcdLauncher(), cluster));
      clusters.push(await startCluster(dir, synodLauncher(s.synodMain, s.synodNodeArgs), cluster));
      return clusters as [BenchCluster, BenchCluster];
    };

    let perf: { etcd: CheckPerf; synod: CheckPerf } | null = null;
    if (s.checkPerfLoad !== "none" && (s.only === null || s.only.has("check-perf"))) {
      // --rounds of it, each on a fresh pair, alternating which goes first; each side keeps its
      // best round (most writes/s), as for the workloads.
      log(`etcdctl check perf --load=${s.checkPerfLoad} on fresh clusters (about a minute each)`);
      let e: CheckPerf | null = null;
      let sy: CheckPerf | null = null;
      const better = (a: CheckPerf | null, b: CheckPerf): CheckPerf =>
        a === null || b.writesPerSecond > a.writesPerSecond ? b : a;
      for (let round = 1; round <= s.rounds; round++) {
        const [etcdFresh, synodFresh] = await freshPair(`check-perf-${round}`);
        const sides: ["etcd" | "synod", BenchCluster][] = [
          ["etcd", etcdFresh],
          ["synod", synodFresh],
        ];
        if (round % 2 === 0) sides.reverse();
        for (const [kind, c] of sides) {
          const r = await checkPerf(c.endpoints, s.checkPerfLoad);
          log(`  ${kind.padEnd(5)} round ${round}: ${r.lines.join(" | ")}`);
          if (kind === "etcd") e = better(e, r);
          else sy = better(sy, r);
        }
      }
      if (e !== null && sy !== null) {
        perf = { etcd: e, synod: sy };
        rows.push(checkPerfRow(s.checkPerfLoad, e, sy));
      }
    }

    let memory: { etcd: number[]; synod: number[] } | null = null;
    if (s.memory) {
      log(`memory: ${s.memoryKeys} keys of 100 bytes into each of two fresh clusters`);
      const [etcdFresh, synodFresh] = await freshPair("memory");
      const e = await memoryAfterLoad(etcdFresh, s.memoryKeys);
      const sy = await memoryAfterLoad(synodFresh, s.memoryKeys);
      log(`  RSS etcd  ${e.rss.map(mib).join(", ")}; synod ${sy.rss.map(mib).join(", ")}`);
      memory = { etcd: e.rss, synod: sy.rss };
      rows.push({
        title: `RSS per member (max) after ${s.memoryKeys} keys of 100 B`,
        unit: "MiB",
        etcd: Math.max(...e.rss) / 2 ** 20,
        synod: Math.max(...sy.rss) / 2 ** 20,
        higherIsBetter: false,
        target: 1.0,
        // RSS after a load that failed in part measures a smaller store.
        ...errorMark(e.errors, sy.errors),
      });
    }

    const header = [
      `machine: ${machineDescription()}`,
      `disk: ${fsync.perSecond.toFixed(0)} fdatasync/s (${fsync.bytes} B appends, p50 ${fsync.p50Ms.toFixed(2)} ms); loopback round trip p50 ${rtt.p50Us.toFixed(0)} us, p99 ${rtt.p99Us.toFixed(0)} us`,
      `clusters: 3 members each on 127.0.0.1, --heartbeat-interval=100 --election-timeout=1000, fsync on; ${s.durationMs / 1000} s per workload, best of ${s.rounds} round(s) in alternation`,
    ];
    if (s.json) {
      console.log(
        JSON.stringify(
          {
            machine: machineDescription(),
            fsync,
            rtt,
            rows,
            pairs: pairs.map((p) => ({ id: p.comparison.id, etcd: p.etcd, synod: p.synod })),
            checkPerf: perf,
            memory,
          },
          null,
          2,
        ),
      );
    } else {
      console.log(header.join("\n"));
      console.log();
      console.log(compareTable(rows));
      console.log();
      console.log(detailTable(pairs));
    }
  } finally {
    await stopAll();
    if (!s.keepData) rmSync(root, { recursive: true, force: true });
    else log(`data kept in ${root}`);
  }
}

try {
  await main();
} catch (e) {
  log(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exitCode = 1;
}
