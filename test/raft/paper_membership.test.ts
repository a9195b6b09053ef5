// Rules of membership changes from chapter 4 of the Raft thesis: joint consensus (§4.3),
// non-voting members / learners (§4.2.1), removing the leader (§4.2.2), disruptive removed servers
// (§4.2.3), and the one-change-at-a-time safety conditions (§4.1), one test per rule.
import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryLogger } from "../../src/lib/logger.js";
import {
  type ConfChange,
  ConfChangeTransition,
  ConfChangeType,
  type ConfState,
  EntryType,
  type Message,
  MessageType,
  NONE,
  type NodeId,
  RejectReason,
  StateRole,
} from "../../src/raft/types.js";
import { type NodeOptions, newCluster, TestCluster, votersConf } from "../../src/testing/cluster.js";
import { drain, ET, enc, type Options, ofType, type Peer, reason, send, startPeer } from "./peer.js";

// ------------------------------------------------------------------ helpers

function start(id: NodeId, conf: ConfState, opts: Options = {}): Peer {
  return startPeer(id, conf, { preVote: false, ...opts });
}

function change(transition: ConfChangeTransition, ...changes: [ConfChangeType, NodeId][]): ConfChange {
  return {
    transition,
    changes: changes.map(([type, nodeId]) => ({ type, nodeId })),
    context: new Uint8Array(),
  };
}

const auto = ConfChangeTransition.auto;

/** A cluster of `voters` (and `learners`), every node booted with that configuration. */
function cluster(
  voters: readonly NodeId[],
  learners: readonly NodeId[] = [],
  opts: NodeOptions = {},
): TestCluster {
  const c = new TestCluster(new MemoryLogger());
  for (const id of [...voters, ...learners])
    c.add(id, votersConf(voters, learners), { electionTicks: ET, ...opts });
  return c;
}

/**
 * Adds node `id` booted with the cluster's initial configuration (as if from the bootstrap
 * snapshot): it is not a member until it applies the change that adds it.
 */
function addSpare(c: TestCluster, id: NodeId, initialVoters: readonly NodeId[]): void {
  c.add(id, votersConf(initialVoters), { electionTicks: ET });
}

/** Lets the leader heartbeat once so new members hear from it, then settles the cluster. */
function kick(c: TestCluster): void {
  c.node(c.leader()).tick();
  c.stabilize();
}

/** Ticks every node and settles, `n` times. */
function run(c: TestCluster, n: number): void {
  for (let i = 0; i < n; i++) {
    c.tickAll();
    c.stabilize();
  }
}

/** Proposes `data` at the leader and reports whether it committed after the cluster settled. */
function commits(c: TestCluster, data: string): boolean {
  const leader = c.node(c.leader());
  assert.equal(leader.propose(enc(data)).ok, true);
  const index = leader.raft.log.lastIndex();
  c.stabilize();
  return leader.raft.log.committed >= index;
}

// ------------------------------------------------------------------ joint consensus (§4.3)

test("Raft thesis §4.3: in a joint configuration an entry commits only with majorities of both halves", () => {
  // Proves that in C_old,new = {1,2,3} + {1,4,5} acknowledgements from a majority of the new
  // half alone, or of the old half alone, do not commit; both together do.
  const c = newCluster(3, { electionTicks: ET });
  addSpare(c, 4, [1, 2, 3]);
  addSpare(c, 5, [1, 2, 3]);
  c.elect(1);
  const cc = change(
    ConfChangeTransition.jointExplicit,
    [ConfChangeType.addNode, 4],
    [ConfChangeType.addNode, 5],
    [ConfChangeType.removeNode, 2],
    [ConfChangeType.removeNode, 3],
  );
  assert.equal(c.node(1).proposeConfChange(cc).ok, true);
  c.stabilize();
  kick(c);
  assert.deepEqual(c.node(1).confState(), {
    voters: [1, 4, 5],
    votersOutgoing: [1, 2, 3],
    learners: [],
    learnersNext: [],
    autoLeave: false,
  });
  c.partition(1, [2, 3]);
  assert.equal(commits(c, "new half only"), false);
  c.healAll();
  c.stabilize();
  c.partition(1, [4, 5]);
  assert.equal(commits(c, "old half only"), false);
  c.partition(1, [2], true);
  c.partition(1, [4], true);
  kick(c);
  assert.equal(c.node(1).raft.log.committed, c.node(1).raft.log.lastIndex());
});

test("Raft thesis §4.3: in a joint configuration a candidate needs votes from majorities of both halves", () => {
  // Proves that a candidate in C_old,new asks every voter of both halves, is not elected by a
  // majority of the new half alone, and is elected once the old half also has a majority.
  const joint: ConfState = {
    voters: [1, 4, 5],
    votersOutgoing: [1, 2, 3],
    learners: [],
    learnersNext: [],
    autoLeave: false,
  };
  const p = start(1, joint);
  p.node.campaign();
  assert.deepEqual(
    ofType(drain(p), MessageType.vote).map((m) => m.to),
    [2, 3, 4, 5],
  );
  send(p, { type: MessageType.voteResp, from: 4, term: 1 });
  send(p, { type: MessageType.voteResp, from: 5, term: 1 });
  assert.equal(p.node.raft.role, StateRole.candidate);
  send(p, { type: MessageType.voteResp, from: 2, term: 1 });
  assert.equal(p.node.raft.role, StateRole.leader);
});

test("Raft thesis §4.3: the leader leaves an implicit joint configuration by itself once it is applied", () => {
  // Proves the two-phase change C_old → C_old,new → C_new completes without another request: the
  // leader appends the leaving entry itself and every remaining member ends in C_new.
  const c = newCluster(3, { electionTicks: ET });
  addSpare(c, 4, [1, 2, 3]);
  c.elect(1);
  const cc = change(
    ConfChangeTransition.jointImplicit,
    [ConfChangeType.addNode, 4],
    [ConfChangeType.removeNode, 3],
  );
  assert.equal(c.node(1).proposeConfChange(cc).ok, true);
  c.stabilize();
  kick(c);
  const confEntries = c.member(1).applied.filter((e) => e.type === EntryType.confChange);
  assert.equal(confEntries.length, 2, "an entering and a leaving entry");
  for (const id of [1, 2, 4]) {
    assert.deepEqual(c.node(id).confState(), votersConf([1, 2, 4]), `node ${id}`);
  }
});

test("Raft thesis §4.3: an explicit joint configuration stays joint until an empty change leaves it", () => {
  // Proves the operator controls the second phase: time passing does not leave the joint state;
  // proposing the empty change does.
  const c = newCluster(3, { electionTicks: ET });
  addSpare(c, 4, [1, 2, 3]);
  c.elect(1);
  assert.equal(
    c.node(1).proposeConfChange(change(ConfChangeTransition.jointExplicit, [ConfChangeType.addNode, 4])).ok,
    true,
  );
  c.stabilize();
  run(c, 3 * ET);
  assert.equal(c.leader(), 1);
  assert.deepEqual(c.node(1).confState().votersOutgoing, [1, 2, 3]);
  assert.equal(c.node(1).proposeConfChange(change(auto)).ok, true);
  c.stabilize();
  kick(c);
  for (const id of [1, 2, 3, 4])
    assert.deepEqual(c.node(id).confState(), votersConf([1, 2, 3, 4]), `node ${id}`);
});

// ------------------------------------------------------------------ learners (§4.2.1)

test("Raft thesis §4.2.1: learners never vote or count toward a quorum", () => {
  // Proves, with voters {1,2,3} and learners {4,5} (enough learners to outnumber the missing
  // voters), that a candidate does not ask learners and is not elected by their grants, that
  // their acknowledgements do not commit, and that their answers do not keep a leader in office
  // under CheckQuorum.
  const p = start(1, votersConf([1, 2, 3], [4, 5]));
  p.node.campaign();
  assert.deepEqual(
    ofType(drain(p), MessageType.vote).map((m) => m.to),
    [2, 3],
  );
  send(p, { type: MessageType.voteResp, from: 4, term: 1 });
  send(p, { type: MessageType.voteResp, from: 5, term: 1 });
  assert.equal(p.node.raft.role, StateRole.candidate);
  send(p, { type: MessageType.voteResp, from: 2, term: 1 });
  assert.equal(p.node.raft.role, StateRole.leader);
  drain(p);
  for (const learner of [4, 5]) send(p, { type: MessageType.appResp, from: learner, term: 1, index: 1 });
  drain(p);
  assert.equal(p.node.raft.log.committed, 0);
  send(p, { type: MessageType.appResp, from: 2, term: 1, index: 1 });
  drain(p);
  assert.equal(p.node.raft.log.committed, 1);
  for (let i = 0; i < 2 * ET + 1 && p.node.raft.role === StateRole.leader; i++) {
    p.node.tick();
    const sent = drain(p);
    for (const learner of [4, 5]) {
      for (const hb of ofType(sent, MessageType.heartbeat, learner)) {
        send(p, { type: MessageType.heartbeatResp, from: learner, term: 1, round: hb.round });
      }
    }
  }
  assert.equal(p.node.raft.role, StateRole.follower, "the learners' answers must not satisfy CheckQuorum");
});

test("Raft thesis §4.2.1: a learner never campaigns", () => {
  // Proves a learner that hears from no leader stays a quiet follower: no election timeout and
  // no explicit campaign request makes it a (pre-)candidate or sends a vote request.
  const p = start(4, votersConf([1, 2, 3], [4]), { preVote: true });
  const sent: Message[] = [];
  for (let i = 0; i < 5 * ET; i++) {
    p.node.tick();
    sent.push(...drain(p));
  }
  p.node.campaign();
  sent.push(...drain(p));
  assert.deepEqual([p.node.raft.role, p.node.raft.term], [StateRole.follower, 0]);
  assert.deepEqual(sent, []);
});

test("Raft thesis §4.2.1: a server added as a learner catches up on the whole log", () => {
  // Proves the non-voting phase does its job: a new learner receives and applies exactly the
  // entries every voter applied, while commits proceed without waiting for it.
  const c = newCluster(3, { electionTicks: ET });
  addSpare(c, 4, [1, 2, 3]);
  c.elect(1);
  for (const s of ["a", "b", "c"]) c.node(1).propose(enc(s));
  c.stabilize();
  assert.equal(c.node(1).proposeConfChange(change(auto, [ConfChangeType.addLearner, 4])).ok, true);
  c.stabilize();
  kick(c);
  const view = (id: NodeId): string[] =>
    c.member(id).applied.map((e) => `${e.index}/${e.term}/${e.data.join(",")}`);
  assert.deepEqual(view(4), view(1));
  assert.deepEqual(c.node(4).confState(), votersConf([1, 2, 3], [4]));
});

test("Raft thesis §4.2.1: a learner promoted to voter then counts toward commitment", () => {
  // Proves that with voters {1,2} and learner 3, losing node 2 blocks commits; after 3 is promoted
  // the same loss no longer does, because 3's acknowledgement now counts.
  const c = cluster([1, 2], [3]);
  c.elect(1);
  c.partition(1, [2]);
  assert.equal(commits(c, "before"), false);
  c.healAll();
  kick(c);
  assert.equal(c.node(1).proposeConfChange(change(auto, [ConfChangeType.addNode, 3])).ok, true);
  c.stabilize();
  kick(c);
  for (const id of [1, 2, 3]) assert.deepEqual(c.node(id).confState(), votersConf([1, 2, 3]), `node ${id}`);
  c.partition(1, [2]);
  assert.equal(commits(c, "after"), true);
});

// ------------------------------------------------------------------ removals (§4.2.2, §4.2.3)

test("Raft thesis §4.2.2: a leader removed from the configuration steps down once the removal commits", () => {
  // Proves that once the entry removing it is committed (and applied) the leader steps down and
  // never campaigns again, while the remaining servers, which also applied the removal, elect a
  // leader among themselves and commit.
  const c = newCluster(3, { electionTicks: ET });
  c.elect(1);
  assert.equal(c.node(1).proposeConfChange(change(auto, [ConfChangeType.removeNode, 1])).ok, true);
  c.stabilize();
  assert.deepEqual([c.node(1).raft.role, c.node(1).raft.lead], [StateRole.follower, NONE]);
  for (const id of [2, 3]) assert.deepEqual(c.node(id).confState(), votersConf([2, 3]), `node ${id}`);
  run(c, 4 * ET);
  const leader = c.leader();
  assert.ok(leader === 2 || leader === 3, `leader is ${leader}`);
  assert.notEqual(c.node(1).raft.role, StateRole.leader);
  assert.equal(commits(c, "after removal"), true);
});

test("Raft thesis §4.2.2: a leader demoted to learner steps down", () => {
  // Proves the same rule for a leader that stays in the cluster but loses its vote.
  const c = newCluster(3, { electionTicks: ET });
  c.elect(1);
  assert.equal(c.node(1).proposeConfChange(change(auto, [ConfChangeType.addLearner, 1])).ok, true);
  c.stabilize();
  assert.equal(c.node(1).raft.role, StateRole.follower);
  assert.deepEqual(c.node(2).confState(), votersConf([2, 3], [1]));
  run(c, 4 * ET);
  assert.ok([2, 3].includes(c.leader()));
});

test("Raft thesis §4.2.3: a removed server cannot disrupt the cluster with vote requests", () => {
  // Proves that a server removed while partitioned, which keeps timing out and raising its term,
  // neither deposes the leader nor changes the remaining members' term when it returns.
  const logger = new MemoryLogger();
  const c = new TestCluster(logger);
  for (const id of [1, 2, 3]) c.add(id, votersConf([1, 2, 3]), { electionTicks: ET, preVote: false });
  c.elect(1);
  c.isolate(3);
  assert.equal(c.node(1).proposeConfChange(change(auto, [ConfChangeType.removeNode, 3])).ok, true);
  c.stabilize();
  assert.deepEqual(c.node(2).confState(), votersConf([1, 2]));
  run(c, 5 * ET);
  assert.ok(c.node(3).raft.term > 1, "the removed server campaigned while cut off");
  c.healAll();
  run(c, 5 * ET);
  assert.deepEqual([c.leader(), c.node(1).raft.term, c.node(2).raft.term], [1, 1, 1]);
  assert.ok(logger.lines.some((l) => l.message.includes("not a member")));
});

// ------------------------------------------------------------------ one change at a time (§4.1)

test("Raft thesis §4.1: a configuration change is refused while another is still pending", () => {
  // Proves that only one change is in flight: a second proposal before the first is applied is
  // refused with 'confChangePending', and accepted once the first took effect.
  const c = newCluster(3, { electionTicks: ET });
  addSpare(c, 4, [1, 2, 3]);
  addSpare(c, 5, [1, 2, 3]);
  c.elect(1);
  assert.equal(c.node(1).proposeConfChange(change(auto, [ConfChangeType.addLearner, 4])).ok, true);
  assert.equal(
    reason(c.node(1).proposeConfChange(change(auto, [ConfChangeType.addLearner, 5]))),
    RejectReason.confChangePending,
  );
  c.stabilize();
  assert.equal(c.node(1).proposeConfChange(change(auto, [ConfChangeType.addLearner, 5])).ok, true);
});

test("Raft thesis §4.1: a new leader refuses configuration changes until its term's no-op is applied", () => {
  // Proves the fix to single-server changes: a leader must commit an entry of its own term before
  // it may change the configuration, so no change from an earlier leader can still be pending.
  const p = start(1, votersConf([1, 2, 3]));
  p.node.campaign();
  drain(p);
  send(p, { type: MessageType.voteResp, from: 2, term: 1 });
  drain(p);
  const add = change(auto, [ConfChangeType.addLearner, 4]);
  assert.equal(reason(p.node.proposeConfChange(add)), RejectReason.confChangePending);
  send(p, { type: MessageType.appResp, from: 2, term: 1, index: 1 });
  drain(p);
  assert.equal(p.node.status().applied, 1);
  assert.equal(p.node.proposeConfChange(add).ok, true);
});

test("Raft thesis §4.3: a joint configuration accepts no other change until it is left", () => {
  // Proves that from C_old,new the only permitted next step is to C_new.
  const c = newCluster(3, { electionTicks: ET });
  addSpare(c, 4, [1, 2, 3]);
  c.elect(1);
  assert.equal(
    c.node(1).proposeConfChange(change(ConfChangeTransition.jointExplicit, [ConfChangeType.addNode, 4])).ok,
    true,
  );
  c.stabilize();
  const again = c.node(1).proposeConfChange(change(auto, [ConfChangeType.addLearner, 5]));
  assert.equal(reason(again), RejectReason.confChangePending);
});

test("Raft thesis §4: a configuration change that would leave no voters or is otherwise invalid is refused", () => {
  // Proves the leader refuses changes that cannot form a valid configuration, with
  // 'confChangeInvalid', and appends nothing for them.
  const c = newCluster(3, { electionTicks: ET });
  c.elect(1);
  const last = c.node(1).raft.log.lastIndex();
  const cases: [string, ConfChange][] = [
    [
      "remove every voter",
      change(
        auto,
        [ConfChangeType.removeNode, 1],
        [ConfChangeType.removeNode, 2],
        [ConfChangeType.removeNode, 3],
      ),
    ],
    ["leave a joint configuration that is not joint", change(auto)],
    ["node id 0", change(auto, [ConfChangeType.addNode, 0])],
  ];
  for (const [name, cc] of cases) {
    assert.equal(reason(c.node(1).proposeConfChange(cc)), RejectReason.confChangeInvalid, name);
  }
  assert.equal(c.node(1).raft.log.lastIndex(), last);
});
