// The peer protocol codec: frames, handshake, message encoding and the streaming frame reader,
// including property tests (fast-check, fixed seeds) and malformed input of every kind.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { type Entry, EntryType, type Message, MessageType, message } from "../../../src/raft/types.js";
import {
  decodeFrame,
  type Frame,
  FrameReader,
  FrameType,
  FrameWriter,
  isWireMessage,
  messageProblem,
  peerDetailBytesMax,
  peerFrameBytesMax,
  peerFrameHeaderBytes,
  peerHelloFrameBytesMax,
  peerProtocolVersion,
  RefuseCode,
  SnapshotAssembler,
  writeHello,
  writeMessages,
  writeRefuse,
  writeSnapshotAck,
  writeSnapshotBegin,
  writeSnapshotChunk,
  writeWelcome,
} from "../../../src/server/transport/mod.js";
import { everyKind, snapMessage } from "./helpers.js";

/** Cuts `bytes` into frames with a reader of `limit`, decoding each; fails on any error. */
function readAll(bytes: Uint8Array, limit = peerFrameBytesMax, splits: readonly number[] = []): Frame[] {
  const reader = new FrameReader(limit);
  const frames: Frame[] = [];
  const cuts = [0, ...splits.filter((s) => s > 0 && s < bytes.length).sort((a, b) => a - b), bytes.length];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const failure = reader.push(bytes.subarray(cuts[i], cuts[i + 1]), (raw) => {
      const d = decodeFrame(raw.type, raw.payload);
      assert.ok(d.ok, d.ok ? "" : d.reason);
      frames.push(d.value);
    });
    assert.equal(failure, null);
  }
  assert.equal(reader.bufferedBytes, 0, "no partial frame left over");
  return frames;
}

/** Pushes `bytes` into a fresh reader; returns the failure and the frames delivered. */
function tryRead(bytes: Uint8Array, limit = peerFrameBytesMax): { failure: string | null; frames: Frame[] } {
  const reader = new FrameReader(limit);
  const frames: Frame[] = [];
  const failure = reader.push(bytes, (raw) => {
    const d = decodeFrame(raw.type, raw.payload);
    if (d.ok) frames.push(d.value);
    else reader.stop();
  });
  return { failure, frames };
}

/** Sends a snap message through begin + chunk frames and a reader and assembler; returns the result. */
function transferSnapshot(m: Message, chunkBytes: number, splits: readonly number[] = []): Message {
  const w = new FrameWriter();
  assert.ok(writeSnapshotBegin(w, 9, m, peerFrameBytesMax));
  const data = m.snapshot?.data ?? new Uint8Array(0);
  for (let at = 0; at < data.length; at += chunkBytes) {
    writeSnapshotChunk(w, 9, at, data.subarray(at, Math.min(data.length, at + chunkBytes)));
  }
  const asm = new SnapshotAssembler(1 << 24);
  let done: Message | null = null;
  for (const f of readAll(w.take(), peerFrameBytesMax, splits)) {
    const out =
      f.type === FrameType.snapshotBegin
        ? asm.begin(f.transferId, f.dataBytes, f.message)
        : f.type === FrameType.snapshotChunk
          ? asm.chunk(f.transferId, f.offset, f.data)
          : assert.fail(`unexpected frame ${f.type}`);
    if (out.kind === "done") done = out.message;
    else assert.equal(out.kind, "more");
  }
  assert.ok(done !== null, "the snapshot completed");
  return done;
}

const safeInt = fc.oneof(fc.nat(1000), fc.maxSafeNat());
const bytesArb = fc.uint8Array({ maxLength: 64 }).map((b) => new Uint8Array(b));
const entryArb: fc.Arbitrary<Entry> = fc
  .record({
    term: safeInt,
    index: safeInt,
    type: fc.constantFrom(EntryType.normal, EntryType.confChange),
    data: bytesArb,
  })
  .map((e) => ({ ...e })); // a plain object: fast-check's records have no prototype
const batchKinds = [
  MessageType.prop,
  MessageType.app,
  MessageType.appResp,
  MessageType.vote,
  MessageType.voteResp,
  MessageType.preVote,
  MessageType.preVoteResp,
  MessageType.heartbeat,
  MessageType.heartbeatResp,
  MessageType.transferLeader,
  MessageType.timeoutNow,
  MessageType.readIndex,
  MessageType.readIndexResp,
];
const fieldsArb = {
  from: safeInt,
  to: safeInt,
  term: safeInt,
  logTerm: safeInt,
  index: safeInt,
  entries: fc.array(entryArb, { maxLength: 5 }),
  commit: safeInt,
  reject: fc.boolean(),
  rejectHint: safeInt,
  context: bytesArb,
  round: safeInt,
};
const messageArb: fc.Arbitrary<Message> = fc
  .record({ type: fc.constantFrom(...batchKinds), ...fieldsArb })
  .map((f) => ({ ...f, snapshot: null }));
const idsArb = fc.array(safeInt, { maxLength: 6 });
const snapArb: fc.Arbitrary<Message> = fc
  .record({
    ...fieldsArb,
    index: safeInt,
    snapIndex: safeInt,
    snapTerm: safeInt,
    voters: idsArb,
    votersOutgoing: idsArb,
    learners: idsArb,
    learnersNext: idsArb,
    autoLeave: fc.boolean(),
    data: fc.uint8Array({ maxLength: 5000 }).map((b) => new Uint8Array(b)),
  })
  .map((f) => ({
    type: MessageType.snap,
    from: f.from,
    to: f.to,
    term: f.term,
    logTerm: f.logTerm,
    index: f.index,
    entries: f.entries,
    commit: f.commit,
    reject: f.reject,
    rejectHint: f.rejectHint,
    context: f.context,
    round: f.round,
    snapshot: {
      metadata: {
        index: f.snapIndex,
        term: f.snapTerm,
        confState: {
          voters: f.voters,
          votersOutgoing: f.votersOutgoing,
          learners: f.learners,
          learnersNext: f.learnersNext,
          autoLeave: f.autoLeave,
        },
      },
      data: f.data,
    },
  }));

function encodeBatch(msgs: readonly Message[]): Uint8Array {
  const w = new FrameWriter(16);
  const { tooLarge } = writeMessages(w, msgs, peerFrameBytesMax);
  assert.equal(tooLarge.length, 0);
  return w.take();
}

test("codec: every wire message kind round-trips with every field", () => {
  // Proves each of the 14 network kinds, with entries, context, reject, hints and rounds,
  // decodes to exactly the message encoded; snap goes through begin + chunks + reassembly.
  const all = everyKind(3, 5);
  assert.equal(all.length, 14);
  assert.ok(all.every((m) => isWireMessage(m.type) && messageProblem(m) === null));
  const batch = all.filter((m) => m.type !== MessageType.snap);
  const frames = readAll(encodeBatch(batch));
  assert.deepEqual(frames, [{ type: FrameType.messages, messages: batch }]);
  const snap = all.find((m) => m.type === MessageType.snap);
  assert.ok(snap !== undefined);
  assert.deepEqual(transferSnapshot(snap, 300), snap);
});

test("codec: decode(encode(batch)) equals the batch, however the stream is split (property)", () => {
  // Proves the message encoding is lossless over the full range of safe integers and byte
  // strings, and that the frame reader reassembles frames from arbitrary read boundaries.
  fc.assert(
    fc.property(
      fc.array(messageArb, { maxLength: 20 }),
      fc.array(fc.nat(4000), { maxLength: 8 }),
      (msgs, splits) => {
        const frames = readAll(encodeBatch(msgs), peerFrameBytesMax, splits);
        const decoded = frames.flatMap((f) => (f.type === FrameType.messages ? f.messages : []));
        assert.deepEqual(decoded, msgs);
      },
    ),
    { seed: 20240501, numRuns: 300 },
  );
});

test("codec: a snap message survives begin + chunks + reassembly (property)", () => {
  // Proves snapshot metadata (index, term, all four ConfState lists, autoLeave) and the data,
  // cut in chunks of any size and read at any boundaries, arrive unchanged.
  fc.assert(
    fc.property(
      snapArb,
      fc.integer({ min: 1, max: 700 }),
      fc.array(fc.nat(6000), { maxLength: 6 }),
      (m, chunk, cuts) => {
        assert.deepEqual(transferSnapshot(m, chunk, cuts), m);
      },
    ),
    { seed: 7, numRuns: 150 },
  );
});

test("codec: writeMessages splits batches at the frame limit and sets aside messages too large for a frame", () => {
  // Proves no frame exceeds frameBytesMax, order is kept across frames, and one oversized
  // message is reported instead of breaking the batch.
  const small = Array.from({ length: 50 }, (_, i) =>
    message({
      type: MessageType.app,
      from: 1,
      to: 2,
      index: i,
      entries: [{ term: 1, index: i + 1, type: 0, data: new Uint8Array(100) }],
    }),
  );
  const huge = message({
    type: MessageType.app,
    from: 1,
    to: 2,
    entries: [{ term: 1, index: 99, type: 0, data: new Uint8Array(5000) }],
  });
  const w = new FrameWriter(16);
  const out = writeMessages(w, [...small.slice(0, 25), huge, ...small.slice(25)], 1024);
  assert.deepEqual(out.tooLarge, [huge]);
  const bytes = w.take();
  const frames = readAll(bytes, 1024);
  assert.equal(frames.length, out.frames);
  assert.ok(frames.length >= 6, `${frames.length} frames`);
  assert.deepEqual(
    frames.flatMap((f) => (f.type === FrameType.messages ? f.messages : [])),
    small,
  );
  // An empty input or only oversized messages write nothing.
  const w2 = new FrameWriter(16);
  assert.deepEqual(writeMessages(w2, [huge], 1024), { frames: 0, tooLarge: [huge] });
  assert.equal(w2.take().length, 0);
});

test("codec: handshake frames round-trip over the full range of cluster and member ids", () => {
  // Proves the 64-bit cluster id (as two u32 halves) and member ids up to 2^53-1 survive the
  // fixed-layout hello and welcome, and that refuse and snapshot-ack carry their reasons.
  for (const clusterId of [0n, 1n, 0xffff_ffffn, 0x1_0000_0000n, 0xdead_beef_0bad_f00dn, (1n << 64n) - 1n]) {
    const w = new FrameWriter(16);
    writeHello(w, clusterId, Number.MAX_SAFE_INTEGER, 1);
    assert.deepEqual(readAll(w.take(), peerHelloFrameBytesMax), [
      {
        type: FrameType.hello,
        version: peerProtocolVersion,
        clusterId,
        from: Number.MAX_SAFE_INTEGER,
        to: 1,
      },
    ]);
  }
  const w = new FrameWriter(16);
  writeWelcome(w, 2 ** 40 + 3);
  writeRefuse(w, RefuseCode.clusterMismatch, "cluster id mismatch: é");
  writeSnapshotAck(w, 77, false, "too big");
  writeSnapshotAck(w, 78, true, "");
  assert.deepEqual(readAll(w.take()), [
    { type: FrameType.welcome, version: peerProtocolVersion, memberId: 2 ** 40 + 3 },
    { type: FrameType.refuse, code: RefuseCode.clusterMismatch, detail: "cluster id mismatch: é" },
    { type: FrameType.snapshotAck, transferId: 77, ok: false, detail: "too big" },
    { type: FrameType.snapshotAck, transferId: 78, ok: true, detail: "" },
  ]);
  // A reason longer than the limit is cut at a character boundary and still decodes.
  const long = new FrameWriter(16);
  writeRefuse(long, RefuseCode.busy, "é".repeat(peerDetailBytesMax));
  const [refuse] = readAll(long.take());
  assert.ok(refuse?.type === FrameType.refuse);
  assert.equal(refuse.detail, "é".repeat(peerDetailBytesMax / 2));
});

/** One frame of `type` with `payload` bytes, with a correct CRC. */
function frame(type: number, payload: readonly number[] | Uint8Array): Uint8Array {
  const w = new FrameWriter(16);
  w.beginFrame(type as FrameType);
  w.raw(Uint8Array.from(payload));
  w.endFrame();
  return w.take();
}

/** A valid hello payload, as bytes, to mutate. */
function helloPayload(): Uint8Array {
  const w = new FrameWriter(16);
  writeHello(w, 5n, 1, 2);
  return w.take().subarray(peerFrameHeaderBytes);
}

test("codec: malformed frames are rejected with a reason and never throw", () => {
  // Proves bad CRCs, oversized lengths, unknown types, set reserved bits, bad magic, unsafe
  // integers, impossible counts, local message kinds, snapshot flags in the wrong place and
  // trailing bytes are each reported as a reason.
  const good = encodeBatch(everyKind(1, 2).filter((m) => m.type !== MessageType.snap));
  const badCrc = good.slice();
  badCrc[badCrc.length - 1] = (badCrc[badCrc.length - 1] as number) ^ 1;
  const reserved = frame(FrameType.messages, [0, 0, 0, 0]);
  reserved[6] = 1;
  const badMagic = helloPayload().slice();
  badMagic[0] = 0x47;
  const bigId = helloPayload().slice();
  bigId[16] = 0x00;
  bigId[17] = 0x20; // sender id high half 2^21: above 2^53-1
  const msgHead = [1, 0]; // prop, no flags
  const zeros = (n: number): number[] => new Array<number>(n).fill(0);
  const cases: [string, Uint8Array, string][] = [
    ["bad CRC", badCrc, "fails its CRC"],
    ["oversized length", Uint8Array.from([0x7f, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0]), "exceeds the limit"],
    [
      "HTTP on the peer port",
      new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
      "looks like HTTP",
    ],
    ["unknown frame type", frame(9, []), "unknown frame type 9"],
    ["frame type 0", frame(0, []), "unknown frame type 0"],
    ["reserved bytes", reserved, "reserved bytes"],
    ["bad magic", frame(FrameType.hello, badMagic), "bad magic"],
    ["short hello", frame(FrameType.hello, helloPayload().subarray(0, 20)), "20 bytes, want 32"],
    ["unsafe member id", frame(FrameType.hello, bigId), "exceeds 2^53-1"],
    [
      "message count beyond bytes",
      frame(FrameType.messages, [0, 0, 0xff, 0xff, 1, 2, 3]),
      "exceeds the bytes left",
    ],
    ["message count beyond limit", frame(FrameType.messages, [0, 1, 0, 1]), "exceeds 65536"],
    [
      "local message kind",
      frame(FrameType.messages, [0, 0, 0, 1, 0, 0, ...zeros(10)]),
      "unknown message kind 0",
    ],
    [
      "unknown message kind",
      frame(FrameType.messages, [0, 0, 0, 1, 15, 0, ...zeros(10)]),
      "unknown message kind 15",
    ],
    ["unknown flags", frame(FrameType.messages, [0, 0, 0, 1, 1, 4, ...zeros(10)]), "unknown message flags"],
    [
      "snap in a batch",
      frame(FrameType.messages, [0, 0, 0, 1, 8, 2, ...zeros(10)]),
      "outside a snapshot transfer",
    ],
    ["snapshot flag on app", frame(FrameType.messages, [0, 0, 0, 1, 2, 2, ...zeros(10)]), "snapshot flag"],
    [
      "9-byte varint",
      frame(FrameType.messages, [0, 0, 0, 1, ...msgHead, ...new Array<number>(9).fill(0x80), ...zeros(9)]),
      "longer than 8 bytes",
    ],
    [
      "varint above 2^53",
      frame(FrameType.messages, [
        0,
        0,
        0,
        1,
        ...msgHead,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0x7f,
        ...zeros(9),
      ]),
      "exceeds 2^53-1",
    ],
    [
      "context beyond bytes",
      frame(FrameType.messages, [0, 0, 0, 1, ...msgHead, ...zeros(8), 50, 0]),
      "context of 50 bytes",
    ],
    [
      "entry count beyond bytes",
      frame(FrameType.messages, [0, 0, 0, 1, ...msgHead, ...zeros(9), 0x7f]),
      "entry count 127",
    ],
    [
      "unknown entry type",
      frame(FrameType.messages, [0, 0, 0, 1, ...msgHead, ...zeros(9), 1, 1, 1, 7, 0]),
      "entry type 7",
    ],
    [
      "trailing bytes",
      frame(FrameType.messages, [0, 0, 0, 1, ...msgHead, ...zeros(10), 0]),
      "1 unexpected bytes",
    ],
    [
      "truncated message",
      frame(FrameType.messages, [0, 0, 0, 1, ...msgHead, ...zeros(7), 0x80, 0x80, 0x80]),
      "truncated at round",
    ],
    ["bad refuse code", frame(FrameType.refuse, [99]), "unknown refuse code"],
    ["bad UTF-8", frame(FrameType.refuse, [1, 0xff, 0xfe]), "not valid UTF-8"],
    ["bad ack byte", frame(FrameType.snapshotAck, [1, 2]), "ok byte 2"],
    ["welcome to member 0", frame(FrameType.welcome, [0, 1, 0, 0, ...zeros(8)]), "member id 0"],
  ];
  for (const [name, bytes, want] of cases) {
    const reader = new FrameReader(name.includes("hello") || name.includes("member id") ? 64 : 1 << 20);
    let reason: string | null = null;
    let delivered = 0;
    const failure = reader.push(bytes, (raw) => {
      const d = decodeFrame(raw.type, raw.payload);
      if (d.ok) delivered++;
      else reason = d.reason;
    });
    const got = failure ?? reason ?? "";
    assert.ok(got.includes(want), `${name}: got '${got}', want '${want}'`);
    assert.equal(delivered, 0, `${name}: nothing decoded`);
  }
});

test("codec: an oversized length is refused from the header alone, before any payload is buffered", () => {
  // Proves a peer cannot make the reader allocate: 12 header bytes claiming 4 GiB fail at once,
  // and the reader stays failed.
  const reader = new FrameReader(peerHelloFrameBytesMax);
  const header = Uint8Array.from([0xff, 0xff, 0xff, 0xff, FrameType.hello, 0, 0, 0, 0, 0, 0, 0]);
  const failure = reader.push(header, () => assert.fail("no frame"));
  assert.match(failure ?? "", /frame of 4294967295 bytes exceeds the limit of 64 bytes/);
  assert.equal(reader.bufferedBytes, 0);
  assert.equal(
    reader.push(new Uint8Array(100), () => assert.fail("no frame")),
    failure,
  );
});

test("codec: a truncated stream delivers the complete frames and keeps the partial one pending", () => {
  // Proves truncation is never mistaken for a frame: every proper prefix of a frame yields
  // no frame and no error (the connection's close is what ends it).
  const bytes = encodeBatch(everyKind(1, 2).filter((m) => m.type !== MessageType.snap));
  for (let n = 0; n < bytes.length; n += 7) {
    const { failure, frames } = tryRead(bytes.subarray(0, n));
    assert.equal(failure, null);
    assert.equal(frames.length, 0);
  }
});

test("codec: random bytes never throw and never yield a frame without a valid CRC (property)", () => {
  // Proves the reader and decoder are total: garbage of any shape gives a reason or waits for
  // more bytes, but never throws.
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const r = tryRead(new Uint8Array(bytes), 1 << 16);
      assert.ok(r.failure === null || typeof r.failure === "string");
    }),
    { seed: 99, numRuns: 2000 },
  );
});

test("codec: every single-bit flip in a frame is detected (property)", () => {
  // Proves CRC-32C over header and payload catches any one-bit corruption: a flipped stream
  // fails, or (a larger length) waits for bytes that never come; it never delivers a frame.
  fc.assert(
    fc.property(
      fc.array(messageArb, { minLength: 1, maxLength: 4 }),
      fc.nat(),
      fc.nat(7),
      (msgs, at, bit) => {
        const bytes = encodeBatch(msgs).slice();
        const i = at % bytes.length;
        bytes[i] = (bytes[i] as number) ^ (1 << bit);
        const r = tryRead(bytes);
        assert.equal(r.frames.length, 0);
      },
    ),
    { seed: 4242, numRuns: 500 },
  );
});

test("codec: decoding any prefix or mutation of a valid payload returns a value or a reason (property)", () => {
  // Proves decodeFrame itself (past the CRC) is total over every frame type's payload.
  const payloads: [FrameType, Uint8Array][] = [];
  const add = (write: (w: FrameWriter) => void): void => {
    const w = new FrameWriter(16);
    write(w);
    const b = w.take();
    payloads.push([b[4] as FrameType, b.subarray(peerFrameHeaderBytes)]);
  };
  add((w) =>
    writeMessages(
      w,
      everyKind(1, 2).filter((m) => m.type !== MessageType.snap),
      1 << 20,
    ),
  );
  add((w) => writeSnapshotBegin(w, 3, snapMessage(1, 2, 10), 1 << 20));
  add((w) => writeSnapshotChunk(w, 3, 0, new Uint8Array([1, 2, 3])));
  add((w) => writeHello(w, 9n, 1, 2));
  add((w) => writeWelcome(w, 2));
  add((w) => writeRefuse(w, RefuseCode.version, "no"));
  add((w) => writeSnapshotAck(w, 3, true, ""));
  fc.assert(
    fc.property(fc.nat(payloads.length - 1), fc.nat(), fc.nat(255), fc.boolean(), (which, at, value, cut) => {
      const [type, payload] = payloads[which] as [FrameType, Uint8Array];
      const mutated = payload.slice();
      if (mutated.length > 0) mutated[at % mutated.length] = value;
      const input = cut ? payload.subarray(0, at % (payload.length + 1)) : mutated;
      const d = decodeFrame(type, input);
      assert.ok(d.ok || d.reason.length > 0);
    }),
    { seed: 1337, numRuns: 3000 },
  );
});

test("codec: messageProblem names what cannot be encoded", () => {
  // Proves the transport's pre-check rejects local kinds, unsafe numbers, misplaced snapshots
  // and unknown entry types, so encoding never fails on a queued message.
  const ok = message({ type: MessageType.app, from: 1, to: 2 });
  assert.equal(messageProblem(ok), null);
  assert.match(messageProblem(message({ type: MessageType.hup })) ?? "", /never crosses the network/);
  assert.match(messageProblem({ ...ok, term: -1 }) ?? "", /not a safe non-negative integer/);
  assert.match(messageProblem({ ...ok, index: 2 ** 53 }) ?? "", /not a safe non-negative integer/);
  assert.match(
    messageProblem(message({ type: MessageType.snap, to: 2 })) ?? "",
    /snap message without a snapshot/,
  );
  assert.match(
    messageProblem({ ...snapMessage(1, 2, 1), type: MessageType.app }) ?? "",
    /carries a snapshot/,
  );
  const badEntry = { term: 1, index: 1, type: 5 as EntryType, data: new Uint8Array(0) };
  assert.match(messageProblem({ ...ok, entries: [badEntry] }) ?? "", /unknown type 5/);
  for (const local of [
    MessageType.beat,
    MessageType.checkQuorum,
    MessageType.unreachable,
    MessageType.snapStatus,
  ]) {
    assert.equal(isWireMessage(local), false);
  }
});
