// Graceful close of the API server: unary calls in flight finish, streams end with UNAVAILABLE.
import assert from "node:assert/strict";
import { test } from "node:test";
import { GrpcStatus } from "../../../src/api/etcd/grpc/status.js";
import { LocalBackend } from "../../../src/api/etcd/local.js";
import { encodeMessage } from "../../../src/api/etcd/proto/codec.js";
import { D } from "../../../src/api/etcd/proto/messages.js";
import { EtcdApiServer } from "../../../src/api/etcd/server.js";
import { b, rawGrpc } from "./helpers.js";

/** A backend whose puts take `delayMs` (as a write waiting for its commit). */
class SlowPuts extends LocalBackend {
  override async put(req: Parameters<LocalBackend["put"]>[0]) {
    await new Promise((r) => setTimeout(r, 300));
    return super.put(req);
  }
}

test("EtcdApiServer.close: a unary call in flight finishes; a watch stream ends with UNAVAILABLE", async () => {
  // Proves the graceful stop of issue 5 §1.7: stop accepting, finish what is in flight, close.
  const backend = new SlowPuts();
  const server = new EtcdApiServer({ backend });
  const port = await server.listen(0);
  try {
    const put = rawGrpc(
      port,
      "/etcdserverpb.KV/Put",
      encodeMessage(D.PutRequest, { key: b("k"), value: b("v") }),
    );
    const watch = rawGrpc(
      port,
      "/etcdserverpb.Watch/Watch",
      encodeMessage(D.WatchRequest, { createRequest: { key: b("w") } }),
    );
    await new Promise((r) => setTimeout(r, 100));
    const closed = server.close();
    const [p, w] = await Promise.all([put, watch]);
    await closed;
    assert.equal(p.grpcStatus, GrpcStatus.ok, p.grpcMessage);
    assert.deepEqual([w.grpcStatus, w.grpcMessage], [GrpcStatus.unavailable, "etcdserver: server stopped"]);
    const r = backend.store.range({ key: b("k") });
    assert.equal(r.ok && r.value.kvs.length, 1, "the write in flight was applied and acknowledged");
  } finally {
    await server.close();
    backend.close();
  }
});

test("EtcdApiServer.close: a JSON gateway put in flight finishes; requests after the close are refused", async () => {
  // Proves the same graceful stop on the HTTP/1.1 side of the shared port.
  const backend = new SlowPuts();
  const server = new EtcdApiServer({ backend });
  const port = await server.listen(0);
  try {
    const body = JSON.stringify({
      key: Buffer.from("g").toString("base64"),
      value: Buffer.from("v").toString("base64"),
    });
    const put = fetch(`http://127.0.0.1:${port}/v3/kv/put`, { method: "POST", body });
    await new Promise((r) => setTimeout(r, 100));
    const closed = server.close();
    const res = await put;
    assert.equal(res.status, 200);
    await closed;
    const r = backend.store.range({ key: b("g") });
    assert.equal(r.ok && r.value.kvs.length, 1);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/v3/kv/put`, { method: "POST", body }));
  } finally {
    await server.close();
    backend.close();
  }
});
