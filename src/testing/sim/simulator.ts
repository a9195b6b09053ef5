import { assert } from "../../lib/assert.js";
import { type Logger, noopLogger } from "../../lib/logger.js";
import { SeededRng } from "../../lib/rng.js";
import type { InjectedBugs } from "../../raft/config.js";
import { RawNode, type Ready } from "../../raft/rawnode.js";
import type { MemoryStorage } from "../../raft/storage.js";
import {
  type ConfChangeSingle,
  type ConfState,
  EntryType,
  type Message,
  MessageType,
  NONE,
  type NodeId,
  StateRole,
} from "../../raft/types.js";
import { WalCore } from "../../wal/core.js";
import type { FileOp } from "../../wal/plan.js";
import { recover } from "../../wal/recover.js";
import { applyPersisted, bootstrapRequest, storageFromRecovered } from "../../wal/storage.js";
import { SimDisk } from "../simdisk.js";
import { type Operation, RegisterHistory } from "./history.js";
import { Invariants, InvariantViolation } from "./invariants.js";
import { EventQueue } from "./queue.js";
import { decodeCommand, encodeCommand, RegisterMachine } from "./statemachine.js";

/** Options of one simulated run. */
export interface SimOptions {
  readonly seed: number;
  /** Initial voters: 3 or 5. */
  readonly nodes: number;
  /** Length of the fault phase, in ticks of a node's clock. Default 600. */
  readonly faultTicks?: number;
  /**
   * Fault profile: `swarm` (default) draws a different mix and intensity of faults per seed;
   * `churn` keeps deposing fresh and freshly-committing leaders (where commit-rule bugs show).
   */
  readonly profile?: "swarm" | "churn";
  /** Ticks allowed, after every fault heals, for a leader to emerge and a write to commit everywhere. */
  readonly livenessTicks?: number;
  /** Read mode of every node. Default `safe`. */
  readonly readOnlyOption?: "safe" | "leaseBased";
  /** Deliberate core bugs (the simulator must find them). */
  readonly bugs?: InjectedBugs;
  /** Receives a line per notable event when set. */
  readonly trace?: (line: string) => void;
  readonly logger?: Logger;
}

/** What a run did, for reporting. */
export interface SimStats {
  events: number;
  ticks: number;
  messages: number;
  crashes: number;
  confChanges: number;
  transfers: number;
  partitions: number;
  writesAcked: number;
  readsOk: number;
  snapshots: number;
  committed: number;
  leaders: number;
}

/** The outcome: ok with statistics, or the first violated property. */
export type SimResult =
  | { readonly ok: true; readonly stats: SimStats }
  | { readonly ok: false; readonly error: string; readonly stats: SimStats };

type SimEvent =
  | { readonly kind: "tick"; readonly node: NodeId; readonly life: number }
  | { readonly kind: "deliver"; readonly msg: Message }
  | { readonly kind: "persisted"; readonly node: NodeId; readonly life: number }
  | { readonly kind: "nemesis" }
  | {
      readonly kind: "depose";
      readonly node: NodeId;
      readonly life: number;
      readonly term: number;
    }
  | { readonly kind: "client"; readonly client: number }
  | { readonly kind: "timeout"; readonly op: number }
  | { readonly kind: "restart"; readonly node: NodeId; readonly life: number }
  | { readonly kind: "reconnect"; readonly node: NodeId }
  | { readonly kind: "crashPoint"; readonly node: NodeId; readonly life: number }
  | {
      readonly kind: "snapStatus";
      readonly node: NodeId;
      readonly life: number;
      readonly peer: NodeId;
      readonly ok: boolean;
    };

interface SimNode {
  readonly id: NodeId;
  /** What Raft reads: rebuilt from the WAL on every start, updated as writes become durable. */
  storage: MemoryStorage;
  /** The simulated disk under the node's data directory (survives crashes, loses what it must). */
  readonly disk: SimDisk;
  /** The real WAL logic, rebuilt from recovery on every start. */
  wal: WalCore;
  /** The fsync that completes the Ready in flight, and the cleanup after it. */
  pendingSync: readonly FileOp[];
  pendingCleanup: readonly FileOp[];
  raw: RawNode | null;
  /** Bumped on every crash; events of an older life are void. */
  life: number;
  sm: RegisterMachine;
  pending: Ready | null;
  /** ReadIndex results waiting for the state machine to catch up. */
  reads: { op: number; index: number }[];
  /** Virtual time units per tick: each node's clock runs at its own rate. */
  tickEvery: number;
  /** Commit index at the last observation (to spot commit advances). */
  seenCommit: number;
}

interface PendingOp {
  readonly op: Operation;
  readonly node: NodeId;
  readonly life: number;
}

/** The periodic fault actions; each run weighs them differently. */
const nemesisActions = [
  "partition",
  "isolateLeader",
  "asymmetric",
  "partial",
  "heal",
  "heal",
  "crash",
  "restart",
  "restart",
  "confChange",
  "transfer",
  "weather",
] as const;

/** Virtual time units in a nominal tick. */
const tickUnits = 10;
const keys = ["x", "y", "z"];
/** Entries kept behind a snapshot when a node compacts. */
const compactKeep = 20;
/** Applied entries between a node's snapshots. */
const snapshotEvery = 60;
/** Client operation timeout, in time units. */
const opTimeout = 40 * tickUnits;

/**
 * A deterministic, seeded simulation of a whole Raft cluster in virtual time: message delay,
 * reordering, duplication and loss; symmetric, asymmetric and partial partitions; crashes that
 * lose every write not yet durable; membership changes and leadership transfers during faults;
 * clients writing and reading (ReadIndex) registers. Every property in {@link Invariants} is checked
 * after every event and reads are checked for linearizability; after the faults heal, a leader
 * must emerge and a new write must commit on every member within a bounded number of ticks.
 */
export class Simulation {
  readonly opts: Required<Omit<SimOptions, "bugs" | "trace" | "logger" | "profile">> & { bugs: InjectedBugs };
  readonly rng: SeededRng;
  readonly queue = new EventQueue<SimEvent>();
  readonly nodes = new Map<NodeId, SimNode>();
  readonly inv = new Invariants();
  readonly history = new RegisterHistory();
  readonly stats: SimStats = {
    events: 0,
    ticks: 0,
    messages: 0,
    crashes: 0,
    confChanges: 0,
    transfers: 0,
    partitions: 0,
    writesAcked: 0,
    readsOk: 0,
    snapshots: 0,
    committed: 0,
    leaders: 0,
  };
  readonly #trace: ((line: string) => void) | undefined;
  readonly #logger: Logger;
  time = 0;
  /** Directed links that drop everything: `from*1000+to`. */
  readonly #cut = new Set<number>();
  #loss = 0;
  #dup = 0;
  #delayMax = 10;
  #faults = true;
  #nextOp = 1;
  /** Per-run append size: 1 byte forces one entry per message, so entries travel separately. */
  readonly #entriesBytesPerMessageMax: number;
  /** Per-run WAL segment size: small, so that rotation and release happen often. */
  readonly #segmentBytes: number;
  /**
   * Per-run fault profile ("swarm testing": each seed enables a different mix and intensity of
   * faults, which finds more bugs than one fixed mix). Deposing leaders right after they win or
   * right after they commit is where commit-rule and vote-durability bugs surface.
   */
  readonly #profile: {
    /** Chance to depose a leader right after it wins. */
    readonly deposeOnWin: number;
    /** Chance to depose a leader right after its commit index advances. */
    readonly deposeOnCommit: number;
    /** Chance that a depose is a crash (else an isolation that drops messages in flight). */
    readonly crash: number;
    /** How long a deposed leader stays away, in ticks (upper bound). */
    readonly awayTicks: number;
    /** Chance that a write's fsync fails (EIO), which crashes the node. */
    readonly fsyncFailure: number;
    /** Chance to crash a node right after it grants a vote (and restart it soon). */
    readonly crashAfterVote: number;
    /** Relative weights of the periodic nemesis actions. */
    readonly weights: readonly number[];
  };
  readonly #ops = new Map<number, PendingOp>();
  readonly #spare: NodeId[] = [];
  readonly #ackedWrites: { value: number; index: number }[] = [];

  constructor(options: SimOptions) {
    assert(
      options.nodes === 3 || options.nodes === 5,
      `Simulation: 'nodes' must be 3 or 5, got ${options.nodes}`,
    );
    this.opts = {
      seed: options.seed,
      nodes: options.nodes,
      faultTicks: options.faultTicks ?? 600,
      livenessTicks: options.livenessTicks ?? 300,
      readOnlyOption: options.readOnlyOption ?? "safe",
      bugs: options.bugs ?? {},
    };
    this.#trace = options.trace;
    this.#logger = options.logger ?? noopLogger;
    this.rng = new SeededRng(options.seed);
    this.#entriesBytesPerMessageMax = this.#pick([1, 1, 64, 4096]) ?? 64;
    this.#segmentBytes = this.#pick([2048, 8192, 65536]) ?? 8192;
    const swarm = {
      deposeOnWin: this.#pick([0.3, 0.7]) ?? 0,
      deposeOnCommit: this.#pick([0.03, 0.15, 0.3]) ?? 0,
      crash: this.#pick([0, 0.3, 0.7]) ?? 0.5,
      awayTicks: this.#pick([5, 20, 40]) ?? 20,
      fsyncFailure: this.#pick([0, 0, 0.002, 0.01]) ?? 0,
      crashAfterVote: this.#pick([0, 0.1, 0.3]) ?? 0,
      weights: nemesisActions.map(() => this.#pick([0, 1, 1, 2, 4]) ?? 1),
    };
    // `churn`: leaders are deposed (isolated, in-flight messages dropped) right after winning
    // and right after committing, and come back soon; other faults as in the swarm.
    this.#profile =
      options.profile === "churn"
        ? { ...swarm, deposeOnWin: 0.7, deposeOnCommit: 0.3, crash: 0, awayTicks: 20 }
        : swarm;
    const voters = Array.from({ length: options.nodes }, (_, i) => i + 1);
    for (let i = 1; i <= 3; i++) this.#spare.push(options.nodes + i);
    const conf: ConfState = { voters, votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false };
    for (const id of voters) this.#addNode(id, conf);
  }

  #log(line: string): void {
    if (this.#trace !== undefined) this.#trace(`${String(this.time).padStart(7)} ${line}`);
  }

  /**
   * Creates a node with an empty disk; a member of the initial cluster first persists the
   * bootstrap (a genesis snapshot at index 1) through its WAL.
   */
  #addNode(id: NodeId, conf: ConfState | null): SimNode {
    const disk = new SimDisk(new SeededRng(this.opts.seed * 31 + id));
    const opened = this.#openWal(id, disk);
    if (conf !== null) {
      const plan = opened.wal.append([bootstrapRequest(conf)]);
      const ok = disk.execute(plan.ops).ok && disk.execute(plan.cleanup).ok;
      assert(ok, "bootstrap write failed on a fault-free disk");
    }
    const node: SimNode = {
      id,
      disk,
      storage: opened.storage,
      wal: opened.wal,
      pendingSync: [],
      pendingCleanup: [],
      raw: null,
      life: 0,
      sm: new RegisterMachine(),
      pending: null,
      reads: [],
      tickEvery: tickUnits - 1 + this.rng.intBelow(3),
      seenCommit: 0,
    };
    this.nodes.set(id, node);
    this.#start(node);
    return node;
  }

  /**
   * Recovers a WAL from whatever the disk holds, through the real recovery code, and runs its
   * repairs. A refusal to start is a violation here: the disk model never corrupts synced data.
   */
  #openWal(id: NodeId, disk: SimDisk): { wal: WalCore; storage: MemoryStorage; cut: boolean } {
    const recovered = recover(disk.files());
    if (!recovered.ok)
      throw new InvariantViolation(`node ${id}: WAL recovery refused to start: ${recovered.message}`);
    const wal = new WalCore(recovered, { segmentBytes: this.#segmentBytes });
    const opened = disk.execute(wal.openPlan().ops);
    assert(opened.ok, `node ${id}: the WAL open plan failed on a disk without injected faults`);
    const storage = storageFromRecovered(recovered);
    this.inv.persistedEntries(id, recovered.entries, (i) => storage.term(i));
    this.inv.persistedHardState(id, storage.hardState);
    if (recovered.cut) this.#log(`node ${id}: recovery cut a damaged tail`);
    return { wal, storage, cut: recovered.cut };
  }

  #start(node: SimNode): void {
    const { wal, storage } = this.#openWal(node.id, node.disk);
    node.wal = wal;
    node.storage = storage;
    const snap = node.storage.snapshot();
    node.sm = RegisterMachine.restore(snap.data);
    node.sm.applied = snap.metadata.index;
    node.raw = new RawNode({
      id: node.id,
      storage: node.storage,
      rng: new SeededRng(this.opts.seed * 7919 + node.id * 104729 + node.life),
      applied: snap.metadata.index,
      readOnlyOption: this.opts.readOnlyOption,
      bugs: this.opts.bugs,
      logger: this.#logger,
      entriesBytesPerMessageMax: this.#entriesBytesPerMessageMax,
      inflightMessagesMax: 8,
      // Not set from `cut`: the disk model tears only writes that were never synced, hence never
      // acknowledged, and abstaining on every torn tail would leave a cluster whose members all
      // crashed mid-write (or a single voter) unable to elect anyone. See docs/raft.md.
      abstainUntilCaughtUp: false,
    });
    node.pending = null;
    node.reads = [];
    this.inv.restarted(node.id, node.storage.hardState.commit);
    this.queue.push(this.time + 1 + this.rng.intBelow(node.tickEvery), {
      kind: "tick",
      node: node.id,
      life: node.life,
    });
  }

  /** Runs the whole scenario; never throws for a property violation (returns it). */
  run(): SimResult {
    try {
      this.#runPhases();
      return { ok: true, stats: this.stats };
    } catch (e) {
      if (e instanceof InvariantViolation) return { ok: false, error: e.message, stats: this.stats };
      throw e;
    }
  }

  #runPhases(): void {
    for (let c = 0; c < 3; c++)
      this.queue.push(this.rng.intBelow(5 * tickUnits), { kind: "client", client: c });
    this.queue.push(20 * tickUnits, { kind: "nemesis" });
    const faultEnd = this.opts.faultTicks * tickUnits;
    this.#runUntil(faultEnd);
    this.#healEverything();
    this.#checkLiveness();
  }

  #runUntil(end: number): void {
    for (;;) {
      const next = this.queue.pop();
      if (next === undefined || next.time > end) {
        if (next !== undefined) this.queue.push(next.time, next.event);
        this.time = end;
        return;
      }
      this.time = next.time;
      this.#handle(next.event);
      this.stats.events++;
      this.#observe();
    }
  }

  /** Runs the invariant checks over every live node. */
  #observe(): void {
    for (const n of this.nodes.values()) {
      if (n.raw === null) continue;
      const r = n.raw.raft;
      this.inv.observeNode(n.id, r.role, r.term, r.log);
      if (r.role === StateRole.leader && r.log.committed > n.seenCommit) {
        // A leader that just advanced its commit is the most interesting one to lose: its
        // followers may not have heard of the commit, nor of the entries right after it.
        if (this.#faults && this.rng.float() < this.#profile.deposeOnCommit) {
          // Often before the messages sent with the commit arrive (a cut drops those in flight).
          const at = this.time + this.rng.intBelow(3);
          this.queue.push(at, { kind: "depose", node: n.id, life: n.life, term: r.term });
        }
      }
      n.seenCommit = r.log.committed;
    }
  }

  #handle(ev: SimEvent): void {
    switch (ev.kind) {
      case "tick":
        this.#onTick(ev.node, ev.life);
        return;
      case "deliver":
        this.#onDeliver(ev.msg);
        return;
      case "persisted":
        this.#onPersisted(ev.node, ev.life);
        return;
      case "nemesis":
        this.#onNemesis();
        return;
      case "client":
        this.#onClient(ev.client);
        return;
      case "timeout":
        this.#onTimeout(ev.op);
        return;
      case "crashPoint": {
        const n = this.#node(ev.node);
        if (!this.#faults || n.life !== ev.life || n.raw === null) return;
        this.#crashNode(n);
        const at = this.time + this.rng.intBelow(this.#profile.awayTicks * tickUnits);
        this.queue.push(at, { kind: "restart", node: n.id, life: n.life });
        return;
      }
      case "reconnect":
        for (const b of this.#ids()) {
          this.#cut.delete(ev.node * 1000 + b);
          this.#cut.delete(b * 1000 + ev.node);
        }
        this.#log(`reconnect node ${ev.node}`);
        return;
      case "restart": {
        const n = this.#node(ev.node);
        if (n.life !== ev.life || n.raw !== null) return;
        n.life++;
        this.#start(n);
        this.#log(`restart node ${n.id}`);
        return;
      }
      case "depose":
        this.#onDepose(ev.node, ev.life, ev.term);
        return;
      case "snapStatus":
        this.#onSnapStatus(ev.node, ev.life, ev.peer, ev.ok);
        return;
    }
  }

  #node(id: NodeId): SimNode {
    const n = this.nodes.get(id);
    assert(n !== undefined, `no node ${id}`);
    return n;
  }

  #onTick(id: NodeId, life: number): void {
    const n = this.#node(id);
    if (n.life !== life || n.raw === null) return;
    this.stats.ticks++;
    n.raw.tick();
    this.#pump(n);
    this.queue.push(this.time + n.tickEvery, { kind: "tick", node: id, life });
  }

  // ------------------------------------------------------------------ network

  #send(msgs: readonly Message[]): void {
    for (const m of msgs) {
      this.stats.messages++;
      if (
        m.type === MessageType.voteResp &&
        !m.reject &&
        this.#faults &&
        this.rng.float() < this.#profile.crashAfterVote
      ) {
        // A crash right after voting: the vote must already be durable (or the restarted node
        // could vote again in the same term).
        const voter = this.#node(m.from);
        this.queue.push(this.time + this.rng.intBelow(3), {
          kind: "crashPoint",
          node: m.from,
          life: voter.life,
        });
      }
      const lost = this.#cut.has(m.from * 1000 + m.to) || (this.#faults && this.rng.float() < this.#loss);
      const delay = 1 + this.rng.intBelow(this.#delayMax);
      if (m.type === MessageType.snap) {
        // The transport reports a snapshot's fate to the sender, as a real one does when the
        // stream ends; without it the leader would wait in snapshot state forever.
        const sender = this.#node(m.from);
        this.queue.push(this.time + delay, {
          kind: "snapStatus",
          node: m.from,
          life: sender.life,
          peer: m.to,
          ok: !lost,
        });
      }
      if (lost) continue;
      const copies = this.#faults && this.rng.float() < this.#dup ? 2 : 1;
      for (let i = 0; i < copies; i++) {
        this.queue.push(this.time + (i === 0 ? delay : 1 + this.rng.intBelow(this.#delayMax)), {
          kind: "deliver",
          msg: m,
        });
      }
    }
  }

  #onSnapStatus(id: NodeId, life: number, peer: NodeId, ok: boolean): void {
    const n = this.#node(id);
    if (n.life !== life || n.raw === null) return;
    n.raw.reportSnapshot(peer, ok);
    this.#pump(n);
  }

  #onDeliver(m: Message): void {
    const n = this.nodes.get(m.to);
    if (n === undefined || n.raw === null) return;
    if (this.#cut.has(m.from * 1000 + m.to)) return;
    n.raw.step(m);
    this.#pump(n);
  }

  // ------------------------------------------------------------------ the driver loop of one node

  /** Takes a Ready if none is in flight: early messages go now, the write completes later. */
  #pump(n: SimNode): void {
    if (n.raw === null || n.pending !== null || !n.raw.hasReady()) return;
    const rd = n.raw.ready();
    n.pending = rd;
    if (rd.softState !== null && rd.softState.role === StateRole.leader) {
      this.stats.leaders++;
      this.#log(`node ${n.id} leader of term ${n.raw.raft.term}`);
      // Deposing fresh leaders before their no-op spreads leaves uncommitted entries of many
      // terms scattered over the logs: the raw material of Figure 8 and of lost-vote bugs.
      if (this.#faults && this.rng.float() < this.#profile.deposeOnWin) {
        const at = this.time + this.rng.intBelow(2 * tickUnits);
        this.queue.push(at, { kind: "depose", node: n.id, life: n.life, term: n.raw.raft.term });
      }
    }
    this.#send(rd.messagesEarly);
    // The WAL's writes reach the page cache now; the fsync that makes them durable completes
    // later, and a crash in between keeps whatever the disk model lets survive.
    const plan = n.wal.append([{ entries: rd.entries, hardState: rd.hardState, snapshot: rd.snapshot }]);
    const last = plan.ops[plan.ops.length - 1];
    const split = last !== undefined && last.op === "sync" ? plan.ops.length - 1 : plan.ops.length;
    n.pendingSync = plan.ops.slice(split);
    n.pendingCleanup = plan.cleanup;
    if (!this.#runOps(n, plan.ops.slice(0, split))) return;
    const latency = plan.ops.length > 0 ? 1 + this.rng.intBelow(8) : 0;
    this.queue.push(this.time + latency, { kind: "persisted", node: n.id, life: n.life });
  }

  /** Runs file operations on the node's disk; a failure (EIO) crashes the node (never retried). */
  #runOps(n: SimNode, ops: readonly FileOp[]): boolean {
    if (ops.length === 0) return true;
    const res = n.disk.execute(ops);
    if (res.ok) return true;
    this.#log(`node ${n.id}: ${res.error} from the disk: crashing it`);
    this.#crashNode(n);
    this.queue.push(this.time + this.rng.intBelow(this.#profile.awayTicks * tickUnits), {
      kind: "restart",
      node: n.id,
      life: n.life,
    });
    return false;
  }

  #onPersisted(id: NodeId, life: number): void {
    const n = this.#node(id);
    if (n.life !== life || n.raw === null || n.pending === null) return;
    // fsync may return EIO: the process must stop (never retry); the write's fate is unknown.
    if (this.#faults && n.pendingSync.length > 0 && this.rng.float() < this.#profile.fsyncFailure)
      n.disk.failSyncs(1);
    if (!this.#runOps(n, n.pendingSync)) return;
    const rd = n.pending;
    applyPersisted(n.storage, rd);
    if (rd.snapshot !== null) {
      n.sm = RegisterMachine.restore(rd.snapshot.data);
      n.sm.applied = rd.snapshot.metadata.index;
    }
    this.inv.persistedEntries(id, rd.entries, (i) => n.storage.term(i));
    if (rd.hardState !== null) this.inv.persistedHardState(id, rd.hardState);
    this.#send(rd.messages);
    for (const e of rd.committedEntries) this.#apply(n, e.index, e.type, e.data, e.term);
    for (const rs of rd.readStates) {
      const op = new DataView(rs.context.buffer, rs.context.byteOffset).getUint32(0);
      n.reads.push({ op, index: rs.index });
    }
    n.pending = null;
    n.raw.advance();
    if (!this.#runOps(n, n.pendingCleanup)) return;
    this.#serveReads(n);
    this.#maybeSnapshot(n);
    this.#pump(n);
  }

  #apply(n: SimNode, index: number, type: number, data: Uint8Array, term: number): void {
    this.inv.applied(n.id, { index, term, type: type === 1 ? EntryType.confChange : EntryType.normal, data });
    if (type !== EntryType.normal || data.length === 0) {
      n.sm.skip(index);
      return;
    }
    const cmd = decodeCommand(data);
    if (n.sm.apply(index, cmd)) this.history.writeCommitted(cmd.value, index);
    const p = this.#ops.get(cmd.value);
    if (p !== undefined && p.node === n.id && p.life === n.life && p.op.kind === "write") {
      this.#ops.delete(cmd.value);
      p.op.ret = this.time;
      this.history.writeReturned(cmd.value, this.time);
      this.stats.writesAcked++;
      this.#ackedWrites.push({ value: cmd.value, index });
    }
    if (index > this.stats.committed) this.stats.committed = index;
  }

  #serveReads(n: SimNode): void {
    const keep: { op: number; index: number }[] = [];
    for (const r of n.reads) {
      if (r.index > n.sm.applied) {
        keep.push(r);
        continue;
      }
      const p = this.#ops.get(r.op);
      if (p === undefined || p.node !== n.id || p.life !== n.life) continue;
      this.#ops.delete(r.op);
      p.op.value = n.sm.values.get(p.op.key) ?? 0;
      p.op.ret = this.time;
      this.history.readReturned(p.op);
      this.stats.readsOk++;
    }
    n.reads = keep;
  }

  #maybeSnapshot(n: SimNode): void {
    const raw = n.raw;
    if (raw === null) return;
    const snapIndex = n.storage.snapshot().metadata.index;
    if (n.sm.applied - snapIndex < snapshotEvery) return;
    const snap = n.storage.createSnapshot(n.sm.applied, raw.confState(), n.sm.snapshot());
    const plan = n.wal.append([{ localSnapshot: snap }]);
    if (!this.#runOps(n, plan.ops) || !this.#runOps(n, plan.cleanup)) return;
    const compactTo = n.sm.applied - compactKeep;
    if (compactTo > n.storage.firstIndex()) n.storage.compact(compactTo);
    this.stats.snapshots++;
  }

  // ------------------------------------------------------------------ clients

  #liveNodes(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.raw !== null);
  }

  #pick<T>(xs: readonly T[]): T | undefined {
    return xs.length === 0 ? undefined : xs[this.rng.intBelow(xs.length)];
  }

  #onClient(client: number): void {
    if (this.#faults) this.queue.push(this.time + 5 + this.rng.intBelow(60), { kind: "client", client });
    const live = this.#liveNodes();
    const leaderNode = live.find((n) => n.raw?.raft.role === StateRole.leader);
    const n = leaderNode !== undefined && this.rng.float() < 0.7 ? leaderNode : this.#pick(live);
    if (n === undefined || n.raw === null) return;
    const key = this.#pick(keys) ?? "x";
    const id = this.#nextOp++;
    const op: Operation = {
      id,
      kind: this.rng.float() < 0.6 ? "write" : "read",
      key,
      value: 0,
      call: this.time,
      ret: null,
    };
    if (op.kind === "write") {
      op.value = id;
      const res = n.raw.propose(encodeCommand({ key, value: id }));
      if (!res.ok) return;
      this.history.invokeWrite(op);
    } else {
      const ctx = new Uint8Array(4);
      new DataView(ctx.buffer).setUint32(0, id);
      const res = n.raw.readIndex(ctx);
      if (!res.ok) return;
    }
    this.#ops.set(id, { op, node: n.id, life: n.life });
    this.queue.push(this.time + opTimeout, { kind: "timeout", op: id });
    this.#pump(n);
  }

  #onTimeout(op: number): void {
    // The outcome stays unknown: a write may still commit later, which the history allows.
    this.#ops.delete(op);
  }

  // ------------------------------------------------------------------ faults

  #onNemesis(): void {
    if (!this.#faults) return;
    this.queue.push(this.time + 10 * tickUnits + this.rng.intBelow(40 * tickUnits), { kind: "nemesis" });
    const weights = this.#profile.weights;
    let total = 0;
    for (const w of weights) total += w;
    if (total === 0) return;
    let roll = this.rng.intBelow(total);
    let i = 0;
    while (roll >= (weights[i] ?? 0)) roll -= weights[i++] ?? 0;
    switch (nemesisActions[i]) {
      case "partition":
        this.#partitionRandom();
        return;
      case "isolateLeader":
        this.#isolateLeader();
        return;
      case "asymmetric":
        this.#asymmetricCut();
        return;
      case "partial":
        this.#partialConnectivity();
        return;
      case "heal":
        this.#heal();
        return;
      case "crash":
        this.#crash();
        return;
      case "restart":
        this.#restartOne();
        return;
      case "confChange":
        this.#confChange();
        return;
      case "transfer":
        this.#transfer();
        return;
      default:
        this.#networkWeather();
        return;
    }
  }

  #ids(): NodeId[] {
    return [...this.nodes.keys()].sort((a, b) => a - b);
  }

  #cutBoth(a: NodeId, b: NodeId): void {
    this.#cut.add(a * 1000 + b);
    this.#cut.add(b * 1000 + a);
  }

  #partitionRandom(): void {
    const ids = this.#ids();
    const side = new Set(ids.filter(() => this.rng.float() < 0.5));
    for (const a of ids) for (const b of ids) if (a < b && side.has(a) !== side.has(b)) this.#cutBoth(a, b);
    this.stats.partitions++;
    this.#log(`partition {${[...side].join(",")}} | rest`);
  }

  #leaderId(): NodeId {
    let best = NONE;
    let term = -1;
    for (const n of this.#liveNodes()) {
      const r = n.raw?.raft;
      if (r !== undefined && r.role === StateRole.leader && r.term > term) {
        best = n.id;
        term = r.term;
      }
    }
    return best;
  }

  #isolateLeader(): void {
    const l = this.#leaderId();
    if (l === NONE) return;
    for (const b of this.#ids()) if (b !== l) this.#cutBoth(l, b);
    this.stats.partitions++;
    this.#log(`isolate leader ${l}`);
  }

  #asymmetricCut(): void {
    const ids = this.#ids();
    const a = this.#pick(ids) ?? 1;
    const b = this.#pick(ids.filter((x) => x !== a)) ?? 2;
    this.#cut.add(a * 1000 + b);
    this.stats.partitions++;
    this.#log(`cut ${a} -> ${b} only`);
  }

  /** Partial connectivity (the Cloudflare 2020 shape): one hub sees all, others see only the hub. */
  #partialConnectivity(): void {
    const ids = this.#ids();
    const hub = this.#pick(ids) ?? 1;
    for (const a of ids) for (const b of ids) if (a < b && a !== hub && b !== hub) this.#cutBoth(a, b);
    this.stats.partitions++;
    this.#log(`partial connectivity around hub ${hub}`);
  }

  #heal(): void {
    this.#cut.clear();
    this.#log("heal network");
  }

  #networkWeather(): void {
    this.#loss = this.#pick([0, 0, 0.02, 0.1, 0.3]) ?? 0;
    this.#dup = this.#pick([0, 0.02, 0.1]) ?? 0;
    this.#delayMax = this.#pick([3, 10, 30, 80]) ?? 10;
    this.#log(`network loss=${this.#loss} dup=${this.#dup} delayMax=${this.#delayMax}`);
  }

  #crash(): void {
    const live = this.#liveNodes();
    const down = this.nodes.size - live.length;
    if (down >= 2) return;
    const n = this.rng.float() < 0.3 ? this.nodes.get(this.#leaderId()) : this.#pick(live);
    if (n === undefined || n.raw === null) return;
    this.#crashNode(n);
  }

  /**
   * Crashes a node: the disk model keeps what was synced and, of the rest, a random prefix of the
   * writes (the last one possibly torn at a sector boundary); no message that waited for the
   * write in flight is sent. The restart recovers through the real WAL code.
   */
  #crashNode(n: SimNode): void {
    n.disk.crash();
    n.raw = null;
    n.pending = null;
    n.pendingSync = [];
    n.pendingCleanup = [];
    n.life++;
    this.stats.crashes++;
    this.#log(`crash node ${n.id} (unsynced writes may be lost or torn)`);
  }

  #onDepose(id: NodeId, life: number, term: number): void {
    const n = this.#node(id);
    if (!this.#faults || n.life !== life || n.raw === null || n.raw.raft.term !== term) return;
    const away = this.rng.intBelow(this.#profile.awayTicks * tickUnits);
    if (this.rng.float() < this.#profile.crash) {
      this.#crashNode(n);
      // Come back soon, with whatever was durable, to compete with the next leader.
      this.queue.push(this.time + this.rng.intBelow(20 * tickUnits), {
        kind: "restart",
        node: id,
        life: n.life,
      });
    } else {
      for (const b of this.#ids()) if (b !== id) this.#cutBoth(id, b);
      this.stats.partitions++;
      this.#log(`isolate fresh leader ${id}`);
      this.queue.push(this.time + away, { kind: "reconnect", node: id });
    }
  }

  #restartOne(): void {
    const down = [...this.nodes.values()].filter((n) => n.raw === null);
    const n = this.#pick(down);
    if (n === undefined) return;
    n.life++;
    this.#start(n);
    this.#log(`restart node ${n.id}`);
  }

  #transfer(): void {
    const l = this.#leaderId();
    if (l === NONE) return;
    const leader = this.#node(l).raw;
    if (leader === null) return;
    const voters = leader.confState().voters.filter((v) => v !== l);
    const to = this.#pick(voters);
    if (to === undefined) return;
    const res = leader.transferLeader(to);
    if (res.ok) this.stats.transfers++;
    this.#log(`transfer leadership ${l} -> ${to}: ${res.ok ? "started" : res.reason}`);
    this.#pump(this.#node(l));
  }

  /** Adds, promotes, removes (the leader too) or replaces members through the leader. */
  #confChange(): void {
    const l = this.#leaderId();
    if (l === NONE) return;
    const leaderNode = this.#node(l);
    const leader = leaderNode.raw;
    if (leader === null) return;
    const cs = leader.confState();
    const changes = this.#pickChanges(cs, l);
    if (changes === null) return;
    for (const c of changes) {
      if (c.type !== "removeNode" && !this.nodes.has(c.nodeId)) {
        this.#spare.splice(this.#spare.indexOf(c.nodeId), 1);
        this.#addNode(c.nodeId, null);
      }
    }
    const transition = this.rng.float() < 0.2 ? "jointExplicit" : "auto";
    const res = leader.proposeConfChange({ transition, changes, context: new Uint8Array(0) });
    if (res.ok) this.stats.confChanges++;
    this.#log(
      `conf change ${changes.map((c) => `${c.type}(${c.nodeId})`).join(" ")} ${transition}: ${res.ok ? "proposed" : res.reason}`,
    );
    this.#pump(leaderNode);
  }

  /**
   * One membership change for the current (non-joint) configuration, or the empty change that
   * leaves a joint one. Voters may shrink to one (removing the last-but-one is the 2 → 1 case).
   */
  #pickChanges(cs: ConfState, leader: NodeId): ConfChangeSingle[] | null {
    if (cs.votersOutgoing.length > 0) return [];
    const voters = cs.voters;
    const spare = this.#spare[0];
    switch (this.rng.intBelow(7)) {
      case 0:
        return spare === undefined ? null : [{ type: "addLearner", nodeId: spare }];
      case 1:
        return cs.learners.length === 0
          ? null
          : [{ type: "addNode", nodeId: this.#pick(cs.learners) ?? leader }];
      case 2:
        return voters.length <= 1 ? null : [{ type: "removeNode", nodeId: this.#pick(voters) ?? leader }];
      case 3:
        return spare === undefined
          ? null
          : [
              { type: "addNode", nodeId: spare },
              { type: "removeNode", nodeId: this.#pick(voters) ?? leader },
            ];
      case 4:
        return voters.length <= 1 ? null : [{ type: "removeNode", nodeId: leader }];
      case 5:
        return voters.length <= 1 ? null : [{ type: "addLearner", nodeId: this.#pick(voters) ?? leader }];
      default:
        return cs.learners.length === 0
          ? null
          : [{ type: "removeNode", nodeId: this.#pick(cs.learners) ?? leader }];
    }
  }

  // ------------------------------------------------------------------ liveness

  #healEverything(): void {
    this.#faults = false;
    this.#cut.clear();
    this.#loss = 0;
    this.#dup = 0;
    this.#delayMax = 10;
    for (const n of this.nodes.values()) {
      if (n.raw === null) {
        n.life++;
        this.#start(n);
      }
    }
    this.#log("faults end: network healed, every node restarted");
  }

  /** After healing: a leader emerges and a fresh write commits on every member, in bounded time. */
  #checkLiveness(): void {
    const deadline = this.time + this.opts.livenessTicks * tickUnits;
    let marker = 0;
    // The leadership (node and term) the marker was proposed to; a new one proposes again, since
    // the old leader may have lost it (a crash before its write was durable).
    let markerLeadership = "";
    while (this.time < deadline) {
      this.#runUntil(this.time + tickUnits);
      const l = this.#leaderId();
      if (l === NONE) continue;
      const leader = this.#node(l);
      if (leader.raw === null) continue;
      const leadership = `${l}/${leader.raw.raft.term}`;
      if (marker === 0 || markerLeadership !== leadership) {
        const id = this.#nextOp++;
        if (leader.raw.propose(encodeCommand({ key: "liveness", value: id })).ok) {
          marker = id;
          markerLeadership = leadership;
          this.#pump(leader);
        }
        continue;
      }
      const members = this.#members(leader);
      if (members.every((id) => this.#node(id).sm.seen.has(marker))) {
        this.#checkAckedWritesEverywhere(members);
        return;
      }
    }
    const states = [...this.nodes.values()]
      .map(
        (n) =>
          `${n.id}:${n.raw?.raft.role ?? "down"}/t${n.raw?.raft.term ?? "-"}/c${n.raw?.raft.log.committed ?? "-"}`,
      )
      .join(" ");
    throw new InvariantViolation(
      `liveness: ${this.opts.livenessTicks} ticks after every fault healed, no write committed on every member (${states})`,
    );
  }

  /** Every write acknowledged to a client is in the state machine of every member that applied its index. */
  #checkAckedWritesEverywhere(members: readonly NodeId[]): void {
    for (const { value, index } of this.#ackedWrites) {
      for (const id of members) {
        const sm = this.#node(id).sm;
        if (sm.applied >= index && !sm.seen.has(value)) {
          throw new InvariantViolation(
            `acknowledged write ${value} is missing on member ${id} after recovery`,
          );
        }
      }
    }
  }

  #members(leader: SimNode): NodeId[] {
    const cs = leader.raw?.confState();
    if (cs === undefined) return [];
    return [...new Set([...cs.voters, ...cs.votersOutgoing, ...cs.learners])];
  }
}

/** Runs one seed; convenience for the CLI and tests. */
export function simulate(options: SimOptions): SimResult {
  return new Simulation(options).run();
}

/** The command that replays one seed exactly. */
export function replayCommand(options: SimOptions): string {
  const bugs = Object.entries(options.bugs ?? {})
    .filter(([, v]) => v === true)
    .map(([k]) => ` --bug ${k}`)
    .join("");
  const lease = options.readOnlyOption === "leaseBased" ? " --lease" : "";
  const ticks = options.faultTicks !== undefined ? ` --fault-ticks ${options.faultTicks}` : "";
  const profile = options.profile === "churn" ? " --profile churn" : "";
  return `npm run sim -- --seeds 1 --first-seed ${options.seed} --nodes ${options.nodes}${ticks}${profile}${lease}${bugs} --trace`;
}
