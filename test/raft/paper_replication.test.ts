// Rules of log replication from the Raft paper (§5.3, §5.4.2, §7, Figure 2) and the thesis
// (§10.2.1 writing to the leader's disk in parallel), one test per rule, plus the replication
// machinery the core promises: progress states, batching and inflight limits, the uncommitted
// limit, rejection reasons and the Ready persistence contract of appends.
import assert from "node:assert/strict";
import { test } from "node:test";
import { entryBytes, MemoryStorage } from "../../src/raft/storage.js";
import {
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  MessageType,
  type NodeId,
  RejectReason,
  StateRole,
} from "../../src/raft/types.js";
import { votersConf } from "../../src/testing/cluster.js";
import { drain, elect, enc, entries, type Options, ofType, type Peer, send, startPeer } from "./peer.js";

// ------------------------------------------------------------------ helpers

function start(
  id: NodeId,
  conf: ConfState,
  opts: Options = {},
  log: readonly Entry[] = [],
  hs?: HardState,
  storage = MemoryStorage.withConfState(conf),
): Peer {
  return startPeer(
    id,
    conf,
    { preVote: false, ...opts },
    { log, ...(hs === undefined ? {} : { hs }), storage },
  );
}

/** Acknowledges `index` at the leader on behalf of `from`. */
function ack(leader: Peer, from: NodeId, index: number): Message[] {
  send(leader, { type: MessageType.appResp, from, term: leader.node.raft.term, index });
  return drain(leader);
}

/**
 * Delivers `initial` and everything the peers then send among themselves until they fall quiet;
 * messages to nodes outside `peers` are dropped. Returns every delivered message in order.
 */
function pump(peers: readonly Peer[], initial: readonly Message[]): Message[] {
  const byId = new Map(peers.map((p) => [p.node.id, p]));
  const delivered: Message[] = [];
  let queue = [...initial];
  for (let round = 0; round < 1000; round++) {
    for (const p of peers) queue.push(...drain(p));
    if (queue.length === 0) return delivered;
    const now = queue;
    queue = [];
    for (const m of now) {
      const dst = byId.get(m.to);
      if (dst === undefined) continue;
      delivered.push(m);
      dst.node.step(m);
    }
  }
  assert.fail("pump: peers never fell quiet");
}

/** Terms of the log at indexes firstIndex..lastIndex (unstable tail included). */
function logTerms(p: Peer): number[] {
  const log = p.node.raft.log;
  const out: number[] = [];
  for (let i = log.firstIndex(); i <= log.lastIndex(); i++) out.push(log.term(i));
  return out;
}

const three = votersConf([1, 2, 3]);

// ------------------------------------------------------------------ the leader (§5.3)

test("Raft §5.3: a leader appends a proposal to its log in its own term and sends it to every follower", () => {
  // Proves the leader stamps the entry with its term at the next index and replicates it with
  // the index and term of the entry before it and its commit index.
  const p = start(1, three);
  elect(p, [1, 2, 3]);
  ack(p, 2, 1);
  ack(p, 3, 1);
  assert.equal(p.node.propose(enc("x")).ok, true);
  assert.deepEqual([p.node.raft.log.lastIndex(), p.node.raft.log.term(2)], [2, 1]);
  const apps = ofType(drain(p), MessageType.app);
  assert.deepEqual(
    apps.map((m) => [m.to, m.index, m.logTerm, m.commit, m.entries.map((e) => [e.index, e.term])]),
    [
      [2, 1, 1, 1, [[2, 1]]],
      [3, 1, 1, 1, [[2, 1]]],
    ],
  );
});

test("Raft §5.3: a leader never overwrites or deletes entries in its own log", () => {
  // Proves Leader Append-Only: a re-elected leader keeps its uncommitted entries of older terms
  // and appends after them, and an append from a stale leader cannot touch its log.
  const p = start(1, three, {}, entries(1, [1, 2, 2]), { term: 2, vote: 1, commit: 1 });
  elect(p, [1, 2, 3]);
  assert.deepEqual(logTerms(p), [1, 2, 2, 3]);
  send(p, {
    type: MessageType.app,
    from: 2,
    term: 2,
    index: 1,
    logTerm: 1,
    entries: entries(2, [2]),
    commit: 1,
  });
  drain(p);
  assert.deepEqual(logTerms(p), [1, 2, 2, 3]);
  assert.equal(p.node.raft.role, StateRole.leader);
});

// ------------------------------------------------------------------ the follower (§5.3, Figure 2)

test("Raft §5.3: a follower rejects an append whose previous entry it does not have", () => {
  // Proves the consistency check: a missing prevLogIndex or a different term there is rejected
  // and changes nothing; a matching one is accepted.
  const cases: [string, number, number, boolean][] = [
    ["prevLogIndex past the end", 5, 2, false],
    ["term mismatch at the last entry", 3, 3, false],
    ["term mismatch in the middle", 2, 2, false],
    ["matching last entry", 3, 2, true],
  ];
  for (const [name, index, logTerm, accepted] of cases) {
    const p = start(2, three, {}, entries(1, [1, 1, 2]), { term: 2, vote: 0, commit: 0 });
    send(p, { type: MessageType.app, from: 1, term: 3, index, logTerm, entries: entries(index + 1, [3]) });
    const resp = ofType(drain(p), MessageType.appResp);
    assert.equal(resp.length, 1, name);
    assert.equal(resp[0]?.reject, !accepted, name);
    assert.deepEqual(logTerms(p), accepted ? [1, 1, 2, 3] : [1, 1, 2], name);
    if (!accepted) assert.equal(resp[0]?.index, index, `${name}: the rejection names the index`);
  }
});

test("Raft §5.3: a follower deletes an existing conflicting entry and all that follow", () => {
  // Proves that from the first index where the leader's entry has another term, the follower's
  // entries are replaced (in memory and, once persisted, in storage) and the rest dropped.
  const p = start(2, three, {}, entries(1, [1, 1, 2, 2, 2]), { term: 2, vote: 0, commit: 2 });
  send(p, {
    type: MessageType.app,
    from: 1,
    term: 3,
    index: 2,
    logTerm: 1,
    entries: entries(3, [3, 3]),
    commit: 2,
  });
  const rd = p.node.ready();
  assert.deepEqual(
    rd.entries.map((e) => [e.index, e.term]),
    [
      [3, 3],
      [4, 3],
    ],
  );
  p.storage.append(rd.entries);
  p.node.advance();
  assert.deepEqual(logTerms(p), [1, 1, 3, 3]);
  assert.equal(p.storage.lastIndex(), 4);
  assert.equal(p.storage.term(3), 3);
});

test("Raft §5.3: a follower appends only the entries not already in its log", () => {
  // Proves that entries the follower already holds (same index and term) are not written again:
  // the Ready carries only the new suffix.
  const p = start(2, three, {}, entries(1, [1, 1, 1]), { term: 1, vote: 0, commit: 0 });
  send(p, {
    type: MessageType.app,
    from: 1,
    term: 1,
    index: 0,
    logTerm: 0,
    entries: entries(1, [1, 1, 1, 1]),
  });
  const rd = p.node.ready();
  assert.deepEqual(
    rd.entries.map((e) => e.index),
    [4],
  );
  p.storage.append(rd.entries);
  p.node.advance();
  assert.equal(p.node.raft.log.lastIndex(), 4);
});

test("Raft §5.3: a stale, shorter append never truncates the log", () => {
  // Proves that a delayed append covering only a prefix of what the follower holds (all matching)
  // leaves the later entries in place, and the acknowledgement vouches only for the prefix.
  const p = start(2, three, {}, entries(1, [1, 1, 1, 1, 1]), { term: 1, vote: 0, commit: 0 });
  send(p, { type: MessageType.app, from: 1, term: 1, index: 1, logTerm: 1, entries: entries(2, [1]) });
  const rd = p.node.ready();
  assert.deepEqual(rd.entries, []);
  assert.deepEqual(
    ofType(rd.messages, MessageType.appResp).map((m) => [m.index, m.reject]),
    [[2, false]],
  );
  p.node.advance();
  assert.equal(p.node.raft.log.lastIndex(), 5);
});

test("Raft Fig.2: a follower sets commitIndex = min(leaderCommit, index of last new entry)", () => {
  // Proves the follower never commits past what the append vouched for (its later entries may
  // still be replaced), commits up to the leader's commit when the append covers it, and never
  // moves commit backwards.
  const p = start(2, three, {}, entries(1, [1, 1, 1, 1, 1]), { term: 1, vote: 0, commit: 0 });
  send(p, {
    type: MessageType.app,
    from: 1,
    term: 1,
    index: 1,
    logTerm: 1,
    entries: entries(2, [1]),
    commit: 5,
  });
  assert.equal(p.node.raft.log.committed, 2);
  send(p, {
    type: MessageType.app,
    from: 1,
    term: 1,
    index: 0,
    logTerm: 0,
    entries: entries(1, [1, 1, 1]),
    commit: 1,
  });
  assert.equal(p.node.raft.log.committed, 2);
  send(p, { type: MessageType.app, from: 1, term: 1, index: 5, logTerm: 1, commit: 4 });
  assert.equal(p.node.raft.log.committed, 4);
});

test("Raft §5.3: heartbeats carry the leader's commit index, but never past what the follower holds", () => {
  // Proves the leader tells each follower min(its match, commit), and a follower advances its
  // commit from a heartbeat (never backwards).
  const leader = start(1, three);
  elect(leader, [1, 2, 3]);
  ack(leader, 2, 1);
  assert.equal(leader.node.raft.log.committed, 1);
  leader.node.tick();
  const hbs = ofType(drain(leader), MessageType.heartbeat);
  assert.deepEqual(
    hbs.map((m) => [m.to, m.commit]),
    [
      [2, 1],
      [3, 0],
    ],
  );

  const f = start(2, three, {}, entries(1, [1, 1, 1]), { term: 1, vote: 0, commit: 0 });
  send(f, { type: MessageType.heartbeat, from: 1, term: 1, commit: 2 });
  assert.equal(f.node.raft.log.committed, 2);
  send(f, { type: MessageType.heartbeat, from: 1, term: 1, commit: 1 });
  assert.equal(f.node.raft.log.committed, 2);
});

// ------------------------------------------------------------------ commitment (§5.3, §5.4.2)

test("Raft §5.3: an entry is committed once the leader has replicated it on a majority", () => {
  // Proves that in a 5-voter cluster the leader plus one follower is not enough, plus two is.
  const p = start(1, votersConf([1, 2, 3, 4, 5]));
  elect(p, [1, 2, 3, 4, 5]);
  ack(p, 2, 1);
  assert.equal(p.node.raft.log.committed, 0);
  ack(p, 3, 1);
  assert.equal(p.node.raft.log.committed, 1);
});

test("Raft §5.4.2: a leader never commits an entry from a previous term by counting replicas", () => {
  // Proves the Figure 8 rule: entries of term 1 stored on a majority stay uncommitted until an
  // entry of the leader's own term (its no-op) is on a majority, which then commits them all.
  const p = start(1, three, {}, entries(1, [1, 1]), { term: 2, vote: 0, commit: 0 });
  elect(p, [1, 2, 3]);
  assert.deepEqual(logTerms(p), [1, 1, 3]);
  ack(p, 2, 2);
  assert.equal(p.node.status().progress?.get(2)?.match, 2);
  assert.equal(p.node.raft.log.committed, 0);
  ack(p, 2, 3);
  assert.equal(p.node.raft.log.committed, 3);
});

test("Raft Fig.2: if commitIndex > lastApplied, apply log[lastApplied+1]", () => {
  // Proves committed entries are handed to the state machine exactly once, in index order with no
  // gap, even when a per-Ready size limit splits them, and uncommitted ones never are.
  const p = start(2, three, { committedBytesPerReadyMax: 2 });
  send(p, {
    type: MessageType.app,
    from: 1,
    term: 1,
    index: 0,
    logTerm: 0,
    entries: entries(1, [1, 1, 1, 1, 1, 1]),
    commit: 5,
  });
  let lastApplied = 0;
  let readies = 0;
  while (p.node.hasReady()) {
    const rd = p.node.ready();
    readies++;
    p.storage.append(rd.entries);
    if (rd.hardState !== null) p.storage.setHardState(rd.hardState);
    for (const e of rd.committedEntries) {
      assert.equal(e.index, lastApplied + 1);
      lastApplied = e.index;
    }
    p.node.advance();
    assert.equal(p.node.status().applied, lastApplied);
  }
  assert.equal(lastApplied, 5);
  assert.ok(readies >= 3, `the limit should split applying over several Readies, got ${readies}`);
});

// ------------------------------------------------------------------ backtracking and progress

test("Raft §5.3: a rejection hint lets the leader skip a whole conflicting term in one round trip", () => {
  // Proves fast backtracking: a follower with eight conflicting entries of an old term is
  // repaired after a single rejection (one decrement per entry would need four), and ends with
  // exactly the leader's log.
  const leader = start(1, three, {}, entries(1, [1, 1, 1, 1, 1]), { term: 2, vote: 0, commit: 2 });
  const follower = start(2, three, {}, entries(1, [1, 1, 2, 2, 2, 2, 2, 2, 2, 2]), {
    term: 2,
    vote: 0,
    commit: 2,
  });
  const sent = elect(leader, [1, 2, 3]);
  const delivered = pump([leader, follower], sent);
  const rejections = delivered.filter((m) => m.type === MessageType.appResp && m.reject);
  assert.equal(rejections.length, 1);
  assert.deepEqual(logTerms(follower), logTerms(leader));
  assert.deepEqual(logTerms(follower), [1, 1, 1, 1, 1, 3]);
});

test("Raft progress: a leader probing a follower sends one append per heartbeat interval", () => {
  // Proves that while the follower's match is unknown the leader has at most one append
  // outstanding: further proposals send nothing until a heartbeat answer, which releases
  // exactly one more append.
  const p = start(1, three);
  const first = elect(p, [1, 2, 3]);
  assert.equal(ofType(first, MessageType.app, 2).length, 1);
  for (const s of ["a", "b", "c"]) assert.equal(p.node.propose(enc(s)).ok, true);
  assert.deepEqual(ofType(drain(p), MessageType.app, 2), []);
  p.node.tick();
  const beat = drain(p);
  assert.deepEqual(ofType(beat, MessageType.app, 2), []);
  const hb = ofType(beat, MessageType.heartbeat, 2)[0];
  assert.ok(hb !== undefined);
  send(p, { type: MessageType.heartbeatResp, from: 2, term: 1, round: hb.round });
  const apps = ofType(drain(p), MessageType.app, 2);
  assert.equal(apps.length, 1);
  assert.equal(p.node.propose(enc("d")).ok, true);
  assert.deepEqual(ofType(drain(p), MessageType.app, 2), []);
  assert.equal(p.node.status().progress?.get(2)?.state, "probe");
});

test("Raft progress: a leader replicating to a follower pipelines appends up to the inflight limit", () => {
  // Proves that once the match is known appends are sent without waiting for answers, at most
  // `inflightMessagesMax` unacknowledged, and that an acknowledgement frees room for more.
  const p = start(1, three, { inflightMessagesMax: 3 });
  elect(p, [1, 2, 3]);
  ack(p, 2, 1);
  assert.equal(p.node.status().progress?.get(2)?.state, "replicate");
  let apps = 0;
  for (let i = 0; i < 5; i++) {
    assert.equal(p.node.propose(enc(`e${i}`)).ok, true);
    apps += ofType(drain(p), MessageType.app, 2).length;
  }
  assert.equal(apps, 3);
  assert.equal(p.node.status().progress?.get(2)?.inflight, 3);
  const more = ofType(ack(p, 2, 2), MessageType.app, 2).filter((m) => m.entries.length > 0);
  assert.equal(more.length, 1);
  assert.deepEqual(
    more[0]?.entries.map((e) => e.index),
    [5, 6],
  );
  assert.equal(p.node.status().progress?.get(2)?.inflight, 3);
});

test("Raft progress: an append carries at most entriesBytesPerMessageMax bytes, but at least one entry", () => {
  // Proves batching by size while a lagging follower catches up: every append stays within the
  // byte limit (two small entries fit, three do not) unless it carries a single larger entry, and
  // the follower ends with the full log.
  const small = entries(1, [1, 1, 1, 1, 1], 4);
  const limit = 2 * entryBytes(small[0] as Entry) + 1;
  const big = entries(6, [1], limit + 5);
  const log = [...small, ...big];
  const leader = start(1, three, { entriesBytesPerMessageMax: limit }, log, { term: 1, vote: 0, commit: 0 });
  const follower = start(2, three);
  const delivered = pump([leader, follower], elect(leader, [1, 2, 3]));
  const apps = ofType(delivered, MessageType.app, 2).filter((m) => m.entries.length > 0);
  for (const m of apps) {
    const bytes = m.entries.reduce((n, e) => n + entryBytes(e), 0);
    assert.ok(
      bytes <= limit || m.entries.length === 1,
      `append of ${m.entries.length} entries, ${bytes} bytes`,
    );
  }
  assert.ok(apps.some((m) => m.entries.length === 2));
  assert.ok(apps.some((m) => m.entries.length === 1 && m.entries[0]?.index === 6));
  assert.deepEqual(logTerms(follower), logTerms(leader));
});

// ------------------------------------------------------------------ snapshots (§7)

/** Node 1 restarted with a log compacted into a snapshot at index 10 (voters 1..3, learner 4). */
function compactedLeader(): { leader: Peer; sent: Message[]; conf: ConfState } {
  const conf: ConfState = { ...three, learners: [4] };
  const storage = MemoryStorage.withConfState(conf);
  storage.append(entries(1, Array(10).fill(1)));
  storage.setHardState({ term: 1, vote: 1, commit: 10 });
  storage.createSnapshot(10, conf, enc("state@10"));
  storage.compact(10);
  const leader = start(1, conf, { applied: 10 }, [], undefined, storage);
  return { leader, sent: elect(leader, [1, 2, 3]), conf };
}

test("Raft §7: a follower too far behind receives the leader's snapshot, with its configuration", () => {
  // Proves that when the entries a follower needs were compacted away the leader sends its
  // snapshot, and the follower installs it: log, commit and membership (here a learner the
  // follower had not heard of) as of the snapshot's index, then continues with appends.
  const { leader, sent } = compactedLeader();
  const follower = start(2, three);
  const delivered = pump([leader, follower], sent);
  const snaps = ofType(delivered, MessageType.snap, 2);
  assert.equal(snaps.length, 1);
  assert.equal(new TextDecoder().decode(follower.storage.snapshot().data), "state@10");
  assert.deepEqual(follower.node.confState().learners, [4]);
  assert.deepEqual(
    [follower.node.raft.log.committed, follower.node.raft.log.lastIndex(), follower.node.raft.log.term(11)],
    [11, 11, 2],
  );
});

test("Raft §7: a leader sends no appends to a follower while its snapshot is in flight", () => {
  // Proves the snapshot state pauses replication: proposals send nothing to that follower until
  // the transport reports the snapshot, after which the leader probes it again.
  const { leader, sent } = compactedLeader();
  const follower = start(2, three);
  // Deliver the leader's probe and the rejection, which makes the leader send the snapshot.
  for (const m of ofType(sent, MessageType.app, 2)) follower.node.step(m);
  for (const m of drain(follower)) leader.node.step(m);
  const snap = ofType(drain(leader), MessageType.snap, 2);
  assert.equal(snap.length, 1);
  assert.equal(leader.node.status().progress?.get(2)?.state, "snapshot");
  assert.equal(leader.node.propose(enc("x")).ok, true);
  leader.node.tick();
  const paused = drain(leader).filter((m) => m.to === 2 && m.type !== MessageType.heartbeat);
  assert.deepEqual(paused, [], "only heartbeats while the snapshot is in flight");
  leader.node.reportSnapshot(2, true);
  assert.equal(leader.node.status().progress?.get(2)?.state, "probe");
  pump([leader, follower], snap);
  assert.equal(leader.node.status().progress?.get(2)?.state, "replicate");
  assert.deepEqual(logTerms(follower).slice(-2), [2, 2]);
});

test("Raft §7: a snapshot no newer than the follower's commit index is ignored", () => {
  // Proves an old or duplicated snapshot cannot roll a follower back, even one whose log was
  // itself compacted past the snapshot: log, commit and storage stay as they were, and the answer
  // reports the follower's commit index.
  const storage = MemoryStorage.withConfState(three);
  storage.append(entries(1, [1, 1, 1, 1, 1, 1, 1]));
  storage.setHardState({ term: 1, vote: 0, commit: 6 });
  storage.createSnapshot(5, three, enc("s5"));
  storage.compact(5);
  const p = start(2, three, { applied: 5 }, [], undefined, storage);
  const snapshot = { metadata: { index: 3, term: 1, confState: three }, data: enc("old") };
  send(p, { type: MessageType.snap, from: 1, term: 1, snapshot });
  const rd = p.node.ready();
  assert.equal(rd.snapshot, null);
  assert.deepEqual(
    ofType(rd.messages, MessageType.appResp).map((m) => [m.index, m.reject]),
    [[6, false]],
  );
  p.node.advance();
  assert.deepEqual([p.node.raft.log.lastIndex(), p.node.raft.log.committed], [7, 6]);
  assert.equal(new TextDecoder().decode(p.storage.snapshot().data), "s5");
});

test("Raft §7: a snapshot describing a prefix of the follower's log keeps the entries that follow it", () => {
  // Proves that when the follower already has the snapshot's last entry, entries after it stay
  // valid and are retained (only the commit index moves up).
  const p = start(2, three, {}, entries(1, [1, 1, 1, 1, 1, 1, 1, 1]), { term: 1, vote: 0, commit: 2 });
  const snapshot = { metadata: { index: 5, term: 1, confState: three }, data: enc("s5") };
  send(p, { type: MessageType.snap, from: 1, term: 1, snapshot });
  const rd = p.node.ready();
  assert.equal(rd.snapshot, null);
  p.node.advance();
  assert.deepEqual([p.node.raft.log.lastIndex(), p.node.raft.log.committed], [8, 5]);
});

// ------------------------------------------------------------------ requests refused

test("Raft core requests: proposals over the uncommitted-size limit are refused with 'uncommittedFull'", () => {
  // Proves the leader bounds its uncommitted tail: a proposal that would pass the limit is
  // refused (one that fits is still accepted), and room returns once entries commit and apply.
  const p = start(1, three, { uncommittedBytesMax: 10 });
  elect(p, [1, 2, 3]);
  assert.equal(p.node.propose(new Uint8Array(6)).ok, true);
  const refused = p.node.propose(new Uint8Array(6));
  assert.equal(refused.ok, false);
  assert.equal(refused.ok ? "" : refused.reason, RejectReason.uncommittedFull);
  assert.equal(p.node.propose(new Uint8Array(4)).ok, true);
  drain(p);
  ack(p, 2, 3);
  assert.equal(p.node.raft.log.committed, 3);
  assert.equal(p.node.propose(new Uint8Array(6)).ok, true);
});

test("Raft core requests: proposals without a known leader are refused with 'noLeader'", () => {
  // Proves a follower that knows no leader and a candidate refuse at once (the client may retry
  // elsewhere), while a follower that knows the leader forwards the proposal to it (§5.1, §8).
  const lonely = start(2, three);
  const r1 = lonely.node.propose(enc("x"));
  assert.equal(r1.ok ? "" : r1.reason, RejectReason.noLeader);
  assert.deepEqual(drain(lonely), []);

  const cand = start(2, three);
  cand.node.campaign();
  const r2 = cand.node.propose(enc("x"));
  assert.equal(r2.ok ? "" : r2.reason, RejectReason.noLeader);

  const follower = start(2, three);
  send(follower, { type: MessageType.heartbeat, from: 1, term: 1 });
  drain(follower);
  assert.equal(follower.node.propose(enc("x")).ok, true);
  const fwd = ofType(drain(follower), MessageType.prop, 1);
  assert.deepEqual(
    fwd.map((m) => new TextDecoder().decode(m.entries[0]?.data)),
    ["x"],
  );
});

// ------------------------------------------------------------------ Ready persistence contract

test("Raft thesis §10.2.1 / Ready: a leader's appends go early only when its term is already durable", () => {
  // Proves a leader may replicate while its own write is in flight only if the hard state of its
  // term is on disk: when it wins before its candidate Ready was persisted, its appends wait for
  // the write (in `messages`, with the hard state in the same Ready).
  const durable = start(1, three);
  durable.node.campaign();
  drain(durable);
  send(durable, { type: MessageType.voteResp, from: 2, term: 1 });
  const rd = durable.node.ready();
  assert.deepEqual(
    rd.entries.map((e) => e.index),
    [1],
  );
  assert.equal(ofType(rd.messagesEarly, MessageType.app).length, 2);
  assert.deepEqual(ofType(rd.messages, MessageType.app), []);
  durable.node.advance();

  const fresh = start(1, three);
  fresh.node.campaign();
  send(fresh, { type: MessageType.voteResp, from: 2, term: 1 });
  const rd2 = fresh.node.ready();
  assert.deepEqual(rd2.hardState, { term: 1, vote: 1, commit: 0 });
  assert.deepEqual(ofType(rd2.messagesEarly, MessageType.app), []);
  assert.equal(ofType(rd2.messages, MessageType.app).length, 2);
  fresh.node.advance();
});

test("Raft thesis §10.2.1 / Ready: a leader counts itself toward commit only after advance()", () => {
  // Proves that a follower's acknowledgement plus the leader's not-yet-durable entry is no
  // majority; the entry commits when advance() reports the leader's own write durable.
  const p = start(1, three);
  elect(p, [1, 2, 3]);
  ack(p, 2, 1);
  assert.equal(p.node.propose(enc("x")).ok, true);
  const rd = p.node.ready();
  assert.deepEqual(
    rd.entries.map((e) => e.index),
    [2],
  );
  send(p, { type: MessageType.appResp, from: 2, term: 1, index: 2 });
  assert.equal(p.node.raft.log.committed, 1);
  p.storage.append(rd.entries);
  p.node.advance();
  assert.equal(p.node.raft.log.committed, 2);
});

test("Raft Fig.2 / Ready: a follower acknowledges entries only after they are durable", () => {
  // Proves the append acknowledgement travels in `messages` of the Ready that carries the entries
  // to persist (with mustSync), never in `messagesEarly`.
  const p = start(2, three);
  send(p, { type: MessageType.app, from: 1, term: 1, index: 0, logTerm: 0, entries: entries(1, [1, 1]) });
  const rd = p.node.ready();
  assert.equal(rd.entries.length, 2);
  assert.equal(rd.mustSync, true);
  assert.deepEqual(ofType(rd.messagesEarly, MessageType.appResp), []);
  assert.deepEqual(
    ofType(rd.messages, MessageType.appResp).map((m) => m.index),
    [2],
  );
  p.node.advance();
});
