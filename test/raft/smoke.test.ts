// Proves the basic loop works end to end: a 3-node cluster elects a leader and replicates.
import assert from "node:assert/strict";
import { test } from "node:test";
import { newCluster } from "../../src/testing/cluster.js";

test("RawNode: 3 nodes elect a leader and commit a proposal everywhere", () => {
  const c = newCluster(3);
  c.elect(1);
  const res = c.node(1).propose(new TextEncoder().encode("hello"));
  assert.equal(res.ok, true);
  c.stabilize();
  for (const id of [1, 2, 3]) {
    const applied = c.member(id).applied.filter((e) => e.data.length > 0);
    assert.equal(applied.length, 1, `node ${id}`);
    assert.equal(new TextDecoder().decode(applied[0]?.data), "hello");
  }
  // Follower proposals are forwarded.
  assert.equal(c.node(3).propose(new TextEncoder().encode("x")).ok, true);
  c.stabilize();
  assert.equal(c.member(2).applied.filter((e) => e.data.length > 0).length, 2);
});

test("RawNode: elections by ticking alone produce exactly one leader", () => {
  const c = newCluster(5);
  for (let i = 0; i < 100; i++) {
    c.tickAll();
    c.stabilize();
  }
  const leaders = [...c.members.values()].filter((m) => m.node.raft.role === "leader");
  assert.equal(leaders.length, 1);
});
