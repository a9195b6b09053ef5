// One Raft node driven by hand, as the rule tests (paper_*.test.ts) use it: messages are built
// and stepped explicitly, and every Ready is handled as a driver would handle it.
import assert from "node:assert/strict";
import { MemoryLogger } from "../../src/lib/logger.js";
import { SeededRng } from "../../src/lib/rng.js";
import type { RaftConfig } from "../../src/raft/config.js";
import { RawNode } from "../../src/raft/rawnode.js";
import { MemoryStorage } from "../../src/raft/storage.js";
import {
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  type MessageInit,
  type MessageType,
  message,
  type NodeId,
  type ReadState,
  type RequestResult,
  StateRole,
} from "../../src/raft/types.js";

/** Node settings a test may choose (identity, storage, randomness and logger are the harness's). */
export type Options = Omit<RaftConfig, "id" | "storage" | "rng" | "logger">;

/** A node with its storage, its log lines, and what it applied and read. */
export interface Peer {
  readonly node: RawNode;
  readonly storage: MemoryStorage;
  readonly logger: MemoryLogger;
  readonly applied: Entry[];
  readonly readStates: ReadState[];
}

/** Election timeout used by the rule tests, in ticks. */
export const ET = 10;

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Entries at indexes `from`, `from + 1`, … with the given terms and `bytes` data bytes each. */
export function entries(from: number, terms: readonly number[], bytes = 1): Entry[] {
  return terms.map((term, i) => ({
    term,
    index: from + i,
    type: EntryType.normal,
    data: new Uint8Array(bytes).fill(i),
  }));
}

/** What a node starts from besides its configuration (as after a restart). */
export interface StartState {
  readonly log?: readonly Entry[];
  readonly hs?: HardState;
  readonly seed?: number;
  readonly storage?: MemoryStorage;
}

/** Starts node `id` from a storage holding `conf`, then `state`'s durable log and hard state. */
export function startPeer(id: NodeId, conf: ConfState, opts: Options = {}, state: StartState = {}): Peer {
  const storage = state.storage ?? MemoryStorage.withConfState(conf);
  storage.append(state.log ?? []);
  if (state.hs !== undefined) storage.setHardState(state.hs);
  const logger = new MemoryLogger();
  const node = new RawNode({
    electionTicks: ET,
    ...opts,
    id,
    storage,
    rng: new SeededRng(state.seed ?? id),
    logger,
  });
  return { node, storage, logger, applied: [], readStates: [] };
}

/** Handles every Ready as a driver does (persist, send, apply, advance); returns the messages sent. */
export function drain(p: Peer): Message[] {
  const out: Message[] = [];
  for (let i = 0; i < 100 && p.node.hasReady(); i++) {
    const rd = p.node.ready();
    out.push(...rd.messagesEarly);
    if (rd.snapshot !== null) p.storage.applySnapshot(rd.snapshot);
    p.storage.append(rd.entries);
    if (rd.hardState !== null) p.storage.setHardState(rd.hardState);
    out.push(...rd.messages);
    p.applied.push(...rd.committedEntries);
    p.readStates.push(...rd.readStates);
    p.node.advance();
  }
  return out;
}

/** Steps a message addressed to `p`. */
export function send(p: Peer, init: MessageInit): void {
  p.node.step(message({ to: p.node.id, ...init }));
}

export function ofType(msgs: readonly Message[], type: MessageType, to?: NodeId): Message[] {
  return msgs.filter((m) => m.type === type && (to === undefined || m.to === to));
}

/** Makes `p` leader with (pre-)votes from the other `voters`; returns what it sent as leader. */
export function elect(p: Peer, voters: readonly NodeId[]): Message[] {
  const r = p.node.raft;
  p.node.campaign();
  drain(p);
  if (r.role === StateRole.preCandidate) {
    for (const v of voters) {
      if (v !== r.id && r.role === StateRole.preCandidate)
        send(p, { type: "preVoteResp", from: v, term: r.term + 1 });
    }
    drain(p);
  }
  for (const v of voters) {
    if (v !== r.id && r.role === StateRole.candidate) send(p, { type: "voteResp", from: v, term: r.term });
  }
  assert.equal(r.role, StateRole.leader, "elect: did not become leader");
  return drain(p);
}

/** A request's outcome as a word: "ok" or the rejection reason. */
export function reason(r: RequestResult): string {
  return r.ok ? "ok" : r.reason;
}
