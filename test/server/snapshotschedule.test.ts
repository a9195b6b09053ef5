// When members take their local snapshots: etcd's fixed interval, or staggered phases.
import assert from "node:assert/strict";
import { test } from "node:test";
import { snapshotDueIndex, snapshotPhase } from "../../src/server/snapshotschedule.js";

test("snapshotPhase: members spread evenly over the interval by id order", () => {
  const ids = [907, 12, 5000];
  assert.deepEqual(
    ids.map((id) => snapshotPhase(ids, id, 100_000)),
    [33_333, 0, 66_666],
  );
  assert.equal(snapshotPhase([7], 7, 100), 0, "a single member");
  assert.equal(snapshotPhase([1, 2], 9, 100), 0, "not a member (removed): phase 0");
  assert.deepEqual(
    [1, 2, 3, 4, 5].map((id) => snapshotPhase([1, 2, 3, 4, 5], id, 10)),
    [0, 2, 4, 6, 8],
  );
});

test("snapshotDueIndex: unstaggered every count; staggered on the phase, half to one and a half intervals on", () => {
  assert.equal(snapshotDueIndex(0, 100, null), 100);
  assert.equal(snapshotDueIndex(1234, 100, null), 1334);
  // A fresh cluster of three: the members' first snapshots at 100, 133 and 66, then every 100.
  assert.equal(snapshotDueIndex(0, 100, 0), 100);
  assert.equal(snapshotDueIndex(0, 100, 33), 133);
  assert.equal(snapshotDueIndex(0, 100, 66), 66);
  assert.equal(snapshotDueIndex(133, 100, 33), 233);
  // Taken late (the apply loop overshot the due index by 7): the next is back on the phase.
  assert.equal(snapshotDueIndex(240, 100, 33), 333);
  for (let snap = 0; snap < 1000; snap += 7) {
    for (const phase of [0, 1, 49, 50, 51, 99]) {
      const due = snapshotDueIndex(snap, 100, phase);
      assert.equal(due % 100, phase, `snap ${snap} phase ${phase}`);
      assert.ok(due - snap >= 50 && due - snap < 150, `snap ${snap} phase ${phase}: due ${due}`);
    }
  }
  assert.equal(snapshotDueIndex(10, 1, 0), 11, "count 1: every entry");
});
