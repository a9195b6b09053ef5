/**
 * The etcd v3 API messages: one descriptor per message (field numbers and names as in the `.proto`
 * files beside this file, which `test/api/etcd/proto.test.ts` checks them against) and the
 * JavaScript shape of each, as {@link decodeMessage} produces it. Request interfaces are fully
 * populated (decoding fills defaults); response interfaces mark fields optional, because the
 * encoder writes an omitted field as its default.
 */
import { type EnumDesc, type FieldSpec, type MessageDesc, message } from "./codec.js";

function enumDesc(name: string, values: Record<string, number>): EnumDesc {
  return { name, values };
}

const R = "repeated";

// ---------------------------------------------------------------------------------------------
// Enums

export const EventTypeEnum = enumDesc("mvccpb.Event.EventType", { PUT: 0, DELETE: 1 });
export const SortOrderEnum = enumDesc("etcdserverpb.RangeRequest.SortOrder", {
  NONE: 0,
  ASCEND: 1,
  DESCEND: 2,
});
export const SortTargetEnum = enumDesc("etcdserverpb.RangeRequest.SortTarget", {
  KEY: 0,
  VERSION: 1,
  CREATE: 2,
  MOD: 3,
  VALUE: 4,
});
export const CompareResultEnum = enumDesc("etcdserverpb.Compare.CompareResult", {
  EQUAL: 0,
  GREATER: 1,
  LESS: 2,
  NOT_EQUAL: 3,
});
export const CompareTargetEnum = enumDesc("etcdserverpb.Compare.CompareTarget", {
  VERSION: 0,
  CREATE: 1,
  MOD: 2,
  VALUE: 3,
  LEASE: 4,
});
export const FilterTypeEnum = enumDesc("etcdserverpb.WatchCreateRequest.FilterType", {
  NOPUT: 0,
  NODELETE: 1,
});
export const AlarmTypeEnum = enumDesc("etcdserverpb.AlarmType", { NONE: 0, NOSPACE: 1, CORRUPT: 2 });
export const AlarmActionEnum = enumDesc("etcdserverpb.AlarmRequest.AlarmAction", {
  GET: 0,
  ACTIVATE: 1,
  DEACTIVATE: 2,
});
export const PermissionTypeEnum = enumDesc("authpb.Permission.Type", { READ: 0, WRITE: 1, READWRITE: 2 });
export const ServingStatusEnum = enumDesc("grpc.health.v1.HealthCheckResponse.ServingStatus", {
  UNKNOWN: 0,
  SERVING: 1,
  NOT_SERVING: 2,
  SERVICE_UNKNOWN: 3,
});

// ---------------------------------------------------------------------------------------------
// Descriptors

const m = (name: string, specs: readonly FieldSpec[]): MessageDesc => message(name, specs);

const KeyValue: MessageDesc = m("mvccpb.KeyValue", [
  [1, "key", "bytes"],
  [2, "create_revision", "int64"],
  [3, "mod_revision", "int64"],
  [4, "version", "int64"],
  [5, "value", "bytes"],
  [6, "lease", "int64"],
]);
const Event: MessageDesc = m("mvccpb.Event", [
  [1, "type", EventTypeEnum],
  [2, "kv", () => KeyValue],
  [3, "prev_kv", () => KeyValue],
]);
const ResponseHeader: MessageDesc = m("etcdserverpb.ResponseHeader", [
  [1, "cluster_id", "id64"],
  [2, "member_id", "id64"],
  [3, "revision", "int64"],
  [4, "raft_term", "uint64"],
]);
const H: FieldSpec = [1, "header", () => ResponseHeader];

const RangeRequest: MessageDesc = m("etcdserverpb.RangeRequest", [
  [1, "key", "bytes"],
  [2, "range_end", "bytes"],
  [3, "limit", "int64"],
  [4, "revision", "int64"],
  [5, "sort_order", SortOrderEnum],
  [6, "sort_target", SortTargetEnum],
  [7, "serializable", "bool"],
  [8, "keys_only", "bool"],
  [9, "count_only", "bool"],
  [10, "min_mod_revision", "int64"],
  [11, "max_mod_revision", "int64"],
  [12, "min_create_revision", "int64"],
  [13, "max_create_revision", "int64"],
]);
const RangeResponse: MessageDesc = m("etcdserverpb.RangeResponse", [
  H,
  [2, "kvs", () => KeyValue, R],
  [3, "more", "bool"],
  [4, "count", "int64"],
]);
const PutRequest: MessageDesc = m("etcdserverpb.PutRequest", [
  [1, "key", "bytes"],
  [2, "value", "bytes"],
  [3, "lease", "int64"],
  [4, "prev_kv", "bool"],
  [5, "ignore_value", "bool"],
  [6, "ignore_lease", "bool"],
]);
const PutResponse: MessageDesc = m("etcdserverpb.PutResponse", [H, [2, "prev_kv", () => KeyValue]]);
const DeleteRangeRequest: MessageDesc = m("etcdserverpb.DeleteRangeRequest", [
  [1, "key", "bytes"],
  [2, "range_end", "bytes"],
  [3, "prev_kv", "bool"],
]);
const DeleteRangeResponse: MessageDesc = m("etcdserverpb.DeleteRangeResponse", [
  H,
  [2, "deleted", "int64"],
  [3, "prev_kvs", () => KeyValue, R],
]);
const RequestOp: MessageDesc = m("etcdserverpb.RequestOp", [
  [1, "request_range", () => RangeRequest, "oneof:request"],
  [2, "request_put", () => PutRequest, "oneof:request"],
  [3, "request_delete_range", () => DeleteRangeRequest, "oneof:request"],
  [4, "request_txn", () => TxnRequest, "oneof:request"],
]);
const ResponseOp: MessageDesc = m("etcdserverpb.ResponseOp", [
  [1, "response_range", () => RangeResponse, "oneof:response"],
  [2, "response_put", () => PutResponse, "oneof:response"],
  [3, "response_delete_range", () => DeleteRangeResponse, "oneof:response"],
  [4, "response_txn", () => TxnResponse, "oneof:response"],
]);
const Compare: MessageDesc = m("etcdserverpb.Compare", [
  [1, "result", CompareResultEnum],
  [2, "target", CompareTargetEnum],
  [3, "key", "bytes"],
  [4, "version", "int64", "oneof:target_union"],
  [5, "create_revision", "int64", "oneof:target_union"],
  [6, "mod_revision", "int64", "oneof:target_union"],
  [7, "value", "bytes", "oneof:target_union"],
  [8, "lease", "int64", "oneof:target_union"],
  [64, "range_end", "bytes"],
]);
const TxnRequest: MessageDesc = m("etcdserverpb.TxnRequest", [
  [1, "compare", () => Compare, R],
  [2, "success", () => RequestOp, R],
  [3, "failure", () => RequestOp, R],
]);
const TxnResponse: MessageDesc = m("etcdserverpb.TxnResponse", [
  H,
  [2, "succeeded", "bool"],
  [3, "responses", () => ResponseOp, R],
]);
const CompactionRequest: MessageDesc = m("etcdserverpb.CompactionRequest", [
  [1, "revision", "int64"],
  [2, "physical", "bool"],
]);
const HeaderOnly = (name: string): MessageDesc => m(`etcdserverpb.${name}`, [H]);
const Empty = (name: string): MessageDesc => m(name, []);

const HashResponse: MessageDesc = m("etcdserverpb.HashResponse", [H, [2, "hash", "uint32"]]);
const HashKVRequest: MessageDesc = m("etcdserverpb.HashKVRequest", [[1, "revision", "int64"]]);
const HashKVResponse: MessageDesc = m("etcdserverpb.HashKVResponse", [
  H,
  [2, "hash", "uint32"],
  [3, "compact_revision", "int64"],
  [4, "hash_revision", "int64"],
]);
const SnapshotResponse: MessageDesc = m("etcdserverpb.SnapshotResponse", [
  H,
  [2, "remaining_bytes", "uint64"],
  [3, "blob", "bytes"],
  [4, "version", "string"],
]);

const WatchCreateRequest: MessageDesc = m("etcdserverpb.WatchCreateRequest", [
  [1, "key", "bytes"],
  [2, "range_end", "bytes"],
  [3, "start_revision", "int64"],
  [4, "progress_notify", "bool"],
  [5, "filters", FilterTypeEnum, R],
  [6, "prev_kv", "bool"],
  [7, "watch_id", "int64"],
  [8, "fragment", "bool"],
]);
const WatchCancelRequest: MessageDesc = m("etcdserverpb.WatchCancelRequest", [[1, "watch_id", "int64"]]);
const WatchProgressRequest: MessageDesc = Empty("etcdserverpb.WatchProgressRequest");
const WatchRequest: MessageDesc = m("etcdserverpb.WatchRequest", [
  [1, "create_request", () => WatchCreateRequest, "oneof:request_union"],
  [2, "cancel_request", () => WatchCancelRequest, "oneof:request_union"],
  [3, "progress_request", () => WatchProgressRequest, "oneof:request_union"],
]);
const WatchResponse: MessageDesc = m("etcdserverpb.WatchResponse", [
  H,
  [2, "watch_id", "int64"],
  [3, "created", "bool"],
  [4, "canceled", "bool"],
  [5, "compact_revision", "int64"],
  [6, "cancel_reason", "string"],
  [7, "fragment", "bool"],
  [11, "events", () => Event, R],
]);

const LeaseGrantRequest: MessageDesc = m("etcdserverpb.LeaseGrantRequest", [
  [1, "TTL", "int64"],
  [2, "ID", "int64"],
]);
const LeaseGrantResponse: MessageDesc = m("etcdserverpb.LeaseGrantResponse", [
  H,
  [2, "ID", "int64"],
  [3, "TTL", "int64"],
  [4, "error", "string"],
]);
const LeaseRevokeRequest: MessageDesc = m("etcdserverpb.LeaseRevokeRequest", [[1, "ID", "int64"]]);
const LeaseKeepAliveRequest: MessageDesc = m("etcdserverpb.LeaseKeepAliveRequest", [[1, "ID", "int64"]]);
const LeaseKeepAliveResponse: MessageDesc = m("etcdserverpb.LeaseKeepAliveResponse", [
  H,
  [2, "ID", "int64"],
  [3, "TTL", "int64"],
]);
const LeaseTimeToLiveRequest: MessageDesc = m("etcdserverpb.LeaseTimeToLiveRequest", [
  [1, "ID", "int64"],
  [2, "keys", "bool"],
]);
const LeaseTimeToLiveResponse: MessageDesc = m("etcdserverpb.LeaseTimeToLiveResponse", [
  H,
  [2, "ID", "int64"],
  [3, "TTL", "int64"],
  [4, "grantedTTL", "int64"],
  [5, "keys", "bytes", R],
]);
const LeaseStatus: MessageDesc = m("etcdserverpb.LeaseStatus", [[1, "ID", "int64"]]);
const LeaseLeasesResponse: MessageDesc = m("etcdserverpb.LeaseLeasesResponse", [
  H,
  [2, "leases", () => LeaseStatus, R],
]);

const Member: MessageDesc = m("etcdserverpb.Member", [
  [1, "ID", "id64"],
  [2, "name", "string"],
  [3, "peerURLs", "string", R],
  [4, "clientURLs", "string", R],
  [5, "isLearner", "bool"],
]);
const Members: FieldSpec = [2, "members", () => Member, R];
const MemberAddRequest: MessageDesc = m("etcdserverpb.MemberAddRequest", [
  [1, "peerURLs", "string", R],
  [2, "isLearner", "bool"],
]);
const MemberAddResponse: MessageDesc = m("etcdserverpb.MemberAddResponse", [
  H,
  [2, "member", () => Member],
  [3, "members", () => Member, R],
]);
const MemberRemoveRequest: MessageDesc = m("etcdserverpb.MemberRemoveRequest", [[1, "ID", "id64"]]);
const MemberUpdateRequest: MessageDesc = m("etcdserverpb.MemberUpdateRequest", [
  [1, "ID", "id64"],
  [2, "peerURLs", "string", R],
]);
const MemberListRequest: MessageDesc = m("etcdserverpb.MemberListRequest", [[1, "linearizable", "bool"]]);
const MemberPromoteRequest: MessageDesc = m("etcdserverpb.MemberPromoteRequest", [[1, "ID", "id64"]]);
const MembersResponse = (name: string): MessageDesc => m(`etcdserverpb.${name}`, [H, Members]);

const MoveLeaderRequest: MessageDesc = m("etcdserverpb.MoveLeaderRequest", [[1, "targetID", "id64"]]);
const AlarmRequest: MessageDesc = m("etcdserverpb.AlarmRequest", [
  [1, "action", AlarmActionEnum],
  [2, "memberID", "id64"],
  [3, "alarm", AlarmTypeEnum],
]);
const AlarmMember: MessageDesc = m("etcdserverpb.AlarmMember", [
  [1, "memberID", "id64"],
  [2, "alarm", AlarmTypeEnum],
]);
const AlarmResponse: MessageDesc = m("etcdserverpb.AlarmResponse", [H, [2, "alarms", () => AlarmMember, R]]);
const DowngradeInfo: MessageDesc = m("etcdserverpb.DowngradeInfo", [
  [1, "enabled", "bool"],
  [2, "targetVersion", "string"],
]);
const StatusResponse: MessageDesc = m("etcdserverpb.StatusResponse", [
  H,
  [2, "version", "string"],
  [3, "dbSize", "int64"],
  [4, "leader", "id64"],
  [5, "raftIndex", "uint64"],
  [6, "raftTerm", "uint64"],
  [7, "raftAppliedIndex", "uint64"],
  [8, "errors", "string", R],
  [9, "dbSizeInUse", "int64"],
  [10, "isLearner", "bool"],
  [11, "storageVersion", "string"],
  [12, "dbSizeQuota", "int64"],
  [13, "downgradeInfo", () => DowngradeInfo],
]);

const UserAddOptions: MessageDesc = m("authpb.UserAddOptions", [[1, "no_password", "bool"]]);
const Permission: MessageDesc = m("authpb.Permission", [
  [1, "permType", PermissionTypeEnum],
  [2, "key", "bytes"],
  [3, "range_end", "bytes"],
]);
const AuthenticateRequest: MessageDesc = m("etcdserverpb.AuthenticateRequest", [
  [1, "name", "string"],
  [2, "password", "string"],
]);
const AuthUserAddRequest: MessageDesc = m("etcdserverpb.AuthUserAddRequest", [
  [1, "name", "string"],
  [2, "password", "string"],
  [3, "options", () => UserAddOptions],
  [4, "hashedPassword", "string"],
]);
const AuthUserChangePasswordRequest: MessageDesc = m("etcdserverpb.AuthUserChangePasswordRequest", [
  [1, "name", "string"],
  [2, "password", "string"],
  [3, "hashedPassword", "string"],
]);
const AuthUserGrantRoleRequest: MessageDesc = m("etcdserverpb.AuthUserGrantRoleRequest", [
  [1, "user", "string"],
  [2, "role", "string"],
]);
const AuthUserRevokeRoleRequest: MessageDesc = m("etcdserverpb.AuthUserRevokeRoleRequest", [
  [1, "name", "string"],
  [2, "role", "string"],
]);
const AuthRoleGrantPermissionRequest: MessageDesc = m("etcdserverpb.AuthRoleGrantPermissionRequest", [
  [1, "name", "string"],
  [2, "perm", () => Permission],
]);
const AuthRoleRevokePermissionRequest: MessageDesc = m("etcdserverpb.AuthRoleRevokePermissionRequest", [
  [1, "role", "string"],
  [2, "key", "bytes"],
  [3, "range_end", "bytes"],
]);
const AuthStatusResponse: MessageDesc = m("etcdserverpb.AuthStatusResponse", [
  H,
  [2, "enabled", "bool"],
  [3, "authRevision", "uint64"],
]);
const AuthenticateResponse: MessageDesc = m("etcdserverpb.AuthenticateResponse", [H, [2, "token", "string"]]);
const NameRequest = (name: string, field: string): MessageDesc =>
  m(`etcdserverpb.${name}`, [[1, field, "string"]]);
const NamesResponse = (name: string, field: string): MessageDesc =>
  m(`etcdserverpb.${name}`, [H, [2, field, "string", R]]);

const HealthCheckRequest: MessageDesc = m("grpc.health.v1.HealthCheckRequest", [[1, "service", "string"]]);
const HealthCheckResponse: MessageDesc = m("grpc.health.v1.HealthCheckResponse", [
  [1, "status", ServingStatusEnum],
]);

/** Every message descriptor, by short name. */
export const D = {
  KeyValue,
  Event,
  ResponseHeader,
  RangeRequest,
  RangeResponse,
  PutRequest,
  PutResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  RequestOp,
  ResponseOp,
  Compare,
  TxnRequest,
  TxnResponse,
  CompactionRequest,
  CompactionResponse: HeaderOnly("CompactionResponse"),
  HashRequest: Empty("etcdserverpb.HashRequest"),
  HashResponse,
  HashKVRequest,
  HashKVResponse,
  SnapshotRequest: Empty("etcdserverpb.SnapshotRequest"),
  SnapshotResponse,
  WatchRequest,
  WatchCreateRequest,
  WatchCancelRequest,
  WatchProgressRequest,
  WatchResponse,
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseRevokeRequest,
  LeaseRevokeResponse: HeaderOnly("LeaseRevokeResponse"),
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
  LeaseLeasesRequest: Empty("etcdserverpb.LeaseLeasesRequest"),
  LeaseStatus,
  LeaseLeasesResponse,
  Member,
  MemberAddRequest,
  MemberAddResponse,
  MemberRemoveRequest,
  MemberRemoveResponse: MembersResponse("MemberRemoveResponse"),
  MemberUpdateRequest,
  MemberUpdateResponse: MembersResponse("MemberUpdateResponse"),
  MemberListRequest,
  MemberListResponse: MembersResponse("MemberListResponse"),
  MemberPromoteRequest,
  MemberPromoteResponse: MembersResponse("MemberPromoteResponse"),
  DefragmentRequest: Empty("etcdserverpb.DefragmentRequest"),
  DefragmentResponse: HeaderOnly("DefragmentResponse"),
  MoveLeaderRequest,
  MoveLeaderResponse: HeaderOnly("MoveLeaderResponse"),
  AlarmRequest,
  AlarmMember,
  AlarmResponse,
  StatusRequest: Empty("etcdserverpb.StatusRequest"),
  DowngradeInfo,
  StatusResponse,
  HealthCheckRequest,
  HealthCheckResponse,
  UserAddOptions,
  Permission,
  AuthEnableRequest: Empty("etcdserverpb.AuthEnableRequest"),
  AuthDisableRequest: Empty("etcdserverpb.AuthDisableRequest"),
  AuthStatusRequest: Empty("etcdserverpb.AuthStatusRequest"),
  AuthenticateRequest,
  AuthUserAddRequest,
  AuthUserGetRequest: NameRequest("AuthUserGetRequest", "name"),
  AuthUserDeleteRequest: NameRequest("AuthUserDeleteRequest", "name"),
  AuthUserChangePasswordRequest,
  AuthUserGrantRoleRequest,
  AuthUserRevokeRoleRequest,
  AuthRoleAddRequest: NameRequest("AuthRoleAddRequest", "name"),
  AuthRoleGetRequest: NameRequest("AuthRoleGetRequest", "role"),
  AuthUserListRequest: Empty("etcdserverpb.AuthUserListRequest"),
  AuthRoleListRequest: Empty("etcdserverpb.AuthRoleListRequest"),
  AuthRoleDeleteRequest: NameRequest("AuthRoleDeleteRequest", "role"),
  AuthRoleGrantPermissionRequest,
  AuthRoleRevokePermissionRequest,
  AuthEnableResponse: HeaderOnly("AuthEnableResponse"),
  AuthDisableResponse: HeaderOnly("AuthDisableResponse"),
  AuthStatusResponse,
  AuthenticateResponse,
  AuthUserAddResponse: HeaderOnly("AuthUserAddResponse"),
  AuthUserGetResponse: NamesResponse("AuthUserGetResponse", "roles"),
  AuthUserDeleteResponse: HeaderOnly("AuthUserDeleteResponse"),
  AuthUserChangePasswordResponse: HeaderOnly("AuthUserChangePasswordResponse"),
  AuthUserGrantRoleResponse: HeaderOnly("AuthUserGrantRoleResponse"),
  AuthUserRevokeRoleResponse: HeaderOnly("AuthUserRevokeRoleResponse"),
  AuthRoleAddResponse: HeaderOnly("AuthRoleAddResponse"),
  AuthRoleGetResponse: m("etcdserverpb.AuthRoleGetResponse", [H, [2, "perm", () => Permission, R]]),
  AuthRoleListResponse: NamesResponse("AuthRoleListResponse", "roles"),
  AuthUserListResponse: NamesResponse("AuthUserListResponse", "users"),
  AuthRoleDeleteResponse: HeaderOnly("AuthRoleDeleteResponse"),
  AuthRoleGrantPermissionResponse: HeaderOnly("AuthRoleGrantPermissionResponse"),
  AuthRoleRevokePermissionResponse: HeaderOnly("AuthRoleRevokePermissionResponse"),
} as const;

// ---------------------------------------------------------------------------------------------
// JavaScript shapes

/** `mvccpb.KeyValue`. */
export interface KeyValueMsg {
  readonly key: Uint8Array;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly value: Uint8Array;
  readonly lease: number;
}

/** `mvccpb.Event` (type 0 = PUT, 1 = DELETE). */
export interface EventMsg {
  readonly type: number;
  readonly kv: KeyValueMsg | null;
  readonly prevKv: KeyValueMsg | null;
}

/** `etcdserverpb.ResponseHeader`. */
export interface HeaderMsg {
  readonly clusterId: bigint;
  readonly memberId: bigint;
  readonly revision: number;
  readonly raftTerm: number;
}

export interface RangeRequestMsg {
  readonly key: Uint8Array;
  readonly rangeEnd: Uint8Array;
  readonly limit: number;
  readonly revision: number;
  readonly sortOrder: number;
  readonly sortTarget: number;
  readonly serializable: boolean;
  readonly keysOnly: boolean;
  readonly countOnly: boolean;
  readonly minModRevision: number;
  readonly maxModRevision: number;
  readonly minCreateRevision: number;
  readonly maxCreateRevision: number;
}

export interface RangeResponseMsg {
  readonly header: HeaderMsg;
  readonly kvs?: readonly KeyValueMsg[];
  readonly more?: boolean;
  readonly count?: number;
}

export interface PutRequestMsg {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  readonly lease: number;
  readonly prevKv: boolean;
  readonly ignoreValue: boolean;
  readonly ignoreLease: boolean;
}

export interface PutResponseMsg {
  readonly header: HeaderMsg;
  readonly prevKv?: KeyValueMsg | null;
}

export interface DeleteRangeRequestMsg {
  readonly key: Uint8Array;
  readonly rangeEnd: Uint8Array;
  readonly prevKv: boolean;
}

export interface DeleteRangeResponseMsg {
  readonly header: HeaderMsg;
  readonly deleted?: number;
  readonly prevKvs?: readonly KeyValueMsg[];
}

export interface RequestOpMsg {
  readonly requestRange?: RangeRequestMsg | undefined;
  readonly requestPut?: PutRequestMsg | undefined;
  readonly requestDeleteRange?: DeleteRangeRequestMsg | undefined;
  readonly requestTxn?: TxnRequestMsg | undefined;
}

export interface ResponseOpMsg {
  readonly responseRange?: RangeResponseMsg;
  readonly responsePut?: PutResponseMsg;
  readonly responseDeleteRange?: DeleteRangeResponseMsg;
  readonly responseTxn?: TxnResponseMsg;
}

/** `etcdserverpb.Compare`; exactly one of the `target_union` members is normally set. */
export interface CompareMsg {
  readonly result: number;
  readonly target: number;
  readonly key: Uint8Array;
  readonly version?: number | undefined;
  readonly createRevision?: number | undefined;
  readonly modRevision?: number | undefined;
  readonly value?: Uint8Array | undefined;
  readonly lease?: number | undefined;
  readonly rangeEnd: Uint8Array;
}

export interface TxnRequestMsg {
  readonly compare: readonly CompareMsg[];
  readonly success: readonly RequestOpMsg[];
  readonly failure: readonly RequestOpMsg[];
}

export interface TxnResponseMsg {
  readonly header: HeaderMsg;
  readonly succeeded?: boolean;
  readonly responses?: readonly ResponseOpMsg[];
}

export interface CompactionRequestMsg {
  readonly revision: number;
  readonly physical: boolean;
}

export interface HeaderOnlyMsg {
  readonly header: HeaderMsg;
}

export interface HashResponseMsg {
  readonly header: HeaderMsg;
  readonly hash: number;
}

export interface HashKVRequestMsg {
  readonly revision: number;
}

export interface HashKVResponseMsg {
  readonly header: HeaderMsg;
  readonly hash: number;
  readonly compactRevision: number;
  readonly hashRevision: number;
}

export interface SnapshotResponseMsg {
  readonly header: HeaderMsg;
  readonly remainingBytes: number;
  readonly blob: Uint8Array;
  readonly version?: string;
}

export interface WatchCreateRequestMsg {
  readonly key: Uint8Array;
  readonly rangeEnd: Uint8Array;
  readonly startRevision: number;
  readonly progressNotify: boolean;
  readonly filters: readonly number[];
  readonly prevKv: boolean;
  readonly watchId: number;
  readonly fragment: boolean;
}

export interface WatchRequestMsg {
  readonly createRequest?: WatchCreateRequestMsg | undefined;
  readonly cancelRequest?: { readonly watchId: number } | undefined;
  readonly progressRequest?: Record<string, never> | undefined;
}

export interface WatchResponseMsg {
  readonly header: HeaderMsg;
  readonly watchId?: number;
  readonly created?: boolean;
  readonly canceled?: boolean;
  readonly compactRevision?: number;
  readonly cancelReason?: string;
  readonly fragment?: boolean;
  readonly events?: readonly EventMsg[];
}

export interface LeaseGrantRequestMsg {
  readonly TTL: number;
  readonly ID: number;
}

export interface LeaseGrantResponseMsg {
  readonly header: HeaderMsg;
  readonly ID: number;
  readonly TTL: number;
  readonly error?: string;
}

export interface LeaseIdMsg {
  readonly ID: number;
}

export interface LeaseKeepAliveResponseMsg {
  readonly header: HeaderMsg;
  readonly ID: number;
  readonly TTL: number;
}

export interface LeaseTimeToLiveRequestMsg {
  readonly ID: number;
  readonly keys: boolean;
}

export interface LeaseTimeToLiveResponseMsg {
  readonly header: HeaderMsg;
  readonly ID: number;
  readonly TTL: number;
  readonly grantedTTL: number;
  readonly keys: readonly Uint8Array[];
}

export interface LeaseLeasesResponseMsg {
  readonly header: HeaderMsg;
  readonly leases: readonly LeaseIdMsg[];
}

/** `etcdserverpb.Member`. */
export interface MemberMsg {
  readonly ID: bigint;
  readonly name: string;
  readonly peerURLs: readonly string[];
  readonly clientURLs: readonly string[];
  readonly isLearner: boolean;
}

export interface MemberAddRequestMsg {
  readonly peerURLs: readonly string[];
  readonly isLearner: boolean;
}

export interface MemberIdRequestMsg {
  readonly ID: bigint;
}

export interface MemberUpdateRequestMsg {
  readonly ID: bigint;
  readonly peerURLs: readonly string[];
}

export interface MemberListRequestMsg {
  readonly linearizable: boolean;
}

export interface MembersResponseMsg {
  readonly header: HeaderMsg;
  readonly members: readonly MemberMsg[];
}

export interface MemberAddResponseMsg extends MembersResponseMsg {
  readonly member: MemberMsg;
}

export interface MoveLeaderRequestMsg {
  readonly targetID: bigint;
}

export interface AlarmRequestMsg {
  readonly action: number;
  readonly memberID: bigint;
  readonly alarm: number;
}

export interface AlarmMemberMsg {
  readonly memberID: bigint;
  readonly alarm: number;
}

export interface AlarmResponseMsg {
  readonly header: HeaderMsg;
  readonly alarms: readonly AlarmMemberMsg[];
}

export interface StatusResponseMsg {
  readonly header: HeaderMsg;
  readonly version: string;
  readonly dbSize: number;
  readonly leader: bigint;
  readonly raftIndex: number;
  readonly raftTerm: number;
  readonly raftAppliedIndex: number;
  readonly errors: readonly string[];
  readonly dbSizeInUse: number;
  readonly isLearner: boolean;
  readonly storageVersion?: string;
  readonly dbSizeQuota: number;
}

export interface HealthCheckRequestMsg {
  readonly service: string;
}

export interface HealthCheckResponseMsg {
  readonly status: number;
}

/** `authpb.Permission` (permType 0 = READ, 1 = WRITE, 2 = READWRITE). */
export interface PermissionMsg {
  readonly permType: number;
  readonly key: Uint8Array;
  readonly rangeEnd: Uint8Array;
}

export interface AuthenticateRequestMsg {
  readonly name: string;
  readonly password: string;
}

export interface AuthUserAddRequestMsg {
  readonly name: string;
  readonly password: string;
  readonly options: { readonly noPassword: boolean } | null;
  readonly hashedPassword: string;
}

export interface AuthUserChangePasswordRequestMsg {
  readonly name: string;
  readonly password: string;
  readonly hashedPassword: string;
}

/** UserGet, UserDelete, RoleAdd (`name`); RoleGet, RoleDelete (`role`). */
export interface AuthNameRequestMsg {
  readonly name?: string;
  readonly role?: string;
}

export interface AuthUserGrantRoleRequestMsg {
  readonly user: string;
  readonly role: string;
}

export interface AuthUserRevokeRoleRequestMsg {
  readonly name: string;
  readonly role: string;
}

export interface AuthRoleGrantPermissionRequestMsg {
  readonly name: string;
  readonly perm: PermissionMsg | null;
}

export interface AuthRoleRevokePermissionRequestMsg {
  readonly role: string;
  readonly key: Uint8Array;
  readonly rangeEnd: Uint8Array;
}

export interface AuthStatusResponseMsg {
  readonly header: HeaderMsg;
  readonly enabled: boolean;
  readonly authRevision: number;
}

export interface AuthenticateResponseMsg {
  readonly header: HeaderMsg;
  readonly token: string;
}

export interface AuthUserGetResponseMsg {
  readonly header: HeaderMsg;
  readonly roles: readonly string[];
}

export interface AuthUserListResponseMsg {
  readonly header: HeaderMsg;
  readonly users: readonly string[];
}

export interface AuthRoleListResponseMsg {
  readonly header: HeaderMsg;
  readonly roles: readonly string[];
}

export interface AuthRoleGetResponseMsg {
  readonly header: HeaderMsg;
  readonly perm: readonly PermissionMsg[];
}

// ---------------------------------------------------------------------------------------------
// v3lockpb (the Lock service)

/** Lock-service descriptors (`v3lock.proto`). */
export const LockD = {
  LockRequest: message("v3lockpb.LockRequest", [
    [1, "name", "bytes"],
    [2, "lease", "int64"],
  ]),
  LockResponse: message("v3lockpb.LockResponse", [
    [1, "header", () => D.ResponseHeader],
    [2, "key", "bytes"],
  ]),
  UnlockRequest: message("v3lockpb.UnlockRequest", [[1, "key", "bytes"]]),
  UnlockResponse: message("v3lockpb.UnlockResponse", [[1, "header", () => D.ResponseHeader]]),
} as const;

export interface LockRequestMsg {
  readonly name: Uint8Array;
  readonly lease: number;
}

export interface LockResponseMsg {
  readonly header: HeaderMsg;
  readonly key: Uint8Array;
}

export interface UnlockRequestMsg {
  readonly key: Uint8Array;
}

// ---------------------------------------------------------------------------------------------
// v3electionpb (the Election service)

const LeaderKey: MessageDesc = message("v3electionpb.LeaderKey", [
  [1, "name", "bytes"],
  [2, "key", "bytes"],
  [3, "rev", "int64"],
  [4, "lease", "int64"],
]);

/** Election-service descriptors (`v3election.proto`). */
export const ElectionD = {
  CampaignRequest: message("v3electionpb.CampaignRequest", [
    [1, "name", "bytes"],
    [2, "lease", "int64"],
    [3, "value", "bytes"],
  ]),
  CampaignResponse: message("v3electionpb.CampaignResponse", [
    [1, "header", () => D.ResponseHeader],
    [2, "leader", () => LeaderKey],
  ]),
  LeaderKey,
  LeaderRequest: message("v3electionpb.LeaderRequest", [[1, "name", "bytes"]]),
  LeaderResponse: message("v3electionpb.LeaderResponse", [
    [1, "header", () => D.ResponseHeader],
    [2, "kv", () => D.KeyValue],
  ]),
  ResignRequest: message("v3electionpb.ResignRequest", [[1, "leader", () => LeaderKey]]),
  ResignResponse: message("v3electionpb.ResignResponse", [[1, "header", () => D.ResponseHeader]]),
  ProclaimRequest: message("v3electionpb.ProclaimRequest", [
    [1, "leader", () => LeaderKey],
    [2, "value", "bytes"],
  ]),
  ProclaimResponse: message("v3electionpb.ProclaimResponse", [[1, "header", () => D.ResponseHeader]]),
} as const;

/** `v3electionpb.LeaderKey`: what a campaigner holds while it leads (`rev` = its key's create revision). */
export interface LeaderKeyMsg {
  readonly name: Uint8Array;
  readonly key: Uint8Array;
  readonly rev: number;
  readonly lease: number;
}

export interface CampaignRequestMsg {
  readonly name: Uint8Array;
  readonly lease: number;
  readonly value: Uint8Array;
}

export interface CampaignResponseMsg {
  readonly header: HeaderMsg;
  readonly leader: LeaderKeyMsg;
}

export interface LeaderRequestMsg {
  readonly name: Uint8Array;
}

export interface LeaderResponseMsg {
  readonly header: HeaderMsg;
  readonly kv: KeyValueMsg;
}

/** Resign; `leader` is null when the request omits it. */
export interface ResignRequestMsg {
  readonly leader: LeaderKeyMsg | null;
}

/** Proclaim; `leader` is null when the request omits it. */
export interface ProclaimRequestMsg {
  readonly leader: LeaderKeyMsg | null;
  readonly value: Uint8Array;
}
