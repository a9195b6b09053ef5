/**
 * `synod check perf`: etcdctl's `check perf` — a paced write load (a fixed rate of puts of
 * 256-byte keys and 1 KiB values from many concurrent clients) for a while, then a verdict on
 * throughput (at least 90% of the target rate), the slowest request (under 500 ms) and the
 * standard deviation of latencies (under 100 ms). The keys are written under a prefix and deleted
 * afterwards (`--auto-compact` also compacts them away).
 */
import type { EtcdClient } from "../../api/etcd/client/mod.js";
import { parseDuration } from "../../server/configvalues.js";
import { type AdminArgs, flagBool, flagString, unknownFlags } from "./args.js";
import { withClient } from "./cluster.js";
import { type AdminIo, UsageError } from "./io.js";
import { jsonLine } from "./output.js";

/** etcdctl's loads: target puts per second and concurrent clients. */
export const perfLoads: Readonly<Record<string, { readonly rate: number; readonly clients: number }>> = {
  s: { rate: 150, clients: 50 },
  m: { rate: 1000, clients: 200 },
  l: { rate: 8000, clients: 500 },
  xl: { rate: 15000, clients: 1000 },
};
/** Key and value sizes of each put, in bytes (etcdctl's). */
const keyBytes = 256;
const valueBytes = 1024;
/** The verdict's thresholds (etcdctl's). */
const throughputRatioMin = 0.9;
const slowestMsMax = 500;
const stddevMsMax = 100;
/** Width of the progress bar in cells. */
const barCells = 40;

/** What one `check perf` run measured. */
export interface PerfResult {
  readonly load: string;
  readonly targetRate: number;
  readonly seconds: number;
  readonly writes: number;
  readonly failures: number;
  readonly throughput: number;
  readonly slowestMs: number;
  readonly stddevMs: number;
  readonly meanMs: number;
  readonly pass: boolean;
}

export async function checkPerfCommand(args: AdminArgs, io: AdminIo): Promise<number> {
  if (args.words[1] !== "perf")
    throw new UsageError(
      `'check' needs 'perf', got ${args.words[1] === undefined ? "nothing" : `'${args.words[1]}'`}`,
    );
  const unknown = unknownFlags(args, ["load", "duration", "prefix", "auto-compact"]);
  if (unknown.length > 0) throw new UsageError(`unknown flag --${unknown[0]} for 'check perf'`);
  const loadName = flagString(args, "load", "s");
  const load = perfLoads[loadName];
  if (load === undefined) throw new UsageError(`--load must be one of s, m, l, xl, got '${loadName}'`);
  const d = parseDuration(flagString(args, "duration", "60s"));
  if (!d.ok || d.value < 1000)
    throw new UsageError("--duration must be a duration of at least 1s, such as 60s");
  const prefix = flagString(args, "prefix", "/synod-check-perf/");
  const result = await withClient(args.global, (c) =>
    runPerf(
      c,
      { load: loadName, ...load, durationMs: d.value, prefix, autoCompact: flagBool(args, "auto-compact") },
      io,
    ),
  );
  if ((args.global.writeOut ?? "simple") === "json") {
    io.stdout.write(jsonLine(result));
    return result.pass ? 0 : 1;
  }
  const st = io.style(io.stdout);
  const verdict = (ok: boolean, pass: string, fail: string): string =>
    ok ? `${st.green("PASS")}: ${pass}` : `${st.red("FAIL")}: ${fail}`;
  const throughputOk = result.throughput >= throughputRatioMin * result.targetRate;
  const lines = [
    verdict(
      throughputOk,
      `Throughput is ${result.throughput.toFixed(0)} writes/s`,
      `Throughput too low: ${result.throughput.toFixed(0)} writes/s`,
    ),
    verdict(
      result.slowestMs < slowestMsMax,
      `Slowest request took ${(result.slowestMs / 1000).toFixed(6)}s`,
      `Slowest request took too long: ${(result.slowestMs / 1000).toFixed(6)}s`,
    ),
    verdict(
      result.stddevMs < stddevMsMax,
      `Stddev is ${(result.stddevMs / 1000).toFixed(6)}s`,
      `Stddev too high: ${(result.stddevMs / 1000).toFixed(6)}s`,
    ),
    ...(result.failures > 0 ? [`${st.red("FAIL")}: ${result.failures} writes failed`] : []),
    result.pass ? st.green("PASS") : st.red("FAIL"),
  ];
  io.stdout.write(`${lines.join("\n")}\n`);
  return result.pass ? 0 : 1;
}

interface PerfPlan {
  readonly load: string;
  readonly rate: number;
  readonly clients: number;
  readonly durationMs: number;
  readonly prefix: string;
  readonly autoCompact: boolean;
}

async function runPerf(c: EtcdClient, plan: PerfPlan, io: AdminIo): Promise<PerfResult> {
  const total = Math.round((plan.rate * plan.durationMs) / 1000);
  const value = new Uint8Array(valueBytes).fill(0x2d);
  const latencies: number[] = [];
  let failures = 0;
  let next = 0;
  const start = performance.now();
  const showBar = io.stderr.isTTY;
  const drawBar = (): void => {
    const frac = Math.min(1, (performance.now() - start) / plan.durationMs);
    const cells = Math.round(frac * barCells);
    io.stderr.write(`\r[${"=".repeat(cells)}${" ".repeat(barCells - cells)}] ${(frac * 100).toFixed(0)}%`);
  };
  const timer = showBar ? setInterval(drawBar, 250) : null;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= total) return;
      // Request i may start at start + i / rate: a paced load, as etcdctl's rate limiter.
      const due = start + (i * 1000) / plan.rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const key = `${plan.prefix}${String(i).padStart(keyBytes - plan.prefix.length, "0")}`;
      const t0 = performance.now();
      try {
        await c.put({ key, value });
        latencies.push(performance.now() - t0);
      } catch {
        failures++;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: plan.clients }, worker));
  } finally {
    if (timer !== null) {
      clearInterval(timer);
      drawBar();
      io.stderr.write("\n");
    }
  }
  const seconds = (performance.now() - start) / 1000;
  const deleted = await c.deleteRange({ key: plan.prefix, rangeEnd: prefixEnd(plan.prefix) });
  if (plan.autoCompact) await c.compact(deleted.header.revision, true);
  const n = latencies.length;
  const mean = n === 0 ? 0 : latencies.reduce((a, b) => a + b, 0) / n;
  const stddev = n === 0 ? 0 : Math.sqrt(latencies.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
  const slowest = latencies.reduce((a, b) => Math.max(a, b), 0);
  const throughput = n / seconds;
  const pass =
    failures === 0 &&
    throughput >= throughputRatioMin * plan.rate &&
    slowest < slowestMsMax &&
    stddev < stddevMsMax;
  return {
    load: plan.load,
    targetRate: plan.rate,
    seconds,
    writes: n,
    failures,
    throughput,
    slowestMs: slowest,
    stddevMs: stddev,
    meanMs: mean,
    pass,
  };
}

function prefixEnd(prefix: string): string {
  const last = prefix.charCodeAt(prefix.length - 1);
  return prefix.slice(0, -1) + String.fromCharCode(last + 1);
}
