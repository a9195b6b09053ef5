/**
 * The load generator's workloads, in etcd's benchmark vocabulary (`put`, `range`, `txn-put`,
 * `watch`, `lease-keepalive`), over the project's own etcd client so that they run against
 * Synod and etcd alike. Each "client" is a closed loop with one request in flight; clients
 * share `conns` HTTP/2 connections (connection i goes to endpoint i mod n, as etcd's tool does),
 * so hundreds of requests are pipelined over a few sessions and the client stays cheap.
 */
import { EtcdClient } from "../../src/api/etcd/client/mod.js";
import { type MessageDesc, message } from "../../src/api/etcd/proto/codec.js";
import { D } from "../../src/api/etcd/proto/messages.js";
import { ErrorTally, type LoadResult, Recorder } from "./stats.js";

/** The workloads. */
export const workloads = ["put", "range", "txn-put", "watch", "lease-keepalive"] as const;
export type Workload = (typeof workloads)[number];

/** Options of one run (defaults as etcd's benchmark tool where it has the option). */
export interface LoadOptions {
  readonly workload: Workload;
  /** "host:port" list. */
  readonly endpoints: readonly string[];
  /** HTTP/2 connections (default 1). */
  readonly conns: number;
  /** Concurrent closed-loop clients (default 1). */
  readonly clients: number;
  /** Requests in all (default 10000); ignored when `durationMs` > 0. */
  readonly total: number;
  /** Run for this long instead of a request count (0: use `total`). */
  readonly durationMs: number;
  /** Key size in bytes (default 8). */
  readonly keySize: number;
  /** Value size in bytes (default 8). */
  readonly valSize: number;
  /** Distinct keys written (default 1). */
  readonly keySpaceSize: number;
  /** Write keys in order rather than at random. */
  readonly sequentialKeys: boolean;
  /** Range consistency: linearizable ("l") or serializable ("s"). */
  readonly consistency: "l" | "s";
  /** Range key and optional range end. */
  readonly rangeKey: string;
  readonly rangeEnd: string;
  /** Range limit (0: none). */
  readonly limit: number;
  /** Puts per txn-put transaction (default 1). */
  readonly txnOps: number;
  /** Watch: watchers in all, spread over `streams` streams on `watchEndpoint`. */
  readonly watchers: number;
  readonly streams: number;
  /** Watch: distinct keys watched (watcher i watches key i mod this); default 1. */
  readonly watchedKeyTotal: number;
  /** Watch: puts per second and in all (each put is one event per watcher of its key). */
  readonly putRate: number;
  readonly putTotal: number;
  /** Watch: the member the watchers use (default the first endpoint). */
  readonly watchEndpoint: string;
  /** Per-request timeout in milliseconds. */
  readonly timeoutMs: number;
  /** Lease TTL in seconds for lease-keepalive. */
  readonly leaseTtl: number;
}

/** Defaults of {@link LoadOptions}. */
export const loadDefaults: Omit<LoadOptions, "workload"> = {
  endpoints: ["127.0.0.1:2379"],
  conns: 1,
  clients: 1,
  total: 10_000,
  durationMs: 0,
  keySize: 8,
  valSize: 8,
  keySpaceSize: 1,
  sequentialKeys: false,
  consistency: "l",
  rangeKey: "foo",
  rangeEnd: "",
  limit: 0,
  txnOps: 1,
  watchers: 10_000,
  streams: 100,
  watchedKeyTotal: 1,
  putRate: 10,
  putTotal: 100,
  watchEndpoint: "",
  timeoutMs: 30_000,
  leaseTtl: 100,
};

/** A response descriptor that skips every field: the benchmark only needs the status. */
const skipAll: MessageDesc = message("bench.Skip", []);

const enc = new TextEncoder();

/** The key with index `i`: its decimal digits, zero-padded to `size` bytes. */
export function keyOf(i: number, size: number): Uint8Array {
  const digits = String(i);
  if (digits.length > size) throw new Error(`key index ${i} does not fit in --key-size=${size} bytes`);
  return enc.encode(digits.padStart(size, "0"));
}

function validate(o: LoadOptions): void {
  const positive = (name: string, v: number): void => {
    if (!Number.isInteger(v) || v < 1)
      throw new Error(`bench: '${name}' must be a positive integer, got ${v}`);
  };
  positive("conns", o.conns);
  positive("clients", o.clients);
  positive("key-size", o.keySize);
  positive("key-space-size", o.keySpaceSize);
  positive("txn-ops", o.txnOps);
  if (o.durationMs <= 0) positive("total", o.total);
  if (o.endpoints.length === 0) throw new Error("bench: 'endpoints' must name at least one endpoint");
  keyOf(o.keySpaceSize - 1, o.keySize);
}

/** The `conns` clients, connection i on endpoint i mod n. */
function connect(o: LoadOptions): EtcdClient[] {
  return Array.from(
    { length: o.conns },
    (_, i) =>
      new EtcdClient({
        endpoints: [o.endpoints[i % o.endpoints.length] as string],
        defaultTimeoutMs: o.timeoutMs,
      }),
  );
}

/** Dials every connection before timing starts. */
async function warm(conns: readonly EtcdClient[]): Promise<void> {
  await Promise.all(conns.map((c) => c.status()));
}

/**
 * Runs `clients` closed loops of `op` until `total` operations were issued or the duration
 * passed, timing each. `op(client, n)` performs operation number n for client `client`.
 */
async function closedLoop(
  o: LoadOptions,
  op: (client: number, n: number) => Promise<unknown>,
): Promise<{ rec: Recorder; errors: ErrorTally; seconds: number }> {
  const rec = new Recorder();
  const errors = new ErrorTally();
  let issued = 0;
  const start = performance.now();
  const end = o.durationMs > 0 ? start + o.durationMs : Number.POSITIVE_INFINITY;
  const limit = o.durationMs > 0 ? Number.POSITIVE_INFINITY : o.total;
  const loop = async (client: number): Promise<void> => {
    for (;;) {
      if (issued >= limit) return;
      const t0 = performance.now();
      if (t0 >= end) return;
      const n = issued++;
      try {
        await op(client, n);
        rec.push(performance.now() - t0);
      } catch (e) {
        errors.add(e);
      }
    }
  };
  await Promise.all(Array.from({ length: o.clients }, (_, i) => loop(i)));
  return { rec, errors, seconds: (performance.now() - start) / 1000 };
}

function result(
  o: LoadOptions,
  label: string,
  r: { rec: Recorder; errors: ErrorTally; seconds: number },
  extra: Record<string, number> = {},
): LoadResult {
  return {
    workload: o.workload,
    label,
    ok: r.rec.count,
    errors: r.errors.total,
    seconds: r.seconds,
    throughput: r.rec.count / r.seconds,
    latencyMs: r.rec.summary(),
    errorSamples: r.errors.samples(),
    extra,
  };
}

function nextKey(o: LoadOptions, n: number): Uint8Array {
  const i = o.sequentialKeys ? n % o.keySpaceSize : Math.floor(Math.random() * o.keySpaceSize);
  return keyOf(i, o.keySize);
}

const shape = (o: LoadOptions): string => `${o.clients} clients / ${o.conns} conns`;

async function put(o: LoadOptions, conns: readonly EtcdClient[]): Promise<LoadResult> {
  const value = new Uint8Array(o.valSize).fill(0x78);
  const r = await closedLoop(o, (client, n) => {
    const c = conns[client % conns.length] as EtcdClient;
    return c.unary("etcdserverpb.KV", "Put", D.PutRequest, skipAll, { key: nextKey(o, n), value });
  });
  return result(o, `put ${shape(o)}`, r);
}

async function range(o: LoadOptions, conns: readonly EtcdClient[]): Promise<LoadResult> {
  const req = {
    key: enc.encode(o.rangeKey),
    rangeEnd: enc.encode(o.rangeEnd),
    limit: o.limit,
    serializable: o.consistency === "s",
  };
  const r = await closedLoop(o, (client) => {
    const c = conns[client % conns.length] as EtcdClient;
    return c.unary("etcdserverpb.KV", "Range", D.RangeRequest, skipAll, req);
  });
  const kind = o.consistency === "s" ? "serializable" : "linearizable";
  return result(o, `range (${kind}) ${shape(o)}`, r);
}

async function txnPut(o: LoadOptions, conns: readonly EtcdClient[]): Promise<LoadResult> {
  if (o.txnOps > o.keySpaceSize) throw new Error("bench: txn-put needs --key-space-size >= --txn-ops");
  const value = new Uint8Array(o.valSize).fill(0x78);
  const r = await closedLoop(o, (client, n) => {
    const c = conns[client % conns.length] as EtcdClient;
    const base = o.sequentialKeys ? n * o.txnOps : Math.floor(Math.random() * o.keySpaceSize);
    const success = Array.from({ length: o.txnOps }, (_, j) => ({
      requestPut: { key: keyOf((base + j) % o.keySpaceSize, o.keySize), value },
    }));
    return c.unary("etcdserverpb.KV", "Txn", D.TxnRequest, skipAll, { compare: [], success, failure: [] });
  });
  return result(o, `txn-put (${o.txnOps} ops) ${shape(o)}`, r);
}

async function leaseKeepAlive(o: LoadOptions, conns: readonly EtcdClient[]): Promise<LoadResult> {
  // The ids are chosen here: etcd picks random 63-bit ids, beyond what the codec's numbers hold exactly.
  const base = 1 + Math.floor(Math.random() * 2 ** 40);
  const leases = await Promise.all(
    Array.from({ length: o.clients }, (_, i) =>
      (conns[i % conns.length] as EtcdClient).leaseGrant(o.leaseTtl, base + i),
    ),
  );
  const streams = leases.map((_, i) => (conns[i % conns.length] as EtcdClient).keepAliveStream());
  try {
    await Promise.all(streams.map((s, i) => s.keepAlive((leases[i] as { ID: number }).ID)));
    const r = await closedLoop(o, async (client) => {
      const res = await (streams[client] as (typeof streams)[number]).keepAlive(
        (leases[client] as { ID: number }).ID,
      );
      if (res.TTL <= 0) throw new Error(`lease ${res.ID} not found`);
    });
    return result(o, `lease-keepalive ${shape(o)}`, r);
  } finally {
    for (const s of streams) s.close();
    await Promise.allSettled(leases.map((l, i) => (conns[i % conns.length] as EtcdClient).leaseRevoke(l.ID)));
  }
}

/**
 * `watch`: `watchers` watchers on one member over `streams` streams, then `putTotal` puts at
 * `putRate` per second through `conns`; each put's value carries its sequence number, and the
 * latency of an event is the time from just before its put was sent to its arrival at the
 * watcher (as etcd's `watch-latency`). Throughput is events delivered per second.
 */
async function watch(o: LoadOptions, conns: readonly EtcdClient[]): Promise<LoadResult> {
  if (o.valSize < 4)
    throw new Error("bench: watch needs --val-size >= 4 (the value carries the put's number)");
  const endpoint = o.watchEndpoint !== "" ? o.watchEndpoint : (o.endpoints[0] as string);
  const watchConns = Math.max(1, Math.min(o.conns, o.streams));
  const wclients = Array.from(
    { length: watchConns },
    () => new EtcdClient({ endpoints: [endpoint], defaultTimeoutMs: o.timeoutMs }),
  );
  const rec = new Recorder();
  const errors = new ErrorTally();
  const sentAt = new Float64Array(o.putTotal);
  const keys = Array.from({ length: o.watchedKeyTotal }, (_, i) => enc.encode(`watch-bench/${i}`));
  const watchersOfKey = new Array<number>(o.watchedKeyTotal).fill(0);
  let expected = 0;
  let delivered = 0;
  const onEvents = (events: readonly { kv: { value: Uint8Array } | null }[]): void => {
    const now = performance.now();
    for (const e of events) {
      const v = e.kv?.value;
      if (v === undefined || v.length < 4) continue;
      const seq =
        ((v[0] as number) << 24) | ((v[1] as number) << 16) | ((v[2] as number) << 8) | (v[3] as number);
      rec.push(now - (sentAt[seq] ?? now));
      delivered++;
    }
  };
  const streams = Array.from({ length: o.streams }, (_, i) =>
    (wclients[i % watchConns] as EtcdClient).watchStream(),
  );
  try {
    const t0 = performance.now();
    const created: Promise<number>[] = [];
    for (let i = 0; i < o.watchers; i++) {
      const k = i % o.watchedKeyTotal;
      watchersOfKey[k] = (watchersOfKey[k] ?? 0) + 1;
      const w = (streams[i % o.streams] as (typeof streams)[number]).watch(
        { key: keys[k] as Uint8Array },
        { onEvents, onError: (e) => errors.add(e) },
      );
      created.push(w.created);
    }
    await Promise.all(created);
    const createSeconds = (performance.now() - t0) / 1000;
    const start = performance.now();
    const interval = 1000 / o.putRate;
    const puts: Promise<unknown>[] = [];
    for (let n = 0; n < o.putTotal; n++) {
      const due = start + n * interval;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const value = new Uint8Array(o.valSize);
      value[0] = (n >>> 24) & 0xff;
      value[1] = (n >>> 16) & 0xff;
      value[2] = (n >>> 8) & 0xff;
      value[3] = n & 0xff;
      const k = n % o.watchedKeyTotal;
      expected += watchersOfKey[k] ?? 0;
      sentAt[n] = performance.now();
      const c = conns[n % conns.length] as EtcdClient;
      puts.push(c.put({ key: keys[k] as Uint8Array, value }).catch((e: unknown) => errors.add(e)));
    }
    await Promise.all(puts);
    const deadline = performance.now() + 30_000;
    while (delivered < expected && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const seconds = (performance.now() - start) / 1000;
    const missing = expected - delivered;
    for (let i = 0; i < missing; i++) errors.add(new Error("event not delivered within 30 s"));
    return result(
      o,
      `watch ${o.watchers} watchers / ${o.streams} streams, ${o.putRate} puts/s`,
      { rec, errors, seconds },
      { watchersCreatedPerSecond: o.watchers / createSeconds, eventsExpected: expected },
    );
  } finally {
    for (const s of streams) s.close();
    for (const c of wclients) c.close();
  }
}

/** Runs one workload and returns its figures. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  validate(options);
  const conns = connect(options);
  try {
    await warm(conns);
    switch (options.workload) {
      case "put":
        return await put(options, conns);
      case "range":
        return await range(options, conns);
      case "txn-put":
        return await txnPut(options, conns);
      case "lease-keepalive":
        return await leaseKeepAlive(options, conns);
      case "watch":
        return await watch(options, conns);
      default:
        throw new Error(`bench: unknown workload '${String(options.workload satisfies never)}'`);
    }
  } finally {
    for (const c of conns) c.close();
  }
}
