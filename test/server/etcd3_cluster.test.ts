// The npm `etcd3` client (grpc-js) against a real three-member Synod cluster (separate processes
// on 127.0.0.1), with all three endpoints given to the client. One cluster serves the whole
// file; every client is closed and every process killed in `after`.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Etcd3, EtcdLeaseInvalidError, EtcdLockFailedError, GRPCInvalidArgumentError } from "etcd3";
import { type ProcessCluster, type ProcessMember, waitFor } from "../../src/testing/procs.js";
import { foundersOf, sleep, startThree, within } from "./clusterhelpers.js";

let c: ProcessCluster;
let m1: ProcessMember;
let m2: ProcessMember;
let m3: ProcessMember;
/** A client given all three endpoints. */
let client: Etcd3;
const clients: Etcd3[] = [];

/** A client of the given members (all three unless told), closed in `after`. */
function clientOf(members: readonly ProcessMember[] = [m1, m2, m3]): Etcd3 {
  const e = new Etcd3({ hosts: members.map((m) => `127.0.0.1:${m.clientPort}`) });
  clients.push(e);
  return e;
}

before(async () => {
  c = await startThree();
  [m1, m2, m3] = foundersOf(c);
  client = clientOf();
});

after(async () => {
  for (const e of clients) e.close();
  await c?.destroy();
});

test("etcd3 on a cluster: put, get, getAll with prefix and sort, delete; each member reads the same", async () => {
  // Proves the KV service through grpc-js on real processes, and that a write through any member
  // is visible on every member.
  await client.put("kv/b").value("2");
  await client.put("kv/a").value("1");
  await client.put("kv/c").value("3");
  for (const m of [m1, m2, m3]) {
    const one = clientOf([m]);
    assert.equal(await one.get("kv/a").string(), "1", `get on ${m.name}`);
    assert.deepEqual(
      await one.getAll().prefix("kv/").keys(),
      ["kv/a", "kv/b", "kv/c"],
      `prefix on ${m.name}`,
    );
  }
  assert.deepEqual(await client.getAll().prefix("kv/").sort("Value", "Descend").limit(2).strings(), {
    "kv/c": "3",
    "kv/b": "2",
  });
  assert.equal(await client.getAll().prefix("kv/").count(), 3);
  const del = await client.delete().key("kv/b").exec();
  assert.equal(del.deleted, "1");
  assert.equal(await clientOf([m3]).get("kv/b").string(), null);
  const all = await client.delete().prefix("kv/").exec();
  assert.equal(all.deleted, "2");
  assert.equal(await clientOf([m2]).getAll().prefix("kv/").count(), 0);
});

test("etcd3 on a cluster: the txn builder compares and takes the then or else branch atomically", async () => {
  // Proves Txn compare/then/else through etcd3's comparator builder on replicated state.
  await client.put("tx/a").value("1");
  const yes = await client
    .if("tx/a", "Value", "==", "1")
    .then(client.put("tx/t").value("yes"))
    .else(client.put("tx/t").value("no"))
    .commit();
  assert.equal(yes.succeeded, true);
  assert.equal(await clientOf([m1]).get("tx/t").string(), "yes");
  const no = await client
    .if("tx/a", "Version", ">", 5)
    .then(client.put("tx/t").value("yes"))
    .else(client.put("tx/t").value("no"), client.delete().key("tx/a"))
    .commit();
  assert.equal(no.succeeded, false);
  assert.equal(await clientOf([m2]).get("tx/t").string(), "no");
  assert.equal(await clientOf([m3]).get("tx/a").string(), null);
  const created = await client.if("tx/new", "Create", "==", 0).then(client.put("tx/new").value("x")).commit();
  assert.equal(created.succeeded, true);
  const again = await client.if("tx/new", "Create", "==", 0).then(client.put("tx/new").value("y")).commit();
  assert.equal(again.succeeded, false);
  assert.equal(await client.get("tx/new").string(), "x");
});

test("etcd3 on a cluster: a watch on one member receives the puts and deletes made through the others", async () => {
  // Proves the Watch stream across members: events with previous values, in commit order.
  const watcher = clientOf([m1]);
  const seen: string[] = [];
  const w = await watcher.watch().prefix("w/").withPreviousKV().create();
  w.on("put", (kv, prev) =>
    seen.push(`put ${kv.key.toString()}=${kv.value.toString()} prev=${prev?.value.toString() ?? "-"}`),
  );
  w.on("delete", (kv) => seen.push(`delete ${kv.key.toString()}`));
  await clientOf([m2]).put("w/x").value("1");
  await clientOf([m3]).put("w/x").value("2");
  await clientOf([m2]).put("w/y").value("3");
  await clientOf([m3]).delete().key("w/x");
  await waitFor("four events", () => Promise.resolve(seen.length >= 4), 5000);
  await sleep(100);
  assert.deepEqual(seen, ["put w/x=1 prev=-", "put w/x=2 prev=1", "put w/y=3 prev=-", "delete w/x"]);
  await w.cancel();
});

test("etcd3 on a cluster: a kept-alive lease holds its key past its TTL; revoke removes it; an unrenewed one expires", async () => {
  // Proves the KeepAlive stream on a real cluster (forwarded to the leader from followers), the
  // leader expiring an unrenewed lease, and Revoke deleting the lease's keys on every member.
  const kept = client.lease(2);
  const keptId = await kept.grant();
  await kept.put("l/kept").value("v");
  const unrenewed = client.lease(2, { autoKeepAlive: false });
  await unrenewed.grant();
  await unrenewed.put("l/unrenewed").value("v");
  await sleep(4500);
  for (const m of [m1, m2, m3]) {
    const one = clientOf([m]);
    assert.equal(await one.get("l/kept").string(), "v", `kept-alive key on ${m.name}`);
    assert.equal(await one.get("l/unrenewed").string(), null, `expired key on ${m.name}`);
  }
  await kept.revoke();
  for (const m of [m1, m2, m3]) assert.equal(await clientOf([m]).get("l/kept").string(), null);
  await assert.rejects(client.put("l/again").value("v").lease(keptId).exec(), EtcdLeaseInvalidError);
});

test("etcd3 on a cluster: the Lock recipe keeps two competing clients' critical sections exclusive", async () => {
  // Proves mutual exclusion with etcd3's client-side lock (lease + create_revision==0 txn): two
  // clients each increment a shared counter under the lock; no section overlaps and no increment
  // is lost.
  const rounds = 8;
  let inside = 0;
  let overlaps = 0;
  const deadline = Date.now() + 30_000;
  const worker = async (e: Etcd3): Promise<void> => {
    for (let i = 0; i < rounds; i++) {
      const lock = e.lock("locks/counter").ttl(10);
      for (;;) {
        try {
          await lock.acquire();
          break;
        } catch (err) {
          if (!(err instanceof EtcdLockFailedError)) throw err;
          if (Date.now() > deadline) throw new Error("lock not acquired within 30 s");
          await sleep(10 + Math.floor(Math.random() * 20));
        }
      }
      inside++;
      if (inside !== 1) overlaps++;
      const n = Number((await e.get("locks/value").string()) ?? "0");
      await sleep(5);
      await e.put("locks/value").value(String(n + 1));
      inside--;
      await lock.release();
    }
  };
  await Promise.all([worker(clientOf()), worker(clientOf())]);
  assert.equal(overlaps, 0, "two clients held the lock at once");
  assert.equal(await client.get("locks/value").string(), String(2 * rounds));
  assert.equal(await client.getAll().prefix("locks/counter").count(), 0, "every lock key released");
});

test("etcd3 on a cluster: the Election recipe elects one campaigner at a time and an observer follows", async () => {
  // Proves etcd3's client-side election across clients: the second campaigner is elected only
  // after the first resigns, and an observer reports each leader.
  const election = (e: Etcd3) => e.election("jobs", 10);
  const a = election(clientOf()).campaign("alpha");
  await a.wait();
  const observer = await election(clientOf()).observe();
  const changes: (string | undefined)[] = [];
  observer.on("change", (v) => changes.push(v));
  assert.equal(observer.leader(), "alpha");
  const b = election(clientOf()).campaign("beta");
  let bElected = false;
  b.on("elected", () => {
    bElected = true;
  });
  await sleep(1000);
  assert.equal(bElected, false, "the second campaigner waits while the first leads");
  assert.equal(await election(client).leader(), "alpha");
  await a.resign();
  await within(b.wait(), 5000, "beta elected");
  await waitFor("the observer to see beta", () => Promise.resolve(observer.leader() === "beta"), 5000);
  assert.equal(changes.at(-1), "beta");
  assert.equal(await election(client).leader(), "beta");
  await b.resign();
  await observer.cancel();
});

test("etcd3 on a cluster: bad input gets etcd's errors and the cluster keeps serving", async () => {
  // Proves an oversized value is refused with "request is too large" and an unknown lease with
  // "requested lease not found" (typed by etcd3 from the message), then normal service.
  await assert.rejects(client.put("big").value("x".repeat(1_600_000)).exec(), (e: unknown) => {
    assert.ok(e instanceof GRPCInvalidArgumentError, String(e));
    assert.match(e.message, /etcdserver: request is too large/);
    return true;
  });
  for (const m of [m1, m2, m3]) {
    await assert.rejects(clientOf([m]).leaseClient.leaseRevoke({ ID: "12345" }), (e: unknown) => {
      assert.ok(e instanceof EtcdLeaseInvalidError, String(e));
      assert.match(e.message, /etcdserver: requested lease not found/);
      return true;
    });
  }
  await assert.rejects(client.put("bad").value("v").lease("12345").exec(), EtcdLeaseInvalidError);
  await client.put("after").value("ok");
  for (const m of [m1, m2, m3]) assert.equal(await clientOf([m]).get("after").string(), "ok");
  assert.equal(await client.get("big").string(), null);
});
