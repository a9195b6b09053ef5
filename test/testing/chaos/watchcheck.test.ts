// The watch checker on hand-written observations: agreeing observers are valid; a gap, a
// reorder, a divergent event at one revision, a duplicate and an event from nowhere are caught;
// a compacted notice excuses the missing history before the compact revision.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { WatchEvent, WatchObservation } from "../../../src/testing/chaos/history.js";
import {
  appendWriteCheck,
  checkWatches,
  combineWriteChecks,
  registerWriteCheck,
} from "../../../src/testing/chaos/watchcheck.js";
import { AppendHistory, RegisterHistory } from "./histories.js";

function put(revision: number, key: string, value: string): WatchEvent {
  return { revision, key, type: "put", value, modRevision: revision };
}

function del(revision: number, key: string): WatchEvent {
  return { revision, key, type: "delete", value: null, modRevision: revision };
}

function obs(
  watcher: number,
  startRevision: number,
  lastRevision: number,
  events: WatchEvent[],
  extra: Partial<WatchObservation> = {},
): WatchObservation {
  return { watcher, prefix: "", startRevision, events, compactedAt: null, lastRevision, ...extra };
}

/** Revisions 2..6: a txn of two keys at 4, a delete at 6. */
const all = [
  put(2, "a", "1"),
  put(3, "b", "1"),
  put(4, "a", "2"),
  put(4, "b", "2"),
  put(5, "c", "1"),
  del(6, "a"),
];

test("checkWatches: observers that agree, from different start revisions and prefixes, are valid", () => {
  // Proves overlapping ranges, a txn's several keys at one revision, prefixes and an observer
  // whose range ends early are all accepted when nothing is missing.
  const r = checkWatches([
    obs(1, 1, 6, all),
    obs(2, 4, 6, all.slice(2)),
    obs(3, 2, 3, all.slice(0, 2)),
    obs(
      4,
      1,
      6,
      all.filter((e) => e.key === "b"),
      { prefix: "b" },
    ),
    obs(5, 7, 6, []),
  ]);
  assert.equal(r.verdict, "valid", JSON.stringify(r.anomalies));
  assert.equal(r.revisions, 5);
  assert.equal(r.events, 6 + 4 + 2 + 2);
});

test("checkWatches: a gap in one observer's covered range is invalid", () => {
  // Proves a missing event (here one key of a two-key txn) between start and last revision is
  // found from another observer that saw it, and only inside the covered range.
  const r = checkWatches([
    obs(1, 1, 6, all),
    obs(
      2,
      1,
      6,
      all.filter((e) => !(e.revision === 4 && e.key === "b")),
    ),
  ]);
  assert.equal(r.verdict, "invalid");
  assert.equal(r.anomaliesTotal, 1);
  const a = r.anomalies[0];
  assert.equal(a?.kind, "gap");
  assert.equal(a?.watcher, 2);
  assert.equal(a?.revision, 4);
  assert.equal(a?.key, "b");
  const outside = checkWatches([obs(1, 1, 6, all), obs(2, 5, 6, all.slice(4))]);
  assert.equal(outside.verdict, "valid", "revisions before the start are not owed");
  const tail = checkWatches([obs(1, 1, 6, all), obs(2, 1, 6, all.slice(0, 4))]);
  assert.deepEqual(
    tail.anomalies.map((x) => [x.kind, x.revision]),
    [
      ["gap", 5],
      ["gap", 6],
    ],
    "a stream that stops early but claims to be complete up to 6",
  );
});

test("checkWatches: events out of order, duplicated, before the start or with a wrong mod revision are invalid", () => {
  // Proves the per-observer order rules: revisions never go back, a key appears once per
  // revision, nothing before the start revision, revision equals mod revision.
  const reordered = checkWatches([
    obs(1, 1, 6, [all[0], all[2], all[1], all[3], all[4], all[5]] as WatchEvent[]),
  ]);
  assert.ok(reordered.anomalies.some((a) => a.kind === "reorder" && a.revision === 3));
  const split = checkWatches([obs(1, 1, 6, [all[2], all[4], all[3]] as WatchEvent[])]);
  assert.ok(
    split.anomalies.some((a) => a.kind === "reorder"),
    "a txn's events must come together",
  );
  const dup = checkWatches([obs(1, 1, 6, [...all.slice(0, 3), put(4, "a", "2"), ...all.slice(3)])]);
  assert.deepEqual(
    dup.anomalies.map((a) => a.kind),
    ["duplicate"],
  );
  const early = checkWatches([obs(1, 3, 6, all)]);
  assert.deepEqual(
    early.anomalies.map((a) => a.kind),
    ["out-of-range"],
  );
  const mod = checkWatches([obs(1, 1, 6, [{ ...put(2, "a", "1"), modRevision: 1 }])]);
  assert.deepEqual(
    mod.anomalies.map((a) => a.kind),
    ["mod-revision"],
  );
});

test("checkWatches: observers disagreeing about one revision are invalid", () => {
  // Proves the same (revision, key) must carry the same type and value for every observer.
  const other = all.map((e) => (e.revision === 5 ? put(5, "c", "X") : e));
  const r = checkWatches([obs(1, 1, 6, all), obs(2, 1, 6, other)]);
  assert.deepEqual(
    r.anomalies.map((a) => [a.kind, a.watcher, a.revision, a.key]),
    [["divergent", 2, 5, "c"]],
  );
  const typed = all.map((e) => (e.revision === 6 ? put(6, "a", "3") : e));
  assert.equal(checkWatches([obs(1, 1, 6, all), obs(2, 1, 6, typed)]).anomalies[0]?.kind, "divergent");
});

test("checkWatches: a compacted notice excuses events before the compact revision", () => {
  // Proves an observer that asked for compacted history and was told so owes nothing before the
  // compact revision, but still owes what comes after it in its range.
  const compacted = obs(2, 1, 1, [], { compactedAt: 4 });
  assert.equal(checkWatches([obs(1, 1, 6, all), compacted]).verdict, "valid");
  const resumed = obs(3, 1, 6, all.slice(2), { compactedAt: 4 });
  assert.equal(checkWatches([obs(1, 1, 6, all), resumed]).verdict, "valid");
  const holed = obs(4, 1, 6, all.slice(3), { compactedAt: 4 });
  const r = checkWatches([obs(1, 1, 6, all), holed]);
  assert.deepEqual(
    r.anomalies.map((a) => [a.kind, a.revision, a.key]),
    [["gap", 4, "a"]],
  );
});

test("checkWatches: watched writes are cross-checked against the register and append histories", () => {
  // Proves a watched put must match a write that may have taken effect (ok or unknown; a failed
  // one or an unsuccessful cas does not count), and that keys of neither workload are not judged.
  const reg = new RegisterHistory("r")
    .write(1, "x", 0, 1)
    .write(1, "y", 2, 3, "unknown")
    .write(1, "z", 4, 5, "fail")
    .cas(2, "x", "w", 6, 7, false);
  const app = new AppendHistory("l").append(1, "e1", 0, 1).append(1, "e2", 2, 3, "fail");
  const check = combineWriteChecks(registerWriteCheck(reg.ops), appendWriteCheck(app.ops));
  const good = [put(2, "r", "x"), put(3, "r", "y"), put(4, "l", "e1"), put(5, "other", "?"), del(6, "other")];
  assert.equal(checkWatches([obs(1, 1, 6, good)], { writeCheck: check }).verdict, "valid");
  const bad = [put(2, "r", "z"), put(3, "r", "w"), put(4, "l", "e1 e2"), put(5, "r", "q"), del(6, "r")];
  const r = checkWatches([obs(1, 1, 6, bad)], { writeCheck: check });
  assert.deepEqual(
    r.anomalies.map((a) => [a.kind, a.revision]),
    [
      ["unknown-write", 2],
      ["unknown-write", 3],
      ["unknown-write", 4],
      ["unknown-write", 5],
      ["unknown-write", 6],
    ],
  );
  assert.match(r.anomalies[2]?.message ?? "", /failed append/);
});

test("checkWatches: the anomaly list is bounded, the count is not", () => {
  // Proves a badly broken run does not produce an unbounded report.
  const many = Array.from({ length: 50 }, (_, i) => put(100 - i, "k", String(i)));
  const r = checkWatches([obs(1, 1, 100, many)], { anomaliesMax: 5 });
  assert.equal(r.anomalies.length, 5);
  assert.equal(r.anomaliesTotal, 49);
});
