// HPACK (RFC 7541): Huffman code, decoder tables and the literal encoder
// (src/api/etcd/grpc/hpack.ts), which the HTTP/2 server (grpc/h2.ts) reads request headers with.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  encodeLiterals,
  type HeaderField,
  HpackDecoder,
  HpackError,
  huffman,
  huffmanDecode,
  huffmanEncode,
  latin1Text,
} from "../../../src/api/etcd/grpc/hpack.js";

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, "hex"));
const text = (b: Uint8Array): string => Buffer.from(b).toString("latin1");
const fields = (fs: readonly HeaderField[]): [string, string][] =>
  fs.map((f) => [text(f.name), text(f.value)]);
const enc = new TextEncoder();

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

test("hpack decoder: every field's text is its bytes as latin1, for table entries and literals alike", () => {
  // Proves the text the HTTP/2 server reads headers by matches the bytes, octets >= 0x80 and
  // values longer than the short-string path included.
  const long = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) % 256);
  const d = new HpackDecoder();
  const literal = encodeLiterals([
    { name: enc.encode("x-long"), value: long, sensitive: false },
    { name: enc.encode("x-high"), value: Uint8Array.of(0xe9, 0x41, 0xff), sensitive: true },
  ]);
  // An indexed static field (:method POST) and a literal with incremental indexing, then its reuse.
  const indexed = Uint8Array.from([0x83, 0x40, 0x01, 0x61, 0x01, 0x62]);
  const again = Uint8Array.of(0xbe);
  const all = [...d.decode(literal), ...d.decode(indexed), ...d.decode(again)];
  for (const f of all) {
    assert.equal(f.nameText, Buffer.from(f.name).toString("latin1"));
    assert.equal(f.valueText, Buffer.from(f.value).toString("latin1"));
  }
  assert.deepEqual(
    all.slice(1).map((f) => [f.nameText, f.valueText]),
    [
      ["x-high", "\u00e9A\u00ff"],
      [":method", "POST"],
      ["a", "b"],
      ["a", "b"],
    ],
  );
  assert.equal(latin1Text(long).length, 5000);
});
