import { type AuthCommand, permissionTypes } from "./auth.js";
import { fromUtf8, utf8 } from "./bytes.js";
import { CodecError, Reader, Writer } from "./codec.js";
import type {
  AlarmRequest,
  Compare,
  DeleteRangeRequest,
  LeaseCheckpoint,
  LeaseGrantRequest,
  LeaseId,
  PutRequest,
  RangeRequest,
  RequestOp,
  Revision,
  TxnRequest,
} from "./types.js";
import { AlarmAction, AlarmType, CompareResult, CompareTarget, SortOrder, SortTarget } from "./types.js";

/** A state-machine command: what the server proposes to the log and every member applies. */
export type Command =
  | { readonly type: "range"; readonly request: RangeRequest }
  | { readonly type: "put"; readonly request: PutRequest }
  | { readonly type: "deleteRange"; readonly request: DeleteRangeRequest }
  | { readonly type: "txn"; readonly request: TxnRequest }
  | { readonly type: "compact"; readonly revision: Revision }
  | { readonly type: "leaseGrant"; readonly request: LeaseGrantRequest }
  | { readonly type: "leaseRevoke"; readonly id: LeaseId }
  | { readonly type: "leaseCheckpoint"; readonly checkpoints: readonly LeaseCheckpoint[] }
  | { readonly type: "alarm"; readonly request: AlarmRequest }
  | { readonly type: "auth"; readonly request: AuthCommand };

/** A command with the proposer's request id, so the proposing member can answer its client. */
export interface CommandEnvelope {
  /** Chosen by the proposing member; unique among its pending proposals; 0..2^53-1. */
  readonly requestId: number;
  readonly command: Command;
  /**
   * What the API layer checked the request's permissions for: the auth revision (0: auth was
   * disabled) and the user ("" for none). Absent for the server's own commands (lease expiry,
   * compaction, checkpoints), which are not checked. See `MvccStore.checkWriteAuth`.
   */
  readonly auth?: WriteAuth;
}

/** The identity and auth revision a write was checked with by the API layer. */
export interface WriteAuth {
  readonly revision: number;
  readonly user: string;
}

/** The command encoding version written by {@link encodeCommand} for unchecked commands. */
export const commandVersion = 1;
/** The version written for commands that carry {@link WriteAuth} (version 1 plus those fields). */
export const commandVersionAuth = 2;
/** Deepest txn nesting the decoder accepts. */
export const txnDepthMax = 64;
/** Most checkpoints in one command. */
export const checkpointsMax = 10_000;

const commandTypes = [
  "range",
  "put",
  "deleteRange",
  "txn",
  "compact",
  "leaseGrant",
  "leaseRevoke",
  "leaseCheckpoint",
  "alarm",
  "auth",
] as const;
const authTypes = [
  "authEnable",
  "authDisable",
  "authenticate",
  "userAdd",
  "userDelete",
  "userChangePassword",
  "userGrantRole",
  "userRevokeRole",
  "roleAdd",
  "roleDelete",
  "roleGrantPermission",
  "roleRevokePermission",
] as const;
const opTypes = ["empty", "range", "put", "deleteRange", "txn"] as const;
const sortOrders = [SortOrder.none, SortOrder.ascend, SortOrder.descend] as const;
const sortTargets = [
  SortTarget.key,
  SortTarget.version,
  SortTarget.create,
  SortTarget.mod,
  SortTarget.value,
] as const;
const compareTargets = [
  CompareTarget.version,
  CompareTarget.create,
  CompareTarget.mod,
  CompareTarget.value,
  CompareTarget.lease,
] as const;
const compareResults = [
  CompareResult.equal,
  CompareResult.greater,
  CompareResult.less,
  CompareResult.notEqual,
] as const;
const alarmActions = [AlarmAction.get, AlarmAction.activate, AlarmAction.deactivate] as const;
const alarmTypes = [AlarmType.none, AlarmType.noSpace, AlarmType.corrupt] as const;

/** Largest byte string inside a command; whole commands are bounded by the request limit anyway. */
const bytesMax = 64 * 1024 * 1024;

/**
 * Encodes a command (documented byte by byte in docs/mvcc.md): version 1 is
 * `u8 1, uvarint requestId, u8 commandType, payload`; a command with {@link WriteAuth} is version 2,
 * `u8 2, uvarint requestId, uvarint authRevision, bytes user, u8 commandType, payload`. Enum values
 * use etcd's proto numbers.
 */
export function encodeCommand(envelope: CommandEnvelope): Uint8Array {
  const w = new Writer();
  encodeCommandTo(w, envelope);
  return w.finish();
}

/**
 * {@link encodeCommand} appending to `w`: a caller that frames commands (the server's proposal
 * envelope) writes its header and the command into one reused writer and copies once.
 */
export function encodeCommandTo(w: Writer, envelope: CommandEnvelope): void {
  w.u8(envelope.auth === undefined ? commandVersion : commandVersionAuth);
  w.uvarint(envelope.requestId);
  if (envelope.auth !== undefined) {
    w.uvarint(envelope.auth.revision);
    writeString(w, envelope.auth.user);
  }
  const cmd = envelope.command;
  w.u8(commandTypes.indexOf(cmd.type) + 1);
  switch (cmd.type) {
    case "range":
      writeRange(w, cmd.request);
      break;
    case "put":
      writePut(w, cmd.request);
      break;
    case "deleteRange":
      writeDelete(w, cmd.request);
      break;
    case "txn":
      writeTxn(w, cmd.request);
      break;
    case "compact":
      w.svarint(cmd.revision);
      break;
    case "leaseGrant":
      w.uvarint(cmd.request.id);
      w.svarint(cmd.request.ttl);
      break;
    case "leaseRevoke":
      w.uvarint(cmd.id);
      break;
    case "leaseCheckpoint":
      w.uvarint(cmd.checkpoints.length);
      for (const c of cmd.checkpoints) {
        w.uvarint(c.id);
        w.uvarint(c.remainingTtl);
      }
      break;
    case "alarm":
      w.u8(alarmActions.indexOf(cmd.request.action));
      w.uvarint(cmd.request.memberId);
      w.u8(alarmTypes.indexOf(cmd.request.alarm));
      break;
    case "auth":
      writeAuth(w, cmd.request);
      break;
  }
}

/** Decodes a command; returns a reason string for malformed input or an unknown version. */
export function decodeCommand(data: Uint8Array): CommandEnvelope | string {
  const r = new Reader(data);
  try {
    const version = r.u8();
    if (version !== commandVersion && version !== commandVersionAuth) {
      return `unknown command encoding version ${version}`;
    }
    const requestId = r.uvarint();
    const auth = version === commandVersionAuth ? { revision: r.uvarint(), user: readString(r) } : undefined;
    const type = commandTypes[r.u8() - 1];
    if (type === undefined) return `unknown command type ${data[r.pos - 1]}`;
    const command = readCommand(r, type);
    if (r.remaining !== 0) return `${r.remaining} trailing bytes after the command`;
    return auth === undefined ? { requestId, command } : { requestId, command, auth };
  } catch (e) {
    if (e instanceof CodecError) return `malformed command: ${e.message}`;
    throw e;
  }
}

/**
 * Whether an encoded command compacts history (the one command that rewrites retained records,
 * which a snapshot being encoded meanwhile cannot tolerate). Reads only the header; false for
 * anything malformed (applying it fails on its own).
 */
export function commandRewritesHistory(data: Uint8Array): boolean {
  const r = new Reader(data);
  try {
    const version = r.u8();
    if (version !== commandVersion && version !== commandVersionAuth) return false;
    r.uvarint();
    if (version === commandVersionAuth) {
      r.uvarint();
      r.bytes(bytesMax);
    }
    return commandTypes[r.u8() - 1] === "compact";
  } catch (e) {
    if (e instanceof CodecError) return false;
    throw e;
  }
}

function readCommand(r: Reader, type: (typeof commandTypes)[number]): Command {
  switch (type) {
    case "range":
      return { type, request: readRange(r) };
    case "put":
      return { type, request: readPut(r) };
    case "deleteRange":
      return { type, request: readDelete(r) };
    case "txn":
      return { type, request: readTxn(r, 0) };
    case "compact":
      return { type, revision: r.svarint() };
    case "leaseGrant":
      return { type, request: { id: r.uvarint(), ttl: r.svarint() } };
    case "leaseRevoke":
      return { type, id: r.uvarint() };
    case "leaseCheckpoint": {
      const n = r.uvarint();
      if (n > checkpointsMax) throw new CodecError(`${n} checkpoints, more than ${checkpointsMax}`);
      const checkpoints: LeaseCheckpoint[] = [];
      for (let i = 0; i < n; i++) checkpoints.push({ id: r.uvarint(), remainingTtl: r.uvarint() });
      return { type, checkpoints };
    }
    case "alarm":
      return {
        type,
        request: {
          action: pick(alarmActions, r.u8(), "alarm action"),
          memberId: r.uvarint(),
          alarm: pick(alarmTypes, r.u8(), "alarm type"),
        },
      };
    case "auth":
      return { type, request: readAuth(r) };
  }
}

function writeString(w: Writer, s: string): void {
  w.bytes(utf8(s));
}

function readString(r: Reader): string {
  return fromUtf8(r.bytes(bytesMax));
}

function writeAuth(w: Writer, a: AuthCommand): void {
  w.u8(authTypes.indexOf(a.type) + 1);
  switch (a.type) {
    case "authEnable":
    case "authDisable":
      break;
    case "authenticate":
      writeString(w, a.name);
      writeString(w, a.tokenPrefix);
      break;
    case "userAdd":
      writeString(w, a.name);
      writeString(w, a.passwordHash);
      w.u8(a.noPassword ? 1 : 0);
      break;
    case "userChangePassword":
      writeString(w, a.name);
      writeString(w, a.passwordHash);
      break;
    case "userGrantRole":
      writeString(w, a.user);
      writeString(w, a.role);
      break;
    case "userRevokeRole":
      writeString(w, a.name);
      writeString(w, a.role);
      break;
    case "userDelete":
    case "roleAdd":
    case "roleDelete":
      writeString(w, a.name);
      break;
    case "roleGrantPermission":
      writeString(w, a.name);
      w.u8(permissionTypes.indexOf(a.permission.type));
      w.bytes(a.permission.key);
      w.bytes(a.permission.rangeEnd);
      break;
    case "roleRevokePermission":
      writeString(w, a.name);
      w.bytes(a.key);
      w.bytes(a.rangeEnd);
      break;
  }
}

function readAuth(r: Reader): AuthCommand {
  const type = authTypes[r.u8() - 1];
  if (type === undefined) throw new CodecError(`unknown auth command type ${r.buf[r.pos - 1]}`);
  switch (type) {
    case "authEnable":
    case "authDisable":
      return { type };
    case "authenticate":
      return { type, name: readString(r), tokenPrefix: readString(r) };
    case "userAdd":
      return { type, name: readString(r), passwordHash: readString(r), noPassword: r.bool() };
    case "userChangePassword":
      return { type, name: readString(r), passwordHash: readString(r) };
    case "userGrantRole":
      return { type, user: readString(r), role: readString(r) };
    case "userRevokeRole":
      return { type, name: readString(r), role: readString(r) };
    case "userDelete":
    case "roleAdd":
    case "roleDelete":
      return { type, name: readString(r) };
    case "roleGrantPermission": {
      const name = readString(r);
      const permType = pick(permissionTypes, r.u8(), "permission type");
      return {
        type,
        name,
        permission: { type: permType, key: r.bytes(bytesMax), rangeEnd: r.bytes(bytesMax) },
      };
    }
    case "roleRevokePermission":
      return { type, name: readString(r), key: r.bytes(bytesMax), rangeEnd: r.bytes(bytesMax) };
  }
}

function pick<T>(values: readonly T[], index: number, what: string): T {
  const v = values[index];
  if (v === undefined) throw new CodecError(`unknown ${what} ${index}`);
  return v;
}

function writeRange(w: Writer, q: RangeRequest): void {
  w.u8((q.keysOnly === true ? 1 : 0) | (q.countOnly === true ? 2 : 0));
  w.bytes(q.key);
  w.bytes(q.rangeEnd ?? new Uint8Array(0));
  w.svarint(q.limit ?? 0);
  w.svarint(q.revision ?? 0);
  w.u8(sortOrders.indexOf(q.sortOrder ?? SortOrder.none));
  w.u8(sortTargets.indexOf(q.sortTarget ?? SortTarget.key));
  w.svarint(q.minModRevision ?? 0);
  w.svarint(q.maxModRevision ?? 0);
  w.svarint(q.minCreateRevision ?? 0);
  w.svarint(q.maxCreateRevision ?? 0);
}

function readRange(r: Reader): RangeRequest {
  const flags = r.u8();
  if (flags > 3) throw new CodecError(`range flags ${flags}`);
  return {
    keysOnly: (flags & 1) !== 0,
    countOnly: (flags & 2) !== 0,
    key: r.bytes(bytesMax),
    rangeEnd: r.bytes(bytesMax),
    limit: r.svarint(),
    revision: r.svarint(),
    sortOrder: pick(sortOrders, r.u8(), "sort order"),
    sortTarget: pick(sortTargets, r.u8(), "sort target"),
    minModRevision: r.svarint(),
    maxModRevision: r.svarint(),
    minCreateRevision: r.svarint(),
    maxCreateRevision: r.svarint(),
  };
}

function writePut(w: Writer, q: PutRequest): void {
  w.u8((q.prevKv === true ? 1 : 0) | (q.ignoreValue === true ? 2 : 0) | (q.ignoreLease === true ? 4 : 0));
  w.bytes(q.key);
  w.bytes(q.value ?? new Uint8Array(0));
  w.uvarint(q.lease ?? 0);
}

function readPut(r: Reader): PutRequest {
  const flags = r.u8();
  if (flags > 7) throw new CodecError(`put flags ${flags}`);
  return {
    prevKv: (flags & 1) !== 0,
    ignoreValue: (flags & 2) !== 0,
    ignoreLease: (flags & 4) !== 0,
    key: r.bytes(bytesMax),
    value: r.bytes(bytesMax),
    lease: r.uvarint(),
  };
}

function writeDelete(w: Writer, q: DeleteRangeRequest): void {
  w.u8(q.prevKv === true ? 1 : 0);
  w.bytes(q.key);
  w.bytes(q.rangeEnd ?? new Uint8Array(0));
}

function readDelete(r: Reader): DeleteRangeRequest {
  const prevKv = r.bool();
  return { prevKv, key: r.bytes(bytesMax), rangeEnd: r.bytes(bytesMax) };
}

function writeCompare(w: Writer, c: Compare): void {
  w.u8(compareTargets.indexOf(c.target));
  w.u8(compareResults.indexOf(c.result));
  w.bytes(c.key);
  w.bytes(c.rangeEnd ?? new Uint8Array(0));
  if (c.target === "value") w.bytes(c.value);
  else w.svarint(c.value);
}

function readCompare(r: Reader): Compare {
  const target = pick(compareTargets, r.u8(), "compare target");
  const result = pick(compareResults, r.u8(), "compare result");
  const key = r.bytes(bytesMax);
  const rangeEnd = r.bytes(bytesMax);
  if (target === "value") return { target, result, key, rangeEnd, value: r.bytes(bytesMax) };
  return { target, result, key, rangeEnd, value: r.svarint() };
}

function writeOps(w: Writer, ops: readonly RequestOp[]): void {
  w.uvarint(ops.length);
  for (const op of ops) {
    w.u8(opTypes.indexOf(op.type));
    switch (op.type) {
      case "range":
        writeRange(w, op.request);
        break;
      case "put":
        writePut(w, op.request);
        break;
      case "deleteRange":
        writeDelete(w, op.request);
        break;
      case "txn":
        writeTxn(w, op.request);
        break;
      case "empty":
        break;
    }
  }
}

function readOps(r: Reader, depth: number): RequestOp[] {
  const n = r.uvarint();
  if (n > r.remaining) throw new CodecError(`op count ${n} exceeds the input`);
  const ops: RequestOp[] = [];
  for (let i = 0; i < n; i++) {
    const type = pick(opTypes, r.u8(), "txn op type");
    switch (type) {
      case "range":
        ops.push({ type, request: readRange(r) });
        break;
      case "put":
        ops.push({ type, request: readPut(r) });
        break;
      case "deleteRange":
        ops.push({ type, request: readDelete(r) });
        break;
      case "txn":
        ops.push({ type, request: readTxn(r, depth + 1) });
        break;
      case "empty":
        ops.push({ type });
        break;
    }
  }
  return ops;
}

function writeTxn(w: Writer, t: TxnRequest): void {
  w.uvarint(t.compare.length);
  for (const c of t.compare) writeCompare(w, c);
  writeOps(w, t.success);
  writeOps(w, t.failure);
}

function readTxn(r: Reader, depth: number): TxnRequest {
  if (depth > txnDepthMax) throw new CodecError(`txn nested deeper than ${txnDepthMax}`);
  const n = r.uvarint();
  if (n > r.remaining) throw new CodecError(`compare count ${n} exceeds the input`);
  const compare: Compare[] = [];
  for (let i = 0; i < n; i++) compare.push(readCompare(r));
  const success = readOps(r, depth);
  const failure = readOps(r, depth);
  return { compare, success, failure };
}
