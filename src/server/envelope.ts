import { assert } from "../lib/assert.js";
import { type CommandEnvelope, concatBytes, encodeCommandTo, Writer } from "../mvcc/mod.js";
import type { NodeId } from "../raft/types.js";

/**
 * What a member proposes, wrapped with the proposing member's id, so that the member applying
 * an entry knows whether a client of its own is waiting for it (request ids are only unique per
 * member). Layout (version 1): `u8 kind=1, u32 memberIdHigh, u32 memberIdLow, command bytes`.
 * An empty entry is the leader's no-op and carries no envelope.
 */
const kindCommand = 1;
const headerBytes = 9;

export function wrapCommand(member: NodeId, command: Uint8Array): Uint8Array {
  const out = new Uint8Array(headerBytes + command.length);
  out[0] = kindCommand;
  putU32(out, 1, Math.floor(member / 2 ** 32));
  putU32(out, 5, member >>> 0);
  out.set(command, headerBytes);
  return out;
}

/** Largest buffer an {@link EnvelopeEncoder} keeps between proposals (a larger one is dropped). */
const encoderKeptBytesMax = 64 * 1024;

/**
 * Encodes proposals as {@link wrapCommand}`(member, encodeCommand(envelope))` would, into one
 * writer kept between calls: one allocation per proposal (the result) instead of one per growth
 * step plus two copies.
 */
export class EnvelopeEncoder {
  readonly #member: NodeId;
  #w = new Writer(1024);

  constructor(member: NodeId) {
    this.#member = member;
  }

  encode(envelope: CommandEnvelope): Uint8Array {
    const w = this.#w;
    w.reset();
    w.u8(kindCommand);
    w.u32(Math.floor(this.#member / 2 ** 32));
    w.u32(this.#member >>> 0);
    encodeCommandTo(w, envelope);
    const out = w.finish();
    if (out.length > encoderKeptBytesMax) this.#w = new Writer(1024);
    return out;
  }
}

const kindHashCheck = 2;

/**
 * The leader's HashKV at one revision, put in the log for the corruption check (see
 * `alarms.ts`). Layout: `u8 kind=2`, then the fields as JSON.
 */
export interface HashCheck {
  readonly leader: NodeId;
  readonly revision: number;
  readonly compactRevision: number;
  readonly hash: number;
}

export function wrapHashCheck(c: HashCheck): Uint8Array {
  const body = new TextEncoder().encode(JSON.stringify(c));
  const out = new Uint8Array(1 + body.length);
  out[0] = kindHashCheck;
  out.set(body, 1);
  return out;
}

/** The hash check an entry carries, or null when it is another kind (or malformed). */
export function unwrapHashCheck(data: Uint8Array): HashCheck | null {
  if (data[0] !== kindHashCheck) return null;
  try {
    const c = JSON.parse(new TextDecoder().decode(data.subarray(1))) as HashCheck;
    const num = (v: unknown): boolean => typeof v === "number" && Number.isSafeInteger(v);
    return num(c.leader) && num(c.revision) && num(c.compactRevision) && num(c.hash) ? c : null;
  } catch {
    return null;
  }
}

/** Splits an entry into the proposing member and the command bytes. */
export function unwrapCommand(data: Uint8Array): { member: NodeId; command: Uint8Array } {
  assert(data.length >= headerBytes && data[0] === kindCommand, "unwrapCommand: not a command envelope");
  return { member: getU32(data, 1) * 2 ** 32 + getU32(data, 5), command: data.subarray(headerBytes) };
}

function putU32(out: Uint8Array, at: number, n: number): void {
  out[at] = n >>> 24;
  out[at + 1] = (n >>> 16) & 0xff;
  out[at + 2] = (n >>> 8) & 0xff;
  out[at + 3] = n & 0xff;
}

function getU32(b: Uint8Array, at: number): number {
  return (
    (((b[at] as number) << 24) |
      ((b[at + 1] as number) << 16) |
      ((b[at + 2] as number) << 8) |
      (b[at + 3] as number)) >>>
    0
  );
}

/** A cluster member as the membership records it (carried in conf-change contexts and snapshots). */
export interface MemberInfo {
  readonly id: NodeId;
  readonly name: string;
  readonly peerUrls: readonly string[];
  readonly clientUrls: readonly string[];
  readonly isLearner: boolean;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The context of a membership change: who proposed it (to answer), and the members it names. */
export interface ConfContext {
  readonly proposer: NodeId;
  readonly requestId: number;
  readonly members: readonly MemberInfo[];
}

export function encodeConfContext(c: ConfContext): Uint8Array {
  return enc.encode(JSON.stringify(c));
}

export function decodeConfContext(data: Uint8Array): ConfContext | null {
  if (data.length === 0) return null;
  try {
    const c = JSON.parse(dec.decode(data)) as ConfContext;
    return Array.isArray(c.members) ? c : null;
  } catch {
    return null;
  }
}

/**
 * A member's snapshot data (version 1): `"SYNDSNAP", u8 version, u32 membersJsonBytes, members
 * JSON, then the MVCC snapshot stream (docs/mvcc.md)`.
 */
const snapMagic = enc.encode("SYNDSNAP");

export function encodeMemberSnapshot(members: readonly MemberInfo[], mvcc: Iterable<Uint8Array>): Uint8Array {
  return concatBytes([...encodeMemberSnapshotParts(members, mvcc)]);
}

/**
 * {@link encodeMemberSnapshot} as parts to be written one after the other (the header, then the
 * MVCC stream's chunks as they come), for a writer that does not join them in memory.
 */
export function* encodeMemberSnapshotParts(
  members: readonly MemberInfo[],
  mvcc: Iterable<Uint8Array>,
): Generator<Uint8Array, void, undefined> {
  const json = enc.encode(JSON.stringify(members));
  const head = new Uint8Array(snapMagic.length + 5 + json.length);
  head.set(snapMagic, 0);
  const view = new DataView(head.buffer);
  view.setUint8(snapMagic.length, 1);
  view.setUint32(snapMagic.length + 1, json.length);
  head.set(json, snapMagic.length + 5);
  yield head;
  yield* mvcc;
}

/** Splits a member snapshot; a reason string if it is not one. */
export function decodeMemberSnapshot(data: Uint8Array): { members: MemberInfo[]; mvcc: Uint8Array } | string {
  if (data.length < snapMagic.length + 5) return `snapshot too short: ${data.length} bytes`;
  for (let i = 0; i < snapMagic.length; i++)
    if (data[i] !== snapMagic[i]) return "not a Synod member snapshot";
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (view.getUint8(snapMagic.length) !== 1)
    return `unknown member snapshot version ${view.getUint8(snapMagic.length)}`;
  const len = view.getUint32(snapMagic.length + 1);
  const start = snapMagic.length + 5;
  if (start + len > data.length) return "member snapshot truncated";
  try {
    const members = JSON.parse(dec.decode(data.subarray(start, start + len))) as MemberInfo[];
    return { members, mvcc: data.subarray(start + len) };
  } catch (e) {
    return `member snapshot has malformed membership: ${(e as Error).message}`;
  }
}
