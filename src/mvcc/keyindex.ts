import { assert } from "../lib/assert.js";
import { KeyTree } from "./keytree.js";

/**
 * Every key with retained history: a `Map` from binary-string key to a small integer key id for
 * point lookups, a {@link KeyTree} for ordered ranges, and per id the newest record slot
 * (`head`). Ids of keys whose history was compacted away are reused.
 */
export class KeyIndex {
  readonly #ids = new Map<string, number>();
  readonly tree = new KeyTree();
  /** Key id → binary-string key ("" for a free id). */
  readonly names: string[] = [];
  /** Key id → newest record slot. */
  head: Int32Array = new Int32Array(1024);
  readonly #free: number[] = [];

  /** Number of keys. */
  get size(): number {
    return this.#ids.size;
  }

  /** The id of `key`, or -1. */
  lookup(key: string): number {
    return this.#ids.get(key) ?? -1;
  }

  /** Adds a key that is not present yet and returns its new id; `head` must then be set. */
  add(key: string): number {
    let id = this.#free.pop();
    if (id === undefined) {
      id = this.names.length;
      this.names.push(key);
      if (id === this.head.length) {
        const grown = new Int32Array(Math.ceil(this.head.length * 1.5));
        grown.set(this.head);
        this.head = grown;
      }
    } else {
      this.names[id] = key;
    }
    this.#ids.set(key, id);
    this.tree.insert(key);
    return id;
  }

  /** Removes a key whose history is entirely gone. */
  remove(id: number): void {
    const key = this.names[id];
    assert(key !== undefined && key !== "", `KeyIndex: removing free key id ${id}`);
    this.#ids.delete(key);
    this.tree.delete(key);
    this.names[id] = "";
    this.head[id] = -1;
    this.#free.push(id);
  }

  /** Calls `visit` with each key id in `[start, end)` in key order (`end` null = unbounded). */
  forEachInRange(start: string, end: string | null, visit: (id: number) => boolean | undefined): void {
    const ids = this.#ids;
    this.tree.forEachInRange(start, end, (key) => visit(ids.get(key) as number));
  }

  /** Calls `visit` with every live key id, in id order (not key order). */
  forEachId(visit: (id: number) => void): void {
    const names = this.names;
    for (let id = 0; id < names.length; id++) if (names[id] !== "") visit(id);
  }
}
