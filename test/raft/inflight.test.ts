// RawNode.inFlight: what a driver may do while a Ready's write is in flight.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SeededRng } from "../../src/lib/rng.js";
import { RawNode, type Ready } from "../../src/raft/rawnode.js";
import { MemoryStorage } from "../../src/raft/storage.js";
import { type Entry, EntryType, type Message, MessageType } from "../../src/raft/types.js";

interface Node {
  readonly raw: RawNode;
  readonly storage: MemoryStorage;
  applied: Entry[];
}

function cluster(): Map<number, Node> {
  const conf = { voters: [1, 2, 3], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false };
  const nodes = new Map<number, Node>();
  for (const id of [1, 2, 3]) {
    const storage = MemoryStorage.bootstrap(conf);
    nodes.set(id, {
      raw: new RawNode({ id, storage, rng: new SeededRng(id), applied: 1 }),
      storage,
      applied: [],
    });
  }
  return nodes;
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const texts = (es: readonly Entry[]): string[] =>
  es
    .filter((e) => e.type === EntryType.normal && e.data.length > 0)
    .map((e) => new TextDecoder().decode(e.data));

/** Persists, applies and advances a Ready the ordinary way; returns its messages. */
function finish(n: Node, rd: Ready): Message[] {
  if (rd.snapshot !== null) n.storage.applySnapshot(rd.snapshot);
  n.storage.append(rd.entries);
  if (rd.hardState !== null) n.storage.setHardState(rd.hardState);
  n.applied.push(...rd.committedEntries);
  n.raw.advance();
  return [...rd.messagesEarly, ...rd.messages];
}

/** Delivers messages and runs every node's Readies until nothing moves, except `hold`'s Readies. */
function settle(nodes: Map<number, Node>, msgs: Message[], hold = 0): void {
  let queue = msgs;
  for (let round = 0; round < 100; round++) {
    for (const m of queue) nodes.get(m.to)?.raw.step(m);
    queue = [];
    for (const [id, n] of nodes) {
      if (id !== hold && n.raw.hasReady()) queue.push(...finish(n, n.raw.ready()));
    }
    if (queue.length === 0) return;
  }
  assert.fail("the cluster did not settle");
}

test("RawNode.inFlight: an acknowledgement during the leader's write commits and hands out entries and commit updates at once", () => {
  // Proves that while the leader's Ready (entry b) is being written, followers' acks of an earlier
  // entry (a) make inFlight return a as committed and the commit updates for the followers; that
  // a is not handed out again by the next Ready; and that it counts as applied after advance.
  const nodes = cluster();
  const leader = nodes.get(1) as Node;
  leader.raw.campaign();
  settle(nodes, []);
  assert.equal(leader.raw.raft.role, "leader");
  assert.deepEqual(leader.raw.inFlight(), { messages: [], committedEntries: [] }, "nothing without a Ready");

  assert.ok(leader.raw.propose(text("a")).ok);
  const rdA = leader.raw.ready();
  const toFollowers = finish(leader, rdA); // a is durable on the leader; nothing committed yet
  assert.deepEqual(texts(leader.applied), []);

  assert.ok(leader.raw.propose(text("b")).ok);
  const rdB = leader.raw.ready(); // b's write is now "in flight"
  assert.deepEqual(texts(rdB.entries), ["b"]);
  // The followers persist a and acknowledge it; the leader is still writing b.
  settle(nodes, toFollowers, 1);
  const early = leader.raw.inFlight();
  assert.deepEqual(texts(early.committedEntries), ["a"]);
  assert.ok(
    early.messages.some(
      (m) => m.type === MessageType.app && m.commit >= (early.committedEntries[0] as Entry).index,
    ),
    "the followers are told the new commit index at once",
  );
  assert.deepEqual(leader.raw.inFlight(), { messages: [], committedEntries: [] }, "handed out once");
  leader.applied.push(...early.committedEntries);

  const rest = finish(leader, rdB);
  assert.equal(leader.raw.raft.log.applied, (early.committedEntries[0] as Entry).index);
  settle(nodes, [...rest, ...early.messages]);
  for (const n of nodes.values()) assert.deepEqual(texts(n.applied), ["a", "b"], `node ${n.raw.id}`);
});

test("RawNode.inFlight: stops before a configuration change, which waits for a Ready", () => {
  // Proves that a conf change committed during a write is not handed out early (it takes effect at
  // advance), nor anything after it, and that the next Ready carries them in order.
  const nodes = cluster();
  const leader = nodes.get(1) as Node;
  leader.raw.campaign();
  settle(nodes, []);
  assert.ok(leader.raw.propose(text("a")).ok);
  assert.ok(
    leader.raw.proposeConfChange({
      transition: "auto",
      changes: [{ type: "addLearner", nodeId: 4 }],
      context: text(""),
    }).ok,
  );
  assert.ok(leader.raw.propose(text("c")).ok);
  const toFollowers = finish(leader, leader.raw.ready());
  assert.ok(leader.raw.propose(text("d")).ok);
  const rdD = leader.raw.ready();
  settle(nodes, toFollowers, 1);
  const early = leader.raw.inFlight();
  assert.deepEqual(texts(early.committedEntries), ["a"]);
  leader.applied.push(...early.committedEntries);
  finish(leader, rdD);
  const next = leader.raw.ready();
  assert.equal(next.committedEntries[0]?.type, EntryType.confChange);
  assert.deepEqual(texts(next.committedEntries), ["c"]);
  finish(leader, next);
  assert.deepEqual(leader.raw.status().config.learners, [4]);
});

test("RawNode.inFlight: a follower's proposals and read requests go to the leader during its own write", () => {
  // Proves that forwarding, which depends on no write of the follower, is handed out by inFlight
  // (and not held in the next Ready's messages until the follower's fdatasync is done).
  const nodes = cluster();
  const leader = nodes.get(1) as Node;
  const follower = nodes.get(2) as Node;
  leader.raw.campaign();
  settle(nodes, []);
  assert.ok(leader.raw.propose(text("a")).ok);
  const toFollowers = finish(leader, leader.raw.ready());
  for (const m of toFollowers) if (m.to === 2) follower.raw.step(m);
  const rd = follower.raw.ready(); // the follower's write of a is in flight
  assert.ok(rd.entries.length > 0);
  assert.ok(follower.raw.propose(text("p")).ok);
  assert.ok(follower.raw.readIndex(text("r")).ok);
  const early = follower.raw.inFlight();
  assert.deepEqual(
    early.messages.map((m) => `${m.type}->${m.to}`),
    ["prop->1", "readIndex->1"],
  );
  const rest = finish(follower, rd);
  assert.ok(!rest.some((m) => m.type === MessageType.prop || m.type === MessageType.readIndex), "sent once");
  settle(nodes, [...rest, ...early.messages]);
  for (const n of nodes.values()) assert.deepEqual(texts(n.applied), ["a", "p"], `node ${n.raw.id}`);
});
