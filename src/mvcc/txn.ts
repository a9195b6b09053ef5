import { bytesToBinary, compareBytes, EMPTY_BYTES } from "./bytes.js";
import { failure, MvccErrorCode, type MvccFailure } from "./errors.js";
import type { Kv } from "./kv.js";
import type { Lessor } from "./lessor.js";
import type { MvccLimits } from "./limits.js";
import { checkDelete, checkPut, checkPutState, execDelete, execPut, putCost } from "./ops.js";
import { checkRange, checkReadRevision, forEachLive, keySpan, runRange } from "./range.js";
import type { Compare, RequestOp, ResponseOp, Revision, TxnRequest, TxnResponse } from "./types.js";

/**
 * etcd's `checkTxnRequest`: at each level `max(compares, success ops, failure ops)` must not
 * exceed the budget, and nested txns get what the enclosing level leaves; every op is
 * shape-checked; an empty op is "key not found".
 */
export function checkTxn(req: TxnRequest, opsBudget: number, limits: MvccLimits): MvccFailure | null {
  const opc = Math.max(req.compare.length, req.success.length, req.failure.length);
  if (opc > opsBudget) {
    return failure(
      MvccErrorCode.tooManyOps,
      `Cannot run txn: ${opc} operations at one level, more than ${opsBudget}`,
    );
  }
  for (const c of req.compare) {
    if (c.key.length === 0)
      return failure(MvccErrorCode.emptyKey, "Cannot run txn: a compare has an empty 'key'");
  }
  for (const op of [...req.success, ...req.failure]) {
    const bad = checkOp(op, opsBudget - opc, limits);
    if (bad !== null) return bad;
  }
  return null;
}

function checkOp(op: RequestOp, opsBudget: number, limits: MvccLimits): MvccFailure | null {
  switch (op.type) {
    case "range":
      return checkRange(op.request);
    case "put":
      return checkPut(op.request, limits);
    case "deleteRange":
      return checkDelete(op.request);
    case "txn":
      return checkTxn(op.request, opsBudget, limits);
    case "empty":
      return failure(MvccErrorCode.keyNotFound, "Cannot run txn: an operation has no request set");
  }
}

/** A delete interval for duplicate checks: `[start, end)` taken literally, or a point when `end` is null. */
interface DelInterval {
  readonly start: string;
  readonly end: string | null;
}

function hitsPoint(dels: readonly DelInterval[], key: string): boolean {
  for (const d of dels) {
    if (d.end === null ? d.start === key : d.start <= key && key < d.end) return true;
  }
  return false;
}

/**
 * etcd's `checkIntervals` (v3rpc/key.go), run on the success and failure branches separately:
 * duplicate if a key is put twice, a put lies in a delete range of the same or an enclosing
 * level, or a key is put at a level and in a nested txn. A key may be put in both branches of one
 * nested txn, and deletes may overlap. As in etcd, a delete's `range_end` is taken literally here,
 * so `"\0"` bounds nothing (such a delete never conflicts).
 */
export function checkDuplicates(req: TxnRequest): MvccFailure | null {
  for (const branch of [req.success, req.failure]) {
    if (collectIntervals(branch) === null) {
      return failure(MvccErrorCode.duplicateKey, "Cannot run txn: the same key is written twice");
    }
  }
  return null;
}

/** Returns the puts and deletes of a branch, or null on a duplicate. */
function collectIntervals(ops: readonly RequestOp[]): { puts: Set<string>; dels: DelInterval[] } | null {
  const dels: DelInterval[] = [];
  for (const op of ops) {
    if (op.type !== "deleteRange") continue;
    const end = op.request.rangeEnd;
    dels.push({
      start: bytesToBinary(op.request.key),
      end: end === undefined || end.length === 0 ? null : bytesToBinary(end),
    });
  }
  const puts = new Set<string>();
  for (const op of ops) {
    if (op.type !== "txn") continue;
    const then = collectIntervals(op.request.success);
    const otherwise = collectIntervals(op.request.failure);
    if (then === null || otherwise === null) return null;
    for (const k of then.puts) {
      if (puts.has(k) || hitsPoint(dels, k)) return null;
      puts.add(k);
    }
    for (const k of otherwise.puts) {
      if (puts.has(k) && !then.puts.has(k)) return null;
      if (hitsPoint(dels, k)) return null;
      puts.add(k);
    }
    dels.push(...then.dels, ...otherwise.dels);
  }
  for (const op of ops) {
    if (op.type !== "put") continue;
    const k = bytesToBinary(op.request.key);
    if (puts.has(k) || hitsPoint(dels, k)) return null;
    puts.add(k);
  }
  return { puts, dels };
}

/** Whether any branch at any depth contains a put (such a txn is refused under NOSPACE). */
export function txnHasPut(req: TxnRequest): boolean {
  for (const op of [...req.success, ...req.failure]) {
    if (op.type === "put") return true;
    if (op.type === "txn" && txnHasPut(op.request)) return true;
  }
  return false;
}

/** Whether the txn can write at all (contains a put or delete). */
export function txnHasWrite(req: TxnRequest): boolean {
  for (const op of [...req.success, ...req.failure]) {
    if (op.type === "put" || op.type === "deleteRange") return true;
    if (op.type === "txn" && txnHasWrite(op.request)) return true;
  }
  return false;
}

/** Upper bound of the accounted bytes a txn adds: the costlier branch, recursively. */
export function txnCost(req: TxnRequest): number {
  const branchCost = (ops: readonly RequestOp[]): number => {
    let c = 0;
    for (const op of ops) {
      if (op.type === "put") c += putCost(op.request);
      else if (op.type === "txn") c += txnCost(op.request);
    }
    return c;
  };
  return Math.max(branchCost(req.success), branchCost(req.failure));
}

/**
 * Evaluates one compare at `rev`. A missing key compares as a zero key-value, except VALUE
 * compares, which are false; with a range, every key must satisfy it (an empty range compares the
 * zero key-value, as etcd does).
 */
export function evalCompare(kv: Kv, c: Compare, rev: Revision): boolean {
  const span = keySpan(c.key, c.rangeEnd);
  let any = false;
  let all = true;
  forEachLive(kv, span, rev, (slot) => {
    any = true;
    if (!compareSlot(kv, c, slot)) all = false;
    return all;
  });
  if (any) return all;
  if (c.target === "value") return false;
  return compareSlot(kv, c, -1);
}

function compareSlot(kv: Kv, c: Compare, slot: number): boolean {
  const h = kv.history;
  let r: number;
  if (c.target === "value") {
    r = compareBytes(slot === -1 ? EMPTY_BYTES : kv.valueOf(slot), c.value);
  } else {
    let field = 0;
    if (slot !== -1) {
      if (c.target === "version") field = h.version(slot);
      else if (c.target === "create") field = h.create(slot);
      else if (c.target === "mod") field = h.main(slot);
      else field = h.lease(slot);
    }
    r = field - c.value;
  }
  switch (c.result) {
    case "equal":
      return r === 0;
    case "notEqual":
      return r !== 0;
    case "greater":
      return r > 0;
    case "less":
      return r < 0;
  }
}

/**
 * etcd's `compareToPath`: decides, against the state before the txn, which branch every txn on
 * the executed path takes, in depth-first order.
 */
export function choosePath(kv: Kv, req: TxnRequest, rev: Revision, path: boolean[] = []): boolean[] {
  const ok = req.compare.every((c) => evalCompare(kv, c, rev));
  path.push(ok);
  for (const op of ok ? req.success : req.failure) {
    if (op.type === "txn") choosePath(kv, op.request, rev, path);
  }
  return path;
}

/**
 * Validates the chosen path against the pre-txn state: puts (key existence for `ignore_*`, lease
 * existence) and range revisions (future / compacted), as etcd's `checkRequests`.
 */
export function checkPath(
  kv: Kv,
  lessor: Lessor,
  req: TxnRequest,
  path: readonly boolean[],
  rev: Revision,
): MvccFailure | null {
  let at = 0;
  const walk = (t: TxnRequest): MvccFailure | null => {
    const ok = path[at++] === true;
    for (const op of ok ? t.success : t.failure) {
      let bad: MvccFailure | null = null;
      if (op.type === "put") bad = checkPutState(kv, lessor, op.request);
      else if (op.type === "range") bad = checkReadRevision(kv, op.request.revision ?? 0, rev);
      else if (op.type === "txn") bad = walk(op.request);
      if (bad !== null) return bad;
    }
    return null;
  };
  return walk(req);
}

/**
 * Executes a validated txn along `path` inside the current write of `kv`: ops run in order
 * (nested txns depth-first), and later ops see earlier ones. Returns the response with the
 * revision filled in by the caller after the write ends.
 */
export function execTxn(
  kv: Kv,
  req: TxnRequest,
  path: readonly boolean[],
): { succeeded: boolean; responses: ResponseOp[] } {
  let at = 0;
  const run = (t: TxnRequest): { succeeded: boolean; responses: ResponseOp[] } => {
    const succeeded = path[at++] === true;
    const responses: ResponseOp[] = [];
    for (const op of succeeded ? t.success : t.failure) {
      switch (op.type) {
        case "range": {
          const requested = op.request.revision ?? 0;
          const rev = requested > 0 ? requested : kv.readRevision;
          responses.push({ type: "range", response: runRange(kv, op.request, rev, kv.readRevision) });
          break;
        }
        case "put":
          responses.push({ type: "put", response: execPut(kv, op.request) });
          break;
        case "deleteRange":
          responses.push({ type: "deleteRange", response: execDelete(kv, op.request) });
          break;
        case "txn": {
          const inner = run(op.request);
          responses.push({ type: "txn", response: { revision: kv.readRevision, ...inner } });
          break;
        }
        case "empty":
          break;
      }
    }
    return { succeeded, responses };
  };
  return run(req);
}

/** Fills every nested response's revision with the txn's final revision (all ops share it). */
export function finishTxn(
  result: { succeeded: boolean; responses: ResponseOp[] },
  revision: Revision,
  wrote: boolean,
): TxnResponse {
  const fix = (ops: ResponseOp[]): ResponseOp[] =>
    ops.map((op) => {
      if (op.type === "txn") {
        const inner = op.response;
        return {
          type: "txn",
          response: { revision, succeeded: inner.succeeded, responses: fix(inner.responses as ResponseOp[]) },
        };
      }
      if (!wrote || op.type === "range") return op;
      if (op.type === "put") return { type: "put", response: { ...op.response, revision } };
      return { type: "deleteRange", response: { ...op.response, revision } };
    });
  return { revision, succeeded: result.succeeded, responses: fix(result.responses) };
}
