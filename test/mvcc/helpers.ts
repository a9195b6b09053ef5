// Shared helpers for the mvcc tests: text keys, unwrapping results, compact key-value views.
import assert from "node:assert/strict";
import { fromUtf8, type KeyValue, type MvccFailure, type MvccResult, utf8 } from "../../src/mvcc/mod.js";

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
