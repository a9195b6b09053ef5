// The WAL shell on real files: round trip through close and reopen, group commit, fatal fsync
// errors, a full disk, the directory lock, snapshot retention and segment release, and the
// errors and logs of recovery.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ErrorCode, SynodError } from "../../src/lib/errors.js";
import { MemoryLogger } from "../../src/lib/logger.js";
import { withOpen } from "../../src/testing/walfs.js";
import { parseSegmentName, parseSnapshotName } from "../../src/wal/format.js";
import { lockFileName, NodeWalFs, type WalFile, type WalFs } from "../../src/wal/fs.js";
import { recover } from "../../src/wal/recover.js";
import { storageFromRecovered } from "../../src/wal/storage.js";
import { unsyncedFlushDelayMs, Wal, type WalOptions } from "../../src/wal/wal.js";
import { entries, hs, snapshotAt } from "./helpers.js";

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "synod-wal-"));
}

function errnoError(code: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`${code}: injected`);
  e.code = code;
  return e;
}

/** A {@link WalFs} on real files that counts syncs of segments, logs renames, and fails on demand. */
class FaultFs implements WalFs {
  readonly inner: NodeWalFs;
  /** fdatasyncs of segment files (`*.wal`). */
  datasyncs = 0;
  readonly renames: string[] = [];
  writes = 0;
  failSyncs = false;
  /** Writes of more than this many bytes write half, then fail with ENOSPC. */
  noSpaceOver = Number.POSITIVE_INFINITY;

  constructor(dir: string) {
    this.inner = new NodeWalFs(dir);
  }
  get dir(): string {
    return this.inner.dir;
  }
  ensureDir = (): Promise<void> => this.inner.ensureDir();
  list = (): Promise<string[]> => this.inner.list();
  readFile = (name: string): Promise<Uint8Array> => this.inner.readFile(name);
  rename = (from: string, to: string): Promise<void> => {
    this.renames.push(`${from} -> ${to}`);
    return this.inner.rename(from, to);
  };
  unlink = (name: string): Promise<void> => this.inner.unlink(name);
  syncDir = (): Promise<void> => this.inner.syncDir();
  lock = (): Promise<void> => this.inner.lock();
  unlock = (): Promise<void> => this.inner.unlock();

  async open(name: string, create: boolean): Promise<WalFile> {
    const f = await this.inner.open(name, create);
    return {
      write: async (bytes, offset) => {
        this.writes++;
        if (bytes.length > this.noSpaceOver) {
          await f.write(bytes.subarray(0, bytes.length >> 1), offset);
          throw errnoError("ENOSPC");
        }
        await f.write(bytes, offset);
      },
      datasync: async () => {
        if (this.failSyncs) throw errnoError("EIO");
        if (name.endsWith(".wal")) this.datasyncs++;
        await f.datasync();
      },
      close: () => f.close(),
    };
  }
}

async function rejectsWith(p: Promise<unknown>, code: ErrorCode): Promise<SynodError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof SynodError, `not a SynodError: ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected a rejection with ${code}`);
}

async function withDir(f: (dir: string) => Promise<void>): Promise<void> {
  const dir = tempDir();
  try {
    await f(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const small: WalOptions = { segmentBytes: 4096 };

test("Wal: entries, hard state and snapshots survive close and reopen and fill a MemoryStorage", async () => {
  // Proves the shell persists what it acknowledges and that storageFromRecovered gives the Raft
  // core the same log, hard state and snapshot as before the restart.
  await withDir(async (dir) => {
    const wal = await Wal.open(dir, small);
    assert.equal(wal.recovered.fresh, true);
    await wal.save({ snapshot: snapshotAt(1, 1), hardState: hs(1, 1) });
    for (let i = 0; i < 20; i++)
      await wal.save({ entries: entries(2 + 10 * i, 10, 2), hardState: hs(2, 1 + 10 * i) });
    await wal.saveSnapshot(snapshotAt(150, 2));
    await wal.close();
    const again = await Wal.open(dir, small);
    try {
      const r = again.recovered;
      assert.equal(r.fresh, false);
      assert.equal(r.cut, false);
      const storage = storageFromRecovered(r);
      assert.equal(storage.firstIndex(), 151);
      assert.equal(storage.lastIndex(), 201);
      assert.equal(storage.term(150), 2);
      assert.deepEqual(storage.initialState().hardState, hs(2, 191));
      assert.deepEqual(storage.initialState().confState.voters, [1, 2, 3]);
      assert.deepEqual(storage.entries(151, 202, Number.POSITIVE_INFINITY), entries(151, 51, 2));
      assert.deepEqual(storage.snapshot().data, snapshotAt(150, 2).data);
    } finally {
      await again.close();
    }
  });
});

test("Wal.readSnapshot and releaseRecovered: a driver keeps snapshot data on disk, not in memory", async () => {
  // Proves the member's memory saving: after releaseRecovered and releaseSnapshotData no copy of
  // the snapshot data stays in memory, and readSnapshot gives it back from the file (a missing
  // snapshot is a reason string, not an exception).
  await withDir(async (dir) => {
    const wal = await Wal.open(dir, small);
    await wal.save({ snapshot: snapshotAt(1, 1), hardState: hs(1, 1) });
    await wal.save({ entries: entries(2, 10, 2), hardState: hs(2, 11) });
    await wal.saveSnapshot(snapshotAt(10, 2));
    await wal.close();
    const again = await Wal.open(dir, small);
    try {
      const storage = storageFromRecovered(again.recovered);
      storage.releaseSnapshotData();
      again.releaseRecovered();
      assert.equal(storage.snapshot().data.length, 0);
      assert.equal(storage.snapshot().metadata.index, 10);
      assert.equal(again.recovered.snapshot?.data.length, 0);
      assert.equal(again.recovered.entries.length, 0);
      assert.equal(again.recovered.fresh, false);
      const back = await again.readSnapshot(10, 2);
      assert.ok(typeof back !== "string", String(back));
      assert.deepEqual(back, snapshotAt(10, 2));
      assert.match(
        String(await again.readSnapshot(11, 2)),
        /cannot read snapshot 000000000000000b-0000000000000002\.snap/,
      );
    } finally {
      await again.close();
    }
  });
});

test("Wal.save: saves submitted while a write is in flight share the next write and fdatasync", async () => {
  // Proves group commit: 500 saves submitted at once take one fdatasync; saves trickling in
  // while syncs are in flight are coalesced, and every save resolves in submission order.
  await withDir(async (dir) => {
    const fs = new FaultFs(dir);
    const wal = await Wal.open(dir, { fs, segmentBytes: 1 << 20 });
    try {
      const syncs0 = fs.datasyncs;
      const order: number[] = [];
      const burst = Array.from({ length: 500 }, (_, i) =>
        wal.save({ entries: entries(1 + i, 1, 1), hardState: hs(1, i) }).then(() => order.push(i)),
      );
      await Promise.all(burst);
      assert.equal(fs.datasyncs - syncs0, 1);
      assert.deepEqual(
        order,
        Array.from({ length: 500 }, (_, i) => i),
      );
      const syncs1 = fs.datasyncs;
      const trickle: Promise<void>[] = [];
      for (let i = 0; i < 300; i++) {
        trickle.push(wal.save({ entries: entries(501 + i, 1, 1) }));
        if (i % 3 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      await Promise.all(trickle);
      const used = fs.datasyncs - syncs1;
      assert.ok(used >= 2 && used < 100, `300 trickled saves took ${used} fdatasyncs`);
      assert.equal(wal.stats.requests, 800);
    } finally {
      await wal.close();
    }
  });
});

test("Wal.save: an fdatasync error calls onFatal once, rejects every pending save and all later ones", async () => {
  // Proves fsyncgate handling: the failed sync is never retried and nothing after it is
  // acknowledged; the process-stopping hook is told.
  await withDir(async (dir) => {
    const fs = new FaultFs(dir);
    const fatal: Error[] = [];
    const wal = await Wal.open(dir, { fs, onFatal: (e) => fatal.push(e), preallocateAhead: false });
    await wal.save({ entries: entries(1, 5, 1), hardState: hs(1, 0) });
    fs.failSyncs = true;
    let resolved = 0;
    const pending = Array.from({ length: 5 }, (_, i) =>
      wal.save({ entries: entries(6 + i, 1, 1) }).then(() => resolved++),
    );
    for (const p of pending) await rejectsWith(p, ErrorCode.walFailed);
    assert.equal(resolved, 0);
    assert.equal(fatal.length, 1);
    assert.match(fatal[0]?.message ?? "", /EIO/);
    fs.failSyncs = false;
    await rejectsWith(wal.save({ entries: entries(11, 1, 1) }), ErrorCode.walFailed);
    await rejectsWith(wal.saveSnapshot(snapshotAt(3, 1)), ErrorCode.walFailed);
    assert.equal(fatal.length, 1, "onFatal is called once");
    await wal.close();
    const again = await Wal.open(dir, small);
    assert.ok(again.recovered.lastIndex >= 5);
    await again.close();
  });
});

test("Wal.save: a full disk rejects with walNoSpace, acknowledges nothing after it, and is not fatal", async () => {
  // Proves ENOSPC (in a record write, and in the preallocation of a new segment) surfaces as a
  // clear error naming the file, that later saves are refused, and that the log stays recoverable
  // with every acknowledged entry.
  for (const where of ["write", "rotation"] as const) {
    await withDir(async (dir) => {
      const fs = new FaultFs(dir);
      const fatal: Error[] = [];
      const wal = await Wal.open(dir, {
        fs,
        segmentBytes: 64 * 1024,
        onFatal: (e) => fatal.push(e),
        preallocateAhead: false,
      });
      await wal.save({ entries: entries(1, 10, 1), hardState: hs(1, 10) });
      fs.noSpaceOver = where === "write" ? 1000 : 32 * 1024;
      const big = {
        entries: entries(11, 30, 1).map((e) => ({
          ...e,
          data: new Uint8Array(where === "write" ? 100 : 3000),
        })),
      };
      const err = await rejectsWith(wal.save(big), ErrorCode.walNoSpace);
      const file =
        where === "write"
          ? /disk is full: write of '[0-9a-f-]+\.wal' in/
          : /disk is full: zero of '[0-9a-f-]+\.wal\.tmp' in/;
      assert.match(err.message, file);
      await rejectsWith(wal.save({ entries: entries(41, 1, 1) }), ErrorCode.walNoSpace);
      assert.deepEqual(fatal, []);
      await wal.close();
      const again = await Wal.open(dir, { segmentBytes: 64 * 1024 });
      assert.ok(again.recovered.lastIndex >= 10 && again.recovered.lastIndex <= 40);
      assert.deepEqual(again.recovered.entries.slice(0, 10), entries(1, 10, 1));
      await again.close();
    });
  }
});

test("Wal.open: a second open of a locked directory fails; stale locks of dead processes are taken over", async () => {
  // Proves two processes can never use one member's data: a live holder (this process, or pid 1)
  // blocks the open with walLocked, while a lock left by a dead process or a previous boot is
  // replaced, and close releases the lock.
  await withDir(async (dir) => {
    const first = await Wal.open(dir, small);
    const err = await rejectsWith(Wal.open(dir, small), ErrorCode.walLocked);
    assert.match(err.message, new RegExp(`locked by process ${process.pid}`));
    await first.close();
    assert.ok(!readdirSync(dir).includes(lockFileName), "close removes the lock");
    const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    const dead = spawnSync(process.execPath, ["-e", ""]).pid;
    assert.ok(dead !== undefined && dead > 0);
    for (const [content, live] of [
      [`${dead} ${boot}\n`, false],
      [`1 ${boot}\n`, true],
      ["1 another-boot\n", false],
      ["garbage", false],
    ] as const) {
      writeFileSync(join(dir, lockFileName), content);
      if (live) {
        await rejectsWith(Wal.open(dir, small), ErrorCode.walLocked);
        continue;
      }
      const wal = await Wal.open(dir, small);
      assert.equal(readFileSync(join(dir, lockFileName), "utf8"), `${process.pid} ${boot}\n`);
      await wal.close();
    }
  });
});

test("Wal.saveSnapshot: keeps the newest snapshots and releases segments wholly before the oldest kept", async () => {
  // Proves retention and release on real files: old snapshot files and early segments are
  // deleted, the log still reaches back to the oldest kept snapshot (so deleting the newest one
  // falls back to it with nothing lost), and the data directory does not grow without bound.
  await withDir(async (dir) => {
    const wal = await Wal.open(dir, { ...small, snapshotsRetained: 2 });
    for (let i = 0; i < 60; i++) {
      await wal.save({ entries: entries(1 + 10 * i, 10, 3), hardState: hs(3, 10 * i) });
      if (i % 10 === 9) await wal.saveSnapshot(snapshotAt(10 * i, 3));
    }
    await wal.close();
    const names = readdirSync(dir);
    const snaps = names.filter((n) => parseSnapshotName(n) !== null).sort();
    assert.deepEqual(
      snaps.map((n) => parseSnapshotName(n)?.index),
      [490, 590],
    );
    const segs = names.filter((n) => parseSegmentName(n) !== null).sort();
    assert.ok(!segs.includes("0000000000000000-0000000000000001.wal"), "early segments are released");
    assert.ok(
      (parseSegmentName(segs[1] as string)?.firstIndex ?? 0) > 490,
      "the first kept segment is needed",
    );
    assert.ok(segs.length < 12, `${segs.length} segments kept`);
    rmSync(join(dir, snaps[1] as string));
    const again = await Wal.open(dir, small);
    assert.equal(again.recovered.snapshot?.metadata.index, 490);
    assert.equal(again.recovered.lastIndex, 600);
    assert.equal(again.recovered.entries.length, 110);
    await again.close();
  });
});

test("Wal.open: mid-log corruption refuses to start naming file and offset; a torn tail is logged and repaired; EIO on read fails clearly", async () => {
  // Proves the operator-facing outcomes: walCorrupt with the damaged file and offset (and the
  // lock released), and a warning with file and offset for a truncated torn tail.
  await withDir(async (dir) => {
    const wal = await Wal.open(dir, small);
    for (let i = 0; i < 10; i++)
      await wal.save({ entries: entries(1 + 5 * i, 5, 1), hardState: hs(1, 5 * i) });
    await wal.close();
    const seg = readdirSync(dir)
      .filter((n) => n.endsWith(".wal"))
      .sort()[0] as string;
    const path = join(dir, seg);
    const good = readFileSync(path);
    // Torn: garbage right after the last record.
    const torn = Buffer.from(good);
    const intact = recover(new Map([[seg, new Uint8Array(good)]]));
    assert.ok(intact.ok);
    const end = intact.segments[0]?.end ?? 0;
    torn.fill(0xab, end, end + 30);
    writeFileSync(path, torn);
    const logger = new MemoryLogger();
    const repaired = await Wal.open(dir, { ...small, logger });
    assert.equal(repaired.recovered.cut, true);
    const line = logger.lines.find((l) => l.message.includes("torn tail"));
    assert.deepEqual([line?.fields.file, line?.fields.offset], [seg, end]);
    await repaired.close();
    assert.equal(
      readFileSync(path)
        .subarray(end, end + 30)
        .every((b) => b === 0),
      true,
      "the tail was zeroed",
    );
    // Corrupt: a bit flipped in the fourth record.
    const bad = Buffer.from(good);
    bad[200] = (bad[200] as number) ^ 1;
    writeFileSync(path, bad);
    const err = await rejectsWith(Wal.open(dir, small), ErrorCode.walCorrupt);
    assert.match(err.message, new RegExp(`${seg} at offset \\d+: CRC mismatch`));
    assert.ok(!readdirSync(dir).includes(lockFileName), "a failed open releases the lock");
    // An I/O error while reading the log is a clear walFailed, and releases the lock too.
    const fs = new FaultFs(dir);
    fs.readFile = async () => {
      throw errnoError("EIO");
    };
    const io = await rejectsWith(Wal.open(dir, { ...small, fs }), ErrorCode.walFailed);
    assert.match(io.message, /reading it failed: EIO/);
    assert.ok(!readdirSync(dir).includes(lockFileName));
  });
});

test("Wal: the next segment is preallocated in the background and rotation only writes its header", async () => {
  // Proves rotation does not zero-fill a segment while appends wait: every new segment after the
  // first is a renamed spare, and a leftover spare is removed on the next open.
  await withDir(async (dir) => {
    const fs = new FaultFs(dir);
    const wal = await Wal.open(dir, { fs, segmentBytes: 8192 });
    for (let i = 0; i < 60; i++) {
      await wal.save({ entries: entries(1 + 10 * i, 10, 1), hardState: hs(1, 10 * i) });
      // Let the background preparation finish, as it does between rotations in practice.
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    // The first segment is created by open itself; every later one is a renamed spare.
    const rotations = fs.renames.filter((r) => r.endsWith(".wal")).slice(1);
    assert.ok(rotations.length >= 5, `${rotations.length} rotations`);
    assert.deepEqual(
      rotations.filter((r) => !r.startsWith("spare-")),
      [],
    );
    await wal.close();
    assert.ok(
      readdirSync(dir).some((n) => n.startsWith("spare-")),
      "a spare is ready for the next rotation",
    );
    const again = await Wal.open(dir, { segmentBytes: 8192, preallocateAhead: false });
    assert.equal(again.recovered.lastIndex, 600);
    assert.ok(again.recovered.repairs.some((r) => r.file.startsWith("spare-")));
    await again.close();
    assert.ok(!readdirSync(dir).some((n) => n.startsWith("spare-")));
  });
});

/** A {@link WalFs} on real files that logs, per file, writes, syncs and durable writes in order. */
class OpLogFs extends FaultFs {
  readonly log: string[] = [];
  override async open(name: string, create: boolean): Promise<WalFile> {
    const f = await this.inner.open(name, create);
    assert.ok(f.writeDurable !== undefined, "NodeWalFs files offer writeDurable on Linux");
    const durable = f.writeDurable.bind(f);
    return {
      write: async (bytes, offset) => {
        this.log.push(`write ${name}`);
        await f.write(bytes, offset);
      },
      datasync: async () => {
        this.log.push(`sync ${name}`);
        await f.datasync();
      },
      writeDurable: async (bytes, offset) => {
        this.log.push(`durable ${name}`);
        await durable(bytes, offset);
      },
      close: () => f.close(),
    };
  }
}

test("Wal.save: a commit-only save is written and synced with the next synced save, or alone after a delay or at close", async () => {
  // Proves that a `sync: false` save starts no write of its own (a busy member pays nothing for
  // it), keeps its place in the order (the later hard state wins on recovery), is written after
  // unsyncedFlushDelayMs when nothing else comes, and is flushed by close.
  await withDir(async (dir) => {
    const fs = new FaultFs(dir);
    const wal = await Wal.open(dir, { fs, segmentBytes: 1 << 20, preallocateAhead: false });
    await wal.save({ entries: entries(1, 3, 1), hardState: hs(1, 0) });
    const writes0 = fs.writes;
    const syncs0 = fs.datasyncs;
    let commitWritten = false;
    const commitOnly = wal.save({ hardState: hs(1, 2), sync: false }).then(() => {
      commitWritten = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(commitWritten, false, "not written on its own at once");
    assert.equal(fs.writes, writes0);
    await wal.save({ entries: entries(4, 1, 1), hardState: hs(1, 2) });
    await commitOnly;
    assert.equal(fs.writes - writes0, 1, "written with the next synced save, in one write");
    assert.equal(fs.datasyncs - syncs0, 1);
    // Alone: written and synced within the delay (once the timer armed above has run out).
    await new Promise((resolve) => setTimeout(resolve, unsyncedFlushDelayMs + 20));
    let aloneWritten = false;
    const alone = wal.save({ hardState: hs(1, 3), sync: false }).then(() => {
      aloneWritten = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(aloneWritten, false, "waits for a synced save");
    await alone;
    assert.equal(fs.datasyncs - syncs0, 2, "every write is synced");
    // At close.
    void wal.save({ hardState: hs(1, 4), sync: false });
    await wal.close();
    const again = await Wal.open(dir);
    assert.deepEqual(again.recovered.hardState, hs(1, 4));
    assert.equal(again.recovered.lastIndex, 4);
    await again.close();
  });
});

test("Wal: appends use one durable write where the file offers it, never while unsynced bytes of the file precede", async () => {
  // Proves the one-step write + sync (O_DSYNC) is used for the append path, and that a file with
  // unsynced bytes (a zero-filled new segment) is synced with fdatasync instead, so no write the
  // WAL acknowledged can be preceded on disk by a lost one.
  await withDir(async (dir) => {
    const fs = new OpLogFs(dir);
    const wal = await Wal.open(dir, { fs, segmentBytes: 8192, preallocateAhead: false });
    for (let i = 0; i < 40; i++) {
      await wal.save({ entries: entries(1 + 10 * i, 10, 1), hardState: hs(1, 10 * i) });
      void wal.save({ hardState: hs(1, 10 * i + 5), sync: false });
    }
    await wal.close();
    const durable = fs.log.filter((l) => l.startsWith("durable ")).length;
    assert.ok(durable >= 30, `${durable} durable writes`);
    const unsynced = new Set<string>();
    for (const l of fs.log) {
      const [what, name] = l.split(" ") as [string, string];
      if (what === "write") unsynced.add(name);
      else if (what === "sync") unsynced.delete(name);
      else
        assert.ok(
          !unsynced.has(name),
          `a durable write of ${name} after unsynced bytes: ${fs.log.join(", ")}`,
        );
    }
    const again = await Wal.open(dir);
    assert.equal(again.recovered.lastIndex, 400);
    assert.deepEqual(again.recovered.hardState, hs(1, 395));
    await again.close();
  });
});

test("Wal.saveSnapshotParts: the file is written from its parts beside the queue, then renamed and logged; appends go on meanwhile", async () => {
  // Proves the snapshot file equals saveSnapshot's (read back and recovered whole), that its
  // write does not hold up saves submitted meanwhile, and that an older snapshot written this way
  // after a newer one is dropped with its temporary file.
  await withDir(async (dir) => {
    const inner = new NodeWalFs(dir);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const fs: WalFs = withOpen(inner, async (name, create, open) => {
      const f = await open(name, create);
      if (!name.endsWith(".snap.tmp")) return f;
      return {
        write: async (bytes, offset) => {
          await gate;
          await f.write(bytes, offset);
        },
        datasync: () => f.datasync(),
        close: () => f.close(),
      };
    });
    const wal = await Wal.open(dir, { fs, segmentBytes: 1 << 20 });
    await wal.save({ entries: entries(1, 30, 1), hardState: hs(1, 30) });
    const full = snapshotAt(20, 1);
    const data = new Uint8Array(3000).map((_, i) => i % 251);
    const parts = [data.subarray(0, 1000), data.subarray(1000, 1001), data.subarray(1001)];
    let snapshotDone = false;
    const snapshot = wal.saveSnapshotParts(full.metadata, parts).then(() => {
      snapshotDone = true;
    });
    await wal.save({ entries: entries(31, 5, 1), hardState: hs(1, 35) });
    assert.equal(snapshotDone, false, "the append did not wait for the snapshot file");
    release();
    await snapshot;
    const back = await wal.readSnapshot(20, 1);
    assert.ok(typeof back !== "string", String(back));
    assert.deepEqual(back.data, data);
    // An older one afterwards is dropped, temporary file included.
    await wal.saveSnapshotParts(snapshotAt(10, 1).metadata, [Uint8Array.of(1)]);
    await wal.close();
    assert.ok(!readdirSync(dir).some((n) => n.endsWith(".snap.tmp")));
    const again = await Wal.open(dir);
    assert.equal(again.recovered.snapshot?.metadata.index, 20);
    assert.deepEqual(again.recovered.snapshot?.data, data);
    assert.equal(again.recovered.lastIndex, 35);
    await again.close();
  });
});

test("Wal.saveSnapshotParts: an fdatasync error inside the file stops its writing and fails the WAL", async () => {
  // Proves the slice syncs are checked like the log's own: the first one failing (after 8 of 20
  // MiB) ends the file there, the save rejects, onFatal hears EIO once, later saves are refused,
  // and a restart recovers no snapshot from the temporary file.
  await withDir(async (dir) => {
    const fs = new FaultFs(dir);
    const fatal: Error[] = [];
    const wal = await Wal.open(dir, { fs, onFatal: (e) => fatal.push(e), preallocateAhead: false });
    await wal.save({ entries: entries(1, 30, 1), hardState: hs(1, 30) });
    const mib = 1 << 20;
    const parts = Array.from({ length: 20 }, (_, i) => new Uint8Array(mib).fill(i));
    const writesBefore = fs.writes;
    fs.failSyncs = true;
    await rejectsWith(wal.saveSnapshotParts(snapshotAt(20, 1).metadata, parts), ErrorCode.walFailed);
    assert.equal(fs.writes - writesBefore, 1 + 8, "the header and the first 8 MiB, nothing after");
    assert.equal(fatal.length, 1);
    assert.match(fatal[0]?.message ?? "", /EIO/);
    fs.failSyncs = false;
    await rejectsWith(wal.save({ entries: entries(31, 1, 1) }), ErrorCode.walFailed);
    await wal.close();
    const again = await Wal.open(dir, small);
    assert.equal(again.recovered.snapshot, null);
    assert.equal(again.recovered.lastIndex, 30);
    await again.close();
  });
});

test("Wal.saveSnapshotParts: a large snapshot file is synced every 8 MiB as it is written, not only at the end", async () => {
  // Proves the file's dirty pages never pile up: with 20 MiB of parts, fdatasync runs after the
  // first 8 MiB and the next 8 MiB are written, and once more at the end, and a single 20 MiB part
  // is cut into 8 MiB writes the same way; the files read back whole.
  await withDir(async (dir) => {
    const inner = new NodeWalFs(dir);
    const events: string[] = [];
    const fs: WalFs = withOpen(inner, async (name, create, open) => {
      const f = await open(name, create);
      if (!name.endsWith(".snap.tmp")) return f;
      return {
        write: async (bytes, offset) => {
          events.push(`w${bytes.length}`);
          await f.write(bytes, offset);
        },
        datasync: async () => {
          events.push("sync");
          await f.datasync();
        },
        close: () => f.close(),
      };
    });
    const wal = await Wal.open(dir, { fs, segmentBytes: 1 << 20 });
    await wal.save({ entries: entries(1, 30, 1), hardState: hs(1, 30) });
    const mib = 1 << 20;
    const parts = Array.from({ length: 20 }, (_, i) => new Uint8Array(mib).fill(i));
    await wal.saveSnapshotParts(snapshotAt(20, 1).metadata, parts);
    const syncs = events.map((e, i) => (e === "sync" ? i : -1)).filter((i) => i >= 0);
    assert.equal(syncs.length, 3, events.join(" "));
    // header write, then 8 parts before the first sync, 8 more before the second.
    assert.deepEqual(
      syncs.map((at) => events.slice(0, at).filter((e) => e === `w${mib}`).length),
      [8, 16, 20],
    );
    const back = await wal.readSnapshot(20, 1);
    assert.ok(typeof back !== "string", String(back));
    assert.equal(back.data.length, 20 * mib);
    assert.equal(back.data[19 * mib], 19);
    // One part of 20 MiB is written in slices of 8, 8 and 4 MiB, synced after each.
    events.length = 0;
    const big = new Uint8Array(20 * mib).map((_, i) => i >>> 20);
    await wal.saveSnapshotParts(snapshotAt(30, 1).metadata, [big]);
    assert.deepEqual(
      events.filter((e) => e !== `w${big.length}` && !/^w\d{1,4}$/.test(e)),
      [`w${8 * mib}`, "sync", `w${8 * mib}`, "sync", `w${4 * mib}`, "sync"],
    );
    const again = await wal.readSnapshot(30, 1);
    assert.ok(typeof again !== "string", String(again));
    assert.deepEqual(again.data, big);
    await wal.close();
  });
});
