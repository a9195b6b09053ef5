/**
 * The peer protocol's payloads (version 1): the handshake, message batches, snapshot transfers,
 * and the binary encoding of Raft messages. Pure: no I/O, no clock, no randomness; framing is in
 * frame.ts, the whole protocol in docs/peer-protocol.md.
 *
 * Integers inside payloads are unsigned LEB128 varints limited to 2^53-1 (Raft terms, indexes and
 * ids are safe integers), except in the fixed-layout handshake frames, where 64-bit values are two
 * big-endian u32 halves (high first). Decoders never throw on bad bytes: every function that reads
 * peer input returns a reason string instead, and every count or length read from the wire is
 * checked against a named limit and against the bytes actually present before anything is
 * allocated for it.
 */

import { AssertionError, assert } from "../../lib/assert.js";
import {
  type ConfState,
  type Entry,
  EntryType,
  type Message,
  MessageType,
  type NodeId,
  type SnapshotMetadata,
} from "../../raft/types.js";
import { FrameType, type FrameWriter, frameName, plain } from "./frame.js";

/** The protocol version this code speaks (carried in the handshake). */
export const peerProtocolVersion = 1;
/** Default and hard ceiling of a frame's payload after the handshake: 16 MiB. */
export const peerFrameBytesMax = 16 * 1024 * 1024;
/** Payload limit while waiting for the handshake (a hello is 32 bytes). */
export const peerHelloFrameBytesMax = 64;
/** Payload limit of frames a listener sends back to a dialer (welcome, refuse, snapshot ack). */
export const peerControlFrameBytesMax = 2048;
/** Longest human-readable reason carried by a refuse or snapshot-ack frame, in UTF-8 bytes. */
export const peerDetailBytesMax = 1024;
/** Most messages in one messages frame. */
export const peerMessagesPerFrameMax = 65536;
/** Most ids in one list of a snapshot's configuration. */
export const peerConfStateIdsMax = 65536;

/** The magic bytes that open a hello payload: "SYNP". */
const helloMagic = 0x53594e50;
const helloPayloadBytes = 32;
const welcomePayloadBytes = 12;

/** Why a listener refused a handshake. */
export const RefuseCode = {
  /** The dialer speaks a protocol version this member does not. */
  version: 1,
  /** The dialer belongs to another cluster. */
  clusterMismatch: 2,
  /** The dialer meant another member (or claims to be this member). */
  wrongMember: 3,
  /** The dialer was removed from the cluster. */
  removedMember: 4,
  /** The listener has too many connections. */
  busy: 5,
} as const;
export type RefuseCode = (typeof RefuseCode)[keyof typeof RefuseCode];

/** The first frame of a connection. */
export interface HelloFrame {
  readonly type: typeof FrameType.hello;
  readonly version: number;
  /** The cluster id, a full unsigned 64-bit value. */
  readonly clusterId: bigint;
  /** The dialing member. */
  readonly from: NodeId;
  /** The member the dialer expects to reach. */
  readonly to: NodeId;
}

/** A decoded frame. */
export type Frame =
  | HelloFrame
  | { readonly type: typeof FrameType.welcome; readonly version: number; readonly memberId: NodeId }
  | { readonly type: typeof FrameType.refuse; readonly code: RefuseCode; readonly detail: string }
  | { readonly type: typeof FrameType.messages; readonly messages: readonly Message[] }
  | {
      readonly type: typeof FrameType.snapshotBegin;
      readonly transferId: number;
      /** Length of the snapshot's data, which follows in snapshotChunk frames. */
      readonly dataBytes: number;
      /** The snap message; its `snapshot.data` is empty on the wire. */
      readonly message: Message;
    }
  | {
      readonly type: typeof FrameType.snapshotChunk;
      readonly transferId: number;
      /** Offset of `data` within the snapshot's data. */
      readonly offset: number;
      readonly data: Uint8Array;
    }
  | {
      readonly type: typeof FrameType.snapshotAck;
      readonly transferId: number;
      readonly ok: boolean;
      readonly detail: string;
    };

/** A decoding outcome: the value, or why the input is malformed. */
export type Decoded<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: string };

/**
 * Wire codes of the message kinds that cross the network, index = code - 1. Local kinds (hup,
 * beat, checkQuorum, unreachable, snapStatus) have no code: they never leave a member.
 */
const wireKinds: readonly MessageType[] = [
  MessageType.prop,
  MessageType.app,
  MessageType.appResp,
  MessageType.vote,
  MessageType.voteResp,
  MessageType.preVote,
  MessageType.preVoteResp,
  MessageType.snap,
  MessageType.heartbeat,
  MessageType.heartbeatResp,
  MessageType.transferLeader,
  MessageType.timeoutNow,
  MessageType.readIndex,
  MessageType.readIndexResp,
];
const wireCodes = new Map<MessageType, number>(wireKinds.map((k, i) => [k, i + 1]));

/** Whether a message kind has a wire encoding (local kinds do not). */
export function isWireMessage(type: MessageType): boolean {
  return wireCodes.has(type);
}

const flagReject = 1;
const flagSnapshot = 2;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });

/** Whether `id` is a valid member id on the wire: a positive safe integer. */
export function isMemberId(id: number): boolean {
  return Number.isSafeInteger(id) && id > 0;
}

/** Whether `id` is a valid cluster id: an unsigned 64-bit value. */
export function isClusterId(id: bigint): boolean {
  return id >= 0n && id < 1n << 64n;
}

/** Writes a hello frame. The cluster id must fit 64 unsigned bits, the ids be positive safe integers. */
export function writeHello(w: FrameWriter, clusterId: bigint, from: NodeId, to: NodeId): void {
  assert(isClusterId(clusterId), `hello with cluster id ${clusterId}`);
  assert(isMemberId(from) && isMemberId(to), `hello from ${from} to ${to}`);
  w.beginFrame(FrameType.hello);
  w.u32(helloMagic);
  w.u16(peerProtocolVersion);
  w.u16(0);
  w.u32(Number(clusterId >> 32n));
  w.u32(Number(clusterId & 0xffffffffn));
  w.u64(from);
  w.u64(to);
  w.endFrame();
}

/** Writes a welcome frame naming this member. */
export function writeWelcome(w: FrameWriter, memberId: NodeId): void {
  w.beginFrame(FrameType.welcome);
  w.u16(peerProtocolVersion);
  w.u16(0);
  w.u64(memberId);
  w.endFrame();
}

/** Writes a refuse frame; `detail` is cut to {@link peerDetailBytesMax} bytes. */
export function writeRefuse(w: FrameWriter, code: RefuseCode, detail: string): void {
  w.beginFrame(FrameType.refuse);
  w.u8(code);
  w.raw(detailBytes(detail));
  w.endFrame();
}

/** Writes a snapshot-ack frame; `detail` says why a snapshot was rejected (empty when ok). */
export function writeSnapshotAck(w: FrameWriter, transferId: number, ok: boolean, detail: string): void {
  w.beginFrame(FrameType.snapshotAck);
  w.uvarint(transferId);
  w.u8(ok ? 1 : 0);
  w.raw(detailBytes(detail));
  w.endFrame();
}

/** UTF-8 of `detail`, cut at a character boundary to at most {@link peerDetailBytesMax} bytes. */
function detailBytes(detail: string): Uint8Array {
  const bytes = textEncoder.encode(detail);
  if (bytes.length <= peerDetailBytesMax) return bytes;
  let cut = peerDetailBytesMax;
  while (cut > 0 && ((bytes[cut] as number) & 0xc0) === 0x80) cut--;
  return bytes.subarray(0, cut);
}

/**
 * Writes `msgs` in order as messages frames of at most `frameBytesMax` payload bytes each. A
 * message that alone exceeds the limit is left out and returned in `tooLarge`. Every message must
 * be a wire kind other than snap (the transport routes snapshots through a transfer).
 */
export function writeMessages(
  w: FrameWriter,
  msgs: readonly Message[],
  frameBytesMax: number,
): { readonly frames: number; readonly tooLarge: readonly Message[] } {
  const tooLarge: Message[] = [];
  let frames = 0;
  let i = 0;
  while (i < msgs.length) {
    w.beginFrame(FrameType.messages);
    const countAt = w.length;
    w.u32(0);
    let count = 0;
    for (; i < msgs.length && count < peerMessagesPerFrameMax; i++) {
      const m = msgs[i] as Message;
      const before = w.length;
      writeMessage(w, m);
      if (w.framePayloadBytes <= frameBytesMax) {
        count++;
        continue;
      }
      w.truncate(before);
      if (count > 0) break; // the frame is full: this message opens the next one
      tooLarge.push(m);
    }
    if (count === 0) {
      w.abortFrame();
      continue;
    }
    w.patchU32(countAt, count);
    w.endFrame();
    frames++;
  }
  return { frames, tooLarge };
}

/**
 * Writes a snapshotBegin frame for snap message `m` (its snapshot's metadata; the data follows
 * in {@link writeSnapshotChunk} frames). Returns false, writing nothing, when the encoded message
 * exceeds `frameBytesMax`.
 */
export function writeSnapshotBegin(
  w: FrameWriter,
  transferId: number,
  m: Message,
  frameBytesMax: number,
): boolean {
  const snapshot = m.snapshot;
  assert(m.type === MessageType.snap && snapshot !== null, `snapshotBegin of a ${m.type} message`);
  w.beginFrame(FrameType.snapshotBegin);
  w.uvarint(transferId);
  w.uvarint(snapshot.data.length);
  writeMessage(w, m);
  if (w.framePayloadBytes > frameBytesMax) {
    w.abortFrame();
    return false;
  }
  w.endFrame();
  return true;
}

/** Writes one snapshotChunk frame carrying `data`, which sits at `offset` of the snapshot's data. */
export function writeSnapshotChunk(
  w: FrameWriter,
  transferId: number,
  offset: number,
  data: Uint8Array,
): void {
  w.beginFrame(FrameType.snapshotChunk);
  w.uvarint(transferId);
  w.uvarint(offset);
  w.raw(data);
  w.endFrame();
}

/** Payload bytes of a snapshotChunk frame besides its data, at most (two 8-byte varints). */
export const peerChunkOverheadBytes = 16;

/**
 * Message encoding (version 1): `u8 kind, u8 flags (bit 0 reject, bit 1 snapshot metadata
 * follows), varints from, to, term, logTerm, index, commit, rejectHint, round, varint-length
 * context, varint entry count, entries (varint term, varint index, u8 type, varint-length data),
 * then, with flag bit 1, the snapshot metadata (varint index, varint term, the four id lists of
 * its ConfState each as a varint count and varint ids, u8 autoLeave)`. Snapshot data never
 * appears here.
 */
function writeMessage(w: FrameWriter, m: Message): void {
  const code = wireCodes.get(m.type);
  // Messages are built only on failure: this runs for every message sent.
  if (code === undefined) throw new AssertionError(`message kind ${m.type} never crosses the network`);
  if ((m.type === MessageType.snap) !== (m.snapshot !== null))
    throw new AssertionError(`${m.type} message with snapshot`);
  w.u8(code);
  w.u8((m.reject ? flagReject : 0) | (m.snapshot !== null ? flagSnapshot : 0));
  w.uvarint(m.from);
  w.uvarint(m.to);
  w.uvarint(m.term);
  w.uvarint(m.logTerm);
  w.uvarint(m.index);
  w.uvarint(m.commit);
  w.uvarint(m.rejectHint);
  w.uvarint(m.round);
  w.bytes(m.context);
  w.uvarint(m.entries.length);
  for (const e of m.entries) {
    w.uvarint(e.term);
    w.uvarint(e.index);
    w.u8(e.type);
    w.bytes(e.data);
  }
  if (m.snapshot !== null) writeSnapshotMetadata(w, m.snapshot.metadata);
}

function writeSnapshotMetadata(w: FrameWriter, md: SnapshotMetadata): void {
  w.uvarint(md.index);
  w.uvarint(md.term);
  const cs = md.confState;
  for (const ids of [cs.voters, cs.votersOutgoing, cs.learners, cs.learnersNext]) {
    w.uvarint(ids.length);
    for (const id of ids) w.uvarint(id);
  }
  w.u8(cs.autoLeave ? 1 : 0);
}

/**
 * Why `m` cannot be encoded (a local kind, an id, term or index that is not a safe non-negative
 * integer, an unknown entry type, a snapshot on a kind other than snap), or null when it can.
 * The transport checks every message with this before queueing it, so encoding never fails.
 */
export function messageProblem(m: Message): string | null {
  if (!wireCodes.has(m.type)) return `message kind '${m.type}' never crosses the network`;
  // Field by field, without an array: this runs for every message sent.
  if (
    !isWireInteger(m.from) ||
    !isWireInteger(m.to) ||
    !isWireInteger(m.term) ||
    !isWireInteger(m.logTerm) ||
    !isWireInteger(m.index) ||
    !isWireInteger(m.commit) ||
    !isWireInteger(m.rejectHint) ||
    !isWireInteger(m.round)
  )
    return `${m.type} message has a field that is not a safe non-negative integer`;
  if ((m.type === MessageType.snap) !== (m.snapshot !== null)) {
    return m.snapshot === null ? "snap message without a snapshot" : `${m.type} message carries a snapshot`;
  }
  for (const e of m.entries) {
    if (!isWireInteger(e.term) || !isWireInteger(e.index))
      return `${m.type} message has an entry with a bad term or index`;
    if (e.type !== EntryType.normal && e.type !== EntryType.confChange)
      return `entry of unknown type ${e.type}`;
  }
  const md = m.snapshot?.metadata;
  if (md !== undefined) {
    const cs = md.confState;
    const ids = [...cs.voters, ...cs.votersOutgoing, ...cs.learners, ...cs.learnersNext];
    if (![md.index, md.term, ...ids].every(isWireInteger))
      return "snapshot metadata has a bad index, term or id";
    const lists = [cs.voters, cs.votersOutgoing, cs.learners, cs.learnersNext];
    if (lists.some((l) => l.length > peerConfStateIdsMax))
      return `snapshot configuration lists more than ${peerConfStateIdsMax} ids`;
  }
  return null;
}

function isWireInteger(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

/**
 * Estimated encoded bytes of a message (without snapshot data): what a send queue accounts for
 * it. Never less than the real size minus a few bytes per varint.
 */
export function messageWireBytes(m: Message): number {
  let n = 48 + m.context.length;
  for (const e of m.entries) n += 12 + e.data.length;
  return n;
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** The decoded value of every empty byte string (it has nothing to alias). */
const noBytes = new Uint8Array(0);

/** Raised inside decoders on malformed input and turned into a returned reason at the boundary. */
class Malformed extends Error {}

/** Reads payload bytes; every read checks the bytes present and throws {@link Malformed}. */
class PayloadReader {
  pos = 0;

  readonly buf: Uint8Array;

  constructor(buf: Uint8Array) {
    this.buf = plain(buf);
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  u8(what: string): number {
    if (this.pos >= this.buf.length) throw new Malformed(`truncated at ${what}`);
    return this.buf[this.pos++] as number;
  }

  u16(what: string): number {
    return this.u8(what) * 256 + this.u8(what);
  }

  u32(what: string): number {
    if (this.pos + 4 > this.buf.length) throw new Malformed(`truncated at ${what}`);
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return (
      (((b[p] as number) << 24) |
        ((b[p + 1] as number) << 16) |
        ((b[p + 2] as number) << 8) |
        (b[p + 3] as number)) >>>
      0
    );
  }

  /** Two u32 halves; must be a safe integer. */
  u64(what: string): number {
    const high = this.u32(what);
    const low = this.u32(what);
    if (high >= 2 ** 21) throw new Malformed(`${what} exceeds 2^53-1`);
    return high * 2 ** 32 + low;
  }

  /** A varint; `what` and `suffix` name it in the error (joined only then, not per call). */
  uvarint(what: string, suffix = ""): number {
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.buf.length) throw new Malformed(`truncated at ${what}${suffix}`);
      const b = this.buf[this.pos++] as number;
      n += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (!Number.isSafeInteger(n)) throw new Malformed(`${what}${suffix} exceeds 2^53-1`);
        return n;
      }
      scale *= 0x80;
    }
    throw new Malformed(`${what}${suffix} is a varint longer than 8 bytes`);
  }

  /** A count that is at most `max` and leaves at least `minEach` bytes per item. */
  count(what: string, max: number, minEach: number): number {
    const n = this.uvarint(what);
    if (n > max) throw new Malformed(`${what} ${n} exceeds the limit of ${max}`);
    if (n * minEach > this.remaining)
      throw new Malformed(`${what} ${n} exceeds the ${this.remaining} bytes left`);
    return n;
  }

  /** Varint length, then a copy of that many bytes. */
  bytes(what: string): Uint8Array {
    const n = this.uvarint(what, " length");
    if (n > this.remaining)
      throw new Malformed(`${what} of ${n} bytes exceeds the ${this.remaining} bytes left`);
    return this.copy(n);
  }

  /** The payload copied once, at the first {@link copy}; decoded byte strings are views of it. */
  #owned: Uint8Array | null = null;

  /**
   * The next `n` bytes, never a view of the input (decoded values must not pin the socket's
   * chunks), but a view of one copy of the whole payload: the entries of a frame are kept and
   * released together by the log, and one allocation per frame instead of one per entry spares
   * the follower's allocator and collector.
   */
  copy(n: number): Uint8Array {
    if (n === 0) return noBytes;
    this.#owned ??= this.buf.slice();
    const out = this.#owned.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** The rest as UTF-8 text of at most {@link peerDetailBytesMax} bytes. */
  detail(what: string): string {
    if (this.remaining > peerDetailBytesMax)
      throw new Malformed(`${what} longer than ${peerDetailBytesMax} bytes`);
    const start = this.pos;
    this.pos = this.buf.length;
    try {
      return textDecoder.decode(this.buf.subarray(start));
    } catch {
      throw new Malformed(`${what} is not valid UTF-8`);
    }
  }

  end(what: string): void {
    if (this.remaining !== 0) throw new Malformed(`${this.remaining} unexpected bytes after the ${what}`);
  }
}

/** Least encoded bytes of a message and of an entry, for count plausibility checks. */
const messageBytesMin = 12;
const entryBytesMin = 4;

/**
 * Decodes the payload of a frame of `type` (as produced by {@link FrameReader}). Never throws on
 * malformed input: returns the reason instead. Byte strings in the result are copies.
 */
export function decodeFrame(type: FrameType, payload: Uint8Array): Decoded<Frame> {
  const r = new PayloadReader(payload);
  try {
    const value = readFrame(type, r);
    return { ok: true, value };
  } catch (e) {
    if (e instanceof Malformed)
      return { ok: false, reason: `malformed ${frameName(type)} frame: ${e.message}` };
    throw e;
  }
}

function readFrame(type: FrameType, r: PayloadReader): Frame {
  switch (type) {
    case FrameType.hello:
      return readHello(r);
    case FrameType.welcome: {
      if (r.remaining !== welcomePayloadBytes)
        throw new Malformed(`${r.remaining} bytes, want ${welcomePayloadBytes}`);
      const version = r.u16("version");
      if (r.u16("reserved") !== 0) throw new Malformed("reserved bits set");
      const memberId = r.u64("member id");
      if (memberId === 0) throw new Malformed("member id 0");
      return { type, version, memberId };
    }
    case FrameType.refuse: {
      const code = r.u8("code");
      if (!Object.values(RefuseCode).includes(code as RefuseCode))
        throw new Malformed(`unknown refuse code ${code}`);
      return { type, code: code as RefuseCode, detail: r.detail("detail") };
    }
    case FrameType.messages: {
      const n = r.u32("message count");
      if (n > peerMessagesPerFrameMax)
        throw new Malformed(`message count ${n} exceeds ${peerMessagesPerFrameMax}`);
      if (n * messageBytesMin > r.remaining) throw new Malformed(`message count ${n} exceeds the bytes left`);
      const messages: Message[] = [];
      for (let i = 0; i < n; i++) messages.push(readMessage(r, false));
      r.end("messages");
      return { type, messages };
    }
    case FrameType.snapshotBegin: {
      const transferId = r.uvarint("transfer id");
      const dataBytes = r.uvarint("snapshot data length");
      const message = readMessage(r, true);
      r.end("snapshot message");
      return { type, transferId, dataBytes, message };
    }
    case FrameType.snapshotChunk: {
      const transferId = r.uvarint("transfer id");
      const offset = r.uvarint("chunk offset");
      return { type, transferId, offset, data: r.copy(r.remaining) };
    }
    case FrameType.snapshotAck: {
      const transferId = r.uvarint("transfer id");
      const ok = r.u8("ok");
      if (ok > 1) throw new Malformed(`ok byte ${ok}`);
      return { type, transferId, ok: ok === 1, detail: r.detail("detail") };
    }
    default:
      throw new Malformed("unknown frame type");
  }
}

function readHello(r: PayloadReader): HelloFrame {
  if (r.remaining !== helloPayloadBytes)
    throw new Malformed(`${r.remaining} bytes, want ${helloPayloadBytes}`);
  if (r.u32("magic") !== helloMagic) throw new Malformed("bad magic (not a Synod peer)");
  const version = r.u16("version");
  if (r.u16("reserved") !== 0) throw new Malformed("reserved bits set");
  const clusterId = (BigInt(r.u32("cluster id")) << 32n) | BigInt(r.u32("cluster id"));
  const from = r.u64("sender id");
  const to = r.u64("receiver id");
  if (from === 0 || to === 0) throw new Malformed(`member id 0 (from ${from} to ${to})`);
  return { type: FrameType.hello, version, clusterId, from, to };
}

function readMessage(r: PayloadReader, snapshotExpected: boolean): Message {
  const code = r.u8("message kind");
  const type = wireKinds[code - 1];
  if (type === undefined) throw new Malformed(`unknown message kind ${code}`);
  const flags = r.u8("message flags");
  if ((flags & ~(flagReject | flagSnapshot)) !== 0) throw new Malformed(`unknown message flags ${flags}`);
  const hasSnapshot = (flags & flagSnapshot) !== 0;
  if (hasSnapshot !== (type === MessageType.snap))
    throw new Malformed(`${type} message with snapshot flag ${hasSnapshot}`);
  if (hasSnapshot !== snapshotExpected) {
    throw new Malformed(
      snapshotExpected
        ? "a snapshot transfer without a snap message"
        : "a snap message outside a snapshot transfer",
    );
  }
  const from = r.uvarint("from");
  const to = r.uvarint("to");
  const term = r.uvarint("term");
  const logTerm = r.uvarint("logTerm");
  const index = r.uvarint("index");
  const commit = r.uvarint("commit");
  const rejectHint = r.uvarint("rejectHint");
  const round = r.uvarint("round");
  const context = r.bytes("context");
  const entries = readEntries(r);
  const snapshot = hasSnapshot ? { metadata: readSnapshotMetadata(r), data: new Uint8Array(0) } : null;
  return {
    type,
    from,
    to,
    term,
    logTerm,
    index,
    entries,
    commit,
    reject: (flags & flagReject) !== 0,
    rejectHint,
    snapshot,
    context,
    round,
  };
}

function readEntries(r: PayloadReader): Entry[] {
  const n = r.count("entry count", Number.MAX_SAFE_INTEGER, entryBytesMin);
  const entries: Entry[] = [];
  for (let i = 0; i < n; i++) {
    const term = r.uvarint("entry term");
    const index = r.uvarint("entry index");
    const type = r.u8("entry type");
    if (type !== EntryType.normal && type !== EntryType.confChange)
      throw new Malformed(`unknown entry type ${type}`);
    entries.push({ term, index, type, data: r.bytes("entry data") });
  }
  return entries;
}

function readSnapshotMetadata(r: PayloadReader): SnapshotMetadata {
  const index = r.uvarint("snapshot index");
  const term = r.uvarint("snapshot term");
  const lists: NodeId[][] = [];
  for (const what of ["voters", "outgoing voters", "learners", "next learners"]) {
    const n = r.count(`${what} count`, peerConfStateIdsMax, 1);
    const ids: NodeId[] = [];
    for (let i = 0; i < n; i++) ids.push(r.uvarint(`${what} id`));
    lists.push(ids);
  }
  const autoLeave = r.u8("autoLeave");
  if (autoLeave > 1) throw new Malformed(`autoLeave byte ${autoLeave}`);
  const [voters = [], votersOutgoing = [], learners = [], learnersNext = []] = lists;
  const confState: ConfState = { voters, votersOutgoing, learners, learnersNext, autoLeave: autoLeave === 1 };
  return { index, term, confState };
}
