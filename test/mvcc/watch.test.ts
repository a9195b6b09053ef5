// Table tests for the watch hub (reference §5): create/cancel rules, start revisions, history
// replay, compaction, filters, prev_kv, progress, atomic revisions, and slow watchers that are
// parked and caught up without blocking writers, losing or duplicating events.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  decodeSnapshot,
  MvccErrorCodes as E,
  type Event,
  encodeSnapshot,
  fromUtf8,
  MvccStore,
  mvccErrorMessages,
  type WatchResponse,
  type WatchStream,
} from "../../src/mvcc/mod.js";
import { b, must } from "./helpers.js";

const ALL = new Uint8Array([0]);

function ev(e: Event): string {
  const prev = e.prevKv === null ? "" : ` prev=${fromUtf8(e.prevKv.value)}@${e.prevKv.modRevision}`;
  return `${e.type} ${fromUtf8(e.kv.key)}=${fromUtf8(e.kv.value)}@${e.kv.modRevision}${prev}`;
}

function eventsOf(responses: readonly WatchResponse[], watchId?: number): string[] {
  return responses
    .filter((r) => watchId === undefined || r.watchId === watchId)
    .flatMap((r) => r.events.map(ev));
}

/** Drains a stream, running catch-up passes until nothing is left to deliver. */
function drain(s: MvccStore, stream: WatchStream): WatchResponse[] {
  const out: WatchResponse[] = [];
  for (let i = 0; i < 10_000; i++) {
    const got = stream.take();
    out.push(...got);
    const left = s.watchHub.sync();
    if (got.length === 0 && left === 0 && stream.queuedResponses === 0) return out;
  }
  assert.fail("watch stream did not drain");
}

test("WatchStream watch: start_revision 0 means events after the current revision", () => {
  // Proves etcd #11496: revision 0 is "from now" (current+1), and the created response comes first.
  const s = new MvccStore();
  must(s.put({ key: b("k"), value: b("old") }));
  const stream = s.watchHub.newStream();
  assert.equal(stream.watch({ key: b("k") }), 0);
  must(s.put({ key: b("k"), value: b("new") }));
  const rs = stream.take();
  assert.deepEqual(
    rs.map((r) => [r.watchId, r.created, r.revision, r.events.length]),
    [
      [0, true, 2, 0],
      [0, false, 3, 1],
    ],
  );
  assert.deepEqual(eventsOf(rs), ["put k=new@3"]);
});

test("WatchStream watch: ids are per stream from 0; explicit ids; duplicates fail with watchId -1", () => {
  // Proves auto ids start at 0 per stream, explicit ids are honoured and a duplicate id is a failed create.
  const s = new MvccStore();
  const one = s.watchHub.newStream();
  const two = s.watchHub.newStream();
  assert.deepEqual(
    [one.watch({ key: b("a") }), one.watch({ key: b("a") }), two.watch({ key: b("a") })],
    [0, 1, 0],
  );
  assert.equal(one.watch({ key: b("a"), watchId: 7 }), 7);
  assert.equal(one.watch({ key: b("a"), watchId: 7 }), -1);
  const last = one.take().at(-1);
  assert.deepEqual(last && [last.watchId, last.created, last.canceled, last.cancelReason], [
    -1,
    true,
    true,
    "mvcc: duplicate watch ID provided on the WatchStream",
  ]);
  assert.equal(mvccErrorMessages[E.duplicateWatchId], "mvcc: duplicate watch ID provided on the WatchStream");
});

test("WatchStream watch: a negative start revision is rejected as a failed create", () => {
  // Proves etcd 3.6's rejection of negative start revisions (#20707).
  const s = new MvccStore();
  const stream = s.watchHub.newStream();
  assert.equal(stream.watch({ key: b("a"), startRevision: -1 }), -1);
  const [r] = stream.take();
  assert.deepEqual(r && [r.watchId, r.created, r.canceled], [-1, true, true]);
  assert.equal(s.watchHub.watcherCount, 0);
});

test("WatchHub sync: a watch from an old revision replays history, one response per revision", () => {
  // Proves historical replay, ordering, atomic revisions, and the switch to live events afterwards.
  const s = new MvccStore();
  must(s.put({ key: b("a"), value: b("1") })); // 2
  must(s.put({ key: b("b"), value: b("1") })); // 3
  must(
    s.txn({
      compare: [],
      success: [
        { type: "put", request: { key: b("a"), value: b("2") } },
        { type: "deleteRange", request: { key: b("b") } },
      ],
      failure: [],
    }),
  ); // 4
  const stream = s.watchHub.newStream();
  stream.watch({ key: b("\0"), rangeEnd: ALL, startRevision: 3 });
  assert.equal(s.watchHub.unsyncedCount, 1);
  must(s.put({ key: b("c"), value: b("1") })); // 5: not delivered live while unsynced
  const rs = drain(s, stream);
  assert.deepEqual(
    rs.filter((r) => r.events.length > 0).map((r) => r.events.map(ev)),
    [["put b=1@3"], ["put a=2@4", "delete b=@4"], ["put c=1@5"]],
  );
  must(s.put({ key: b("d"), value: b("1") })); // 6: live
  assert.deepEqual(eventsOf(stream.take()), ["put d=1@6"]);
});

test("WatchStream watch: a start revision below compaction is created, then canceled with the compact revision", () => {
  // Proves the compacted watch response: created=true, then canceled=true with compact_revision.
  const s = new MvccStore();
  for (let i = 0; i < 4; i++) must(s.put({ key: b("k"), value: b(`${i}`) }));
  must(s.compact(4));
  const stream = s.watchHub.newStream();
  const id = stream.watch({ key: b("k"), startRevision: 2 });
  const rs = stream.take();
  assert.deepEqual(
    rs.map((r) => [r.watchId, r.created, r.canceled, r.compactRevision]),
    [
      [id, true, false, 0],
      [id, false, true, 4],
    ],
  );
  // Exactly at the compact revision is allowed, and sees that revision's event.
  stream.watch({ key: b("k"), startRevision: 4 });
  assert.deepEqual(eventsOf(drain(s, stream)), ["put k=2@4", "put k=3@5"]);
});

test("WatchHub: a delete exactly at the compact revision is still delivered to a watch from there", () => {
  // Proves the fix for etcd #18089/#19179: compaction at R keeps revision R's tombstones for watchers.
  const s = new MvccStore();
  must(s.put({ key: b("k"), value: b("1") })); // 2
  must(s.deleteRange({ key: b("k") })); // 3
  must(s.compact(3));
  const stream = s.watchHub.newStream();
  stream.watch({ key: b("k"), startRevision: 3 });
  assert.deepEqual(eventsOf(drain(s, stream)), ["delete k=@3"]);
});

test("WatchStream watch: a future start revision only sees events from that revision", () => {
  // Proves etcd #20221 is not reproduced: no older events for a future-revision watch.
  const s = new MvccStore();
  const stream = s.watchHub.newStream();
  stream.watch({ key: b("k"), startRevision: 4 });
  for (let i = 0; i < 4; i++) must(s.put({ key: b("k"), value: b(`${i}`) })); // 2..5
  assert.deepEqual(eventsOf(stream.take()), ["put k=2@4", "put k=3@5"]);
});

test("WatchStream watch: filters drop PUT or DELETE events", () => {
  // Proves NOPUT and NODELETE filters, and that a revision with only filtered events sends nothing.
  const s = new MvccStore();
  const stream = s.watchHub.newStream();
  const noPut = stream.watch({ key: b("k"), filters: ["noPut"] });
  const noDelete = stream.watch({ key: b("k"), filters: ["noDelete"] });
  must(s.put({ key: b("k"), value: b("1") }));
  must(s.deleteRange({ key: b("k") }));
  const rs = stream.take().filter((r) => !r.created);
  assert.deepEqual(eventsOf(rs, noPut), ["delete k=@3"]);
  assert.deepEqual(eventsOf(rs, noDelete), ["put k=1@2"]);
  assert.equal(rs.length, 2);
});

test("WatchStream watch: prev_kv is the key before the change, absent for creates", () => {
  // Proves prev_kv semantics (read at mod_revision - 1), live and replayed, including deletes.
  const s = new MvccStore();
  const live = s.watchHub.newStream();
  live.watch({ key: b("k"), prevKv: true });
  must(s.put({ key: b("k"), value: b("1") })); // 2
  must(s.put({ key: b("k"), value: b("2") })); // 3
  must(s.deleteRange({ key: b("k") })); // 4
  const expected = ["put k=1@2", "put k=2@3 prev=1@2", "delete k=@4 prev=2@3"];
  assert.deepEqual(eventsOf(live.take()), expected);
  const replay = s.watchHub.newStream();
  replay.watch({ key: b("k"), prevKv: true, startRevision: 2 });
  assert.deepEqual(eventsOf(drain(s, replay)), expected);
  // After compaction at 3, a replay from 3 cannot know the value before revision 3.
  must(s.compact(3));
  const late = s.watchHub.newStream();
  late.watch({ key: b("k"), prevKv: true, startRevision: 3 });
  assert.deepEqual(eventsOf(drain(s, late)), ["put k=2@3", "delete k=@4 prev=2@3"]);
});

test("WatchStream watch: an empty key watches key \\0, ranges and prefixes match bytewise", () => {
  // Proves the empty-key rule and range matching for watchers.
  const s = new MvccStore();
  const stream = s.watchHub.newStream();
  const empty = stream.watch({ key: new Uint8Array(0) });
  const prefix = stream.watch({ key: b("p/"), rangeEnd: b("p0") });
  must(s.put({ key: new Uint8Array([0]), value: b("z") }));
  must(s.put({ key: b("p/x"), value: b("1") }));
  must(s.put({ key: b("p0"), value: b("1") }));
  const rs = stream.take();
  assert.equal(eventsOf(rs, empty).length, 1);
  assert.deepEqual(eventsOf(rs, prefix), ["put p/x=1@3"]);
});

test("WatchStream cancel: replies canceled, stops events; unknown ids get no reply", () => {
  // Proves cancel semantics of the watch stream.
  const s = new MvccStore();
  const stream = s.watchHub.newStream();
  const id = stream.watch({ key: b("k") });
  stream.take();
  assert.equal(stream.cancel(id), true);
  assert.equal(stream.cancel(42), false);
  must(s.put({ key: b("k"), value: b("1") }));
  const rs = stream.take();
  assert.deepEqual(
    rs.map((r) => [r.watchId, r.canceled, r.events.length]),
    [[id, true, 0]],
  );
  assert.equal(s.watchHub.watcherCount, 0);
});

test("WatchStream requestProgress: immediate when synced, deferred until unsynced watchers catch up", () => {
  // Proves etcd #15220 semantics: a progress response (watchId -1) never overtakes undelivered events.
  const s = new MvccStore();
  must(s.put({ key: b("k"), value: b("1") })); // 2
  const stream = s.watchHub.newStream();
  stream.watch({ key: b("k") });
  stream.requestProgress();
  const now = stream.take();
  assert.deepEqual(
    now.map((r) => [r.watchId, r.revision]),
    [
      [0, 2],
      [-1, 2],
    ],
  );
  stream.watch({ key: b("k"), startRevision: 2 });
  stream.requestProgress();
  assert.deepEqual(
    stream.take().map((r) => r.watchId),
    [1],
    "only the created response; progress waits",
  );
  s.watchHub.sync();
  const after = stream.take();
  assert.deepEqual(
    after.map((r) => [r.watchId, r.events.length]),
    [
      [1, 1],
      [-1, 0],
    ],
  );
});

test("WatchHub progressNotify: empty responses only to idle synced watchers that asked", () => {
  // Proves progress_notify goes to watchers with the option that saw no events in the interval.
  const s = new MvccStore();
  const stream = s.watchHub.newStream();
  const idle = stream.watch({ key: b("idle"), progressNotify: true });
  const busy = stream.watch({ key: b("busy"), progressNotify: true });
  stream.watch({ key: b("quiet") });
  stream.take();
  must(s.put({ key: b("busy"), value: b("1") }));
  stream.take();
  s.watchHub.progressNotify();
  assert.deepEqual(
    stream.take().map((r) => [r.watchId, r.revision, r.events.length]),
    [[idle, 2, 0]],
  );
  s.watchHub.progressNotify();
  assert.deepEqual(
    stream.take().map((r) => r.watchId),
    [idle, busy],
  );
});

test("WatchHub slow watcher: parked when its buffer is full, caught up later without gaps or duplicates", () => {
  // Proves a slow consumer never blocks writers or other watchers, and is resynced from history
  // in bounded passes with every event exactly once, in order.
  const s = new MvccStore({ watch: { eventsQueuedMax: 8, syncRecordsMax: 5, syncWatchersMax: 1 } });
  const slow = s.watchHub.newStream();
  const fast = s.watchHub.newStream();
  slow.watch({ key: b("k/"), rangeEnd: b("k0") });
  fast.watch({ key: b("k/"), rangeEnd: b("k0") });
  slow.take();
  const fastEvents: string[] = [];
  for (let i = 0; i < 100; i++) {
    must(s.put({ key: b(`k/${i % 7}`), value: b(`${i}`) }));
    fastEvents.push(...eventsOf(fast.take()));
  }
  assert.equal(fastEvents.length, 100);
  assert.ok(slow.queuedResponses <= 9, `slow stream holds ${slow.queuedResponses} responses`);
  assert.equal(s.watchHub.unsyncedCount, 1);
  const slowEvents = eventsOf(drain(s, slow));
  assert.deepEqual(slowEvents, fastEvents);
  // Once caught up it is live again.
  must(s.put({ key: b("k/x"), value: b("live") }));
  assert.deepEqual(eventsOf(slow.take()), ["put k/x=live@102"]);
});

test("WatchHub slow watcher: canceled with the compact revision if history it needs is compacted", () => {
  // Proves a parked watcher whose next revision was compacted away is canceled with a clear reason.
  const s = new MvccStore({ watch: { eventsQueuedMax: 2 } });
  const stream = s.watchHub.newStream();
  const id = stream.watch({ key: b("k") });
  for (let i = 0; i < 10; i++) must(s.put({ key: b("k"), value: b(`${i}`) }));
  must(s.compact(8));
  const rs = drain(s, stream);
  const last = rs.at(-1);
  assert.deepEqual(last && [last.watchId, last.canceled, last.compactRevision], [id, true, 8]);
  assert.equal(last?.cancelReason, "etcdserver: mvcc: required revision has been compacted");
  assert.deepEqual(eventsOf(rs), ["put k=0@2", "put k=1@3"]);
  assert.equal(s.watchHub.watcherCount, 0);
});

test("WatchStream onReady: called when the queue becomes non-empty", () => {
  // Proves the transport hook fires once per empty-to-non-empty transition.
  const s = new MvccStore();
  const stream = s.watchHub.newStream();
  let calls = 0;
  stream.onReady = () => {
    calls++;
  };
  stream.watch({ key: b("k") });
  must(s.put({ key: b("k"), value: b("1") }));
  assert.equal(calls, 1);
  stream.take();
  must(s.put({ key: b("k"), value: b("2") }));
  assert.equal(calls, 2);
});

test("WatchStream close: removes its watchers from the hub", () => {
  // Proves closing a stream frees its watchers (synced and unsynced).
  const s = new MvccStore();
  must(s.put({ key: b("k"), value: b("1") }));
  const stream = s.watchHub.newStream();
  stream.watch({ key: b("k") });
  stream.watch({ key: b("k"), startRevision: 1 });
  assert.equal(s.watchHub.watcherCount, 2);
  stream.close();
  assert.equal(s.watchHub.watcherCount, 0);
  assert.equal(s.watchHub.unsyncedCount, 0);
  must(s.put({ key: b("k"), value: b("2") }));
});

test("WatchStream watch: the per-stream watcher limit fails further creates", () => {
  // Proves the bounded number of watchers per stream.
  const s = new MvccStore({ watch: { watchersPerStreamMax: 2 } });
  const stream = s.watchHub.newStream();
  stream.watch({ key: b("a") });
  stream.watch({ key: b("b") });
  assert.equal(stream.watch({ key: b("c") }), -1);
  assert.equal(stream.take().at(-1)?.cancelReason, mvccErrorMessages[E.tooManyWatchers]);
});

test("WatchHub adopt: watchers move to a store restored from a newer snapshot and continue exactly", () => {
  // Proves a follower that installs a Raft snapshot keeps its clients' watches: synced and
  // unsynced watchers resume from the next revision they need, without gaps or duplicates, and a
  // watcher whose history the snapshot no longer has is canceled with the compact revision.
  const leader = new MvccStore();
  const follower = new MvccStore();
  const both = (f: (s: MvccStore) => void): void => {
    f(leader);
    f(follower);
  };
  both((s) => must(s.put({ key: b("a"), value: b("1") }))); // 2
  both((s) => must(s.put({ key: b("b"), value: b("1") }))); // 3
  const stream = follower.watchHub.newStream();
  const live = stream.watch({ key: b("a") }); // synced, from 4
  const behind = stream.watch({ key: b("b"), startRevision: 2 }); // unsynced, from 2
  const old = stream.watch({ key: b("\0"), rangeEnd: ALL, startRevision: 2 });
  stream.take();
  // The follower falls behind; the leader moves on and compacts.
  must(leader.put({ key: b("a"), value: b("2") })); // 4
  must(leader.put({ key: b("b"), value: b("2") })); // 5
  must(leader.compact(3));
  const restored = decodeSnapshot(encodeSnapshot(leader));
  if (typeof restored === "string") assert.fail(restored);
  follower.watchHub.sync();
  const beforeInstall = stream.take();
  restored.adoptWatchers(follower);
  assert.equal(follower.watchHub.watcherCount, 0);
  must(restored.put({ key: b("a"), value: b("3") })); // 6
  const after = drain(restored, stream);
  const all = [...beforeInstall, ...after];
  assert.deepEqual(eventsOf(all, live), ["put a=2@4", "put a=3@6"]);
  assert.deepEqual(eventsOf(all, behind), ["put b=1@3", "put b=2@5"]);
  // `old` had caught up to 3 on the follower before the install, so it continues at 4.
  assert.deepEqual(eventsOf(all, old), ["put a=1@2", "put b=1@3", "put a=2@4", "put b=2@5", "put a=3@6"]);
  // A new watcher from revision 2 on the restored store is below its compaction.
  const late = stream.watch({ key: b("a"), startRevision: 2 });
  assert.equal(stream.take().at(-1)?.compactRevision, 3, `watch ${late} is canceled`);
});
