// Bootstrap and joining: where a member's first configuration comes from.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SeededRng } from "../../src/lib/rng.js";
import { RawNode } from "../../src/raft/rawnode.js";
import { MemoryStorage } from "../../src/raft/storage.js";
import { ConfChangeType, StateRole } from "../../src/raft/types.js";
import { newCluster, TestCluster, votersConf } from "../../src/testing/cluster.js";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

test("MemoryStorage.bootstrap: a genesis snapshot at index 1 carries the initial configuration", () => {
  // Proves the bootstrap storage layout: snapshot (1, 1) with the configuration, term 1, commit 1.
  const s = MemoryStorage.bootstrap(votersConf([1, 2, 3]));
  assert.deepEqual(s.snapshot().metadata.confState.voters, [1, 2, 3]);
  assert.equal(s.firstIndex(), 2);
  assert.equal(s.lastIndex(), 1);
  assert.equal(s.term(1), 1);
  assert.deepEqual(s.initialState().hardState, { term: 1, vote: 0, commit: 1 });
});

test("RawNode joining: a node added to a bootstrapped cluster learns the configuration from a snapshot", () => {
  // Proves that a new, empty member receives the genesis snapshot, knows every member, and
  // can later lead as a full voter.
  const c = newCluster(3, {}, undefined, true);
  c.elect(1);
  c.add(4, null);
  assert.equal(
    c.node(1).proposeConfChange({
      transition: "auto",
      changes: [{ type: ConfChangeType.addNode, nodeId: 4 }],
      context: new Uint8Array(0),
    }).ok,
    true,
  );
  c.stabilize();
  assert.equal(c.node(1).propose(enc("after-join")).ok, true);
  c.stabilize();
  assert.deepEqual(c.node(4).status().config.voters, [1, 2, 3, 4]);
  assert.equal(
    c.member(4).applied.some((e) => new TextDecoder().decode(e.data) === "after-join"),
    true,
  );
  // Leader stickiness keeps 1 in office against a plain campaign; a transfer hands over.
  assert.equal(c.node(1).transferLeader(4).ok, true);
  c.stabilize();
  assert.equal(c.node(4).raft.role, StateRole.leader);
});

test("RawNode joining: a node that replays the log without a configuration never invents one (no split brain)", () => {
  // Proves the fix for a split brain: a member joining a cluster whose configuration lives only in
  // a snapshot at index 0 replays conf changes from index 1; applying `add 4` to an empty
  // configuration would make it the sole voter and let it elect itself. It must refuse instead.
  const c = new TestCluster();
  for (const id of [1, 2, 3]) c.add(id, votersConf([1, 2, 3]));
  c.elect(1);
  c.add(4, null);
  c.node(1).proposeConfChange({
    transition: "auto",
    changes: [{ type: ConfChangeType.addNode, nodeId: 4 }],
    context: new Uint8Array(0),
  });
  c.stabilize();
  assert.deepEqual(c.node(4).status().config.voters, []);
  for (let i = 0; i < 100; i++) c.node(4).tick();
  c.stabilize();
  assert.notEqual(c.node(4).raft.role, StateRole.leader);
  assert.equal(c.leader(), 1);
});

test("RawNode restart: a hard state whose commit is below the installed snapshot starts at the snapshot", () => {
  // Proves recovery from a crash between installing a snapshot and writing the hard state after
  // it (found by the simulator's torn writes): the snapshot proves its index committed.
  const storage = new MemoryStorage();
  storage.applySnapshot({
    metadata: { index: 5, term: 2, confState: votersConf([1, 2, 3]) },
    data: new Uint8Array(0),
  });
  storage.setHardState({ term: 2, vote: 0, commit: 0 });
  const node = new RawNode({ id: 1, storage, rng: new SeededRng(1) });
  assert.equal(node.status().commit, 5);
  assert.equal(node.status().applied, 5);
});
