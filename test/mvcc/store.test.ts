// Table tests for the MVCC key space: revision rules, range, put, delete-range and compaction,
// each checked against the etcd v3 rule it implements, with exact error codes.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  MvccErrorCodes as E,
  EMPTY_BYTES,
  MvccStore,
  mvccErrorMessages,
  prefixEnd,
} from "../../src/mvcc/mod.js";
import { b, keysOf, must, mustFail, show } from "./helpers.js";

function storeWith(...pairs: [string, string][]): MvccStore {
  const s = new MvccStore();
  for (const [k, v] of pairs) must(s.put({ key: b(k), value: b(v) }));
  return s;
}

test("MvccStore revisions: an empty store is at revision 1 and the first write makes revision 2", () => {
  // Proves etcd's "revisions start at 1" rule and that each put takes exactly one main revision.
  const s = new MvccStore();
  assert.equal(s.currentRevision, 1);
  assert.equal(must(s.range({ key: b("a") })).revision, 1);
  assert.equal(must(s.put({ key: b("a"), value: b("1") })).revision, 2);
  assert.equal(must(s.put({ key: b("b"), value: b("1") })).revision, 3);
  assert.equal(s.currentRevision, 3);
});

test("MvccStore revisions: create/mod revision and version follow generations", () => {
  // Proves version starts at 1, grows per put, resets on delete, and re-creation starts a new generation.
  const s = new MvccStore();
  must(s.put({ key: b("k"), value: b("1") })); // rev 2
  must(s.put({ key: b("k"), value: b("2") })); // rev 3
  assert.deepEqual(must(s.range({ key: b("k") })).kvs.map(show), ["k=2@2/3/v2/l0"]);
  assert.equal(must(s.deleteRange({ key: b("k") })).deleted, 1); // rev 4
  assert.equal(must(s.range({ key: b("k") })).count, 0);
  must(s.put({ key: b("k"), value: b("3") })); // rev 5
  assert.deepEqual(must(s.range({ key: b("k") })).kvs.map(show), ["k=3@5/5/v1/l0"]);
  // History is still readable per generation.
  assert.deepEqual(must(s.range({ key: b("k"), revision: 3 })).kvs.map(show), ["k=2@2/3/v2/l0"]);
  assert.equal(must(s.range({ key: b("k"), revision: 4 })).count, 0);
});

test("MvccStore revisions: a delete that deletes nothing leaves the revision unchanged", () => {
  // Proves etcd's rule that only effective writes bump the revision.
  const s = storeWith(["a", "1"]);
  const r = must(s.deleteRange({ key: b("zz") }));
  assert.equal(r.deleted, 0);
  assert.equal(r.revision, 2);
  assert.equal(s.currentRevision, 2);
});

test("MvccStore range: single key, [key, end), prefix, from-key and all keys", () => {
  // Proves the range_end conventions of etcd (empty, explicit end, prefix end, "\0", "\0"/"\0").
  const s = storeWith(["a", "1"], ["ab", "2"], ["abc", "3"], ["b", "4"], ["c", "5"]);
  const keys = (key: string, end?: Uint8Array): string[] =>
    keysOf(must(s.range(end === undefined ? { key: b(key) } : { key: b(key), rangeEnd: end })).kvs);
  assert.deepEqual(keys("ab"), ["ab"]);
  assert.deepEqual(keys("a", b("b")), ["a", "ab", "abc"]);
  assert.deepEqual(keys("ab", prefixEnd(b("ab"))), ["ab", "abc"]);
  assert.deepEqual(keys("b", new Uint8Array([0])), ["b", "c"]);
  assert.deepEqual(keys("\0", new Uint8Array([0])), ["a", "ab", "abc", "b", "c"]);
  assert.deepEqual(keys("b", b("a")), [], "an end before the key selects nothing");
  assert.deepEqual(keys("zz"), []);
});

test("prefixEnd: increments the last byte below 0xff, and gives \\0 for all-0xff prefixes", () => {
  // Proves the client/v3 getPrefix rule the range conventions rely on.
  assert.deepEqual(prefixEnd(b("aa")), b("ab"));
  assert.deepEqual(prefixEnd(new Uint8Array([0x61, 0xff])), b("b"));
  assert.deepEqual(prefixEnd(new Uint8Array([0xff, 0xff])), new Uint8Array([0]));
});

test("MvccStore range: limit sets more, and count is the full count ignoring limit", () => {
  // Proves etcd's pagination contract that Kubernetes relies on (count unaffected by limit, #11990).
  const s = storeWith(["a", "1"], ["b", "2"], ["c", "3"], ["d", "4"]);
  const r = must(s.range({ key: b("a"), rangeEnd: new Uint8Array([0]), limit: 2 }));
  assert.deepEqual(keysOf(r.kvs), ["a", "b"]);
  assert.equal(r.more, true);
  assert.equal(r.count, 4);
  const exact = must(s.range({ key: b("a"), rangeEnd: new Uint8Array([0]), limit: 4 }));
  assert.equal(exact.more, false);
  assert.equal(exact.kvs.length, 4);
});

test("MvccStore range: count_only and keys_only", () => {
  // Proves count_only returns no kvs but the count, and keys_only strips values.
  const s = storeWith(["a", "1"], ["b", "2"]);
  const c = must(s.range({ key: b("a"), rangeEnd: b("z"), countOnly: true }));
  assert.deepEqual([c.kvs.length, c.count], [0, 2]);
  const k = must(s.range({ key: b("a"), rangeEnd: b("z"), keysOnly: true }));
  assert.deepEqual(keysOf(k.kvs), ["a", "b"]);
  assert.deepEqual(k.kvs[0]?.value, EMPTY_BYTES);
  assert.equal(k.kvs[1]?.modRevision, 3);
});

test("MvccStore range: sort by each target, ascending and descending", () => {
  // Proves the sort targets and orders, and that a non-key target with order NONE sorts ascending.
  const s = new MvccStore();
  must(s.put({ key: b("a"), value: b("z") })); // 2
  must(s.put({ key: b("b"), value: b("x") })); // 3
  must(s.put({ key: b("c"), value: b("y") })); // 4
  must(s.put({ key: b("a"), value: b("w") })); // 5: a has version 2, mod 5
  const all = { key: b("a"), rangeEnd: b("z") };
  const sorted = (o: Partial<Parameters<MvccStore["range"]>[0]>): string[] =>
    keysOf(must(s.range({ ...all, ...o })).kvs);
  assert.deepEqual(sorted({ sortTarget: "key", sortOrder: "descend" }), ["c", "b", "a"]);
  assert.deepEqual(sorted({ sortTarget: "value" }), ["a", "b", "c"]);
  assert.deepEqual(sorted({ sortTarget: "value", sortOrder: "descend" }), ["c", "b", "a"]);
  assert.deepEqual(sorted({ sortTarget: "mod", sortOrder: "descend" }), ["a", "c", "b"]);
  assert.deepEqual(sorted({ sortTarget: "create", sortOrder: "ascend" }), ["a", "b", "c"]);
  assert.deepEqual(sorted({ sortTarget: "version", sortOrder: "descend" }), ["a", "b", "c"]);
  // Limit applies after sorting, and count stays the full count.
  const top = must(s.range({ ...all, sortTarget: "mod", sortOrder: "descend", limit: 1 }));
  assert.deepEqual([keysOf(top.kvs), top.more, top.count], [["a"], true, 3]);
});

test("MvccStore range: invalid sort option is rejected with its code", () => {
  // Proves an out-of-enum sort option fails rather than being ignored.
  const s = storeWith(["a", "1"]);
  const bad = { key: b("a"), sortOrder: "sideways" } as unknown as Parameters<MvccStore["range"]>[0];
  assert.equal(mustFail(s.range(bad)).code, E.invalidSortOption);
});

test("MvccStore range: min/max mod and create revision filters do not change count", () => {
  // Proves the filters select kvs while count stays the number of keys in the range.
  const s = storeWith(["a", "1"], ["b", "2"], ["c", "3"], ["d", "4"]); // mods 2..5
  const r = must(s.range({ key: b("a"), rangeEnd: b("z"), minModRevision: 3, maxModRevision: 4 }));
  assert.deepEqual(keysOf(r.kvs), ["b", "c"]);
  assert.equal(r.count, 4);
  const c = must(s.range({ key: b("a"), rangeEnd: b("z"), minCreateRevision: 4, limit: 1 }));
  assert.deepEqual([keysOf(c.kvs), c.more], [["c"], true]);
});

test("MvccStore range: historical reads report the current revision in the header", () => {
  // Proves header.revision is the current store revision even for an older requested revision.
  const s = storeWith(["a", "1"], ["a", "2"], ["a", "3"]);
  const r = must(s.range({ key: b("a"), revision: 2 }));
  assert.equal(r.revision, 4);
  assert.deepEqual(r.kvs.map(show), ["a=1@2/2/v1/l0"]);
});

test("MvccStore range: future revisions and compacted revisions fail with their codes", () => {
  // Proves ErrFutureRev above current, ErrCompacted below the compact revision (exactly at it is allowed).
  const s = storeWith(["a", "1"], ["a", "2"], ["a", "3"]); // rev 4
  const future = mustFail(s.range({ key: b("a"), revision: 5 }));
  assert.equal(future.code, E.futureRevision);
  assert.equal(future.message, "etcdserver: mvcc: required revision is a future revision");
  must(s.compact(3));
  const old = mustFail(s.range({ key: b("a"), revision: 2 }));
  assert.equal(old.code, E.compacted);
  assert.equal(old.message, "etcdserver: mvcc: required revision has been compacted");
  assert.equal(old.compactRevision, 3);
  assert.deepEqual(must(s.range({ key: b("a"), revision: 3 })).kvs.map(show), ["a=2@2/3/v2/l0"]);
});

test("MvccStore range and put: an empty key is rejected", () => {
  // Proves ErrGRPCEmptyKey for range, put and delete.
  const s = new MvccStore();
  assert.equal(mustFail(s.range({ key: EMPTY_BYTES })).code, E.emptyKey);
  assert.equal(mustFail(s.put({ key: EMPTY_BYTES, value: b("x") })).code, E.emptyKey);
  assert.equal(mustFail(s.deleteRange({ key: EMPTY_BYTES })).code, E.emptyKey);
  assert.equal(mvccErrorMessages[E.emptyKey], "etcdserver: key is not provided");
});

test("MvccStore put: prev_kv returns the old key-value, and nothing for a new key", () => {
  // Proves prev_kv semantics of Put.
  const s = new MvccStore();
  assert.equal(must(s.put({ key: b("k"), value: b("1"), prevKv: true })).prevKv, null);
  const r = must(s.put({ key: b("k"), value: b("2"), prevKv: true }));
  assert.equal(r.prevKv === null ? "" : show(r.prevKv), "k=1@2/2/v1/l0");
  assert.equal(must(s.put({ key: b("k"), value: b("3") })).prevKv, null, "not asked, not returned");
  assert.deepEqual(must(s.put({ key: b("e"), value: EMPTY_BYTES })).revision, 5, "empty values are allowed");
});

test("MvccStore put: ignore_value and ignore_lease rules", () => {
  // Proves ignore_value keeps the value (value must be empty, key must exist) and ignore_lease
  // keeps the lease (lease must be 0, key must exist), with etcd's error codes.
  const s = new MvccStore();
  const lease = must(s.leaseGrant({ id: 7, ttl: 60 })).id;
  assert.equal(mustFail(s.put({ key: b("k"), ignoreValue: true })).code, E.keyNotFound);
  assert.equal(mustFail(s.put({ key: b("k"), ignoreLease: true, value: b("v") })).code, E.keyNotFound);
  must(s.put({ key: b("k"), value: b("v1"), lease }));
  assert.equal(mustFail(s.put({ key: b("k"), ignoreValue: true, value: b("x") })).code, E.valueProvided);
  assert.equal(mustFail(s.put({ key: b("k"), ignoreLease: true, lease })).code, E.leaseProvided);
  must(s.put({ key: b("k"), ignoreValue: true, lease }));
  assert.deepEqual(must(s.range({ key: b("k") })).kvs.map(show), ["k=v1@2/3/v2/l7"]);
  must(s.put({ key: b("k"), value: b("v2"), ignoreLease: true }));
  assert.deepEqual(must(s.range({ key: b("k") })).kvs.map(show), ["k=v2@2/4/v3/l7"]);
  must(s.put({ key: b("k"), ignoreValue: true }));
  assert.deepEqual(
    must(s.range({ key: b("k") })).kvs.map(show),
    ["k=v2@2/5/v4/l0"],
    "ignore_value alone drops the lease",
  );
  assert.equal(mvccErrorMessages[E.valueProvided], "etcdserver: value is provided");
  assert.equal(mvccErrorMessages[E.leaseProvided], "etcdserver: lease is provided");
  assert.equal(mvccErrorMessages[E.keyNotFound], "etcdserver: key not found");
});

test("MvccStore put: an unknown lease is rejected and nothing changes", () => {
  // Proves ErrGRPCLeaseNotFound on put and that the failed put does not bump the revision.
  const s = new MvccStore();
  const e = mustFail(s.put({ key: b("k"), value: b("v"), lease: 42 }));
  assert.equal(e.code, E.leaseNotFound);
  assert.equal(e.message, "etcdserver: requested lease not found");
  assert.equal(s.currentRevision, 1);
});

test("MvccStore deleteRange: deletes a range in one revision and returns prev_kvs", () => {
  // Proves all deletions share one main revision, `deleted` counts them and prev_kvs are in key order.
  const s = storeWith(["a", "1"], ["b", "2"], ["c", "3"]);
  const r = must(s.deleteRange({ key: b("a"), rangeEnd: b("c"), prevKv: true }));
  assert.equal(r.deleted, 2);
  assert.equal(r.revision, 5);
  assert.deepEqual(r.prevKvs.map(show), ["a=1@2/2/v1/l0", "b=2@3/3/v1/l0"]);
  assert.deepEqual(keysOf(must(s.range({ key: b("\0"), rangeEnd: new Uint8Array([0]) })).kvs), ["c"]);
  assert.equal(must(s.deleteRange({ key: b("a"), rangeEnd: b("c") })).deleted, 0);
});

test("MvccStore compact: rules for the compact revision", () => {
  // Proves compact(rev <= compactRev) is ErrCompacted and compact(rev > current) is ErrFutureRev.
  const s = storeWith(["a", "1"], ["a", "2"]); // rev 3
  assert.equal(mustFail(s.compact(4)).code, E.futureRevision);
  must(s.compact(2));
  assert.equal(s.compactRevision, 2);
  const again = mustFail(s.compact(2));
  assert.equal(again.code, E.compacted);
  assert.equal(again.compactRevision, 2);
  must(s.compact(3));
});

test("MvccStore compact: keeps the latest revision of each key, drops deleted keys' history", () => {
  // Proves reads at and above the compact revision are unchanged, and tombstoned keys vanish.
  const s = new MvccStore();
  must(s.put({ key: b("a"), value: b("1") })); // 2
  must(s.put({ key: b("b"), value: b("1") })); // 3
  must(s.put({ key: b("a"), value: b("2") })); // 4
  must(s.deleteRange({ key: b("b") })); // 5
  must(s.put({ key: b("c"), value: b("1") })); // 6
  const before = [4, 5, 6].map((rev) =>
    must(s.range({ key: b("\0"), rangeEnd: new Uint8Array([0]), revision: rev })).kvs.map(show),
  );
  must(s.compact(5));
  const after = [5, 6].map((rev) =>
    must(s.range({ key: b("\0"), rangeEnd: new Uint8Array([0]), revision: rev })).kvs.map(show),
  );
  assert.deepEqual(after, before.slice(1));
  assert.equal(mustFail(s.range({ key: b("a"), revision: 4 })).code, E.compacted);
  // b's tombstone sits exactly at the compact revision, so it stays until a later compaction.
  assert.equal(s.kv.keys.size, 3);
  must(s.compact(6));
  assert.equal(s.kv.keys.size, 2, "b's history is gone once compacted past its tombstone");
  assert.equal(s.kv.history.size, 2);
});

test("MvccStore compact: accounted bytes shrink as history is dropped", () => {
  // Proves compaction releases the bytes of dropped revisions from the quota accounting.
  const s = new MvccStore();
  for (let i = 0; i < 10; i++) must(s.put({ key: b("k"), value: new Uint8Array(1000) }));
  const before = s.accountedBytes;
  must(s.compact(s.currentRevision));
  assert.ok(s.accountedBytes < before / 5, `${s.accountedBytes} vs ${before}`);
});

test("MvccStore compact: values survive arena repacking after heavy compaction", () => {
  // Proves values stay intact when compaction triggers copying live values into a fresh arena.
  const s = new MvccStore();
  const value = (i: number, round: number): Uint8Array => new Uint8Array(4000).fill((i * 7 + round) % 251);
  for (let round = 0; round < 6; round++) {
    for (let i = 0; i < 1000; i++) must(s.put({ key: b(`k${i}`), value: value(i, round) }));
    must(s.compact(s.currentRevision));
  }
  for (let i = 0; i < 1000; i += 97) {
    assert.deepEqual(must(s.range({ key: b(`k${i}`) })).kvs[0]?.value, value(i, 5));
  }
  assert.ok(s.kv.arena.totalBytes < 3 * s.kv.arena.liveBytes + 16 * 1024 * 1024);
});

test("MvccStore keys: bytes are compared bytewise, including 0x00 and 0xff", () => {
  // Proves keys are raw bytes ordered bytewise, not text.
  const s = new MvccStore();
  const keys = [[0x00], [0x00, 0x00], [0x01], [0x7f], [0x80], [0xff], [0xff, 0x00]].map(
    (k) => new Uint8Array(k),
  );
  for (const k of [...keys].reverse()) must(s.put({ key: k, value: k }));
  const r = must(s.range({ key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) }));
  assert.deepEqual(
    r.kvs.map((kv) => [...kv.key]),
    keys.map((k) => [...k]),
  );
});
