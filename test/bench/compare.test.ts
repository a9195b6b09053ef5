// The side-by-side table's verdicts (bench/lib/compare.ts): ratios against targets, and ERROR
// when requests failed on either side.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type Comparison,
  compareTable,
  opts,
  type Pair,
  rowOf,
  verdictOf,
  warmupOf,
} from "../../bench/lib/compare.js";
import type { LoadResult } from "../../bench/lib/stats.js";

function result(throughput: number, p99: number, errors = 0): LoadResult {
  return {
    workload: "put",
    label: "put 16 clients / 16 conns",
    ok: throughput * 10,
    errors,
    seconds: 10,
    throughput,
    latencyMs: {
      count: throughput * 10,
      avg: p99 / 3,
      min: 0.1,
      p50: p99 / 4,
      p90: p99 / 2,
      p99,
      p999: p99,
      max: p99,
    },
    errorSamples: errors > 0 ? [`Error: disk full (x${errors})`] : [],
    extra: {},
  };
}

function comparison(metric: "throughput" | "p99", target: number | null): Comparison {
  return {
    id: "t",
    title: `test ${metric}`,
    metric,
    target,
    options: () => {
      throw new Error("not run here");
    },
  };
}

const pair = (c: Comparison, etcd: LoadResult, synod: LoadResult): Pair => ({
  comparison: c,
  etcd,
  synod,
  all: [],
});

test("rowOf/verdictOf: throughput and p99 ratios are judged against their targets", () => {
  const tput = comparison("throughput", 1.5);
  assert.equal(verdictOf(rowOf(pair(tput, result(1000, 5), result(1500, 5)))), "PASS");
  assert.equal(verdictOf(rowOf(pair(tput, result(1000, 5), result(1499, 5)))), "MISS");
  const lat = comparison("p99", 1.0);
  assert.equal(verdictOf(rowOf(pair(lat, result(1000, 8), result(1000, 8)))), "PASS");
  assert.equal(verdictOf(rowOf(pair(lat, result(1000, 8), result(1000, 8.1)))), "MISS");
  assert.equal(verdictOf(rowOf(pair(comparison("throughput", null), result(1, 1), result(9, 1)))), "-");
});

test("rowOf: failed requests on either side make the row ERROR whatever the ratio, and say how many", () => {
  const tput = comparison("throughput", 1.5);
  for (const [e, s] of [
    [result(1000, 5, 3), result(5000, 5)],
    [result(1000, 5), result(5000, 5, 999)],
    [result(5000, 5), result(1000, 5, 1)],
  ] as const) {
    const row = rowOf(pair(tput, e, s));
    assert.equal(verdictOf(row), "ERROR");
    assert.equal(row.targetText, `errors e${e.errors}/s${s.errors}`);
    const line = compareTable([row]).split("\n").at(-1) ?? "";
    assert.match(line, /errors e\d+\/s\d+\s+ERROR$/);
  }
});

test("warmupOf: a timed workload warms up for the given time, watch for the puts its rate makes in it", () => {
  const put = opts({ workload: "put", endpoints: ["127.0.0.1:1"], clients: 16, durationMs: 10_000 });
  assert.deepEqual(warmupOf(put, 3000), { ...put, durationMs: 3000 });
  const watch = opts({
    workload: "watch",
    endpoints: ["127.0.0.1:1"],
    watchers: 10_000,
    putRate: 10,
    putTotal: 100,
  });
  const w = warmupOf(watch, 3000);
  assert.equal(w.putTotal, 30);
  assert.equal(w.watchers, 10_000, "the same watcher setup");
  assert.deepEqual({ ...w, putTotal: 100 }, watch);
  assert.equal(warmupOf(watch, 10).putTotal, 1, "at least one put");
});
