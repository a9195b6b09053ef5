// Snapshot and hash tests: streaming encode/decode round trips (any chunking), integrity checks,
// HashKV determinism, and that a restored store behaves like the original (reads, leases, watches).
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  concatBytes,
  crc32Update,
  decodeSnapshot,
  decodeSnapshotAsync,
  MvccErrorCodes as E,
  encodeSnapshot,
  fromUtf8,
  MvccStore,
  SnapshotDecoder,
} from "../../src/mvcc/mod.js";
import { b, keysOf, must, mustFail, show } from "./helpers.js";

const ALL = new Uint8Array([0]);

/** A store with history, tombstones, a compaction, leases with keys, an alarm and an applied index. */
function sample(): MvccStore {
  const s = new MvccStore();
  const lease = must(s.leaseGrant({ id: 0, ttl: 60 })).id;
  must(s.leaseGrant({ id: 40, ttl: 5 }));
  for (let i = 0; i < 50; i++) must(s.put({ key: b(`k${i % 13}`), value: b(`v${i}`) }));
  must(s.deleteRange({ key: b("k3"), rangeEnd: b("k6") }));
  must(s.put({ key: b("leased/a"), value: b("1"), lease }));
  must(s.put({ key: b("leased/b"), value: new Uint8Array(300_000).fill(7), lease }));
  must(s.compact(20));
  must(s.put({ key: new Uint8Array([0, 255, 1]), value: new Uint8Array(0) }));
  must(s.leaseCheckpoint([{ id: 40, remainingTtl: 3 }]));
  must(s.alarm({ action: "activate", memberId: 9, alarm: "corrupt" }));
  must(s.alarm({ action: "deactivate", memberId: 9, alarm: "corrupt" }));
  must(s.alarm({ action: "activate", memberId: 3, alarm: "noSpace" }));
  s.restoreAppliedIndex(1234);
  return s;
}

function concat(chunks: Iterable<Uint8Array>): Uint8Array {
  const list = [...chunks];
  const out = new Uint8Array(list.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of list) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function* rechunk(bytes: Uint8Array, sizes: readonly number[]): Generator<Uint8Array> {
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const n = sizes[i % sizes.length] as number;
    yield bytes.subarray(at, at + n);
    at += n;
  }
}

function restored(chunks: Iterable<Uint8Array>): MvccStore {
  const r = decodeSnapshot(chunks);
  if (typeof r === "string") assert.fail(r);
  return r;
}

test("crc32Update: matches the IEEE check value and is incremental", () => {
  // Proves the CRC-32 used by hashes and snapshots is the standard one (check value 0xCBF43926).
  assert.equal(crc32Update(0, b("123456789")), 0xcbf43926);
  assert.equal(crc32Update(crc32Update(0, b("12345")), b("6789")), 0xcbf43926);
  assert.equal(crc32Update(0, new Uint8Array(0)), 0);
});

test("encodeSnapshot/decodeSnapshot: a round trip restores identical state", () => {
  // Proves hash, revisions, history (reads at old revisions), leases, alarms and applied index survive.
  const s = sample();
  const copy = restored(encodeSnapshot(s, 4096));
  assert.deepEqual(must(copy.hashKv()), must(s.hashKv()));
  assert.equal(copy.currentRevision, s.currentRevision);
  assert.equal(copy.compactRevision, 20);
  assert.equal(copy.appliedIndex, 1234);
  assert.equal(copy.accountedBytes, s.accountedBytes);
  assert.deepEqual(copy.alarms, [{ memberId: 3, alarm: "noSpace" }]);
  for (let rev = 20; rev <= s.currentRevision; rev++) {
    const q = { key: b("\0"), rangeEnd: ALL, revision: rev };
    assert.deepEqual(must(copy.range(q)).kvs.map(show), must(s.range(q)).kvs.map(show), `revision ${rev}`);
  }
  assert.equal(mustFail(copy.range({ key: b("k1"), revision: 19 })).code, E.compacted);
  assert.deepEqual(copy.leaseLeases().leases, [1, 40]);
  assert.equal(copy.leaseTimeToLive(40, 0).ttl, 3, "checkpointed remaining TTL survives");
  assert.equal(copy.lessor.generateId(), 2);
  // Lease attachments were rebuilt from the keys: revoking deletes them.
  must(copy.leaseRevoke(1));
  assert.deepEqual(keysOf(must(copy.range({ key: b("leased/"), rangeEnd: b("leased0") })).kvs), []);
  // Encoding the copy gives the same bytes.
  assert.deepEqual(concat(encodeSnapshot(restored(encodeSnapshot(s)))), concat(encodeSnapshot(s)));
});

test("SnapshotDecoder: any split of the byte stream decodes the same", () => {
  // Proves the streaming decoder handles records split across chunk boundaries at every position.
  const s = sample();
  const bytes = concat(encodeSnapshot(s));
  const want = must(s.hashKv()).hash;
  for (const sizes of [[1], [7], [3, 1000, 1, 65_536], [bytes.length]]) {
    assert.equal(must(restored(rechunk(bytes, sizes)).hashKv()).hash, want, `chunks of ${sizes.join("/")}`);
  }
});

test("encodeSnapshot: chunks stay near the requested size (bounded memory)", () => {
  // Proves the encoder streams: no chunk exceeds the chunk size by more than one record.
  const s = new MvccStore();
  for (let i = 0; i < 5000; i++) must(s.put({ key: b(`key-${i}`), value: new Uint8Array(100) }));
  const sizes = [...encodeSnapshot(s, 8192)].map((c) => c.length);
  assert.ok(sizes.length > 50, `${sizes.length} chunks`);
  assert.ok(Math.max(...sizes) < 8192 + 200, `largest chunk ${Math.max(...sizes)}`);
});

test("SnapshotDecoder: corruption, truncation, bad magic and unknown versions are reported", () => {
  // Proves integrity checking: every damaged snapshot is refused with a reason, never half-restored.
  const bytes = concat(encodeSnapshot(sample()));
  const flipped = bytes.slice();
  const mid = Math.floor(bytes.length / 2);
  flipped[mid] = (flipped[mid] ?? 0) ^ 0x10;
  const bad = decodeSnapshot([flipped]);
  assert.equal(typeof bad, "string");
  assert.match(String(decodeSnapshot([bytes.subarray(0, bytes.length - 1)])), /truncated/);
  assert.match(String(decodeSnapshot([bytes.subarray(0, 100)])), /truncated/);
  const wrongMagic = bytes.slice();
  wrongMagic[0] = 0;
  assert.match(String(decodeSnapshot([wrongMagic])), /bad magic/);
  const newer = bytes.slice();
  newer[8] = 3;
  assert.match(String(decodeSnapshot([newer])), /unknown snapshot version 3/);
  assert.match(String(decodeSnapshot([bytes, new Uint8Array([1])])), /after the end/);
  const d = new SnapshotDecoder();
  assert.equal(d.push(wrongMagic), "corrupt snapshot: not a Synod MVCC snapshot (bad magic)");
  assert.equal(d.push(bytes), "corrupt snapshot: not a Synod MVCC snapshot (bad magic)", "errors are sticky");
});

test("SnapshotDecoder: every single-byte corruption is reported, never thrown or half-restored", () => {
  // Proves the decoder's robustness: random damage anywhere yields a reason string.
  const bytes = concat(encodeSnapshot(sample()));
  let x = 99;
  for (let i = 0; i < 300; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const damaged = bytes.slice();
    const at = x % bytes.length;
    damaged[at] = (damaged[at] ?? 0) ^ (1 + ((x >>> 8) % 255));
    const r = decodeSnapshot(rechunk(damaged, [1 + (x % 5000)]));
    assert.equal(typeof r, "string", `corruption at byte ${at} went unnoticed`);
  }
});

test("encodeSnapshot: writes while a snapshot is read leave it the state it started from", () => {
  // Proves the encoder tolerates writes (they append records): puts, deletes, lease grants and
  // revocations made after the first chunk do not appear in the snapshot, which restores to the
  // state as of its first next().
  const s = new MvccStore();
  const lease = must(s.leaseGrant({ id: 7, ttl: 60 })).id;
  for (let i = 0; i < 2000; i++)
    must(
      s.put({ key: b(`k${i}`), value: new Uint8Array(100).fill(i & 255), lease: i % 10 === 0 ? lease : 0 }),
    );
  must(s.deleteRange({ key: b("k5") }));
  const expected = [...encodeSnapshot(s, 1024)];
  const it = encodeSnapshot(s, 1024);
  const chunks = [it.next().value as Uint8Array];
  must(s.put({ key: b("late"), value: b("x") }));
  must(s.put({ key: b("k1"), value: b("changed") }));
  must(s.deleteRange({ key: b("k2") }));
  must(s.leaseGrant({ id: 8, ttl: 5 }));
  must(s.leaseRevoke(lease));
  for (let r = it.next(); r.done !== true; r = it.next()) {
    chunks.push(r.value);
    must(s.put({ key: b(`more${chunks.length}`), value: new Uint8Array(300) }));
  }
  assert.deepEqual(concatBytes(chunks), concatBytes(expected));
  const restored = decodeSnapshot(chunks);
  assert.ok(restored instanceof MvccStore);
  assert.equal(restored.lessor.lookup(lease)?.ttl, 60);
  assert.deepEqual(keysOf(must(restored.range({ key: b("late") })).kvs), []);
  assert.deepEqual(concatBytes([...encodeSnapshot(restored, 1024)]), concatBytes(expected));
});

test("encodeSnapshot: a compaction while a snapshot is read is a broken invariant", () => {
  // Proves the encoder refuses to produce an inconsistent snapshot when records move under it.
  const s = new MvccStore();
  for (let i = 0; i < 2000; i++) must(s.put({ key: b(`k${i % 100}`), value: new Uint8Array(100) }));
  const it = encodeSnapshot(s, 1024);
  it.next();
  must(s.compact(1500));
  assert.throws(() => [...it], /rewritten while a snapshot/);
});

test("decodeSnapshotAsync: restores from an async stream", async () => {
  // Proves the async front of the decoder (files and sockets deliver chunks asynchronously).
  const s = sample();
  async function* source(): AsyncGenerator<Uint8Array> {
    for (const c of encodeSnapshot(s, 1000)) yield c;
  }
  const r = await decodeSnapshotAsync(source());
  assert.ok(typeof r !== "string");
  assert.equal(must(r.hashKv()).hash, must(s.hashKv()).hash);
});

test("decodeSnapshot: a restored store serves watches from its retained history", () => {
  // Proves history is part of the snapshot: a watcher on the restored member can replay.
  const s = sample();
  const copy = restored(encodeSnapshot(s));
  const stream = copy.watchHub.newStream();
  stream.watch({ key: b("k"), rangeEnd: b("l"), startRevision: 20 });
  copy.watchHub.sync();
  const mine = stream
    .take()
    .flatMap((r) => r.events.map((e) => `${e.type} ${fromUtf8(e.kv.key)}@${e.kv.modRevision}`));
  const orig = s.watchHub.newStream();
  orig.watch({ key: b("k"), rangeEnd: b("l"), startRevision: 20 });
  s.watchHub.sync();
  const theirs = orig
    .take()
    .flatMap((r) => r.events.map((e) => `${e.type} ${fromUtf8(e.kv.key)}@${e.kv.modRevision}`));
  assert.ok(mine.length > 10);
  assert.deepEqual(mine, theirs);
});

test("MvccStore hashKv: equal for equal histories, different otherwise, and checks revisions", () => {
  // Proves HashKV compares members: same commands → same hash; a historical hash equals the hash of
  // a store stopped at that revision; future and compacted revisions fail.
  const run = (n: number, tweak = false): MvccStore => {
    const s = new MvccStore();
    for (let i = 0; i < n; i++)
      must(s.put({ key: b(`k${i % 5}`), value: b(tweak && i === 3 ? "X" : `${i}`) }));
    return s;
  };
  const a = run(30);
  assert.equal(must(a.hashKv()).hash, must(run(30).hashKv()).hash);
  assert.notEqual(must(a.hashKv()).hash, must(run(30, true).hashKv()).hash);
  const at = must(a.hashKv(12));
  assert.deepEqual([at.hashRevision, at.revision], [12, 31]);
  assert.equal(at.hash, must(run(11).hashKv()).hash);
  assert.equal(mustFail(a.hashKv(32)).code, E.futureRevision);
  must(a.compact(10));
  assert.equal(mustFail(a.hashKv(9)).code, E.compacted);
  assert.equal(must(a.hashKv()).compactRevision, 10);
});
