/**
 * Side-by-side runs: each comparison runs one workload against etcd and against Synod in
 * alternation (etcd first in odd rounds, Synod first in even ones), keeps each side's best
 * round (interference from other work on the machine only makes figures worse), and turns the
 * pair into a row: etcd figure, Synod figure, ratio Synod/etcd, the target and PASS or MISS
 * (ERROR when requests failed).
 */
import { execFile } from "node:child_process";
import type { BenchCluster } from "./clusters.js";
import { type LoadResult, resultTable, table } from "./stats.js";
import { type LoadOptions, loadDefaults, runLoad } from "./workloads.js";

/** Which figure of a result a comparison reads. */
export type Metric = "throughput" | "p99";

/** One comparison: a workload and how to read and judge it. */
export interface Comparison {
  /** Short name, e.g. "put-256". */
  readonly id: string;
  /** Row title, e.g. "put throughput, 256 clients / 16 conns". */
  readonly title: string;
  readonly metric: Metric;
  /** Target ratio Synod/etcd: at least it (throughput) or at most it (latency); null: none. */
  readonly target: number | null;
  /** The load options against a cluster. */
  options(endpoints: readonly string[]): LoadOptions;
}

/** A judged row. */
export interface Row {
  readonly title: string;
  readonly unit: string;
  readonly etcd: number;
  readonly synod: number;
  readonly higherIsBetter: boolean;
  readonly target: number | null;
  /** Extra text in the target column (e.g. for check perf). */
  readonly targetText?: string;
  /** Overrides the ratio-based verdict. */
  readonly verdict?: Verdict;
}

/** The figure `metric` of `r`. */
export function figure(r: LoadResult, metric: Metric): number {
  return metric === "throughput" ? r.throughput : r.latencyMs.p99;
}

function better(a: LoadResult, b: LoadResult, metric: Metric): LoadResult {
  if (a.errors !== b.errors) return a.errors < b.errors ? a : b;
  return metric === "throughput"
    ? a.throughput >= b.throughput
      ? a
      : b
    : a.latencyMs.p99 <= b.latencyMs.p99
      ? a
      : b;
}

/** Both sides' best results of one comparison. */
export interface Pair {
  readonly comparison: Comparison;
  readonly etcd: LoadResult;
  readonly synod: LoadResult;
  /** Every round's result, for the detailed log. */
  readonly all: readonly { side: "etcd" | "synod"; result: LoadResult }[];
}

/**
 * The unrecorded warm-up run of `o`: `warmupMs` of it (for watch, as many puts as its put rate
 * makes in that time, after the same watcher setup).
 */
export function warmupOf(o: LoadOptions, warmupMs: number): LoadOptions {
  if (o.workload === "watch")
    return { ...o, putTotal: Math.max(1, Math.round((warmupMs * o.putRate) / 1000)) };
  return { ...o, durationMs: warmupMs };
}

/**
 * Runs `c` `rounds` times per side, alternating which side goes first, after an unrecorded
 * warm-up of `warmupMs` per side (Synod's JIT compiles its hot paths in the first seconds; etcd is
 * compiled ahead of time; without one, Synod's first watch round was its worst in each of four
 * runs, by 1.4–2 times).
 */
export async function runPair(
  c: Comparison,
  etcd: BenchCluster,
  synod: BenchCluster,
  rounds: number,
  log: (line: string) => void,
  warmupMs = 0,
): Promise<Pair> {
  let best: { etcd: LoadResult | null; synod: LoadResult | null } = { etcd: null, synod: null };
  const all: { side: "etcd" | "synod"; result: LoadResult }[] = [];
  if (warmupMs > 0) {
    for (const cluster of [etcd, synod]) await runLoad(warmupOf(c.options(cluster.endpoints), warmupMs));
  }
  for (let r = 0; r < rounds; r++) {
    const order: BenchCluster[] = r % 2 === 0 ? [etcd, synod] : [synod, etcd];
    for (const cluster of order) {
      const cpu0 = cluster.cpuSeconds();
      const measured = await runLoad(c.options(cluster.endpoints));
      // Server CPU per operation, all members together: an efficiency figure that other work on the
      // machine disturbs much less than throughput.
      const cpuUs = ((cluster.cpuSeconds() - cpu0) * 1e6) / Math.max(1, measured.ok);
      const result: LoadResult = { ...measured, extra: { ...measured.extra, serverCpuUsPerOp: cpuUs } };
      all.push({ side: cluster.kind, result });
      log(
        `  ${cluster.kind.padEnd(5)} round ${r + 1}: ${result.throughput.toFixed(0)} ops/s, p99 ${result.latencyMs.p99.toFixed(2)} ms, server CPU ${cpuUs.toFixed(0)} us/op, errors ${result.errors}${result.errorSamples.length > 0 ? ` (${result.errorSamples[0]})` : ""}`,
      );
      const prev = best[cluster.kind];
      best = { ...best, [cluster.kind]: prev === null ? result : better(prev, result, c.metric) };
    }
  }
  if (best.etcd === null || best.synod === null) throw new Error("bench: rounds must be at least 1");
  return { comparison: c, etcd: best.etcd, synod: best.synod, all };
}

/**
 * The fields that mark a row whose requests failed (`etcdErrors`, `synodErrors` of them): its
 * verdict is ERROR and its target column counts them. None when nothing failed.
 */
export function errorMark(etcdErrors: number, synodErrors: number): Pick<Row, "targetText" | "verdict"> {
  return etcdErrors + synodErrors > 0
    ? { targetText: `errors e${etcdErrors}/s${synodErrors}`, verdict: "ERROR" }
    : {};
}

/** The row of a pair. */
export function rowOf(p: Pair): Row {
  const m = p.comparison.metric;
  return {
    title: p.comparison.title,
    unit: m === "throughput" ? "ops/s" : "ms p99",
    etcd: figure(p.etcd, m),
    synod: figure(p.synod, m),
    higherIsBetter: m === "throughput",
    target: p.comparison.target,
    ...errorMark(p.etcd.errors, p.synod.errors),
  };
}

const num = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

/**
 * A row's verdict. ERROR: requests failed on either side, so the figures do not compare (a full
 * disk, say, makes a side fast at failing); "-": the row has no target.
 */
export type Verdict = "PASS" | "MISS" | "ERROR" | "-";

/** The verdict of a row. */
export function verdictOf(r: Row): Verdict {
  if (r.verdict !== undefined) return r.verdict;
  if (r.target === null || r.etcd === 0) return "-";
  const ratio = r.synod / r.etcd;
  return r.higherIsBetter ? (ratio >= r.target ? "PASS" : "MISS") : ratio <= r.target ? "PASS" : "MISS";
}

/** The comparison table: workload, unit, etcd, Synod, ratio Synod/etcd, target, verdict. */
export function compareTable(rows: readonly Row[]): string {
  return table(
    ["workload", "unit", "etcd", "synod", "synod/etcd", "target", "verdict"],
    rows.map((r) => [
      r.title,
      r.unit,
      num(r.etcd),
      num(r.synod),
      r.etcd === 0 ? "-" : (r.synod / r.etcd).toFixed(2),
      r.targetText ?? (r.target === null ? "-" : `${r.higherIsBetter ? ">=" : "<="} ${r.target.toFixed(1)}`),
      verdictOf(r),
    ]),
  );
}

/** The detailed per-run table of pairs. */
export function detailTable(pairs: readonly Pair[]): string {
  return resultTable(
    pairs.flatMap((p) => [
      { ...p.etcd, label: `etcd  ${p.etcd.label}` },
      { ...p.synod, label: `synod ${p.synod.label}` },
    ]),
  );
}

/** Load options from the defaults and overrides. */
export function opts(over: Partial<LoadOptions> & Pick<LoadOptions, "workload">): LoadOptions {
  return { ...loadDefaults, ...over };
}

/** The outcome of `etcdctl check perf`. */
export interface CheckPerf {
  readonly pass: boolean;
  readonly writesPerSecond: number;
  readonly slowestSeconds: number;
  /** The verdict lines etcdctl printed. */
  readonly lines: readonly string[];
}

/** Runs `etcdctl check perf --load=<load>` against `endpoints` (about a minute). */
export function checkPerf(endpoints: readonly string[], load: string): Promise<CheckPerf> {
  return new Promise((resolve, reject) => {
    execFile(
      "etcdctl",
      [`--endpoints=${endpoints.join(",")}`, "check", "perf", `--load=${load}`],
      { env: { ...process.env, ETCDCTL_API: "3" }, timeout: 240_000, maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        if (error !== null && (error as NodeJS.ErrnoException).code === "ENOENT") {
          reject(new Error("etcdctl is not installed (apt-get install -y etcd-client)"));
          return;
        }
        const text = `${stdout}\n${stderr}`.replace(
          new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g"),
          "",
        );
        const lines = text
          .split(/\r?\n|\r/)
          .map((l) => l.trim())
          .filter((l) => /^(PASS|FAIL)/.test(l) || /^Error/.test(l));
        const w = /(\d+(?:\.\d+)?) writes\/s/.exec(text);
        const slow = /(?:Slowest request took(?: too long)?:?) (\d+(?:\.\d+)?)s/.exec(text);
        resolve({
          pass: error === null && lines.at(-1) === "PASS",
          writesPerSecond: w === null ? 0 : Number(w[1]),
          slowestSeconds: slow === null ? 0 : Number(slow[1]),
          lines,
        });
      },
    );
  });
}
