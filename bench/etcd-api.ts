// Build, then `node dist/bench/etcd-api.js`: what the etcd API layer costs.
// 1. The proto codec: encode and decode times per message for typical etcd messages.
// 2. End to end over loopback: unary Put and Range on an in-process server (LocalBackend) from the
//    load generator's HTTP/2 client (bench/lib/h2client.ts) with N concurrent streams on one
//    connection (the client's own cost, a few microseconds per call, is included: both run on
//    this one thread).
import { frameMessage } from "../src/api/etcd/grpc/frames.js";
import { LocalBackend } from "../src/api/etcd/local.js";
import { decodeMessage, encodeMessage, type MessageDesc } from "../src/api/etcd/proto/codec.js";
import { D } from "../src/api/etcd/proto/messages.js";
import { EtcdApiServer } from "../src/api/etcd/server.js";
import { H2Connection } from "./lib/h2client.js";
import { closedLoopRate } from "./lib/rawgrpc.js";

const enc = new TextEncoder();
const seconds = Number(process.env.BENCH_SECONDS ?? 2);
const header = {
  clusterId: 0xcdf818194e3a8c32n,
  memberId: 0x8e9e05c52164694dn,
  revision: 123456,
  raftTerm: 3,
};
const kv = (i: number) => ({
  key: enc.encode(`/registry/pods/default/pod-${i}`),
  createRevision: 100000 + i,
  modRevision: 120000 + i,
  version: 3,
  value: new Uint8Array(100),
  lease: 0,
});

function timeIt(what: string, desc: MessageDesc, obj: object): void {
  const bytes = encodeMessage(desc, obj);
  const n = 200_000;
  let t = performance.now();
  for (let i = 0; i < n; i++) encodeMessage(desc, obj);
  const encNs = ((performance.now() - t) * 1e6) / n;
  t = performance.now();
  for (let i = 0; i < n; i++) decodeMessage(desc, bytes);
  const decNs = ((performance.now() - t) * 1e6) / n;
  console.log(
    `${what.padEnd(34)} ${String(bytes.length).padStart(6)} B  encode ${encNs.toFixed(0).padStart(6)} ns  decode ${decNs.toFixed(0).padStart(6)} ns`,
  );
}

function codec(): void {
  console.log("codec (per message)");
  timeIt("PutRequest (32 B key, 100 B value)", D.PutRequest, { key: kv(1).key, value: new Uint8Array(100) });
  timeIt("RangeRequest (prefix, limit)", D.RangeRequest, { key: kv(1).key, rangeEnd: kv(2).key, limit: 500 });
  timeIt("PutResponse", D.PutResponse, { header });
  timeIt("RangeResponse (1 kv)", D.RangeResponse, { header, kvs: [kv(1)], count: 1 });
  timeIt("RangeResponse (100 kvs)", D.RangeResponse, {
    header,
    kvs: Array.from({ length: 100 }, (_, i) => kv(i)),
    count: 100,
  });
  timeIt("WatchResponse (1 event)", D.WatchResponse, {
    header,
    watchId: 1,
    events: [{ type: 0, kv: kv(1), prevKv: null }],
  });
  const op = { requestPut: { key: kv(1).key, value: new Uint8Array(100) } };
  timeIt("TxnRequest (1 compare, 1 put)", D.TxnRequest, {
    compare: [{ result: 0, target: 2, key: kv(1).key, modRevision: 5, rangeEnd: new Uint8Array(0) }],
    success: [op],
    failure: [],
  });
}

async function unary(port: number, path: string, body: Uint8Array, concurrency: number): Promise<number> {
  const conn = await H2Connection.connect(`127.0.0.1:${port}`);
  const request = frameMessage(body);
  try {
    return await closedLoopRate(concurrency, seconds, async () => {
      await conn.unary(path, request);
    });
  } finally {
    conn.close();
  }
}

async function endToEnd(): Promise<void> {
  const backend = new LocalBackend();
  const server = new EtcdApiServer({ backend });
  const port = await server.listen(0);
  try {
    console.log(`\nend to end over loopback, one HTTP/2 connection, ${seconds} s each`);
    for (const c of [1, 16, 64]) {
      let i = 0;
      const putRate = await unary(
        port,
        "/etcdserverpb.KV/Put",
        encodeMessage(D.PutRequest, { key: kv(i++).key, value: new Uint8Array(100) }),
        c,
      );
      const getRate = await unary(
        port,
        "/etcdserverpb.KV/Range",
        encodeMessage(D.RangeRequest, { key: kv(0).key }),
        c,
      );
      console.log(
        `concurrency ${String(c).padStart(3)}: Put ${putRate.toFixed(0).padStart(6)}/s   Range ${getRate.toFixed(0).padStart(6)}/s`,
      );
    }
  } finally {
    await server.close();
    backend.close();
  }
}

codec();
await endToEnd();
