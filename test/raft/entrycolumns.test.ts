// EntryColumns, the column store behind MemoryStorage, against a plain array of entries.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SeededRng } from "../../src/lib/rng.js";
import { EntryColumns } from "../../src/raft/entrycolumns.js";
import type { Entry, EntryType } from "../../src/raft/types.js";

function data(rng: SeededRng, chunkBytes: number): Uint8Array {
  const kind = rng.intBelow(10);
  const n =
    kind === 0
      ? 0
      : kind === 1
        ? chunkBytes + rng.intBelow(chunkBytes)
        : rng.intBelow(Math.floor(chunkBytes / 4));
  const d = new Uint8Array(n);
  for (let i = 0; i < n; i++) d[i] = rng.intBelow(256);
  return d;
}

test("EntryColumns: random pushes, truncations and front drops read back exactly as a plain array, and release chunks", () => {
  // Proves every entry reads back with its term, type and bytes (empty, small, and larger than a
  // chunk) through column growth and compaction of the slots, after cuts at the end and drops at
  // the front; chunks are released once no entry uses them. Seeds are fixed; a failure names one.
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    const rng = new SeededRng(seed);
    const chunkBytes = 64 + rng.intBelow(512);
    const cols = new EntryColumns(chunkBytes);
    const model: Entry[] = [];
    let maxChunks = 0;
    for (let step = 0; step < 3000; step++) {
      const op = rng.intBelow(20);
      if (op < 14) {
        const e: Entry = {
          term: rng.intBelow(2 ** 40),
          index: 0,
          type: rng.intBelow(2) as EntryType,
          data: data(rng, chunkBytes),
        };
        cols.push(e.term, e.type, e.data);
        model.push(e);
      } else if (op < 16) {
        const n = rng.intBelow(model.length + 1);
        cols.truncate(n);
        model.length = n;
      } else if (op < 19) {
        const n = rng.intBelow(Math.min(model.length, 40) + 1);
        cols.dropFront(n);
        model.splice(0, n);
      } else if (rng.intBelow(20) === 0) {
        cols.clear();
        model.length = 0;
      }
      assert.equal(cols.length, model.length, `seed ${seed} step ${step}`);
      if (step % 50 === 0 || step > 2950) {
        for (let pos = 0; pos < model.length; pos++) {
          const want = model[pos] as Entry;
          const got = cols.entry(pos, 1000 + pos);
          assert.equal(got.index, 1000 + pos);
          assert.equal(cols.term(pos), want.term, `seed ${seed} step ${step} pos ${pos}`);
          assert.equal(got.term, want.term);
          assert.equal(got.type, want.type);
          assert.equal(cols.dataBytes(pos), want.data.length);
          assert.deepEqual(got.data, want.data, `seed ${seed} step ${step} pos ${pos}`);
        }
      }
      maxChunks = Math.max(maxChunks, cols.chunkCount);
    }
    // What the model holds bounds the chunks kept: truncated bytes are reclaimed at release.
    cols.dropFront(cols.length);
    assert.ok(cols.chunkCount <= 1, `seed ${seed}: ${cols.chunkCount} chunks kept with no entries`);
    assert.ok(maxChunks > 1, `seed ${seed}: the workload never used several chunks`);
  }
});

test("EntryColumns: a view handed out stays valid after later pushes, drops and clear", () => {
  // Proves data views keep their bytes: chunks are never reused or overwritten in place.
  const cols = new EntryColumns(16);
  cols.push(1, 0, Uint8Array.of(1, 2, 3));
  const view = cols.entry(0, 5).data;
  for (let i = 0; i < 50; i++) cols.push(2, 0, Uint8Array.of(9, 9, 9, 9, 9));
  cols.dropFront(51);
  cols.clear();
  cols.push(3, 0, Uint8Array.of(7, 7, 7));
  assert.deepEqual(view, Uint8Array.of(1, 2, 3));
});
