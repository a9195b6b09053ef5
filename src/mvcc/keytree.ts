import { assert } from "../lib/assert.js";

/** Most ids in one leaf and most children of one inner node. */
const nodeEntriesMax = 128;

/** How the tree reads the keys of the ids it holds (they live in the store, not in the tree). */
export interface TreeKeys {
  /** The sign of the key of `id` compared bytewise with binary-string `key` (<0, 0 or >0). */
  compare(id: number, key: string): number;
  /** The binary-string key of `id`. */
  keyOf(id: number): string;
  /** {@link headAt} of the key of `id`. */
  headOf(id: number, at: number): number;
}

/**
 * Bytes `[at, at + 4)` of a binary-string key as a big-endian unsigned 32-bit number, bytes past
 * the key's end read as 0. For keys sharing their first `at` bytes, a smaller head means a smaller
 * key; equal heads decide nothing.
 */
export function headAt(key: string, at: number): number {
  const n = key.length;
  const b0 = at < n ? key.charCodeAt(at) : 0;
  const b1 = at + 1 < n ? key.charCodeAt(at + 1) : 0;
  const b2 = at + 2 < n ? key.charCodeAt(at + 2) : 0;
  const b3 = at + 3 < n ? key.charCodeAt(at + 3) : 0;
  return ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0;
}

interface Leaf {
  readonly leaf: true;
  /** Ids in key order; `[0, n)` are valid. */
  readonly ids: Int32Array;
  /** `heads[i]` is {@link headAt} of the key of `ids[i]` at `prefix.length`. */
  readonly heads: Uint32Array;
  n: number;
  /** A prefix every key of the leaf starts with (their longest common one when last computed). */
  prefix: string;
  prev: Leaf | null;
  next: Leaf | null;
}

interface Inner {
  readonly leaf: false;
  /** `mins[i]` is the smallest key under `children[i]`; both arrays have the same length. */
  mins: string[];
  children: TreeNode[];
}

type TreeNode = Leaf | Inner;

/**
 * An ordered set of key ids (a B+tree with linked leaves), ordered by the binary-string keys that
 * {@link TreeKeys} reads for them. The store keeps every key that has retained history here, so
 * ranges are found in O(log n) and walked leaf by leaf. Leaves hold ids in small typed arrays and
 * only inner nodes hold key strings (one per child), so a million keys cost about 8 MB, outside
 * the garbage collector's work, instead of a million strings. Keys must stay readable through
 * `TreeKeys` for as long as their ids are in the tree.
 *
 * A search within a leaf compares 4-byte heads stored next to the ids (the key bytes right after
 * the prefix all keys of the leaf share), and reads a key from the store only among equal heads,
 * so most searches touch the leaf alone. Deletes remove empty nodes but do not merge siblings;
 * when the tree becomes sparse (under 1/8 full) it is rebuilt in one O(n) pass.
 */
export class KeyTree {
  readonly #keys: TreeKeys;
  #root: TreeNode = newLeaf();
  #size = 0;
  #leaves = 1;

  constructor(keys: TreeKeys) {
    this.#keys = keys;
  }

  /** Number of ids in the set. */
  get size(): number {
    return this.#size;
  }

  /** Adds `id`, whose key is `key`; returns false if the key was already present. */
  insert(id: number, key: string): boolean {
    const split = this.#insert(this.#root, id, key);
    if (split === false) return false;
    this.#size++;
    if (split !== null) {
      const old = this.#root;
      this.#root = { leaf: false, mins: [this.#minKey(old), this.#minKey(split)], children: [old, split] };
    }
    return true;
  }

  /** Removes the id of `key`; returns false if it was absent. */
  delete(key: string): boolean {
    if (!this.#delete(this.#root, key)) return false;
    this.#size--;
    while (!this.#root.leaf && this.#root.children.length === 1) {
      const only = this.#root.children[0];
      assert(only !== undefined, "KeyTree: inner node without children");
      this.#root = only;
    }
    if (this.#root.leaf === false && this.#root.children.length === 0) this.#root = newLeaf();
    if (this.#leaves > 8 && this.#size * 8 < this.#leaves * nodeEntriesMax) this.#rebuild();
    return true;
  }

  /** Whether `key` is present. */
  has(key: string): boolean {
    const leaf = this.#findLeaf(key);
    return this.#holdsAt(leaf, this.#lowerBound(leaf, key), key);
  }

  /**
   * Calls `visit` for the id of every key in `[start, end)` in ascending key order (`end` null =
   * no upper bound) until it returns false.
   */
  forEachInRange(start: string, end: string | null, visit: (id: number) => boolean | undefined): void {
    const keys = this.#keys;
    let leaf: Leaf | null = this.#findLeaf(start);
    let i = this.#lowerBound(leaf, start);
    while (leaf !== null) {
      const ids = leaf.ids;
      const n = leaf.n;
      // Only the leaf that holds `end` needs a comparison per key.
      const bounded = end !== null && n > 0 && keys.compare(ids[n - 1] as number, end) >= 0;
      for (; i < n; i++) {
        const id = ids[i] as number;
        if (bounded && keys.compare(id, end) >= 0) return;
        if (visit(id) === false) return;
      }
      if (bounded) return;
      leaf = leaf.next;
      i = 0;
    }
  }

  /** Removes every id. */
  clear(): void {
    this.#root = newLeaf();
    this.#size = 0;
    this.#leaves = 1;
  }

  /**
   * Replaces the contents with `ids`, whose keys `sorted` must be strictly ascending, built bottom-up in O(n) with nodes 3/4 full; much faster than inserting keys one by
   * one in random order (snapshot restore).
   */
  load(sorted: readonly string[], ids: readonly number[]): void {
    assert(sorted.length === ids.length, "KeyTree.load: one id per key");
    for (let i = 1; i < sorted.length; i++) {
      assert((sorted[i - 1] as string) < (sorted[i] as string), "KeyTree.load: keys not strictly ascending");
    }
    this.#build(ids, sorted);
  }

  /** Checks the tree's structural invariants; for tests. Throws on a violation. */
  checkInvariants(): void {
    const all: string[] = [];
    this.forEachInRange("", null, (id) => {
      all.push(this.#keys.keyOf(id));
      return true;
    });
    assert(all.length === this.#size, `KeyTree: size ${this.#size} but ${all.length} keys linked`);
    for (let i = 1; i < all.length; i++) {
      assert((all[i - 1] as string) < (all[i] as string), "KeyTree: keys out of order");
    }
    this.#checkNode(this.#root, this.#root.leaf);
  }

  #findLeaf(key: string): Leaf {
    let node = this.#root;
    while (!node.leaf) node = node.children[childIndex(node.mins, key)] as TreeNode;
    return node;
  }

  /** Index of the first id in `leaf` whose key is `>= key`. */
  #lowerBound(leaf: Leaf, key: string): number {
    const n = leaf.n;
    const prefix = leaf.prefix;
    // A key without the leaf's prefix sorts before or after all of its keys.
    if (!key.startsWith(prefix)) return key < prefix ? 0 : n;
    const h = headAt(key, prefix.length);
    const heads = leaf.heads;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((heads[mid] as number) < h) lo = mid + 1;
      else hi = mid;
    }
    // Keys read from the store only among equal heads: [lo, end).
    let end = lo;
    while (end < n && heads[end] === h) end++;
    const ids = leaf.ids;
    hi = end;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#keys.compare(ids[mid] as number, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Whether entry `i` of `leaf` (a lower bound of `key`) holds `key`. */
  #holdsAt(leaf: Leaf, i: number, key: string): boolean {
    if (i >= leaf.n || !key.startsWith(leaf.prefix)) return false;
    if (leaf.heads[i] !== headAt(key, leaf.prefix.length)) return false;
    return this.#keys.compare(leaf.ids[i] as number, key) === 0;
  }

  /** Shortens the leaf's prefix to `prefix` (a prefix of it) and recomputes the heads. */
  #setPrefix(leaf: Leaf, prefix: string): void {
    leaf.prefix = prefix;
    for (let i = 0; i < leaf.n; i++) leaf.heads[i] = this.#keys.headOf(leaf.ids[i] as number, prefix.length);
  }

  /** Lengthens the leaf's prefix to the longest its keys share, if it can be. */
  #tighten(leaf: Leaf): void {
    if (leaf.n === 0) return;
    const first = this.#keys.keyOf(leaf.ids[0] as number);
    const last = leaf.n === 1 ? first : this.#keys.keyOf(leaf.ids[leaf.n - 1] as number);
    const p = commonPrefixLength(first, last);
    if (p > leaf.prefix.length) this.#setPrefix(leaf, first.slice(0, p));
  }

  #minKey(node: TreeNode): string {
    if (!node.leaf) {
      const k = node.mins[0];
      assert(k !== undefined, "KeyTree: min of an empty node");
      return k;
    }
    assert(node.n > 0, "KeyTree: min of an empty leaf");
    return this.#keys.keyOf(node.ids[0] as number);
  }

  /** Inserts below `node`; returns false if present, a new right sibling on split, else null. */
  #insert(node: TreeNode, id: number, key: string): TreeNode | null | false {
    if (node.leaf) return this.#insertIntoLeaf(node, id, key);
    const ci = childIndex(node.mins, key);
    const child = node.children[ci] as TreeNode;
    const split = this.#insert(child, id, key);
    if (split === false) return false;
    if (key < (node.mins[ci] as string)) node.mins[ci] = key;
    if (split === null) return null;
    node.children.splice(ci + 1, 0, split);
    node.mins.splice(ci + 1, 0, this.#minKey(split));
    if (node.children.length <= nodeEntriesMax) return null;
    const half = node.children.length >> 1;
    return { leaf: false, mins: node.mins.splice(half), children: node.children.splice(half) };
  }

  #insertIntoLeaf(leaf: Leaf, id: number, key: string): Leaf | null | false {
    if (leaf.n === 0) {
      leaf.prefix = key;
      insertAt(leaf, 0, id, 0);
      return null;
    }
    if (!key.startsWith(leaf.prefix)) {
      this.#setPrefix(leaf, leaf.prefix.slice(0, commonPrefixLength(leaf.prefix, key)));
    }
    const i = this.#lowerBound(leaf, key);
    if (this.#holdsAt(leaf, i, key)) return false;
    const h = headAt(key, leaf.prefix.length);
    if (leaf.n < nodeEntriesMax) {
      insertAt(leaf, i, id, h);
      return null;
    }
    // Sequential appends keep the left leaf full instead of leaving a trail of half-empty leaves.
    const appending = i === leaf.n && leaf.next === null;
    const at = appending ? leaf.n : leaf.n >> 1;
    const right = newLeaf();
    right.ids.set(leaf.ids.subarray(at, leaf.n));
    right.heads.set(leaf.heads.subarray(at, leaf.n));
    right.n = leaf.n - at;
    right.prefix = leaf.prefix;
    leaf.n = at;
    right.prev = leaf;
    right.next = leaf.next;
    if (leaf.next !== null) leaf.next.prev = right;
    leaf.next = right;
    this.#leaves++;
    if (i <= at && !appending) insertAt(leaf, i, id, h);
    else insertAt(right, i - at, id, h);
    this.#tighten(leaf);
    this.#tighten(right);
    return right;
  }

  /** Deletes below `node`; returns whether the key was found. Empty children are unlinked. */
  #delete(node: TreeNode, key: string): boolean {
    if (node.leaf) {
      const i = this.#lowerBound(node, key);
      if (!this.#holdsAt(node, i, key)) return false;
      node.ids.copyWithin(i, i + 1, node.n);
      node.heads.copyWithin(i, i + 1, node.n);
      node.n--;
      return true;
    }
    const ci = childIndex(node.mins, key);
    const child = node.children[ci] as TreeNode;
    if (!this.#delete(child, key)) return false;
    if (isEmpty(child)) {
      if (child.leaf) {
        if (child.prev !== null) child.prev.next = child.next;
        if (child.next !== null) child.next.prev = child.prev;
        if (this.#leaves > 1) this.#leaves--;
      }
      node.children.splice(ci, 1);
      node.mins.splice(ci, 1);
    } else if (node.mins[ci] === key) {
      node.mins[ci] = this.#minKey(child);
    }
    return true;
  }

  #rebuild(): void {
    const ids: number[] = [];
    this.forEachInRange("", null, (id) => {
      ids.push(id);
      return true;
    });
    this.#build(ids, null);
  }

  /**
   * Builds the tree from ids in key order; `sorted` holds their keys, or null to read them from
   * {@link TreeKeys}.
   */
  #build(ids: readonly number[], sorted: readonly string[] | null): void {
    let level: TreeNode[] = [];
    const mins: string[] = [];
    let prev: Leaf | null = null;
    for (let at = 0; at < ids.length; at += leafFill) {
      const leaf = newLeaf();
      const end = Math.min(ids.length, at + leafFill);
      for (let i = at; i < end; i++) leaf.ids[i - at] = ids[i] as number;
      leaf.n = end - at;
      const first = sorted?.[at] ?? this.#keys.keyOf(ids[at] as number);
      const last = sorted?.[end - 1] ?? this.#keys.keyOf(ids[end - 1] as number);
      const p = commonPrefixLength(first, last);
      leaf.prefix = first.slice(0, p);
      for (let i = at; i < end; i++) {
        const key = sorted?.[i];
        leaf.heads[i - at] = key !== undefined ? headAt(key, p) : this.#keys.headOf(ids[i] as number, p);
      }
      leaf.prev = prev;
      if (prev !== null) prev.next = leaf;
      prev = leaf;
      level.push(leaf);
      mins.push(first);
    }
    this.#leaves = Math.max(1, level.length);
    let levelMins = mins;
    while (level.length > 1) {
      const up: TreeNode[] = [];
      const upMins: string[] = [];
      for (let at = 0; at < level.length; at += leafFill) {
        const children = level.slice(at, at + leafFill);
        const childMins = levelMins.slice(at, at + leafFill);
        up.push({ leaf: false, mins: childMins, children });
        upMins.push(childMins[0] as string);
      }
      level = up;
      levelMins = upMins;
    }
    this.#root = level[0] ?? newLeaf();
    this.#size = ids.length;
  }

  #checkNode(node: TreeNode, isRootLeaf: boolean): void {
    if (node.leaf) {
      assert(isRootLeaf || node.n > 0, "KeyTree: empty non-root leaf");
      assert(node.n <= nodeEntriesMax, "KeyTree: overfull leaf");
      for (let i = 0; i < node.n; i++) {
        const id = node.ids[i] as number;
        assert(this.#keys.keyOf(id).startsWith(node.prefix), "KeyTree: a key without its leaf's prefix");
        assert(node.heads[i] === this.#keys.headOf(id, node.prefix.length), "KeyTree: stale head");
      }
      return;
    }
    assert(node.children.length > 0 && node.children.length === node.mins.length, "KeyTree: bad inner node");
    assert(node.children.length <= nodeEntriesMax, "KeyTree: overfull inner node");
    for (let i = 0; i < node.children.length; i++) {
      const child = node.children[i] as TreeNode;
      assert(this.#minKey(child) === node.mins[i], "KeyTree: stale separator");
      this.#checkNode(child, false);
    }
  }
}

/** Entries per node of a bulk-built tree (3/4 full, leaving room for inserts). */
const leafFill = (nodeEntriesMax * 3) >> 2;

function newLeaf(): Leaf {
  return {
    leaf: true,
    ids: new Int32Array(nodeEntriesMax),
    heads: new Uint32Array(nodeEntriesMax),
    n: 0,
    prefix: "",
    prev: null,
    next: null,
  };
}

function insertAt(leaf: Leaf, i: number, id: number, head: number): void {
  leaf.ids.copyWithin(i + 1, i, leaf.n);
  leaf.heads.copyWithin(i + 1, i, leaf.n);
  leaf.ids[i] = id;
  leaf.heads[i] = head;
  leaf.n++;
}

function commonPrefixLength(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

function isEmpty(node: TreeNode): boolean {
  return node.leaf ? node.n === 0 : node.children.length === 0;
}

/** Index of the child whose subtree should hold `key`: the last with `min <= key`, else 0. */
function childIndex(mins: readonly string[], key: string): number {
  let lo = 0;
  let hi = mins.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((mins[mid] as string) <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? 0 : lo - 1;
}
