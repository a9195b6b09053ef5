import { assert } from "../lib/assert.js";
import { encodeConfChange } from "./codec.js";
import { type RaftConfig, resolveConfig } from "./config.js";
import type { ProgressState } from "./progress.js";
import { Raft } from "./raft.js";
import {
  type ConfChange,
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  type Index,
  isLocalMessage,
  type Message,
  MessageType,
  message,
  NONE,
  type NodeId,
  type ReadState,
  RejectReason,
  type RequestResult,
  type Snapshot,
  type SoftState,
  StateRole,
  type Term,
} from "./types.js";

/**
 * Everything the driver must do after a batch of inputs, in this order:
 *
 * 1. Send `messagesEarly` at once. These are a leader's appends, heartbeats and snapshots; a
 *    leader may replicate while its own write is in flight (thesis §10.2.1), because it counts
 *    itself towards a quorum only when `advance()` reports the write durable.
 * 2. Make `snapshot` (if any), `entries` and `hardState` (if any) durable, in one write and one
 *    fsync when `mustSync`, and add them to the {@link Storage} the core reads.
 * 3. Only then send `messages`: vote grants, append acknowledgements and everything else that
 *    depends on the write (a vote must be on disk before the candidate hears of it).
 * 4. Apply `committedEntries` in order, and hand `readStates` to waiting readers once their index
 *    is applied. Committed entries are durable on a quorum, so they may be applied while step 2
 *    is still in flight, even those that arrived in this same Ready (as etcd's apply loop does);
 *    only a `snapshot` must be installed before them.
 * 5. Call `advance()`. Configuration changes among `committedEntries` take effect at that moment.
 *
 * Between `ready()` and `advance()` the core may keep stepping messages and ticking; only one
 * Ready is outstanding at a time. Meanwhile {@link RawNode.inFlight} hands out what need not wait
 * for the outstanding write: the leader's appends and commit updates, and newly committed entries.
 */
export interface Ready {
  /** Leader and role, when they changed since the last Ready. */
  readonly softState: SoftState | null;
  /** Term, vote and commit, when they changed; persist as one atomic record. */
  readonly hardState: HardState | null;
  /** Entries to append to stable storage (they may replace a conflicting suffix). */
  readonly entries: readonly Entry[];
  /** A snapshot to persist and install before anything else. */
  readonly snapshot: Snapshot | null;
  /** Committed entries to apply, in index order. */
  readonly committedEntries: readonly Entry[];
  /** Messages that may be sent before the write of this Ready is durable. */
  readonly messagesEarly: readonly Message[];
  /** Messages to send only after the write of this Ready is durable. */
  readonly messages: readonly Message[];
  /** Completed ReadIndex requests. */
  readonly readStates: readonly ReadState[];
  /** Whether the write must be fsynced (entries, or a term or vote change). */
  readonly mustSync: boolean;
}

/** A follower's replication state as the leader sees it. */
export interface ProgressStatus {
  readonly match: Index;
  readonly next: Index;
  readonly state: ProgressState;
  readonly isLearner: boolean;
  readonly recentActive: boolean;
  readonly inflight: number;
}

/** A snapshot of a node's state for operators and tests. */
export interface Status {
  readonly id: NodeId;
  readonly term: Term;
  readonly vote: NodeId;
  readonly commit: Index;
  readonly lead: NodeId;
  readonly role: StateRole;
  readonly applied: Index;
  readonly lastIndex: Index;
  readonly leadTransferee: NodeId;
  readonly config: ConfState;
  /** Per-member progress; present on the leader only. */
  readonly progress: ReadonlyMap<NodeId, ProgressStatus> | null;
}

/**
 * One Raft node as the driver sees it: a pure state machine with no I/O, no clock and no
 * randomness of its own. Inputs: {@link tick}, {@link step} and the request methods; output: a
 * {@link Ready} drained with {@link ready} and acknowledged with {@link advance}.
 */
export class RawNode {
  readonly raft: Raft;
  #prevSoft: SoftState;
  #prevHard: HardState;
  #pending: Ready | null = null;
  /** Last index handed out by {@link inFlight} since the outstanding Ready (0: none). */
  #appliedInFlight: Index = 0;
  /** Those entries, for the leader's uncommitted-log accounting at `advance()`. */
  #inFlightEntries: Entry[] = [];

  constructor(config: RaftConfig) {
    this.raft = new Raft(resolveConfig(config));
    this.#prevSoft = this.raft.softState();
    this.#prevHard = this.raft.hardState();
  }

  get id(): NodeId {
    return this.raft.id;
  }

  /** Advances the logical clock by one tick (elections, heartbeats, CheckQuorum, leases). */
  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now (subject to PreVote), as an election timeout would. */
  campaign(): void {
    this.raft.step(message({ type: MessageType.hup, from: this.raft.id }));
  }

  /**
   * Feeds a message received from a peer. Local-only kinds, unknown kinds and malformed messages
   * are ignored and logged; they never change state.
   */
  step(m: Message): void {
    const why = validate(m, this.raft.id);
    if (why !== null) {
      this.raft.cfg.logger.warn(`raft: dropped malformed message: ${why}`, {
        id: this.raft.id,
        type: m.type,
        from: m.from,
      });
      return;
    }
    this.raft.step(m);
  }

  /** Proposes application data. On a follower it is forwarded to the leader (if known). */
  propose(data: Uint8Array): RequestResult {
    return this.#proposeEntries([{ term: 0, index: 0, type: EntryType.normal, data }]);
  }

  /** Proposes a batch of application data entries in one message (they are appended together). */
  proposeBatch(datas: readonly Uint8Array[]): RequestResult {
    return this.#proposeEntries(datas.map((data) => ({ term: 0, index: 0, type: EntryType.normal, data })));
  }

  /** Proposes a membership change; see {@link ConfChange} for the transitions. */
  proposeConfChange(cc: ConfChange): RequestResult {
    return this.#proposeEntries([
      { term: 0, index: 0, type: EntryType.confChange, data: encodeConfChange(cc) },
    ]);
  }

  #proposeEntries(entries: Entry[]): RequestResult {
    const r = this.raft;
    if (r.role === StateRole.leader) {
      return r.propose(message({ type: MessageType.prop, from: r.id, entries }));
    }
    if (r.isLearner && !r.trk.isMember(r.id))
      return { ok: false, reason: RejectReason.notMember, detail: "not a member" };
    if (r.lead === NONE) return { ok: false, reason: RejectReason.noLeader, detail: "no leader is known" };
    if (r.role !== StateRole.follower)
      return { ok: false, reason: RejectReason.noLeader, detail: `election in progress (${r.role})` };
    if (r.cfg.disableProposalForwarding) {
      return {
        ok: false,
        reason: RejectReason.noLeader,
        detail: "not the leader and proposal forwarding is disabled",
      };
    }
    r.step(message({ type: MessageType.prop, from: r.id, entries }));
    return { ok: true };
  }

  /**
   * Requests a linearizable read point. When confirmed, a {@link ReadState} with `context` and the
   * index to wait for appears in a Ready. A follower forwards the request to the leader.
   */
  readIndex(context: Uint8Array): RequestResult {
    const r = this.raft;
    if (r.role !== StateRole.leader && r.lead === NONE) {
      return { ok: false, reason: RejectReason.noLeader, detail: "no leader is known" };
    }
    if (r.role === StateRole.leader && r.leadTransferee !== NONE) {
      return {
        ok: false,
        reason: RejectReason.transferInProgress,
        detail: `leadership is moving to ${r.leadTransferee}`,
      };
    }
    r.step(message({ type: MessageType.readIndex, from: r.id, context }));
    return { ok: true };
  }

  /** Asks the leader to hand leadership to `to` (which it first catches up). */
  transferLeader(to: NodeId): RequestResult {
    const r = this.raft;
    if (r.lead === NONE) return { ok: false, reason: RejectReason.noLeader, detail: "no leader is known" };
    if (!r.trk.isVoter(to))
      return { ok: false, reason: RejectReason.invalid, detail: `node ${to} is not a voter` };
    r.step(message({ type: MessageType.transferLeader, from: to, to: r.lead }));
    return { ok: true };
  }

  /** Reports that a message to `id` could not be delivered (the leader probes it again). */
  reportUnreachable(id: NodeId): void {
    this.raft.step(message({ type: MessageType.unreachable, from: id }));
  }

  /** Reports the outcome of sending a snapshot to `id`. */
  reportSnapshot(id: NodeId, ok: boolean): void {
    this.raft.step(message({ type: MessageType.snapStatus, from: id, reject: !ok }));
  }

  /** Whether {@link ready} would return anything to do. */
  hasReady(): boolean {
    const r = this.raft;
    if (this.#pending !== null) return false;
    const soft = r.softState();
    if (soft.lead !== this.#prevSoft.lead || soft.role !== this.#prevSoft.role) return true;
    if (!sameHardState(r.hardState(), this.#prevHard)) return true;
    return (
      r.log.unstableSnapshot !== null ||
      r.log.unstableEntries.length > 0 ||
      r.msgs.length > 0 ||
      r.msgsEarly.length > 0 ||
      r.readStates.length > 0 ||
      r.log.hasNextCommittedEntries()
    );
  }

  /** Drains everything there is to do; see {@link Ready}. Call {@link advance} when done. */
  ready(): Ready {
    assert(this.#pending === null, "ready: the previous Ready has not been advanced");
    const r = this.raft;
    const soft = r.softState();
    const hard = r.hardState();
    const softChanged = soft.lead !== this.#prevSoft.lead || soft.role !== this.#prevSoft.role;
    const hardChanged = !sameHardState(hard, this.#prevHard);
    const entries = r.log.unstableEntries.slice();
    const committedEntries = r.log.nextCommittedEntries(r.cfg.committedBytesPerReadyMax);
    const last = committedEntries[committedEntries.length - 1];
    if (last !== undefined) r.log.applying = last.index;
    const rd: Ready = {
      softState: softChanged ? soft : null,
      hardState: hardChanged ? hard : null,
      entries,
      snapshot: r.log.unstableSnapshot,
      committedEntries,
      messagesEarly: r.msgsEarly,
      messages: r.msgs,
      readStates: r.readStates,
      mustSync:
        entries.length > 0 ||
        (hardChanged && (hard.term !== this.#prevHard.term || hard.vote !== this.#prevHard.vote)),
    };
    r.msgsEarly = [];
    r.msgs = [];
    r.readStates = [];
    this.#prevSoft = soft;
    this.#prevHard = hard;
    this.#pending = rd;
    return rd;
  }

  /**
   * What the driver may do while the outstanding Ready's write is in flight; call it any number of
   * times between {@link ready} and {@link advance} (it returns nothing otherwise, or while a
   * snapshot is being installed):
   *
   * - `messages`: sendable before any write is durable: a leader's early messages (appends of
   *   entries proposed since, the commit updates that follow acknowledgements), and proposals and
   *   read requests forwarded to the leader, which depend on no write of this node.
   * - `committedEntries`: entries committed since, to apply now, in order, after the Ready's own
   *   `committedEntries`; they stop before a configuration change, which waits for a Ready (it
   *   takes effect at `advance()`). They count as applied from the next `advance()`.
   *
   * So an acknowledgement that arrives during the leader's fdatasync commits, answers clients and
   * tells followers at once instead of after that write and the next Ready.
   */
  inFlight(): { readonly messages: readonly Message[]; readonly committedEntries: readonly Entry[] } {
    const rd = this.#pending;
    const r = this.raft;
    if (rd === null || rd.snapshot !== null || r.log.unstableSnapshot !== null) return noInFlight;
    const messages = this.#takeEarlyMessages();
    let committedEntries: Entry[] = [];
    if (r.log.hasNextCommittedEntries()) {
      committedEntries = r.log.nextCommittedEntries(r.cfg.committedBytesPerReadyMax);
      const cut = committedEntries.findIndex((e) => e.type === EntryType.confChange);
      if (cut >= 0) committedEntries = committedEntries.slice(0, cut);
      const last = committedEntries[committedEntries.length - 1];
      if (last !== undefined) {
        r.log.applying = last.index;
        this.#appliedInFlight = last.index;
        for (const e of committedEntries) this.#inFlightEntries.push(e);
      }
    }
    return messages.length === 0 && committedEntries.length === 0
      ? noInFlight
      : { messages, committedEntries };
  }

  /**
   * The messages sendable at any moment, Ready outstanding or not: a leader's early messages
   * (heartbeats, appends; see {@link Ready.messagesEarly}) and proposals and read requests
   * forwarded to the leader.
   */
  #takeEarlyMessages(): readonly Message[] {
    const r = this.raft;
    let messages = r.msgsEarly;
    r.msgsEarly = [];
    if (r.msgs.some(isForward)) {
      messages = messages.concat(r.msgs.filter(isForward));
      r.msgs = r.msgs.filter((m) => !isForward(m));
    }
    return messages;
  }

  /** Acknowledges the outstanding Ready: its writes are durable and its entries applied. */
  advance(): void {
    const rd = this.#pending;
    assert(rd !== null, "advance: no Ready is outstanding");
    this.#pending = null;
    const r = this.raft;
    if (rd.hardState !== null) r.durableTerm = rd.hardState.term;
    if (rd.snapshot !== null) {
      const index = rd.snapshot.metadata.index;
      r.log.stableSnapshotTo(index);
      r.log.applied = Math.max(r.log.applied, index);
      r.log.applying = Math.max(r.log.applying, index);
    }
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry !== undefined) {
      r.log.stableTo(lastEntry.index, lastEntry.term);
      r.ackOwnAppend(lastEntry.index, lastEntry.term);
    }
    for (const e of rd.committedEntries) {
      r.log.applied = e.index;
      if (e.type === EntryType.confChange) r.applyConfChangeEntry(e);
    }
    r.reduceUncommitted(rd.committedEntries);
    if (this.#appliedInFlight > 0) {
      r.log.applied = Math.max(r.log.applied, this.#appliedInFlight);
      r.reduceUncommitted(this.#inFlightEntries);
      this.#appliedInFlight = 0;
      this.#inFlightEntries = [];
    }
    r.maybeAutoLeave();
  }

  /** The current configuration (store it in snapshots). */
  confState(): ConfState {
    return this.raft.confState();
  }

  status(): Status {
    const r = this.raft;
    let progress: Map<NodeId, ProgressStatus> | null = null;
    if (r.role === StateRole.leader) {
      progress = new Map();
      for (const [id, pr] of r.trk.progress) {
        progress.set(id, {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          isLearner: pr.isLearner,
          recentActive: pr.recentActive,
          inflight: pr.inflights.count,
        });
      }
    }
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.log.committed,
      lead: r.lead,
      role: r.role,
      applied: r.log.applied,
      lastIndex: r.log.lastIndex(),
      leadTransferee: r.leadTransferee,
      config: r.confState(),
      progress,
    };
  }
}

const noInFlight = { messages: [], committedEntries: [] } as const;

/** A proposal or read request forwarded to the leader: it waits for no write of this node. */
function isForward(m: Message): boolean {
  return m.type === MessageType.prop || m.type === MessageType.readIndex;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

const knownTypes = new Set<string>(Object.values(MessageType));

/** Why a message from the network cannot be stepped, or null if it is well formed. */
function validate(m: Message, self: NodeId): string | null {
  if (!knownTypes.has(m.type)) return `unknown message type '${String(m.type)}'`;
  if (isLocalMessage(m.type)) return `'${m.type}' is local-only and cannot come from the network`;
  if (!Number.isSafeInteger(m.from) || m.from <= 0) return `'from' must be a positive node id, got ${m.from}`;
  if (m.to !== self && m.to !== NONE) return `addressed to ${m.to}, not to this node ${self}`;
  if (!Number.isSafeInteger(m.term) || m.term < 0)
    return `'term' must be a non-negative integer, got ${m.term}`;
  if (m.type !== MessageType.prop && m.type !== MessageType.readIndex && m.term === 0) {
    return `'${m.type}' needs a term`;
  }
  if (!Number.isSafeInteger(m.index) || m.index < 0 || !Number.isSafeInteger(m.commit) || m.commit < 0) {
    return "'index' and 'commit' must be non-negative integers";
  }
  for (const [name, v] of [
    ["logTerm", m.logTerm],
    ["rejectHint", m.rejectHint],
    ["round", m.round],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0) return `'${name}' must be a non-negative integer, got ${v}`;
  }
  if (m.type === MessageType.snap) {
    if (m.snapshot === null) return "snapshot message without a snapshot";
    const { index, term } = m.snapshot.metadata;
    if (!Number.isSafeInteger(index) || index < 0 || !Number.isSafeInteger(term) || term < 0)
      return `snapshot index and term must be non-negative integers, got ${index} and ${term}`;
  }
  if (m.type === MessageType.app) return validateEntries(m);
  return null;
}

/** Why an append's entries cannot directly follow (`index`, `logTerm`) in term `term`, or null. */
function validateEntries(m: Message): string | null {
  let prevTerm = m.logTerm;
  for (let i = 0; i < m.entries.length; i++) {
    const e = m.entries[i] as Entry;
    if (e.index !== m.index + 1 + i) return `entry ${i} has index ${e.index}, expected ${m.index + 1 + i}`;
    if (!Number.isSafeInteger(e.term) || e.term < prevTerm || e.term > m.term)
      return `entry ${e.index} has term ${e.term}, outside [${prevTerm}, ${m.term}]`;
    prevTerm = e.term;
  }
  return null;
}
