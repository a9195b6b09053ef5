// CRC-32C: known answers from RFC 3720 and agreement of the table-driven code with a bitwise one.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SeededRng } from "../../src/lib/rng.js";
import { crc32c, crc32cUpdate } from "../../src/wal/crc32c.js";

/** The textbook bit-at-a-time CRC-32C, as the reference. */
function bitwise(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

test("crc32c: matches the check value and the RFC 3720 B.4 test vectors", () => {
  // Proves the polynomial, reflection, initial value and final xor are those of CRC-32C.
  assert.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
  assert.equal(crc32c(new Uint8Array(0)), 0);
});

test("crc32c: slicing-by-8 agrees with the bitwise reference on every length, offset and split", () => {
  // Proves the 8-bytes-per-step tables and the byte tail handle every alignment, and that
  // crc32cUpdate chains (crc of a ++ b from crc of a).
  const rng = new SeededRng(7);
  const data = Uint8Array.from({ length: 300 }, () => rng.intBelow(256));
  for (let start = 0; start < 9; start++) {
    for (let end = start; end <= data.length; end += 1 + rng.intBelow(7)) {
      const want = bitwise(data.slice(start, end));
      assert.equal(crc32c(data, start, end), want, `range [${start}, ${end})`);
      const mid = start + rng.intBelow(end - start + 1);
      assert.equal(crc32cUpdate(crc32c(data, start, mid), data, mid, end), want, `split at ${mid}`);
    }
  }
});
