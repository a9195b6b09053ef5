// Configuration changes take effect only when applied, never when validated or proposed.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfChangeType, StateRole } from "../../src/raft/types.js";
import { newCluster } from "../../src/testing/cluster.js";

const demote = (nodeId: number) => ({
  transition: "auto" as const,
  changes: [{ type: ConfChangeType.addLearner, nodeId }],
  context: new Uint8Array(0),
});

test("RawNode.proposeConfChange: validating a demotion changes nobody's role until it is applied", () => {
  // Proves the fix for a bug found by the simulator: checking a proposed change against the
  // configuration (a dry run) marked the node as a learner at once, so an isolated leader that
  // proposed its own demotion could never campaign again although the change never committed.
  const c = newCluster(3);
  c.elect(1);
  c.isolate(1);
  assert.equal(c.node(1).proposeConfChange(demote(1)).ok, true);
  c.stabilize();
  assert.equal(c.node(1).status().progress?.get(1)?.isLearner, false, "not a learner before it commits");
  assert.equal(c.node(1).raft.promotable(), true);
  c.healAll();
  for (let i = 0; i < 3; i++) {
    c.node(1).tick();
    c.stabilize();
  }
  // Once committed and applied, the demotion takes effect and the leader steps down.
  assert.deepEqual(c.node(1).status().config.learners, [1]);
  assert.equal(c.node(1).raft.role, StateRole.follower);
  assert.equal(c.node(1).raft.promotable(), false);
});

test("RawNode.proposeConfChange: a demotion refused as invalid leaves the configuration as it was", () => {
  // Proves a refused change has no effect: demoting the only voter is invalid.
  const c = newCluster(1);
  c.elect(1);
  const res = c.node(1).proposeConfChange(demote(1));
  assert.equal(res.ok, false);
  assert.equal(c.node(1).raft.promotable(), true);
  assert.deepEqual(c.node(1).status().config.voters, [1]);
});

test("RawNode.proposeConfChange: a leader demoting itself refuses proposals, so the remaining voter can replace it", () => {
  // Proves the fix for a deadlock found by the simulator: leader 1 of {1,2} demoted itself and
  // kept appending proposals until the change applied; node 2 missed the final commit index, so
  // its configuration was still {1,2} and it needed 1's vote, which 1 denied because its log was
  // longer. With proposals refused while the self-demotion is pending, both logs end at the change.
  const c = newCluster(2);
  c.elect(1);
  assert.equal(c.node(1).proposeConfChange(demote(1)).ok, true);
  const refused = c.node(1).propose(new TextEncoder().encode("late"));
  assert.equal(refused.ok ? "" : refused.reason, "transferInProgress");
  // Replicate the change, then lose everything 1 says afterwards (its commit index included).
  c.processReady(1);
  c.deliver(2);
  c.processReady(2);
  c.partition(1, [2]);
  c.cut.delete("2->1");
  c.stabilize();
  assert.equal(c.node(1).raft.role, StateRole.follower, "1 stepped down on applying its demotion");
  assert.deepEqual(c.node(2).status().config.voters, [1, 2], "2 has not learned the commit");
  c.healAll();
  for (let i = 0; i < 40 && c.leader() !== 2; i++) {
    c.node(2).tick();
    c.stabilize();
  }
  assert.equal(c.leader(), 2);
  assert.deepEqual(c.node(2).status().config.voters, [2]);
  assert.deepEqual(c.node(2).status().config.learners, [1]);
});

test("RawNode.proposeConfChange: a leader re-elected with its own removal pending still refuses proposals", () => {
  // Proves the second half of the self-removal fix (found by the simulator): the refusal must not
  // depend on which term appended the change; a node elected with an unapplied change removing
  // it in its log must not append past it either.
  const c = newCluster(3, { preVote: false, checkQuorum: false });
  c.elect(1);
  const removal = {
    transition: "auto" as const,
    changes: [{ type: ConfChangeType.removeNode, nodeId: 1 }],
    context: new Uint8Array(0),
  };
  assert.equal(c.node(1).proposeConfChange(removal).ok, true);
  c.processReady(1);
  c.queue = [];
  c.restart(1);
  c.node(1).campaign();
  c.processReady(1);
  c.deliver();
  c.processReady(2);
  c.processReady(3);
  c.deliver(1);
  assert.equal(c.node(1).raft.role, StateRole.leader);
  const res = c.node(1).propose(new TextEncoder().encode("x"));
  assert.equal(res.ok ? "" : res.reason, "transferInProgress");
  c.stabilize();
  assert.deepEqual(c.node(2).status().config.voters, [2, 3]);
  assert.notEqual(c.node(1).raft.role, StateRole.leader);
});
