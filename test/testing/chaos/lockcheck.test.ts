// The lock / fencing checker on hand-written holds: a clean handover and a lease-loss handover
// are valid; overlapping holders, decreasing or duplicated tokens and lost counter updates are not.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { LockHold } from "../../../src/testing/chaos/history.js";
import { checkLocks } from "../../../src/testing/chaos/lockcheck.js";

const ms = 1e6;

/** A hold of `client` with `token`, from `t0` to `t1` ms, that bumped the counter from `read`. */
function hold(
  client: number,
  token: number,
  t0: number,
  t1: number | null,
  read: number,
  extra: Partial<LockHold> = {},
): LockHold {
  return {
    client,
    lease: String(1000 + client),
    token,
    acquired: t0 * ms,
    released: t1 === null ? null : t1 * ms,
    leaseLostAt: null,
    counterRead: read,
    counterWritten: read + 1,
    writeOutcome: "ok",
    ...extra,
  };
}

test("checkLocks: holders one after another with increasing tokens are valid", () => {
  // Proves the normal case: disjoint holds, tokens and counter increasing, a failed write and an
  // unknown one (which took effect) in between.
  const holds = [
    hold(1, 10, 0, 5, 0),
    hold(2, 12, 6, 9, 1, { counterWritten: null, writeOutcome: "fail" }),
    hold(3, 15, 10, 12, 1, { counterWritten: null, writeOutcome: "unknown" }),
    hold(1, 20, 13, 20, 2),
    hold(2, 21, 21, null, 3),
  ];
  const r = checkLocks(holds);
  assert.equal(r.verdict, "valid", JSON.stringify(r.anomalies));
  assert.equal(r.holds, 5);
  assert.equal(r.writes, 3);
});

test("checkLocks: two holds overlapping without a lost lease are invalid", () => {
  // Proves mutual exclusion: the lock granted to client 2 while client 1 still held it.
  const r = checkLocks([hold(1, 10, 0, 10, 0), hold(2, 11, 5, 12, 1)]);
  assert.deepEqual(
    r.anomalies.map((a) => a.kind),
    ["overlap"],
  );
  assert.match(r.anomalies[0]?.message ?? "", /client 2 \(token 11.*while client 1 \(token 10/);
  const slowUnlock = checkLocks([hold(1, 10, 0, 10, 0, { releaseInvoked: 4 * ms }), hold(2, 11, 5, 12, 1)]);
  assert.equal(slowUnlock.verdict, "valid", "the hold ends when Unlock was sent, if recorded");
});

test("checkLocks: a handover after the holder lost its lease is valid", () => {
  // Proves the lease-expiry exception: the first holder's key may have expired, so the next
  // grant is legitimate, and the tokens order the two holds.
  const lost = hold(1, 10, 0, 10, 0, { leaseLostAt: 7 * ms, counterWritten: null, writeOutcome: "fail" });
  const r = checkLocks([lost, hold(2, 11, 5, 12, 0)]);
  assert.equal(r.verdict, "valid", JSON.stringify(r.anomalies));
  assert.equal(r.stale, 1);
  const staleGrant = hold(1, 9, 8, 9, 0, {
    leaseLostAt: 8.5 * ms,
    counterRead: null,
    counterWritten: null,
    writeOutcome: null,
  });
  assert.equal(
    checkLocks([hold(2, 11, 5, 7, 0), staleGrant]).verdict,
    "valid",
    "a late answer for an expired key",
  );
});

test("checkLocks: tokens that decrease in acquisition order, or repeat, are invalid", () => {
  // Proves fencing tokens strictly increase in acquisition order and are unique per lease.
  const r = checkLocks([hold(1, 20, 0, 5, 0), hold(2, 15, 6, 9, 1)]);
  assert.deepEqual(
    r.anomalies.map((a) => a.kind),
    ["token-order", "counter-unwritten", "counter-backwards"],
    "in token order, 15 read a value only 20 wrote, and 20 read below 15's write",
  );
  const dup = checkLocks([hold(1, 20, 0, 5, 0), hold(2, 20, 6, 9, 1)]);
  assert.deepEqual(
    dup.anomalies.map((a) => a.kind),
    ["token-duplicate"],
  );
  const sameLease = checkLocks([hold(1, 20, 0, 5, 0), hold(1, 20, 6, 9, 1)]);
  assert.equal(sameLease.verdict, "valid", "a lease may be granted its own key again");
});

test("checkLocks: lost counter updates are invalid", () => {
  // Proves the counter rules: two holders writing the same value, a read older than an earlier
  // holder's write, and a read of a value nobody wrote.
  const twice = checkLocks([hold(1, 10, 0, 5, 0), hold(2, 11, 6, 9, 0)]);
  assert.deepEqual(
    twice.anomalies.map((a) => a.kind),
    ["counter-backwards", "counter-duplicate"],
  );
  const back = checkLocks([
    hold(1, 10, 0, 5, 0),
    hold(2, 11, 6, 9, 1),
    hold(3, 12, 10, 12, 1, { counterWritten: null, writeOutcome: "fail" }),
  ]);
  assert.deepEqual(
    back.anomalies.map((a) => a.kind),
    ["counter-backwards"],
  );
  const fromNowhere = checkLocks([hold(1, 10, 0, 5, 0), hold(2, 11, 6, 9, 7)]);
  assert.deepEqual(
    fromNowhere.anomalies.map((a) => a.kind),
    ["counter-unwritten"],
  );
  const fromLater = checkLocks([
    hold(1, 10, 0, 5, 1, { counterWritten: null, writeOutcome: "fail" }),
    hold(2, 11, 6, 9, 0),
  ]);
  assert.deepEqual(
    fromLater.anomalies.map((a) => a.kind),
    ["counter-unwritten"],
    "a read cannot see a later holder's write",
  );
  assert.throws(() => checkLocks([hold(1, 10, 0, 5, 0, { counterWritten: 5 })]), /read 0 and wrote 5/);
});
