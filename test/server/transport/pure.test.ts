// The peer transport's small pure parts: snapshot reassembly, backoff delays, peer URLs, and the
// purity of the wire codec (no node:* imports, no clock, no ambient randomness).
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type AssemblyOutcome,
  backoffDelayMs,
  parsePeerUrl,
  SnapshotAssembler,
} from "../../../src/server/transport/mod.js";
import { snapMessage } from "./helpers.js";

test("SnapshotAssembler: reassembles in-order chunks and delivers the full snap message", () => {
  // Proves the data is placed at the chunk offsets and the message comes back with it.
  const m = snapMessage(1, 2, 10);
  const data = m.snapshot?.data ?? new Uint8Array(0);
  const asm = new SnapshotAssembler(100);
  assert.deepEqual(
    asm.begin(4, 10, {
      ...m,
      snapshot: { metadata: m.snapshot?.metadata ?? assert.fail(), data: new Uint8Array(0) },
    }),
    {
      kind: "more",
    },
  );
  assert.deepEqual(asm.chunk(4, 0, data.subarray(0, 6)), { kind: "more" });
  assert.deepEqual(asm.inProgress, { transferId: 4, received: 6, dataBytes: 10 });
  const done = asm.chunk(4, 6, data.subarray(6));
  assert.equal(done.kind, "done");
  assert.ok(done.kind === "done");
  assert.deepEqual(done.message, m);
  assert.equal(asm.inProgress, null);
});

test("SnapshotAssembler: a zero-byte snapshot completes at begin", () => {
  // Proves an empty snapshot does not wait for chunks that never come.
  const m = snapMessage(1, 2, 0);
  const out = new SnapshotAssembler(0).begin(1, 0, m);
  assert.ok(out.kind === "done");
  assert.deepEqual(out.message, m);
});

test("SnapshotAssembler: refuses a snapshot over the limit without allocating, and skips its chunks", () => {
  // Proves snapshotBytesMax bounds memory: the transfer is rejected (the stream goes on) and
  // chunks already in flight for it are ignored rather than treated as protocol errors.
  const asm = new SnapshotAssembler(1000);
  const out = asm.begin(7, 2 ** 40, snapMessage(1, 2, 0));
  assert.equal(out.kind, "rejected");
  assert.ok(out.kind === "rejected");
  assert.match(out.reason, /snapshot of 1099511627776 bytes exceeds snapshotBytesMax \(1000 bytes\)/);
  assert.deepEqual(asm.chunk(7, 0, new Uint8Array(10)), { kind: "more" });
  assert.equal(asm.inProgress, null);
  // A later transfer works.
  assert.equal(asm.begin(8, 3, snapMessage(1, 2, 0)).kind, "more");
  assert.equal(asm.chunk(8, 0, new Uint8Array(3)).kind, "done");
});

test("SnapshotAssembler: gaps, overlaps, overruns, strangers and nested begins are protocol errors", () => {
  // Proves chunks must arrive exactly in order and within the announced length.
  const fresh = (): SnapshotAssembler => {
    const a = new SnapshotAssembler(100);
    a.begin(1, 10, snapMessage(1, 2, 0));
    a.chunk(1, 0, new Uint8Array(4));
    return a;
  };
  const error = (out: AssemblyOutcome, want: RegExp): void => {
    assert.ok(out.kind === "error", out.kind);
    assert.match(out.reason, want);
  };
  error(fresh().chunk(1, 5, new Uint8Array(1)), /offset 5, expected offset 4/);
  error(fresh().chunk(1, 2, new Uint8Array(1)), /offset 2, expected offset 4/);
  error(fresh().chunk(1, 4, new Uint8Array(7)), /7 bytes at offset 4 of a 10-byte snapshot/);
  error(fresh().chunk(1, 4, new Uint8Array(0)), /0 bytes/);
  error(fresh().chunk(2, 4, new Uint8Array(1)), /transfer 2, which is not in progress/);
  error(fresh().begin(2, 5, snapMessage(1, 2, 0)), /began while transfer 1 is incomplete/);
  error(new SnapshotAssembler(100).chunk(1, 0, new Uint8Array(1)), /not in progress/);
});

test("backoffDelayMs: doubles from the minimum to the maximum, jittered within [base/2, base]", () => {
  // Proves the redial schedule grows exponentially, is capped, and spreads members out.
  assert.equal(backoffDelayMs(0, 50, 1000, 0), 25);
  assert.equal(backoffDelayMs(0, 50, 1000, 0.999999), 50);
  assert.equal(backoffDelayMs(1, 50, 1000, 0.999999), 100);
  assert.equal(backoffDelayMs(3, 50, 1000, 0.999999), 400);
  assert.equal(backoffDelayMs(5, 50, 1000, 0.999999), 1000);
  assert.equal(backoffDelayMs(1000, 50, 1000, 0), 500);
  for (let attempt = 0; attempt < 40; attempt++) {
    for (const r of [0, 0.3, 0.7, 0.9999]) {
      const d = backoffDelayMs(attempt, 50, 1000, r);
      assert.ok(d >= 25 && d <= 1000 && Number.isInteger(d), `attempt ${attempt}: ${d}`);
    }
  }
});

test("parsePeerUrl: accepts etcd-style peer URLs and explains what is wrong with others", () => {
  // Proves addresses are taken from http:// and https:// URLs (IPv4, IPv6, names) and bad ones get a reason.
  assert.deepEqual(parsePeerUrl("http://127.0.0.1:2380"), { host: "127.0.0.1", port: 2380, secure: false });
  assert.deepEqual(parsePeerUrl("http://[::1]:12380/"), { host: "::1", port: 12380, secure: false });
  assert.deepEqual(parsePeerUrl("http://member-1.local:2380"), {
    host: "member-1.local",
    port: 2380,
    secure: false,
  });
  assert.deepEqual(parsePeerUrl("https://127.0.0.1:2380"), { host: "127.0.0.1", port: 2380, secure: true });
  const bad: [string, RegExp][] = [
    ["127.0.0.1:2380", /must be a URL such as 'http:\/\/127.0.0.1:2380'/],
    ["tcp://127.0.0.1:2380", /must use http:\/\/ or https:\/\//],
    ["nonsense", /must be a URL/],
    ["http://10.0.0.1", /must name a port/],
    ["http://10.0.0.1:2380/raft", /only a scheme, host and port/],
  ];
  for (const [url, want] of bad) {
    const got = parsePeerUrl(url);
    assert.equal(typeof got, "string", url);
    assert.match(got as string, want);
  }
});
