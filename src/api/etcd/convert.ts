/**
 * Conversions between the etcd wire messages (`proto/messages.ts`) and the MVCC request and
 * response types. Pure. MVCC key-values already have the wire field names, so they are encoded as
 * they are; enums become numbers; oneofs become tagged unions.
 */
import {
  type AlarmAction,
  type AlarmType,
  type Compare,
  type CompareResult,
  type CompareTarget,
  type DeleteRangeRequest,
  type Event,
  type PutRequest,
  type RangeRequest,
  type RequestOp,
  type ResponseOp,
  type SortOrder,
  type SortTarget,
  type TxnRequest,
  type TxnResponse,
  WatchFilter,
} from "../../mvcc/mod.js";
import type {
  CompareMsg,
  DeleteRangeRequestMsg,
  EventMsg,
  HeaderMsg,
  PutRequestMsg,
  RangeRequestMsg,
  RequestOpMsg,
  ResponseOpMsg,
  TxnRequestMsg,
  TxnResponseMsg,
} from "./proto/messages.js";

const sortOrders: readonly SortOrder[] = ["none", "ascend", "descend"];
const sortTargets: readonly SortTarget[] = ["key", "version", "create", "mod", "value"];
const compareResults: readonly CompareResult[] = ["equal", "greater", "less", "notEqual"];
const compareTargets: readonly CompareTarget[] = ["version", "create", "mod", "value", "lease"];
const alarmActions: readonly AlarmAction[] = ["get", "activate", "deactivate"];
const alarmTypes: readonly AlarmType[] = ["none", "noSpace", "corrupt"];

/** An enum value outside the proto enum, passed on so the state machine rejects it. */
function unknownEnum<T>(n: number): T {
  return `unknown(${n})` as unknown as T;
}

export function rangeRequestOf(m: RangeRequestMsg): RangeRequest {
  return {
    key: m.key,
    rangeEnd: m.rangeEnd,
    limit: m.limit,
    revision: m.revision,
    sortOrder: sortOrders[m.sortOrder] ?? unknownEnum<SortOrder>(m.sortOrder),
    sortTarget: sortTargets[m.sortTarget] ?? unknownEnum<SortTarget>(m.sortTarget),
    keysOnly: m.keysOnly,
    countOnly: m.countOnly,
    minModRevision: m.minModRevision,
    maxModRevision: m.maxModRevision,
    minCreateRevision: m.minCreateRevision,
    maxCreateRevision: m.maxCreateRevision,
  };
}

export function putRequestOf(m: PutRequestMsg): PutRequest {
  return {
    key: m.key,
    value: m.value,
    lease: m.lease,
    prevKv: m.prevKv,
    ignoreValue: m.ignoreValue,
    ignoreLease: m.ignoreLease,
  };
}

export function deleteRangeRequestOf(m: DeleteRangeRequestMsg): DeleteRangeRequest {
  return { key: m.key, rangeEnd: m.rangeEnd, prevKv: m.prevKv };
}

/**
 * A compare. As etcd, the operand is the `target_union` member that matches the target (0 or
 * empty if another member is set); unknown targets and results compare as VERSION and EQUAL.
 */
export function compareOf(m: CompareMsg): Compare {
  const result = compareResults[m.result] ?? "equal";
  const target = compareTargets[m.target] ?? "version";
  const base = { key: m.key, rangeEnd: m.rangeEnd, result };
  switch (target) {
    case "value":
      return { ...base, target, value: m.value ?? new Uint8Array(0) };
    case "version":
      return { ...base, target, value: m.version ?? 0 };
    case "create":
      return { ...base, target, value: m.createRevision ?? 0 };
    case "mod":
      return { ...base, target, value: m.modRevision ?? 0 };
    case "lease":
      return { ...base, target, value: m.lease ?? 0 };
  }
}

export function requestOpOf(m: RequestOpMsg): RequestOp {
  if (m.requestRange !== undefined) return { type: "range", request: rangeRequestOf(m.requestRange) };
  if (m.requestPut !== undefined) return { type: "put", request: putRequestOf(m.requestPut) };
  if (m.requestDeleteRange !== undefined) {
    return { type: "deleteRange", request: deleteRangeRequestOf(m.requestDeleteRange) };
  }
  if (m.requestTxn !== undefined) return { type: "txn", request: txnRequestOf(m.requestTxn) };
  return { type: "empty" };
}

export function txnRequestOf(m: TxnRequestMsg): TxnRequest {
  return {
    compare: m.compare.map(compareOf),
    success: m.success.map(requestOpOf),
    failure: m.failure.map(requestOpOf),
  };
}

/** Whether a txn only reads and every range in it (at any depth) asked for a serializable read. */
export function txnIsSerializable(m: TxnRequestMsg): boolean {
  const ops = (list: readonly RequestOpMsg[]): boolean =>
    list.every((op) => {
      if (op.requestRange !== undefined) return op.requestRange.serializable;
      if (op.requestTxn !== undefined) return txnIsSerializable(op.requestTxn);
      return false;
    });
  return ops(m.success) && ops(m.failure);
}

function responseOpMsg(op: ResponseOp, header: (rev: number) => HeaderMsg): ResponseOpMsg {
  switch (op.type) {
    case "range": {
      const r = op.response;
      return { responseRange: { header: header(r.revision), kvs: r.kvs, more: r.more, count: r.count } };
    }
    case "put": {
      const r = op.response;
      return { responsePut: { header: header(r.revision), prevKv: r.prevKv } };
    }
    case "deleteRange": {
      const r = op.response;
      return {
        responseDeleteRange: { header: header(r.revision), deleted: r.deleted, prevKvs: r.prevKvs },
      };
    }
    case "txn":
      return { responseTxn: txnResponseMsg(op.response, header) };
  }
}

export function txnResponseMsg(r: TxnResponse, header: (rev: number) => HeaderMsg): TxnResponseMsg {
  return {
    header: header(r.revision),
    succeeded: r.succeeded,
    responses: r.responses.map((op) => responseOpMsg(op, header)),
  };
}

export function eventMsg(e: Event): EventMsg {
  return { type: e.type === "put" ? 0 : 1, kv: e.kv, prevKv: e.prevKv };
}

/** Watch filters by wire number; unknown numbers are ignored (as etcd does). */
export function watchFiltersOf(filters: readonly number[]): WatchFilter[] {
  const out: WatchFilter[] = [];
  for (const f of filters) {
    if (f === 0) out.push(WatchFilter.noPut);
    else if (f === 1) out.push(WatchFilter.noDelete);
  }
  return out;
}

export function alarmActionOf(n: number): AlarmAction | null {
  return alarmActions[n] ?? null;
}

export function alarmTypeOf(n: number): AlarmType | null {
  return alarmTypes[n] ?? null;
}

export function alarmTypeNumber(t: AlarmType): number {
  return alarmTypes.indexOf(t);
}
