// Table tests for leases (reference §6): grant, revoke, keepalive, time-to-live, listing, key
// attachment, and the leader-side expiry bookkeeping (promote/extend, expiry order, spreading).
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  MvccErrorCodes as E,
  expiredLeaseRetryMs,
  MvccStore,
  mvccErrorMessages,
} from "../../src/mvcc/mod.js";
import { b, keysOf, must, mustFail } from "./helpers.js";

test("MvccStore leaseGrant: explicit ids, generated ids, and 'lease already exists'", () => {
  // Proves id 0 generates the lowest unused id from a counter, and reusing an id fails with its code.
  const s = new MvccStore();
  assert.equal(must(s.leaseGrant({ id: 0, ttl: 10 })).id, 1);
  assert.equal(must(s.leaseGrant({ id: 2, ttl: 10 })).id, 2);
  assert.equal(must(s.leaseGrant({ id: 0, ttl: 10 })).id, 3, "skips the id taken explicitly");
  const e = mustFail(s.leaseGrant({ id: 2, ttl: 10 }));
  assert.equal(e.code, E.leaseExists);
  assert.equal(e.message, "etcdserver: lease already exists");
  assert.deepEqual(s.leaseLeases().leases, [1, 2, 3]);
});

test("MvccStore leaseGrant: TTL below the minimum is raised; too large is rejected", () => {
  // Proves etcd's minimum lease TTL (2 s by default, configurable) and ErrGRPCLeaseTTLTooLarge.
  const s = new MvccStore();
  assert.equal(must(s.leaseGrant({ id: 0, ttl: 1 })).ttl, 2);
  assert.equal(must(s.leaseGrant({ id: 0, ttl: 0 })).ttl, 2);
  assert.equal(must(s.leaseGrant({ id: 0, ttl: -5 })).ttl, 2);
  assert.equal(must(s.leaseGrant({ id: 0, ttl: 30 })).ttl, 30);
  assert.equal(must(s.leaseGrant({ id: 0, ttl: 9_000_000_000 })).ttl, 9_000_000_000);
  const big = mustFail(s.leaseGrant({ id: 0, ttl: 9_000_000_001 }));
  assert.equal(big.code, E.leaseTtlTooLarge);
  assert.equal(mvccErrorMessages[E.leaseTtlTooLarge], "etcdserver: too large lease TTL");
  const custom = new MvccStore({ limits: { leaseTtlMinSeconds: 5 } });
  assert.equal(must(custom.leaseGrant({ id: 0, ttl: 3 })).ttl, 5);
  // Grants do not touch the KV revision.
  assert.equal(s.currentRevision, 1);
});

test("MvccStore leaseGrant: ids outside [1, 2^53-1] are rejected", () => {
  // Proves the documented lease id range (lease ids are plain numbers in this store).
  const s = new MvccStore();
  assert.equal(mustFail(s.leaseGrant({ id: -1, ttl: 10 })).code, E.invalidLeaseId);
  assert.equal(mustFail(s.leaseGrant({ id: 2 ** 53, ttl: 10 })).code, E.invalidLeaseId);
});

test("MvccStore leaseRevoke: deletes every attached key at one revision, in key order", () => {
  // Proves revoke removes attached keys in one main revision and leaves other keys alone.
  const s = new MvccStore();
  const id = must(s.leaseGrant({ id: 0, ttl: 60 })).id;
  for (const k of ["c", "a", "b"]) must(s.put({ key: b(k), value: b("v"), lease: id }));
  must(s.put({ key: b("free"), value: b("v") }));
  const stream = s.watchHub.newStream();
  stream.watch({ key: b("\0"), rangeEnd: new Uint8Array([0]) });
  const r = must(s.leaseRevoke(id));
  assert.equal(r.revision, 6);
  assert.deepEqual(keysOf(must(s.range({ key: b("\0"), rangeEnd: new Uint8Array([0]) })).kvs), ["free"]);
  const events = stream.take().flatMap((resp) => resp.events);
  assert.deepEqual(
    events.map((e) => `${e.type} ${new TextDecoder().decode(e.kv.key)} ${e.kv.modRevision}`),
    ["delete a 6", "delete b 6", "delete c 6"],
  );
  assert.deepEqual(s.leaseLeases().leases, []);
});

test("MvccStore leaseRevoke: unknown lease is an error; a lease without keys keeps the revision", () => {
  // Proves ErrGRPCLeaseNotFound on revoke and that revoking a keyless lease writes nothing.
  const s = new MvccStore();
  assert.equal(mustFail(s.leaseRevoke(5)).code, E.leaseNotFound);
  const id = must(s.leaseGrant({ id: 0, ttl: 60 })).id;
  assert.equal(must(s.leaseRevoke(id)).revision, 1);
});

test("MvccStore lease attachment: a put without the lease or a delete detaches the key", () => {
  // Proves key-lease attachment follows the latest put, so revoke only deletes keys still attached.
  const s = new MvccStore();
  const l1 = must(s.leaseGrant({ id: 0, ttl: 60 })).id;
  const l2 = must(s.leaseGrant({ id: 0, ttl: 60 })).id;
  must(s.put({ key: b("moved"), value: b("v"), lease: l1 }));
  must(s.put({ key: b("moved"), value: b("v"), lease: l2 }));
  must(s.put({ key: b("plain"), value: b("v"), lease: l1 }));
  must(s.put({ key: b("plain"), value: b("v") }));
  must(s.put({ key: b("gone"), value: b("v"), lease: l1 }));
  must(s.deleteRange({ key: b("gone") }));
  must(s.put({ key: b("gone"), value: b("again") }));
  assert.deepEqual(s.leaseTimeToLive(l1, 0, true).keys, []);
  assert.deepEqual(
    s.leaseTimeToLive(l2, 0, true).keys.map((k) => new TextDecoder().decode(k)),
    ["moved"],
  );
  must(s.leaseRevoke(l1));
  assert.deepEqual(keysOf(must(s.range({ key: b("\0"), rangeEnd: new Uint8Array([0]) })).kvs), [
    "gone",
    "moved",
    "plain",
  ]);
});

test("MvccStore leaseTimeToLive: -1 for unknown, granted TTL and keys for known", () => {
  // Proves etcd's "unknown lease is TTL -1, not an error" and the keys option.
  const s = new MvccStore();
  assert.equal(s.leaseTimeToLive(77, 0).ttl, -1);
  const id = must(s.leaseGrant({ id: 0, ttl: 30 })).id;
  must(s.put({ key: b("k2"), value: b("v"), lease: id }));
  must(s.put({ key: b("k1"), value: b("v"), lease: id }));
  const t = s.leaseTimeToLive(id, 0, true);
  assert.deepEqual([t.ttl, t.grantedTtl], [30, 30], "a follower reports the granted TTL");
  assert.deepEqual(
    t.keys.map((k) => new TextDecoder().decode(k)),
    ["k1", "k2"],
  );
  assert.deepEqual(s.leaseTimeToLive(id, 0).keys, [], "keys only when asked");
});

test("MvccStore leaseKeepAlive: unknown or expired leases answer TTL 0; known ones renew", () => {
  // Proves keepalive semantics on the leader, with the clock injected as monotonic milliseconds.
  const s = new MvccStore();
  const id = must(s.leaseGrant({ id: 0, ttl: 10 })).id;
  s.lessor.promote(0, 1000);
  assert.equal(s.leaseKeepAlive(999, 0).ttl, 0);
  assert.equal(s.leaseTimeToLive(id, 0).ttl, 11, "promote extends by the election timeout");
  assert.equal(s.leaseKeepAlive(id, 5000).ttl, 10);
  assert.equal(s.leaseTimeToLive(id, 5000).ttl, 10);
  assert.equal(s.leaseTimeToLive(id, 9500).ttl, 5);
  assert.deepEqual(s.lessor.expired(14_999, 10), []);
  assert.deepEqual(s.lessor.expired(15_000, 10), [id]);
  assert.equal(s.leaseKeepAlive(id, 15_000).ttl, 0, "an expired lease cannot be renewed");
});

test("Lessor expiry: leases expire in expiry order, and are offered again if the revoke is lost", () => {
  // Proves the leader-side expiry queue: earliest first, bounded by max, retried after the retry interval.
  const s = new MvccStore();
  const a = must(s.leaseGrant({ id: 0, ttl: 30 })).id;
  const c = must(s.leaseGrant({ id: 0, ttl: 10 })).id;
  const d = must(s.leaseGrant({ id: 0, ttl: 20 })).id;
  s.lessor.promote(0, 0);
  assert.deepEqual(s.lessor.expired(60_000, 2), [c, d]);
  assert.deepEqual(s.lessor.expired(60_000, 10), [a]);
  assert.deepEqual(s.lessor.expired(60_000 + expiredLeaseRetryMs - 1, 10), []);
  must(s.leaseRevoke(c));
  assert.deepEqual(s.lessor.expired(60_000 + expiredLeaseRetryMs, 10), [a, d], "same retry time: by id");
});

test("Lessor expiry: a lease granted on the leader is armed by the next clock reading", () => {
  // Proves grants applied without a clock start their TTL at the leader's next time observation.
  const s = new MvccStore();
  s.lessor.promote(0, 0);
  const id = must(s.leaseGrant({ id: 0, ttl: 5 })).id;
  assert.deepEqual(s.lessor.expired(1000, 10), []);
  assert.deepEqual(s.lessor.expired(5999, 10), []);
  assert.deepEqual(s.lessor.expired(6000, 10), [id]);
});

test("Lessor expiry: followers never expire leases; demote stops expiry", () => {
  // Proves only the leader tracks expiry and that demotion forgets it.
  const s = new MvccStore();
  const id = must(s.leaseGrant({ id: 0, ttl: 5 })).id;
  assert.throws(() => s.lessor.expired(1e9, 10), /not the leader/);
  s.lessor.promote(0, 0);
  s.lessor.demote();
  assert.equal(s.leaseTimeToLive(id, 1e9).ttl, 5);
  s.lessor.promote(1e9, 1000);
  assert.deepEqual(s.lessor.expired(1e9 + 5999, 10), []);
  assert.deepEqual(s.lessor.expired(1e9 + 6000, 10), [id]);
});

test("Lessor promote: with many leases, at most 3/4 of the revoke rate expire in any second", () => {
  // Proves etcd's Promote spreading that prevents a mass expiry after a leader change.
  const s = new MvccStore();
  const n = 3000;
  for (let i = 0; i < n; i++) must(s.leaseGrant({ id: 0, ttl: 10 }));
  s.lessor.promote(0, 0, 1000);
  const perSecond = new Map<number, number>();
  let total = 0;
  for (let t = 0; t <= 20_000; t += 1000) {
    const due = s.lessor.expired(t, 1_000_000);
    for (const id of due) must(s.leaseRevoke(id));
    total += due.length;
    perSecond.set(t, due.length);
  }
  assert.equal(total, n);
  for (const [t, count] of perSecond) assert.ok(count <= 750 + 1, `${count} leases expired at ${t} ms`);
});

test("Lessor checkpoint: a new leader resumes from the checkpointed remaining TTL", () => {
  // Proves replicated checkpoints shorten the TTL used on promote, and renew asks to clear them.
  const s = new MvccStore();
  const id = must(s.leaseGrant({ id: 0, ttl: 100 })).id;
  must(
    s.leaseCheckpoint([
      { id, remainingTtl: 7 },
      { id: 999, remainingTtl: 1 },
    ]),
  );
  s.lessor.promote(0, 0);
  assert.equal(s.leaseTimeToLive(id, 0).ttl, 7);
  assert.deepEqual(s.lessor.checkpointsDue(2000, 10), [{ id, remainingTtl: 5 }]);
  const renewed = s.leaseKeepAlive(id, 1000);
  assert.deepEqual([renewed.ttl, renewed.clearCheckpoint], [100, true]);
  must(s.leaseCheckpoint([{ id, remainingTtl: 0 }]));
  assert.equal(s.leaseKeepAlive(id, 2000).clearCheckpoint, false);
});
