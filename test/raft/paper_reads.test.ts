// Rules of linearizable reads (Raft thesis §6.4 ReadIndex, §6.4.1 leases) and of leadership
// transfer (thesis §3.10), one test per rule. Nodes are driven by hand-built messages; the
// end-to-end transfer uses TestCluster.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SeededRng } from "../../src/lib/rng.js";
import { ReadOnlyOption } from "../../src/raft/config.js";
import { campaignTransferContext } from "../../src/raft/raft.js";
import { RawNode } from "../../src/raft/rawnode.js";
import { MemoryStorage } from "../../src/raft/storage.js";
import {
  type ConfState,
  type Message,
  MessageType,
  type NodeId,
  RejectReason,
  StateRole,
} from "../../src/raft/types.js";
import { newCluster, type TestCluster, votersConf } from "../../src/testing/cluster.js";
import { dec, drain, ET, enc, type Options, ofType, type Peer, reason, send, startPeer } from "./peer.js";

// ------------------------------------------------------------------ helpers

function start(id: NodeId, conf: ConfState, opts: Options = {}): Peer {
  return startPeer(id, conf, { preVote: false, ...opts });
}

const three = votersConf([1, 2, 3]);
const lease: Options = { readOnlyOption: ReadOnlyOption.leaseBased };

function reads(p: Peer): [string, number][] {
  return p.readStates.map((s) => [dec(s.context), s.index]);
}

/** Makes node 1 of `conf` leader in term 1 without committing its no-op yet. */
function newLeader(conf: ConfState = three, opts: Options = {}): Peer {
  const p = start(1, conf, opts);
  p.node.campaign();
  drain(p);
  send(p, { type: MessageType.voteResp, from: 2, term: 1 });
  assert.equal(p.node.raft.role, StateRole.leader);
  drain(p);
  return p;
}

/** A leader in term 1 whose no-op follower 2 has acknowledged (so it is committed). */
function settledLeader(conf: ConfState = three, opts: Options = {}): Peer {
  const p = newLeader(conf, opts);
  send(p, { type: MessageType.appResp, from: 2, term: 1, index: 1 });
  drain(p);
  assert.equal(p.node.raft.log.committed, 1);
  return p;
}

/** Answers every heartbeat in `msgs` addressed to `from`; returns what the leader then sent. */
function answerHeartbeats(p: Peer, msgs: readonly Message[], from: NodeId): Message[] {
  for (const hb of ofType(msgs, MessageType.heartbeat, from)) {
    send(p, { type: MessageType.heartbeatResp, from, term: p.node.raft.term, round: hb.round });
  }
  return drain(p);
}

/** Ticks the leader `n` times, with follower 2 answering its heartbeats (so it keeps its quorum). */
function tickWithQuorum(p: Peer, n: number): void {
  for (let i = 0; i < n; i++) {
    p.node.tick();
    answerHeartbeats(p, drain(p), 2);
  }
}

// ------------------------------------------------------------------ ReadIndex (§6.4)

test("Raft thesis §6.4: ReadIndex waits until the leader has committed an entry of its term", () => {
  // Proves a new leader, which may not know the latest commit index yet, answers no read until
  // its no-op commits; the read then gets a read index at least that of the no-op.
  const p = newLeader();
  assert.equal(p.node.readIndex(enc("r1")).ok, true);
  const sent = drain(p);
  assert.deepEqual(ofType(sent, MessageType.heartbeat), []);
  assert.deepEqual(p.readStates, []);
  answerHeartbeats(p, sent, 2);
  assert.deepEqual(p.readStates, []);
  send(p, { type: MessageType.appResp, from: 2, term: 1, index: 1 });
  const round = drain(p);
  assert.deepEqual(p.readStates, [], "still needs a heartbeat round");
  answerHeartbeats(p, round, 2);
  assert.deepEqual(reads(p), [["r1", 1]]);
});

test("Raft thesis §6.4: the leader answers a read only after a quorum acknowledges a heartbeat round sent after it", () => {
  // Proves the leader records its commit index when the read arrives, confirms it is still leader
  // with a fresh heartbeat round, ignores acknowledgements of older rounds, and answers with the
  // recorded index once a majority (itself plus one of three) acknowledged the new round.
  const p = settledLeader();
  p.node.tick();
  const oldRound = drain(p);
  assert.equal(ofType(oldRound, MessageType.heartbeat).length, 2);
  assert.equal(p.node.readIndex(enc("r")).ok, true);
  drain(p);
  assert.equal(p.node.propose(enc("later")).ok, true);
  send(p, { type: MessageType.appResp, from: 2, term: 1, index: 2 });
  drain(p);
  assert.equal(p.node.raft.log.committed, 2);
  answerHeartbeats(p, oldRound, 2);
  assert.deepEqual(p.readStates, [], "an acknowledgement of a round sent before the read proves nothing");
  p.node.tick();
  const round = drain(p);
  assert.equal(ofType(round, MessageType.heartbeat).length, 2);
  answerHeartbeats(p, round, 2);
  assert.deepEqual(reads(p), [["r", 1]]);
});

test("Raft thesis §6.4: a leader that cannot reach a quorum never answers a read", () => {
  // Proves that without heartbeat acknowledgements the read stays unanswered through any number of
  // heartbeat rounds (until the leader steps down).
  const p = settledLeader();
  assert.equal(p.node.readIndex(enc("r")).ok, true);
  for (let i = 0; i < 3 * ET; i++) {
    p.node.tick();
    drain(p);
  }
  assert.deepEqual(p.readStates, []);
  assert.equal(p.node.raft.role, StateRole.follower);
});

test("Raft thesis §6.4: concurrent reads share heartbeat rounds instead of one round each", () => {
  // Proves batching: reads arriving while a round is in flight trigger no new round and are all
  // answered by the next single round; six reads cost two rounds in total.
  const p = settledLeader();
  let rounds = 0;
  const count = (msgs: readonly Message[]): readonly Message[] => {
    if (ofType(msgs, MessageType.heartbeat).length > 0) rounds++;
    return msgs;
  };
  p.node.readIndex(enc("a"));
  const first = count(drain(p));
  for (const ctx of ["b", "c", "d", "e", "f"]) assert.equal(p.node.readIndex(enc(ctx)).ok, true);
  assert.deepEqual(drain(p), [], "no round per read");
  const second = count(answerHeartbeats(p, first, 2));
  assert.deepEqual(reads(p), [["a", 1]]);
  count(answerHeartbeats(p, second, 2));
  assert.deepEqual(
    reads(p).map(([ctx]) => ctx),
    ["a", "b", "c", "d", "e", "f"],
  );
  assert.equal(rounds, 2);
});

test("Raft thesis §6.4: a read arriving during a plain heartbeat round is confirmed by an immediate next round", () => {
  // Proves a read that waits behind a round carrying no reads (a timer heartbeat) does not wait
  // for the next heartbeat tick: once that round is acknowledged, the next round starts at once.
  const p = settledLeader();
  p.node.tick();
  const timerRound = drain(p);
  assert.equal(ofType(timerRound, MessageType.heartbeat).length, 2);
  assert.equal(p.node.readIndex(enc("late")).ok, true);
  assert.deepEqual(drain(p), [], "no extra round while one is in flight");
  const next = answerHeartbeats(p, timerRound, 2);
  assert.equal(ofType(next, MessageType.heartbeat).length, 2, "the next round starts without a tick");
  assert.deepEqual(reads(p), []);
  answerHeartbeats(p, next, 2);
  assert.deepEqual(reads(p), [["late", 1]]);
});

test("Raft thesis §6.4: a follower's ReadIndex is confirmed by the leader and answered with the leader's commit index", () => {
  // Proves a follower can serve linearizable reads: it forwards the request, and receives the
  // leader's commit index (confirmed by a quorum) as its read index.
  const c = newCluster(3, { electionTicks: ET });
  c.elect(1);
  c.node(1).propose(enc("x"));
  c.stabilize();
  const commit = c.node(1).raft.log.committed;
  assert.equal(c.node(2).readIndex(enc("f")).ok, true);
  c.stabilize();
  assert.deepEqual(
    c.member(2).readStates.map((s) => [dec(s.context), s.index]),
    [["f", commit]],
  );
});

test("Raft thesis §6.4: a read request without a known leader is refused with 'noLeader'", () => {
  // Proves a node that knows no leader refuses at once instead of holding the request.
  const p = start(2, three);
  assert.equal(reason(p.node.readIndex(enc("r"))), RejectReason.noLeader);
  assert.deepEqual(drain(p), []);
});

// ------------------------------------------------------------------ leases (§6.4.1)

test("Raft thesis §6.4.1: lease reads need CheckQuorum", () => {
  // Proves the configuration is refused: without CheckQuorum a deposed leader would not step down
  // and could serve stale reads from its lease.
  assert.throws(
    () =>
      new RawNode({
        id: 1,
        storage: MemoryStorage.withConfState(three),
        rng: new SeededRng(1),
        readOnlyOption: ReadOnlyOption.leaseBased,
        checkQuorum: false,
      }),
    /checkQuorum/,
  );
});

test("Raft thesis §6.4.1: while its lease holds the leader answers reads without a heartbeat round", () => {
  // Proves that after a quorum acknowledged a recent heartbeat round, a read is answered in the
  // very next Ready with no further messages.
  const p = settledLeader(three, lease);
  tickWithQuorum(p, 1);
  assert.equal(p.node.readIndex(enc("fast")).ok, true);
  const rd = p.node.ready();
  assert.deepEqual(
    rd.readStates.map((s) => [dec(s.context), s.index]),
    [["fast", 1]],
  );
  assert.deepEqual([...rd.messagesEarly, ...rd.messages], []);
  p.node.advance();
});

test("Raft thesis §6.4.1: once the lease has run out a read needs a fresh heartbeat round", () => {
  // Proves the lease is bounded by the election timeout (minus a clock-drift margin) after the
  // last acknowledged round: past it, a read waits for a new round to be acknowledged.
  const p = settledLeader(three, lease);
  tickWithQuorum(p, 1);
  for (let i = 0; i < ET - 1; i++) {
    p.node.tick();
    drain(p);
  }
  assert.equal(p.node.raft.role, StateRole.leader);
  assert.equal(p.node.readIndex(enc("slow")).ok, true);
  drain(p);
  assert.deepEqual(p.readStates, []);
  p.node.tick();
  answerHeartbeats(p, drain(p), 2);
  assert.deepEqual(reads(p), [["slow", 1]]);
});

test("Raft thesis §6.4.1: no lease reads during a leadership transfer, nor later in that term", () => {
  // Proves reads are refused while a transfer is pending (the target may already lead), and that
  // after the transfer is aborted the leader confirms each read with a heartbeat round instead
  // of trusting its lease for the rest of the term.
  const p = settledLeader(three, lease);
  tickWithQuorum(p, 1);
  assert.equal(p.node.transferLeader(3).ok, true);
  assert.equal(reason(p.node.readIndex(enc("r"))), RejectReason.transferInProgress);
  tickWithQuorum(p, ET);
  assert.equal(p.node.status().leadTransferee, 0);
  assert.equal(p.node.raft.role, StateRole.leader);
  assert.equal(p.node.readIndex(enc("r")).ok, true);
  const round = drain(p);
  assert.deepEqual(p.readStates, []);
  answerHeartbeats(p, round, 2);
  assert.deepEqual(reads(p), [["r", 1]]);
});

// ------------------------------------------------------------------ leadership transfer (§3.10)

/** Processes Readies and delivers messages until quiet, returning everything sent in order. */
function stabilizeRecording(c: TestCluster): Message[] {
  const seen: Message[] = [];
  for (let i = 0; i < 10_000; i++) {
    for (const id of c.members.keys()) c.processReady(id);
    if (c.queue.length === 0) return seen;
    seen.push(...c.queue);
    c.deliver();
  }
  assert.fail("cluster never fell quiet");
}

test("Raft thesis §3.10: the leader first brings the target's log up to date, then sends TimeoutNow", () => {
  // Proves the order of a transfer to a lagging server: appends until it acknowledges the
  // leader's last index, only then TimeoutNow; the target wins the next term (despite PreVote
  // and the other follower's leader stickiness) with the full log.
  const c = newCluster(3, { electionTicks: ET });
  c.elect(1);
  c.partition(1, [3]);
  for (const s of ["a", "b", "c"]) c.node(1).propose(enc(s));
  c.stabilize();
  c.healAll();
  const last = c.node(1).raft.log.lastIndex();
  assert.ok(c.node(3).raft.log.lastIndex() < last);
  assert.equal(c.node(1).transferLeader(3).ok, true);
  const seen = stabilizeRecording(c);
  const timeoutAt = seen.findIndex((m) => m.type === MessageType.timeoutNow);
  assert.ok(timeoutAt > 0, "TimeoutNow was sent");
  const before = seen.slice(0, timeoutAt);
  assert.ok(
    ofType(before, MessageType.app, 3).some((m) => m.entries.length > 0),
    "catch-up appends came first",
  );
  const acked = ofType(before, MessageType.appResp, 1).filter((m) => m.from === 3 && !m.reject);
  assert.equal(Math.max(...acked.map((m) => m.index)), last);
  assert.deepEqual([c.leader(), c.node(3).raft.term], [3, 2]);
  assert.equal(c.node(3).raft.log.term(last), 1);
});

test("Raft thesis §3.10: a leader whose target is already up to date sends TimeoutNow at once", () => {
  // Proves no needless round trip: a target whose match is the leader's last index gets TimeoutNow
  // in the Ready right after the request.
  const p = settledLeader();
  assert.equal(p.node.transferLeader(2).ok, true);
  assert.deepEqual(
    ofType(drain(p), MessageType.timeoutNow).map((m) => m.to),
    [2],
  );
});

test("Raft thesis §3.10: TimeoutNow makes the target start a real election at once", () => {
  // Proves the target does not wait for its election timeout and skips the pre-vote phase, and
  // marks its vote requests as a transfer so voters ignore leader stickiness.
  const p = start(2, three, { preVote: true });
  send(p, { type: MessageType.heartbeat, from: 1, term: 1 });
  drain(p);
  send(p, { type: MessageType.timeoutNow, from: 1, term: 1 });
  assert.deepEqual([p.node.raft.role, p.node.raft.term, p.node.raft.vote], [StateRole.candidate, 2, 2]);
  const votes = ofType(drain(p), MessageType.vote);
  assert.deepEqual(
    votes.map((m) => [m.to, m.term, dec(m.context)]),
    [
      [1, 2, dec(campaignTransferContext)],
      [3, 2, dec(campaignTransferContext)],
    ],
  );
});

test("Raft thesis §3.10: the leader refuses new requests while a transfer is pending", () => {
  // Proves proposals, configuration changes and reads are refused with 'transferInProgress' so
  // that no new entry keeps the target from catching up, and nothing is appended.
  const p = settledLeader();
  assert.equal(p.node.transferLeader(3).ok, true);
  const last = p.node.raft.log.lastIndex();
  assert.equal(reason(p.node.propose(enc("x"))), RejectReason.transferInProgress);
  assert.equal(
    reason(
      p.node.proposeConfChange({
        transition: "auto",
        changes: [{ type: "addLearner", nodeId: 4 }],
        context: enc(""),
      }),
    ),
    RejectReason.transferInProgress,
  );
  assert.equal(reason(p.node.readIndex(enc("r"))), RejectReason.transferInProgress);
  assert.equal(p.node.raft.log.lastIndex(), last);
});

test("Raft thesis §3.10: a transfer that does not complete within an election timeout is aborted", () => {
  // Proves the leader gives up on an unresponsive target after one election timeout and resumes
  // accepting proposals, still leader of the same term.
  const p = settledLeader();
  assert.equal(p.node.transferLeader(3).ok, true);
  tickWithQuorum(p, ET - 1);
  assert.equal(p.node.status().leadTransferee, 3);
  tickWithQuorum(p, 1);
  assert.equal(p.node.status().leadTransferee, 0);
  assert.deepEqual([p.node.raft.role, p.node.raft.term], [StateRole.leader, 1]);
  assert.equal(p.node.propose(enc("x")).ok, true);
});

test("Raft thesis §3.10: leadership cannot be transferred to a learner", () => {
  // Proves a request naming a learner is refused with 'invalid', and a transfer request arriving
  // from a learner over the network is ignored and logged; proposals continue.
  const p = settledLeader(votersConf([1, 2, 3], [4]));
  assert.equal(reason(p.node.transferLeader(4)), RejectReason.invalid);
  send(p, { type: MessageType.transferLeader, from: 4, term: 1 });
  assert.equal(p.node.status().leadTransferee, 0);
  assert.deepEqual(ofType(drain(p), MessageType.timeoutNow), []);
  assert.ok(p.logger.lines.some((l) => l.message.includes("learner")));
  assert.equal(p.node.propose(enc("x")).ok, true);
});

test("Raft ReadIndex limit: reads beyond readIndexPendingMax waiting for the term's first commit are dropped", async () => {
  // Proves the bound on reads queued before a new leader's no-op commits: the excess is dropped
  // (and logged), the rest are served once the no-op commits.
  const p = newLeader(three, { readIndexPendingMax: 2 });
  for (const ctx of ["a", "b", "c"]) assert.equal(p.node.readIndex(enc(ctx)).ok, true);
  assert.ok(
    p.logger.lines.some((l) => l.message.includes("more than 2 reads wait for the term's first commit")),
  );
  send(p, { type: MessageType.appResp, from: 2, term: 1, index: 1 });
  // The released reads are confirmed by heartbeat rounds (batched: at most two rounds).
  answerHeartbeats(p, answerHeartbeats(p, drain(p), 2), 2);
  assert.deepEqual(
    p.readStates.map((s) => dec(s.context)),
    ["a", "b"],
  );
});
