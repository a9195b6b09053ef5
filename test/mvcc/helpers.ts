// Shared helpers for the mvcc tests: text keys, unwrapping results, compact key-value views.
import assert from "node:assert/strict";
import { SeededRng } from "../../src/lib/rng.js";
import { fromUtf8, type KeyValue, type MvccFailure, type MvccResult, utf8 } from "../../src/mvcc/mod.js";

export { bytesToBinary, MvccStore } from "../../src/mvcc/mod.js";

/** A seeded random source with a short name for integers below a bound. */
export class SeededRngForTests {
  readonly #rng: SeededRng;
  constructor(seed: number) {
    this.#rng = new SeededRng(seed);
  }
  below(bound: number): number {
    return this.#rng.intBelow(bound);
  }
}

/** UTF-8 bytes of `s`. */
export const b = utf8;

/** The value of a successful result; fails the test otherwise. */
export function must<T>(r: MvccResult<T>): T {
  if (!r.ok) assert.fail(`expected success, got ${r.error.code}: ${r.error.detail}`);
  return r.value;
}

/** The failure of a failed result; fails the test otherwise. */
export function mustFail<T>(r: MvccResult<T>): MvccFailure {
  if (r.ok) assert.fail(`expected failure, got ${JSON.stringify(r.value)}`);
  return r.error;
}

/** A compact text form of a key-value: `key=value@create/mod/vN/lL`. */
export function show(kv: KeyValue): string {
  return `${fromUtf8(kv.key)}=${fromUtf8(kv.value)}@${kv.createRevision}/${kv.modRevision}/v${kv.version}/l${kv.lease}`;
}

/** Keys of key-values as text. */
export function keysOf(kvs: readonly KeyValue[]): string[] {
  return kvs.map((kv) => fromUtf8(kv.key));
}
