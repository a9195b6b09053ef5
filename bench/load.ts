// `npm run bench -- <workload> [flags]`: a load generator speaking etcd's v3 gRPC API, with the
// workloads and flags of etcd's own `benchmark` tool; works against Synod and etcd alike.
//
//   npm run bench -- put --endpoints=127.0.0.1:2379 --conns=16 --clients=256 --total=100000 \
//       --key-size=8 --val-size=256 --key-space-size=100000
//   npm run bench -- range foo --consistency=s --clients=64 --duration=10s
//   npm run bench -- txn-put --txn-ops=4 --key-space-size=1000
//   npm run bench -- watch --watchers=10000 --streams=100 --put-rate=10 --put-total=100
//   npm run bench -- lease-keepalive --clients=16
//
// Prints throughput and latency percentiles as a table, or as JSON with --json.
import { FlagReader, parseArgs } from "./lib/args.js";
import { resultTable } from "./lib/stats.js";
import { type LoadOptions, loadDefaults, runLoad, type Workload, workloads } from "./lib/workloads.js";

const usage = `usage: npm run bench -- <${workloads.join("|")}> [range: KEY [END]] [flags]
  --endpoints=h:p,...   members to use (default 127.0.0.1:2379); connection i goes to endpoint i mod n
  --conns=N             HTTP/2 connections (default 1)
  --clients=N           concurrent closed-loop clients (default 1)
  --total=N | --duration=10s   requests in all (default 10000), or run for a time
  --key-size=N --val-size=N --key-space-size=N --sequential-keys   (put, txn-put; defaults 8, 8, 1)
  --consistency=l|s --limit=N      (range)
  --txn-ops=N                      (txn-put, default 1)
  --watchers=N --streams=N --watched-key-total=N --put-rate=N --put-total=N --watch-endpoint=h:p   (watch)
  --lease-ttl=S                    (lease-keepalive, default 100)
  --timeout=30s                    per-request timeout
  --json                           print JSON instead of a table`;

/** Builds the options of one run from the command line. */
export function loadOptionsFromArgs(argv: readonly string[]): { options: LoadOptions; json: boolean } {
  const { positionals, flags } = parseArgs(argv, new Set(["sequential-keys", "json", "help"]));
  const r = new FlagReader(flags);
  if (r.bool("help")) throw new Error(usage);
  const workload = positionals[0];
  if (workload === undefined || !(workloads as readonly string[]).includes(workload)) {
    throw new Error(
      `bench: the first argument must be a workload (${workloads.join(", ")}), got '${workload ?? ""}'\n${usage}`,
    );
  }
  const d = loadDefaults;
  const endpoints = r
    .string("endpoints", d.endpoints.join(","))
    .split(",")
    .filter((e) => e !== "");
  const consistency = r.string("consistency", d.consistency);
  if (consistency !== "l" && consistency !== "s")
    throw new Error(`bench: '--consistency' must be l or s, got '${consistency}'`);
  const options: LoadOptions = {
    workload: workload as Workload,
    endpoints: endpoints.map((e) => e.replace(/^https?:\/\//, "")),
    conns: r.int("conns", d.conns),
    clients: r.int("clients", d.clients),
    total: r.int("total", d.total),
    durationMs: r.duration("duration", d.durationMs),
    keySize: r.int("key-size", d.keySize),
    valSize: r.int("val-size", d.valSize),
    keySpaceSize: r.int("key-space-size", d.keySpaceSize),
    sequentialKeys: r.bool("sequential-keys"),
    consistency,
    rangeKey: positionals[1] ?? d.rangeKey,
    rangeEnd: positionals[2] ?? d.rangeEnd,
    limit: r.int("limit", d.limit),
    txnOps: r.int("txn-ops", d.txnOps),
    watchers: r.int("watchers", d.watchers),
    streams: r.int("streams", d.streams),
    watchedKeyTotal: r.int("watched-key-total", d.watchedKeyTotal),
    putRate: r.int("put-rate", d.putRate),
    putTotal: r.int("put-total", d.putTotal),
    watchEndpoint: r.string("watch-endpoint", d.watchEndpoint),
    timeoutMs: r.duration("timeout", d.timeoutMs),
    leaseTtl: r.int("lease-ttl", d.leaseTtl),
  };
  const json = r.bool("json");
  r.done();
  return { options, json };
}

try {
  const { options, json } = loadOptionsFromArgs(process.argv.slice(2));
  const result = await runLoad(options);
  if (json) console.log(JSON.stringify(result, null, 2));
  else {
    console.log(resultTable([result]));
    for (const e of result.errorSamples) console.log(`error: ${e}`);
  }
  process.exitCode = result.errors > 0 ? 1 : 0;
} catch (e) {
  console.error(e instanceof Error ? e.message : String(e));
  process.exitCode = 2;
}
