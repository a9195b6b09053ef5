/**
 * The load generator's workloads, in etcd's benchmark vocabulary (`put`, `range`, `txn-put`,
 * `watch`, `lease-keepalive`), over the generator's own lean HTTP/2 gRPC client (h2client.ts) so
 * that they run against Synod and etcd alike and cost the machine little of the CPU the servers
 * need. Each "client" is a closed loop with one request in flight; clients share `conns` HTTP/2
 * connections (connection i goes to endpoint i mod n, as etcd's tool does), so hundreds of
 * requests are pipelined over a few connections. Requests are encoded once (templates whose keys
 * are written in place) and responses are not decoded beyond what a workload reads.
 */
import { decodeMessage } from "../../src/api/etcd/proto/codec.js";
import { D, type LeaseGrantResponseMsg } from "../../src/api/etcd/proto/messages.js";
import { type BidiCall, H2Connection } from "./h2client.js";
import {
  framed,
  type KeepAliveResponseLite,
  keepAliveResponseLite,
  PutTemplate,
  TxnPutTemplate,
  type WatchResponseLite,
  watchResponseLite,
} from "./requests.js";
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

/** The gRPC methods the workloads call. */
const paths = {
  put: "/etcdserverpb.KV/Put",
  range: "/etcdserverpb.KV/Range",
  txn: "/etcdserverpb.KV/Txn",
  status: "/etcdserverpb.Maintenance/Status",
  leaseGrant: "/etcdserverpb.Lease/LeaseGrant",
  leaseRevoke: "/etcdserverpb.Lease/LeaseRevoke",
  leaseKeepAlive: "/etcdserverpb.Lease/LeaseKeepAlive",
  watch: "/etcdserverpb.Watch/Watch",
} as const;

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

/** `n` connections, connection i to `endpointOf(i)`; all or none (a failure closes the others). */
async function dial(n: number, endpointOf: (i: number) => string, o: LoadOptions): Promise<H2Connection[]> {
  const tries = await Promise.allSettled(
    Array.from({ length: n }, (_, i) => H2Connection.connect(endpointOf(i), { timeoutMs: o.timeoutMs })),
  );
  const conns = tries.flatMap((t) => (t.status === "fulfilled" ? [t.value] : []));
  const failed = tries.find((t) => t.status === "rejected");
  if (failed !== undefined) {
    for (const c of conns) c.close();
    throw failed.reason;
  }
  return conns;
}

/** The `conns` connections, connection i on endpoint i mod n. */
function connect(o: LoadOptions): Promise<H2Connection[]> {
  return dial(o.conns, (i) => o.endpoints[i % o.endpoints.length] as string, o);
}

const statusRequest = framed(D.StatusRequest, {});

/** One call on every connection before timing starts (the servers' first-request work is done). */
async function warm(conns: readonly H2Connection[]): Promise<void> {
  await Promise.all(conns.map((c) => c.unary(paths.status, statusRequest)));
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

/** The index of the key of operation `n`. */
function nextKey(o: LoadOptions, n: number): number {
  return o.sequentialKeys ? n % o.keySpaceSize : Math.floor(Math.random() * o.keySpaceSize);
}

const shape = (o: LoadOptions): string => `${o.clients} clients / ${o.conns} conns`;

async function put(o: LoadOptions, conns: readonly H2Connection[]): Promise<LoadResult> {
  const template = new PutTemplate(o.keySize, new Uint8Array(o.valSize).fill(0x78));
  const r = await closedLoop(o, (client, n) =>
    (conns[client % conns.length] as H2Connection).unary(paths.put, template.request(nextKey(o, n))),
  );
  return result(o, `put ${shape(o)}`, r);
}

async function range(o: LoadOptions, conns: readonly H2Connection[]): Promise<LoadResult> {
  const req = framed(D.RangeRequest, {
    key: enc.encode(o.rangeKey),
    rangeEnd: enc.encode(o.rangeEnd),
    limit: o.limit,
    serializable: o.consistency === "s",
  });
  const r = await closedLoop(o, (client) =>
    (conns[client % conns.length] as H2Connection).unary(paths.range, req),
  );
  const kind = o.consistency === "s" ? "serializable" : "linearizable";
  return result(o, `range (${kind}) ${shape(o)}`, r);
}

async function txnPut(o: LoadOptions, conns: readonly H2Connection[]): Promise<LoadResult> {
  if (o.txnOps > o.keySpaceSize) throw new Error("bench: txn-put needs --key-space-size >= --txn-ops");
  const template = new TxnPutTemplate(o.keySize, new Uint8Array(o.valSize).fill(0x78), o.txnOps);
  const r = await closedLoop(o, (client, n) => {
    const base = o.sequentialKeys ? n * o.txnOps : Math.floor(Math.random() * o.keySpaceSize);
    return (conns[client % conns.length] as H2Connection).unary(
      paths.txn,
      template.request(base, o.keySpaceSize),
    );
  });
  return result(o, `txn-put (${o.txnOps} ops) ${shape(o)}`, r);
}

/** One lease's keep-alive stream with at most one renewal in flight. */
class KeepAliver {
  readonly #call: BidiCall;
  readonly #request: Uint8Array;
  #waiter: { resolve(res: KeepAliveResponseLite): void; reject(error: Error): void } | null = null;
  #ended: Error | null = null;

  constructor(conn: H2Connection, id: number) {
    this.#request = framed(D.LeaseKeepAliveRequest, { ID: id });
    this.#call = conn.stream(paths.leaseKeepAlive, {
      onMessage: (m) => {
        const w = this.#waiter;
        this.#waiter = null;
        const res = decodeMessage<KeepAliveResponseLite>(keepAliveResponseLite, m);
        if (res.ok) w?.resolve(res.value);
        else w?.reject(new Error(`lease keep-alive: ${res.reason}`));
      },
      onEnd: (e) => {
        this.#ended = e ?? new Error("lease keep-alive stream closed");
        this.#waiter?.reject(this.#ended);
        this.#waiter = null;
      },
    });
  }

  /** Renews the lease once: the server's answer (TTL <= 0: no such lease). */
  once(): Promise<KeepAliveResponseLite> {
    if (this.#ended !== null) return Promise.reject(this.#ended);
    if (this.#waiter !== null) throw new Error("bench: one keep-alive at a time per stream");
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
      this.#call.send(this.#request);
    });
  }

  close(): void {
    this.#call.cancel();
  }
}

async function leaseGrant(c: H2Connection, ttl: number, id: number): Promise<number> {
  const bytes = await c.unary(paths.leaseGrant, framed(D.LeaseGrantRequest, { TTL: ttl, ID: id }));
  const res = decodeMessage<LeaseGrantResponseMsg>(D.LeaseGrantResponse, bytes);
  if (!res.ok) throw new Error(`lease grant: ${res.reason}`);
  if (res.value.error !== "") throw new Error(`lease grant: ${res.value.error}`);
  return res.value.ID;
}

async function leaseKeepAlive(o: LoadOptions, conns: readonly H2Connection[]): Promise<LoadResult> {
  // The ids are chosen here: etcd picks random 63-bit ids, beyond what the codec's numbers hold exactly.
  const base = 1 + Math.floor(Math.random() * 2 ** 40);
  const connOf = (i: number): H2Connection => conns[i % conns.length] as H2Connection;
  const leases = await Promise.all(
    Array.from({ length: o.clients }, (_, i) => leaseGrant(connOf(i), o.leaseTtl, base + i)),
  );
  const keepers = leases.map((id, i) => new KeepAliver(connOf(i), id));
  try {
    await Promise.all(keepers.map((k) => k.once()));
    const r = await closedLoop(o, async (client) => {
      const res = await (keepers[client] as KeepAliver).once();
      if (res.TTL <= 0) throw new Error(`lease ${res.ID} not found`);
    });
    return result(o, `lease-keepalive ${shape(o)}`, r);
  } finally {
    for (const k of keepers) k.close();
    await Promise.allSettled(
      leases.map((id, i) => connOf(i).unary(paths.leaseRevoke, framed(D.LeaseRevokeRequest, { ID: id }))),
    );
  }
}

/** One watch stream of the watch workload: its watchers' creation and their events. */
class WatchBenchStream {
  readonly call: BidiCall;
  /** Create requests sent and answered. */
  sent = 0;
  answered = 0;
  readonly created: Promise<void>;
  #resolve: () => void = () => {};
  #reject: (e: Error) => void = () => {};

  constructor(conn: H2Connection, onEvents: (res: WatchResponseLite) => void, errors: ErrorTally) {
    this.created = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.created.catch(() => {});
    this.call = conn.stream(paths.watch, {
      onMessage: (m) => {
        const res = decodeMessage<WatchResponseLite>(watchResponseLite, m);
        if (!res.ok) {
          errors.add(new Error(`watch: ${res.reason}`));
          return;
        }
        const w = res.value;
        if (w.canceled) {
          const e = new Error(`watch canceled: ${w.cancelReason}`);
          if (this.answered < this.sent) this.#reject(e);
          else errors.add(e);
          return;
        }
        if (w.created) {
          this.answered++;
          if (this.answered === this.sent) this.#resolve();
          return;
        }
        if (w.events.length > 0) onEvents(w);
      },
      onEnd: (e) => {
        if (e === null) return;
        // As etcd's client tells each watcher of a failed stream.
        for (let i = 0; i < this.sent; i++) errors.add(e);
        this.#reject(e);
      },
    });
  }

  /** Sends one framed create request. */
  create(request: Uint8Array): void {
    this.sent++;
    this.call.send(request);
  }

  /** Resolves `created` now if no watcher was asked for. */
  sealed(): void {
    if (this.sent === 0) this.#resolve();
  }
}

/**
 * `watch`: `watchers` watchers on one member over `streams` streams, then `putTotal` puts at
 * `putRate` per second through `conns`; each put's value carries its sequence number, and the
 * latency of an event is the time from just before its put was sent to its arrival at the
 * watcher (as etcd's `watch-latency`). Throughput is events delivered per second.
 */
async function watch(o: LoadOptions, conns: readonly H2Connection[]): Promise<LoadResult> {
  if (o.valSize < 4)
    throw new Error("bench: watch needs --val-size >= 4 (the value carries the put's number)");
  const endpoint = o.watchEndpoint !== "" ? o.watchEndpoint : (o.endpoints[0] as string);
  const watchConns = Math.max(1, Math.min(o.conns, o.streams));
  const wconns = await dial(watchConns, () => endpoint, o);
  const rec = new Recorder();
  const errors = new ErrorTally();
  const sentAt = new Float64Array(o.putTotal);
  const keys = Array.from({ length: o.watchedKeyTotal }, (_, i) => enc.encode(`watch-bench/${i}`));
  const creates = keys.map((key) => framed(D.WatchRequest, { createRequest: { key } }));
  const watchersOfKey = new Array<number>(o.watchedKeyTotal).fill(0);
  let expected = 0;
  let delivered = 0;
  const onEvents = (res: WatchResponseLite): void => {
    const now = performance.now();
    for (const e of res.events) {
      const v = e.kv?.value;
      if (v === undefined || v.length < 4) continue;
      const seq =
        ((v[0] as number) << 24) | ((v[1] as number) << 16) | ((v[2] as number) << 8) | (v[3] as number);
      rec.push(now - (sentAt[seq] ?? now));
      delivered++;
    }
  };
  const streams = Array.from(
    { length: o.streams },
    (_, i) => new WatchBenchStream(wconns[i % watchConns] as H2Connection, onEvents, errors),
  );
  try {
    const t0 = performance.now();
    for (let i = 0; i < o.watchers; i++) {
      const k = i % o.watchedKeyTotal;
      watchersOfKey[k] = (watchersOfKey[k] ?? 0) + 1;
      (streams[i % o.streams] as WatchBenchStream).create(creates[k] as Uint8Array);
    }
    for (const s of streams) s.sealed();
    await Promise.all(streams.map((s) => s.created));
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
      const request = framed(D.PutRequest, { key: keys[k] as Uint8Array, value });
      sentAt[n] = performance.now();
      const c = conns[n % conns.length] as H2Connection;
      puts.push(c.unary(paths.put, request).catch((e: unknown) => errors.add(e)));
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
    for (const s of streams) s.call.cancel();
    for (const c of wconns) c.close();
  }
}

/** Runs one workload and returns its figures. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  validate(options);
  const conns = await connect(options);
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
