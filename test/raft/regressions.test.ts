// Regression tests for the known subtle Raft bugs (section 2 of the Raft reference, 20 items), run
// against the pure core: RawNode, MemoryStorage and the synchronous TestCluster harness. Durability
// is modelled by what a driver writes to MemoryStorage before advance(); a crash is a restart from
// that storage. Real WAL and process tests arrive later; the seeded simulator covers random crashes.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SeededRng } from "../../src/lib/rng.js";
import {
  type ConfChange,
  ConfChangeTransition,
  ConfChangeType,
  decodeConfChange,
  type Entry,
  EntryType,
  type HardState,
  type InjectedBugs,
  MemoryStorage,
  type Message,
  MessageType,
  message,
  type NodeId,
  ProgressState,
  RawNode,
  ReadOnlyOption,
  type Ready,
  RejectReason,
  type RequestResult,
  StateRole,
} from "../../src/raft/mod.js";
import { newCluster, TestCluster, type TestMember, votersConf } from "../../src/testing/cluster.js";

// ------------------------------------------------------------------------------------------ helpers

/** The default `electionTicks` of RaftConfig (every cluster here uses it). */
const electionTicks = 10;
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Application data a member applied, in order (no-ops and conf changes left out). */
function appliedData(c: TestCluster, id: NodeId): string[] {
  return c
    .member(id)
    .applied.filter((e) => e.type === EntryType.normal && e.data.length > 0)
    .map((e) => dec(e.data));
}

function change(type: ConfChangeType, nodeId: NodeId): ConfChange {
  return { transition: ConfChangeTransition.auto, changes: [{ type, nodeId }], context: new Uint8Array(0) };
}

function role(c: TestCluster, id: NodeId): StateRole {
  return c.node(id).status().role;
}

function assertOk(r: RequestResult, what: string): void {
  assert.deepEqual(r, { ok: true }, what);
}

function assertRefused(r: RequestResult, reason: RejectReason, what: string): void {
  assert.equal(r.ok, false, `${what}: expected a refusal`);
  if (!r.ok) assert.equal(r.reason, reason, `${what}: ${r.detail}`);
}

/** What a driver does with a Ready's writes: snapshot, entries, then the hard state. */
function persist(m: TestMember, rd: Ready): void {
  if (rd.snapshot !== null) m.storage.applySnapshot(rd.snapshot);
  m.storage.append(rd.entries);
  if (rd.hardState !== null) m.storage.setHardState(rd.hardState);
}

interface DriveOptions {
  /** Stop as soon as this holds; checked before every single Ready and message. */
  readonly until?: () => boolean;
  /** Messages for which this returns true are lost in transit. */
  readonly drop?: (m: Message) => boolean;
  /** Sees every message that is delivered. */
  readonly tap?: (m: Message) => void;
  /** Runs after every step (assert invariants here). */
  readonly check?: () => void;
}

/**
 * Like {@link TestCluster.stabilize}, but one Ready or one message at a time so a test can stop at
 * an exact moment, lose chosen messages, and check invariants in between. Returns whether `until`
 * held when it stopped (false: the cluster went quiet first).
 */
function drive(c: TestCluster, o: DriveOptions = {}): boolean {
  const until = o.until ?? (() => false);
  for (let step = 0; step < 100_000; step++) {
    if (until()) return true;
    let busy = false;
    for (const id of c.members.keys()) {
      if (c.processReady(id) === null) continue;
      busy = true;
      o.check?.();
      if (until()) return true;
    }
    const m = c.queue.shift();
    if (m !== undefined) {
      busy = true;
      const dst = c.members.get(m.to);
      if (dst !== undefined && !c.cut.has(`${m.from}->${m.to}`) && !(o.drop?.(m) ?? false)) {
        o.tap?.(m);
        dst.node.step(m);
      }
      o.check?.();
    }
    if (!busy) return until();
  }
  assert.fail("drive: the cluster is still busy after 100000 steps");
}

/** Ticks `tick` and stabilises until one of `among` is leader; returns it. */
function tickUntilLeader(
  c: TestCluster,
  tick: readonly NodeId[],
  among: readonly NodeId[] = tick,
  ticksMax = 20 * electionTicks,
): NodeId {
  for (let i = 0; i < ticksMax; i++) {
    for (const id of tick) c.node(id).tick();
    c.stabilize();
    const leader = among.find((id) => role(c, id) === StateRole.leader);
    if (leader !== undefined) return leader;
  }
  assert.fail(`no leader among [${among.join(",")}] after ${ticksMax} ticks`);
}

/**
 * Ticks `ids` through a full election timeout while everything they send is lost, so none of them
 * still defers to the leader it last heard from (with CheckQuorum, followers ignore (pre)votes for
 * an election timeout after hearing from a leader). Some may be pre-candidates afterwards.
 */
function lapseLeaderLease(c: TestCluster, ids: readonly NodeId[]): void {
  for (let t = 0; t < electionTicks; t++) for (const id of ids) c.node(id).tick();
  for (const id of ids) c.processReady(id);
  c.queue = c.queue.filter((m) => !ids.includes(m.from));
}

/** Cuts every directed link between members except the undirected pairs listed. */
function onlyLinks(c: TestCluster, pairs: readonly (readonly [NodeId, NodeId])[]): void {
  const ok = new Set(pairs.flatMap(([a, b]) => [`${a}->${b}`, `${b}->${a}`]));
  c.healAll();
  for (const a of c.members.keys()) {
    for (const b of c.members.keys()) if (a !== b && !ok.has(`${a}->${b}`)) c.cut.add(`${a}->${b}`);
  }
}

/** Fills a member's storage with entries of the given terms (index 1 on) and a hard state, then restarts it. */
function seedLog(c: TestCluster, id: NodeId, terms: readonly number[], hs: HardState): void {
  const m = c.member(id);
  m.storage.append(
    terms.map((term, i) => ({
      term,
      index: i + 1,
      type: EntryType.normal,
      data: enc(`t${term}i${i + 1}`),
    })),
  );
  m.storage.setHardState(hs);
  c.restart(id);
}

/** Whether any member applied an entry at `index` with `term`. */
function anyApplied(c: TestCluster, index: number, term: number): NodeId[] {
  const out: NodeId[] = [];
  for (const [id, m] of c.members)
    if (m.applied.some((e) => e.index === index && e.term === term)) out.push(id);
  return out;
}

// ------------------------------------------------------------------------------------------ 1

test("Raft regression 1: single-server membership change across leader change (Ongaro 2015)", () => {
  // Bug: two one-server changes proposed by leaders of different terms (4→5 by the old leader,
  // 4→3 by the new one) can produce configurations whose majorities do not overlap. Proves: the
  // new leader refuses a conf change (confChangePending) at every step until its term's no-op is
  // applied, then accepts it; the old leader's uncommitted 4→5 entry is overwritten and no node
  // ever applies a configuration containing 5.
  const c = newCluster(4);
  c.add(5, null);
  c.elect(1);
  c.isolate(1);
  assertOk(c.node(1).proposeConfChange(change(ConfChangeType.addNode, 5)), "4→5 on the old leader");
  c.stabilize();
  const addIndex = c.node(1).status().lastIndex;
  assert.equal(c.node(1).status().commit, addIndex - 1, "4→5 is not committed: node 1 is cut off");

  lapseLeaderLease(c, [2, 3, 4]);
  c.node(2).campaign();
  assert.ok(drive(c, { until: () => role(c, 2) === StateRole.leader }), "node 2 wins term 2");
  const noop = c.node(2).status().lastIndex;
  const remove4 = change(ConfChangeType.removeNode, 4);
  assertRefused(c.node(2).proposeConfChange(remove4), RejectReason.confChangePending, "at election");
  drive(c, {
    until: () => c.node(2).status().applied >= noop,
    check: () => {
      if (c.node(2).status().applied < noop) {
        assertRefused(c.node(2).proposeConfChange(remove4), RejectReason.confChangePending, "before no-op");
      }
    },
  });
  assert.ok(c.node(2).status().applied >= noop);
  assertOk(c.node(2).proposeConfChange(remove4), "4→3 once the no-op is applied");
  c.stabilize();

  c.healAll();
  for (let i = 0; i < 3; i++) {
    c.node(2).tick();
    c.stabilize();
  }
  for (const id of [1, 2, 3, 4]) {
    assert.deepEqual(c.node(id).status().config.voters, [1, 2, 3], `node ${id} config`);
    for (const e of c.member(id).applied) {
      if (e.type !== EntryType.confChange) continue;
      const cc = decodeConfChange(e.data);
      assert.ok(typeof cc !== "string");
      assert.ok(!cc.changes.some((ch) => ch.nodeId === 5), `node ${id} applied a change adding 5`);
    }
  }
  assert.notEqual(c.member(1).storage.term(addIndex), 1, "the old leader's 4→5 entry was overwritten");
  assert.equal(c.node(5).status().lastIndex, 0, "node 5 never joined");
});

// ------------------------------------------------------------------------------------------ 2

/**
 * Figure 8 of the Raft paper, state (c): S1 leads term 4 and has replicated its term-2 entry at
 * index 2 to S2 and S3 (a majority) but its own term-4 no-op only to S2. Logs by term, hand-built:
 * S1 [1,2] S2 [1,2] S3 [1] S4 [1] S5 [1,3]; S4 and S5 are down. One entry per message, and the
 * network loses the no-op on its way to S3, so S3 ends with exactly [1,2].
 */
function figure8(bugs: InjectedBugs): TestCluster {
  const c = newCluster(5, { preVote: false, checkQuorum: false, entriesBytesPerMessageMax: 1, bugs });
  seedLog(c, 1, [1, 2], { term: 3, vote: 0, commit: 1 });
  seedLog(c, 2, [1, 2], { term: 2, vote: 1, commit: 1 });
  seedLog(c, 3, [1], { term: 3, vote: 5, commit: 1 });
  seedLog(c, 4, [1], { term: 3, vote: 5, commit: 1 });
  seedLog(c, 5, [1, 3], { term: 3, vote: 5, commit: 1 });
  c.isolate(4);
  c.isolate(5);
  c.node(1).campaign();
  drive(c, {
    drop: (m) =>
      m.type === MessageType.app &&
      m.to === 3 &&
      m.entries.some((e) => e.term === 4) &&
      c.node(3).raft.log.matchTerm(m.index, m.logTerm),
  });
  assert.equal(role(c, 1), StateRole.leader);
  assert.equal(c.node(1).status().term, 4);
  return c;
}

/** Campaigns `id` (again if a first try only raised its term) until it leads. */
function electWithRetries(c: TestCluster, id: NodeId): void {
  for (let i = 0; i < 3 && role(c, id) !== StateRole.leader; i++) {
    c.node(id).campaign();
    c.stabilize();
  }
  assert.equal(role(c, id), StateRole.leader, `node ${id} should win`);
}

test("Raft regression 2: committing previous-term entries by counting replicas (paper Figure 8)", () => {
  // Bug: a leader that commits an entry of an earlier term because a majority stores it can lose
  // it: a later leader whose last entry has a newer term overwrites it. Proves: S1 (term 4) sees
  // index 2 (term 2) on S1, S2, S3 yet keeps commit at 1; S5 then wins and overwrites index 2 with
  // its term-3 entry, and nobody ever applied the term-2 entry. With the injected bug
  // `commitByCountingOldTerms` the same history commits and applies 2@t2 on S1, the entry (d)
  // shows being overwritten, so the test detects the bug. Once S1's term-4 entry reaches a
  // majority, both commit (branch e).
  const c = figure8({});
  const s1 = c.node(1).status();
  assert.equal(s1.progress?.get(2)?.match, 3);
  assert.equal(s1.progress?.get(3)?.match, 2);
  for (const id of [1, 2, 3]) assert.equal(c.member(id).storage.term(2), 2, `S${id} stores 2@t2`);
  assert.equal(s1.commit, 1, "index 2 (term 2) must not commit by counting replicas");

  // (d) S1 crashes; S5 wins with S3 and S4 (its last term 3 beats their 2 and 1) and overwrites.
  c.healAll();
  c.isolate(1);
  electWithRetries(c, 5);
  c.stabilize();
  for (const id of [2, 3, 4, 5]) assert.equal(c.member(id).storage.term(2), 3, `S${id} index 2 now t3`);
  assert.deepEqual(anyApplied(c, 2, 2), [], "nobody applied the term-2 entry");
  assert.deepEqual(anyApplied(c, 2, 3), [2, 3, 4, 5]);

  // The same history with the injected bug: S1 commits and applies 2@t2, which (d) shows a later
  // leader legitimately overwrites with 2@t3.
  const bad = figure8({ commitByCountingOldTerms: true });
  assert.equal(bad.node(1).status().commit, 2, "the injected bug commits index 2 by counting");
  assert.ok(anyApplied(bad, 2, 2).includes(1), "...and S1 applies 2@t2");

  // (e) S1 stays up and gets its term-4 entry to S3: index 3 commits, and index 2 with it.
  const e = figure8({});
  e.node(1).tick();
  e.stabilize();
  assert.equal(e.node(1).status().commit, 3);
  for (const id of [1, 2, 3]) {
    assert.deepEqual(
      e.member(id).applied.map((x) => `${x.index}@t${x.term}`),
      ["1@t1", "2@t2", "3@t4"],
      `S${id}`,
    );
  }
});

// ------------------------------------------------------------------------------------------ 3

test("Raft regression 3: stale ReadIndex right after election (etcd#7331)", () => {
  // Bug: a new leader's commit index may lag the real one (it has not learned that entries of the
  // previous term were committed), so a ReadIndex answered at once can miss an acknowledged write.
  // Proves: the new leader accepts the read but yields no ReadState until its term's no-op
  // commits, and the read index it then yields covers the write.
  const c = newCluster(3);
  c.elect(1);
  assertOk(c.node(1).propose(enc("w")), "write");
  c.processReady(1);
  c.deliver();
  c.processReady(2);
  c.processReady(3);
  c.deliver(1); // the leader counts both acks and commits "w"
  c.isolate(1); // ...and is cut off before the followers learn the new commit index
  c.processReady(1);
  assert.deepEqual(appliedData(c, 1), ["w"], "the write was acknowledged");
  const wIndex = c.node(1).status().commit;
  assert.ok(c.node(2).status().commit < wIndex, "node 2 does not know the write is committed");

  lapseLeaderLease(c, [2, 3]);
  c.node(2).campaign();
  assert.ok(drive(c, { until: () => role(c, 2) === StateRole.leader }));
  const noop = c.node(2).status().lastIndex;
  assert.ok(c.node(2).status().commit < wIndex, "the new leader's commit lags the write");
  assertOk(c.node(2).readIndex(enc("r")), "read at once");
  const rd = c.processReady(2);
  assert.equal(rd?.readStates.length, 0, "no read state before the no-op commits");
  drive(c, {
    until: () => c.member(2).readStates.length > 0,
    check: () => {
      if (c.member(2).readStates.length > 0) assert.ok(c.node(2).status().commit >= noop);
    },
  });
  const rs = c.member(2).readStates;
  assert.equal(rs.length, 1);
  assert.ok((rs[0]?.index ?? 0) >= noop, "the read index is the new term's commit");
  assert.ok((rs[0]?.index ?? 0) >= wIndex, "the read index covers the write");
  c.stabilize();
  assert.deepEqual(appliedData(c, 2), ["w"], "the write is applied before the read is served");
});

// ------------------------------------------------------------------------------------------ 4

test("Raft regression 4: reads from a deposed leader without quorum check (Jepsen etcd 0.4.1)", () => {
  // Bug: a leader partitioned into a minority keeps serving reads after the majority elected a new
  // leader and wrote, returning stale values. Proves: a ReadIndex on the old leader is accepted
  // but never yields a read state (its heartbeat round cannot reach a quorum), CheckQuorum makes it
  // step down within two election timeouts, and after healing a read through it sees the new write.
  const c = newCluster(5);
  c.elect(1);
  assertOk(c.node(1).propose(enc("old")), "old");
  c.stabilize();
  for (const a of [1, 2]) c.partition(a, [3, 4, 5]);
  const leader = tickUntilLeader(c, [2, 3, 4, 5], [3, 4, 5]);
  assertOk(c.node(leader).propose(enc("new")), "new");
  c.stabilize();
  for (const id of [3, 4, 5]) assert.deepEqual(appliedData(c, id), ["old", "new"]);

  assert.equal(role(c, 1), StateRole.leader, "the old leader still believes it leads");
  assertOk(c.node(1).readIndex(enc("stale?")), "read on the old leader");
  c.stabilize();
  let ticks = 0;
  while (role(c, 1) === StateRole.leader) {
    assert.ok(ticks < 2 * electionTicks, "CheckQuorum must depose the old leader");
    c.node(1).tick();
    c.node(2).tick();
    c.stabilize();
    assert.equal(c.member(1).readStates.length, 0, "the old leader served a read");
    ticks++;
  }
  assertRefused(c.node(1).readIndex(enc("again")), RejectReason.noLeader, "after stepping down");

  c.healAll();
  for (let i = 0; i < 3; i++) {
    c.tickAll();
    c.stabilize();
  }
  assertOk(c.node(1).readIndex(enc("after heal")), "read through node 1");
  c.stabilize();
  const rs = c.member(1).readStates;
  assert.equal(rs.length, 1);
  assert.equal(dec(rs[0]?.context ?? new Uint8Array(0)), "after heal");
  assert.deepEqual(appliedData(c, 1), ["old", "new"]);
  assert.ok((rs[0]?.index ?? 0) >= (c.member(leader).applied.at(-1)?.index ?? Number.POSITIVE_INFINITY));
});

// ------------------------------------------------------------------------------------------ 5

test("Raft regression 5: lease read during leadership transfer (etcd-io/raft#99)", () => {
  // Bug: a leader that sent TimeoutNow keeps a lease by its own clock (heartbeats acknowledged
  // while TimeoutNow was delayed extend it past the transfer's timeout) and answers lease reads
  // while the target already leads and writes. Proves: with lease-based reads (shown to be served
  // at once beforehand), reads on the old leader are refused (transferInProgress) while the
  // transfer is pending, and after the target took over and the old leader is cut off, no read
  // is served for three election timeouts, including after the transfer timed out.
  const c = newCluster(3, { readOnlyOption: ReadOnlyOption.leaseBased });
  const l = tickUntilLeader(c, [1, 2, 3]);
  for (let i = 0; i < 3; i++) {
    c.tickAll();
    c.stabilize();
  }
  assertOk(c.node(l).readIndex(enc("control")), "control read");
  assert.equal(c.processReady(l)?.readStates.length, 1, "a lease read is served without messages");
  c.stabilize();

  const [t, other] = [1, 2, 3].filter((id) => id !== l) as [NodeId, NodeId];
  assertOk(c.node(l).transferLeader(t), "transfer");
  c.processReady(l);
  const timeoutNow = c.queue.find((m) => m.type === MessageType.timeoutNow && m.to === t);
  assert.ok(timeoutNow !== undefined, "the target is caught up: TimeoutNow at once");
  c.queue = c.queue.filter((m) => m !== timeoutNow); // delayed in the network
  for (let i = 0; i < electionTicks / 2; i++) {
    assertRefused(c.node(l).readIndex(enc(`p${i}`)), RejectReason.transferInProgress, "during transfer");
    c.tickAll(); // heartbeats are acknowledged meanwhile
    drive(c, { drop: (m) => m.type === MessageType.timeoutNow });
  }
  c.node(t).step(timeoutNow);
  c.isolate(l);
  c.stabilize();
  assert.equal(role(c, t), StateRole.leader, "the target took over");
  assertOk(c.node(t).propose(enc("x")), "write on the new leader");
  c.stabilize();
  assert.deepEqual(appliedData(c, other), ["x"]);

  assert.equal(role(c, l), StateRole.leader, "the old leader still believes it leads");
  for (let i = 0; i < 3 * electionTicks; i++) {
    c.node(l).readIndex(enc(`r${i}`));
    c.stabilize();
    c.node(l).tick();
    c.stabilize();
  }
  assert.equal(c.member(l).readStates.length, 1, "only the control read was served");
});

// ------------------------------------------------------------------------------------------ 6

test("Raft regression 6: lease read after a pause longer than an election timeout (tikv#964)", () => {
  // Bug: a leader paused (GC, SIGSTOP) past its lease wakes up believing the lease still runs and
  // serves reads although a new leader was elected and wrote meanwhile. The core's clock is its
  // ticks, so the driver contract is to tick for the elapsed monotonic time before stepping
  // anything else after a stall. Proves: after such catch-up ticks, a lease read on the resumed
  // leader is not served from the old lease (no read state, not at once nor later).
  const c = newCluster(3, { readOnlyOption: ReadOnlyOption.leaseBased });
  const l = tickUntilLeader(c, [1, 2, 3]);
  for (let i = 0; i < 3; i++) {
    c.tickAll();
    c.stabilize();
  }
  assertOk(c.node(l).readIndex(enc("control")), "control read");
  assert.equal(c.processReady(l)?.readStates.length, 1, "a lease read is served without messages");
  c.stabilize();

  c.isolate(l); // paused: no ticks, nothing in or out
  const others = [1, 2, 3].filter((id) => id !== l);
  let paused = 0;
  let leader: NodeId | undefined;
  while (leader === undefined) {
    for (const id of others) c.node(id).tick();
    c.stabilize();
    paused++;
    leader = others.find((id) => role(c, id) === StateRole.leader);
    assert.ok(paused < 20 * electionTicks, "the others elect a leader");
  }
  assert.ok(paused > electionTicks, "the pause is longer than an election timeout");
  assertOk(c.node(leader).propose(enc("x")), "write during the pause");
  c.stabilize();

  c.healAll();
  for (let i = 0; i < paused; i++) c.node(l).tick();
  // Still leader by its own view (CheckQuorum has not fired twice yet): the lease check decides.
  assert.equal(role(c, l), StateRole.leader);
  assertOk(c.node(l).readIndex(enc("after resume")), "read after resume");
  assert.equal(c.processReady(l)?.readStates.length ?? 0, 0, "no read state from the old lease");
  for (let i = 0; i < 3; i++) {
    c.tickAll();
    c.stabilize();
  }
  assert.equal(c.member(l).readStates.length, 1, "only the control read was served");
  assert.equal(c.node(l).status().lead, leader, "the resumed node follows the new leader");
});

// ------------------------------------------------------------------------------------------ 7

/**
 * Node 3 grants its term-1 vote to node 2 and "crashes" at `crash`: before the Ready holding the
 * vote is durable, or after it is durable and its messages sent. Then node 1 asks for node 3's
 * vote in the same term. Returns the term-1 grants that left node 3 (messages leave only as the
 * Ready contract allows: `messagesEarly` at once, `messages` after the write).
 */
function votesSentInTerm1(crash: "beforePersist" | "afterPersist", bugs: InjectedBugs): number {
  const c = newCluster(3, { preVote: false, bugs });
  let grants = 0;
  const count = (msgs: readonly Message[]): void => {
    for (const m of msgs) if (m.type === MessageType.voteResp && m.term === 1 && !m.reject) grants++;
  };
  c.node(2).campaign();
  c.processReady(2);
  c.queue = c.queue.filter((m) => m.to === 3);
  c.deliver(3);
  const n3 = c.node(3);
  const rd = n3.ready();
  if (bugs.voteWithoutPersist !== true) {
    assert.deepEqual(rd.hardState, { term: 1, vote: 2, commit: 0 }, "the Ready carries the vote");
    assert.equal(rd.mustSync, true);
    assert.ok(rd.messages.some((m) => m.type === MessageType.voteResp && !m.reject && m.to === 2));
    assert.ok(!rd.messagesEarly.some((m) => m.type === MessageType.voteResp), "no early vote");
  }
  count(rd.messagesEarly);
  if (crash === "afterPersist") {
    persist(c.member(3), rd);
    count(rd.messages);
  }
  c.restart(3);
  c.queue = [];
  c.node(1).campaign();
  c.processReady(1);
  c.queue = c.queue.filter((m) => m.to === 3);
  assert.equal(c.node(1).status().term, 1);
  c.deliver(3);
  const after = c.processReady(3);
  count(after?.messagesEarly ?? []);
  count(after?.messages ?? []);
  return grants;
}

test("Raft regression 7: vote not persisted before replying (hashicorp/raft#661)", () => {
  // Bug: a node that sends a vote grant before the vote is durable can, after a crash, grant a
  // second vote in the same term, electing two leaders. Proves: the Ready carrying the grant also
  // carries the hard state {term, vote} and the grant waits in `messages` (sent after the write),
  // and whether the node crashes before or after that write, at most one term-1 grant ever leaves
  // it. With the injected bug `voteWithoutPersist` the same runs send two grants.
  for (const crash of ["beforePersist", "afterPersist"] as const) {
    assert.equal(votesSentInTerm1(crash, {}), 1, `crash ${crash}`);
    assert.equal(votesSentInTerm1(crash, { voteWithoutPersist: true }), 2, `bug, crash ${crash}`);
  }
});

// ------------------------------------------------------------------------------------------ 8

test("Raft regression 8: pre-vote breaking vote rules (canonical/raft#196)", () => {
  // Bug: pre-votes that change term or vote, or a pre-vote grant from an earlier round counted in
  // a later one, let a node disrupt the cluster or vote twice. Proves: pre-campaigning never
  // changes the pre-candidate's term or vote (no hard state in its Readies), granting a pre-vote
  // changes neither on the granter, and a grant from an older round (for term 2) is ignored by a
  // pre-candidate now asking for term 3, while a grant of the current round is counted.
  const c = newCluster(3, { checkQuorum: false });
  c.elect(1);
  c.isolate(3);
  for (let i = 0; i < 3 * electionTicks; i++) {
    c.node(3).tick();
    const rd = c.processReady(3);
    assert.equal(rd?.hardState ?? null, null, "pre-campaigning writes no hard state");
    const s = c.node(3).status();
    assert.deepEqual([s.term, s.vote], [1, 1], "pre-candidate keeps term and vote");
  }
  assert.equal(role(c, 3), StateRole.preCandidate);
  const oldAsk = c.queue.filter((m) => m.type === MessageType.preVote && m.to === 2).at(-1);
  assert.ok(oldAsk !== undefined && oldAsk.term === 2);
  c.queue = [];
  c.node(2).step(oldAsk);
  const rd2 = c.processReady(2);
  assert.equal(rd2?.hardState ?? null, null, "granting a pre-vote writes no hard state");
  assert.deepEqual([c.node(2).status().term, c.node(2).status().vote], [1, 1]);
  const stale = rd2?.messages.find((m) => m.type === MessageType.preVoteResp && !m.reject);
  assert.ok(stale !== undefined && stale.term === 2, "node 2 granted the pre-vote for term 2");
  c.queue = [];

  c.healAll();
  c.elect(2); // term 2
  assert.equal(c.node(3).status().term, 2);
  c.isolate(3);
  for (let i = 0; role(c, 3) !== StateRole.preCandidate; i++) {
    assert.ok(i < 3 * electionTicks, "node 3 pre-campaigns after an election timeout");
    c.node(3).tick();
    c.processReady(3);
  }
  const ask = c.queue.filter((m) => m.type === MessageType.preVote && m.to === 1).at(-1);
  assert.ok(ask !== undefined && ask.term === 3);
  c.queue = [];
  c.node(3).step(stale);
  assert.equal(role(c, 3), StateRole.preCandidate, "the older round's grant is not counted");
  assert.equal(c.node(3).status().term, 2);

  c.node(1).step(ask);
  const fresh = c.processReady(1)?.messages.find((m) => m.type === MessageType.preVoteResp && !m.reject);
  assert.ok(fresh !== undefined && fresh.term === 3);
  c.node(3).step(fresh);
  assert.equal(role(c, 3), StateRole.candidate, "a grant of the current round is counted");
  assert.equal(c.node(3).status().term, 3);
});

// ------------------------------------------------------------------------------------------ 9

test("Raft regression 9: acknowledged but not durable (etcd#14370)", () => {
  // Bug: a leader that counts its own copy of an entry before writing it durably can commit and
  // acknowledge a write that a power loss then erases (etcd's single-node write loss). Proves: a
  // single-node leader hands out no commit for a proposal until advance() acknowledges the Ready
  // that contained it; a 3-node leader that has a follower's ack but not its own write keeps the
  // commit index below the entry until its advance().
  const c1 = newCluster(1);
  c1.elect(1);
  const n = c1.node(1);
  assertOk(n.propose(enc("x")), "propose");
  const rd = n.ready();
  const x = rd.entries.find((e) => dec(e.data) === "x");
  assert.ok(x !== undefined);
  assert.ok(!rd.committedEntries.some((e) => e.index >= x.index), "not handed out as committed");
  assert.ok((rd.hardState?.commit ?? 0) < x.index);
  n.tick();
  assert.ok(n.status().commit < x.index, "still not committed before advance()");
  persist(c1.member(1), rd);
  n.advance();
  assert.ok(n.status().commit >= x.index, "committed once the write is acknowledged");
  const rd2 = n.ready();
  assert.ok(rd2.committedEntries.some((e) => e.index === x.index));
  assert.ok((rd2.hardState?.commit ?? 0) >= x.index);
  persist(c1.member(1), rd2);
  n.advance();

  const c = newCluster(3);
  c.elect(1);
  c.cut.add("1->3");
  assertOk(c.node(1).propose(enc("y")), "propose");
  const lrd = c.node(1).ready();
  const y = lrd.entries.find((e) => dec(e.data) === "y");
  assert.ok(y !== undefined);
  c.queue.push(...lrd.messagesEarly); // the leader replicates while its own write is in flight
  c.deliver(2);
  c.processReady(2);
  c.deliver(1); // node 2's ack arrives before the leader's write completes
  const s = c.node(1).status();
  assert.equal(s.progress?.get(2)?.match, y.index);
  assert.ok((s.progress?.get(1)?.match ?? 0) < y.index, "the leader does not count itself yet");
  assert.ok(s.commit < y.index, "one durable copy of three is not a quorum");
  persist(c.member(1), lrd);
  c.queue.push(...lrd.messages);
  c.node(1).advance();
  assert.ok(c.node(1).status().commit >= y.index, "commits after its own write is durable");
  c.stabilize();
  assert.deepEqual(appliedData(c, 1), ["y"]);
});

// ------------------------------------------------------------------------------------------ 10

test("Raft regression 10: follower truncates on a stale non-conflicting AppendEntries (openraft 9540c904)", () => {
  // Bug: a follower that truncates its log to the end of every AppendEntries loses entries when
  // an old, shorter append arrives late (duplication, reordering). Proves: after AE(1..5), a stale
  // AE(2..3) and a stale AE(1..3) leave the log at 1..5 and do not lower the commit index; and over
  // every order of five appends, each delivered twice, the log only ever holds the leader's
  // entries, entries once held stay, commit never decreases, and the log ends at 1..5.
  const terms = [1, 1, 2, 2, 2];
  const log: Entry[] = terms.map((term, i) => ({
    term,
    index: i + 1,
    type: EntryType.normal,
    data: enc(`e${i + 1}`),
  }));
  const ae = (prev: number, upTo: number, commit: number): Message =>
    message({
      type: MessageType.app,
      from: 1,
      to: 2,
      term: 2,
      index: prev,
      logTerm: prev === 0 ? 0 : (terms[prev - 1] ?? 0),
      entries: log.slice(prev, upTo),
      commit,
    });
  const follower = (): TestCluster => {
    const c = new TestCluster();
    c.add(2, votersConf([1, 2]));
    return c;
  };

  const c = follower();
  c.node(2).step(ae(0, 5, 1));
  c.processReady(2);
  c.queue = [];
  c.node(2).step(ae(1, 3, 1)); // stale, prev index at the commit index: goes through the append path
  const resp = c.processReady(2)?.messages.find((m) => m.type === MessageType.appResp);
  assert.equal(resp?.reject, false);
  assert.equal(c.node(2).status().lastIndex, 5, "the stale append must not truncate");
  c.node(2).step(ae(5, 5, 4));
  c.node(2).step(ae(0, 3, 1)); // stale, below the commit index
  c.processReady(2);
  assert.equal(c.node(2).status().lastIndex, 5);
  assert.equal(c.node(2).status().commit, 4, "commit does not regress");

  const msgs = [ae(0, 5, 1), ae(1, 3, 1), ae(0, 3, 0), ae(3, 5, 3), ae(5, 5, 4)];
  const perms = (xs: readonly Message[]): Message[][] =>
    xs.length <= 1
      ? [xs.slice()]
      : xs.flatMap((x, i) => perms([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
  let runs = 0;
  for (const order of perms(msgs)) {
    const f = follower();
    let commit = 0;
    let held = 0;
    for (const m of [...order, ...order]) {
      f.node(2).step(m);
      f.processReady(2);
      f.queue = [];
      const s = f.node(2).status();
      assert.ok(s.commit >= commit, "commit regressed");
      assert.ok(s.lastIndex >= held, "an entry the follower held was truncated");
      for (let i = 1; i <= s.lastIndex; i++) assert.equal(f.member(2).storage.term(i), terms[i - 1]);
      commit = s.commit;
      held = s.lastIndex;
    }
    assert.equal(held, 5, "the follower ends with the whole log");
    f.node(2).step(ae(5, 5, 4)); // the leader's next heartbeat-like append
    assert.equal(f.node(2).status().commit, 4);
    runs++;
  }
  assert.equal(runs, 120);
});

// ------------------------------------------------------------------------------------------ 11

test("Raft regression 11: snapshot install races and metadata loss (openraft 447dc11c, 2eccb9e1)", () => {
  // Bug: installing a snapshot older than the local commit index rolls state back, and a snapshot
  // without the last configuration and term loses membership after compaction and restart.
  // Proves: (a) a snapshot older than the follower's commit is ignored: nothing to install, log
  // and commit unchanged, the answer reports the commit index; (b) a member added by a conf change
  // and then caught up from a snapshot gets that configuration and the term at the snapshot index
  // (the appends after it match); (c) after compacting twice (the second time past a removal) and
  // restarting, nodes keep the membership and elect and commit with it.
  const a = newCluster(3);
  a.elect(1);
  for (const d of ["a1", "a2", "a3", "a4"]) assertOk(a.node(1).propose(enc(d)), d);
  a.stabilize();
  const before = a.node(2).status();
  const old = a.member(1).storage.createSnapshot(2, a.node(1).confState(), enc("state@2"));
  a.node(2).step(message({ type: MessageType.snap, from: 1, to: 2, term: before.term, snapshot: old }));
  const rd = a.processReady(2);
  assert.equal(rd?.snapshot ?? null, null, "the older snapshot is not installed");
  const resp = rd?.messages.find((m) => m.type === MessageType.appResp);
  assert.equal(resp?.index, before.commit);
  const after = a.node(2).status();
  assert.deepEqual([after.lastIndex, after.commit], [before.lastIndex, before.commit]);
  assert.equal(a.member(2).storage.firstIndex(), 1, "the follower's log is untouched");
  // Also when the follower compacted past the snapshot (its log cannot vouch for index 2 then).
  a.member(2).storage.createSnapshot(before.commit, a.node(2).confState(), enc("follower state"));
  a.member(2).storage.compact(before.commit);
  a.node(2).step(message({ type: MessageType.snap, from: 1, to: 2, term: before.term, snapshot: old }));
  assert.equal(a.processReady(2)?.snapshot ?? null, null, "not installed over a compacted log either");
  assert.deepEqual(
    [a.node(2).status().lastIndex, a.node(2).status().commit],
    [before.lastIndex, before.commit],
  );

  const c = newCluster(3);
  c.elect(1);
  c.add(4, null);
  c.isolate(4);
  assertOk(c.node(1).proposeConfChange(change(ConfChangeType.addNode, 4)), "add 4");
  c.stabilize();
  for (const d of ["b1", "b2"]) assertOk(c.node(1).propose(enc(d)), d);
  c.stabilize();
  assert.deepEqual(c.node(1).status().config.voters, [1, 2, 3, 4]);
  const snapIndex = c.node(1).status().applied;
  c.member(1).storage.createSnapshot(snapIndex, c.node(1).confState(), enc(`state@${snapIndex}`));
  c.member(1).storage.compact(snapIndex);
  c.healAll();
  c.node(1).tick();
  let snapshotsTo4 = 0;
  drive(c, { tap: (m) => (m.type === MessageType.snap && m.to === 4 ? snapshotsTo4++ : 0) });
  assert.equal(snapshotsTo4, 1, "node 4 is caught up with a snapshot");
  const meta = c.member(4).storage.snapshot().metadata;
  assert.equal(meta.index, snapIndex);
  assert.equal(meta.term, c.member(1).storage.term(snapIndex), "the snapshot carries its term");
  assert.deepEqual(meta.confState.voters, [1, 2, 3, 4], "the snapshot carries the last config");
  assert.deepEqual(c.node(4).status().config.voters, [1, 2, 3, 4]);
  assertOk(c.node(1).propose(enc("b3")), "b3");
  c.stabilize();
  assert.deepEqual(appliedData(c, 4), ["b3"], "appends after the snapshot match on node 4");

  assertOk(c.node(1).proposeConfChange(change(ConfChangeType.removeNode, 3)), "remove 3");
  c.stabilize();
  assertOk(c.node(1).propose(enc("c1")), "c1");
  c.stabilize();
  for (const id of [1, 2, 4]) {
    const s = c.node(id).status();
    assert.deepEqual(s.config.voters, [1, 2, 4], `node ${id}`);
    c.member(id).storage.createSnapshot(s.applied, c.node(id).confState(), enc(`state@${s.applied}`));
    c.member(id).storage.compact(s.applied);
  }
  assert.ok(c.member(1).storage.firstIndex() > snapIndex + 1, "node 1 compacted a second time");
  c.isolate(3);
  for (const id of [1, 2, 4]) c.restart(id);
  for (const id of [1, 2, 4]) assert.deepEqual(c.node(id).status().config.voters, [1, 2, 4], `node ${id}`);
  const l = tickUntilLeader(c, [1, 2, 4]);
  assertOk(c.node(l).propose(enc("c2")), "c2");
  c.stabilize();
  for (const id of [1, 2, 4]) assert.deepEqual(appliedData(c, id), ["c2"], `node ${id}`);
});

// ------------------------------------------------------------------------------------------ 12

test("Raft regression 12: apply index not atomic with state (etcd#13766)", () => {
  // Bug: if the applied index is not stored atomically with the state it describes, a restart
  // re-applies entries (or skips them). Proves: a node restarted with `applied` = k (what its
  // state machine durably holds) is handed exactly the committed entries k+1..commit, for every k
  // from 0 to commit, so together with the state it restarts from every entry applies once.
  const c = newCluster(3);
  c.elect(1);
  for (let i = 0; i < 5; i++) assertOk(c.node(1).propose(enc(`e${i}`)), `e${i}`);
  c.stabilize();
  const storage = c.member(2).storage;
  const commit = storage.hardState.commit;
  assert.equal(commit, c.node(1).status().commit);
  for (let k = 0; k <= commit; k++) {
    const n = new RawNode({ id: 2, storage, rng: new SeededRng(k), applied: k });
    const handedOut: number[] = [];
    for (let i = 0; n.hasReady(); i++) {
      assert.ok(i < 100, "the restarted node keeps producing Readies");
      const rd = n.ready();
      assert.equal(rd.entries.length, 0);
      handedOut.push(...rd.committedEntries.map((e) => e.index));
      n.advance();
    }
    const expected = Array.from({ length: commit - k }, (_, i) => k + 1 + i);
    assert.deepEqual(handedOut, expected, `restart with applied = ${k}`);
    assert.equal(n.status().applied, commit);
  }
});

// ------------------------------------------------------------------------------------------ 13

/** Ticks the cluster for 30 election timeouts with node 1 proposing every 5 ticks; returns what it proposed. */
function runWithPartialLinks(c: TestCluster, name: string, check: (t: number) => void): string[] {
  const proposed: string[] = [];
  for (let t = 0; t < 30 * electionTicks; t++) {
    c.tickAll();
    if (t % 5 === 0 && role(c, 1) === StateRole.leader) {
      const d = `${name}-${t}`;
      if (c.node(1).propose(enc(d)).ok) proposed.push(d);
    }
    c.stabilize();
    check(t);
  }
  return proposed;
}

test("Raft regression 13: partial-connectivity livelock (Cloudflare 2020 etcd outage)", () => {
  // Bug: a node that cannot hear the leader but reaches another member keeps starting elections;
  // each raises terms and deposes a healthy leader, so the cluster stops making progress. Proves:
  // with PreVote and CheckQuorum, five nodes where the leader reaches 2 and 3 and nodes 4 and 5
  // each reach only one peer (the leader; or a follower, which is the outage's shape) keep one
  // leader in one term for 30 election timeouts and commit every proposal on a majority. Without
  // them the follower-shaped topology deposes the leader, so the test can tell the difference.
  const topologies: Record<string, readonly (readonly [NodeId, NodeId])[]> = {
    viaLeader: [
      [1, 2],
      [1, 3],
      [2, 3],
      [1, 4],
      [1, 5],
    ],
    viaFollower: [
      [1, 2],
      [1, 3],
      [2, 3],
      [2, 4],
      [3, 5],
    ],
  };
  for (const [name, links] of Object.entries(topologies)) {
    const c = newCluster(5);
    c.elect(1);
    const term = c.node(1).status().term;
    onlyLinks(c, links);
    const proposed = runWithPartialLinks(c, name, (t) => {
      assert.equal(role(c, 1), StateRole.leader, `${name}: node 1 lost leadership at tick ${t}`);
      for (const id of c.members.keys())
        assert.equal(c.node(id).status().term, term, `${name}: term of ${id}`);
    });
    assert.equal(proposed.length, 60);
    const committedOn = name === "viaLeader" ? [1, 2, 3, 4, 5] : [1, 2, 3];
    for (const id of committedOn) assert.deepEqual(appliedData(c, id), proposed, `${name}: node ${id}`);
  }

  const control = newCluster(5, { preVote: false, checkQuorum: false });
  control.elect(1);
  const term = control.node(1).status().term;
  onlyLinks(control, topologies.viaFollower ?? []);
  let deposed = 0;
  runWithPartialLinks(control, "control", () => {
    if (role(control, 1) !== StateRole.leader) deposed++;
  });
  assert.ok(deposed > 0 && control.node(1).status().term > term, "without PreVote/CheckQuorum it churns");
});

// ------------------------------------------------------------------------------------------ 14

test("Raft regression 14: removed and non-voting members affecting quorum (hashicorp/raft GH-398)", () => {
  // Bug: learners or removed members that vote, campaign or count towards commit, a removed
  // node that deposes the leader with its vote requests, and a leader removed by its own change
  // that keeps leading. Proves: (a) a learner gets the log but never campaigns, its ack does not
  // commit, no candidate asks it for a vote and its grant is not counted; (b) a removed node
  // campaigning with ever higher terms does not disturb the leader; (c) a leader removed by a
  // config it committed steps down and the rest elect a leader and commit; (d) 2→1 removal of the
  // leader commits and the remaining node becomes leader.
  const a = new TestCluster();
  for (const id of [1, 2, 3, 4]) a.add(id, votersConf([1, 2, 3], [4]));
  a.elect(1);
  assertOk(a.node(1).propose(enc("l1")), "l1");
  a.stabilize();
  assert.deepEqual(appliedData(a, 4), ["l1"], "the learner gets the log");
  a.isolate(4);
  const term4 = a.node(4).status().term;
  const isVote = (m: Message): boolean => m.type === MessageType.vote || m.type === MessageType.preVote;
  for (let i = 0; i < 5 * electionTicks; i++) {
    a.node(4).tick();
    if (i === 0) a.node(4).campaign();
    const rd = a.processReady(4);
    assert.ok(!(rd?.messages ?? []).some(isVote) && !(rd?.messagesEarly ?? []).some(isVote));
  }
  assert.deepEqual(
    [role(a, 4), a.node(4).status().term],
    [StateRole.follower, term4],
    "learner never campaigns",
  );
  a.queue = [];
  a.healAll();
  a.partition(1, [2, 3]);
  assertOk(a.node(1).propose(enc("l2")), "l2");
  a.stabilize();
  const s = a.node(1).status();
  assert.equal(s.progress?.get(4)?.match, s.lastIndex, "the learner acked");
  assert.ok(s.commit < s.lastIndex, "a learner's ack does not make a quorum");
  a.healAll();
  a.node(1).tick();
  a.stabilize();
  assert.deepEqual(appliedData(a, 3), ["l1", "l2"]);
  // Node 3 can reach only the learner: it asks no learner for a vote, and a grant from the
  // learner (as one that had not yet applied its promotion would send) is not counted.
  onlyLinks(a, [[3, 4]]);
  let asksToLearner = 0;
  for (let i = 0; role(a, 3) !== StateRole.preCandidate; i++) {
    assert.ok(i < 3 * electionTicks, "node 3 pre-campaigns after an election timeout");
    a.node(3).tick();
    a.node(4).tick();
    drive(a, { tap: (m) => (m.to === 4 && isVote(m) ? asksToLearner++ : 0) });
  }
  assert.equal(asksToLearner, 0, "a candidate asks no learner for its vote");
  const asked = a.node(3).status().term + 1;
  a.node(3).step(message({ type: MessageType.preVoteResp, from: 4, to: 3, term: asked }));
  assert.equal(role(a, 3), StateRole.preCandidate, "a learner's grant does not count");
  a.node(3).step(message({ type: MessageType.preVoteResp, from: 2, to: 3, term: asked }));
  assert.equal(role(a, 3), StateRole.candidate, "a voter's grant does");

  // With CheckQuorum, leader stickiness also shields the leader; without it, only the rule that
  // (pre)votes from a removed node (its log lacks its removal) are ignored does.
  for (const options of [{}, { checkQuorum: false }]) {
    const b = newCluster(3, options);
    const what = JSON.stringify(options);
    b.elect(1);
    b.isolate(3);
    assertOk(b.node(1).proposeConfChange(change(ConfChangeType.removeNode, 3)), "remove 3");
    b.stabilize();
    assert.deepEqual(b.node(2).status().config.voters, [1, 2]);
    b.member(3).options = { ...options, preVote: false }; // it campaigns with term-raising votes
    b.restart(3);
    b.healAll();
    const termB = b.node(1).status().term;
    for (let i = 0; i < 10 * electionTicks; i++) {
      b.tickAll();
      b.stabilize();
      assert.deepEqual([role(b, 1), b.node(1).status().term], [StateRole.leader, termB], `${what} tick ${i}`);
    }
    assert.ok(b.node(3).status().term > termB + 2, `${what}: the removed node kept campaigning`);
    assertOk(b.node(1).propose(enc("after")), "after");
    b.stabilize();
    assert.deepEqual(appliedData(b, 2), ["after"], what);
  }

  const c = newCluster(3);
  c.elect(1);
  assertOk(c.node(1).proposeConfChange(change(ConfChangeType.removeNode, 1)), "remove the leader");
  c.stabilize();
  assert.notEqual(role(c, 1), StateRole.leader, "the removed leader stepped down");
  for (const id of [2, 3]) assert.deepEqual(c.node(id).status().config.voters, [2, 3]);
  const l = tickUntilLeader(c, [1, 2, 3], [2, 3]);
  assertOk(c.node(l).propose(enc("after")), "after");
  for (let i = 0; i < 5 * electionTicks; i++) {
    c.tickAll();
    c.stabilize();
    assert.notEqual(role(c, 1), StateRole.leader);
  }
  for (const id of [2, 3]) assert.deepEqual(appliedData(c, id), ["after"]);

  const d = newCluster(2);
  d.elect(1);
  const ccIndex = d.node(1).status().lastIndex + 1;
  assertOk(d.node(1).proposeConfChange(change(ConfChangeType.removeNode, 1)), "2→1");
  d.stabilize();
  assert.ok(d.node(2).status().commit >= ccIndex, "the removal committed on the remaining node");
  assert.deepEqual(d.node(2).status().config.voters, [2]);
  assert.notEqual(role(d, 1), StateRole.leader);
  tickUntilLeader(d, [1, 2], [2]);
  assertOk(d.node(2).propose(enc("solo")), "solo");
  d.stabilize();
  assert.deepEqual(appliedData(d, 2), ["solo"]);
});

// ------------------------------------------------------------------------------------------ 15

/** Most node ids the membership chaos run creates. */
const chaosIdsMax = 12;

/** One seeded run of random proposals, membership changes, partitions and restarts. */
function membershipChaos(seed: number, steps: number): void {
  const rng = new SeededRng(seed);
  // Members start from a genesis snapshot, so that nodes joining later learn the configuration.
  const c = newCluster(3, {}, undefined, true);
  const where = `seed ${seed}`;
  let nextId = 4;
  let seq = 0;
  const byIndex = new Map<number, string>();
  const cursor = new Map<NodeId, number>();
  const acked = new Set<string>();
  const pick = <T>(xs: readonly T[]): T => xs[rng.intBelow(xs.length)] as T;
  const checkApplied = (): void => {
    for (const [id, m] of c.members) {
      const from = cursor.get(id) ?? 0;
      for (let i = from; i < m.applied.length; i++) {
        const e = m.applied[i] as Entry;
        const prev = m.applied[i - 1];
        if (prev !== undefined) assert.equal(e.index, prev.index + 1, `${where}: node ${id} skipped`);
        const key = `${e.term}/${e.type}/${e.data.join(",")}`;
        const seen = byIndex.get(e.index);
        if (seen === undefined) byIndex.set(e.index, key);
        else assert.equal(key, seen, `${where}: node ${id} applied a different entry at ${e.index}`);
        if (e.type === EntryType.normal && e.data.length > 0) acked.add(dec(e.data));
      }
      cursor.set(id, m.applied.length);
    }
  };
  const newMember = (): NodeId | null => {
    if (nextId > chaosIdsMax) return null;
    const id = nextId++;
    c.add(id, null, {}, seed * 100 + id);
    return id;
  };
  const membership = (l: NodeId): void => {
    const { voters, learners } = c.node(l).status().config;
    const kind = rng.intBelow(5);
    let cc: ConfChange | null = null;
    if (kind <= 1) {
      const id = newMember();
      if (id !== null) cc = change(kind === 0 ? ConfChangeType.addNode : ConfChangeType.addLearner, id);
    } else if (kind === 2 && learners.length > 0) {
      cc = change(ConfChangeType.addNode, pick(learners));
    } else if (kind === 3 && voters.length > 1) {
      cc = change(ConfChangeType.removeNode, rng.intBelow(2) === 0 ? l : pick(voters));
    } else if (kind === 4) {
      const id = newMember();
      const out = pick(voters);
      if (id !== null) {
        cc = {
          transition: ConfChangeTransition.auto,
          changes: [
            { type: ConfChangeType.removeNode, nodeId: out },
            { type: ConfChangeType.addNode, nodeId: id },
          ],
          context: new Uint8Array(0),
        };
      }
    }
    if (cc !== null) c.node(l).proposeConfChange(cc);
  };

  for (let step = 0; step < steps; step++) {
    const l = c.leader();
    const roll = rng.intBelow(100);
    const ids = [...c.members.keys()];
    if (roll < 45 && l !== 0) {
      c.node(l).propose(enc(`s${seed}-${seq++}`));
    } else if (roll < 65 && l !== 0) {
      membership(l);
    } else if (roll < 80) {
      c.healAll();
      c.isolate(pick(ids));
      if (rng.intBelow(2) === 0) c.isolate(pick(ids));
    } else if (roll < 92) {
      c.healAll();
    } else {
      const id = pick(ids);
      c.restart(id);
      cursor.set(id, 0);
    }
    for (let t = 1 + rng.intBelow(3); t > 0; t--) {
      c.tickAll();
      c.stabilize();
      checkApplied();
    }
  }

  c.healAll();
  const members = (l: NodeId): NodeId[] => {
    const cs = c.node(l).status().config;
    return [...new Set([...cs.voters, ...cs.votersOutgoing, ...cs.learners, ...cs.learnersNext])];
  };
  const converged = (l: NodeId): boolean => {
    const s = c.node(l).status();
    return (
      s.config.votersOutgoing.length === 0 &&
      s.applied === s.commit &&
      s.commit === s.lastIndex &&
      members(l).every((id) => c.members.has(id) && c.node(id).status().applied === s.commit)
    );
  };
  let l = 0;
  for (let i = 0; i < 50 * electionTicks && !(l !== 0 && converged(l)); i++) {
    c.tickAll();
    c.stabilize();
    checkApplied();
    l = c.leader();
  }
  assert.ok(l !== 0 && converged(l), `${where}: the cluster did not converge`);
  assert.ok(acked.size > 20, `${where}: too few writes got through (${acked.size})`);
  for (const id of members(l)) {
    const got = new Set(appliedData(c, id));
    for (const d of acked) assert.ok(got.has(d), `${where}: node ${id} lacks acknowledged ${d}`);
  }
}

test("Raft regression 15: membership change under faults (Jepsen RethinkDB 2.2.3)", () => {
  // Bug: membership changes (add, remove, replace, remove the leader) combined with partitions and
  // crashes split the cluster, lose acknowledged writes or leave it unable to elect. Proves: (a)
  // the case this run found in the core: {1,2,3} → add 4 → remove 2 → remove the leader 1, all
  // while 3 is cut off, leaves {3,4}, where 4 needs the vote of 3, which applied none of it and
  // does not know 4; 3 must still vote (thesis §4.1) and the pair elects and commits; (b) for five
  // fixed seeds of a bounded random run on the in-memory harness, every node applies the same
  // entry at each index (applied logs are prefixes of one log), and after healing a leader of the
  // final configuration emerges and every write any node applied is applied by all its members.
  const d = newCluster(3, {}, undefined, true);
  d.add(4, null);
  d.elect(1);
  d.isolate(3);
  const changes = [
    change(ConfChangeType.addNode, 4),
    change(ConfChangeType.removeNode, 2),
    change(ConfChangeType.removeNode, 1),
  ];
  for (const cc of changes) {
    assertOk(d.node(1).proposeConfChange(cc), JSON.stringify(cc.changes));
    d.stabilize();
  }
  assert.deepEqual(d.node(4).status().config.voters, [3, 4]);
  assert.deepEqual(d.node(3).status().config.voters, [1, 2, 3], "node 3 has not heard of 4");
  d.healAll();
  const l = tickUntilLeader(d, [1, 2, 3, 4], [3, 4]);
  assertOk(d.node(l).propose(enc("after")), "after");
  d.stabilize();
  for (const id of [3, 4]) {
    assert.deepEqual(appliedData(d, id), ["after"], `node ${id}`);
    assert.deepEqual(d.node(id).status().config.voters, [3, 4], `node ${id}`);
  }

  for (const seed of [1, 2, 3, 4, 5]) membershipChaos(seed, 200);
});

// ------------------------------------------------------------------------------------------ 16

test("Raft regression 16: fsync failure then retry (fsyncgate)", () => {
  // Bug: retrying a failed fsync (or carrying on) treats data the kernel may have dropped as
  // durable. The driver's rule is to crash instead; proves the core cooperates: a Ready whose
  // write failed is never advanced, so the leader never counts its entry and never commits it,
  // and the node restarted from storage lacks the entry (single node and 3 nodes).
  const c1 = newCluster(1);
  c1.elect(1);
  assertOk(c1.node(1).propose(enc("x")), "x");
  const rd = c1.node(1).ready();
  const x = rd.entries.find((e) => dec(e.data) === "x");
  assert.ok(x !== undefined);
  assert.ok(c1.node(1).status().commit < x.index);
  assert.ok(!rd.committedEntries.some((e) => e.index >= x.index));
  c1.restart(1); // the write failed: crash, nothing of this Ready reached the disk
  assert.ok(c1.member(1).storage.lastIndex() < x.index);
  c1.node(1).campaign();
  c1.stabilize();
  assert.equal(role(c1, 1), StateRole.leader);
  assert.deepEqual(appliedData(c1, 1), []);

  const c = newCluster(3);
  c.elect(1);
  c.cut.add("1->3");
  assertOk(c.node(1).propose(enc("y")), "y");
  const lrd = c.node(1).ready();
  const y = lrd.entries.find((e) => dec(e.data) === "y");
  assert.ok(y !== undefined);
  c.queue.push(...lrd.messagesEarly);
  c.deliver(2);
  c.processReady(2);
  c.deliver(1);
  const s = c.node(1).status();
  assert.ok((s.progress?.get(1)?.match ?? 0) < y.index, "the leader never counted its own copy");
  assert.ok(s.commit < y.index, "y is not committed");
  c.restart(1); // fsync failed: crash instead of retrying
  assert.equal(c.member(1).storage.lastIndex(), y.index - 1, "y is not on the leader's disk");
  for (const id of [1, 2, 3]) assert.ok(!appliedData(c, id).includes("y"), `node ${id} applied y`);
});

// ------------------------------------------------------------------------------------------ 17

/**
 * Entries a..d commit on nodes 1 and 2 while node 3 is cut off after "a"; then node 2's log is
 * torn back to index 2 (it loses b..d, which it had acknowledged) and it restarts, with
 * `abstainUntilCaughtUp` as given. Finally node 1 is cut off and 2 and 3 can talk.
 */
function tornStorage(abstain: boolean): TestCluster {
  const c = newCluster(3);
  c.elect(1);
  assertOk(c.node(1).propose(enc("a")), "a");
  c.stabilize();
  c.isolate(3);
  for (const d of ["b", "c", "d"]) assertOk(c.node(1).propose(enc(d)), d);
  c.stabilize();
  assert.deepEqual(appliedData(c, 1), ["a", "b", "c", "d"]);
  const m2 = c.member(2);
  const keep = 2;
  const torn = MemoryStorage.withConfState(votersConf([1, 2, 3]));
  const ents = m2.storage.entries(1, keep + 1, Number.POSITIVE_INFINITY);
  assert.ok(ents !== "compacted");
  torn.append(ents);
  torn.setHardState({ ...m2.storage.hardState, commit: Math.min(m2.storage.hardState.commit, keep) });
  m2.storage = torn;
  m2.options = { abstainUntilCaughtUp: abstain };
  c.restart(2);
  c.healAll();
  c.isolate(1);
  return c;
}

test("Raft regression 17: torn or corrupted storage treated as authoritative (NATS 2.12.1)", () => {
  // Bug: a node whose log lost a torn or corrupt tail on restart votes (or leads) as if its short
  // log were complete, helping elect a leader without committed entries. Proves: restarted with a
  // truncated log and `abstainUntilCaughtUp`, node 2 grants no vote or pre-vote and never
  // campaigns while only node 3 (also behind) can reach it, so no leader without b..d emerges;
  // once node 1 is back and catches it up, it votes again, and no node lost a committed entry.
  // The same run without abstaining elects such a leader and overwrites committed entries.
  const bad = tornStorage(false);
  const badLeader = tickUntilLeader(bad, [2, 3]);
  assertOk(bad.node(badLeader).propose(enc("z")), "z");
  bad.stabilize();
  assert.ok(anyApplied(bad, 3, 2).length > 0 && anyApplied(bad, 3, 1).includes(1), "control diverges");

  const c = tornStorage(true);
  const grantsFrom2 = (m: Message): void => {
    const resp = m.type === MessageType.voteResp || m.type === MessageType.preVoteResp;
    assert.ok(!(resp && m.from === 2 && !m.reject), "node 2 granted a vote before catching up");
  };
  for (let i = 0; i < 5 * electionTicks; i++) {
    c.tickAll();
    drive(c, { tap: grantsFrom2 });
    assert.equal(role(c, 2), StateRole.follower, "node 2 must not campaign");
    assert.notEqual(role(c, 3), StateRole.leader, "node 3 must not win without node 2's log");
  }
  assert.notEqual(role(c, 1), StateRole.leader, "the cut-off leader stepped down");
  c.healAll();
  assert.equal(tickUntilLeader(c, [1, 2, 3]), 1, "only the node with every entry can win");
  c.stabilize();
  for (const id of [1, 2, 3]) assert.deepEqual(appliedData(c, id).slice(-3), ["b", "c", "d"], `node ${id}`);
  c.isolate(1);
  const l = tickUntilLeader(c, [2, 3]);
  assertOk(c.node(l).propose(enc("e")), "e");
  c.stabilize();
  for (const id of [2, 3]) assert.deepEqual(appliedData(c, id).slice(-4), ["b", "c", "d", "e"]);
});

// ------------------------------------------------------------------------------------------ 18

test("Raft regression 18: async-storage append ABA race (etcd async_storage_writes_append_aba_race)", () => {
  // Bug: a write in flight for entry i@t1 completes after newer leaders replaced i in memory
  // (i@t2, then i@t3); acknowledging it by index alone marks the newer, unwritten entry stable,
  // so it is never written yet acknowledged to the leader, which counts it. Proves: advancing an
  // old Ready leaves the replacing entry unstable, so the next Ready carries it and the append ack
  // leaves only with that Ready's write; the current leader has not counted node 1's copy before
  // it is on disk, and the disk ends with i@t3.
  const c = newCluster(7, { preVote: false, checkQuorum: false });
  c.elect(2);
  const m1 = c.member(1);
  const n1 = c.node(1);
  assertOk(c.node(2).propose(enc("init")), "init");
  c.processReady(2);
  c.queue = c.queue.filter((m) => m.to === 1);
  c.deliver(1);
  const rd1 = n1.ready();
  const i = rd1.entries[0]?.index ?? 0;
  assert.deepEqual(
    rd1.entries.map((e) => [e.index, e.term]),
    [[i, 1]],
  );

  c.isolate(2); // node 2 goes down; node 3 wins term 2 and its no-op reaches only node 1
  c.node(3).campaign();
  drive(c, { drop: (m) => m.type === MessageType.app && m.from === 3 && m.to !== 1 });
  assert.equal(role(c, 3), StateRole.leader);
  persist(m1, rd1); // the first write completes...
  c.queue.push(...rd1.messages);
  n1.advance(); // ...and is acknowledged after i was replaced by i@t2
  const rd2 = n1.ready();
  assert.deepEqual(
    rd2.entries.map((e) => [e.index, e.term]),
    [[i, 2]],
    "i@t2 is still to be written",
  );
  const ack2 = (m: Message): boolean => m.type === MessageType.appResp && m.to === 3 && m.index === i;
  assert.ok(rd2.messages.some(ack2) && !rd2.messagesEarly.some(ack2), "the ack waits for the write");

  c.isolate(3); // node 3 goes down; node 4 wins term 3 and its no-op reaches only node 1
  c.node(4).campaign();
  drive(c, { drop: (m) => m.type === MessageType.app && m.from === 4 && m.to !== 1 });
  assert.equal(role(c, 4), StateRole.leader);
  persist(m1, rd2);
  c.queue.push(...rd2.messages);
  n1.advance();
  const s4 = c.node(4).status();
  assert.ok((s4.progress?.get(1)?.match ?? 0) < i, "leader 4 has not counted node 1's copy");
  const rd3 = n1.ready();
  assert.deepEqual(
    rd3.entries.map((e) => [e.index, e.term]),
    [[i, 3]],
    "i@t3 is still to be written",
  );
  assert.equal(m1.storage.term(i), 2, "the disk holds i@t2 until this write");
  persist(m1, rd3);
  c.queue.push(...rd3.messages);
  n1.advance();
  assert.equal(m1.storage.term(i), 3);

  for (let t = 0; t < 3; t++) {
    c.node(4).tick();
    drive(c, {
      tap: (m) => {
        if (m.type === MessageType.appResp && m.from === 1 && m.to === 4 && m.index >= i) {
          assert.equal(m1.storage.term(i), 3, "node 1 acknowledged i before i@t3 was on disk");
        }
      },
    });
  }
  assert.ok(c.node(4).status().commit >= i);
  for (const id of [1, 4, 5, 6, 7]) assert.ok(anyApplied(c, i, 3).includes(id), `node ${id} applied i@t3`);
  assert.deepEqual(anyApplied(c, i, 1), []);
  assert.deepEqual(anyApplied(c, i, 2), []);
});

// ------------------------------------------------------------------------------------------ 19

test("Raft regression 19: slow follower needing a snapshot after compaction (etcd slow_follower_after_compaction)", () => {
  // Bug (etcd-io/raft#31): a follower in replicate state whose in-flight appends were lost while
  // the leader compacted past its next index is never caught up (or the leader fails). Proves:
  // with a full inflight window to node 3 and its appends dropped, after compaction one heartbeat
  // round leads to a snapshot (progress snapshot, then replicate), node 3 installs it and gets
  // the entries after it, matching the leader.
  const c = newCluster(3, { inflightMessagesMax: 2 });
  c.elect(1);
  for (const d of ["p1", "p2", "p3"]) assertOk(c.node(1).propose(enc(d)), d);
  c.stabilize();
  for (const d of ["p4", "p5", "p6", "p7"]) assertOk(c.node(1).propose(enc(d)), d);
  drive(c, { drop: (m) => m.to === 3 });
  const last = c.node(1).status().lastIndex;
  const pr3 = c.node(1).status().progress?.get(3);
  assert.equal(pr3?.state, ProgressState.replicate);
  assert.equal(pr3?.inflight, 2, "the window to node 3 is full");
  assert.ok((pr3?.match ?? last) < last - 2);
  c.member(1).storage.createSnapshot(last - 1, c.node(1).confState(), enc("state"));
  c.member(1).storage.compact(last - 1);

  const states: string[] = [ProgressState.replicate];
  c.node(1).tick();
  drive(c, {
    check: () => {
      const st = c.node(1).status().progress?.get(3)?.state;
      if (st !== undefined && st !== states.at(-1)) states.push(st);
    },
  });
  assert.ok(states.includes(ProgressState.snapshot), `progress states ${states.join(" → ")}`);
  assert.equal(states.at(-1), ProgressState.replicate);
  assert.equal(c.node(1).status().progress?.get(3)?.match, last);
  assert.equal(c.member(3).storage.snapshot().metadata.index, last - 1);
  assert.equal(c.node(3).status().lastIndex, last);
  assert.deepEqual(appliedData(c, 3), ["p1", "p2", "p3", "p7"], "p4..p6 came in the snapshot");
});

// ------------------------------------------------------------------------------------------ 20

test("Raft regression 20: heartbeat response recovers a follower stuck in probing (etcd heartbeat_resp_recovers_from_probing)", () => {
  // Bug: a follower in probe state whose single probe was lost (or that is already caught up)
  // stays paused or in probe forever. Proves: (a) after the probe to node 3 is lost, further
  // proposals send it nothing (paused), and the next heartbeat response unpauses it and resends,
  // so node 3 catches up and is in replicate state; (b) a caught-up follower moved to probe by
  // reportUnreachable is back in replicate state after one heartbeat round.
  const c = newCluster(3);
  c.elect(1);
  c.node(1).reportUnreachable(3);
  assert.equal(c.node(1).status().progress?.get(3)?.state, ProgressState.probe);
  assertOk(c.node(1).propose(enc("x")), "x");
  drive(c, { drop: (m) => m.type === MessageType.app && m.to === 3 });
  assertOk(c.node(1).propose(enc("y")), "y");
  c.processReady(1);
  assert.ok(!c.queue.some((m) => m.type === MessageType.app && m.to === 3), "paused while a probe is out");
  c.stabilize();
  assert.deepEqual(appliedData(c, 3), []);
  c.node(1).tick();
  c.stabilize();
  const pr3 = c.node(1).status().progress?.get(3);
  assert.equal(pr3?.state, ProgressState.replicate);
  assert.equal(pr3?.match, c.node(1).status().lastIndex);
  assert.deepEqual(appliedData(c, 3), ["x", "y"]);

  const d = newCluster(3);
  d.elect(1);
  d.node(1).reportUnreachable(2);
  assert.equal(d.node(1).status().progress?.get(2)?.state, ProgressState.probe);
  d.node(1).tick();
  d.stabilize();
  assert.equal(d.node(1).status().progress?.get(2)?.state, ProgressState.replicate);
});
