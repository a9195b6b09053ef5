/**
 * Latency samples and the figures the benchmark prints: throughput and percentiles (p50, p90,
 * p99, p99.9, max), as a table or JSON.
 */

/** Latencies in milliseconds, kept exactly (a growable Float64Array; 1M samples are 8 MB). */
export class Recorder {
  #samples = new Float64Array(1 << 16);
  #n = 0;

  /** Adds one latency, in milliseconds. */
  push(ms: number): void {
    if (this.#n === this.#samples.length) {
      const bigger = new Float64Array(this.#samples.length * 2);
      bigger.set(this.#samples);
      this.#samples = bigger;
    }
    this.#samples[this.#n++] = ms;
  }

  get count(): number {
    return this.#n;
  }

  /** The summary of every sample so far. */
  summary(): LatencySummary {
    const s = this.#samples.slice(0, this.#n).sort();
    const n = s.length;
    const at = (q: number): number => (n === 0 ? 0 : (s[Math.min(n - 1, Math.ceil(q * n) - 1)] ?? 0));
    let sum = 0;
    for (let i = 0; i < n; i++) sum += s[i] ?? 0;
    return {
      count: n,
      avg: n === 0 ? 0 : sum / n,
      min: n === 0 ? 0 : (s[0] ?? 0),
      p50: at(0.5),
      p90: at(0.9),
      p99: at(0.99),
      p999: at(0.999),
      max: n === 0 ? 0 : (s[n - 1] ?? 0),
    };
  }
}

/** Latency figures, in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly avg: number;
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** One workload's outcome. */
export interface LoadResult {
  readonly workload: string;
  /** What was run, in etcd benchmark words (e.g. "put 256 clients / 16 conns"). */
  readonly label: string;
  /** Operations that succeeded (for watch: events delivered). */
  readonly ok: number;
  readonly errors: number;
  readonly seconds: number;
  /** Successful operations per second. */
  readonly throughput: number;
  readonly latencyMs: LatencySummary;
  /** Up to a few distinct error messages, with counts. */
  readonly errorSamples: readonly string[];
  /** Workload-specific extras (e.g. watchers created per second). */
  readonly extra: Readonly<Record<string, number>>;
}

/** Counts errors by message (the first few distinct ones are kept). */
export class ErrorTally {
  readonly #byMessage = new Map<string, number>();
  total = 0;

  add(e: unknown): void {
    this.total++;
    const m = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    const n = this.#byMessage.get(m);
    if (n !== undefined) this.#byMessage.set(m, n + 1);
    else if (this.#byMessage.size < 5) this.#byMessage.set(m, 1);
  }

  samples(): string[] {
    return [...this.#byMessage].map(([m, n]) => `${n} x ${m}`);
  }
}

const f = (x: number, digits = 2): string => x.toFixed(digits);

/** A fixed-width text table. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** The results as a table: throughput and latency percentiles. */
export function resultTable(results: readonly LoadResult[]): string {
  return table(
    [
      "workload",
      "ok",
      "errors",
      "seconds",
      "ops/s",
      "avg ms",
      "p50",
      "p90",
      "p99",
      "p99.9",
      "max",
      "srv CPU us/op",
    ],
    results.map((r) => [
      r.label,
      String(r.ok),
      String(r.errors),
      f(r.seconds),
      f(r.throughput, 0),
      f(r.latencyMs.avg),
      f(r.latencyMs.p50),
      f(r.latencyMs.p90),
      f(r.latencyMs.p99),
      f(r.latencyMs.p999),
      f(r.latencyMs.max),
      r.extra.serverCpuUsPerOp === undefined ? "-" : f(r.extra.serverCpuUsPerOp, 0),
    ]),
  );
}
