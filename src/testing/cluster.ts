import { assert } from "../lib/assert.js";
import type { Logger } from "../lib/logger.js";
import { SeededRng } from "../lib/rng.js";
import type { RaftConfig } from "../raft/config.js";
import { RawNode, type Ready } from "../raft/rawnode.js";
import { MemoryStorage } from "../raft/storage.js";
import {
  type ConfState,
  type Entry,
  type Message,
  NONE,
  type NodeId,
  type ReadState,
  StateRole,
} from "../raft/types.js";

/** Settings shared by every node of a {@link TestCluster}; `id`, `storage` and `rng` are set per node. */
export type NodeOptions = Omit<RaftConfig, "id" | "storage" | "rng">;

/** One member of a {@link TestCluster}: the node, its storage and what it applied. */
export interface TestMember {
  node: RawNode;
  storage: MemoryStorage;
  applied: Entry[];
  readStates: ReadState[];
  /** Options used to (re)start the node. */
  options: NodeOptions;
  seed: number;
}

/**
 * An in-memory cluster driven synchronously: no clock, no sockets. Messages go to a queue that the
 * caller delivers explicitly (scenario tests) or with {@link stabilize}. Each Ready is processed
 * exactly as a real driver would: early messages, persist, late messages, apply, advance.
 * A harness, not a test; the simulator adds faults on top of the same steps.
 */
export class TestCluster {
  readonly members = new Map<NodeId, TestMember>();
  /** Messages sent and not yet delivered, in send order. */
  queue: Message[] = [];
  /** Directed links that drop every message: `"from->to"`. */
  readonly cut = new Set<string>();
  readonly logger: Logger | undefined;

  constructor(logger?: Logger) {
    this.logger = logger;
  }

  /**
   * Adds a node whose storage starts with `confState` at index 0 (or empty, for a node joining
   * later). With `bootstrap`, the configuration is a genesis snapshot at index 1 instead
   * ({@link MemoryStorage.bootstrap}), which nodes joining later learn it from.
   */
  add(
    id: NodeId,
    confState: ConfState | null,
    options: NodeOptions = {},
    seed = id,
    bootstrap = false,
  ): TestMember {
    assert(!this.members.has(id), `add: node ${id} exists`);
    const storage =
      confState === null
        ? new MemoryStorage()
        : bootstrap
          ? MemoryStorage.bootstrap(confState)
          : MemoryStorage.withConfState(confState);
    const member: TestMember = {
      node: this.#newNode(id, storage, options, seed),
      storage,
      applied: [],
      readStates: [],
      options,
      seed,
    };
    this.members.set(id, member);
    return member;
  }

  #newNode(id: NodeId, storage: MemoryStorage, options: NodeOptions, seed: number): RawNode {
    const cfg: RaftConfig = {
      ...options,
      id,
      storage,
      rng: new SeededRng(seed),
      ...(this.logger ? { logger: this.logger } : {}),
    };
    return new RawNode(cfg);
  }

  /** Restarts a node from its storage (everything in it is durable here). */
  restart(id: NodeId): void {
    const m = this.member(id);
    m.seed += 1000;
    const applied = m.storage.snapshot().metadata.index;
    m.node = this.#newNode(id, m.storage, { ...m.options, applied }, m.seed);
    m.applied = [];
    m.readStates = [];
  }

  member(id: NodeId): TestMember {
    const m = this.members.get(id);
    assert(m !== undefined, `no node ${id}`);
    return m;
  }

  node(id: NodeId): RawNode {
    return this.member(id).node;
  }

  /** Processes one Ready of node `id` if it has one; returns it (or null). */
  processReady(id: NodeId): Ready | null {
    const m = this.member(id);
    if (!m.node.hasReady()) return null;
    const rd = m.node.ready();
    this.queue.push(...rd.messagesEarly);
    if (rd.snapshot !== null) m.storage.applySnapshot(rd.snapshot);
    m.storage.append(rd.entries);
    if (rd.hardState !== null) m.storage.setHardState(rd.hardState);
    this.queue.push(...rd.messages);
    for (const e of rd.committedEntries) m.applied.push(e);
    m.readStates.push(...rd.readStates);
    m.node.advance();
    return rd;
  }

  /** Delivers queued messages addressed to `to` (all if undefined); returns how many. */
  deliver(to?: NodeId): number {
    const keep: Message[] = [];
    const now: Message[] = [];
    for (const msg of this.queue) (to === undefined || msg.to === to ? now : keep).push(msg);
    this.queue = keep;
    let n = 0;
    for (const msg of now) {
      if (this.cut.has(`${msg.from}->${msg.to}`)) continue;
      const dst = this.members.get(msg.to);
      if (dst === undefined) continue;
      dst.node.step(msg);
      n++;
    }
    return n;
  }

  /** Processes Readies and delivers messages until nothing is left to do. */
  stabilize(roundsMax = 10_000): void {
    for (let i = 0; i < roundsMax; i++) {
      let busy = false;
      for (const id of this.members.keys()) if (this.processReady(id) !== null) busy = true;
      if (this.queue.length > 0) {
        busy = true;
        this.deliver();
      }
      if (!busy) return;
    }
    assert(false, `stabilize: still busy after ${roundsMax} rounds`);
  }

  /** Ticks every node once. */
  tickAll(): void {
    for (const m of this.members.values()) m.node.tick();
  }

  /** Cuts (or heals) both directions between `a` and every node in `others`. */
  partition(a: NodeId, others: readonly NodeId[], heal = false): void {
    for (const b of others) {
      for (const key of [`${a}->${b}`, `${b}->${a}`]) {
        if (heal) this.cut.delete(key);
        else this.cut.add(key);
      }
    }
  }

  /** Isolates `id` from every other node. */
  isolate(id: NodeId): void {
    this.partition(
      id,
      [...this.members.keys()].filter((x) => x !== id),
    );
  }

  healAll(): void {
    this.cut.clear();
  }

  /** The current leader if exactly one node is leader of the highest term, else NONE. */
  leader(): NodeId {
    let best = NONE;
    let bestTerm = -1;
    for (const [id, m] of this.members) {
      const s = m.node.raft;
      if (s.role === StateRole.leader && s.term > bestTerm) {
        best = id;
        bestTerm = s.term;
      }
    }
    return best;
  }

  /** Campaigns `id` and stabilises; asserts it won. */
  elect(id: NodeId): void {
    this.node(id).campaign();
    this.stabilize();
    assert(this.node(id).raft.role === StateRole.leader, `elect: node ${id} did not become leader`);
  }
}

/** A configuration of voters `1..n` (plus learners). */
export function votersConf(voters: readonly NodeId[], learners: readonly NodeId[] = []): ConfState {
  return { voters, votersOutgoing: [], learners, learnersNext: [], autoLeave: false };
}

/**
 * Builds a cluster of `n` voters 1..n, all with `options`. With `bootstrap`, members start from a
 * genesis snapshot (needed when nodes join later; see {@link TestCluster.add}).
 */
export function newCluster(
  n: number,
  options: NodeOptions = {},
  logger?: Logger,
  bootstrap = false,
): TestCluster {
  const c = new TestCluster(logger);
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  for (const id of ids) c.add(id, votersConf(ids), options, id, bootstrap);
  return c;
}
