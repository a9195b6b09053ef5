import { assert } from "../lib/assert.js";

/** Most keys in one leaf and most children of one inner node. */
const nodeEntriesMax = 128;

interface Leaf {
  readonly leaf: true;
  keys: string[];
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
 * An ordered set of binary-string keys (a B+tree with linked leaves). The store keeps every key
 * that has retained history here, so ranges are found in O(log n) and walked leaf by leaf; point
 * lookups go through a `Map` instead. Deletes remove empty nodes but do not merge siblings; when
 * the tree becomes sparse (under 1/8 full) it is rebuilt in one O(n) pass.
 */
export class KeyTree {
  #root: TreeNode = newLeaf();
  #size = 0;
  #leaves = 1;

  /** Number of keys in the set. */
  get size(): number {
    return this.#size;
  }

  /** Adds `key`; returns false if it was already present. */
  insert(key: string): boolean {
    const split = this.#insert(this.#root, key);
    if (split === false) return false;
    this.#size++;
    if (split !== null) {
      const old = this.#root;
      this.#root = { leaf: false, mins: [minKey(old), minKey(split)], children: [old, split] };
    }
    return true;
  }

  /** Removes `key`; returns false if it was absent. */
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
    const i = lowerBound(leaf.keys, key);
    return leaf.keys[i] === key;
  }

  /**
   * Calls `visit` for every key in `[start, end)` in ascending order (`end` null = no upper
   * bound) until it returns false.
   */
  forEachInRange(start: string, end: string | null, visit: (key: string) => boolean | undefined): void {
    let leaf: Leaf | null = this.#findLeaf(start);
    let i = lowerBound(leaf.keys, start);
    while (leaf !== null) {
      const keys = leaf.keys;
      for (; i < keys.length; i++) {
        const key = keys[i] as string;
        if (end !== null && key >= end) return;
        if (visit(key) === false) return;
      }
      leaf = leaf.next;
      i = 0;
    }
  }

  /** Removes every key. */
  clear(): void {
    this.#root = newLeaf();
    this.#size = 0;
    this.#leaves = 1;
  }

  /** Checks the tree's structural invariants; for tests. Throws on a violation. */
  checkInvariants(): void {
    const all: string[] = [];
    this.forEachInRange("", null, (k) => {
      all.push(k);
      return true;
    });
    assert(all.length === this.#size, `KeyTree: size ${this.#size} but ${all.length} keys linked`);
    for (let i = 1; i < all.length; i++) {
      assert((all[i - 1] as string) < (all[i] as string), "KeyTree: keys out of order");
    }
    checkNode(this.#root, this.#root.leaf);
  }

  #findLeaf(key: string): Leaf {
    let node = this.#root;
    while (!node.leaf) node = node.children[childIndex(node.mins, key)] as TreeNode;
    return node;
  }

  /** Inserts below `node`; returns false if present, a new right sibling on split, else null. */
  #insert(node: TreeNode, key: string): TreeNode | null | false {
    if (node.leaf) {
      const keys = node.keys;
      const i = lowerBound(keys, key);
      if (keys[i] === key) return false;
      if (i === keys.length) keys.push(key);
      else keys.splice(i, 0, key);
      if (keys.length <= nodeEntriesMax) return null;
      return this.#splitLeaf(node, i === keys.length - 1 && node.next === null);
    }
    const ci = childIndex(node.mins, key);
    const child = node.children[ci] as TreeNode;
    const split = this.#insert(child, key);
    if (split === false) return false;
    if (key < (node.mins[ci] as string)) node.mins[ci] = key;
    if (split === null) return null;
    node.children.splice(ci + 1, 0, split);
    node.mins.splice(ci + 1, 0, minKey(split));
    if (node.children.length <= nodeEntriesMax) return null;
    const half = node.children.length >> 1;
    return { leaf: false, mins: node.mins.splice(half), children: node.children.splice(half) };
  }

  #splitLeaf(leaf: Leaf, appending: boolean): Leaf {
    // Sequential appends keep the left leaf full instead of leaving a trail of half-empty leaves.
    const at = appending ? leaf.keys.length - 1 : leaf.keys.length >> 1;
    const right: Leaf = { leaf: true, keys: leaf.keys.splice(at), prev: leaf, next: leaf.next };
    if (leaf.next !== null) leaf.next.prev = right;
    leaf.next = right;
    this.#leaves++;
    return right;
  }

  /** Deletes below `node`; returns whether the key was found. Empty children are unlinked. */
  #delete(node: TreeNode, key: string): boolean {
    if (node.leaf) {
      const i = lowerBound(node.keys, key);
      if (node.keys[i] !== key) return false;
      node.keys.splice(i, 1);
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
      node.mins[ci] = minKey(child);
    }
    return true;
  }

  /**
   * Replaces the contents with `sorted` (strictly ascending), built bottom-up in O(n) with nodes
   * 3/4 full; much faster than inserting keys one by one in random order (snapshot restore).
   */
  load(sorted: readonly string[]): void {
    for (let i = 1; i < sorted.length; i++) {
      assert((sorted[i - 1] as string) < (sorted[i] as string), "KeyTree.load: keys not strictly ascending");
    }
    this.#build(sorted);
  }

  #rebuild(): void {
    const keys: string[] = [];
    this.forEachInRange("", null, (k) => {
      keys.push(k);
      return true;
    });
    this.#build(keys);
  }

  #build(keys: readonly string[]): void {
    const fill = (nodeEntriesMax * 3) >> 2;
    let level: TreeNode[] = [];
    let prev: Leaf | null = null;
    for (let at = 0; at < keys.length; at += fill) {
      const leaf: Leaf = { leaf: true, keys: keys.slice(at, at + fill), prev, next: null };
      if (prev !== null) prev.next = leaf;
      prev = leaf;
      level.push(leaf);
    }
    this.#leaves = Math.max(1, level.length);
    while (level.length > 1) {
      const up: TreeNode[] = [];
      for (let at = 0; at < level.length; at += fill) {
        const children = level.slice(at, at + fill);
        up.push({ leaf: false, mins: children.map(minKey), children });
      }
      level = up;
    }
    this.#root = level[0] ?? newLeaf();
    this.#size = keys.length;
  }
}

function newLeaf(): Leaf {
  return { leaf: true, keys: [], prev: null, next: null };
}

function isEmpty(node: TreeNode): boolean {
  return node.leaf ? node.keys.length === 0 : node.children.length === 0;
}

function minKey(node: TreeNode): string {
  const k = node.leaf ? node.keys[0] : node.mins[0];
  assert(k !== undefined, "KeyTree: min of an empty node");
  return k;
}

/** Index of the first element `>= key`. */
function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((keys[mid] as string) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
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

function checkNode(node: TreeNode, isRootLeaf: boolean): void {
  if (node.leaf) {
    assert(isRootLeaf || node.keys.length > 0, "KeyTree: empty non-root leaf");
    assert(node.keys.length <= nodeEntriesMax, "KeyTree: overfull leaf");
    return;
  }
  assert(node.children.length > 0 && node.children.length === node.mins.length, "KeyTree: bad inner node");
  assert(node.children.length <= nodeEntriesMax, "KeyTree: overfull inner node");
  for (let i = 0; i < node.children.length; i++) {
    const child = node.children[i] as TreeNode;
    assert(minKey(child) === node.mins[i], "KeyTree: stale separator");
    checkNode(child, false);
  }
}
