// The HTTP/1.1 side of the client port: etcd's /v3 JSON gateway and /version, /health, /metrics.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { JsonValueSplitter } from "../../../src/api/etcd/gateway.js";
import { startServer, type TestServer, waitFor } from "./helpers.js";

let srv: TestServer;
const b64 = (s: string) => Buffer.from(s).toString("base64");

async function post(path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(`http://${srv.endpoint}${path}`, {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
}

before(async () => {
  srv = await startServer();
});
after(async () => {
  await srv.close();
});

test("gateway: /v3/kv put, range, deleterange and txn speak etcd's JSON (snake_case, int64 strings, base64)", async () => {
  // Proves the KV paths with etcd's JSON shapes, and that request fields may use either name style.
  const put = await post("/v3/kv/put", { key: b64("foo"), value: b64("bar") });
  assert.equal(put.status, 200);
  const h = srv.backend.header();
  assert.deepEqual(put.json, {
    header: {
      cluster_id: h.clusterId.toString(),
      member_id: h.memberId.toString(),
      revision: "2",
      raft_term: "1",
    },
  });
  await post("/v3/kv/put", { key: b64("fop"), value: b64("x") });
  const range = await post("/v3/kv/range", { key: b64("fo"), rangeEnd: b64("fp"), limit: 1 });
  assert.deepEqual(range.json.kvs, [
    { key: b64("foo"), create_revision: "2", mod_revision: "2", version: "1", value: b64("bar") },
  ]);
  assert.equal(range.json.more, true);
  assert.equal(range.json.count, "2");
  const txn = await post("/v3/kv/txn", {
    compare: [{ target: "VALUE", key: b64("foo"), value: b64("bar") }],
    success: [{ request_put: { key: b64("t"), value: b64("1") } }],
  });
  assert.equal(txn.json.succeeded, true);
  assert.deepEqual((txn.json.responses as unknown[]).length, 1);
  const del = await post("/v3/kv/deleterange", { key: b64("fo"), range_end: b64("fp"), prev_kv: true });
  assert.equal(del.json.deleted, "2");
  assert.equal((del.json.prev_kvs as unknown[]).length, 2);
});

test("gateway: leases, including the /v3/kv/lease aliases", async () => {
  // Proves the Lease paths and etcd's additional bindings.
  const grant = await post("/v3/lease/grant", { TTL: "60" });
  assert.equal(grant.json.TTL, "60");
  const id = grant.json.ID as string;
  const ttl = await post("/v3/kv/lease/timetolive", { ID: id, keys: true });
  assert.equal(ttl.json.grantedTTL, "60");
  const list = await post("/v3/lease/leases", {});
  assert.deepEqual(list.json.leases, [{ ID: id }]);
  const revoke = await post("/v3/kv/lease/revoke", { ID: id });
  assert.equal(revoke.status, 200);
  const again = await post("/v3/lease/revoke", { ID: id });
  assert.deepEqual(
    [again.status, again.json],
    [
      404,
      {
        error: "etcdserver: requested lease not found",
        code: 5,
        message: "etcdserver: requested lease not found",
      },
    ],
  );
});

test('gateway: /v3/watch streams one {"result": …} JSON object per line', async () => {
  // Proves the streaming gateway: created first, then events, until the client disconnects.
  const ac = new AbortController();
  const res = await fetch(`http://${srv.endpoint}/v3/watch`, {
    method: "POST",
    body: JSON.stringify({ create_request: { key: b64("w") } }),
    signal: ac.signal,
  });
  const reader = res.body?.getReader();
  assert.ok(reader !== undefined);
  let text = "";
  const lines = (): string[] => text.split("\n").filter((l) => l !== "");
  const pump = (async () => {
    const dec = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      text += dec.decode(value);
    }
  })().catch(() => {});
  try {
    await waitFor(() => lines().length === 1, 3000, "created");
    await post("/v3/kv/put", { key: b64("w"), value: b64("1") });
    await waitFor(() => lines().length === 2, 3000, "event");
    const [created, event] = lines().map((l) => JSON.parse(l) as { result: Record<string, unknown> });
    assert.equal(created?.result.created, true);
    assert.deepEqual(((event?.result.events ?? []) as unknown[])[0], {
      kv: { key: b64("w"), create_revision: "6", mod_revision: "6", version: "1", value: b64("1") },
    });
  } finally {
    ac.abort();
    await pump;
  }
  await waitFor(() => srv.backend.store.watchHub.watcherCount === 0, 3000, "the watcher to go away");
});

test("gateway: errors use grpc-gateway's body and HTTP status; bad JSON is 400", async () => {
  // Proves error mapping on HTTP: etcd's message text, the gRPC code, the HTTP status.
  const future = await post("/v3/kv/range", { key: b64("a"), revision: "1000" });
  assert.equal(future.status, 400);
  assert.deepEqual(future.json, {
    error: "etcdserver: mvcc: required revision is a future revision",
    code: 11,
    message: "etcdserver: mvcc: required revision is a future revision",
  });
  const badJson = await post("/v3/kv/range", "{nope");
  assert.deepEqual([badJson.status, badJson.json.code], [400, 3]);
  const badField = await post("/v3/kv/range", { key: b64("a"), nope: 1 });
  assert.deepEqual([badField.status, badField.json.code], [400, 3]);
  const empty = await post("/v3/kv/put", {});
  assert.equal(empty.json.message, "etcdserver: key is not provided");
  const missing = await fetch(`http://${srv.endpoint}/v3/nope`, { method: "POST", body: "{}" });
  assert.equal(missing.status, 404);
  const get = await fetch(`http://${srv.endpoint}/v3/kv/range`);
  assert.equal(get.status, 405);
  const unimplemented = await post("/v3/maintenance/downgrade", {});
  assert.deepEqual([unimplemented.status, unimplemented.json.code], [501, 12]);
});

test("gateway: GET /version, /health and /metrics", async () => {
  // Proves the plain endpoints clients and monitoring use, with etcd's exact /version body.
  const v = await fetch(`http://${srv.endpoint}/version`);
  assert.equal(await v.text(), '{"etcdserver":"3.5.0","etcdcluster":"3.5.0"}');
  const h = await fetch(`http://${srv.endpoint}/health`);
  assert.deepEqual([h.status, await h.json()], [200, { health: "true", reason: "" }]);
  const m = await fetch(`http://${srv.endpoint}/metrics`);
  assert.match(await m.text(), /^process_resident_memory_bytes \d+$/m);
  await srv.backend.alarm({ action: "activate", memberId: 0, alarm: "noSpace" });
  const sick = await fetch(`http://${srv.endpoint}/health`);
  assert.deepEqual([sick.status, await sick.json()], [503, { health: "false", reason: "ALARM NOSPACE" }]);
  await srv.backend.alarm({ action: "deactivate", memberId: 0, alarm: "noSpace" });
});

test("gateway: JsonValueSplitter splits concatenated JSON values across chunk boundaries", () => {
  // Proves the streaming request body parser: braces inside strings and split chunks.
  const s = new JsonValueSplitter();
  assert.deepEqual(s.push('{"a":"}{"}{"b'), ['{"a":"}{"}']);
  assert.equal(s.pending, true);
  assert.deepEqual(s.push('":1}\n{"c":[{}]}'), ['{"b":1}', '{"c":[{}]}']);
  assert.equal(s.pending, false);
});
