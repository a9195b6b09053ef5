// Shared helpers for the peer transport tests: message builders, waiting with a deadline, and a
// transport started on 127.0.0.1 with port 0 that records everything its callbacks receive.
import { MemoryLogger } from "../../../src/lib/logger.js";
import { type Entry, EntryType, type Message, MessageType, message } from "../../../src/raft/types.js";
import { PeerTransport, type PeerTransportOptions } from "../../../src/server/transport/mod.js";

export const clusterA = 0x1234_5678_9abc_def0n;

/** An entry with `size` bytes of data derived from its index. */
export function entry(index: number, size = 8, term = 1): Entry {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (index + i) & 0xff;
  return { term, index, type: EntryType.normal, data };
}

/** One message of every kind that crosses the network, from `from` to `to`, with fields set. */
export function everyKind(from: number, to: number): Message[] {
  const ctx = new Uint8Array([1, 2, 3]);
  return [
    message({ type: MessageType.prop, from, to, entries: [entry(0, 5)] }),
    message({
      type: MessageType.app,
      from,
      to,
      term: 7,
      logTerm: 6,
      index: 41,
      commit: 40,
      entries: [
        entry(42, 100, 7),
        { term: 7, index: 43, type: EntryType.confChange, data: new Uint8Array([9]) },
      ],
    }),
    message({
      type: MessageType.appResp,
      from,
      to,
      term: 7,
      index: 43,
      reject: true,
      rejectHint: 12,
      logTerm: 3,
    }),
    message({ type: MessageType.vote, from, to, term: 8, logTerm: 7, index: 43, context: ctx }),
    message({ type: MessageType.voteResp, from, to, term: 8, reject: true }),
    message({ type: MessageType.preVote, from, to, term: 9, logTerm: 7, index: 43 }),
    message({ type: MessageType.preVoteResp, from, to, term: 9 }),
    message({ type: MessageType.heartbeat, from, to, term: 7, commit: 43, context: ctx, round: 2 ** 40 }),
    message({ type: MessageType.heartbeatResp, from, to, term: 7, context: ctx, round: 17 }),
    message({ type: MessageType.transferLeader, from, to, term: 7 }),
    message({ type: MessageType.timeoutNow, from, to, term: 7 }),
    message({ type: MessageType.readIndex, from, to, entries: [entry(0, 16)] }),
    message({ type: MessageType.readIndexResp, from, to, term: 7, index: 43, entries: [entry(0, 16)] }),
    snapMessage(from, to, 1000),
  ];
}

/** A snap message carrying `size` bytes of patterned data. */
export function snapMessage(from: number, to: number, size: number, index = 500): Message {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + (i >>> 8)) & 0xff;
  return message({
    type: MessageType.snap,
    from,
    to,
    term: 7,
    snapshot: {
      metadata: {
        index,
        term: 6,
        confState: {
          voters: [1, 2, 3],
          votersOutgoing: [1, 2],
          learners: [4],
          learnersNext: [3],
          autoLeave: true,
        },
      },
      data,
    },
  });
}

/** Resolves once `predicate()` holds; rejects with `what` after `timeoutMs`. */
export async function waitFor(what: string, predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Sleeps `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A transport plus what its callbacks saw. */
export interface Member {
  readonly t: PeerTransport;
  readonly id: number;
  readonly url: string;
  readonly received: Message[];
  readonly unreachable: number[];
  readonly snapshotStatus: { peer: number; ok: boolean }[];
  readonly log: MemoryLogger;
}

/** Starts a member on 127.0.0.1 (port 0 unless given) recording its callbacks. */
export async function startMember(
  id: number,
  extra: Partial<Omit<PeerTransportOptions, "onMessage" | "onUnreachable" | "onSnapshotStatus">> = {},
): Promise<Member> {
  const received: Message[] = [];
  const unreachable: number[] = [];
  const snapshotStatus: { peer: number; ok: boolean }[] = [];
  const log = new MemoryLogger();
  const t = await PeerTransport.start({
    clusterId: clusterA,
    memberId: id,
    listen: { host: "127.0.0.1", port: 0 },
    logger: log,
    backoffMinMs: 10,
    backoffMaxMs: 100,
    ...extra,
    onMessage: (m) => received.push(m),
    onUnreachable: (p) => unreachable.push(p),
    onSnapshotStatus: (peer, ok) => snapshotStatus.push({ peer, ok }),
  });
  return { t, id, url: `http://127.0.0.1:${t.address.port}`, received, unreachable, snapshotStatus, log };
}

/** Closes every member, ignoring ones already closed. */
export async function closeAll(...members: (Member | undefined)[]): Promise<void> {
  await Promise.all(members.map((m) => m?.t.close()));
}

/** Whether a log line at `level` contains `text` in its message or reason. */
export function logged(log: MemoryLogger, level: string, text: string): boolean {
  return log.lines.some(
    (l) => l.level === level && (l.message.includes(text) || String(l.fields.reason ?? "").includes(text)),
  );
}
