// Rules of leader election from the Raft paper (§5.1, §5.2, §5.4.1, Figure 2) and the thesis
// (§4.2.3 disruptive servers, §6.2 CheckQuorum, §9.6 PreVote), one test per rule, plus the core's
// handling of bad input and the persistence contract of votes. Nodes are driven by hand-built
// messages; a few cluster-level rules use TestCluster.
import assert from "node:assert/strict";
import { test } from "node:test";
import { campaignTransferContext } from "../../src/raft/raft.js";
import {
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type MessageInit,
  MessageType,
  message,
  NONE,
  type NodeId,
  StateRole,
} from "../../src/raft/types.js";
import { newCluster, votersConf } from "../../src/testing/cluster.js";
import { drain, ET, elect, entries, type Options, ofType, type Peer, send, startPeer } from "./peer.js";

// ------------------------------------------------------------------ helpers

function start(
  id: NodeId,
  conf: ConfState,
  opts: Options = {},
  log: readonly Entry[] = [],
  hs?: HardState,
  seed = id,
): Peer {
  return startPeer(id, conf, opts, { log, ...(hs === undefined ? {} : { hs }), seed });
}

/** Ticks `p` until `done()` holds (at most `max` ticks); returns the number of ticks. */
function tickUntil(p: Peer, done: () => boolean, max = 1000): number {
  for (let i = 1; i <= max; i++) {
    p.node.tick();
    if (done()) return i;
  }
  assert.fail(`condition not reached within ${max} ticks`);
}

/** The observable state that bad input must not change. */
function fingerprint(p: Peer): Record<string, unknown> {
  const r = p.node.raft;
  return {
    term: r.term,
    vote: r.vote,
    lead: r.lead,
    role: r.role,
    commit: r.log.committed,
    lastIndex: r.log.lastIndex(),
    electionElapsed: r.electionElapsed,
    hasReady: p.node.hasReady(),
  };
}

function grants(msgs: readonly Message[]): Message[] {
  return msgs.filter(
    (m) => (m.type === MessageType.voteResp || m.type === MessageType.preVoteResp) && !m.reject,
  );
}

const noPreVote: Options = { preVote: false };

// ------------------------------------------------------------------ terms (§5.1)

test("Raft §5.1: a server rejects a request with a stale term", () => {
  // Proves that AppendEntries and RequestVote from an older term change nothing (no append, no
  // vote, no term change, no new leader) and that any reply carries the newer term.
  const p = start(2, votersConf([1, 2, 3]), {}, entries(1, [1, 2]), { term: 3, vote: 0, commit: 0 });
  const before = fingerprint(p);
  send(p, {
    type: MessageType.app,
    from: 1,
    term: 2,
    index: 2,
    logTerm: 2,
    entries: entries(3, [2]),
    commit: 3,
  });
  send(p, { type: MessageType.vote, from: 3, term: 2, index: 9, logTerm: 2 });
  send(p, { type: MessageType.heartbeat, from: 1, term: 1, commit: 2 });
  const afterSteps = fingerprint(p);
  const msgs = drain(p);
  assert.deepEqual({ ...afterSteps, hasReady: false }, { ...before, hasReady: false });
  assert.equal(p.node.raft.log.lastIndex(), 2);
  assert.deepEqual(grants(msgs), []);
  for (const m of msgs) assert.equal(m.term, 3, `${m.type} must carry the current term`);
  assert.ok(p.logger.lines.some((l) => l.message.includes("stale term")));
});

test("Raft §5.1: a server that sees a higher term adopts it and becomes a follower", () => {
  // Proves that a leader seeing a response of a higher term, and a candidate seeing a heartbeat of
  // a higher term, both adopt the term, clear their vote, and become followers.
  const leader = start(1, votersConf([1, 2, 3]), noPreVote);
  elect(leader, [1, 2, 3]);
  send(leader, { type: MessageType.appResp, from: 3, term: 5, index: 0 });
  const lr = leader.node.raft;
  assert.deepEqual([lr.role, lr.term, lr.vote, lr.lead], [StateRole.follower, 5, NONE, NONE]);

  const cand = start(1, votersConf([1, 2, 3]), noPreVote);
  cand.node.campaign();
  assert.equal(cand.node.raft.role, StateRole.candidate);
  send(cand, { type: MessageType.heartbeat, from: 3, term: 4 });
  const cr = cand.node.raft;
  assert.deepEqual([cr.role, cr.term, cr.vote, cr.lead], [StateRole.follower, 4, NONE, 3]);
});

test("Raft §5.1: a response carrying a stale term is ignored", () => {
  // Proves that vote grants and append acknowledgements from an older term are not counted: the
  // candidate does not win with them and the leader does not advance match or commit.
  const cand = start(1, votersConf([1, 2, 3]), noPreVote, [], { term: 2, vote: 0, commit: 0 });
  cand.node.campaign();
  assert.equal(cand.node.raft.term, 3);
  send(cand, { type: MessageType.voteResp, from: 2, term: 2 });
  send(cand, { type: MessageType.voteResp, from: 3, term: 2 });
  assert.equal(cand.node.raft.role, StateRole.candidate);

  const leader = start(1, votersConf([1, 2, 3]), noPreVote, [], { term: 2, vote: 0, commit: 0 });
  elect(leader, [1, 2, 3]);
  assert.equal(leader.node.raft.term, 3);
  send(leader, { type: MessageType.appResp, from: 2, term: 2, index: 1 });
  send(leader, { type: MessageType.appResp, from: 3, term: 2, index: 1 });
  drain(leader);
  assert.equal(leader.node.status().progress?.get(2)?.match, 0);
  assert.equal(leader.node.raft.log.committed, 0);
});

// ------------------------------------------------------------------ elections (§5.2)

test("Raft §5.2: a follower that hears nothing for an election timeout becomes a candidate", () => {
  // Proves the transition: term + 1, a vote for itself, and RequestVote to every other voter
  // carrying the index and term of its last entry.
  const p = start(1, votersConf([1, 2, 3]), noPreVote, entries(1, [1, 1]), { term: 1, vote: 0, commit: 0 });
  tickUntil(p, () => p.node.raft.role !== StateRole.follower, 2 * ET);
  const r = p.node.raft;
  assert.deepEqual([r.role, r.term, r.vote], [StateRole.candidate, 2, 1]);
  const reqs = ofType(drain(p), MessageType.vote);
  assert.deepEqual(
    reqs.map((m) => [m.to, m.term, m.index, m.logTerm]),
    [
      [2, 2, 2, 1],
      [3, 2, 2, 1],
    ],
  );
});

test("Raft §5.2: election timeouts are randomized within [et, 2et)", () => {
  // Proves that the ticks before a follower campaigns, and before a candidate retries, always lie
  // in [electionTicks, 2 × electionTicks), and that different nodes pick different timeouts.
  const seen = new Set<number>();
  for (let seed = 1; seed <= 40; seed++) {
    const p = start(1, votersConf([1, 2, 3]), noPreVote, [], undefined, seed);
    const first = tickUntil(p, () => p.node.raft.role === StateRole.candidate, 2 * ET);
    const second = tickUntil(p, () => p.node.raft.term === 2, 2 * ET);
    for (const t of [first, second]) {
      assert.ok(t >= ET && t < 2 * ET, `seed ${seed}: timeout of ${t} ticks`);
      seen.add(t);
    }
  }
  assert.ok(seen.size >= 5, `only ${seen.size} distinct timeouts`);
});

test("Raft §5.2: a candidate becomes leader once it has votes from a majority", () => {
  // Proves that in a 5-voter cluster its own vote plus one grant is not enough, a rejection does
  // not count, and a second grant (3 of 5) makes it leader.
  const p = start(1, votersConf([1, 2, 3, 4, 5]), noPreVote);
  p.node.campaign();
  drain(p);
  send(p, { type: MessageType.voteResp, from: 2, term: 1 });
  send(p, { type: MessageType.voteResp, from: 3, term: 1, reject: true });
  assert.equal(p.node.raft.role, StateRole.candidate);
  send(p, { type: MessageType.voteResp, from: 4, term: 1 });
  assert.equal(p.node.raft.role, StateRole.leader);
  assert.equal(p.node.raft.lead, 1);
});

test("Raft §5.2: a server votes for at most one candidate per term", () => {
  // Proves first-come-first-served voting: the first candidate gets the vote, another candidate of
  // the same term is denied, and a retransmitted request from the first is granted again.
  const p = start(3, votersConf([1, 2, 3]), noPreVote);
  send(p, { type: MessageType.vote, from: 1, term: 1 });
  send(p, { type: MessageType.vote, from: 2, term: 1 });
  send(p, { type: MessageType.vote, from: 1, term: 1 });
  const resps = ofType(drain(p), MessageType.voteResp);
  assert.deepEqual(
    resps.map((m) => [m.to, m.reject]),
    [
      [1, false],
      [2, true],
      [1, false],
    ],
  );
  assert.equal(p.storage.hardState.vote, 1);
});

test("Raft Fig.2: votedFor is persistent, so a restarted server still votes once per term", () => {
  // Proves that a server restarted with a durable vote for 3 in term 2 denies another candidate of
  // term 2 but grants a candidate of term 3.
  const p = start(1, votersConf([1, 2, 3]), noPreVote, [], { term: 2, vote: 3, commit: 0 });
  send(p, { type: MessageType.vote, from: 2, term: 2 });
  send(p, { type: MessageType.vote, from: 2, term: 3 });
  const resps = ofType(drain(p), MessageType.voteResp);
  assert.deepEqual(
    resps.map((m) => [m.term, m.reject]),
    [
      [2, true],
      [3, false],
    ],
  );
});

test("Raft §5.2: a candidate that receives AppendEntries from a leader of at least its term becomes a follower", () => {
  // Proves that an append of an equal term or a heartbeat of a higher term makes the candidate
  // recognise the leader, while an append of a lower term leaves it a candidate.
  const equal = start(1, votersConf([1, 2, 3]), noPreVote);
  equal.node.campaign();
  send(equal, { type: MessageType.app, from: 3, term: 1, index: 0, logTerm: 0, entries: entries(1, [1]) });
  assert.deepEqual(
    [equal.node.raft.role, equal.node.raft.lead, equal.node.raft.term],
    [StateRole.follower, 3, 1],
  );
  const acks = ofType(drain(equal), MessageType.appResp, 3);
  assert.deepEqual(
    acks.map((m) => [m.index, m.reject]),
    [[1, false]],
  );

  const higher = start(1, votersConf([1, 2, 3]), noPreVote);
  higher.node.campaign();
  send(higher, { type: MessageType.heartbeat, from: 2, term: 7 });
  assert.deepEqual(
    [higher.node.raft.role, higher.node.raft.lead, higher.node.raft.term],
    [StateRole.follower, 2, 7],
  );

  const lower = start(1, votersConf([1, 2, 3]), noPreVote, [], { term: 4, vote: 0, commit: 0 });
  lower.node.campaign();
  send(lower, { type: MessageType.app, from: 2, term: 4, index: 0, logTerm: 0 });
  assert.deepEqual([lower.node.raft.role, lower.node.raft.term], [StateRole.candidate, 5]);
});

test("Raft §5.2: after a split vote the candidate times out and starts a new election in a new term", () => {
  // Proves that a candidate neither winning nor losing stays a candidate until a fresh randomized
  // election timeout, then campaigns again with term + 1.
  const p = start(1, votersConf([1, 2, 3]), noPreVote);
  p.node.campaign();
  drain(p);
  send(p, { type: MessageType.voteResp, from: 2, term: 1, reject: true });
  assert.deepEqual([p.node.raft.role, p.node.raft.term], [StateRole.candidate, 1]);
  const ticks = tickUntil(p, () => p.node.raft.term === 2, 2 * ET);
  assert.ok(ticks >= ET && ticks < 2 * ET, `retried after ${ticks} ticks`);
  assert.deepEqual([p.node.raft.role, p.node.raft.vote], [StateRole.candidate, 1]);
  assert.equal(ofType(drain(p), MessageType.vote).length, 2);
});

test("Raft §5.2: a single-node cluster elects itself and commits alone", () => {
  // Proves that the only voter becomes leader on its own election timeout (with PreVote on) and
  // commits a proposal once its own write is durable.
  const p = start(1, votersConf([1]));
  tickUntil(p, () => p.node.raft.role === StateRole.leader, 2 * ET);
  drain(p);
  assert.equal(p.node.raft.term, 1);
  assert.equal(p.node.propose(new TextEncoder().encode("solo")).ok, true);
  drain(p);
  assert.deepEqual(
    p.applied.map((e) => [e.index, new TextDecoder().decode(e.data)]),
    [
      [1, ""],
      [2, "solo"],
    ],
  );
});

test("Raft §5.2: a leader's periodic heartbeats keep followers from starting elections", () => {
  // Proves that the leader sends a heartbeat to every follower each heartbeat interval, and that a
  // follower receiving them never campaigns however long it runs.
  const leader = start(1, votersConf([1, 2, 3]), { ...noPreVote, heartbeatTicks: 2 });
  elect(leader, [1, 2, 3]);
  leader.node.tick();
  assert.deepEqual(ofType(drain(leader), MessageType.heartbeat), []);
  leader.node.tick();
  assert.deepEqual(
    ofType(drain(leader), MessageType.heartbeat).map((m) => m.to),
    [2, 3],
  );

  const follower = start(2, votersConf([1, 2, 3]), noPreVote);
  for (let i = 0; i < 5 * ET; i++) {
    follower.node.tick();
    if (i % 2 === 0) send(follower, { type: MessageType.heartbeat, from: 1, term: 1 });
  }
  assert.deepEqual([follower.node.raft.role, follower.node.raft.term], [StateRole.follower, 1]);
});

test("Raft §5.4.1: a voter denies its vote to a candidate whose log is less up to date", () => {
  // Proves the comparison by (last term, then last index): a lower last term or an equal term
  // with a shorter log is denied; an equal log, a longer log, or a higher last term is granted.
  const log = entries(1, [1, 2, 2]);
  const cases: [string, number, number, boolean][] = [
    ["lower last term, longer log", 1, 10, false],
    ["same last term, shorter log", 2, 2, false],
    ["same last term, same length", 2, 3, true],
    ["same last term, longer log", 2, 4, true],
    ["higher last term, shorter log", 3, 1, true],
  ];
  for (const [name, logTerm, index, granted] of cases) {
    const p = start(2, votersConf([1, 2, 3]), noPreVote, log, { term: 2, vote: 0, commit: 0 });
    send(p, { type: MessageType.vote, from: 1, term: 3, logTerm, index });
    const resp = ofType(drain(p), MessageType.voteResp);
    assert.equal(resp.length, 1, name);
    assert.equal(resp[0]?.reject, !granted, name);
    assert.equal(p.node.raft.term, 3, `${name}: the term is adopted either way`);
    assert.equal(p.node.raft.vote, granted ? 1 : NONE, name);
  }
});

// ------------------------------------------------------------------ PreVote, stickiness, CheckQuorum

test("Raft thesis §9.6: a pre-vote never changes term or vote", () => {
  // Proves that granting a pre-vote leaves the voter's term and vote untouched (nothing to
  // persist), and that a pre-candidate keeps its own term and vote while asking for term + 1.
  const voter = start(2, votersConf([1, 2, 3]), {}, entries(1, [1]), { term: 1, vote: 1, commit: 0 });
  send(voter, { type: MessageType.preVote, from: 3, term: 2, index: 1, logTerm: 1 });
  const rd = voter.node.ready();
  assert.deepEqual(
    grants([...rd.messagesEarly, ...rd.messages]).map((m) => [m.to, m.term]),
    [[3, 2]],
  );
  assert.equal(rd.hardState, null);
  assert.deepEqual([voter.node.raft.term, voter.node.raft.vote], [1, 1]);
  voter.node.advance();

  const pre = start(1, votersConf([1, 2, 3]), {}, [], { term: 4, vote: 3, commit: 0 });
  tickUntil(pre, () => pre.node.raft.role === StateRole.preCandidate, 2 * ET);
  const prd = pre.node.ready();
  assert.equal(prd.hardState, null);
  assert.deepEqual([pre.node.raft.term, pre.node.raft.vote], [4, 3]);
  assert.deepEqual(
    ofType(prd.messages, MessageType.preVote).map((m) => [m.to, m.term]),
    [
      [2, 5],
      [3, 5],
    ],
  );
});

test("Raft thesis §9.6: a pre-candidate starts a real election only after pre-votes from a majority", () => {
  // Proves that denied pre-votes send it back to follower in the same term, and that a majority
  // of granted pre-votes makes it a candidate of term + 1.
  const lose = start(1, votersConf([1, 2, 3]), {}, [], { term: 2, vote: 3, commit: 0 });
  lose.node.campaign();
  // Voters deny a pre-vote with their own (current) term.
  send(lose, { type: MessageType.preVoteResp, from: 2, term: 2, reject: true });
  send(lose, { type: MessageType.preVoteResp, from: 3, term: 2, reject: true });
  assert.deepEqual(
    [lose.node.raft.role, lose.node.raft.term, lose.node.raft.vote],
    [StateRole.follower, 2, 3],
  );

  const win = start(1, votersConf([1, 2, 3]), {}, [], { term: 2, vote: 3, commit: 0 });
  win.node.campaign();
  assert.equal(win.node.raft.role, StateRole.preCandidate);
  send(win, { type: MessageType.preVoteResp, from: 2, term: 3 });
  assert.deepEqual([win.node.raft.role, win.node.raft.term, win.node.raft.vote], [StateRole.candidate, 3, 1]);
});

test("Raft thesis §9.6: a partitioned server with PreVote does not raise its term or disrupt the leader on return", () => {
  // Proves that an isolated follower stays in its term however long it is cut off, and that when
  // the partition heals the leader keeps its leadership and term.
  const c = newCluster(3, { electionTicks: ET });
  c.elect(1);
  c.isolate(3);
  for (let i = 0; i < 10 * ET; i++) {
    c.tickAll();
    c.stabilize();
  }
  assert.equal(c.node(3).raft.term, 1);
  assert.equal(c.node(1).raft.role, StateRole.leader);
  c.healAll();
  for (let i = 0; i < 3; i++) {
    c.tickAll();
    c.stabilize();
  }
  assert.deepEqual([c.leader(), c.node(1).raft.term], [1, 1]);
  assert.deepEqual([c.node(3).raft.role, c.node(3).raft.lead], [StateRole.follower, 1]);
});

test("Raft thesis §9.6: a server abstaining after storage repair denies pre-votes and votes, even in term 0", () => {
  // Proves a server whose durable log was cut back grants nothing until caught up, and that
  // denying a pre-vote before it knows any term (term 0, nothing to tell the candidate) neither
  // crashes it nor changes its term or vote.
  const p = start(2, votersConf([1, 2, 3]), { abstainUntilCaughtUp: true });
  send(p, { type: MessageType.preVote, from: 1, term: 1 });
  assert.deepEqual([p.node.raft.term, p.node.raft.vote], [0, NONE]);
  send(p, { type: MessageType.vote, from: 3, term: 2 });
  assert.deepEqual([p.node.raft.term, p.node.raft.vote], [2, NONE]);
  const msgs = drain(p);
  assert.deepEqual(grants(msgs), []);
  for (const m of msgs) assert.notEqual(m.term, 0, `${m.type} without a term`);
  assert.ok(p.logger.lines.some((l) => l.message.includes("refusing to vote")));
});

test("Raft thesis §4.2.3: a server that heard from a leader within the election timeout ignores RequestVote", () => {
  // Proves leader stickiness: a vote request of a higher term is disregarded (no term change, no
  // answer) while the leader is fresh, and granted once an election timeout passed without it.
  const p = start(2, votersConf([1, 2, 3]), noPreVote);
  send(p, { type: MessageType.heartbeat, from: 1, term: 1 });
  drain(p);
  send(p, { type: MessageType.vote, from: 3, term: 2 });
  assert.deepEqual([p.node.raft.term, p.node.raft.lead], [1, 1]);
  assert.deepEqual(drain(p), []);
  for (let i = 0; i < ET - 1; i++) p.node.tick();
  send(p, { type: MessageType.vote, from: 3, term: 2 });
  assert.equal(p.node.raft.term, 1);
  p.node.tick();
  send(p, { type: MessageType.vote, from: 3, term: 2 });
  assert.deepEqual([p.node.raft.term, p.node.raft.vote], [2, 3]);
  assert.equal(grants(drain(p)).length, 1);
});

test("Raft thesis §6.2: a leader that hears from no quorum for an election timeout steps down", () => {
  // Proves CheckQuorum: a newly elected leader that gets no answer from any follower for one
  // election timeout (plus the tick that runs the check) becomes a follower.
  const p = start(1, votersConf([1, 2, 3]), noPreVote);
  elect(p, [1, 2, 3]);
  for (let i = 0; i < ET + 1; i++) {
    p.node.tick();
    drain(p);
  }
  assert.deepEqual([p.node.raft.role, p.node.raft.lead], [StateRole.follower, NONE]);
});

test("Raft thesis §6.2: a leader that hears from a quorum every election timeout stays leader", () => {
  // Proves the other side of CheckQuorum: answers from one follower of three keep the leader in
  // office across many check rounds.
  const p = start(1, votersConf([1, 2, 3]), noPreVote);
  elect(p, [1, 2, 3]);
  for (let i = 0; i < 5 * ET; i++) {
    p.node.tick();
    for (const hb of ofType(drain(p), MessageType.heartbeat, 2)) {
      send(p, { type: MessageType.heartbeatResp, from: 2, term: 1, round: hb.round });
    }
  }
  assert.equal(p.node.raft.role, StateRole.leader);
});

// ------------------------------------------------------------------ persistence contract of elections

test("Raft Fig.2 / Ready: a vote grant is sent only after the hard state recording the vote", () => {
  // Proves the vote is durable before the candidate can hear of it: the grant is in `messages`
  // (sent after the write), never in `messagesEarly`, and in the same Ready as the hard state
  // that records term and vote, with mustSync set.
  const p = start(2, votersConf([1, 2, 3]), noPreVote);
  send(p, { type: MessageType.vote, from: 1, term: 1 });
  const rd = p.node.ready();
  assert.deepEqual(rd.hardState, { term: 1, vote: 1, commit: 0 });
  assert.equal(rd.mustSync, true);
  assert.deepEqual(grants(rd.messagesEarly), []);
  assert.deepEqual(
    grants(rd.messages).map((m) => [m.type, m.to]),
    [[MessageType.voteResp, 1]],
  );
  p.node.advance();
});

test("Raft Fig.2 / Ready: a candidate's vote requests wait for its new term and self-vote to be durable", () => {
  // Proves that RequestVote goes out in `messages` of the Ready whose hard state records the new
  // term and the vote for itself.
  const p = start(1, votersConf([1, 2, 3]), noPreVote);
  p.node.campaign();
  const rd = p.node.ready();
  assert.deepEqual(rd.hardState, { term: 1, vote: 1, commit: 0 });
  assert.deepEqual(ofType(rd.messagesEarly, MessageType.vote), []);
  assert.equal(ofType(rd.messages, MessageType.vote).length, 2);
  p.node.advance();
});

// ------------------------------------------------------------------ bad input

/** A follower of leader 1 in term 1 with two entries, a few ticks into its election timer. */
function settledFollower(): Peer {
  const p = start(2, votersConf([1, 2, 3]), {}, entries(1, [1, 1]), { term: 1, vote: 1, commit: 1 });
  send(p, { type: MessageType.heartbeat, from: 1, term: 1, commit: 1 });
  drain(p);
  p.node.tick();
  p.node.tick();
  return p;
}

function assertIgnored(p: Peer, m: Message, logged: string, what: string): void {
  const before = fingerprint(p);
  const lines = p.logger.lines.length;
  p.node.step(m);
  assert.deepEqual(fingerprint(p), before, `${what}: state changed`);
  const fresh = p.logger.lines.slice(lines).map((l) => l.message);
  assert.ok(
    fresh.some((l) => l.includes(logged)),
    `${what}: expected a log line with '${logged}', got ${JSON.stringify(fresh)}`,
  );
}

test("Raft core input: a message of unknown type is dropped and logged without any state change", () => {
  // Proves the core rejects a type outside the protocol instead of treating it as some default.
  const p = settledFollower();
  const m = message({ type: "appendEverything" as string as MessageType, from: 1, to: 2, term: 5 });
  assertIgnored(p, m, "unknown message type", "unknown type");
});

test("Raft core input: local-only message types arriving from the network are dropped", () => {
  // Proves a peer cannot make a node campaign, heartbeat, run CheckQuorum, or fake transport
  // and snapshot reports by sending local-only kinds.
  const local = [
    MessageType.hup,
    MessageType.beat,
    MessageType.checkQuorum,
    MessageType.unreachable,
    MessageType.snapStatus,
  ];
  const p = settledFollower();
  for (const type of local) {
    assertIgnored(p, message({ type, from: 3, to: 2, term: 1 }), "local-only", type);
  }
  const leader = start(1, votersConf([1, 2, 3]), noPreVote);
  elect(leader, [1, 2, 3]);
  assertIgnored(
    leader,
    message({ type: MessageType.hup, from: 2, to: 1, term: 1 }),
    "local-only",
    "hup to leader",
  );
  assertIgnored(
    leader,
    message({ type: MessageType.unreachable, from: 2, to: 1, term: 1 }),
    "local-only",
    "unreachable to leader",
  );
  assert.equal(leader.node.status().progress?.get(2)?.state, "probe");
});

test("Raft core input: a vote request from a server outside the configuration is ignored", () => {
  // Proves a non-member cannot raise a member's term or collect its vote.
  const p = start(2, votersConf([1, 2, 3]), noPreVote);
  assertIgnored(p, message({ type: MessageType.vote, from: 9, to: 2, term: 5 }), "not a member", "vote");
  assertIgnored(
    p,
    message({ type: MessageType.preVote, from: 9, to: 2, term: 5 }),
    "not a member",
    "preVote",
  );
  assert.equal(p.node.hasReady(), false);
});

test("Raft core input: a leader ignores responses from a server outside the configuration", () => {
  // Proves that an acknowledgement from a non-member neither changes progress nor commits.
  const p = start(1, votersConf([1, 2, 3]), noPreVote);
  elect(p, [1, 2, 3]);
  assertIgnored(
    p,
    message({ type: MessageType.appResp, from: 9, to: 1, term: 1, index: 1 }),
    "not a member",
    "appResp from non-member",
  );
  assert.equal(p.node.raft.log.committed, 0);
});

test("Raft core input: messages with malformed fields are dropped and logged without any state change", () => {
  // Proves validation of each field a peer controls: ids, addressee, term, indexes, hints,
  // rounds, entries that do not follow the previous index, and a snapshot message without one.
  const hb = { type: MessageType.heartbeat, from: 1, to: 2, term: 1, commit: 1 } as const;
  const cases: [string, MessageInit][] = [
    ["from 0", { ...hb, from: 0 }],
    ["negative from", { ...hb, from: -1 }],
    ["fractional from", { ...hb, from: 1.5 }],
    ["addressed to another node", { ...hb, to: 7 }],
    ["negative term", { ...hb, term: -1 }],
    ["NaN term", { ...hb, term: Number.NaN }],
    ["zero term on a heartbeat", { ...hb, term: 0 }],
    ["negative commit", { ...hb, commit: -1 }],
    ["NaN commit", { ...hb, commit: Number.NaN }],
    ["NaN round", { ...hb, round: Number.NaN }],
    ["negative index", { type: MessageType.app, from: 1, to: 2, term: 1, index: -1, logTerm: 1 }],
    ["NaN log term", { type: MessageType.app, from: 1, to: 2, term: 1, index: 2, logTerm: Number.NaN }],
    [
      "entries not following the previous index",
      {
        type: MessageType.app,
        from: 1,
        to: 2,
        term: 1,
        index: 2,
        logTerm: 1,
        entries: entries(5, [1]),
        commit: 3,
      },
    ],
    [
      "entries of a term above the message's",
      { type: MessageType.app, from: 1, to: 2, term: 1, index: 2, logTerm: 1, entries: entries(3, [4]) },
    ],
    ["snapshot message without a snapshot", { type: MessageType.snap, from: 1, to: 2, term: 1 }],
    [
      "snapshot with a NaN index",
      {
        type: MessageType.snap,
        from: 1,
        to: 2,
        term: 1,
        snapshot: {
          metadata: { index: Number.NaN, term: 1, confState: votersConf([1, 2, 3]) },
          data: new Uint8Array(),
        },
      },
    ],
  ];
  const accepted: string[] = [];
  for (const [name, init] of cases) {
    const p = settledFollower();
    try {
      assertIgnored(p, message(init), "malformed", name);
    } catch (e) {
      accepted.push(`${name}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
    }
  }
  assert.deepEqual(accepted, []);
});

test("Raft core input: a leader drops an append response with a malformed rejection hint", () => {
  // Proves that a rejection whose hint is not a valid index cannot corrupt the follower's progress.
  const p = start(1, votersConf([1, 2, 3]), noPreVote, entries(1, [1, 1]), { term: 1, vote: 0, commit: 0 });
  elect(p, [1, 2, 3]);
  const before = JSON.stringify([...(p.node.status().progress ?? [])]);
  for (const rejectHint of [Number.NaN, -1]) {
    assertIgnored(
      p,
      message({ type: MessageType.appResp, from: 2, to: 1, term: 2, index: 2, reject: true, rejectHint }),
      "malformed",
      `rejectHint ${rejectHint}`,
    );
  }
  assert.equal(JSON.stringify([...(p.node.status().progress ?? [])]), before);
});

test("Raft thesis §3.10: a vote request caused by a leadership transfer overrides leader stickiness", () => {
  // Proves that a RequestVote marked as a transfer campaign is granted even though the voter
  // heard from the current leader within the election timeout.
  const p = start(2, votersConf([1, 2, 3]), noPreVote);
  send(p, { type: MessageType.heartbeat, from: 1, term: 1 });
  drain(p);
  send(p, { type: MessageType.vote, from: 3, term: 2, context: campaignTransferContext });
  assert.deepEqual([p.node.raft.term, p.node.raft.vote], [2, 3]);
  assert.equal(grants(drain(p)).length, 1);
});
