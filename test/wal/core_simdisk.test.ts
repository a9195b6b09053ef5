// The pure WAL core on the simulated disk: random workloads (appends, conflicting suffixes,
// hard states, local and installed snapshots, coalesced batches) with crashes at random points of
// random plans, failed syncs and torn writes. After every crash, recovery must return exactly the
// state after some prefix of the submitted records that includes everything acknowledged.
import assert from "node:assert/strict";
import { test } from "node:test";
import { type Rng, SeededRng } from "../../src/lib/rng.js";
import type { Entry, HardState, Snapshot } from "../../src/raft/types.js";
import { SimDisk } from "../../src/testing/simdisk.js";
import type { WalRequest } from "../../src/wal/core.js";
import type { Recovered } from "../../src/wal/recover.js";
import { DiskWal, hs, payload, snapshotAt } from "./helpers.js";

/** The log as Raft sees it, changed one record at a time. */
interface Model {
  dummyIndex: number;
  dummyTerm: number;
  log: Entry[];
  hardState: HardState;
  snapshots: Snapshot[];
}

type Effect =
  | { kind: "marker"; snap: Snapshot; install: boolean }
  | { kind: "entry"; entry: Entry }
  | { kind: "hs"; hardState: HardState };

function clone(m: Model): Model {
  return { ...m, log: [...m.log], snapshots: [...m.snapshots] };
}

function lastIndex(m: Model): number {
  return m.dummyIndex + m.log.length;
}

function termAt(m: Model, i: number): number {
  if (i === m.dummyIndex) return m.dummyTerm;
  return m.log[i - m.dummyIndex - 1]?.term ?? -1;
}

function newestSnap(m: Model): number {
  return m.snapshots[m.snapshots.length - 1]?.metadata.index ?? 0;
}

function apply(m: Model, e: Effect): void {
  if (e.kind === "hs") m.hardState = e.hardState;
  else if (e.kind === "entry") {
    m.log.length = e.entry.index - m.dummyIndex - 1;
    m.log.push(e.entry);
  } else {
    if (e.snap.metadata.index <= newestSnap(m)) return;
    m.snapshots.push(e.snap);
    if (e.install) {
      m.dummyIndex = e.snap.metadata.index;
      m.dummyTerm = e.snap.metadata.term;
      m.log = [];
    }
  }
}

function effectsOf(req: WalRequest): Effect[] {
  if ("localSnapshot" in req) return [{ kind: "marker", snap: req.localSnapshot, install: false }];
  assert.ok(!("writtenSnapshot" in req), "this test writes snapshots through localSnapshot only");
  const out: Effect[] = [];
  if (req.snapshot) out.push({ kind: "marker", snap: req.snapshot, install: true });
  for (const entry of req.entries ?? []) out.push({ kind: "entry", entry });
  if (req.hardState) out.push({ kind: "hs", hardState: req.hardState });
  return out;
}

/** Why `r` is not the state of `m`, or null if it is. */
function mismatch(r: Recovered, m: Model): string | null {
  const base = r.snapshot?.metadata.index ?? 0;
  if (base !== newestSnap(m)) return `base ${base}, expected ${newestSnap(m)}`;
  if (r.lastIndex !== lastIndex(m)) return `last index ${r.lastIndex}, expected ${lastIndex(m)}`;
  if (r.snapshot !== null && termAt(m, base) !== -1 && r.snapshot.metadata.term !== termAt(m, base)) {
    return `base term ${r.snapshot.metadata.term}, expected ${termAt(m, base)}`;
  }
  for (const e of r.entries) {
    const want = m.log[e.index - m.dummyIndex - 1];
    if (want === undefined || want.term !== e.term || Buffer.compare(want.data, e.data) !== 0) {
      return `entry ${e.index} differs`;
    }
  }
  const h = m.hardState;
  const want = { term: h.term, vote: h.vote, commit: Math.max(h.commit, base) };
  if (JSON.stringify(r.hardState) !== JSON.stringify(want)) {
    return `hard state ${JSON.stringify(r.hardState)}, expected ${JSON.stringify(want)}`;
  }
  return null;
}

/** A random request a Raft node could make of its storage, given the model state. */
function randomRequest(rng: Rng, m: Model): WalRequest {
  const last = lastIndex(m);
  const snap = newestSnap(m);
  const h = m.hardState;
  const roll = rng.intBelow(100);
  if (roll < 8 && h.commit > snap) {
    const at = snap + 1 + rng.intBelow(h.commit - snap);
    return { localSnapshot: snapshotAt(at, termAt(m, at)) };
  }
  if (roll < 12) {
    const term = h.term + 1;
    const at = last + 1 + rng.intBelow(10);
    return { snapshot: snapshotAt(at, term), hardState: hs(term, at) };
  }
  let term = h.term;
  let from = last + 1;
  if (roll < 25 && last > h.commit) {
    term = h.term + 1;
    from = h.commit + 1 + rng.intBelow(last - h.commit);
  }
  const n = rng.intBelow(12);
  const es: Entry[] = Array.from({ length: n }, (_, i) => ({
    index: from + i,
    term,
    type: 0 as const,
    data: payload(from + i, term, rng.intBelow(300)),
  }));
  const newLast = n > 0 ? from + n - 1 : last;
  const commit = Math.min(newLast, h.commit + rng.intBelow(8));
  const vote = term !== h.term ? 1 + rng.intBelow(3) : h.vote;
  const hardState =
    rng.intBelow(4) === 0 && term === h.term ? null : hs(term, Math.max(commit, h.commit), vote);
  return { entries: es, hardState };
}

interface Totals {
  crashes: number;
  cuts: number;
  rotations: number;
  /** Rotations that used a preallocated spare file. */
  spares: number;
}

function runSeed(seed: number, steps: number): Totals {
  const rng = new SeededRng(seed);
  const disk = new SimDisk(new SeededRng(seed * 7 + 1));
  const options = { segmentBytes: 2048 + 8 * rng.intBelow(512), snapshotsRetained: 1 + rng.intBelow(3) };
  let wal = new DiskWal(disk, options);
  let acked: Model = { dummyIndex: 0, dummyTerm: 0, log: [], hardState: hs(0, 0), snapshots: [] };
  let crashes = 0;
  let cuts = 0;
  let rotations = 0;
  let spares = 0;
  for (let step = 0; step < steps; step++) {
    const reqs: WalRequest[] = [];
    const next = clone(acked);
    const effects: Effect[] = [];
    for (let k = 1 + (rng.intBelow(4) === 0 ? rng.intBelow(4) : 0); k > 0; k--) {
      const req = randomRequest(rng, next);
      reqs.push(req);
      for (const e of effectsOf(req)) {
        effects.push(e);
        apply(next, e);
      }
    }
    // Sometimes preallocate the next segment ahead (as the shell does in the background); now
    // and then leave that half done, as a crash in the middle of it would.
    const spare = rng.intBelow(3) === 0 ? wal.core.prepareSpare() : null;
    if (spare !== null) {
      if (rng.intBelow(6) === 0) disk.execute(spare.ops.slice(0, rng.intBelow(spare.ops.length)));
      else disk.execute(wal.core.spareDone(disk.execute(spare.ops).ok).cleanup);
    }
    const segsBefore = wal.core.segmentNames.length;
    const plan = wal.core.append(reqs);
    if (plan.ops.some((op) => op.op === "rename" && op.from.startsWith("spare-"))) spares++;
    const roll = rng.intBelow(10);
    let ackedNow = false;
    if (roll < 6) {
      ackedNow = disk.execute(plan.ops).ok;
      assert.ok(ackedNow);
      disk.execute(plan.cleanup);
      if (wal.core.segmentNames.at(-1) !== wal.core.segmentNames[segsBefore - 1]) rotations++;
      acked = next;
      if (rng.intBelow(10) !== 0) continue;
    } else if (roll < 8) {
      disk.execute(plan.ops.slice(0, rng.intBelow(plan.ops.length + 1)));
    } else {
      disk.failSyncs(1);
      const syncs = plan.ops.some((op) => op.op === "sync");
      assert.equal(disk.execute(plan.ops).ok, !syncs, "the injected EIO must stop the plan");
    }
    // Crash (or, after an acknowledged plan, sometimes a clean restart) and recover.
    const clean = ackedNow && rng.intBelow(2) === 0;
    if (!clean) disk.crash();
    crashes++;
    const files = disk.files();
    const r = new DiskWal(disk, options);
    const rec = r.recovered;
    if (rec.cut) cuts++;
    if (ackedNow) assert.equal(rec.cut, false, `seed ${seed} step ${step}: nothing unsynced, yet a cut`);
    // The recovered state is the acknowledged one plus some prefix of the pending effects.
    const candidate = clone(acked);
    let why = mismatch(rec, candidate);
    for (let i = 0; why !== null && !ackedNow && i < effects.length; i++) {
      apply(candidate, effects[i] as Effect);
      why = mismatch(rec, candidate);
    }
    assert.equal(why, null, `seed ${seed} step ${step}: ${why} (files ${[...files.keys()].join(", ")})`);
    acked = candidate;
    // The snapshots the core keeps are the model's newest ones (older may have been dropped).
    acked.snapshots = acked.snapshots.filter((s) =>
      r.core.snapshots.some((k) => k.index === s.metadata.index),
    );
    wal = r;
  }
  return { crashes, cuts, rotations, spares };
}

test("WalCore on SimDisk: random workloads survive random crashes, torn writes and failed syncs", () => {
  // Proves recovery through the pure core returns every acknowledged record and exactly a prefix
  // of the unacknowledged ones, never corrupt, under crashes at every kind of plan position.
  const total: Totals = { crashes: 0, cuts: 0, rotations: 0, spares: 0 };
  for (let seed = 1; seed <= 100; seed++) {
    const r = runSeed(seed, 80);
    total.crashes += r.crashes;
    total.cuts += r.cuts;
    total.rotations += r.rotations;
    total.spares += r.spares;
  }
  // The workload must actually exercise torn tails, rotations and preallocated spares.
  assert.ok(
    total.crashes > 2000 && total.cuts > 50 && total.rotations > 1000 && total.spares > 300,
    JSON.stringify(total),
  );
});

test("WalCore: a commit-only save (sync: false) is written without an fdatasync; a later synced batch makes it durable", () => {
  // Proves the plans for Raft's mustSync=false saves: no sync op of their own; a batch that also
  // holds a synced request is synced; after power loss the commit index is the old or the new one
  // (never a torn record), and once a later synced batch is written it is durable.
  const entries = (from: number, n: number): Entry[] =>
    Array.from({ length: n }, (_, i) => ({ index: from + i, term: 1, type: 0, data: payload(from + i, 10) }));
  const start = (): DiskWal => {
    const w = new DiskWal();
    assert.ok(w.persist({ snapshot: snapshotAt(1, 1), hardState: hs(1, 1) }));
    assert.ok(w.persist({ entries: entries(2, 3), hardState: hs(1, 1) }));
    return w;
  };
  const commitAfterCrash = (w: DiskWal): number => {
    w.disk.crash();
    const r = w.reopen();
    assert.ok(r.ok, "recovers");
    return r.hardState.commit;
  };

  const a = start();
  const plan = a.core.append([{ hardState: hs(1, 4), sync: false }]);
  assert.ok(plan.ops.some((op) => op.op === "write"));
  assert.ok(!plan.ops.some((op) => op.op === "sync"), "no fdatasync for a commit-only save");
  assert.ok(a.disk.execute(plan.ops).ok);
  assert.ok([1, 4].includes(commitAfterCrash(a)));

  const b = start();
  const mixed = b.core.append([
    { hardState: hs(1, 4), sync: false },
    { entries: entries(5, 1), hardState: hs(1, 4) },
  ]);
  assert.ok(
    mixed.ops.some((op) => op.op === "sync"),
    "a batch with a synced request is synced",
  );
  assert.ok(b.disk.execute(mixed.ops).ok);
  assert.equal(commitAfterCrash(b), 4);

  const c = start();
  assert.ok(c.disk.execute(c.core.append([{ hardState: hs(1, 3), sync: false }]).ops).ok);
  assert.ok(c.persist({ entries: entries(5, 1), hardState: hs(1, 3) }));
  assert.equal(commitAfterCrash(c), 3);
});
