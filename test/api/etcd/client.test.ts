// The etcd v3 client (src/api/etcd/client) against the in-process API server and against
// misbehaving raw HTTP/2 servers: unary calls, error classification, endpoint choice,
// reconnection, watches and lease keep-alives.
import assert from "node:assert/strict";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import {
  ClientClosedError,
  ClientTimeoutError,
  ConnectionError,
  EtcdClient,
  GrpcCode,
  GrpcError,
  isDefiniteFailure,
  isOutcomeUnknown,
} from "../../../src/api/etcd/client/mod.js";
import { LocalBackend } from "../../../src/api/etcd/local.js";
import type { EventMsg } from "../../../src/api/etcd/proto/messages.js";
import { EtcdApiServer } from "../../../src/api/etcd/server.js";
import { freePort } from "../../../src/testing/procs.js";
import { b, startServer, waitFor } from "./helpers.js";

const text = (u: Uint8Array | undefined): string => new TextDecoder().decode(u);

/** A raw HTTP/2 server doing `onStream` with every stream; returns its endpoint and a closer. */
async function rawServer(
  onStream: (stream: http2.ServerHttp2Stream, session: http2.ServerHttp2Session) => void,
): Promise<{ endpoint: string; close(): Promise<void> }> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("error", () => {});
  });
  server.on("stream", (stream) => {
    stream.on("error", () => {});
    onStream(stream, stream.session as http2.ServerHttp2Session);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sessions) s.destroy();
        server.close(() => r());
      }),
  };
}

test("EtcdClient: KV calls, txn and compaction round-trip through the server", async () => {
  // Proves the unary path end to end: requests encode with the shared codec, responses decode,
  // text keys are UTF-8, and a txn's branch and compaction land as etcd defines them.
  const s = await startServer();
  const c = new EtcdClient({ endpoints: [s.endpoint] });
  try {
    const p1 = await c.put({ key: "a", value: "1" });
    assert.ok(p1.header.revision > 0);
    await c.put({ key: "b", value: "2" });
    const r = await c.range({ key: "a", rangeEnd: "c" });
    assert.deepEqual(
      r.kvs?.map((kv) => [text(kv.key), text(kv.value)]),
      [
        ["a", "1"],
        ["b", "2"],
      ],
    );
    const t = await c.txn({
      compare: [{ result: 0, target: 0, key: b("a"), version: 1, rangeEnd: new Uint8Array(0) }],
      success: [
        {
          requestPut: {
            key: b("a"),
            value: b("3"),
            lease: 0,
            prevKv: false,
            ignoreValue: false,
            ignoreLease: false,
          },
        },
      ],
    });
    assert.equal(t.succeeded, true);
    assert.equal(text((await c.range({ key: "a" })).kvs?.[0]?.value), "3");
    const d = await c.deleteRange({ key: "b" });
    assert.equal(d.deleted, 1);
    const last = (await c.range({ key: "a" })).header.revision;
    await c.compact(last);
    await assert.rejects(c.range({ key: "a", revision: 1 }), (e: unknown) => {
      assert.ok(e instanceof GrpcError);
      assert.equal(e.code, GrpcCode.outOfRange);
      assert.equal(e.details, "etcdserver: mvcc: required revision has been compacted");
      assert.equal(isDefiniteFailure(e), true);
      return true;
    });
  } finally {
    c.close();
    await s.close();
  }
});

test("EtcdClient: lease, lock, member and maintenance calls", async () => {
  // Proves the convenience methods reach the right services with the right descriptors.
  const s = await startServer();
  const c = new EtcdClient({ endpoints: [s.endpoint] });
  try {
    const g = await c.leaseGrant(30);
    assert.ok(g.ID > 0);
    assert.equal(g.TTL, 30);
    await c.put({ key: "leased", value: "x", lease: g.ID });
    const ttl = await c.leaseTimeToLive(g.ID, true);
    assert.deepEqual(ttl.keys.map(text), ["leased"]);
    const lk = await c.lock("mutex", g.ID);
    assert.ok(text(lk.key).startsWith("mutex/"));
    await c.unlock(lk.key);
    await c.leaseRevoke(g.ID);
    assert.equal((await c.leaseTimeToLive(g.ID)).TTL, -1);
    await assert.rejects(
      c.leaseRevoke(g.ID),
      (e: unknown) => e instanceof GrpcError && e.code === GrpcCode.notFound,
    );
    const members = await c.memberList();
    assert.equal(members.members.length, 1);
    const st = await c.status();
    assert.ok(st.version.length > 0);
    const h = await c.hashKV();
    assert.ok(h.header.revision > 0);
  } finally {
    c.close();
    await s.close();
  }
});

test("EtcdClient: errors tell definite failures from unknown outcomes", async () => {
  // Proves the classification callers rely on: a refused dial is definite (never sent), a
  // silent server is a ClientTimeoutError and a connection dropped after sending a
  // ConnectionError with sent = true (both unknown), ambiguous etcd statuses are unknown.
  const silent = await rawServer(() => {});
  const dropper = await rawServer((_stream, session) => session.destroy());
  const dead = `127.0.0.1:${await freePort()}`;
  const c = new EtcdClient({ endpoints: [dead], dialTimeoutMs: 500 });
  try {
    await assert.rejects(c.put({ key: "k" }), (e: unknown) => {
      assert.ok(e instanceof ConnectionError, String(e));
      assert.equal(e.sent, false);
      assert.equal(isOutcomeUnknown(e), false);
      return true;
    });
    await assert.rejects(c.put({ key: "k" }, { endpoint: silent.endpoint, timeoutMs: 150 }), (e: unknown) => {
      assert.ok(e instanceof ClientTimeoutError, String(e));
      assert.equal(isOutcomeUnknown(e), true);
      return true;
    });
    await assert.rejects(c.put({ key: "k" }, { endpoint: dropper.endpoint }), (e: unknown) => {
      assert.ok(e instanceof ConnectionError, String(e));
      assert.equal(e.sent, true);
      assert.equal(isOutcomeUnknown(e), true);
      return true;
    });
    assert.equal(
      isOutcomeUnknown(new GrpcError(GrpcCode.unavailable, "etcdserver: request timed out", "x:1")),
      true,
    );
    assert.equal(
      isOutcomeUnknown(new GrpcError(GrpcCode.unavailable, "etcdserver: no leader", "x:1")),
      false,
    );
    assert.equal(
      isOutcomeUnknown(new GrpcError(GrpcCode.deadlineExceeded, "context deadline exceeded", "x:1")),
      true,
    );
  } finally {
    c.close();
    await silent.close();
    await dropper.close();
  }
});

test("EtcdClient: a dead endpoint is skipped, a restarted server is redialled, pinned stays put", async () => {
  // Proves endpoint selection and reconnection: round-robin moves past an endpoint that
  // cannot be dialled, a connection that died is replaced by the next call, and a pinned
  // client sends every call to one endpoint.
  const s1 = await startServer();
  const s2 = await startServer();
  const dead = `127.0.0.1:${await freePort()}`;
  const rr = new EtcdClient({ endpoints: [dead, s1.endpoint], dialTimeoutMs: 500 });
  const pinned = new EtcdClient({ endpoints: [s1.endpoint, s2.endpoint], endpointSelection: "pinned" });
  try {
    for (let i = 0; i < 4; i++) await rr.put({ key: `k${i}`, value: "v" });
    const onS1 = await rr.range({ key: "k", rangeEnd: "l", countOnly: true }, { endpoint: s1.endpoint });
    assert.equal(onS1.count, 4);
    for (let i = 0; i < 4; i++) await pinned.put({ key: `p${i}`, value: "v" });
    const on1 = await pinned.range({ key: "p", rangeEnd: "q", countOnly: true }, { endpoint: s1.endpoint });
    const on2 = await pinned.range({ key: "p", rangeEnd: "q", countOnly: true }, { endpoint: s2.endpoint });
    assert.deepEqual([on1.count, on2.count], [4, 0]);
    // Restart s2 on the same port: the old session dies, the next call dials again.
    const port = s2.port;
    await s2.close();
    await assert.rejects(pinned.status({ endpoint: s2.endpoint }), ConnectionError);
    const backend = new LocalBackend();
    const again = new EtcdApiServer({ backend });
    await again.listen(port);
    try {
      const st = await pinned.status({ endpoint: s2.endpoint });
      assert.ok(st.header.revision >= 1);
    } finally {
      await again.close();
      backend.close();
    }
  } finally {
    rr.close();
    pinned.close();
    await s1.close();
  }
});

test("EtcdClient: watch delivers created, events, progress and cancellation", async () => {
  // Proves the watch stream: creation gives an id, puts arrive as events in order, a
  // progress request is answered, cancel ends the watcher, and a compacted start revision
  // cancels with the compact revision.
  const s = await startServer();
  const c = new EtcdClient({ endpoints: [s.endpoint] });
  try {
    const events: EventMsg[] = [];
    let progress = 0;
    let canceled = false;
    const h = c.watch(
      { key: b("w/"), rangeEnd: b("w0") },
      {
        onEvents: (evs) => events.push(...evs),
        onProgress: () => progress++,
        onCanceled: () => {
          canceled = true;
        },
      },
    );
    const id = await h.created;
    assert.ok(id >= 0);
    await c.put({ key: "w/1", value: "a" });
    await c.put({ key: "x", value: "ignored" });
    await c.deleteRange({ key: "w/1" });
    await waitFor(() => events.length === 2, 2000, "two events");
    assert.deepEqual(
      events.map((e) => [e.type, text(e.kv?.key)]),
      [
        [0, "w/1"],
        [1, "w/1"],
      ],
    );
    h.watcher.cancel();
    await waitFor(() => canceled, 2000, "cancel");

    const rev = (await c.put({ key: "w/2", value: "b" })).header.revision;
    await c.put({ key: "w/2", value: "c" });
    await c.compact(rev + 1);
    let compactRevision = 0;
    const old = c.watch(
      { key: b("w/2"), startRevision: rev },
      {
        onCanceled: (info) => {
          compactRevision = info.compactRevision;
        },
      },
    );
    await waitFor(() => compactRevision > 0, 2000, "compacted cancel");
    assert.equal(compactRevision, rev + 1);
    old.close();

    const ws = c.watchStream();
    const w = ws.watch({ key: b("p") }, { onProgress: () => progress++ });
    await w.created;
    ws.requestProgress();
    await waitFor(() => progress > 0, 2000, "progress");
    ws.close();
  } finally {
    c.close();
    await s.close();
  }
});

test("EtcdClient: one watch stream carries many watchers, each gets its own events", async () => {
  // Proves created responses are matched in order and events dispatched by watch id.
  const s = await startServer();
  const c = new EtcdClient({ endpoints: [s.endpoint] });
  try {
    const ws = c.watchStream();
    const got = new Map<number, string[]>();
    const watchers = Array.from({ length: 50 }, (_, i) =>
      ws.watch(
        { key: b(`m/${i}`) },
        { onEvents: (evs) => got.set(i, [...(got.get(i) ?? []), ...evs.map((e) => text(e.kv?.key))]) },
      ),
    );
    await Promise.all(watchers.map((w) => w.created));
    assert.equal(new Set(watchers.map((w) => w.id)).size, 50);
    await Promise.all(Array.from({ length: 50 }, (_, i) => c.put({ key: `m/${i}`, value: "v" })));
    await waitFor(() => got.size === 50, 2000, "50 watchers' events");
    for (let i = 0; i < 50; i++) assert.deepEqual(got.get(i), [`m/${i}`]);
    ws.close();
    await waitFor(() => ws.ended, 1000, "stream end");
  } finally {
    c.close();
    await s.close();
  }
});

test("EtcdClient: lease keep-alive stream and keeper renew, and report a revoked lease", async () => {
  // Proves keep-alive answers are matched by lease id, the keeper renews periodically and
  // stops with onError once the lease is gone (TTL 0).
  const s = await startServer();
  const c = new EtcdClient({ endpoints: [s.endpoint] });
  try {
    const g1 = await c.leaseGrant(10);
    const g2 = await c.leaseGrant(20);
    const ks = c.keepAliveStream();
    const [a, b2] = await Promise.all([ks.keepAlive(g1.ID), ks.keepAlive(g2.ID)]);
    assert.deepEqual([a.ID, a.TTL, b2.ID, b2.TTL], [g1.ID, 10, g2.ID, 20]);
    ks.close();
    await assert.rejects(ks.keepAlive(g1.ID));

    let answers = 0;
    let failure: Error | null = null;
    const keeper = c.leaseKeepAlive(g1.ID, {
      intervalMs: 20,
      onResponse: () => answers++,
      onError: (e) => {
        failure = e;
      },
    });
    await waitFor(() => answers >= 3, 2000, "three renewals");
    await c.leaseRevoke(g1.ID);
    await waitFor(() => failure !== null, 2000, "keeper failure");
    assert.match(String(failure), /not found/);
    keeper.close();
  } finally {
    c.close();
    await s.close();
  }
});

test("EtcdClient: close fails calls in flight and streams, and refuses new calls", async () => {
  // Proves close() leaves nothing running: a blocked call rejects, a watcher gets onError,
  // and later calls reject with ClientClosedError (a definite failure).
  const silent = await rawServer(() => {});
  const s = await startServer();
  const c = new EtcdClient({ endpoints: [s.endpoint] });
  const pending = c.put({ key: "k" }, { endpoint: silent.endpoint, timeoutMs: 0 });
  let watchError: Error | null = null;
  const h = c.watch({ key: b("k") }, { onError: (e) => (watchError = e) });
  await h.created;
  await new Promise((r) => setTimeout(r, 50));
  c.close();
  await assert.rejects(pending, ConnectionError);
  await waitFor(() => watchError !== null, 1000, "watch error");
  await assert.rejects(
    c.range({ key: "k" }),
    (e: unknown) => e instanceof ClientClosedError && isDefiniteFailure(e),
  );
  await silent.close();
  await s.close();
});
