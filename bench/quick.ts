// `npm run bench:quick`: the core ratios (put throughput and p99, linearizable and serializable
// range) of Synod against etcd 3.4 on this machine, in under a minute: a regression guard. Same
// clusters and settings as `bench:vs-etcd`, 3 s per workload after a 1.5 s warm-up per side, one
// round. Flags: --duration=3s --warmup=1.5s.
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
import { compareTable, rowOf, runPair } from "./lib/compare.js";
import { quickSuite } from "./lib/suite.js";

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

async function main(): Promise<void> {
  const r = new FlagReader(parseArgs(process.argv.slice(2), new Set()).flags);
  const durationMs = r.duration("duration", 3000);
  const warmupMs = r.duration("warmup", 1500);
  r.done();
  ensureEtcdInstalled(log);
  const started = performance.now();
  const root = mkdtempSync(join(tmpdir(), "synod-bench-quick-"));
  const clusters: BenchCluster[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.allSettled(clusters.map((c) => c.stop()));
  };
  const onSignal = (): void => {
    void stopAll().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  process.once("exit", killAllSync);
  try {
    const settings = { heartbeatMs: 100, electionMs: 1000, size: 3 };
    const mainJs = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));
    const [etcd, synod] = await Promise.all([
      startCluster(root, etcdLauncher(), settings),
      startCluster(root, synodLauncher(mainJs), settings),
    ]);
    clusters.push(etcd, synod);
    for (const c of clusters) {
      const client = new EtcdClient({ endpoints: c.endpoints });
      await client.put({ key: "foo", value: new Uint8Array(256).fill(0x62) }).finally(() => client.close());
    }
    const rows = [];
    for (const c of quickSuite(durationMs)) {
      log(c.title);
      rows.push(rowOf(await runPair(c, etcd, synod, 1, log, warmupMs)));
    }
    console.log(compareTable(rows));
    console.log(
      `(${((performance.now() - started) / 1000).toFixed(0)} s; full comparison: npm run bench:vs-etcd)`,
    );
  } finally {
    await stopAll();
    rmSync(root, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (e) {
  log(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exitCode = 1;
}
