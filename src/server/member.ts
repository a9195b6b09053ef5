import { randomInt } from "node:crypto";
import { crc32 } from "node:zlib";
import { assert } from "../lib/assert.js";
import { useNativeCrc32 } from "../lib/crc32.js";
import { ErrorCode, SynodError } from "../lib/errors.js";
import { type Logger, noopLogger } from "../lib/logger.js";
import { SeededRng } from "../lib/rng.js";
import {
  type Command,
  type CommandResponse,
  commandRewritesHistory,
  decodeSnapshot,
  EMPTY_BYTES,
  encodeSnapshot,
  fromUtf8,
  type MvccResult,
  MvccStore,
  type MvccStoreOptions,
  snapshotSource,
  utf8,
  type WriteAuth,
} from "../mvcc/mod.js";
import { decodeConfChange } from "../raft/codec.js";
import { RawNode, type Ready } from "../raft/rawnode.js";
import { MemoryStorage } from "../raft/storage.js";
import {
  type ConfChangeSingle,
  type ConfState,
  type Entry,
  EntryType,
  type Message,
  MessageType,
  NONE,
  type NodeId,
  RejectReason,
  type RequestResult,
  type Snapshot,
  StateRole,
} from "../raft/types.js";
import { applyPersisted, storageFromRecovered } from "../wal/storage.js";
import { Wal, type WalOptions } from "../wal/wal.js";
import { type ApplyEvent, applyChannel, type SnapshotSaveEvent, snapshotSaveChannel } from "./diagnostics.js";
import {
  type ConfContext,
  decodeConfContext,
  decodeMemberSnapshot,
  EnvelopeEncoder,
  encodeConfContext,
  encodeMemberSnapshot,
  type HashCheck,
  type MemberInfo,
  unwrapCommand,
  unwrapHashCheck,
  wrapHashCheck,
} from "./envelope.js";
import { MemoryReclaimer, releaseBuffers } from "./memory.js";
import { SnapshotEncoder } from "./snapshotencoder.js";
import { snapshotDueIndex, snapshotPhase } from "./snapshotschedule.js";

// Snapshots (MVCC data and WAL files) are checksummed with zlib's CRC-32, about ten times faster
// than the pure layers' JS loop, with identical results.
useNativeCrc32(crc32);

/** How a member reaches its peers; the TCP peer transport implements it. */
export interface MemberTransport {
  send(msgs: readonly Message[]): void;
  addPeer(id: NodeId, url: string): void;
  removePeer(id: NodeId): void;
}

/** Settings of one member; see `docs/configuration.md` for their user-facing names. */
export interface MemberOptions {
  readonly id: NodeId;
  readonly dataDir: string;
  /** The members of a new cluster (used only on the first start with state `new`). */
  readonly initialCluster: readonly MemberInfo[];
  /** `new`: bootstrap from `initialCluster`; `existing`: join, learning everything from the leader. */
  readonly initialClusterState: "new" | "existing";
  /** Milliseconds per Raft tick (etcd's heartbeat interval). Default 100. */
  readonly heartbeatMs?: number;
  /** Election timeout in milliseconds (a multiple of the heartbeat). Default 1000. */
  readonly electionMs?: number;
  /** Applied entries between local snapshots (etcd's `--snapshot-count`). Default 100000. */
  readonly snapshotCount?: number;
  /**
   * Each member snapshots at its own phase of the interval (see `snapshotschedule.ts`) instead of
   * every member at the same index. Default false (etcd's schedule); the server turns it on.
   */
  readonly staggerSnapshots?: boolean;
  /** Entries kept in memory behind a snapshot for slow followers. Default 5000 (etcd's catch-up count). */
  readonly catchUpEntries?: number;
  /** Milliseconds a proposal or read may wait before failing with a timeout. Default 5000 + 2 × election. */
  readonly requestTimeoutMs?: number;
  readonly mvcc?: MvccStoreOptions;
  readonly wal?: WalOptions;
  /**
   * Awaited once a snapshot is encoded, before the encoding counts as done (compactions held back
   * meanwhile): tests hold an encoding open with it.
   */
  readonly snapshotHold?: () => Promise<void>;
  readonly transport: MemberTransport;
  readonly logger?: Logger;
}

interface Waiter<T> {
  readonly resolve: (value: T) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * A client waiting for its proposal to be applied. No timer of its own: every request has the
 * same timeout, so the map's insertion order is deadline order and one sweep per tick expires them.
 */
interface PendingProposal {
  readonly resolve: (value: MvccResult<CommandResponse>) => void;
  readonly reject: (err: Error) => void;
  /** `performance.now()` milliseconds after which it fails with a timeout. */
  readonly deadlineMs: number;
}

/** Largest number of ticks replayed after the process was paused (bounded catch-up). */
const catchUpTicksMax = 1000;
/** Lease revokes proposed per heartbeat (etcd's revoke rate is 1000/s). */
const leaseRevokesPerTickMax = 100;

/**
 * One Synod member: the Raft driver loop around a pure {@link RawNode}, durable through the
 * {@link Wal}, applying committed commands to the {@link MvccStore}. It owns the timers; requests
 * (`propose`, `linearizableRead`, membership changes) resolve once applied here.
 *
 * Loop: tick from a monotonic clock (every missed tick is replayed, so a paused process gives up
 * leadership and leases before serving again); proposals of one event-loop turn go to Raft as one
 * batch; each Ready: send the early messages, start the WAL write (group commit), apply what is
 * committed while it is in flight, then send the rest and advance.
 */
export class Member {
  readonly id: NodeId;
  readonly options: MemberOptions;
  readonly logger: Logger;
  store: MvccStore;
  readonly #raw: RawNode;
  readonly #wal: Wal;
  readonly #storage: MemoryStorage;
  readonly #transport: MemberTransport;
  readonly #heartbeatMs: number;
  readonly #electionMs: number;
  readonly #requestTimeoutMs: number;
  #members = new Map<NodeId, MemberInfo>();
  /** Request ids of this run: a random start, so a run never reuses an id of an earlier run. */
  #nextRequest = firstRequestId();
  readonly #pending = new Map<number, PendingProposal>();
  readonly #pendingConf = new Map<number, Waiter<void>>();
  #proposals: { requestId: number; data: Uint8Array }[] = [];
  readonly #encoder: EnvelopeEncoder;
  #readWaiters: Waiter<void>[] = [];
  readonly #readsInFlight = new Map<string, Waiter<void>[]>();
  readonly #readsWaitingApply: { index: number; waiters: Waiter<void>[] }[] = [];
  #readSeq = 0;
  #ticker: NodeJS.Timeout | null = null;
  #lastTickMs: number;
  #loopRunning = false;
  #loopDone: Promise<void> = Promise.resolve();
  #kicked = false;
  /** A snapshot is being encoded or its file written (see {@link #maybeSnapshot}). */
  #snapshotting = false;
  /** A snapshot of the state machine is being encoded: compactions wait (see {@link #applyCommitted}). */
  #encoding = false;
  /** Committed entries held back until the snapshot encoding ends (a compaction and what follows). */
  #heldBack: Entry[] = [];
  /** Entries applied while the current snapshot was encoded (reported with it). */
  #appliedWhileEncoding = 0;
  readonly #snapshotEncoder = new SnapshotEncoder();
  /** A Ready's WAL write is in flight (see {@link #whileWriting}). */
  #writing = false;
  #stopped = false;
  #leader = false;
  #revoking = false;
  readonly #reclaimer: MemoryReclaimer;

  private constructor(
    options: MemberOptions,
    wal: Wal,
    storage: MemoryStorage,
    store: MvccStore,
    members: MemberInfo[],
  ) {
    this.id = options.id;
    this.options = options;
    this.logger = options.logger ?? noopLogger;
    this.#reclaimer = new MemoryReclaimer(this.logger);
    this.#wal = wal;
    this.#storage = storage;
    this.store = store;
    this.#transport = options.transport;
    this.#heartbeatMs = options.heartbeatMs ?? 100;
    this.#electionMs = options.electionMs ?? 1000;
    assert(
      this.#electionMs >= 2 * this.#heartbeatMs,
      `Member: election timeout ${this.#electionMs} ms must be at least twice the heartbeat ${this.#heartbeatMs} ms`,
    );
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 5000 + 2 * this.#electionMs;
    this.#encoder = new EnvelopeEncoder(options.id);
    for (const m of members) this.#setMember(m);
    const applied = storage.snapshot().metadata.index;
    this.#raw = new RawNode({
      id: options.id,
      storage,
      rng: new SeededRng(Number(process.hrtime.bigint() % 2147483647n) ^ options.id),
      electionTicks: Math.floor(this.#electionMs / this.#heartbeatMs),
      heartbeatTicks: 1,
      applied,
      logger: this.logger,
    });
    this.#lastTickMs = nowMs();
  }

  /** Opens (or creates) the member's data directory and starts the loop. */
  static async start(options: MemberOptions): Promise<Member> {
    const logger = options.logger ?? noopLogger;
    const wal = await Wal.open(options.dataDir, { ...options.wal, logger });
    const recovered = wal.recovered;
    for (const r of recovered.repairs) logger.warn("member: storage repaired", { ...r });
    let storage: MemoryStorage;
    if (recovered.fresh && options.initialClusterState === "new") {
      const genesis = {
        snapshot: bootstrapSnapshot(options.initialCluster),
        hardState: { term: 1, vote: NONE, commit: 1 },
      };
      await wal.save(genesis);
      storage = new MemoryStorage();
      applyPersisted(storage, genesis);
    } else {
      storage = storageFromRecovered(recovered);
    }
    const { store, members } = restoreState(storage, options.mvcc ?? {});
    storage.releaseSnapshotData();
    wal.releaseRecovered();
    const member = new Member(options, wal, storage, store, members);
    if (
      options.initialClusterState === "existing" &&
      members.length === 0 &&
      storage.hardState.commit === 0
    ) {
      // A joining member knows nothing yet (a fresh data directory, or one restarted before the
      // leader reached it); it must still be able to answer the leader, which sends it the
      // configuration and state in a snapshot.
      for (const m of options.initialCluster) {
        const url = m.peerUrls[0];
        if (m.id !== options.id && url !== undefined) options.transport.addPeer(m.id, url);
      }
    }
    // Replay what this member already knows committed before serving anything.
    const commit = storage.hardState.commit;
    while (member.store.appliedIndex < commit && member.#raw.hasReady()) {
      await member.#handleReady(member.#raw.ready());
    }
    member.#ticker = setInterval(() => member.#onTimer(), member.#heartbeatMs);
    member.#kick();
    logger.info("member: started", { id: options.id, applied: store.appliedIndex, fresh: recovered.fresh });
    return member;
  }

  // ------------------------------------------------------------------ inputs

  /** A message from a peer (the transport calls this). */
  receive(m: Message): void {
    if (this.#stopped) return;
    this.#raw.step(m);
    this.#kick();
  }

  reportUnreachable(peer: NodeId): void {
    if (this.#stopped) return;
    this.#raw.reportUnreachable(peer);
    this.#kick();
  }

  reportSnapshotStatus(peer: NodeId, ok: boolean): void {
    if (this.#stopped) return;
    this.#raw.reportSnapshot(peer, ok);
    this.#kick();
  }

  #onTimer(): void {
    const now = nowMs();
    let ticks = Math.floor((now - this.#lastTickMs) / this.#heartbeatMs);
    this.#lastTickMs += ticks * this.#heartbeatMs;
    if (ticks > catchUpTicksMax) {
      this.logger.warn("member: the process was paused; replaying a bounded number of ticks", { ticks });
      ticks = catchUpTicksMax;
      this.#lastTickMs = now;
    }
    for (let i = 0; i < ticks; i++) this.#raw.tick();
    this.#expireProposals();
    if (this.#leader) this.#expireLeases();
    this.#kick();
  }

  // ------------------------------------------------------------------ requests

  /** Whether this member is the leader now. */
  get isLeader(): boolean {
    return this.#raw.raft.role === StateRole.leader;
  }

  /** The leader as this member knows it (NONE if unknown). */
  get leaderId(): NodeId {
    return this.#raw.raft.lead;
  }

  get raftTerm(): number {
    return this.#raw.raft.term;
  }

  /** Whether a snapshot of the state machine is being encoded (compactions wait for it). */
  get encodingSnapshot(): boolean {
    return this.#encoding;
  }

  get appliedIndex(): number {
    return this.store.appliedIndex;
  }

  get commitIndex(): number {
    return this.#raw.raft.log.committed;
  }

  /** Proposals and membership changes waiting to be applied (etcd's `proposals_pending`). */
  get proposalsPending(): number {
    return this.#pending.size + this.#pendingConf.size;
  }

  /**
   * Called as each member applies a hash check entry (see `alarms.ts`), with the store exactly as
   * of that entry.
   */
  onHashCheck: ((check: HashCheck) => void) | null = null;

  /**
   * Puts the leader's HashKV in the log for every member to compare with its own (fire and forget:
   * a check lost to a leader change is simply the next round's to do).
   */
  proposeHashCheck(check: HashCheck): void {
    if (this.#stopped) return;
    this.#proposals.push({ requestId: this.#nextRequest++, data: wrapHashCheck(check) });
    this.#kick();
  }

  /** Whether this member is a learner (a non-voting member) in the membership applied here. */
  get isLearner(): boolean {
    return this.#members.get(this.id)?.isLearner === true;
  }

  /** The current members, by id. */
  members(): MemberInfo[] {
    return [...this.#members.values()].sort((a, b) => a.id - b.id);
  }

  /**
   * Replicates `command` and resolves with its result (a value, or the state machine's expected
   * failure such as a compacted revision) once applied on this member. Rejects with a
   * {@link SynodError}: `SYNOD_NO_LEADER`, `SYNOD_REQUEST_TIMEOUT` after `requestTimeoutMs` (the
   * outcome is then unknown), or `SYNOD_MEMBER_STOPPED`. `auth`: the user and auth revision the API
   * layer checked the request's permissions with (see `MvccStore.checkWriteAuth`); omitted for the
   * server's own commands.
   */
  propose(command: Command, auth?: WriteAuth): Promise<MvccResult<CommandResponse>> {
    const requestId = this.#nextRequest++;
    const envelope = auth === undefined ? { requestId, command } : { requestId, command, auth };
    const data = this.#encoder.encode(envelope);
    return new Promise((resolve, reject) => {
      if (this.#stopped) return reject(stoppedError());
      this.#pending.set(requestId, {
        resolve,
        reject,
        deadlineMs: performance.now() + this.#requestTimeoutMs,
      });
      this.#proposals.push({ requestId, data });
      this.#kick();
    });
  }

  /** Fails the proposals whose time is up (the oldest first; see {@link PendingProposal}). */
  #expireProposals(): void {
    const now = performance.now();
    for (const [requestId, w] of this.#pending) {
      if (w.deadlineMs > now) break;
      this.#pending.delete(requestId);
      w.reject(timeoutError());
    }
  }

  /**
   * Resolves once this member has applied everything committed before the call (ReadIndex):
   * a local read after it is linearizable. Concurrent calls share one ReadIndex request.
   */
  linearizableRead(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#stopped) return reject(stoppedError());
      const waiter: Waiter<void> = {
        resolve: () => {
          clearTimeout(waiter.timer);
          resolve();
        },
        reject: (e) => {
          clearTimeout(waiter.timer);
          reject(e);
        },
        timer: setTimeout(() => {
          // Forget it wherever it waits (a read queued while no leader is known, for one).
          const i = this.#readWaiters.indexOf(waiter);
          if (i >= 0) this.#readWaiters.splice(i, 1);
          reject(timeoutError());
        }, this.#requestTimeoutMs),
      };
      this.#readWaiters.push(waiter);
      this.#kick();
    });
  }

  /**
   * Adds, promotes or removes members through Raft (joint consensus when several change at once)
   * and resolves once the change is applied here. `members` carries the new members' addresses.
   */
  changeMembership(changes: readonly ConfChangeSingle[], members: readonly MemberInfo[]): Promise<void> {
    const requestId = this.#nextRequest++;
    const context: ConfContext = { proposer: this.id, requestId, members };
    return new Promise((resolve, reject) => {
      if (this.#stopped) return reject(stoppedError());
      const res = this.#raw.proposeConfChange({
        transition: "auto",
        changes,
        context: encodeConfContext(context),
      });
      if (!res.ok) return reject(rejection(res));
      const timer = setTimeout(() => {
        this.#pendingConf.delete(requestId);
        reject(timeoutError());
      }, this.#requestTimeoutMs);
      this.#pendingConf.set(requestId, {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
        timer,
      });
      this.#kick();
    });
  }

  /** Asks the leader to hand leadership to `to`. */
  transferLeadership(to: NodeId): RequestResult {
    const res = this.#raw.transferLeader(to);
    this.#kick();
    return res;
  }

  /** Stops the loop, fails waiting requests, waits for the write in flight and closes the WAL. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#ticker !== null) clearInterval(this.#ticker);
    await this.#loopDone;
    const err = stoppedError();
    for (const w of this.#pending.values()) w.reject(err);
    for (const w of this.#pendingConf.values()) w.reject(err);
    for (const w of this.#readWaiters) w.reject(err);
    for (const ws of this.#readsInFlight.values()) for (const w of ws) w.reject(err);
    for (const r of this.#readsWaitingApply) for (const w of r.waiters) w.reject(err);
    this.#pending.clear();
    this.#pendingConf.clear();
    await this.#snapshotEncoder.close();
    await this.#wal.close();
  }

  // ------------------------------------------------------------------ the loop

  /**
   * Schedules one pass of the loop (many inputs in one turn share it), or, while a Ready's write
   * is in flight, one pass of what need not wait for it ({@link #whileWriting}).
   */
  #kick(): void {
    if (this.#kicked || this.#stopped) return;
    this.#kicked = true;
    setImmediate(() => {
      this.#kicked = false;
      if (!this.#loopRunning) this.#loopDone = this.#loop();
      else if (this.#writing && !this.#stopped) this.#whileWriting();
    });
  }

  /**
   * While the outstanding Ready's write is in flight: forwards a follower's proposals and reads to
   * the leader, sends a leader's appends and commit updates, applies newly committed entries and
   * answers their clients, and releases reads, so that nothing that does not depend on the
   * fdatasync waits for it.
   */
  #whileWriting(): void {
    // A follower's proposals and reads go to the leader now, not after this member's own write.
    if (!this.isLeader) this.#flushRequests();
    const { messages, committedEntries } = this.#raw.inFlight();
    this.#send(messages);
    this.#applyCommitted(committedEntries);
    if (committedEntries.length > 0) this.#releaseReads();
  }

  async #loop(): Promise<void> {
    this.#loopRunning = true;
    try {
      for (;;) {
        if (this.#stopped) return;
        this.#flushRequests();
        if (!this.#raw.hasReady()) return;
        await this.#handleReady(this.#raw.ready());
      }
    } catch (e) {
      this.logger.warn("member: loop failed", { error: String(e) });
      throw e;
    } finally {
      this.#loopRunning = false;
    }
  }

  /** Hands queued proposals and reads to Raft in one batch each. */
  #flushRequests(): void {
    if (this.#proposals.length > 0) {
      const batch = this.#proposals;
      this.#proposals = [];
      const res = this.#raw.proposeBatch(batch.map((p) => p.data));
      if (!res.ok && res.reason === RejectReason.noLeader) {
        // Wait for an election (bounded by each request's timeout) rather than fail at once.
        this.#proposals = batch.filter((p) => this.#pending.has(p.requestId)).concat(this.#proposals);
      } else if (!res.ok) {
        const err = rejection(res);
        for (const p of batch) {
          this.#pending.get(p.requestId)?.reject(err);
          this.#pending.delete(p.requestId);
        }
      }
    }
    if (this.#readWaiters.length > 0) {
      const waiters = this.#readWaiters;
      this.#readWaiters = [];
      const key = `r${this.#readSeq++}`;
      const res = this.#raw.readIndex(utf8(key));
      if (!res.ok && res.reason === RejectReason.noLeader)
        this.#readWaiters = waiters.concat(this.#readWaiters);
      else if (!res.ok) for (const w of waiters) w.reject(rejection(res));
      else this.#readsInFlight.set(key, waiters);
    }
  }

  async #handleReady(rd: Ready): Promise<void> {
    this.#send(rd.messagesEarly);
    let write: Promise<void> | null = null;
    if (rd.mustSync || rd.snapshot !== null || rd.entries.length > 0) {
      write = this.#wal.save({ snapshot: rd.snapshot, entries: rd.entries, hardState: rd.hardState });
    } else if (rd.hardState !== null) {
      // Only the commit index moved: no fdatasync of its own (the WAL writes it with the next
      // synced batch), and not waited for; as etcd, a crash may lose it, and the commit index is
      // learned again from the leader.
      this.#wal.save({ hardState: rd.hardState, sync: false }).catch((e: unknown) => {
        this.logger.warn("member: writing the commit index failed", { error: String(e) });
      });
    }
    // Committed entries are on a quorum's disks already, so they are applied (and their clients
    // answered) while this Ready's own write is in flight, as etcd's apply loop does; waiting for
    // it would add a whole fdatasync of newer entries to every answer. After a snapshot they wait,
    // since they apply on top of it.
    const applyNow = rd.snapshot === null;
    if (applyNow) this.#applyCommitted(rd.committedEntries);
    if (write !== null) {
      this.#writing = true;
      try {
        await write;
      } finally {
        this.#writing = false;
      }
    }
    if (rd.snapshot !== null) {
      this.#storage.applySnapshot(rd.snapshot);
      this.#installSnapshot();
      this.#storage.releaseSnapshotData();
    }
    this.#storage.append(rd.entries);
    if (rd.hardState !== null) this.#storage.setHardState(rd.hardState);
    this.#send(rd.messages);
    if (!applyNow) this.#applyCommitted(rd.committedEntries);
    for (const rs of rd.readStates) {
      const key = fromUtf8(rs.context);
      const waiters = this.#readsInFlight.get(key);
      if (waiters === undefined) continue;
      this.#readsInFlight.delete(key);
      this.#readsWaitingApply.push({ index: rs.index, waiters });
    }
    this.#raw.advance();
    if (rd.softState !== null) this.#onRoleChange();
    this.#releaseReads();
    this.#maybeSnapshot();
  }

  /**
   * Applies committed entries in order. While a snapshot is encoded, a compaction (which moves
   * the records the encoder reads) and every entry after it are held back until it ends.
   */
  #applyCommitted(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const applyStartMs = performance.now();
    if (!this.#encoding) for (const e of entries) this.#apply(e);
    else {
      for (const e of entries) {
        if (this.#heldBack.length > 0 || rewritesHistory(e)) this.#heldBack.push(e);
        else {
          this.#apply(e);
          this.#appliedWhileEncoding++;
        }
      }
    }
    this.#reclaimer.afterApply(this.store.releasedBytes);
    if (applyChannel.hasSubscribers) {
      applyChannel.publish({
        member: this.id,
        entries: entries.length,
        durationMs: performance.now() - applyStartMs,
        index: this.store.appliedIndex,
      } satisfies ApplyEvent);
    }
  }

  #apply(e: Entry): void {
    if (e.type === EntryType.confChange) {
      this.store.applyEntry(e.index, EMPTY_BYTES);
      this.#applyConfChange(e);
      return;
    }
    if (e.data.length === 0) {
      this.store.applyEntry(e.index, EMPTY_BYTES);
      return;
    }
    const check = unwrapHashCheck(e.data);
    if (check !== null) {
      this.store.applyEntry(e.index, EMPTY_BYTES);
      try {
        this.onHashCheck?.(check);
      } catch (err) {
        this.logger.warn("member: the hash check handler failed", { error: String(err) });
      }
      return;
    }
    const { member, command } = unwrapCommand(e.data);
    const outcome = this.store.applyEntry(e.index, command);
    if (outcome.type !== "command" || member !== this.id) return;
    const w = this.#pending.get(outcome.requestId);
    if (w === undefined) return;
    this.#pending.delete(outcome.requestId);
    w.resolve(outcome.result);
  }

  #applyConfChange(e: Entry): void {
    const cc = decodeConfChange(e.data);
    if (typeof cc === "string") return;
    const ctx = decodeConfContext(cc.context);
    const infos = new Map((ctx?.members ?? []).map((m) => [m.id, m]));
    for (const c of cc.changes) {
      if (c.type === "removeNode") {
        this.#members.delete(c.nodeId);
        if (c.nodeId !== this.id) this.#transport.removePeer(c.nodeId);
        continue;
      }
      const known = infos.get(c.nodeId) ?? this.#members.get(c.nodeId);
      if (known === undefined) continue;
      this.#setMember({ ...known, isLearner: c.type === "addLearner" });
    }
    if (ctx !== null && ctx.proposer === this.id) {
      const w = this.#pendingConf.get(ctx.requestId);
      this.#pendingConf.delete(ctx.requestId);
      w?.resolve();
    }
  }

  #setMember(m: MemberInfo): void {
    const before = this.#members.get(m.id)?.peerUrls[0];
    this.#members.set(m.id, m);
    const url = m.peerUrls[0];
    if (m.id === this.id || url === undefined || url === before) return;
    try {
      if (before !== undefined) this.#transport.removePeer(m.id);
      this.#transport.addPeer(m.id, url);
    } catch (e) {
      // The membership is replicated as it is; an address this member cannot use is logged.
      this.logger.warn("member: cannot reach a member at its peer URL", {
        peer: m.id,
        url,
        error: String(e),
      });
    }
  }

  #releaseReads(): void {
    const applied = this.store.appliedIndex;
    for (let i = this.#readsWaitingApply.length - 1; i >= 0; i--) {
      const r = this.#readsWaitingApply[i];
      if (r === undefined || r.index > applied) continue;
      this.#readsWaitingApply.splice(i, 1);
      for (const w of r.waiters) w.resolve();
    }
  }

  #onRoleChange(): void {
    const leader = this.isLeader;
    if (leader && !this.#leader) this.store.lessor.promote(nowMs(), this.#electionMs);
    if (!leader && this.#leader) this.store.lessor.demote();
    this.#leader = leader;
  }

  /** The leader revokes expired leases, after confirming it still leads (a ReadIndex round). */
  #expireLeases(): void {
    if (this.#revoking) return;
    const expired = this.store.lessor.expired(nowMs(), leaseRevokesPerTickMax);
    if (expired.length === 0) return;
    this.#revoking = true;
    this.linearizableRead()
      .then(() => {
        if (!this.isLeader) return;
        for (const id of expired) {
          this.propose({ type: "leaseRevoke", id }).catch((e) =>
            this.logger.debug("member: lease revoke failed; retried later", { lease: id, error: String(e) }),
          );
        }
      })
      .catch(() => undefined)
      .finally(() => {
        this.#revoking = false;
      });
  }

  // ------------------------------------------------------------------ snapshots

  /**
   * Takes a snapshot every `snapshotCount` applied entries (at this member's phase of the interval
   * with `staggerSnapshots`), one at a time, in the background. The state as of `applied` is
   * captured in this turn and encoded into chunks (never joined in memory) by the
   * {@link SnapshotEncoder}'s thread while the loop goes on applying (new revisions only append
   * records, which the encoder leaves out; a compaction waits, see
   * {@link #applyCommitted}). The file is then written, and only once it is durable does the
   * storage record the snapshot and drop the log before it (keeping `catchUpEntries`).
   */
  #maybeSnapshot(): void {
    if (this.#snapshotting) return;
    const count = this.options.snapshotCount ?? 100_000;
    const snapIndex = this.#storage.snapshot().metadata.index;
    const applied = this.store.appliedIndex;
    const phase = this.options.staggerSnapshots ? snapshotPhase(this.#members.keys(), this.id, count) : null;
    if (applied < snapshotDueIndex(snapIndex, count, phase)) return;
    // A follower may have applied entries it has not yet written (committed ones that arrived
    // during its last write, see #whileWriting): the snapshot waits until they are in the log.
    if (applied > this.#storage.lastIndex()) return;
    this.#snapshotting = true;
    this.#takeSnapshot(applied)
      .catch((e: unknown) => {
        if (!this.#stopped)
          this.logger.warn("member: taking a snapshot failed", { index: applied, error: String(e) });
      })
      .finally(() => {
        this.#snapshotting = false;
      });
  }

  async #takeSnapshot(applied: number): Promise<void> {
    const startMs = performance.now();
    const confState = this.#raw.confState();
    const term = this.#storage.term(applied);
    const store = this.store;
    let parts: Uint8Array[];
    this.#encoding = true;
    this.#appliedWhileEncoding = 0;
    try {
      // The state as of `applied` is captured in this turn; the thread encodes it meanwhile.
      parts = await this.#snapshotEncoder.encode(this.members(), snapshotSource(store));
      await this.options.snapshotHold?.();
      // A snapshot installed from the leader replaced the store: this one is stale.
      if (this.#stopped || this.store !== store) {
        releaseBuffers(parts);
        return;
      }
    } finally {
      this.#encoding = false;
      this.#releaseHeldBack();
    }
    const encodeMs = performance.now() - startMs;
    const appliedWhileEncoding = this.#appliedWhileEncoding;
    let bytes = 0;
    for (const p of parts) bytes += p.length;
    try {
      await this.#wal.saveSnapshotParts({ index: applied, term, confState }, parts);
    } finally {
      // Written (or failed) and not needed again: the file is read back to send it. Freed now
      // rather than by a full collection, which would stop the member for tens of milliseconds.
      releaseBuffers(parts);
    }
    this.#snapshotSaved(applied, confState, bytes, startMs, encodeMs, appliedWhileEncoding);
  }

  /** Applies the entries held back while a snapshot was encoded. */
  #releaseHeldBack(): void {
    if (this.#heldBack.length === 0 || this.#stopped) return;
    const entries = this.#heldBack;
    this.#heldBack = [];
    this.#applyCommitted(entries);
    this.#releaseReads();
    this.#kick();
  }

  /** The snapshot at `applied` is on disk: the storage records it and compacts the log. */
  #snapshotSaved(
    applied: number,
    confState: ConfState,
    bytes: number,
    startMs: number,
    encodeMs: number,
    appliedWhileEncoding: number,
  ): void {
    // A snapshot installed from the leader meanwhile supersedes it.
    if (this.#stopped || applied <= this.#storage.snapshot().metadata.index) return;
    this.#storage.createSnapshot(applied, confState, EMPTY_BYTES);
    const keep = this.options.catchUpEntries ?? 5000;
    const compactTo = applied - keep;
    if (compactTo > this.#storage.firstIndex()) this.#storage.compact(compactTo);
    const durationMs = performance.now() - startMs;
    if (snapshotSaveChannel.hasSubscribers) {
      snapshotSaveChannel.publish({
        member: this.id,
        index: applied,
        bytes,
        durationMs,
        encodeMs,
        appliedWhileEncoding,
      } satisfies SnapshotSaveEvent);
    }
    this.logger.info("member: snapshot saved", {
      index: applied,
      bytes,
      ms: Math.round(durationMs),
      encodeMs: Math.round(encodeMs),
      appliedWhileEncoding,
    });
  }

  /**
   * Sends Raft's messages. The storage keeps no snapshot data in memory once the snapshot is on
   * disk (a whole copy of the state), so a snapshot message is sent after its data is read back.
   */
  #send(msgs: readonly Message[]): void {
    if (msgs.length === 0) return;
    if (!msgs.some((m) => m.type === MessageType.snap)) {
      this.#transport.send(msgs);
      return;
    }
    this.#transport.send(msgs.filter((m) => m.type !== MessageType.snap));
    for (const m of msgs) {
      if (m.type === MessageType.snap) void this.#sendSnapshot(m);
    }
  }

  async #sendSnapshot(m: Message): Promise<void> {
    const snap = m.snapshot;
    if (snap === null || snap.data.length > 0 || snap.metadata.index === 0) {
      this.#transport.send([m]);
      return;
    }
    const loaded = await this.#wal.readSnapshot(snap.metadata.index, snap.metadata.term);
    if (this.#stopped) return;
    if (typeof loaded === "string") {
      this.logger.warn("member: cannot load the snapshot to send; the leader retries", {
        to: m.to,
        error: loaded,
      });
      this.#raw.reportSnapshot(m.to, false);
      this.#kick();
      return;
    }
    this.#transport.send([{ ...m, snapshot: loaded }]);
  }

  /** Replaces the state machine with the snapshot Raft just installed (from the leader). */
  #installSnapshot(): void {
    // Entries held back for a snapshot encoding are older than the installed snapshot.
    this.#heldBack = [];
    const { store, members } = restoreState(this.#storage, this.options.mvcc ?? {});
    store.adoptWatchers(this.store);
    this.store = store;
    this.#members = new Map();
    for (const m of members) this.#setMember(m);
    this.logger.info("member: installed snapshot", { index: store.appliedIndex });
  }
}

/** Whether a committed entry compacts the MVCC history (see {@link commandRewritesHistory}). */
function rewritesHistory(e: Entry): boolean {
  if (e.type !== EntryType.normal || e.data.length === 0 || unwrapHashCheck(e.data) !== null) return false;
  return commandRewritesHistory(unwrapCommand(e.data).command);
}

function nowMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}

/**
 * The first request id of a member's run. A command carries (proposer id, request id) and the
 * proposer answers the waiting client when it applies it; commands proposed by an earlier run of
 * the same member id may be applied after a restart (entries beyond the commit index it had saved,
 * or the whole log when it rejoins with an empty data directory), so each run takes its ids from
 * its own random range (2^21 ids apart at least; as etcd's generator prefixes its ids per start).
 */
function firstRequestId(): number {
  return randomInt(1, 2 ** 31) * 2 ** 21;
}

function timeoutError(): SynodError {
  return new SynodError(ErrorCode.requestTimeout, "etcdserver: request timed out");
}

function noLeaderError(): SynodError {
  return new SynodError(ErrorCode.noLeader, "etcdserver: no leader");
}

function stoppedError(): SynodError {
  return new SynodError(ErrorCode.memberStopped, "etcdserver: server stopped");
}

function rejection(res: RequestResult): SynodError {
  if (res.ok) return new SynodError(ErrorCode.invalidArgument, "not rejected");
  switch (res.reason) {
    case RejectReason.noLeader:
      return noLeaderError();
    case RejectReason.transferInProgress:
      return new SynodError(ErrorCode.transferInProgress, "etcdserver: leader changed");
    case RejectReason.uncommittedFull:
      return new SynodError(ErrorCode.proposalDropped, "etcdserver: too many requests");
    case RejectReason.confChangePending:
      return new SynodError(ErrorCode.confChangePending, `etcdserver: ${res.detail}`);
    case RejectReason.confChangeInvalid:
      return new SynodError(ErrorCode.confChangeInvalid, `etcdserver: ${res.detail}`);
    case RejectReason.notMember:
      return new SynodError(
        ErrorCode.notMember,
        "etcdserver: the member has been permanently removed from the cluster",
      );
    case RejectReason.invalid:
      return new SynodError(ErrorCode.invalidArgument, `etcdserver: ${res.detail}`);
  }
}

/** The genesis snapshot of a new cluster: configuration and membership at index 1, empty store. */
function bootstrapSnapshot(initial: readonly MemberInfo[]): Snapshot {
  const confState: ConfState = {
    voters: initial.filter((m) => !m.isLearner).map((m) => m.id),
    votersOutgoing: [],
    learners: initial.filter((m) => m.isLearner).map((m) => m.id),
    learnersNext: [],
    autoLeave: false,
  };
  const store = new MvccStore();
  store.restoreAppliedIndex(1);
  const data = encodeMemberSnapshot(initial, encodeSnapshot(store));
  return { metadata: { index: 1, term: 1, confState }, data };
}

/** The state machine and membership as of the storage's snapshot (entries after it replay). */
function restoreState(
  storage: MemoryStorage,
  options: MvccStoreOptions,
): { store: MvccStore; members: MemberInfo[] } {
  const snap = storage.snapshot();
  if (snap.data.length === 0) {
    const store = new MvccStore(options);
    store.restoreAppliedIndex(snap.metadata.index);
    return { store, members: [] };
  }
  const parts = decodeMemberSnapshot(snap.data);
  assert(typeof parts !== "string", `member snapshot at ${snap.metadata.index} is unreadable: ${parts}`);
  const store = decodeSnapshot([parts.mvcc], options);
  assert(typeof store !== "string", `MVCC snapshot at ${snap.metadata.index} is unreadable: ${store}`);
  store.restoreAppliedIndex(snap.metadata.index);
  return { store, members: parts.members };
}
