// The snapshot encoder thread: its chunks equal the in-thread encoding of the same captured state,
// whatever the store does after the capture; a closed encoder fails the encoding in progress and
// refuses later ones.
import assert from "node:assert/strict";
import { test } from "node:test";
import { concatBytes, encodeSnapshot, MvccStore, snapshotSource, utf8 } from "../../src/mvcc/mod.js";
import { decodeMemberSnapshot, encodeMemberSnapshot, type MemberInfo } from "../../src/server/envelope.js";
import { SnapshotEncoder } from "../../src/server/snapshotencoder.js";

const members: MemberInfo[] = [
  {
    id: 1,
    name: "m1",
    peerUrls: ["http://127.0.0.1:2380"],
    clientUrls: ["http://127.0.0.1:2379"],
    isLearner: false,
  },
];

function put(s: MvccStore, key: string, value: Uint8Array, lease = 0): void {
  const r = s.put({ key: utf8(key), value, lease });
  assert.ok(r.ok);
}

test("SnapshotEncoder: the thread's chunks are the in-thread encoding of the state captured, writes after it left out", async () => {
  // Proves the encoder thread reads the store's shared pages and chunks correctly: the member
  // snapshot it returns is byte for byte the one encoded in this thread before any later write,
  // though puts (some into new arena chunks and history pages) and deletes go on meanwhile.
  const s = new MvccStore();
  const lease = s.leaseGrant({ id: 5, ttl: 30 });
  assert.ok(lease.ok);
  for (let i = 0; i < 20_000; i++)
    put(s, `k${i % 5000}`, new Uint8Array(200).fill(i & 255), i % 7 === 0 ? 5 : 0);
  put(s, "big", new Uint8Array(300 * 1024).fill(9));
  const expected = encodeMemberSnapshot(members, encodeSnapshot(s));
  const enc = new SnapshotEncoder();
  try {
    const pending = enc.encode(members, snapshotSource(s));
    for (let i = 0; i < 20_000; i++) put(s, `late${i}`, new Uint8Array(500).fill(1));
    assert.ok(s.deleteRange({ key: utf8("k1") }).ok);
    const parts = await pending;
    assert.ok(parts.length >= 2, `${parts.length} chunks (the membership header, then the MVCC stream)`);
    assert.deepEqual(concatBytes(parts), expected);
    const split = decodeMemberSnapshot(concatBytes(parts));
    assert.ok(typeof split !== "string");
    assert.deepEqual(split.members, members);
    // A second encoding (on a thread of its own) sees the later writes.
    const again = concatBytes(await enc.encode(members, snapshotSource(s)));
    assert.deepEqual(again, encodeMemberSnapshot(members, encodeSnapshot(s)));
  } finally {
    await enc.close();
  }
  await assert.rejects(enc.encode(members, snapshotSource(s)), /closed/);
});

test("SnapshotEncoder: an encoding that fails in the thread rejects with the reason, and the next one works", async () => {
  // Proves the failure path: a source naming a record slot no page holds makes the thread's
  // encoder throw; the caller gets "snapshot encoding failed" with the thread's error, and a
  // later encoding (on a fresh thread) still succeeds.
  const s = new MvccStore();
  put(s, "a", utf8("1"));
  const enc = new SnapshotEncoder();
  try {
    const good = snapshotSource(s);
    await assert.rejects(
      enc.encode(members, { ...good, order: Int32Array.of(1 << 30) }),
      /snapshot encoding failed/,
    );
    const parts = await enc.encode(members, snapshotSource(s));
    assert.deepEqual(concatBytes(parts), encodeMemberSnapshot(members, encodeSnapshot(s)));
  } finally {
    await enc.close();
  }
});

test("SnapshotEncoder.close: an encoding in progress fails as closed, and the next is refused", async () => {
  // Proves close stops the thread of an unfinished encoding: its promise rejects rather than
  // hanging or resolving, and no encoding starts afterwards.
  const s = new MvccStore();
  for (let i = 0; i < 50_000; i++) put(s, `k${i}`, new Uint8Array(100).fill(i & 255));
  const enc = new SnapshotEncoder();
  const pending = enc.encode(members, snapshotSource(s));
  await enc.close();
  await assert.rejects(pending, /snapshot encoder closed/);
  await assert.rejects(enc.encode(members, snapshotSource(s)), /snapshot encoder closed/);
});
