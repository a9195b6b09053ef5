// HPACK (RFC 7541) decoding and the `:authority` rewriting that lets etcdctl 3.4 dial
// `http://host:port` endpoints (src/api/etcd/grpc/hpack.ts, authority.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  AuthorityRewriter,
  encodeFrame,
  FrameType,
  fixAuthority,
  H2ConnectionError,
  Http2Probe,
} from "../../../src/api/etcd/grpc/authority.js";
import {
  encodeLiterals,
  type HeaderField,
  HpackDecoder,
  HpackError,
  huffman,
  huffmanDecode,
  huffmanEncode,
} from "../../../src/api/etcd/grpc/hpack.js";

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, "hex"));
const text = (b: Uint8Array): string => Buffer.from(b).toString("latin1");
const fields = (fs: readonly HeaderField[]): [string, string][] =>
  fs.map((f) => [text(f.name), text(f.value)]);
const enc = new TextEncoder();
const preface = enc.encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

test("hpack Huffman: the canonical code matches RFC 7541 Appendix B and its examples", () => {
  // Proves the code built from the bit lengths: known codes, and the RFC's C.4 strings.
  assert.equal(huffman.codes[0], 0x1ff8);
  assert.equal(huffman.codes[48], 0); // '0'
  assert.equal(huffman.codes[97], 0x3); // 'a'
  assert.equal(huffman.codes[255], 0x3ffffee);
  assert.equal(huffman.codes[256], 0x3fffffff);
  assert.equal(text(huffmanDecode(hex("f1e3c2e5f23a6ba0ab90f4ff"))), "www.example.com");
  assert.equal(text(huffmanDecode(hex("a8eb10649cbf"))), "no-cache");
  assert.equal(text(huffmanDecode(hex("25a849e95ba97d7f"))), "custom-key");
  assert.equal(text(huffmanDecode(hex("25a849e95bb8e8b4bf"))), "custom-value");
  assert.deepEqual(huffmanEncode(enc.encode("www.example.com")), hex("f1e3c2e5f23a6ba0ab90f4ff"));
});

test("hpack Huffman: every byte string round-trips; bad padding and EOS are errors", () => {
  // Proves encode/decode are inverse for arbitrary bytes, and §5.2's decoding errors.
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      assert.deepEqual(huffmanDecode(huffmanEncode(bytes)), bytes);
    }),
  );
  assert.equal(text(huffmanDecode(hex("07"))), "0");
  assert.throws(() => huffmanDecode(hex("00")), HpackError); // padding not all ones
  assert.throws(() => huffmanDecode(hex("07ff")), HpackError); // 8+ bits of padding
  assert.throws(() => huffmanDecode(hex("ffffffff")), HpackError); // EOS
});

test("hpack decoder: RFC 7541 C.3 and C.4 request sequences, dynamic table included", () => {
  // Proves indexed fields, literals with incremental indexing, dynamic table references and sizes.
  for (const [blocks, huff] of [
    [
      [
        "828684410f7777772e6578616d706c652e636f6d",
        "828684be58086e6f2d6361636865",
        "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565",
      ],
      false,
    ],
    [
      [
        "828684418cf1e3c2e5f23a6ba0ab90f4ff",
        "828684be5886a8eb10649cbf",
        "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf",
      ],
      true,
    ],
  ] as const) {
    const d = new HpackDecoder();
    assert.deepEqual(fields(d.decode(hex(blocks[0]))), [
      [":method", "GET"],
      [":scheme", "http"],
      [":path", "/"],
      [":authority", "www.example.com"],
    ]);
    assert.equal(d.tableSize, 57, `huffman ${huff}`);
    assert.deepEqual(fields(d.decode(hex(blocks[1]))), [
      [":method", "GET"],
      [":scheme", "http"],
      [":path", "/"],
      [":authority", "www.example.com"],
      ["cache-control", "no-cache"],
    ]);
    assert.equal(d.tableSize, 110);
    assert.deepEqual(fields(d.decode(hex(blocks[2]))), [
      [":method", "GET"],
      [":scheme", "https"],
      [":path", "/index.html"],
      [":authority", "www.example.com"],
      ["custom-key", "custom-value"],
    ]);
    assert.equal(d.tableSize, 164);
  }
});

test("hpack decoder: size updates evict, and malformed blocks are errors", () => {
  // Proves eviction on a table size update, the update's limit and position rules, bad indexes
  // and truncation.
  const d = new HpackDecoder();
  d.decode(hex("828684410f7777772e6578616d706c652e636f6d"));
  assert.equal(d.tableSize, 57);
  d.decode(hex("20")); // size update to 0
  assert.equal(d.tableSize, 0);
  assert.throws(() => d.decode(hex("be")), HpackError); // index 62 no longer exists
  assert.throws(() => new HpackDecoder().decode(hex("3fe21f")), HpackError); // 4097 > the setting
  assert.throws(() => new HpackDecoder().decode(hex("8220")), HpackError); // update after a field
  assert.throws(() => new HpackDecoder().decode(hex("80")), HpackError); // index 0
  assert.throws(() => new HpackDecoder().decode(hex("410f7777")), HpackError); // truncated string
  // A literal never indexed keeps its flag through encodeLiterals.
  const f = new HpackDecoder().decode(hex("100870617373776f726406736563726574"));
  assert.deepEqual(fields(f), [["password", "secret"]]);
  assert.equal(f[0]?.sensitive, true);
  const again = new HpackDecoder().decode(encodeLiterals(f));
  assert.equal(again[0]?.sensitive, true);
});

test("fixAuthority: URLs become host:port; plain authorities are left alone", () => {
  // Proves the rewrite rule for what etcd 3.4's client sends.
  assert.equal(fixAuthority("http://127.0.0.1:2379"), "127.0.0.1:2379");
  assert.equal(fixAuthority("https://[::1]:2379/x/y"), "[::1]:2379");
  assert.equal(fixAuthority("127.0.0.1:2379"), null);
  assert.equal(fixAuthority("localhost"), null);
});

/** A header block as grpc-go writes one: Huffman strings, :authority added to the dynamic table. */
function goHeaders(authority: string): Uint8Array {
  const lit = (name: string, value: string): number[] => {
    const n = huffmanEncode(enc.encode(name));
    const v = huffmanEncode(enc.encode(value));
    return [0x40, 0x80 | n.length, ...n, 0x80 | v.length, ...v];
  };
  return Uint8Array.from([
    0x83, // :method POST
    0x86, // :scheme http
    ...lit(":path", "/etcdserverpb.KV/Range"),
    ...lit(":authority", authority),
    ...lit("content-type", "application/grpc"),
  ]);
}

interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Uint8Array;
}

function parseFrames(bytes: Uint8Array): Frame[] {
  const out: Frame[] = [];
  let at = 0;
  while (at < bytes.length) {
    const len = ((bytes[at] as number) << 16) | ((bytes[at + 1] as number) << 8) | (bytes[at + 2] as number);
    out.push({
      type: bytes[at + 3] as number,
      flags: bytes[at + 4] as number,
      streamId: Buffer.from(bytes.subarray(at + 5, at + 9)).readUInt32BE(0) & 0x7fffffff,
      payload: bytes.subarray(at + 9, at + 9 + len),
    });
    at += 9 + len;
  }
  assert.equal(at, bytes.length);
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts.map((p) => Buffer.from(p))));
}

/** A Go client's stream: preface, empty SETTINGS, ACK, two requests (the second reusing the table). */
function goStream(authority: string): { bytes: Uint8Array; data: Uint8Array } {
  const data = new Uint8Array(40_000).map((_, i) => i % 251);
  const second = Uint8Array.from([0x83, 0x86, 0xc0, 0xbf, 0xbe]); // :path, :authority, content-type from the table
  const bytes = concat([
    preface,
    encodeFrame(FrameType.settings, 0, 0, new Uint8Array(0)),
    encodeFrame(FrameType.settings, 0x1, 0, new Uint8Array(0)),
    encodeFrame(FrameType.headers, 0x4, 1, goHeaders(authority)),
    encodeFrame(FrameType.data, 0x1, 1, data),
    encodeFrame(FrameType.windowUpdate, 0, 0, hex("00010000")),
    encodeFrame(FrameType.headers, 0x4 | 0x1, 3, second),
  ]);
  return { bytes, data };
}

test("AuthorityRewriter: a Go client's URL authority becomes host:port in every request, however the bytes arrive", () => {
  // Proves the rewriting of literal and table-referenced :authority, pass-through of other frames,
  // the stripped SETTINGS ACK and an HPACK context left empty for node:http2, for random chunking.
  const { bytes, data } = goStream("http://127.0.0.1:2379");
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 40 }), (cuts) => {
      const rw = new AuthorityRewriter(4096, true);
      const out: Uint8Array[] = [];
      let at = 0;
      for (let i = 0; at < bytes.length; i++) {
        const n = cuts[i % cuts.length] as number;
        out.push(...rw.push(bytes.subarray(at, at + n)));
        at += n;
      }
      const all = concat(out);
      assert.deepEqual(all.subarray(0, 24), preface);
      const frames = parseFrames(all.subarray(24));
      assert.deepEqual(
        frames.map((f) => [f.type, f.flags, f.streamId]),
        [
          [FrameType.settings, 0, 0],
          [FrameType.headers, 0x4, 1],
          [FrameType.data, 0x1, 1],
          [FrameType.windowUpdate, 0, 0],
          [FrameType.headers, 0x5, 3],
        ],
      );
      assert.deepEqual(frames[2]?.payload, data);
      const d = new HpackDecoder();
      for (const i of [1, 4]) {
        const h = fields(d.decode((frames[i] as Frame).payload));
        assert.deepEqual(h.slice(2), [
          [":path", "/etcdserverpb.KV/Range"],
          [":authority", "127.0.0.1:2379"],
          ["content-type", "application/grpc"],
        ]);
      }
      assert.equal(d.tableSize, 0, "node:http2's table stays empty");
      assert.equal(rw.rewrites, 2);
    }),
    { numRuns: 50 },
  );
});

test("AuthorityRewriter: CONTINUATION frames are joined, padding and priority handled, big blocks split", () => {
  // Proves header blocks spread over frames, with PADDED and PRIORITY flags, and a re-encoded block
  // larger than a frame coming out as HEADERS + CONTINUATION.
  const big = "x".repeat(40_000);
  const block = encodeLiterals([
    { name: enc.encode(":authority"), value: enc.encode("http://h:1"), sensitive: false },
    { name: enc.encode("big"), value: enc.encode(big), sensitive: false },
  ]);
  const padded = concat([Uint8Array.of(3), hex("0000000010"), block.subarray(0, 100), new Uint8Array(3)]);
  const stream = concat([
    preface,
    encodeFrame(FrameType.headers, 0x8 | 0x20, 5, padded),
    encodeFrame(FrameType.continuation, 0, 5, block.subarray(100, 20_000)),
    encodeFrame(FrameType.continuation, 0x4, 5, block.subarray(20_000)),
  ]);
  const rw = new AuthorityRewriter(4096, false);
  const frames = parseFrames(concat(rw.push(stream)).subarray(24));
  assert.deepEqual(
    frames.map((f) => [f.type, f.flags]),
    [
      [FrameType.headers, 0x20],
      [FrameType.continuation, 0],
      [FrameType.continuation, 0x4],
    ],
  );
  assert.ok(frames.every((f) => f.payload.length <= 16_384 && f.streamId === 5));
  const joined = concat(frames.map((f) => f.payload));
  assert.deepEqual(joined.subarray(0, 5), hex("0000000010"));
  assert.deepEqual(fields(new HpackDecoder().decode(joined.subarray(5))), [
    [":authority", "h:1"],
    ["big", big],
  ]);
});

test("AuthorityRewriter: protocol violations and undecodable blocks are connection errors", () => {
  // Proves the rewriter refuses what node:http2 would refuse instead of passing on a desynced stream.
  const bad = (frames: Uint8Array[]): unknown => {
    try {
      new AuthorityRewriter(4096, false).push(concat([preface, ...frames]));
      return null;
    } catch (e) {
      return e instanceof H2ConnectionError ? e.code : e;
    }
  };
  assert.equal(bad([encodeFrame(FrameType.headers, 0x4, 1, hex("ff"))]), 0x9); // truncated integer
  assert.equal(bad([encodeFrame(FrameType.continuation, 0x4, 1, hex("82"))]), 0x1);
  assert.equal(
    bad([encodeFrame(FrameType.headers, 0, 1, hex("82")), encodeFrame(FrameType.data, 0, 1, hex("00"))]),
    0x1,
  );
  assert.equal(bad([encodeFrame(FrameType.pushPromise, 0x4, 1, hex("0000000282"))]), 0x1);
});

test("Http2Probe: non-Go clients go native at once; Go clients are answered and routed by their first request", () => {
  // Proves the decision table: a non-empty SETTINGS → native with every byte; an empty one → the
  // server's SETTINGS sent, then native (ACK removed) for a good authority, rewrite for a URL, for a
  // request before the ACK, and on timeout without the ACK.
  const settings = hex("00037fffffff");
  const nonGo = concat([preface, encodeFrame(FrameType.settings, 0, 0, hex("000400010000"))]);
  const a = new Http2Probe(settings).push(nonGo);
  assert.equal(a.kind, "native");
  assert.deepEqual(a.kind === "native" ? a.bytes : null, nonGo);

  const start = concat([preface, encodeFrame(FrameType.settings, 0, 0, new Uint8Array(0))]);
  const ack = encodeFrame(FrameType.settings, 1, 0, new Uint8Array(0));
  const wu = encodeFrame(FrameType.windowUpdate, 0, 0, hex("00010000"));
  const req = (authority: string): Uint8Array => encodeFrame(FrameType.headers, 0x4, 1, goHeaders(authority));

  const p = new Http2Probe(settings);
  const s1 = p.push(start.subarray(0, 30));
  assert.deepEqual(s1, { kind: "wait", send: null });
  const s2 = p.push(start.subarray(30));
  assert.equal(s2.kind, "wait");
  assert.deepEqual(s2.kind === "wait" ? s2.send : null, encodeFrame(FrameType.settings, 0, 0, settings));
  assert.deepEqual(p.push(concat([wu, ack])), { kind: "wait", send: null });
  const good = req("127.0.0.1:2379");
  assert.deepEqual(p.push(good.subarray(0, 10)), { kind: "wait", send: null });
  const s3 = p.push(good.subarray(10));
  assert.equal(s3.kind, "native");
  assert.deepEqual(s3.kind === "native" ? s3.bytes : null, concat([start, wu, good]));

  const q = new Http2Probe(settings);
  q.push(start);
  const s4 = q.push(concat([ack, req("http://127.0.0.1:2379")]));
  assert.deepEqual(s4, {
    kind: "rewrite",
    bytes: concat([start, req("http://127.0.0.1:2379")]),
    stripAck: false,
  });

  const r = new Http2Probe(settings);
  r.push(start);
  const s5 = r.push(good);
  assert.deepEqual(s5, { kind: "rewrite", bytes: concat([start, good]), stripAck: true });

  const t = new Http2Probe(settings);
  t.push(start);
  assert.deepEqual(t.timeout(), { kind: "rewrite", bytes: start, stripAck: true });
  const u = new Http2Probe(settings);
  u.push(start);
  u.push(ack);
  assert.deepEqual(u.timeout(), { kind: "native", bytes: start });
});
