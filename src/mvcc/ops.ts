import { bytesToBinary, EMPTY_BYTES } from "./bytes.js";
import { failure, MvccErrorCode, type MvccFailure } from "./errors.js";
import type { Kv } from "./kv.js";
import type { Lessor } from "./lessor.js";
import type { MvccLimits } from "./limits.js";
import { recordOverheadBytes } from "./limits.js";
import { forEachLive, keySpan } from "./range.js";
import type { DeleteRangeRequest, DeleteRangeResponse, KeyValue, PutRequest, PutResponse } from "./types.js";

/**
 * Request-shape checks (etcd does them in `v3rpc` before proposing; the state machine repeats
 * them so a bad command can never change state), plus the key and value size limits.
 */
export function checkPut(req: PutRequest, limits: MvccLimits): MvccFailure | null {
  if (req.key.length === 0) return failure(MvccErrorCode.emptyKey, "Cannot put: 'key' must not be empty");
  const valueLength = req.value?.length ?? 0;
  if (req.ignoreValue === true && valueLength !== 0) {
    return failure(
      MvccErrorCode.valueProvided,
      `Cannot put with 'ignoreValue': 'value' must be empty, got ${valueLength} bytes`,
    );
  }
  if (req.ignoreLease === true && (req.lease ?? 0) !== 0) {
    return failure(
      MvccErrorCode.leaseProvided,
      `Cannot put with 'ignoreLease': 'lease' must be 0, got ${req.lease}`,
    );
  }
  if (req.key.length > limits.keyBytesMax) {
    return failure(
      MvccErrorCode.requestTooLarge,
      `Cannot put: key is ${req.key.length} bytes, more than ${limits.keyBytesMax}`,
    );
  }
  if (valueLength > limits.valueBytesMax) {
    return failure(
      MvccErrorCode.requestTooLarge,
      `Cannot put: value is ${valueLength} bytes, more than ${limits.valueBytesMax}`,
    );
  }
  const lease = req.lease ?? 0;
  if (!Number.isSafeInteger(lease) || lease < 0) {
    return failure(
      MvccErrorCode.invalidLeaseId,
      `Cannot put: 'lease' must be an integer in [0, 2^53-1], got ${lease}`,
    );
  }
  return null;
}

/** Shape check of a delete-range request. */
export function checkDelete(req: DeleteRangeRequest): MvccFailure | null {
  if (req.key.length === 0) return failure(MvccErrorCode.emptyKey, "Cannot delete: 'key' must not be empty");
  return null;
}

/**
 * Checks a put against the state it will apply to: `ignoreValue`/`ignoreLease` need the key to
 * exist, and a non-zero lease must exist (etcd `checkRequestPut`).
 */
export function checkPutState(kv: Kv, lessor: Lessor, req: PutRequest): MvccFailure | null {
  if (req.ignoreValue === true || req.ignoreLease === true) {
    if (kv.liveSlot(bytesToBinary(req.key)) === -1) {
      return failure(
        MvccErrorCode.keyNotFound,
        "Cannot put with 'ignoreValue'/'ignoreLease': the key does not exist",
      );
    }
  }
  const lease = req.lease ?? 0;
  if (req.ignoreLease !== true && lease !== 0 && lessor.lookup(lease) === undefined) {
    return failure(MvccErrorCode.leaseNotFound, `Cannot put: lease ${lease} does not exist`);
  }
  return null;
}

/** Accounted bytes a put adds (the quota cost). */
export function putCost(req: PutRequest): number {
  return recordOverheadBytes + req.key.length + (req.value?.length ?? 0);
}

/** Applies a validated put inside the current write of `kv`. */
export function execPut(kv: Kv, req: PutRequest): PutResponse {
  const key = bytesToBinary(req.key);
  let value = req.value ?? EMPTY_BYTES;
  let lease = req.lease ?? 0;
  let prevKv: KeyValue | null = null;
  // The previous key-value is looked up only when the request needs it.
  if (req.prevKv === true || req.ignoreValue === true || req.ignoreLease === true) {
    const prevSlot = kv.liveSlot(key);
    if (req.prevKv === true && prevSlot !== -1) prevKv = kv.keyValue(prevSlot);
    if (req.ignoreValue === true) value = kv.valueOf(prevSlot);
    if (req.ignoreLease === true) lease = kv.history.lease(prevSlot);
  }
  kv.put(key, req.key, value, lease);
  return { revision: kv.currentRevision + 1, prevKv };
}

/** Applies a delete-range inside the current write of `kv`; keys are deleted in key order. */
export function execDelete(kv: Kv, req: DeleteRangeRequest): DeleteRangeResponse {
  const span = keySpan(req.key, req.rangeEnd);
  const slots: number[] = [];
  forEachLive(kv, span, kv.readRevision, (slot) => {
    slots.push(slot);
    return true;
  });
  const prevKvs: KeyValue[] = [];
  for (const slot of slots) {
    if (req.prevKv === true) prevKvs.push(kv.keyValue(slot));
    kv.tombstone(kv.history.keyId(slot));
  }
  return { revision: kv.readRevision, deleted: slots.length, prevKvs };
}
