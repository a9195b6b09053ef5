// The npm `etcd3` client (grpc-js) against an in-process Synod API server over a LocalBackend
// whose lease clock the tests drive.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Etcd3, EtcdLeaseInvalidError, EtcdLockFailedError } from "etcd3";
import { startServer, type TestServer, waitFor } from "./helpers.js";

let srv: TestServer;
let client: Etcd3;
let nowMs = 1_000_000;

before(async () => {
  srv = await startServer({ nowMs: () => nowMs, timers: false });
  client = new Etcd3({ hosts: srv.endpoint });
});
after(async () => {
  client.close();
  await srv.close();
});

test("etcd3: put, get, getAll with prefix and sort, delete, count", async () => {
  // Proves the KV service through grpc-js and etcd3's builders.
  await client.put("kv/b").value("2");
  await client.put("kv/a").value("1");
  await client.put("kv/c").value("3");
  assert.equal(await client.get("kv/a").string(), "1");
  assert.deepEqual(await client.getAll().prefix("kv/").keys(), ["kv/a", "kv/b", "kv/c"]);
  assert.deepEqual(await client.getAll().prefix("kv/").sort("Value", "Descend").limit(2).strings(), {
    "kv/c": "3",
    "kv/b": "2",
  });
  assert.equal(await client.getAll().prefix("kv/").count(), 3);
  const del = await client.delete().key("kv/b").exec();
  assert.equal(del.deleted, "1");
  assert.equal(await client.get("kv/b").string(), null);
});

test("etcd3: txn builder compares and chooses a branch atomically", async () => {
  // Proves Txn compare/then/else through etcd3's comparator builder.
  const yes = await client
    .if("kv/a", "Value", "==", "1")
    .then(client.put("kv/t").value("yes"))
    .else(client.put("kv/t").value("no"))
    .commit();
  assert.equal(yes.succeeded, true);
  const no = await client
    .if("kv/a", "Version", ">", 5)
    .then(client.put("kv/t").value("yes"))
    .else(client.put("kv/t").value("no"))
    .commit();
  assert.equal(no.succeeded, false);
  assert.equal(await client.get("kv/t").string(), "no");
  const created = await client.if("kv/new", "Create", "==", 0).then(client.put("kv/new").value("x")).commit();
  assert.equal(created.succeeded, true);
});

test("etcd3: watch builder receives puts with previous values and deletes, and replays from a revision", async () => {
  // Proves the Watch stream with prev_kv and a historical start revision.
  const seen: string[] = [];
  const w = await client.watch().prefix("w/").withPreviousKV().create();
  w.on("put", (kv, prev) =>
    seen.push(`put ${kv.key.toString()}=${kv.value.toString()} prev=${prev?.value.toString() ?? "-"}`),
  );
  w.on("delete", (kv) => seen.push(`delete ${kv.key.toString()}`));
  const first = await client.put("w/x").value("1").exec();
  await client.put("w/x").value("2");
  await client.delete().key("w/x");
  await waitFor(() => seen.length === 3, 5000, "three events");
  assert.deepEqual(seen, ["put w/x=1 prev=-", "put w/x=2 prev=1", "delete w/x"]);
  await w.cancel();
  const replayed: string[] = [];
  const r = await client.watch().key("w/x").startRevision(first.header.revision).create();
  r.on("put", (kv) => replayed.push(kv.value.toString()));
  await waitFor(() => replayed.length === 2, 5000, "replayed events");
  assert.deepEqual(replayed, ["1", "2"]);
  await r.cancel();
});

test("etcd3: leases keep alive over the KeepAlive stream and expire without it", async () => {
  // Proves LeaseGrant, the bidi KeepAlive stream (etcd3 renews every TTL/3), TimeToLive and expiry
  // with keys deleted, driven by the backend's injected clock.
  const lease = client.lease(3);
  const id = await lease.grant();
  await lease.put("l/k").value("v");
  const renewed = new Promise<void>((resolve) => lease.once("keepaliveSucceeded", () => resolve()));
  await renewed;
  nowMs += 2500;
  assert.equal(srv.backend.expireLeases(), 0, "within the TTL of the last renewal");
  const ttl = await srv.backend.leaseTimeToLive(Number(id), true);
  assert.ok(ttl.ok && ttl.value.ttl >= 0 && ttl.value.keys.length === 1);
  lease.release();
  nowMs += 10_000;
  assert.equal(srv.backend.expireLeases(), 1);
  assert.equal(await client.get("l/k").string(), null);
  await assert.rejects(client.put("l/k2").value("v").lease(id).exec(), EtcdLeaseInvalidError);
});

test("etcd3: Lock recipe — a competing client is refused while the lock is held, then gets it", async () => {
  // Proves etcd3's client-side lock (lease + create_revision==0 txn) with two competing clients:
  // exactly one holds it at a time.
  const other = new Etcd3({ hosts: srv.endpoint });
  try {
    const a = client.lock("locks/x").ttl(30);
    await a.acquire();
    await assert.rejects(other.lock("locks/x").ttl(30).acquire(), EtcdLockFailedError);
    await a.release();
    const b = other.lock("locks/x").ttl(30);
    await b.acquire();
    await assert.rejects(client.lock("locks/x").ttl(30).acquire(), EtcdLockFailedError);
    await b.release();
  } finally {
    other.close();
  }
});

test("etcd3: errors arrive as etcd's texts (typed by etcd3 from the message)", async () => {
  // Proves clients can classify our errors exactly as etcd's.
  await assert.rejects(client.put("e").value("v").lease("999").exec(), EtcdLeaseInvalidError);
  await assert.rejects(client.get("kv/a").revision(100000).exec(), (e: unknown) => {
    assert.ok(e instanceof Error);
    assert.match(e.message, /etcdserver: mvcc: required revision is a future revision/);
    return true;
  });
});
