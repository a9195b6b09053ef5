// CRC-32 (IEEE): the pure JS loop, the native hook the server installs (zlib), and their agreement.
import assert from "node:assert/strict";
import { test } from "node:test";
import { crc32 } from "node:zlib";
import fc from "fast-check";
import { crc32Js, crc32Update, useNativeCrc32 } from "../../src/lib/crc32.js";

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

test("crc32: the JS loop gives the standard check value and chains over splits", () => {
  // Proves the polynomial and conventions: "123456789" has CRC-32 0xcbf43926, and feeding the
  // bytes in two pieces gives the CRC of the whole.
  assert.equal(crc32Js(0, ascii("123456789")), 0xcbf43926);
  assert.equal(crc32Js(crc32Js(0, ascii("1234")), ascii("56789")), 0xcbf43926);
  assert.equal(crc32Js(0, new Uint8Array(0)), 0);
});

test("crc32: with zlib's native CRC-32 installed, every input and split gives the JS loop's result", () => {
  // Proves the native hook changes speed only: short runs (JS) and long runs (native) chain into
  // the same value as the pure loop, for random data and split points.
  useNativeCrc32(crc32);
  try {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), fc.nat(), (bytes, cut) => {
        const at = bytes.length === 0 ? 0 : cut % bytes.length;
        const whole = crc32Js(0, bytes);
        assert.equal(crc32Update(0, bytes), whole);
        assert.equal(crc32Update(crc32Update(0, bytes.subarray(0, at)), bytes.subarray(at)), whole);
      }),
      { numRuns: 300, seed: 7 },
    );
  } finally {
    useNativeCrc32(null);
  }
});
