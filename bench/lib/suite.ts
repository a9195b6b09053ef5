/**
 * The comparison suite of issue 7, shared by `bench:vs-etcd` (full) and `bench:quick` (short):
 * the workloads, their settings and their targets (ratios Synod/etcd).
 */
import type { Comparison } from "./compare.js";
import { opts } from "./compare.js";

/** Key and value sizes of the write workloads (etcd's performance guide: 8-byte keys, 256-byte values). */
const write = { keySize: 8, valSize: 256, keySpaceSize: 100_000 } as const;

/** The full suite, each workload running for `durationMs`. */
export function fullSuite(durationMs: number): Comparison[] {
  return [
    {
      id: "put-256",
      title: "put throughput, 256 clients / 16 conns",
      metric: "throughput",
      target: 1.5,
      options: (endpoints) =>
        opts({ workload: "put", endpoints, conns: 16, clients: 256, durationMs, ...write }),
    },
    {
      id: "put-16",
      title: "put latency, 16 clients / 16 conns",
      metric: "p99",
      target: 1.0,
      options: (endpoints) =>
        opts({ workload: "put", endpoints, conns: 16, clients: 16, durationMs, ...write }),
    },
    {
      id: "range-l",
      title: "linearizable range, 256 clients / 16 conns",
      metric: "throughput",
      target: 1.5,
      options: (endpoints) =>
        opts({
          workload: "range",
          endpoints,
          conns: 16,
          clients: 256,
          durationMs,
          rangeKey: "foo",
          consistency: "l",
        }),
    },
    {
      id: "range-s",
      title: "serializable range, 256 clients / 16 conns",
      metric: "throughput",
      target: 2.0,
      options: (endpoints) =>
        opts({
          workload: "range",
          endpoints,
          conns: 16,
          clients: 256,
          durationMs,
          rangeKey: "foo",
          consistency: "s",
        }),
    },
    {
      id: "txn-put",
      title: "txn-put throughput, 256 clients / 16 conns",
      metric: "throughput",
      target: null,
      options: (endpoints) =>
        opts({ workload: "txn-put", endpoints, conns: 16, clients: 256, durationMs, ...write }),
    },
    {
      id: "watch",
      title: "watch: 10,000 watchers on one member, event delivery",
      metric: "p99",
      target: 1.0,
      options: (endpoints) =>
        opts({
          workload: "watch",
          endpoints,
          conns: 16,
          watchers: 10_000,
          streams: 100,
          putRate: 10,
          putTotal: Math.max(20, Math.round(durationMs / 100)),
          valSize: 16,
        }),
    },
    {
      id: "lease-keepalive",
      title: "lease keep-alive throughput, 256 clients / 16 conns",
      metric: "throughput",
      target: null,
      options: (endpoints) =>
        opts({ workload: "lease-keepalive", endpoints, conns: 16, clients: 256, durationMs }),
    },
  ];
}

/** The quick suite: the core ratios in well under a minute. */
export function quickSuite(durationMs: number): Comparison[] {
  const ids = new Set(["put-256", "put-16", "range-l", "range-s"]);
  return fullSuite(durationMs).filter((c) => ids.has(c.id));
}
