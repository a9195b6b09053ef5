import { AssertionError, assert } from "../lib/assert.js";
import { decodeConfChange, encodeConfChange } from "./codec.js";
import { applyChange, isLearnerIn, leavesJoint } from "./confchange.js";
import { ReadOnlyOption, type ResolvedConfig } from "./config.js";
import { RaftLog } from "./log.js";
import { type Progress, ProgressState } from "./progress.js";
import { VoteResult } from "./quorum.js";
import { ENTRIES_COMPACTED, entryBytes, entryPayloadBytes, SNAPSHOT_UNAVAILABLE } from "./storage.js";
import { fromConfState, isJoint, ProgressTracker, type TrackerConfig, toConfState } from "./tracker.js";
import {
  ConfChangeTransition,
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  type Index,
  type Message,
  type MessageInit,
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

/** Marks a vote request caused by a leadership transfer (it bypasses leader stickiness). */
export const campaignTransferContext = new TextEncoder().encode("CampaignTransfer");
const emptyBytes = new Uint8Array(0);
/** Heartbeat rounds whose send tick is remembered for lease reads. */
const roundTicksMax = 1024;

const ok: RequestResult = { ok: true };
function reject(reason: RejectReason, detail: string): RequestResult {
  return { ok: false, reason, detail };
}

interface ReadRequest {
  readonly from: NodeId;
  readonly context: Uint8Array;
  /** Commit index when the request was accepted. */
  readonly index: Index;
  /** The heartbeat round a quorum must acknowledge before the read may be served. */
  readonly round: number;
}

function isTransferContext(ctx: Uint8Array): boolean {
  if (ctx.length !== campaignTransferContext.length) return false;
  for (let i = 0; i < ctx.length; i++) if (ctx[i] !== campaignTransferContext[i]) return false;
  return true;
}

/**
 * The Raft state machine of one node. Pure: inputs are ticks and messages, outputs are collected
 * in `msgs` / `msgsEarly` / `readStates` and in the log's unstable tail, and drained by
 * {@link RawNode}. See `rawnode.ts` for the public surface and the Ready contract.
 */
export class Raft {
  readonly id: NodeId;
  readonly cfg: ResolvedConfig;
  readonly log: RaftLog;
  readonly trk: ProgressTracker;
  term: Term = 0;
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  role: StateRole = StateRole.follower;
  isLearner = false;
  /** Messages that must wait until this Ready's entries and hard state are durable. */
  msgs: Message[] = [];
  /** Messages a leader may send before its own write is durable (thesis §10.2.1). */
  msgsEarly: Message[] = [];
  readStates: ReadState[] = [];
  leadTransferee: NodeId = NONE;
  /** Index of the newest configuration change the leader appended (or its no-op). */
  pendingConfIndex: Index = 0;
  uncommittedBytes = 0;
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  /** Ticks since start; the leader's monotonic clock for leases. */
  tickCount = 0;
  /** The term recorded in the last hard state the driver made durable. */
  durableTerm: Term = 0;
  /** Latest heartbeat round sent in this term. */
  hbRound = 0;
  readonly #roundTicks = new Map<number, number>();
  /** Lease reads are off for the rest of the term once a transfer began (etcd-io/raft#99). */
  #leaseRevoked = false;
  /** Index of a pending conf change that removes or demotes this leader (0 = none). */
  #removingSelfAt: Index = 0;
  /** Lease reads only: a freshly started node refuses votes for one election timeout. */
  #startupGuard: boolean;
  /** Storage damage was repaired at start: no voting or campaigning until caught up. */
  abstaining: boolean;
  #readsWaitingCommit: ReadRequest[] = [];
  #readsWaitingRound: ReadRequest[] = [];

  constructor(cfg: ResolvedConfig) {
    this.id = cfg.id;
    this.cfg = cfg;
    this.log = new RaftLog(cfg.storage, cfg.applied);
    const { hardState, confState } = cfg.storage.initialState();
    this.trk = new ProgressTracker(fromConfState(confState), {
      inflightMessagesMax: cfg.inflightMessagesMax,
      inflightBytesMax: cfg.inflightBytesMax,
    });
    this.#startupGuard = cfg.readOnlyOption === ReadOnlyOption.leaseBased;
    this.abstaining = cfg.abstainUntilCaughtUp;
    this.#installConfig(fromConfState(confState));
    if (hardState.term !== 0 || hardState.vote !== NONE || hardState.commit !== 0)
      this.#loadHardState(hardState);
    this.durableTerm = this.term;
    this.becomeFollower(this.term, NONE);
  }

  #loadHardState(hs: HardState): void {
    assert(
      hs.commit <= this.log.lastIndex(),
      `hard state commit ${hs.commit} is past the last index ${this.log.lastIndex()}`,
    );
    // A crash between installing a snapshot and writing the hard state after it leaves a commit
    // below the snapshot; the snapshot itself proves its index committed.
    this.log.committed = Math.max(hs.commit, this.log.committed);
    this.term = hs.term;
    this.vote = hs.vote;
  }

  softState(): SoftState {
    return { lead: this.lead, role: this.role };
  }

  hardState(): HardState {
    const vote = this.cfg.bugs.voteWithoutPersist ? NONE : this.vote;
    return { term: this.term, vote, commit: this.log.committed };
  }

  confState(): ConfState {
    return toConfState(this.trk.config);
  }

  // ---------------------------------------------------------------- sending

  send(init: MessageInit): void {
    const t = init.type;
    // Vote messages carry their own term (pre-votes, responses); everything else our term.
    const terms =
      t === MessageType.vote ||
      t === MessageType.voteResp ||
      t === MessageType.preVote ||
      t === MessageType.preVoteResp;
    // One message object (this runs for every message): the sender, then `init`, then our term.
    const out =
      terms || t === MessageType.prop || t === MessageType.readIndex
        ? message({ from: this.id, ...init })
        : message({ from: this.id, ...init, term: this.term });
    // Messages are built only on failure.
    if (out.to === this.id) throw new AssertionError(`send: message ${t} addressed to self`);
    if (terms && out.term === 0) throw new AssertionError(`send: ${t} without a term`);
    if (
      this.role === StateRole.leader &&
      this.term === this.durableTerm &&
      (t === MessageType.app || t === MessageType.heartbeat || t === MessageType.snap)
    ) {
      this.msgsEarly.push(out);
    } else if (this.cfg.bugs.voteWithoutPersist && t === MessageType.voteResp) {
      this.msgsEarly.push(out);
    } else {
      this.msgs.push(out);
    }
  }

  /** Sends entries (or a snapshot) to `to` if its progress allows; returns whether it sent. */
  maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.trk.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    const ents =
      prevTerm < 0 ? ENTRIES_COMPACTED : this.log.entriesFrom(pr.next, this.cfg.entriesBytesPerMessageMax);
    if (ents === ENTRIES_COMPACTED) return this.#sendSnapshot(to, pr);
    if (ents.length === 0 && !sendIfEmpty) return false;
    let bytes = 0;
    for (const e of ents) bytes += entryBytes(e);
    this.send({
      type: MessageType.app,
      to,
      index: prevIndex,
      logTerm: prevTerm,
      entries: ents,
      commit: this.log.committed,
    });
    pr.sentEntries(ents.length, prevIndex + ents.length, bytes);
    return true;
  }

  sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  #sendSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) {
      this.cfg.logger.debug("raft: not sending snapshot to an inactive follower", { id: this.id, to });
      return false;
    }
    const snapshot = this.log.snapshot();
    if (snapshot === SNAPSHOT_UNAVAILABLE) {
      this.cfg.logger.debug("raft: snapshot temporarily unavailable", { id: this.id, to });
      return false;
    }
    pr.becomeSnapshot(snapshot.metadata.index);
    this.send({ type: MessageType.snap, to, snapshot });
    return true;
  }

  bcastAppend(): void {
    for (const id of this.trk.progress.keys()) if (id !== this.id) this.sendAppend(id);
  }

  bcastHeartbeat(): void {
    this.hbRound++;
    this.#roundTicks.set(this.hbRound, this.tickCount);
    if (this.#roundTicks.size > roundTicksMax) {
      for (const k of this.#roundTicks.keys()) {
        this.#roundTicks.delete(k);
        break;
      }
    }
    for (const [id, pr] of this.trk.progress) {
      if (id === this.id) continue;
      this.send({
        type: MessageType.heartbeat,
        to: id,
        commit: Math.min(pr.match, this.log.committed),
        round: this.hbRound,
      });
    }
  }

  // ---------------------------------------------------------------- roles

  #reset(term: Term): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.cfg.electionTicks + this.cfg.rng.intBelow(this.cfg.electionTicks);
    this.abortLeaderTransfer();
    this.trk.resetVotes();
    const last = this.log.lastIndex();
    for (const [id, pr] of this.trk.progress) {
      const fresh = this.trk.newProgress(last + 1, pr.isLearner);
      if (id === this.id) fresh.match = this.log.stableLastIndex();
      this.trk.progress.set(id, fresh);
    }
    this.pendingConfIndex = 0;
    this.uncommittedBytes = 0;
    this.#readsWaitingCommit = [];
    this.#readsWaitingRound = [];
    this.#roundTicks.clear();
    this.#leaseRevoked = false;
    this.#removingSelfAt = 0;
  }

  becomeFollower(term: Term, lead: NodeId): void {
    this.#reset(term);
    this.lead = lead;
    this.role = StateRole.follower;
    if (lead !== NONE) this.#startupGuard = false;
  }

  becomePreCandidate(): void {
    assert(this.role !== StateRole.leader, "becomePreCandidate: leader cannot become pre-candidate");
    // A pre-candidate keeps its term and vote (a pre-vote never changes them).
    this.trk.resetVotes();
    this.lead = NONE;
    this.role = StateRole.preCandidate;
  }

  becomeCandidate(): void {
    assert(this.role !== StateRole.leader, "becomeCandidate: leader cannot become candidate");
    this.#reset(this.term + 1);
    this.vote = this.id;
    this.role = StateRole.candidate;
  }

  becomeLeader(): void {
    assert(this.role === StateRole.candidate, `becomeLeader: role is ${this.role}`);
    this.#reset(this.term);
    this.lead = this.id;
    this.role = StateRole.leader;
    const self = this.trk.progress.get(this.id);
    if (self !== undefined) self.becomeReplicate();
    // The no-op of the new term: commits earlier entries indirectly (§5.4.2) and gates conf
    // changes (the 2015 single-server fix) and ReadIndex until an entry of this term commits.
    const noop = this.#appendEntries([{ term: 0, index: 0, type: EntryType.normal, data: emptyBytes }]);
    assert(noop, "becomeLeader: the no-op entry must always be accepted");
    this.pendingConfIndex = this.log.lastIndex();
    this.#removingSelfAt = this.#pendingSelfRemoval();
    this.cfg.logger.info("raft: became leader", { id: this.id, term: this.term });
  }

  /**
   * The index of an unapplied conf change in our log that leaves this node a non-voter (0 if
   * none): a leader elected with such a change pending must not append past it either.
   */
  #pendingSelfRemoval(): Index {
    const ents = this.log.slice(this.log.applied + 1, this.log.lastIndex() + 1, Number.POSITIVE_INFINITY);
    if (ents === ENTRIES_COMPACTED) return 0;
    let at = 0;
    const scratch = new ProgressTracker(this.trk.config, this.trk.limits);
    scratch.progress = this.trk.progress;
    for (const e of ents) {
      if (e.type !== EntryType.confChange) continue;
      const cc = decodeConfChange(e.data);
      if (typeof cc === "string") continue;
      const res = applyChange(scratch, cc, this.log.lastIndex());
      if (!res.ok) continue;
      scratch.config = res.config;
      const voter = res.config.voters.has(this.id) || res.config.votersOutgoing.has(this.id);
      at = voter ? 0 : e.index;
    }
    return at;
  }

  /** Assigns term and index to `ents` and appends them; false if over the uncommitted limit. */
  #appendEntries(ents: Entry[]): boolean {
    const last = this.log.lastIndex();
    let bytes = 0;
    for (const e of ents) bytes += entryPayloadBytes(e);
    if (
      this.uncommittedBytes > 0 &&
      bytes > 0 &&
      this.uncommittedBytes + bytes > this.cfg.uncommittedBytesMax
    ) {
      return false;
    }
    this.uncommittedBytes += bytes;
    const stamped = ents.map((e, i) => ({
      term: this.term,
      index: last + 1 + i,
      type: e.type,
      data: e.data,
    }));
    this.log.append(stamped);
    return true;
  }

  promotable(): boolean {
    const pr = this.trk.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && this.log.unstableSnapshot === null && !this.abstaining;
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  // ---------------------------------------------------------------- ticking

  tick(): void {
    this.tickCount++;
    if (this.role === StateRole.leader) this.#tickHeartbeat();
    else this.#tickElection();
  }

  #tickElection(): void {
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTicks) this.#startupGuard = false;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.step(message({ type: MessageType.hup, from: this.id }));
    }
  }

  #tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) this.step(message({ type: MessageType.checkQuorum, from: this.id }));
      if (this.role === StateRole.leader && this.leadTransferee !== NONE) {
        this.cfg.logger.info("raft: leadership transfer timed out", { id: this.id, to: this.leadTransferee });
        this.abortLeaderTransfer();
      }
    }
    if (this.role !== StateRole.leader) return;
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.step(message({ type: MessageType.beat, from: this.id }));
    }
  }

  // ---------------------------------------------------------------- elections

  /** Whether there are committed but unapplied configuration changes (no campaigning then). */
  #hasUnappliedConfChanges(): boolean {
    if (this.log.applied >= this.log.committed) return false;
    const ents = this.log.slice(this.log.applied + 1, this.log.committed + 1, Number.POSITIVE_INFINITY);
    if (ents === ENTRIES_COMPACTED) return false;
    return ents.some((e) => e.type === EntryType.confChange);
  }

  hup(transfer: boolean): void {
    if (this.role === StateRole.leader) {
      this.cfg.logger.debug("raft: ignoring hup, already leader", { id: this.id });
      return;
    }
    if (!this.promotable()) {
      this.cfg.logger.warn("raft: not promotable, will not campaign", { id: this.id });
      return;
    }
    if (this.#hasUnappliedConfChanges()) {
      this.cfg.logger.warn("raft: unapplied conf changes pending, will not campaign", { id: this.id });
      return;
    }
    if (this.cfg.preVote && !transfer) this.campaign("preElection", false);
    else this.campaign("election", transfer);
  }

  campaign(kind: "preElection" | "election", transfer: boolean): void {
    let voteType: MessageType;
    let term: Term;
    if (kind === "preElection") {
      this.becomePreCandidate();
      voteType = MessageType.preVote;
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteType = MessageType.vote;
      term = this.term;
    }
    const respType = voteType === MessageType.vote ? MessageType.voteResp : MessageType.preVoteResp;
    for (const id of this.trk.voterIds()) {
      if (id === this.id) {
        this.#poll(id, respType, true);
        continue;
      }
      this.send({
        type: voteType,
        to: id,
        term,
        index: this.log.lastIndex(),
        logTerm: this.log.lastTerm(),
        context: transfer ? campaignTransferContext : emptyBytes,
      });
    }
    // A single voter wins its own election at once.
    this.#checkElection(kind === "preElection" ? MessageType.preVoteResp : MessageType.voteResp);
  }

  #poll(id: NodeId, type: MessageType, granted: boolean): void {
    this.cfg.logger.debug("raft: received vote", { id: this.id, from: id, type, granted, term: this.term });
    this.trk.recordVote(id, granted);
  }

  #checkElection(respType: MessageType): void {
    const { result } = this.trk.tallyVotes();
    if (result === VoteResult.won) {
      if (respType === MessageType.preVoteResp) {
        this.campaign("election", false);
      } else {
        this.becomeLeader();
        this.bcastAppend();
      }
    } else if (result === VoteResult.lost) {
      this.becomeFollower(this.term, NONE);
    }
  }

  // ---------------------------------------------------------------- step

  /** Feeds one message (local or from a peer) into the state machine. */
  step(m: Message): void {
    if (!this.#acceptTerm(m)) return;
    switch (m.type) {
      case MessageType.hup:
        this.hup(false);
        return;
      case MessageType.vote:
      case MessageType.preVote:
        this.#handleVoteRequest(m);
        return;
      default:
        break;
    }
    switch (this.role) {
      case StateRole.leader:
        this.#stepLeader(m);
        return;
      case StateRole.candidate:
      case StateRole.preCandidate:
        this.#stepCandidate(m);
        return;
      case StateRole.follower:
        this.#stepFollower(m);
        return;
    }
  }

  #ignore(m: Message, reason: string): void {
    this.cfg.logger.debug(`raft: ignored ${m.type} from ${m.from}: ${reason}`, {
      id: this.id,
      term: this.term,
      msgTerm: m.term,
    });
  }

  /** Term rules common to every role (§5.1). Returns false if the message is consumed here. */
  #acceptTerm(m: Message): boolean {
    if (m.type === MessageType.vote || m.type === MessageType.preVote) {
      const members = this.trk.progress;
      if (members.size > 0 && !members.has(m.from) && !this.#mayBeNewerMember(m)) {
        this.#ignore(m, "sender is not a member of this configuration");
        return false;
      }
    }
    if (m.term === 0) return true;
    if (m.term > this.term) return this.#higherTerm(m);
    if (m.term < this.term) {
      this.#lowerTerm(m);
      return false;
    }
    return true;
  }

  /**
   * Whether a (pre)vote request from outside our configuration may come from a member of a newer
   * configuration we have not applied: the candidate's log is ahead of ours, or is as up to date
   * and ours holds entries not applied yet. Such requests are handled as usual (thesis §4.1: a
   * server votes for a candidate outside its latest configuration; ignoring a newly added member
   * can leave the new configuration unable to elect anyone). A removed server's log lacks its
   * removal, so it is still ignored.
   */
  #mayBeNewerMember(m: Message): boolean {
    const lastTerm = this.log.lastTerm();
    const ahead = m.logTerm > lastTerm || (m.logTerm === lastTerm && m.index > this.log.lastIndex());
    return ahead || (this.log.isUpToDate(m.index, m.logTerm) && this.log.applied < this.log.lastIndex());
  }

  #higherTerm(m: Message): boolean {
    if (m.type === MessageType.vote || m.type === MessageType.preVote) {
      const force = isTransferContext(m.context);
      const inLease =
        this.cfg.checkQuorum &&
        (this.lead !== NONE || this.#startupGuard) &&
        this.electionElapsed < this.cfg.electionTicks;
      if (!force && inLease) {
        this.#ignore(m, "heard from a live leader within the election timeout (leader stickiness)");
        return false;
      }
    }
    if (m.type === MessageType.preVote) return true;
    if (m.type === MessageType.preVoteResp && !m.reject) return true;
    const fromLeader =
      m.type === MessageType.app || m.type === MessageType.heartbeat || m.type === MessageType.snap;
    this.cfg.logger.debug("raft: higher term seen", {
      id: this.id,
      term: this.term,
      msgTerm: m.term,
      type: m.type,
    });
    this.becomeFollower(m.term, fromLeader ? m.from : NONE);
    return true;
  }

  #lowerTerm(m: Message): void {
    if (
      (this.cfg.checkQuorum || this.cfg.preVote) &&
      (m.type === MessageType.heartbeat || m.type === MessageType.app)
    ) {
      // A stale leader learns our term from this and steps down; without it a node that bumped
      // its term while partitioned could never rejoin (PreVote/CheckQuorum stop it re-electing).
      this.send({ type: MessageType.appResp, to: m.from });
    } else if (m.type === MessageType.preVote) {
      this.send({ type: MessageType.preVoteResp, to: m.from, term: this.term, reject: true });
    } else {
      this.#ignore(m, "stale term");
    }
  }

  #handleVoteRequest(m: Message): void {
    const pre = m.type === MessageType.preVote;
    const canVote =
      this.vote === m.from || (this.vote === NONE && this.lead === NONE) || (pre && m.term > this.term);
    const upToDate = this.cfg.bugs.ignoreLogUpToDate === true || this.log.isUpToDate(m.index, m.logTerm);
    if (this.abstaining) {
      this.cfg.logger.info("raft: refusing to vote until caught up after storage repair", {
        id: this.id,
        from: m.from,
      });
    }
    const respType = pre ? MessageType.preVoteResp : MessageType.voteResp;
    if (canVote && upToDate && !this.abstaining) {
      // Answer with the request's term: a pre-vote grant is for a term we have not entered.
      this.send({ type: respType, to: m.from, term: m.term });
      if (!pre) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else if (this.term === 0) {
      // A denial carries our term, and a message of term 0 is invalid on the wire (only an
      // abstaining node can deny a pre-vote before it knows any term): stay silent instead.
      this.#ignore(m, "cannot deny a vote in term 0; not answering");
    } else {
      this.send({ type: respType, to: m.from, term: this.term, reject: true });
    }
  }

  // ---------------------------------------------------------------- leader

  #stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.beat:
        this.bcastHeartbeat();
        return;
      case MessageType.checkQuorum:
        this.#checkQuorum();
        return;
      case MessageType.prop:
        this.propose(m);
        return;
      case MessageType.readIndex:
        this.#leaderReadIndex(m);
        return;
      default:
        break;
    }
    const pr = this.trk.progress.get(m.from);
    if (pr === undefined) {
      this.#ignore(m, "no progress for the sender (not a member)");
      return;
    }
    switch (m.type) {
      case MessageType.appResp:
        this.#handleAppendResponse(m, pr);
        return;
      case MessageType.heartbeatResp:
        this.#handleHeartbeatResponse(m, pr);
        return;
      case MessageType.snapStatus:
        this.#handleSnapStatus(m, pr);
        return;
      case MessageType.unreachable:
        if (pr.state === ProgressState.replicate) pr.becomeProbe();
        return;
      case MessageType.transferLeader:
        this.#handleTransferLeader(m, pr);
        return;
      default:
        this.#ignore(m, "not expected by a leader");
    }
  }

  #checkQuorum(): void {
    if (!this.trk.quorumActive(this.id)) {
      this.cfg.logger.warn("raft: stepping down, no quorum heard within an election timeout", {
        id: this.id,
      });
      this.becomeFollower(this.term, NONE);
      return;
    }
    for (const [id, pr] of this.trk.progress) if (id !== this.id) pr.recentActive = false;
  }

  /** Leader side of a proposal; also the local entry point (then `from` is this node). */
  propose(m: Message): RequestResult {
    if (m.entries.length === 0) return reject(RejectReason.invalid, "proposal has no entries");
    if (!this.trk.progress.has(this.id)) {
      return reject(RejectReason.notMember, "this leader was removed from the configuration");
    }
    if (this.leadTransferee !== NONE) {
      return reject(RejectReason.transferInProgress, `leadership is moving to ${this.leadTransferee}`);
    }
    if (this.#removingSelfAt > this.log.applied) {
      // Entries after our own removal would make our log longer than every remaining voter's,
      // and we would then deny them the votes they need to replace us.
      return reject(
        RejectReason.transferInProgress,
        `this leader is being removed or demoted by the configuration change at index ${this.#removingSelfAt}`,
      );
    }
    const ents = m.entries.slice();
    let confIndex = 0;
    let removesSelf = false;
    for (let i = 0; i < ents.length; i++) {
      const e = ents[i] as Entry;
      if (e.type !== EntryType.confChange) continue;
      const checked: RequestResult & { readonly removesSelf?: boolean } =
        confIndex !== 0
          ? reject(RejectReason.confChangePending, "one conf change per proposal")
          : this.#checkConfChange(e.data);
      if (!checked.ok) {
        if (m.from !== this.id)
          this.cfg.logger.info("raft: dropped forwarded conf change", { id: this.id, refused: checked });
        return checked;
      }
      removesSelf = checked.removesSelf === true;
      confIndex = this.log.lastIndex() + i + 1;
    }
    if (!this.#appendEntries(ents)) {
      return reject(
        RejectReason.uncommittedFull,
        `uncommitted log is over ${this.cfg.uncommittedBytesMax} bytes`,
      );
    }
    if (confIndex !== 0) this.pendingConfIndex = confIndex;
    if (removesSelf) this.#removingSelfAt = confIndex;
    this.bcastAppend();
    return ok;
  }

  /** Validates a proposed conf change; on success, says whether it leaves this node a non-voter. */
  #checkConfChange(data: Uint8Array): RequestResult & { readonly removesSelf?: boolean } {
    const cc = decodeConfChange(data);
    if (typeof cc === "string") return { ok: false, reason: RejectReason.confChangeInvalid, detail: cc };
    if (this.pendingConfIndex > this.log.applied) {
      return {
        ok: false,
        reason: RejectReason.confChangePending,
        detail: `entry ${this.pendingConfIndex} (a conf change or the term's no-op) is not applied yet (applied ${this.log.applied})`,
      };
    }
    const joint = isJoint(this.trk.config);
    if (joint && !leavesJoint(cc)) {
      return {
        ok: false,
        reason: RejectReason.confChangePending,
        detail: "the configuration is joint; leave it first",
      };
    }
    const dry = applyChange(this.trk, cc, this.log.lastIndex());
    if (!dry.ok) return { ok: false, reason: RejectReason.confChangeInvalid, detail: dry.error };
    return {
      ok: true,
      removesSelf: !dry.config.voters.has(this.id) && !dry.config.votersOutgoing.has(this.id),
    };
  }

  maybeCommit(): boolean {
    const index = this.trk.committed();
    if (index <= this.log.committed || !Number.isFinite(index)) return false;
    // §5.4.2: only an entry of the current term is committed by counting replicas.
    if (!this.cfg.bugs.commitByCountingOldTerms && this.log.term(index) !== this.term) return false;
    const wasCommittedInTerm = this.committedEntryInCurrentTerm();
    this.log.commitTo(index);
    if (!wasCommittedInTerm && this.committedEntryInCurrentTerm()) this.#releaseReadsWaitingCommit();
    return true;
  }

  committedEntryInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  #handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject) {
      let hint = m.rejectHint;
      if (m.logTerm > 0) hint = this.log.findConflictByTerm(m.rejectHint, m.logTerm);
      if (pr.maybeDecrTo(m.index, hint)) {
        if (pr.state === ProgressState.replicate) pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    // A caught-up follower in probe (e.g. after reportUnreachable) acknowledges its old match
    // again; that too proves where its log stands, so it returns to replicate (as etcd-raft).
    if (pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === ProgressState.probe)) {
      if (pr.state === ProgressState.probe) pr.becomeReplicate();
      else if (pr.state === ProgressState.snapshot && pr.match + 1 >= this.log.firstIndex()) {
        pr.becomeProbe();
        pr.becomeReplicate();
      } else if (pr.state === ProgressState.replicate) pr.inflights.freeLE(m.index);
      if (this.maybeCommit()) this.bcastAppend();
      else {
        // While paused it was skipped by commit broadcasts: it may lack the latest commit index.
        if (wasPaused) this.sendAppend(m.from);
        while (this.maybeSendAppend(m.from, false)) {}
      }
      if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.#sendTimeoutNow(m.from);
    } else if (pr.state === ProgressState.replicate) {
      pr.inflights.freeLE(m.index);
    }
  }

  #handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    pr.probeSent = false;
    if (pr.state === ProgressState.replicate && pr.inflights.full()) pr.inflights.freeFirst();
    // In probe, append even with nothing new: the answer returns a caught-up follower to replicate.
    if (pr.match < this.log.lastIndex() || pr.state === ProgressState.probe) this.sendAppend(m.from);
    if (m.round > pr.ackedRound) {
      pr.ackedRound = m.round;
      this.#releaseReadsWaitingRound();
    }
  }

  #handleSnapStatus(m: Message, pr: Progress): void {
    if (pr.state !== ProgressState.snapshot) return;
    if (m.reject) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // Wait for the follower's answer (or a heartbeat answer) before the next append.
    pr.probeSent = true;
  }

  #handleTransferLeader(m: Message, pr: Progress): void {
    const to = m.from;
    if (pr.isLearner) {
      this.#ignore(m, "cannot transfer leadership to a learner");
      return;
    }
    if (this.leadTransferee === to) return;
    if (this.leadTransferee !== NONE) this.abortLeaderTransfer();
    if (to === this.id) return;
    this.electionElapsed = 0;
    this.leadTransferee = to;
    this.#leaseRevoked = true;
    if (pr.match === this.log.lastIndex()) this.#sendTimeoutNow(to);
    else this.sendAppend(to);
  }

  #sendTimeoutNow(to: NodeId): void {
    this.send({ type: MessageType.timeoutNow, to });
  }

  // ---------------------------------------------------------------- reads

  #leaderReadIndex(m: Message): void {
    if (this.leadTransferee !== NONE) {
      this.#ignore(m, "leadership transfer in progress");
      return;
    }
    const req = { from: m.from, context: m.context, index: 0, round: 0 };
    if (!this.committedEntryInCurrentTerm()) {
      if (this.#readsWaitingCommit.length >= this.cfg.readIndexPendingMax) {
        this.#ignore(m, `more than ${this.cfg.readIndexPendingMax} reads wait for the term's first commit`);
        return;
      }
      this.#readsWaitingCommit.push(req);
      return;
    }
    this.#serveRead(req);
  }

  #releaseReadsWaitingCommit(): void {
    const waiting = this.#readsWaitingCommit;
    this.#readsWaitingCommit = [];
    for (const req of waiting) this.#serveRead(req);
  }

  #serveRead(req: ReadRequest): void {
    if (this.trk.isSingleton() || this.#leaseValid()) {
      this.#respondRead(req, this.log.committed);
      return;
    }
    this.#readsWaitingRound.push({ ...req, index: this.log.committed, round: this.hbRound + 1 });
    // Batch: if a round is already in flight, this read waits for the next one.
    if (this.trk.quorumAckedRound(this.id, this.hbRound) >= this.hbRound) this.bcastHeartbeat();
  }

  #releaseReadsWaitingRound(): void {
    const acked = this.trk.quorumAckedRound(this.id, this.hbRound);
    for (const k of this.#roundTicks.keys()) {
      if (k >= acked) break;
      this.#roundTicks.delete(k);
    }
    const waiting = this.#readsWaitingRound;
    if (waiting.length === 0) return;
    let released = 0;
    while (released < waiting.length && (waiting[released] as ReadRequest).round <= acked) released++;
    for (let i = 0; i < released; i++) {
      const req = waiting[i] as ReadRequest;
      this.#respondRead(req, req.index);
    }
    if (released > 0) this.#readsWaitingRound = waiting.slice(released);
    // Reads that arrived while the acknowledged round was in flight start the next round now,
    // rather than waiting for the heartbeat timer.
    if (this.#readsWaitingRound.length > 0 && acked >= this.hbRound) this.bcastHeartbeat();
  }

  #leaseValid(): boolean {
    if (this.cfg.readOnlyOption !== ReadOnlyOption.leaseBased || !this.cfg.checkQuorum) return false;
    if (this.#leaseRevoked || this.leadTransferee !== NONE) return false;
    const acked = this.trk.quorumAckedRound(this.id, this.hbRound);
    const sent = this.#roundTicks.get(acked);
    if (sent === undefined) return false;
    return this.tickCount < sent + this.cfg.electionTicks - this.cfg.leaseMarginTicks;
  }

  #respondRead(req: ReadRequest, index: Index): void {
    if (req.from === this.id || req.from === NONE) {
      this.readStates.push({ index, context: req.context });
    } else {
      this.send({ type: MessageType.readIndexResp, to: req.from, index, context: req.context });
    }
  }

  // ---------------------------------------------------------------- candidate and follower

  #stepCandidate(m: Message): void {
    switch (m.type) {
      case MessageType.prop:
        this.#ignore(m, "no leader (candidate)");
        return;
      case MessageType.app:
        this.becomeFollower(m.term, m.from);
        this.#handleAppend(m);
        return;
      case MessageType.heartbeat:
        this.becomeFollower(m.term, m.from);
        this.#handleHeartbeat(m);
        return;
      case MessageType.snap:
        this.becomeFollower(m.term, m.from);
        this.#handleSnapshot(m);
        return;
      case MessageType.preVoteResp:
      case MessageType.voteResp: {
        const expected =
          this.role === StateRole.preCandidate ? MessageType.preVoteResp : MessageType.voteResp;
        if (m.type !== expected) {
          this.#ignore(m, `stale ${m.type} in role ${this.role}`);
          return;
        }
        // A granted pre-vote answers our request for term+1; any other term is an older round.
        if (expected === MessageType.preVoteResp && !m.reject && m.term !== this.term + 1) {
          this.#ignore(m, "pre-vote response from an older round");
          return;
        }
        this.#poll(m.from, m.type, !m.reject);
        this.#checkElection(m.type);
        return;
      }
      default:
        this.#ignore(m, `not expected by a ${this.role}`);
    }
  }

  #stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.prop:
        this.#forward(m);
        return;
      case MessageType.app:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.#handleAppend(m);
        return;
      case MessageType.heartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.#handleHeartbeat(m);
        return;
      case MessageType.snap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.#handleSnapshot(m);
        return;
      case MessageType.transferLeader:
      case MessageType.readIndex:
        this.#forward(m);
        return;
      case MessageType.timeoutNow:
        this.cfg.logger.info("raft: campaigning at once on TimeoutNow", { id: this.id, from: m.from });
        this.hup(true);
        return;
      case MessageType.readIndexResp:
        this.readStates.push({ index: m.index, context: m.context });
        return;
      default:
        this.#ignore(m, "not expected by a follower");
    }
  }

  #forward(m: Message): void {
    if (this.lead === NONE) {
      this.#ignore(m, "no leader to forward to");
      return;
    }
    if (m.type === MessageType.prop && this.cfg.disableProposalForwarding) {
      this.#ignore(m, "proposal forwarding is disabled");
      return;
    }
    this.send({ ...m, to: this.lead, term: 0 });
  }

  #handleAppend(m: Message): void {
    if (m.index < this.log.committed) {
      this.send({ type: MessageType.appResp, to: m.from, index: this.log.committed });
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew >= 0) {
      if (this.abstaining && lastNew >= m.commit) {
        this.abstaining = false;
        this.cfg.logger.info("raft: caught up after storage repair, voting again", {
          id: this.id,
          index: lastNew,
        });
      }
      this.send({ type: MessageType.appResp, to: m.from, index: lastNew });
      return;
    }
    // Reject with a hint: the last index that might match, and its term, so the leader can
    // skip a whole term of conflicting entries at once.
    let hintIndex = Math.min(m.index, this.log.lastIndex());
    hintIndex = this.log.findConflictByTerm(hintIndex, m.logTerm);
    const hintTerm = this.log.term(hintIndex);
    this.send({
      type: MessageType.appResp,
      to: m.from,
      index: m.index,
      reject: true,
      rejectHint: hintIndex,
      logTerm: Math.max(hintTerm, 0),
    });
  }

  #handleHeartbeat(m: Message): void {
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.send({ type: MessageType.heartbeatResp, to: m.from, round: m.round, context: m.context });
  }

  #handleSnapshot(m: Message): void {
    const s = m.snapshot;
    if (s === null) {
      this.#ignore(m, "snapshot message without a snapshot");
      return;
    }
    if (this.#restore(s)) {
      this.cfg.logger.info("raft: restored snapshot", {
        id: this.id,
        index: s.metadata.index,
        term: s.metadata.term,
      });
      this.send({ type: MessageType.appResp, to: m.from, index: this.log.lastIndex() });
    } else {
      this.send({ type: MessageType.appResp, to: m.from, index: this.log.committed });
    }
  }

  /** Installs `s` unless it is not newer than our commit; returns whether it was installed. */
  #restore(s: Snapshot): boolean {
    const { index, term } = s.metadata;
    if (index <= this.log.committed) return false;
    assert(this.role === StateRole.follower, `restore: role is ${this.role}`);
    // A node added after the snapshot was taken is not in its configuration yet; it accepts the
    // snapshot anyway and learns of its own addition from the entries that follow.
    const cs = fromConfState(s.metadata.confState);
    if (this.log.matchTerm(index, term)) {
      // We already have the entry: fast-forward the commit instead of discarding the log.
      this.log.commitTo(index);
      return false;
    }
    this.log.restore(s);
    this.trk.progress = new Map();
    this.#installConfig(cs);
    return true;
  }

  // ---------------------------------------------------------------- configuration

  /** Replaces the configuration (used at start and on snapshot restore). */
  #installConfig(cfg: TrackerConfig): void {
    this.trk.config = {
      voters: new Set(),
      votersOutgoing: new Set(),
      learners: new Set(),
      learnersNext: new Set(),
      autoLeave: false,
    };
    this.trk.progress = new Map();
    const all = new Set([...cfg.voters, ...cfg.votersOutgoing, ...cfg.learners, ...cfg.learnersNext]);
    const next = this.log.lastIndex() + 1;
    for (const id of [...all].sort((a, b) => a - b)) {
      const isLearner = !cfg.voters.has(id) && !cfg.votersOutgoing.has(id);
      this.trk.progress.set(id, this.trk.newProgress(next, isLearner));
    }
    this.trk.config = cfg;
    this.#afterConfigChange();
  }

  /** Applies a committed conf-change entry (called when the driver has applied it). */
  applyConfChangeEntry(e: Entry): void {
    const cc = decodeConfChange(e.data);
    if (typeof cc === "string") {
      this.cfg.logger.warn("raft: skipped undecodable conf change", {
        id: this.id,
        index: e.index,
        reason: cc,
      });
      return;
    }
    const res = applyChange(this.trk, cc, this.log.lastIndex());
    if (!res.ok) {
      this.cfg.logger.warn("raft: skipped invalid conf change", {
        id: this.id,
        index: e.index,
        reason: res.error,
      });
      return;
    }
    this.trk.config = res.config;
    this.trk.progress = res.progress;
    for (const [id, pr] of res.progress) pr.isLearner = isLearnerIn(res.config, id);
    this.#afterConfigChange();
  }

  #afterConfigChange(): void {
    const self = this.trk.progress.get(this.id);
    this.isLearner = self?.isLearner ?? false;
    if (this.role !== StateRole.leader) return;
    if ((self === undefined || self.isLearner) && this.cfg.stepDownOnRemoval) {
      this.cfg.logger.info("raft: leader removed or demoted by a committed configuration, stepping down", {
        id: this.id,
      });
      // Tell the others the final commit index before going quiet.
      this.bcastAppend();
      this.becomeFollower(this.term, NONE);
      return;
    }
    if (this.leadTransferee !== NONE && !this.trk.isVoter(this.leadTransferee)) this.abortLeaderTransfer();
    if (self !== undefined && !self.isLearner) {
      if (this.maybeCommit()) this.bcastAppend();
      else for (const id of this.trk.progress.keys()) if (id !== this.id) this.maybeSendAppend(id, false);
    }
  }

  /** A leader in an auto-leave joint configuration proposes the empty change once it applied. */
  maybeAutoLeave(): void {
    if (this.role !== StateRole.leader || !this.trk.config.autoLeave || !isJoint(this.trk.config)) return;
    if (this.pendingConfIndex > this.log.applied) return;
    const data = encodeConfChange({
      transition: ConfChangeTransition.auto,
      changes: [],
      context: emptyBytes,
    });
    const res = this.propose(
      message({
        type: MessageType.prop,
        from: this.id,
        entries: [{ term: 0, index: 0, type: EntryType.confChange, data }],
      }),
    );
    if (!res.ok) this.cfg.logger.debug("raft: auto-leave deferred", { id: this.id, reason: res.reason });
  }

  /** The self-acknowledgement of entries the driver made durable (leader counts itself now). */
  ackOwnAppend(index: Index, term: Term): void {
    if (this.role !== StateRole.leader || this.log.term(index) !== term) return;
    const pr = this.trk.progress.get(this.id);
    if (pr === undefined) return;
    if (pr.maybeUpdate(index) && this.maybeCommit()) this.bcastAppend();
  }

  reduceUncommitted(ents: readonly Entry[]): void {
    if (this.role !== StateRole.leader) return;
    let bytes = 0;
    for (const e of ents) bytes += entryPayloadBytes(e);
    this.uncommittedBytes = Math.max(0, this.uncommittedBytes - bytes);
  }
}
