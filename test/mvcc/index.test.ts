// Tests for the key index structures: the B+tree of keys against a sorted array (random inserts,
// deletes and range walks, with structural invariants), and the hash index through the store
// under heavy churn (keys added, deleted and compacted away, ids and table entries reused).
import assert from "node:assert/strict";
import { test } from "node:test";
import { headAt, KeyTree, type TreeKeys } from "../../src/mvcc/keytree.js";
import { b, bytesToBinary, MvccStore, must, SeededRngForTests } from "./helpers.js";

/** Keys for a bare tree: each distinct string gets the next id. */
class StringKeys implements TreeKeys {
  readonly #byId: string[] = [];
  readonly #ids = new Map<string, number>();

  idOf(key: string): number {
    let id = this.#ids.get(key);
    if (id === undefined) {
      id = this.#byId.length;
      this.#byId.push(key);
      this.#ids.set(key, id);
    }
    return id;
  }

  compare(id: number, key: string): number {
    const k = this.keyOf(id);
    return k < key ? -1 : k > key ? 1 : 0;
  }

  keyOf(id: number): string {
    const k = this.#byId[id];
    assert.ok(k !== undefined, `no key for id ${id}`);
    return k;
  }

  headOf(id: number, at: number): number {
    return headAt(this.keyOf(id), at);
  }
}

/** A tree over string keys, and a way to add a key by its string. */
function stringTree(): { tree: KeyTree; keys: StringKeys; insert: (k: string) => boolean } {
  const keys = new StringKeys();
  const tree = new KeyTree(keys);
  return { tree, keys, insert: (k) => tree.insert(keys.idOf(k), k) };
}

function walk(tree: KeyTree, keys: StringKeys, start: string, end: string | null): string[] {
  const out: string[] = [];
  tree.forEachInRange(start, end, (id) => {
    out.push(keys.keyOf(id));
    return true;
  });
  return out;
}

/** Random inserts, deletes, range walks and lookups of keys from `key`, checked against a sorted array. */
function churn(rng: SeededRngForTests, key: () => string): void {
  const { tree, keys, insert } = stringTree();
  const model = new Set<string>();
  for (let round = 0; round < 40; round++) {
    const inserting = round % 4 !== 3;
    for (let i = 0; i < 2000; i++) {
      const k = key();
      if (inserting || rng.below(10) === 0) {
        assert.equal(insert(k), !model.has(k));
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
        walk(tree, keys, a, z),
        sorted.filter((k) => k >= a && (z === null || k < z)),
      );
    }
    for (const k of sorted.slice(0, 50)) assert.equal(tree.has(k), true);
  }
  // Delete everything: the tree becomes empty and usable again.
  for (const k of [...model]) assert.equal(tree.delete(k), true);
  tree.checkInvariants();
  assert.equal(tree.size, 0);
  assert.equal(insert("x"), true);
  assert.deepEqual(walk(tree, keys, "", null), ["x"]);
}

test("KeyTree: random inserts, deletes and range walks match a sorted array", () => {
  // Proves the B+tree keeps order, splits, unlinks empty nodes and rebuilds when sparse, without
  // losing or duplicating keys, and that range walks honour [start, end) and early stops.
  const rng = new SeededRngForTests(99);
  churn(rng, () =>
    bytesToBinary(
      new Uint8Array([rng.below(40), rng.below(256), rng.below(4)]).subarray(0, 1 + rng.below(3)),
    ),
  );
});

test("KeyTree: keys with long shared prefixes, zero bytes and prefixes of each other", () => {
  // Proves the leaf heads (4 bytes after each leaf's common prefix, zero-padded) never misorder
  // keys: "p/ab" and "p/ab\0" have equal heads, leaves' prefixes shrink and grow as keys come and
  // go, and keys outside a leaf's prefix land before or after it.
  const rng = new SeededRngForTests(5);
  const prefixes = ["", "/registry/pods/", "/registry/pods/default/", "/registry/services/"];
  churn(rng, () => {
    const tail = Array.from({ length: rng.below(9) }, () =>
      String.fromCharCode(rng.below(3) === 0 ? 0 : 97 + rng.below(3)),
    );
    return `${prefixes[rng.below(prefixes.length)] as string}${tail.join("")}`;
  });
});

test("KeyTree: forEachInRange stops when the visitor returns false", () => {
  // Proves early termination, which limit-bounded scans rely on.
  const { tree, keys, insert } = stringTree();
  for (let i = 0; i < 1000; i++) insert(String(i).padStart(4, "0"));
  const seen: string[] = [];
  tree.forEachInRange("0100", null, (id) => {
    seen.push(keys.keyOf(id));
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
  const sorted = Array.from({ length: 50_000 }, (_, i) => `k${String(i).padStart(6, "0")}`);
  const { tree, keys, insert } = stringTree();
  tree.load(
    sorted,
    sorted.map((k) => keys.idOf(k)),
  );
  tree.checkInvariants();
  assert.equal(tree.size, sorted.length);
  assert.deepEqual(walk(tree, keys, "k000100", "k000103"), ["k000100", "k000101", "k000102"]);
  for (let i = 0; i < sorted.length; i += 3) assert.equal(tree.delete(sorted[i] as string), true);
  assert.equal(insert("k0000005"), true);
  tree.checkInvariants();
  assert.equal(tree.size, sorted.length - Math.ceil(sorted.length / 3) + 1);
  const other = new StringKeys();
  assert.throws(
    () => new KeyTree(other).load(["b", "a"], [other.idOf("b"), other.idOf("a")]),
    /not strictly ascending/,
  );
});

test("KeyIndex: keys whose newest record has an arena chunk of its own are found, ordered and ranged", () => {
  // Proves the paths for records without a packed arena position (values over 256 KiB get a chunk
  // of their own): point reads, ordered ranges, inserts next to such keys, deletes, compaction and
  // repacks all read their key bytes through the history instead.
  const s = new MvccStore();
  const big = (i: number): Uint8Array => new Uint8Array(260 * 1024).fill(i);
  const live = new Map<string, number>();
  for (let i = 0; i < 40; i += 2) {
    const k = `/big/${String(i).padStart(3, "0")}`;
    must(s.put({ key: b(k), value: big(i) }));
    live.set(k, 260 * 1024);
  }
  for (let i = 1; i < 40; i += 2) {
    const k = `/big/${String(i).padStart(3, "0")}`;
    must(s.put({ key: b(k), value: b("small") }));
    live.set(k, 5);
  }
  const check = (): void => {
    s.kv.keys.tree.checkInvariants();
    const sorted = [...live.keys()].sort();
    const all = must(s.range({ key: b("/big/"), rangeEnd: b("/big0") }));
    assert.deepEqual(
      all.kvs.map((kv) => bytesToBinary(kv.key)),
      sorted,
    );
    for (const [k, len] of live) assert.equal(must(s.range({ key: b(k) })).kvs[0]?.value.length, len, k);
  };
  check();
  for (let i = 0; i < 40; i += 4) {
    const k = `/big/${String(i).padStart(3, "0")}`;
    must(s.deleteRange({ key: b(k) }));
    live.delete(k);
  }
  must(s.put({ key: b("/big/002a"), value: big(7) }));
  live.set("/big/002a", 260 * 1024);
  check();
  must(s.put({ key: b("/end"), value: b("") }));
  must(s.compact(s.currentRevision));
  check();
  s.kv.repack();
  check();
});
