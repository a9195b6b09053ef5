// Tests for the key index structures: the B+tree of keys against a sorted array (random inserts,
// deletes and range walks, with structural invariants), and the hash index through the store
// under heavy churn (keys added, deleted and compacted away, ids and table entries reused).
import assert from "node:assert/strict";
import { test } from "node:test";
import { KeyTree } from "../../src/mvcc/keytree.js";
import { b, bytesToBinary, MvccStore, must, SeededRngForTests } from "./helpers.js";

function walk(tree: KeyTree, start: string, end: string | null): string[] {
  const out: string[] = [];
  tree.forEachInRange(start, end, (k) => {
    out.push(k);
    return true;
  });
  return out;
}

test("KeyTree: random inserts, deletes and range walks match a sorted array", () => {
  // Proves the B+tree keeps order, splits, unlinks empty nodes and rebuilds when sparse, without
  // losing or duplicating keys, and that range walks honour [start, end) and early stops.
  const rng = new SeededRngForTests(99);
  const tree = new KeyTree();
  const model = new Set<string>();
  const key = (): string =>
    bytesToBinary(
      new Uint8Array([rng.below(40), rng.below(256), rng.below(4)]).subarray(0, 1 + rng.below(3)),
    );
  for (let round = 0; round < 40; round++) {
    const inserting = round % 4 !== 3;
    for (let i = 0; i < 2000; i++) {
      const k = key();
      if (inserting || rng.below(10) === 0) {
        assert.equal(tree.insert(k), !model.has(k));
        model.add(k);
      } else {
        assert.equal(tree.delete(k), model.has(k));
        model.delete(k);
      }
    }
    tree.checkInvariants();
    const sorted = [...model].sort();
    assert.equal(tree.size, sorted.length);
    for (let q = 0; q < 20; q++) {
      const a = key();
      const z = rng.below(3) === 0 ? null : key();
      assert.deepEqual(
        walk(tree, a, z),
        sorted.filter((k) => k >= a && (z === null || k < z)),
      );
    }
    for (const k of sorted.slice(0, 50)) assert.equal(tree.has(k), true);
  }
  // Delete everything: the tree becomes empty and usable again.
  for (const k of [...model]) assert.equal(tree.delete(k), true);
  tree.checkInvariants();
  assert.equal(tree.size, 0);
  assert.equal(tree.insert("x"), true);
  assert.deepEqual(walk(tree, "", null), ["x"]);
});

test("KeyTree: forEachInRange stops when the visitor returns false", () => {
  // Proves early termination, which limit-bounded scans rely on.
  const tree = new KeyTree();
  for (let i = 0; i < 1000; i++) tree.insert(String(i).padStart(4, "0"));
  const seen: string[] = [];
  tree.forEachInRange("0100", null, (k) => {
    seen.push(k);
    return seen.length < 3;
  });
  assert.deepEqual(seen, ["0100", "0101", "0102"]);
});

test("KeyIndex: keys survive heavy churn of puts, deletes and compactions", () => {
  // Proves the hash index (open addressing with backward-shift deletion) stays exact while key
  // ids and entries are reused: every live key is found by point reads and ranges, no dead one is.
  const rng = new SeededRngForTests(7);
  const s = new MvccStore();
  const live = new Map<string, string>();
  for (let round = 0; round < 12; round++) {
    for (let i = 0; i < 3000; i++) {
      const k = `key-${rng.below(5000)}`;
      if (rng.below(3) === 0) {
        must(s.deleteRange({ key: b(k) }));
        live.delete(k);
      } else {
        const v = `v${round}-${i}`;
        must(s.put({ key: b(k), value: b(v) }));
        live.set(k, v);
      }
    }
    // A tombstone exactly at the compact revision is kept for watchers, so end on a put.
    must(s.put({ key: b("sentinel"), value: b("") }));
    must(s.compact(s.currentRevision));
    assert.equal(s.kv.keys.size, live.size + 1, "compaction removed every deleted key");
    for (let q = 0; q < 5000; q += 7) {
      const k = `key-${q}`;
      const r = must(s.range({ key: b(k) }));
      assert.equal(r.count, live.has(k) ? 1 : 0, k);
      if (live.has(k)) assert.equal(new TextDecoder().decode(r.kvs[0]?.value), live.get(k));
    }
    const all = must(s.range({ key: b("key-"), rangeEnd: b("key."), countOnly: true }));
    assert.equal(all.count, live.size);
  }
  s.kv.keys.tree.checkInvariants();
});

test("KeyTree load: builds from sorted keys, then behaves like an incrementally built tree", () => {
  // Proves the bulk build used by snapshot restore yields a valid tree that accepts later changes,
  // and that unsorted input is refused.
  const keys = Array.from({ length: 50_000 }, (_, i) => `k${String(i).padStart(6, "0")}`);
  const tree = new KeyTree();
  tree.load(keys);
  tree.checkInvariants();
  assert.equal(tree.size, keys.length);
  assert.deepEqual(walk(tree, "k000100", "k000103"), ["k000100", "k000101", "k000102"]);
  for (let i = 0; i < keys.length; i += 3) assert.equal(tree.delete(keys[i] as string), true);
  assert.equal(tree.insert("k0000005"), true);
  tree.checkInvariants();
  assert.equal(tree.size, keys.length - Math.ceil(keys.length / 3) + 1);
  assert.throws(() => new KeyTree().load(["b", "a"]), /not strictly ascending/);
});
