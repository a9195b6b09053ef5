import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  decodeMessage,
  Encoded,
  encodedSize,
  encodeMessage,
  isEnumType,
  isMessageType,
} from "../../../src/api/etcd/proto/codec.js";
import { base64Decode, fromJson, toJson } from "../../../src/api/etcd/proto/json.js";
import {
  D,
  LockD,
  type PutRequestMsg,
  type RangeResponseMsg,
  type TxnRequestMsg,
  type WatchRequestMsg,
} from "../../../src/api/etcd/proto/messages.js";
import { b } from "./helpers.js";

const protoDir = join(process.cwd(), "src/api/etcd/proto");

/** Parses the message fields of a .proto file: full message name → "no name type [repeated]". */
function parseProto(file: string): Map<string, string[]> {
  const text = readFileSync(join(protoDir, file), "utf8");
  const pkg = /^package ([\w.]+);/m.exec(text)?.[1] ?? "";
  const out = new Map<string, string[]>();
  let current: string[] | null = null;
  let depth = 0;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\/\/.*$/, "").trim();
    const msg = /^message (\w+) \{$/.exec(line);
    if (msg !== null && depth === 0) {
      current = [];
      out.set(`${pkg}.${msg[1]}`, current);
    }
    if (line.endsWith("{")) depth++;
    if (line === "}") depth--;
    const field = /^(repeated )?([\w.]+) (\w+) = (\d+);$/.exec(line);
    if (field !== null && current !== null) {
      current.push(
        `${field[4]} ${field[3]} ${(field[2] ?? "").split(".").at(-1)}${field[1] !== undefined ? " repeated" : ""}`,
      );
    }
  }
  return out;
}

test("proto: every message descriptor matches the .proto files field by field", () => {
  // Proves the codec's field numbers, names, types and cardinality are the ones written in the
  // .proto files (etcd's), so a typo in either is caught.
  const parsed = new Map<string, string[]>();
  for (const f of ["kv.proto", "rpc.proto", "health.proto", "auth.proto"])
    for (const [k, v] of parseProto(f)) parsed.set(k, v);
  const scalar: Record<string, string> = { id64: "uint64" };
  for (const desc of Object.values(D)) {
    const fields = desc.fields.map((f) => {
      const t = f.type;
      const type = isMessageType(t)
        ? (t().name.split(".").at(-1) ?? "")
        : isEnumType(t)
          ? (t.name.split(".").at(-1) ?? "")
          : (scalar[t] ?? t);
      return `${f.no} ${f.name} ${type}${f.repeated ? " repeated" : ""}`;
    });
    assert.deepEqual(fields, parsed.get(desc.name), desc.name);
  }
  assert.equal(Object.keys(D).length, parsed.size, "every message in the .proto files has a descriptor");
  const lock = parseProto("v3lock.proto");
  for (const desc of Object.values(LockD)) {
    const fields = desc.fields.map((f) => {
      const t = f.type;
      const type = isMessageType(t) ? (t().name.split(".").at(-1) ?? "") : String(t);
      return `${f.no} ${f.name} ${type}${f.repeated ? " repeated" : ""}`;
    });
    assert.deepEqual(fields, lock.get(desc.name), desc.name);
  }
  assert.equal(Object.keys(LockD).length, lock.size);
});

test("proto: encode/decode round trip keeps every field, negative int64 and uint64 ids", () => {
  // Proves the wire codec is lossless for the shapes the services use, including 10-byte varints.
  const header = { clusterId: 0xfedcba9876543210n, memberId: 1n, revision: 42, raftTerm: 7 };
  const res: RangeResponseMsg = {
    header,
    kvs: [{ key: b("k"), createRevision: 2, modRevision: 3, version: 2, value: b("v"), lease: 2 ** 52 }],
    more: true,
    count: 5,
  };
  const back = decodeMessage<RangeResponseMsg>(D.RangeResponse, encodeMessage(D.RangeResponse, res));
  assert.ok(back.ok);
  assert.deepEqual(back.value, { ...res, kvs: [{ ...(res.kvs?.[0] ?? {}), key: b("k"), value: b("v") }] });
  for (const id of [0n, 1n, 2n ** 53n, 2n ** 55n + 3n, 2n ** 56n, 2n ** 62n + 1n, 2n ** 64n - 1n]) {
    const h = decodeMessage<{ clusterId: bigint }>(
      D.ResponseHeader,
      encodeMessage(D.ResponseHeader, { clusterId: id }),
    );
    assert.ok(h.ok);
    assert.equal(h.value.clusterId, id);
  }
  const watch = decodeMessage<{ watchId: number }>(
    D.WatchResponse,
    encodeMessage(D.WatchResponse, { header, watchId: -1, created: true }),
  );
  assert.ok(watch.ok);
  assert.equal(watch.value.watchId, -1);
});

test("proto: oneof members keep presence (a compare against version 0 is encoded)", () => {
  // Proves a set oneof scalar at its default value survives (Compare.version = 0 is meaningful).
  const txn: TxnRequestMsg = {
    compare: [{ result: 0, target: 0, key: b("a"), version: 0, rangeEnd: new Uint8Array(0) }],
    success: [
      {
        requestPut: {
          key: b("a"),
          value: b("1"),
          lease: 0,
          prevKv: false,
          ignoreValue: false,
          ignoreLease: false,
        },
      },
    ],
    failure: [],
  };
  const back = decodeMessage<TxnRequestMsg>(D.TxnRequest, encodeMessage(D.TxnRequest, txn));
  assert.ok(back.ok);
  assert.equal(back.value.compare[0]?.version, 0);
  assert.equal(back.value.compare[0]?.modRevision, undefined);
  assert.deepEqual(back.value.success[0]?.requestPut?.key, b("a"));
  assert.equal(back.value.success[0]?.requestRange, undefined);
});

test("proto: malformed input gives a reason, never an exception", () => {
  // Proves truncated fields, bad wire types, overlong varints and invalid UTF-8 are rejected
  // as values; unknown fields are skipped.
  const cases: [string, number[]][] = [
    ["truncated length", [0x0a, 0x05, 0x61]],
    ["truncated varint", [0x18, 0xff]],
    ["overlong varint", [0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]],
    ["wrong wire type for bytes", [0x08, 0x01]],
    ["group wire type", [0x0b]],
    ["field number 0", [0x00, 0x01]],
  ];
  for (const [what, bytes] of cases) {
    const r = decodeMessage(D.PutRequest, new Uint8Array(bytes));
    assert.equal(r.ok, false, what);
  }
  const badUtf8 = decodeMessage(D.HealthCheckRequest, new Uint8Array([0x0a, 0x02, 0xc3, 0x28]));
  assert.equal(badUtf8.ok, false);
  const unknown = decodeMessage<PutRequestMsg>(
    D.PutRequest,
    new Uint8Array([0x0a, 0x01, 0x61, 0xf8, 0x01, 0x05]),
  );
  assert.ok(unknown.ok);
  assert.deepEqual(unknown.value.key, b("a"));
});

test("proto: packed and unpacked repeated enums both decode (watch filters)", () => {
  // Proves WatchCreateRequest.filters is accepted in both encodings proto3 allows.
  const packed = new Uint8Array([0x0a, 0x06, 0x0a, 0x01, 0x61, 0x2a, 0x01, 0x01]);
  const unpacked = new Uint8Array([0x0a, 0x07, 0x0a, 0x01, 0x61, 0x28, 0x00, 0x28, 0x01]);
  const p = decodeMessage<WatchRequestMsg>(D.WatchRequest, packed);
  const u = decodeMessage<WatchRequestMsg>(D.WatchRequest, unpacked);
  assert.ok(p.ok && u.ok);
  assert.deepEqual(p.value.createRequest?.filters, [1]);
  assert.deepEqual(u.value.createRequest?.filters, [0, 1]);
});

test("proto: JSON mapping uses proto names, int64 strings, base64 bytes, enum names and omits defaults", () => {
  // Proves the gateway's JSON has etcd's shape and that input accepts both name styles.
  const json = toJson(D.WatchResponse, {
    header: { clusterId: 5n, memberId: 6n, revision: 7, raftTerm: 0 },
    watchId: 0,
    created: true,
    events: [{ type: 1, kv: { key: b("k"), modRevision: 7 }, prevKv: null }],
  });
  assert.deepEqual(json, {
    header: { cluster_id: "5", member_id: "6", revision: "7" },
    created: true,
    events: [{ type: "DELETE", kv: { key: "aw==", mod_revision: "7" } }],
  });
  const r = fromJson<{ key: Uint8Array; rangeEnd: Uint8Array; limit: number; sortOrder: number }>(
    D.RangeRequest,
    {
      key: "YQ==",
      rangeEnd: "Yg",
      limit: "3",
      sort_order: "DESCEND",
    },
  );
  assert.ok(r.ok);
  assert.deepEqual([r.value.key, r.value.rangeEnd, r.value.limit, r.value.sortOrder], [b("a"), b("b"), 3, 2]);
  assert.equal(fromJson(D.RangeRequest, { nope: 1 }).ok, false);
  assert.equal(fromJson(D.RangeRequest, { limit: "x" }).ok, false);
  assert.equal(base64Decode("!!!"), null);
});

test("proto: a pre-encoded sub-message (Encoded) encodes to the same bytes and the same JSON", () => {
  // Proves the watch fan-out's shortcut: a WatchResponse carrying events encoded once is
  // byte-identical to one encoding the event objects, and the JSON gateway renders it the same.
  const te = new TextEncoder();
  const event = {
    type: 0,
    kv: {
      key: te.encode("/k"),
      createRevision: 5,
      modRevision: 9,
      version: 3,
      value: te.encode("v"),
      lease: 7,
    },
    prevKv: null,
  };
  const plain = {
    header: { clusterId: 1n, memberId: 2n, revision: 9, raftTerm: 3 },
    watchId: 4,
    events: [event, event],
  };
  const pre = new Encoded(encodeMessage(D.Event, event));
  const shortcut = { ...plain, events: [pre, pre] };
  assert.deepEqual(encodeMessage(D.WatchResponse, shortcut), encodeMessage(D.WatchResponse, plain));
  assert.equal(encodedSize(D.WatchResponse, shortcut), encodeMessage(D.WatchResponse, plain).length);
  assert.deepEqual(toJson(D.WatchResponse, shortcut), toJson(D.WatchResponse, plain));
});
