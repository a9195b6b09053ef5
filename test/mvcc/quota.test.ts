// Tests for limits, the storage quota and alarms (reference §7.2, §11): the NOSPACE alarm and what
// stays allowed under it, the CORRUPT alarm, alarm actions, and key/value size limits.
import assert from "node:assert/strict";
import { test } from "node:test";
import { MvccErrorCodes as E, MvccStore, mvccErrorMessages } from "../../src/mvcc/mod.js";
import { b, must, mustFail } from "./helpers.js";

test("MvccStore quota: exceeding the quota raises NOSPACE; only reads, deletes, compaction and revokes pass", () => {
  // Proves etcd's NOSPACE behaviour: the write that would exceed the quota fails and raises the
  // alarm; afterwards puts, txns with puts and lease grants fail, while other requests still work.
  const s = new MvccStore({ limits: { quotaBytes: 10_000 } });
  const lease = must(s.leaseGrant({ id: 0, ttl: 60 })).id;
  must(s.put({ key: b("leased"), value: b("v"), lease }));
  let i = 0;
  for (; i < 1000; i++) {
    const r = s.put({ key: b(`k${i}`), value: new Uint8Array(500) });
    if (!r.ok) {
      assert.equal(r.error.code, E.noSpace);
      break;
    }
  }
  assert.ok(i > 5 && i < 30, `quota hit after ${i} puts`);
  assert.deepEqual(s.alarms, [{ memberId: 0, alarm: "noSpace" }]);
  assert.equal(mvccErrorMessages[E.noSpace], "etcdserver: mvcc: database space exceeded");
  // Even a tiny put is refused while the alarm is active.
  assert.equal(mustFail(s.put({ key: b("tiny"), value: b("") })).code, E.noSpace);
  const txnWithPut = {
    compare: [],
    success: [],
    failure: [{ type: "put" as const, request: { key: b("x") } }],
  };
  assert.equal(mustFail(s.txn(txnWithPut)).code, E.noSpace, "a put in any branch counts");
  assert.equal(mustFail(s.leaseGrant({ id: 0, ttl: 10 })).code, E.noSpace);
  // Reads, deletes, read-only txns, compaction and revokes work.
  must(s.range({ key: b("k0") }));
  must(s.txn({ compare: [], success: [{ type: "range", request: { key: b("k0") } }], failure: [] }));
  must(s.deleteRange({ key: b("k0"), rangeEnd: b("k9") }));
  must(s.compact(s.currentRevision));
  must(s.leaseRevoke(lease));
  // Disarming lets writes through again once there is room.
  must(s.alarm({ action: "deactivate", memberId: 0, alarm: "noSpace" }));
  must(s.put({ key: b("after"), value: b("v") }));
});

test("MvccStore alarm: get, activate and deactivate", () => {
  // Proves alarm listing by type, idempotent activation and deactivation by member.
  const s = new MvccStore();
  assert.deepEqual(must(s.alarm({ action: "activate", memberId: 2, alarm: "noSpace" })).alarms, [
    { memberId: 2, alarm: "noSpace" },
  ]);
  must(s.alarm({ action: "activate", memberId: 2, alarm: "noSpace" }));
  must(s.alarm({ action: "activate", memberId: 1, alarm: "noSpace" }));
  assert.deepEqual(must(s.alarm({ action: "activate", memberId: 1, alarm: "none" })).alarms, []);
  assert.deepEqual(must(s.alarm({ action: "get", memberId: 0, alarm: "none" })).alarms, [
    { memberId: 1, alarm: "noSpace" },
    { memberId: 2, alarm: "noSpace" },
  ]);
  assert.deepEqual(must(s.alarm({ action: "get", memberId: 0, alarm: "corrupt" })).alarms, []);
  assert.deepEqual(must(s.alarm({ action: "deactivate", memberId: 2, alarm: "noSpace" })).alarms, [
    { memberId: 2, alarm: "noSpace" },
  ]);
  assert.equal(s.alarms.length, 1);
  assert.equal(
    mustFail(s.put({ key: b("k"), value: b("v") })).code,
    E.noSpace,
    "an operator-raised NOSPACE also blocks",
  );
});

test("MvccStore alarm: CORRUPT refuses every KV and lease request", () => {
  // Proves etcd's corrupt applier: everything fails with 'corrupt cluster' until disarmed.
  const s = new MvccStore();
  must(s.put({ key: b("k"), value: b("v") }));
  must(s.alarm({ action: "activate", memberId: 1, alarm: "corrupt" }));
  assert.equal(mustFail(s.range({ key: b("k") })).code, E.corrupt);
  assert.equal(mustFail(s.put({ key: b("k"), value: b("v") })).code, E.corrupt);
  assert.equal(mustFail(s.deleteRange({ key: b("k") })).code, E.corrupt);
  assert.equal(mustFail(s.txn({ compare: [], success: [], failure: [] })).code, E.corrupt);
  assert.equal(mustFail(s.compact(2)).code, E.corrupt);
  assert.equal(mustFail(s.leaseGrant({ id: 0, ttl: 5 })).code, E.corrupt);
  assert.equal(mvccErrorMessages[E.corrupt], "etcdserver: corrupt cluster");
  must(s.alarm({ action: "deactivate", memberId: 1, alarm: "corrupt" }));
  must(s.range({ key: b("k") }));
});

test("MvccStore limits: keys and values over their byte limits are 'request is too large'", () => {
  // Proves the key and value size limits map to etcd's ErrGRPCRequestTooLarge, also inside txns.
  const s = new MvccStore({ limits: { keyBytesMax: 8, valueBytesMax: 16 } });
  must(s.put({ key: b("12345678"), value: new Uint8Array(16) }));
  assert.equal(mustFail(s.put({ key: b("123456789"), value: b("") })).code, E.requestTooLarge);
  assert.equal(mustFail(s.put({ key: b("k"), value: new Uint8Array(17) })).code, E.requestTooLarge);
  const r = s.txn({
    compare: [],
    success: [{ type: "put", request: { key: b("k"), value: new Uint8Array(17) } }],
    failure: [],
  });
  assert.equal(mustFail(r).code, E.requestTooLarge);
  assert.throws(
    () => new MvccStore({ limits: { txnOpsMax: 0 } }),
    /'txnOpsMax' must be a positive integer, got 0/,
  );
});
