// The gRPC transport on node:http2 and the shared port, with a raw HTTP/2 client: malformed and
// oversized messages, unknown methods, deadlines, metadata, compression, fragmentation.
import assert from "node:assert/strict";
import http2 from "node:http2";
import { test } from "node:test";
import fc from "fast-check";
import { frameMessage } from "../../../src/api/etcd/grpc/frames.js";
import { GrpcStatus } from "../../../src/api/etcd/grpc/status.js";
import { LocalBackend } from "../../../src/api/etcd/local.js";
import { decodeMessage, encodeMessage } from "../../../src/api/etcd/proto/codec.js";
import { D, type RangeResponseMsg, type WatchResponseMsg } from "../../../src/api/etcd/proto/messages.js";
import { EtcdApiServer } from "../../../src/api/etcd/server.js";
import { fragmentEvents, framedEventResponse } from "../../../src/api/etcd/services/watch.js";
import { b, rawGrpc, startServer, waitFor } from "./helpers.js";

const put = (key: string, value: string) => encodeMessage(D.PutRequest, { key: b(key), value: b(value) });

test("grpc: a malformed protobuf is INVALID_ARGUMENT and the server keeps serving", async () => {
  // Proves decode failures become a status (trailers-only), never a crash, on every service.
  const s = await startServer();
  try {
    const bad = await rawGrpc(s.port, "/etcdserverpb.KV/Put", new Uint8Array([0x0a, 0x10, 0x61]));
    assert.equal(bad.grpcStatus, GrpcStatus.invalidArgument);
    assert.match(bad.grpcMessage, /^grpc: error unmarshalling request: etcdserverpb\.PutRequest: /);
    const badStream = await rawGrpc(s.port, "/etcdserverpb.Watch/Watch", new Uint8Array([0xff, 0xff]));
    assert.equal(badStream.grpcStatus, GrpcStatus.invalidArgument);
    const good = await rawGrpc(s.port, "/etcdserverpb.KV/Put", put("k", "v"));
    assert.equal(good.grpcStatus, GrpcStatus.ok);
    const range = await rawGrpc(
      s.port,
      "/etcdserverpb.KV/Range",
      encodeMessage(D.RangeRequest, { key: b("k") }),
    );
    const decoded = decodeMessage<RangeResponseMsg>(D.RangeResponse, range.messages[0] ?? new Uint8Array(0));
    assert.ok(decoded.ok);
    assert.equal(decoded.value.count, 1);
  } finally {
    await s.close();
  }
});

test("grpc: oversized requests: over the receive limit RESOURCE_EXHAUSTED, over max-request-bytes etcd's error", async () => {
  // Proves both size limits: the gRPC receive limit checked from the frame header (before the
  // body is buffered) and etcd's "request is too large" for writes over --max-request-bytes.
  const s = await startServer({}, { requestBytesMax: 1024 });
  try {
    const header = new Uint8Array([0, 0, 0x30, 0, 0]); // claims a 3 MiB message
    const huge = await rawGrpc(s.port, "/etcdserverpb.KV/Put", header, { framed: true });
    assert.equal(huge.grpcStatus, GrpcStatus.resourceExhausted);
    assert.equal(
      huge.grpcMessage,
      `grpc: received message larger than max (3145728 vs. ${1024 + 512 * 1024})`,
    );
    const big = await rawGrpc(s.port, "/etcdserverpb.KV/Put", put("k", "x".repeat(2000)));
    assert.equal(big.grpcStatus, GrpcStatus.invalidArgument);
    assert.equal(big.grpcMessage, "etcdserver: request is too large");
    const small = await rawGrpc(s.port, "/etcdserverpb.KV/Put", put("k", "x"));
    assert.equal(small.grpcStatus, GrpcStatus.ok);
  } finally {
    await s.close();
  }
});

test("grpc: unknown and unimplemented methods answer UNIMPLEMENTED; compressed messages too", async () => {
  // Proves no method is silently accepted: unknown paths use grpc-go's wording, etcd methods
  // Synod lacks say so, and a compressed frame (never negotiated) is refused.
  const s = await startServer();
  try {
    const unknown = await rawGrpc(s.port, "/foo.Bar/Baz", new Uint8Array(0));
    assert.deepEqual(
      [unknown.grpcStatus, unknown.grpcMessage],
      [GrpcStatus.unimplemented, "unknown service foo.Bar"],
    );
    const downgrade = await rawGrpc(s.port, "/etcdserverpb.Maintenance/Downgrade", new Uint8Array(0));
    assert.deepEqual(
      [downgrade.grpcStatus, downgrade.grpcMessage],
      [GrpcStatus.unimplemented, "synod: etcdserverpb.Maintenance/Downgrade is not implemented"],
    );
    const compressed = frameMessage(put("k", "v"));
    compressed[0] = 1;
    const c = await rawGrpc(s.port, "/etcdserverpb.KV/Put", compressed, { framed: true });
    assert.equal(c.grpcStatus, GrpcStatus.unimplemented);
  } finally {
    await s.close();
  }
});

test("grpc: range with an out-of-enum sort option is etcd's invalid sort option", async () => {
  // Proves enum validation reaches the client with etcd's text.
  const s = await startServer();
  try {
    const r = await rawGrpc(
      s.port,
      "/etcdserverpb.KV/Range",
      encodeMessage(D.RangeRequest, { key: b("a"), sortOrder: 9 }),
    );
    assert.deepEqual(
      [r.grpcStatus, r.grpcMessage],
      [GrpcStatus.invalidArgument, "etcdserver: invalid sort option"],
    );
  } finally {
    await s.close();
  }
});

test("grpc: grpc-timeout ends a call with DEADLINE_EXCEEDED", async () => {
  // Proves deadlines: a half-closed watch stream stays open until the client's deadline passes.
  const s = await startServer();
  try {
    const create = encodeMessage(D.WatchRequest, { createRequest: { key: b("k") } });
    const started = Date.now();
    const r = await rawGrpc(s.port, "/etcdserverpb.Watch/Watch", create, {
      headers: { "grpc-timeout": "150m" },
    });
    assert.equal(r.grpcStatus, GrpcStatus.deadlineExceeded);
    assert.ok(Date.now() - started >= 140);
    assert.equal(r.messages.length, 1, "the created response");
    await waitFor(() => s.backend.store.watchHub.watcherCount === 0, 2000, "the watcher to be removed");
  } finally {
    await s.close();
  }
});

test("grpc: hasleader metadata fails calls with etcd's no-leader error while no leader is known", async () => {
  // Proves the `hasleader` metadata check (ErrGRPCNoLeader) and that calls without it still run.
  class Leaderless extends LocalBackend {
    override hasLeader(): boolean {
      return false;
    }
  }
  const backend = new Leaderless({ timers: false });
  const server = new EtcdApiServer({ backend });
  const port = await server.listen(0);
  try {
    const req = encodeMessage(D.RangeRequest, { key: b("a") });
    const r = await rawGrpc(port, "/etcdserverpb.KV/Range", req, { headers: { hasleader: "true" } });
    assert.deepEqual([r.grpcStatus, r.grpcMessage], [GrpcStatus.unavailable, "etcdserver: no leader"]);
    const plain = await rawGrpc(port, "/etcdserverpb.KV/Range", req);
    assert.equal(plain.grpcStatus, GrpcStatus.ok);
    const health = await rawGrpc(
      port,
      "/grpc.health.v1.Health/Check",
      encodeMessage(D.HealthCheckRequest, {}),
    );
    const h = decodeMessage<{ status: number }>(
      D.HealthCheckResponse,
      health.messages[0] ?? new Uint8Array(0),
    );
    assert.ok(h.ok);
    assert.equal(h.value.status, 2, "NOT_SERVING");
  } finally {
    await server.close();
    backend.close();
  }
});

test("grpc: HTTP/1.1 and gRPC share the port", async () => {
  // Proves the preface sniffing: the same port answers gRPC and plain HTTP alternately.
  const s = await startServer();
  try {
    const health = await rawGrpc(
      s.port,
      "/grpc.health.v1.Health/Check",
      encodeMessage(D.HealthCheckRequest, {}),
    );
    assert.equal(health.grpcStatus, GrpcStatus.ok);
    const v = await fetch(`http://${s.endpoint}/version`);
    assert.equal(await v.text(), '{"etcdserver":"3.5.0","etcdcluster":"3.5.0"}');
    const again = await rawGrpc(s.port, "/etcdserverpb.KV/Put", put("a", "b"));
    assert.equal(again.grpcStatus, GrpcStatus.ok);
  } finally {
    await s.close();
  }
});

/** A raw Watch stream: send requests, collect decoded responses. */
function openWatch(endpoint: string): {
  send(req: object): void;
  readonly responses: WatchResponseMsg[];
  close(): void;
} {
  const session = http2.connect(`http://${endpoint}`);
  const stream = session.request({
    ":method": "POST",
    ":path": "/etcdserverpb.Watch/Watch",
    "content-type": "application/grpc",
  });
  const responses: WatchResponseMsg[] = [];
  let buf = Buffer.alloc(0);
  stream.on("data", (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    while (buf.length >= 5 && buf.length >= 5 + buf.readUInt32BE(1)) {
      const n = buf.readUInt32BE(1);
      const r = decodeMessage<WatchResponseMsg>(D.WatchResponse, new Uint8Array(buf.subarray(5, 5 + n)));
      if (r.ok) responses.push(r.value);
      buf = buf.subarray(5 + n);
    }
  });
  stream.on("error", () => {});
  return {
    send: (req) => stream.write(frameMessage(encodeMessage(D.WatchRequest, req))),
    responses,
    close: () => {
      stream.close();
      session.close();
    },
  };
}

test("grpc: watch ids per stream, duplicate ids, progress requests, cancels, start revision 0", async () => {
  // Proves the Watch protocol details clients rely on: ids assigned from 0 (or as asked), a
  // duplicate id fails with watch_id -1 and a reason, progress answers with watch_id -1 at the
  // current revision, cancel answers canceled (unknown ids get no reply), start 0 means "from now".
  const s = await startServer();
  const w = openWatch(s.endpoint);
  try {
    await s.backend.put({ key: b("k"), value: b("old") });
    w.send({ createRequest: { key: b("k") } });
    w.send({ createRequest: { key: b("k"), watchId: 7 } });
    w.send({ createRequest: { key: b("k"), watchId: 7 } });
    await waitFor(() => w.responses.length === 3, 2000, "three create responses");
    const [first, second, dup] = w.responses;
    assert.deepEqual(
      [first?.watchId ?? 0, first?.created, second?.watchId, second?.created],
      [0, true, 7, true],
    );
    assert.deepEqual(
      [dup?.watchId, dup?.created, dup?.canceled, dup?.cancelReason],
      [-1, true, true, "mvcc: duplicate watch ID provided on the WatchStream"],
    );
    w.send({ progressRequest: {} });
    await waitFor(() => w.responses.length === 4, 2000, "progress");
    assert.deepEqual([w.responses[3]?.watchId, w.responses[3]?.header.revision], [-1, 2]);
    w.send({ cancelRequest: { watchId: 7 } });
    w.send({ cancelRequest: { watchId: 99 } });
    await waitFor(() => w.responses.length === 5, 2000, "cancel");
    assert.deepEqual([w.responses[4]?.watchId, w.responses[4]?.canceled], [7, true]);
    await s.backend.put({ key: b("k"), value: b("new") });
    await waitFor(() => w.responses.length === 6, 2000, "the event");
    const ev = w.responses[5];
    assert.equal(ev?.watchId ?? 0, 0);
    assert.deepEqual(
      (ev?.events ?? []).map((e) => new TextDecoder().decode(e.kv?.value)),
      ["new"],
      "only the change after the watch was created",
    );
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(
      w.responses.length,
      6,
      "no reply to cancelling an unknown id, no event for the canceled watcher",
    );
  } finally {
    w.close();
    await s.close();
  }
});

test("grpc: watch with fragment splits a large revision; responses before the last carry fragment=true", async () => {
  // Proves fragmentation over the wire: one txn's events arrive in several responses whose
  // concatenation is the whole revision, in order.
  const s = await startServer({}, { requestBytesMax: 2048 });
  const session = http2.connect(`http://${s.endpoint}`);
  try {
    const stream = session.request({
      ":method": "POST",
      ":path": "/etcdserverpb.Watch/Watch",
      "content-type": "application/grpc",
    });
    const responses: WatchResponseMsg[] = [];
    let buf = Buffer.alloc(0);
    stream.on("data", (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      while (buf.length >= 5 && buf.length >= 5 + buf.readUInt32BE(1)) {
        const n = buf.readUInt32BE(1);
        const r = decodeMessage<WatchResponseMsg>(D.WatchResponse, new Uint8Array(buf.subarray(5, 5 + n)));
        if (r.ok) responses.push(r.value);
        buf = buf.subarray(5 + n);
      }
    });
    stream.write(
      frameMessage(
        encodeMessage(D.WatchRequest, { createRequest: { key: b("f/"), rangeEnd: b("f0"), fragment: true } }),
      ),
    );
    await waitFor(() => responses.length === 1, 2000, "created");
    const ops = Array.from({ length: 10 }, (_, i) => ({
      type: "put" as const,
      request: { key: b(`f/${i}`), value: b("v".repeat(300)) },
    }));
    const txn = await s.backend.txn({ compare: [], success: ops, failure: [] }, { serializable: false });
    assert.ok(txn.ok);
    await waitFor(() => responses.slice(1).some((r) => r.fragment !== true), 2000, "the last fragment");
    const parts = responses.slice(1);
    assert.ok(parts.length > 1, `expected several fragments, got ${parts.length}`);
    assert.ok(parts.slice(0, -1).every((r) => r.fragment === true));
    const keys = parts.flatMap((r) => (r.events ?? []).map((e) => new TextDecoder().decode(e.kv?.key)));
    assert.deepEqual(
      keys,
      ops.map((o) => new TextDecoder().decode(o.request.key)),
    );
    stream.close();
  } finally {
    session.close();
    await s.close();
  }
});

test("grpc: fragmentEvents keeps every event, in order, in parts under the limit", () => {
  // Proves the splitting rule itself: no empty parts, no event lost, a single oversized event alone.
  const ev = (n: number) =>
    ({ type: 0, kv: { key: b(`k${n}`), value: b("x".repeat(n * 100)) }, prevKv: null }) as never;
  const events = [ev(1), ev(2), ev(30), ev(1)];
  const parts = fragmentEvents(events, 1000);
  assert.deepEqual(parts.flat(), events);
  assert.ok(parts.every((p) => p.length > 0));
  assert.ok(parts.some((p) => p.length === 1 && p[0] === events[2]));
});

test("grpc: framedEventResponse writes exactly what encodeMessage writes for an event response", () => {
  // Proves the watch fan-out's hand encoder is byte-identical to the codec's, over random
  // headers, watch ids (0 is omitted as proto3 does) and events of every size.
  fc.assert(
    fc.property(
      fc.record({
        clusterId: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        memberId: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        revision: fc.nat(),
        raftTerm: fc.nat(),
      }),
      fc.oneof(fc.constant(0), fc.nat(), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
      fc.array(
        fc.record({
          type: fc.constantFrom(0, 1),
          key: fc.uint8Array({ minLength: 1, maxLength: 40 }),
          value: fc.uint8Array({ maxLength: 300 }),
        }),
        { minLength: 1, maxLength: 5 },
      ),
      (header, watchId, evs) => {
        const events = evs.map((e) => ({
          type: e.type,
          kv: { key: e.key, value: e.value, createRevision: 1, modRevision: 2, version: 1, lease: 0 },
        }));
        const expected = frameMessage(encodeMessage(D.WatchResponse, { header, watchId, events }));
        const got = framedEventResponse(
          encodeMessage(D.ResponseHeader, header),
          watchId,
          events.map((e) => encodeMessage(D.Event, e)),
        );
        assert.deepEqual(got, expected);
      },
    ),
    { numRuns: 300 },
  );
});
