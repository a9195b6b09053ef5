// The member driver: Raft + WAL + MVCC with real timers and real files, three members in one
// process over an in-process network.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { utf8 } from "../../src/mvcc/mod.js";
import { type SnapshotSaveEvent, snapshotSaveChannel } from "../../src/server/diagnostics.js";
import type { MemberInfo } from "../../src/server/envelope.js";
import { Member } from "../../src/server/member.js";
import { LoopNet } from "../../src/testing/loopnet.js";
import { withOpen } from "../../src/testing/walfs.js";
import { NodeWalFs, type WalFs } from "../../src/wal/fs.js";

const infos: MemberInfo[] = [1, 2, 3].map((id) => ({
  id,
  name: `m${id}`,
  peerUrls: [`http://127.0.0.1:${2380 + id}`],
  clientUrls: [`http://127.0.0.1:${2379 + id * 10}`],
  isLearner: false,
}));

/** Every member's {@link SnapshotSaveEvent} from now until `stop`. */
function snapshotEvents(): { events: SnapshotSaveEvent[]; stop: () => void } {
  const events: SnapshotSaveEvent[] = [];
  const onSnapshot = (m: unknown): void => {
    events.push(m as SnapshotSaveEvent);
  };
  snapshotSaveChannel.subscribe(onSnapshot);
  return { events, stop: () => snapshotSaveChannel.unsubscribe(onSnapshot) };
}

interface Cluster {
  readonly net: LoopNet;
  readonly dirs: Map<number, string>;
  readonly members: Map<number, Member>;
  start(
    id: number,
    opts?: {
      state?: "new" | "existing";
      snapshotCount?: number;
      requestTimeoutMs?: number;
      slowWalMs?: number;
      snapshotHold?: () => Promise<void>;
      staggerSnapshots?: boolean;
    },
  ): Promise<Member>;
  stopAll(): Promise<void>;
}

function cluster(): Cluster {
  const net = new LoopNet();
  const root = mkdtempSync(join(tmpdir(), "synod-member-"));
  const dirs = new Map<number, string>();
  const members = new Map<number, Member>();
  return {
    net,
    dirs,
    members,
    async start(id, opts = {}) {
      const dir = dirs.get(id) ?? join(root, `m${id}`);
      dirs.set(id, dir);
      const m = await Member.start({
        id,
        dataDir: dir,
        initialCluster: infos,
        initialClusterState: opts.state ?? "new",
        heartbeatMs: 10,
        electionMs: 100,
        snapshotCount: opts.snapshotCount ?? 1000,
        ...(opts.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: opts.requestTimeoutMs }),
        catchUpEntries: 5,
        ...(opts.slowWalMs === undefined ? {} : { wal: { fs: slowFs(dir, opts.slowWalMs) } }),
        ...(opts.snapshotHold === undefined ? {} : { snapshotHold: opts.snapshotHold }),
        ...(opts.staggerSnapshots === undefined ? {} : { staggerSnapshots: opts.staggerSnapshots }),
        transport: net.transport(id),
      });
      net.attach(id, m);
      members.set(id, m);
      return m;
    },
    async stopAll() {
      for (const [id, m] of members) {
        net.detach(id);
        await m.stop();
      }
      members.clear();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** The WAL's file system on `dir` with every write and sync made `ms` slower (a slow disk). */
function slowFs(dir: string, ms: number): WalFs {
  const inner = new NodeWalFs(dir);
  const later = (): Promise<void> => new Promise((r) => setTimeout(r, ms));
  return withOpen(inner, async (name, create, open) => {
    const f = await open(name, create);
    return {
      write: (bytes, offset) => f.write(bytes, offset),
      datasync: async () => {
        await later();
        await f.datasync();
      },
      writeDurable: async (bytes, offset) => {
        await later();
        await (f.writeDurable?.(bytes, offset) ?? f.write(bytes, offset).then(() => f.datasync()));
      },
      close: () => f.close(),
    };
  });
}

async function until(what: string, f: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!f()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Like Promise.all, but waits for every promise (none left to reject unhandled) and names the first failure. */
async function allOk<T>(ps: readonly Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(ps);
  const failed = settled.filter((r) => r.status === "rejected");
  if (failed.length > 0)
    throw new Error(
      `${failed.length} of ${ps.length} failed, first: ${String((failed[0] as PromiseRejectedResult).reason)}`,
    );
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
}

function leaderOf(c: Cluster): Member | undefined {
  return [...c.members.values()].find((m) => m.isLeader);
}

const key = (s: string): Uint8Array => utf8(s);

test("Member: three members elect a leader, replicate writes from any member, and read linearizably", async () => {
  // Proves the driver loop end to end: ready → WAL → send → apply → advance, follower forwarding,
  // and ReadIndex reads on a follower seeing a write acknowledged on another member.
  const c = cluster();
  try {
    for (const id of [1, 2, 3]) await c.start(id);
    await until("a leader", () => leaderOf(c) !== undefined);
    const follower = [...c.members.values()].find((m) => !m.isLeader) as Member;
    const put = await follower.propose({ type: "put", request: { key: key("a"), value: key("1") } });
    assert.equal(put.ok, true);
    const writes = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        (leaderOf(c) as Member).propose({ type: "put", request: { key: key(`k${i}`), value: key(`${i}`) } }),
      ),
    );
    assert.ok(writes.every((w) => w.ok));
    const other = [...c.members.values()].find((m) => m !== follower && !m.isLeader) as Member;
    await other.linearizableRead();
    const r = other.store.range({ key: key("k49") });
    assert.equal(r.ok && new TextDecoder().decode(r.value.kvs[0]?.value), "49");
    const hashes = await (async () => {
      await until(
        "all applied",
        () => new Set([...c.members.values()].map((m) => m.appliedIndex)).size === 1,
      );
      return [...c.members.values()].map((m) => {
        const h = m.store.hashKv(0);
        return h.ok ? h.value.hash : -1;
      });
    })();
    assert.equal(new Set(hashes).size, 1, "every member holds the same state");
  } finally {
    await c.stopAll();
  }
});

test("Member: a member restarted from its data directory recovers its state and catches up", async () => {
  // Proves durability through the WAL across a restart, and catch-up of the writes it missed.
  const c = cluster();
  try {
    for (const id of [1, 2, 3]) await c.start(id);
    await until("a leader", () => leaderOf(c) !== undefined);
    const victim = [...c.members.values()].find((m) => !m.isLeader) as Member;
    await (leaderOf(c) as Member).propose({ type: "put", request: { key: key("before"), value: key("x") } });
    await until(
      "victim applied",
      () => victim.store.range({ key: key("before") }).ok && victim.store.currentRevision >= 2,
    );
    c.net.detach(victim.id);
    await victim.stop();
    c.members.delete(victim.id);
    await (leaderOf(c) as Member).propose({ type: "put", request: { key: key("during"), value: key("y") } });
    const back = await c.start(victim.id);
    const rev = back.store.range({ key: key("before") });
    assert.equal(rev.ok && rev.value.kvs.length, 1, "state recovered from disk before any catch-up");
    await back.linearizableRead();
    const during = back.store.range({ key: key("during") });
    assert.equal(during.ok && during.value.kvs.length, 1);
  } finally {
    await c.stopAll();
  }
});

test("Member: a lagging member catches up from a snapshot after the others compacted their logs", async () => {
  // Proves snapshot creation (every snapshotCount entries), log compaction, and snapshot
  // install into the state machine and membership of a member that fell behind.
  const c = cluster();
  try {
    for (const id of [1, 2, 3]) await c.start(id, { snapshotCount: 20 });
    await until("a leader", () => leaderOf(c) !== undefined);
    const lagging = [...c.members.values()].find((m) => !m.isLeader) as Member;
    for (const other of c.members.values()) if (other !== lagging) c.net.cut(lagging.id, other.id);
    const leader = leaderOf(c) as Member;
    for (let i = 0; i < 60; i++)
      await leader.propose({ type: "put", request: { key: key(`s${i}`), value: key("v") } });
    for (const other of c.members.values()) if (other !== lagging) c.net.cut(lagging.id, other.id, true);
    await until("lagging member caught up", () => {
      const r = lagging.store.range({ key: key("s59") });
      return r.ok && r.value.kvs.length === 1;
    });
    assert.equal(lagging.members().length, 3, "membership restored from the snapshot");
  } finally {
    await c.stopAll();
  }
});

test("Member: with staggerSnapshots each member snapshots at its own phase of the interval", async () => {
  // Proves the staggered schedule in a running cluster: members 1, 2 and 3 (phases 0, 100 and 200
  // of 300) take their snapshots at different indexes, each near its own phase, every interval;
  // the cluster's state is the same everywhere after.
  const c = cluster();
  const { events, stop: stopEvents } = snapshotEvents();
  try {
    for (const id of [1, 2, 3]) await c.start(id, { snapshotCount: 300, staggerSnapshots: true });
    await until("a leader", () => leaderOf(c) !== undefined);
    const leader = leaderOf(c) as Member;
    for (let i = 0; i < 1000; i++)
      await leader.propose({ type: "put", request: { key: key(`g${i % 50}`), value: key(`${i}`) } });
    await until("each member's snapshots", () =>
      [1, 2, 3].every((id) => events.filter((e) => e.member === id).length >= 2),
    );
    for (const id of [1, 2, 3]) {
      const phase = (id - 1) * 100;
      const indexes = events.filter((e) => e.member === id).map((e) => e.index);
      for (const index of indexes) {
        const late = (((index - phase) % 300) + 300) % 300;
        assert.ok(late < 60, `member ${id} (phase ${phase}) snapshots at ${indexes.join(", ")}`);
      }
    }
    const members = [...c.members.values()];
    await until("all applied", () => new Set(members.map((m) => m.appliedIndex)).size === 1);
    assert.equal(new Set(members.map((m) => JSON.stringify(m.store.hashKv(0)))).size, 1);
  } finally {
    stopEvents();
    await c.stopAll();
  }
});

test("Member: a follower that applies entries it has not yet written takes no snapshot past its log", async () => {
  // Proves a regression fixed: a follower with a slow disk applies committed entries that arrive
  // during its own WAL write before writing them (the leader and the other follower commit them);
  // a snapshot taken at that moment was made at an index past its stored log, and an assertion
  // stopped the member. Small snapshot intervals under steady writes reach that state.
  const c = cluster();
  try {
    // The slow member joins once 1 and 2 have elected a leader among them, so it is a follower.
    await c.start(1, { snapshotCount: 3 });
    await c.start(2, { snapshotCount: 3 });
    await until("a leader", () => leaderOf(c) !== undefined);
    const slow = await c.start(3, { snapshotCount: 3, slowWalMs: 4 });
    await until("the slow member follows", () => slow.leaderId === leaderOf(c)?.id);
    const members = [...c.members.values()];
    for (let wave = 0; wave < 40; wave++) {
      const writes = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          (members[i % 3] as Member).propose({
            type: "put",
            request: { key: key(`s${i}`), value: key(`${wave}`) },
          }),
        ),
      );
      assert.ok(writes.every((w) => w.ok));
    }
    await until("all applied", () => new Set([...c.members.values()].map((m) => m.appliedIndex)).size === 1);
  } finally {
    await c.stopAll();
  }
});

test("Member: a snapshot is encoded while writes go on being applied; a compaction waits for it", async () => {
  // Proves the background snapshot: while every member's encoding of a large state is held open
  // (encoded on the encoder thread, not yet done), writes from every member are still committed, applied and answered; a
  // compaction and the writes after it wait, unanswered, until the encoding ends and then all
  // succeed; no election happens; and a member restarted from the snapshot and the log after it
  // ends with the same state as the others.
  const c = cluster();
  const { events, stop: stopEvents } = snapshotEvents();
  let open = false;
  let release = (): void => {};
  const opened = new Promise<void>((r) => {
    release = r;
  });
  const gate = (): Promise<void> => (open ? Promise.resolve() : opened);
  try {
    for (const id of [1, 2, 3]) await c.start(id, { snapshotCount: 300, snapshotHold: gate });
    await until("a leader", () => leaderOf(c) !== undefined);
    const members = [...c.members.values()];
    const big = new Uint8Array(64 * 1024).fill(7);
    const writes: Promise<{ ok: boolean }>[] = [];
    for (let i = 0; i < 300; i++) {
      const m = members[i % 3] as Member;
      writes.push(m.propose({ type: "put", request: { key: key(`b${i % 200}`), value: big } }));
      if (i % 50 === 49) await new Promise((r) => setImmediate(r));
    }
    assert.ok((await allOk(writes)).every((w) => w.ok));
    await until("every member encoding", () => members.every((m) => m.encodingSnapshot));
    for (let i = 0; i < 9; i++) {
      const w = await (members[i % 3] as Member).propose({
        type: "put",
        request: { key: key(`e${i}`), value: key("v") },
      });
      assert.ok(w.ok, "a write is applied while the snapshot is encoded");
    }
    // The compaction and the writes after it go through the leader, so the log holds them in
    // that order (a follower's forwarded proposal could land after a later one of the leader's).
    const encoder = leaderOf(c) as Member;
    let settled = 0;
    const compaction = encoder
      .propose({ type: "compact", revision: encoder.store.currentRevision })
      .then((r) => ({ ok: r.ok, encodingAtAnswer: encoder.encodingSnapshot }))
      .finally(() => settled++);
    const after: Promise<{ ok: boolean }>[] = [];
    for (let i = 0; i < 30; i++)
      after.push(
        encoder
          .propose({ type: "put", request: { key: key(`d${i}`), value: key("w") } })
          .finally(() => settled++),
      );
    // Failures are reported by the awaits below, not as unhandled rejections if an assert throws first.
    for (const p of [compaction, ...after]) p.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(settled, 0, "the compaction and the writes after it wait for the encoding");
    assert.ok(members.every((m) => m.encodingSnapshot));
    open = true;
    release();
    const compacted = await compaction;
    assert.ok(compacted.ok);
    assert.equal(compacted.encodingAtAnswer, false);
    assert.ok((await allOk(after)).every((w) => w.ok));
    await until("three snapshots saved", () => new Set(events.map((e) => e.member)).size === 3, 20_000);
    for (const e of events)
      assert.ok(e.appliedWhileEncoding >= 9, `member ${e.member}: ${e.appliedWhileEncoding}`);
    assert.equal(new Set(members.map((m) => m.raftTerm)).size, 1, "no election");
    // A follower restarted from its snapshot and log agrees with the leader.
    const follower = members.find((m) => !m.isLeader) as Member;
    await until("all applied", () => new Set(members.map((m) => m.appliedIndex)).size === 1);
    c.net.detach(follower.id);
    await follower.stop();
    c.members.delete(follower.id);
    const back = await c.start(follower.id, { snapshotCount: 300 });
    await back.linearizableRead();
    const leader = leaderOf(c) as Member;
    await until("restarted member applied", () => back.appliedIndex === leader.appliedIndex);
    assert.equal(back.store.currentRevision, leader.store.currentRevision);
    assert.equal(back.store.compactRevision, leader.store.compactRevision);
    assert.deepEqual(back.store.hashKv(0), leader.store.hashKv(0));
  } finally {
    release();
    stopEvents();
    await c.stopAll();
  }
});

test("Member: the leader revokes an expired lease and its keys", async () => {
  // Proves leader-side lease expiry from the monotonic clock, proposed as a revoke.
  const c = cluster();
  try {
    for (const id of [1, 2, 3]) await c.start(id);
    await until("a leader", () => leaderOf(c) !== undefined);
    const leader = leaderOf(c) as Member;
    const grant = await leader.propose({ type: "leaseGrant", request: { id: 7, ttl: 1 } });
    assert.equal(grant.ok, true);
    const put = await leader.propose({
      type: "put",
      request: { key: key("leased"), value: key("x"), lease: 7 },
    });
    assert.equal(put.ok, true);
    await until(
      "lease revoked",
      () => {
        const r = leader.store.range({ key: key("leased") });
        return r.ok && r.value.kvs.length === 0;
      },
      8000,
    );
  } finally {
    await c.stopAll();
  }
});

test("Member: a write and a read that cannot reach a quorum fail with SYNOD_REQUEST_TIMEOUT", async () => {
  // Proves the request deadline: a leader cut off from its followers cannot commit nor confirm
  // a read, and the caller gets a timeout (outcome unknown) rather than waiting forever.
  const c = cluster();
  try {
    for (const id of [1, 2, 3]) await c.start(id, { requestTimeoutMs: 300 });
    await until("a leader", () => leaderOf(c) !== undefined);
    const leader = leaderOf(c) as Member;
    for (const other of c.members.values()) if (other !== leader) c.net.cut(leader.id, other.id);
    await assert.rejects(leader.propose({ type: "put", request: { key: key("x"), value: key("y") } }), {
      code: "SYNOD_REQUEST_TIMEOUT",
      message: "etcdserver: request timed out",
    });
    await assert.rejects(leader.linearizableRead(), { code: "SYNOD_REQUEST_TIMEOUT" });
  } finally {
    await c.stopAll();
  }
});

test("Member: a joining member restarted before the leader reached it still knows its peers", async () => {
  // Proves the join bootstrap survives a restart: with `existing` state and nothing learned yet,
  // the member adds the initial cluster's peers to its transport on every start, not only on the
  // first (before the fix it came back with no peers and could never answer the leader).
  const root = mkdtempSync(join(tmpdir(), "synod-member-join-"));
  const added: number[] = [];
  const start = () =>
    Member.start({
      id: 4,
      dataDir: join(root, "m4"),
      initialCluster: infos,
      initialClusterState: "existing",
      heartbeatMs: 10,
      electionMs: 100,
      transport: { send: () => {}, addPeer: (id: number) => added.push(id), removePeer: () => {} },
    });
  let running: Member | null = null;
  try {
    running = await start();
    assert.deepEqual(added.sort(), [1, 2, 3]);
    await new Promise((r) => setTimeout(r, 50));
    await running.stop();
    running = null;
    added.length = 0;
    running = await start();
    assert.deepEqual(added.sort(), [1, 2, 3], "peers added again after the restart");
  } finally {
    await running?.stop();
    rmSync(root, { recursive: true, force: true });
  }
});
