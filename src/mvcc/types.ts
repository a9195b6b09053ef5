/**
 * The values the MVCC state machine consumes and produces, with etcd v3 semantics
 * (see docs/mvcc.md and the etcd API reference). Keys and values are bytes; every byte array
 * handed out by the store is shared and must be treated as read-only.
 *
 * Revision and LeaseId are plain numbers: the store does arithmetic on revisions in its hot paths
 * and both stay below 2^53 (lease ids outside `[1, 2^53-1]` are rejected; see docs/mvcc.md).
 */

/** A store revision; the empty store is at revision 1 and every write request adds one. */
export type Revision = number;
/** A lease id; 0 means "no lease". */
export type LeaseId = number;

/** The lease id meaning "no lease". */
export const NO_LEASE: LeaseId = 0;

/** One key at one revision (etcd's `mvccpb.KeyValue`). */
export interface KeyValue {
  readonly key: Uint8Array;
  /** Revision of the latest creation of this key (0 in DELETE events). */
  readonly createRevision: Revision;
  /** Revision of the last modification (the deletion revision in DELETE events). */
  readonly modRevision: Revision;
  /** 1 on creation, +1 per put; 0 in DELETE events. */
  readonly version: number;
  readonly value: Uint8Array;
  readonly lease: LeaseId;
}

/** Range sort order (etcd's `RangeRequest.SortOrder`). */
export const SortOrder = { none: "none", ascend: "ascend", descend: "descend" } as const;
export type SortOrder = (typeof SortOrder)[keyof typeof SortOrder];

/** Range sort target (etcd's `RangeRequest.SortTarget`). */
export const SortTarget = {
  key: "key",
  version: "version",
  create: "create",
  mod: "mod",
  value: "value",
} as const;
export type SortTarget = (typeof SortTarget)[keyof typeof SortTarget];

/**
 * A range read. `rangeEnd` absent or empty selects the single `key`; `"\0"` means no upper bound;
 * otherwise `[key, rangeEnd)`. Numeric options use 0 for "unset", as etcd does.
 */
export interface RangeRequest {
  readonly key: Uint8Array;
  readonly rangeEnd?: Uint8Array;
  /** Most keys to return; 0 = unlimited. */
  readonly limit?: number;
  /** Revision to read at; 0 or negative = the current revision. */
  readonly revision?: Revision;
  readonly sortOrder?: SortOrder;
  readonly sortTarget?: SortTarget;
  readonly keysOnly?: boolean;
  readonly countOnly?: boolean;
  readonly minModRevision?: Revision;
  readonly maxModRevision?: Revision;
  readonly minCreateRevision?: Revision;
  readonly maxCreateRevision?: Revision;
}

/** The answer to a {@link RangeRequest}; `revision` is the current store revision (header.revision). */
export interface RangeResponse {
  readonly revision: Revision;
  readonly kvs: readonly KeyValue[];
  /** Whether keys beyond `limit` remain. */
  readonly more: boolean;
  /** Number of keys in the range at the read revision, ignoring `limit` and the min/max filters. */
  readonly count: number;
}

/** A put of one key. */
export interface PutRequest {
  readonly key: Uint8Array;
  readonly value?: Uint8Array;
  readonly lease?: LeaseId;
  readonly prevKv?: boolean;
  /** Keep the current value; `value` must be empty and the key must exist. */
  readonly ignoreValue?: boolean;
  /** Keep the current lease; `lease` must be 0 and the key must exist. */
  readonly ignoreLease?: boolean;
}

/** The answer to a {@link PutRequest}; `prevKv` only when asked for and the key existed. */
export interface PutResponse {
  readonly revision: Revision;
  readonly prevKv: KeyValue | null;
}

/** A delete of one key or a range (same range conventions as {@link RangeRequest}). */
export interface DeleteRangeRequest {
  readonly key: Uint8Array;
  readonly rangeEnd?: Uint8Array;
  readonly prevKv?: boolean;
}

/** The answer to a {@link DeleteRangeRequest}. */
export interface DeleteRangeResponse {
  readonly revision: Revision;
  readonly deleted: number;
  /** The deleted key-values in key order, when asked for. */
  readonly prevKvs: readonly KeyValue[];
}

/** What a txn compare looks at. */
export const CompareTarget = {
  version: "version",
  create: "create",
  mod: "mod",
  value: "value",
  lease: "lease",
} as const;
export type CompareTarget = (typeof CompareTarget)[keyof typeof CompareTarget];

/** How a txn compare relates the key's field to the operand. */
export const CompareResult = {
  equal: "equal",
  greater: "greater",
  less: "less",
  notEqual: "notEqual",
} as const;
export type CompareResult = (typeof CompareResult)[keyof typeof CompareResult];

interface CompareBase {
  readonly key: Uint8Array;
  /** With a range end, every key in the range must satisfy the compare. */
  readonly rangeEnd?: Uint8Array;
  readonly result: CompareResult;
}

/** One txn condition; `value` is bytes for the VALUE target and a number for the others. */
export type Compare =
  | (CompareBase & { readonly target: "value"; readonly value: Uint8Array })
  | (CompareBase & { readonly target: "version" | "create" | "mod" | "lease"; readonly value: number });

/** One txn operation. `empty` stands for a `RequestOp` with nothing set (rejected as etcd does). */
export type RequestOp =
  | { readonly type: "range"; readonly request: RangeRequest }
  | { readonly type: "put"; readonly request: PutRequest }
  | { readonly type: "deleteRange"; readonly request: DeleteRangeRequest }
  | { readonly type: "txn"; readonly request: TxnRequest }
  | { readonly type: "empty" };

/** A transaction: if every compare holds, run `success`, else `failure`. */
export interface TxnRequest {
  readonly compare: readonly Compare[];
  readonly success: readonly RequestOp[];
  readonly failure: readonly RequestOp[];
}

/** The answer to one executed {@link RequestOp}. */
export type ResponseOp =
  | { readonly type: "range"; readonly response: RangeResponse }
  | { readonly type: "put"; readonly response: PutResponse }
  | { readonly type: "deleteRange"; readonly response: DeleteRangeResponse }
  | { readonly type: "txn"; readonly response: TxnResponse };

/** The answer to a {@link TxnRequest}; `revision` is the txn's revision (current if nothing was written). */
export interface TxnResponse {
  readonly revision: Revision;
  readonly succeeded: boolean;
  readonly responses: readonly ResponseOp[];
}

/** The answer to a compaction. */
export interface CompactResponse {
  readonly revision: Revision;
}

/** Watch event types (etcd's `mvccpb.Event.EventType`). */
export const EventType = { put: "put", delete: "delete" } as const;
export type EventType = (typeof EventType)[keyof typeof EventType];

/**
 * One change. A DELETE event's `kv` has only `key` and `modRevision` (the deletion revision) set.
 * `prevKv` is the key as of `modRevision - 1`, only for watchers that asked, and null when absent
 * or compacted.
 */
export interface Event {
  readonly type: EventType;
  readonly kv: KeyValue;
  readonly prevKv: KeyValue | null;
}

/** A lease grant; `id` 0 lets the state machine choose. */
export interface LeaseGrantRequest {
  readonly id: LeaseId;
  /** Requested time-to-live in seconds; raised to the configured minimum. */
  readonly ttl: number;
}

/** The answer to a lease grant: the id and the granted TTL in seconds. */
export interface LeaseGrantResponse {
  readonly revision: Revision;
  readonly id: LeaseId;
  readonly ttl: number;
}

/** The answer to a lease revoke. */
export interface LeaseRevokeResponse {
  readonly revision: Revision;
}

/** One lease's remaining TTL as replicated by a checkpoint (seconds; 0 clears it). */
export interface LeaseCheckpoint {
  readonly id: LeaseId;
  readonly remainingTtl: number;
}

/** The answer to a keepalive: TTL 0 when the lease is unknown or expired. */
export interface LeaseKeepAliveResponse {
  readonly revision: Revision;
  readonly id: LeaseId;
  readonly ttl: number;
}

/** The answer to time-to-live: TTL -1 when the lease is unknown. Keys in key order. */
export interface LeaseTimeToLiveResponse {
  readonly revision: Revision;
  readonly id: LeaseId;
  readonly ttl: number;
  readonly grantedTtl: number;
  readonly keys: readonly Uint8Array[];
}

/** Alarm kinds (etcd's `AlarmType`). */
export const AlarmType = { none: "none", noSpace: "noSpace", corrupt: "corrupt" } as const;
export type AlarmType = (typeof AlarmType)[keyof typeof AlarmType];

/** Alarm actions (etcd's `AlarmRequest.AlarmAction`). */
export const AlarmAction = { get: "get", activate: "activate", deactivate: "deactivate" } as const;
export type AlarmAction = (typeof AlarmAction)[keyof typeof AlarmAction];

/** One raised alarm; member 0 marks alarms the state machine raised itself (quota). */
export interface AlarmMember {
  readonly memberId: number;
  readonly alarm: AlarmType;
}

/** An alarm request; `memberId` 0 with `get` lists all, with `deactivate` matches any member. */
export interface AlarmRequest {
  readonly action: AlarmAction;
  readonly memberId: number;
  readonly alarm: AlarmType;
}

/** The answer to an alarm request: the alarms it listed, raised or cleared. */
export interface AlarmResponse {
  readonly revision: Revision;
  readonly alarms: readonly AlarmMember[];
}

/** The answer to HashKV: a CRC-32 over the retained history up to `hashRevision`. */
export interface HashKvResponse {
  readonly revision: Revision;
  readonly hash: number;
  readonly compactRevision: Revision;
  readonly hashRevision: Revision;
}
