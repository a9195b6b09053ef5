// The snapshot round trip at scale: one million 32-byte keys with 100-byte values are encoded as a
// stream and restored with an identical hash.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  bytesToBinary,
  decodeSnapshot,
  encodeSnapshot,
  type KeyValue,
  MvccStore,
} from "../../src/mvcc/mod.js";
import { must } from "./helpers.js";

test("encodeSnapshot/decodeSnapshot: 1M keys round trip with an identical hash", () => {
  // Proves snapshots work at the target scale and preserve state exactly (hash and spot reads).
  const n = 1_000_000;
  const s = new MvccStore();
  const key = new Uint8Array(32).fill(0x6b);
  const value = new Uint8Array(100);
  const digits = (i: number, into: Uint8Array, at: number): void => {
    for (let d = 0; d < 10; d++) {
      into[at + 9 - d] = 0x30 + (i % 10);
      i = Math.floor(i / 10);
    }
  };
  for (let i = 0; i < n; i++) {
    digits(i, key, 22);
    digits(i * 7, value, 0);
    s.kv.beginWrite();
    s.kv.put(bytesToBinary(key), key, value, 0);
    s.kv.endWrite();
  }
  assert.equal(s.currentRevision, n + 1);
  let chunks = 0;
  let bytes = 0;
  const copy = decodeSnapshot(
    (function* () {
      for (const c of encodeSnapshot(s)) {
        chunks++;
        bytes += c.length;
        yield c;
      }
    })(),
  );
  if (typeof copy === "string") assert.fail(copy);
  assert.ok(chunks > 100, `${chunks} chunks`);
  assert.ok(bytes > n * 132, `${bytes} bytes`);
  assert.equal(must(copy.hashKv()).hash, must(s.hashKv()).hash);
  for (const i of [0, 1, 4242, 999_999]) {
    digits(i, key, 22);
    const mine: KeyValue | undefined = must(copy.range({ key })).kvs[0];
    const theirs: KeyValue | undefined = must(s.range({ key })).kvs[0];
    assert.deepEqual(mine, theirs);
    assert.ok(mine !== undefined);
  }
});
