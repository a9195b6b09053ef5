// etcd's Lock service (v3lockpb.Lock) over raw gRPC against an in-process server.
import assert from "node:assert/strict";
import { test } from "node:test";
import { GrpcStatus } from "../../../src/api/etcd/grpc/status.js";
import { decodeMessage, encodeMessage } from "../../../src/api/etcd/proto/codec.js";
import { LockD, type LockResponseMsg } from "../../../src/api/etcd/proto/messages.js";
import { b, type RawCall, rawGrpc, startServer, type TestServer, waitFor } from "./helpers.js";

const dec = new TextDecoder();

function lock(
  s: TestServer,
  name: string,
  lease: number,
  headers: Record<string, string> = {},
): Promise<RawCall> {
  return rawGrpc(s.port, "/v3lockpb.Lock/Lock", encodeMessage(LockD.LockRequest, { name: b(name), lease }), {
    headers,
  });
}

function keyOf(call: RawCall): string {
  assert.equal(call.grpcStatus, GrpcStatus.ok, call.grpcMessage);
  const r = decodeMessage<LockResponseMsg>(LockD.LockResponse, call.messages[0] ?? new Uint8Array(0));
  assert.ok(r.ok);
  return dec.decode(r.value.key);
}

async function grant(s: TestServer, ttl = 60): Promise<number> {
  const r = await s.backend.leaseGrant({ id: 0, ttl });
  assert.ok(r.ok);
  return r.value.id;
}

async function keysUnder(s: TestServer, prefix: string): Promise<string[]> {
  const r = await s.backend.range({ key: b(prefix), rangeEnd: b(`${prefix}\xff`) }, { serializable: true });
  assert.ok(r.ok);
  return r.value.kvs.map((kv) => dec.decode(kv.key));
}

test("lock: a second locker waits until the holder unlocks, then owns the lock", async () => {
  // Proves Lock's queue discipline: key name/<lease hex>, the waiter blocks until Unlock deletes
  // the holder's key, and then gets its own key back.
  const s = await startServer();
  try {
    const [la, lb] = [await grant(s), await grant(s)];
    const a = keyOf(await lock(s, "locks/x", la));
    assert.equal(a, `locks/x/${la.toString(16)}`);
    let bDone = false;
    const bCall = lock(s, "locks/x", lb).then((c) => {
      bDone = true;
      return c;
    });
    await waitFor(() => s.backend.store.watchHub.watcherCount === 1, 2000, "the waiter to watch");
    assert.equal(bDone, false);
    const un = await rawGrpc(
      s.port,
      "/v3lockpb.Lock/Unlock",
      encodeMessage(LockD.UnlockRequest, { key: b(a) }),
    );
    assert.equal(un.grpcStatus, GrpcStatus.ok);
    assert.equal(keyOf(await bCall), `locks/x/${lb.toString(16)}`);
    assert.deepEqual(await keysUnder(s, "locks/x/"), [`locks/x/${lb.toString(16)}`]);
    assert.equal(s.backend.store.watchHub.watcherCount, 0);
  } finally {
    await s.close();
  }
});

test("lock: lease 0 grants a 60 s lease; an unknown lease is etcd's lease-not-found", async () => {
  // Proves the lease rules of Lock.
  const s = await startServer();
  try {
    const key = keyOf(await lock(s, "locks/y", 0));
    const id = Number.parseInt(key.slice("locks/y/".length), 16);
    const ttl = await s.backend.leaseTimeToLive(id, true);
    assert.ok(ttl.ok);
    assert.equal(ttl.value.grantedTtl, 60);
    assert.deepEqual(
      ttl.value.keys.map((k) => dec.decode(k)),
      [key],
    );
    const bad = await lock(s, "locks/y", 424242);
    assert.deepEqual(
      [bad.grpcStatus, bad.grpcMessage],
      [GrpcStatus.unknown, "etcdserver: requested lease not found"],
    );
  } finally {
    await s.close();
  }
});

test("lock: a waiter that gives up has its key deleted; a waiter whose lease is revoked gets 'session is expired'", async () => {
  // Proves cleanup on cancellation (deadline) and the re-read of the waiter's own key (etcd #11456).
  const s = await startServer();
  try {
    const [la, lb, lc] = [await grant(s), await grant(s), await grant(s)];
    const a = keyOf(await lock(s, "locks/z", la));
    const timedOut = await lock(s, "locks/z", lb, { "grpc-timeout": "100m" });
    assert.equal(timedOut.grpcStatus, GrpcStatus.deadlineExceeded);
    await waitFor(() => s.backend.store.watchHub.watcherCount === 0, 2000, "the watcher to go");
    assert.deepEqual(await keysUnder(s, "locks/z/"), [a]);
    const cCall = lock(s, "locks/z", lc);
    await waitFor(() => s.backend.store.watchHub.watcherCount === 1, 2000, "the waiter to watch");
    assert.ok((await s.backend.leaseRevoke(lc)).ok);
    assert.ok((await s.backend.deleteRange({ key: b(a) })).ok);
    const c = await cCall;
    assert.deepEqual([c.grpcStatus, c.grpcMessage], [GrpcStatus.unknown, "mutex: session is expired"]);
  } finally {
    await s.close();
  }
});
