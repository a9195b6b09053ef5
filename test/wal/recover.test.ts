// Recovery outcomes on damaged directories (docs/storage-format.md, "Recovery outcomes"): torn
// tails at every byte offset, single bit flips everywhere else, deleted or corrupt snapshots,
// missing segments, leftovers of interrupted writes and records of unknown versions.
import assert from "node:assert/strict";
import { test } from "node:test";
import { crc32Update } from "../../src/lib/crc32.js";
import { SeededRng } from "../../src/lib/rng.js";
import { crc32c } from "../../src/wal/crc32c.js";
import {
  decodeSnapshotFile,
  encodeSnapshotFile,
  parseSegmentName,
  parseSnapshotName,
  RecordType,
  readRecord,
  snapshotFileVersion,
} from "../../src/wal/format.js";
import { type Recovered, type RecoveryError, recover } from "../../src/wal/recover.js";
import { DiskWal, entries, hs, mustRecover, snapshotAt } from "./helpers.js";

interface Rec {
  readonly file: string;
  readonly offset: number;
  /** End of header and payload (the record is valid once these bytes are). */
  readonly validEnd: number;
  readonly next: number;
  readonly index: number;
  readonly commit: number;
}

/** Every record of every segment, in log order. */
function records(files: ReadonlyMap<string, Uint8Array>): Rec[] {
  const out: Rec[] = [];
  const segs = [...files.keys()].filter((n) => parseSegmentName(n) !== null).sort();
  for (const file of segs) {
    const buf = files.get(file) as Uint8Array;
    for (let at = 0; ; ) {
      const r = readRecord(buf, at);
      if (!("record" in r)) break;
      const len = new DataView(buf.buffer, buf.byteOffset).getUint32(at + 4, true);
      const rec = r.record;
      out.push({
        file,
        offset: at,
        validEnd: at + 16 + len,
        next: r.next,
        index: rec.type === RecordType.entry ? rec.entry.index : -1,
        commit: rec.type === RecordType.hardState ? rec.hardState.commit : -1,
      });
      at = r.next;
    }
  }
  return out;
}

function copy(files: ReadonlyMap<string, Uint8Array>): Map<string, Uint8Array> {
  return new Map([...files].map(([k, v]) => [k, v.slice()]));
}

function ok(r: Recovered | RecoveryError): Recovered {
  if (!r.ok) assert.fail(`unexpected recovery error: ${r.message}`);
  return r;
}

function err(r: Recovered | RecoveryError): RecoveryError {
  if (r.ok) assert.fail("recovery succeeded on a damaged log");
  return r;
}

/** A WAL of several segments: 40 batches of 5 entries, each with a hard state. */
function build(): DiskWal {
  const w = new DiskWal(undefined, { segmentBytes: 4096 });
  for (let i = 0; i < 40; i++) {
    assert.ok(w.persist({ entries: entries(1 + 5 * i, 5, 2), hardState: hs(2, 5 * i) }));
  }
  return w;
}

test("recover: a log cut at every byte offset of its last two batches keeps exactly the whole records", () => {
  // Proves torn tails, whether the rest of the preallocated segment is zeros or the file itself
  // is short, are truncated at the first incomplete record, logged with file and offset, and
  // flagged as a cut; a cut exactly between records loses nothing and repairs nothing.
  const w = build();
  const files = w.disk.files();
  const all = records(files);
  const last = w.lastWrite;
  assert.ok(last !== null);
  const lastFile = last.file;
  const start = (all.filter((r) => r.file === lastFile && r.offset < last.offset).at(-6) as Rec).offset;
  const end = last.offset + last.length;
  let repaired = 0;
  for (let cut = start; cut <= end; cut++) {
    for (const shorten of [false, true]) {
      const damaged = copy(files);
      const buf = damaged.get(lastFile) as Uint8Array;
      if (shorten) damaged.set(lastFile, buf.slice(0, cut));
      else buf.fill(0, cut);
      const r = ok(recover(damaged));
      // A record survives if the cut left its bytes as they were (zeroing trailing zeros is no change).
      const original = files.get(lastFile) as Uint8Array;
      const intact = (x: Rec): boolean =>
        x.file !== lastFile ||
        x.validEnd <= cut ||
        (!shorten && original.subarray(cut, x.validEnd).every((b) => b === 0));
      const kept = all.filter(intact);
      const wantLast = Math.max(...kept.map((x) => x.index));
      const wantCommit = kept.filter((x) => x.commit >= 0).at(-1)?.commit;
      assert.equal(r.lastIndex, wantLast, `cut at ${cut}`);
      assert.equal(r.hardState.commit, wantCommit, `cut at ${cut}`);
      const firstLost = all.find((x) => !intact(x));
      const partial =
        firstLost !== undefined && original.subarray(firstLost.offset, cut).some((b) => b !== 0);
      if (partial) {
        repaired++;
        assert.equal(r.cut, true);
        assert.deepEqual(
          r.repairs.map((x) => [x.file, x.offset]),
          [[lastFile, firstLost.offset]],
        );
        // Zeroed from the damaged record up to the last non-zero byte.
        let lastByte = cut - 1;
        while (original[lastByte] === 0) lastByte--;
        assert.deepEqual(r.plan[0], {
          op: "zero",
          file: lastFile,
          offset: firstLost.offset,
          length: lastByte + 1 - firstLost.offset,
        });
      } else {
        assert.equal(r.cut, false, `cut at ${cut}`);
        assert.deepEqual(r.repairs, []);
      }
    }
  }
  assert.ok(repaired > 500, `${repaired} torn cases`);
});

test("recover: garbage after the last record of the last segment is a torn tail", () => {
  // Proves a partially persisted write (random bytes where the next batch was going) is
  // truncated and flagged, and that the repaired log can be appended to and recovered again.
  const w = build();
  const files = w.disk.files();
  const last = w.lastWrite;
  assert.ok(last !== null);
  const rng = new SeededRng(5);
  const buf = files.get(last.file) as Uint8Array;
  const at = last.offset + last.length;
  for (let i = at; i < at + 100; i++) buf[i] = rng.intBelow(256);
  const r = ok(recover(files));
  assert.equal(r.lastIndex, 200);
  assert.equal(r.cut, true);
  assert.deepEqual(
    r.repairs.map((x) => [x.file, x.offset, x.bytes]),
    [[last.file, at, 100]],
  );
});

test("recover: a single bit flip in any record before the last batch is corruption naming file and offset", () => {
  // Proves mid-log damage (followed by valid records of later writes, in the same segment or in
  // later ones) refuses to start with the damaged record's file and offset, for a flip in any
  // header field, payload or padding; a flip in the last batch is a torn tail instead.
  const w = build();
  const files = w.disk.files();
  const all = records(files);
  const last = w.lastWrite;
  assert.ok(last !== null);
  const rng = new SeededRng(11);
  let corrupt = 0;
  for (const rec of all) {
    const damaged = copy(files);
    const at = rec.offset + rng.intBelow(rec.next - rec.offset);
    const buf = damaged.get(rec.file) as Uint8Array;
    buf[at] = (buf[at] as number) ^ (1 << rng.intBelow(8));
    const r = recover(damaged);
    if (rec.file === last.file && rec.offset >= last.offset) {
      const got = ok(r);
      assert.equal(got.cut, true);
      assert.deepEqual(got.repairs[0]?.offset, rec.offset);
      continue;
    }
    const e = err(r);
    assert.equal(e.code, "corrupt", e.message);
    assert.equal(e.file, rec.file);
    assert.equal(e.offset, rec.offset, e.message);
    assert.ok(e.message.includes(rec.file) && e.message.includes(`offset ${rec.offset}`));
    corrupt++;
  }
  assert.ok(corrupt > 200, `${corrupt} corruption cases`);
});

test("recover: zeroed sectors in the middle of the last segment are corruption, not a torn tail", () => {
  // Proves a lost write inside the log (a hole of zeros followed by valid later records) is not
  // mistaken for unwritten preallocated space.
  const w = build();
  const files = w.disk.files();
  const last = w.lastWrite;
  assert.ok(last !== null);
  const rec = records(files).find((x) => x.file === last.file && x.index > 0) as Rec;
  (files.get(last.file) as Uint8Array).fill(0, rec.offset, rec.next);
  const e = err(recover(files));
  assert.deepEqual([e.code, e.file, e.offset], ["corrupt", last.file, rec.offset]);
});

test("recover: damage inside the last write with intact records of that same write after it is a torn tail", () => {
  // Proves a write persisted out of order (a lost sector in the middle of the final, never
  // acknowledged batch) is recognised by the batch number and truncated, not refused.
  const w = build();
  const files = w.disk.files();
  const last = w.lastWrite;
  assert.ok(last !== null);
  const rec = records(files).find((x) => x.file === last.file && x.offset >= last.offset) as Rec;
  (files.get(last.file) as Uint8Array).fill(0, rec.offset, rec.next);
  const r = ok(recover(files));
  assert.equal(r.lastIndex, 195);
  assert.equal(r.cut, true);
  assert.equal(r.repairs[0]?.offset, rec.offset);
});

/** A WAL with three local snapshots kept (retention 3) and entries after the newest. */
function withSnapshots(): { w: DiskWal; names: string[] } {
  const w = new DiskWal(undefined, { segmentBytes: 4096, snapshotsRetained: 3 });
  for (let i = 0; i < 40; i++) {
    assert.ok(w.persist({ entries: entries(1 + 5 * i, 5, 2), hardState: hs(2, 5 * i) }));
    if (i % 10 === 9) assert.ok(w.persist({ localSnapshot: snapshotAt(5 * i, 2) }));
  }
  const names = [...w.disk.files().keys()].filter((n) => parseSnapshotName(n) !== null).sort();
  assert.equal(names.length, 3);
  return { w, names };
}

test("recover: a deleted or corrupt newest snapshot falls back to the previous one with the same log", () => {
  // Proves recovery does not trust a missing or damaged snapshot: it replays the log from the
  // previous snapshot, ending in the same state, and renames the corrupt file out of the way.
  const { w, names } = withSnapshots();
  const files = w.disk.files();
  const intact = ok(recover(files));
  assert.equal(intact.snapshot?.metadata.index, 195);
  const newest = names[2] as string;
  const deleted = copy(files);
  deleted.delete(newest);
  const corrupted = copy(files);
  const buf = corrupted.get(newest) as Uint8Array;
  buf[40] = (buf[40] as number) ^ 4;
  for (const [what, damaged] of [
    ["deleted", deleted],
    ["corrupt", corrupted],
  ] as const) {
    const r = ok(recover(damaged));
    assert.equal(r.snapshot?.metadata.index, 145, what);
    assert.equal(r.lastIndex, intact.lastIndex, what);
    assert.deepEqual(r.hardState, intact.hardState, what);
    assert.deepEqual(
      r.entries.slice(-intact.entries.length).map((e) => e.index),
      intact.entries.map((e) => e.index),
    );
    assert.equal(r.cut, false);
    if (what === "corrupt")
      assert.deepEqual(r.plan[0], { op: "rename", from: newest, to: `${newest}.corrupt` });
  }
  // With every kept snapshot damaged and the early log released, recovery must refuse.
  const none = copy(files);
  for (const n of names) none.delete(n);
  assert.ok(
    !none.has("0000000000000000-0000000000000001.wal"),
    "segments before the oldest snapshot are released",
  );
  assert.equal(err(recover(none)).code, "missing");
});

test("recover: a missing or corrupt snapshot the log restarted at (an installed snapshot) is an error", () => {
  // Proves recovery never replays across an installed snapshot it cannot read: the entries before
  // that snapshot are not in the log, so an older snapshot cannot stand in for it.
  const w = new DiskWal(undefined, { segmentBytes: 4096 });
  assert.ok(w.persist({ entries: entries(1, 5, 1), hardState: hs(1, 5) }));
  assert.ok(w.persist({ localSnapshot: snapshotAt(5, 1) }));
  assert.ok(w.persist({ snapshot: snapshotAt(50, 3), hardState: hs(3, 50) }));
  assert.ok(w.persist({ entries: entries(51, 5, 3), hardState: hs(3, 55) }));
  const files = w.disk.files();
  assert.equal(ok(recover(files)).snapshot?.metadata.index, 50);
  files.delete("0000000000000032-0000000000000003.snap");
  const e = err(recover(files));
  assert.equal(e.code, "missing");
  assert.match(e.message, /restarts at installed snapshot 50/);
});

test("recover: a missing segment is an error naming the segment after the gap", () => {
  // Proves a hole in the sequence of segments, or a log whose first segment is gone with no
  // snapshot to start from, refuses to start rather than serve a log with a gap.
  const w = build();
  const files = w.disk.files();
  const segs = [...files.keys()].sort();
  assert.ok(segs.length >= 4);
  const middle = copy(files);
  middle.delete(segs[1] as string);
  const e = err(recover(middle));
  assert.deepEqual([e.code, e.file, e.offset], ["missing", segs[2], 0]);
  const first = copy(files);
  first.delete(segs[0] as string);
  const f = err(recover(first));
  assert.equal(f.code, "missing");
  assert.match(f.message, /log after index 0 is missing/);
});

test("recover: leftovers of interrupted writes are removed without counting as a cut", () => {
  // Proves temporary files and a snapshot file whose marker never reached the log (a crash
  // between writing the snapshot and logging it) are deleted, and the state is the logged one.
  const { w } = withSnapshots();
  const files = w.disk.files();
  files.set("0000000000000009-0000000000000000.wal.tmp", new Uint8Array(10));
  files.set(
    "00000000000000c8-0000000000000002.snap",
    files.get("00000000000000c3-0000000000000002.snap") as Uint8Array,
  );
  const r = ok(recover(files));
  assert.equal(r.snapshot?.metadata.index, 195);
  assert.equal(r.cut, false);
  assert.deepEqual(
    r.plan.filter((op) => op.op === "unlink").map((op) => op.op === "unlink" && op.file),
    ["0000000000000009-0000000000000000.wal.tmp", "00000000000000c8-0000000000000002.snap"],
  );
  assert.deepEqual(r.plan.at(-1), { op: "syncDir" });
});

test("recover: a valid record of an unknown version is refused as unsupported", () => {
  // Proves the record version is checked: data written by a newer format is never misread.
  const w = build();
  const files = w.disk.files();
  const rec = records(files)[3] as Rec;
  const buf = files.get(rec.file) as Uint8Array;
  buf[rec.offset + 9] = 2;
  new DataView(buf.buffer, buf.byteOffset).setUint32(
    rec.offset,
    crc32c(buf, rec.offset + 4, rec.validEnd),
    true,
  );
  const e = err(recover(files));
  assert.deepEqual([e.code, e.file, e.offset], ["unsupported", rec.file, rec.offset]);
});

test("recover: an empty directory is a fresh WAL; the first open creates segment 0", () => {
  // Proves a new member starts with nothing and gets a whole first segment before any write.
  const r = mustRecover(new Map());
  assert.equal(r.fresh, true);
  const w = new DiskWal();
  assert.deepEqual([...w.disk.files().keys()], ["0000000000000000-0000000000000001.wal"]);
  assert.equal(w.disk.files().get("0000000000000000-0000000000000001.wal")?.length, 4096);
  const again = mustRecover(w.disk.files());
  assert.equal(again.fresh, false);
  assert.equal(again.lastIndex, 0);
});

test("decodeSnapshotFile: version 2 files (CRC-32) are written; version 1 files (CRC-32C) still read", () => {
  // Proves the snapshot file format change keeps old data directories readable: the same bytes
  // relabelled as version 1 with a CRC-32C trailer decode to the same snapshot, while a trailer
  // of the wrong kind for its version, or an unknown version, is refused.
  const snap = snapshotAt(42, 7);
  const v2 = encodeSnapshotFile(snap);
  const view = new DataView(v2.buffer, v2.byteOffset, v2.length);
  assert.equal(view.getUint32(8, true), snapshotFileVersion);
  assert.equal(snapshotFileVersion, 2);
  assert.deepEqual(decodeSnapshotFile(v2), snap);
  const v1 = v2.slice();
  const v1view = new DataView(v1.buffer);
  v1view.setUint32(8, 1, true);
  v1view.setUint32(v1.length - 4, crc32c(v1, 0, v1.length - 4), true);
  assert.deepEqual(decodeSnapshotFile(v1), snap);
  const wrongKind = v1.slice();
  new DataView(wrongKind.buffer).setUint32(
    wrongKind.length - 4,
    crc32Update(0, wrongKind.subarray(0, wrongKind.length - 4)),
    true,
  );
  assert.equal(decodeSnapshotFile(wrongKind), "CRC mismatch");
  const v3 = v2.slice();
  new DataView(v3.buffer).setUint32(8, 3, true);
  assert.equal(decodeSnapshotFile(v3), "unknown snapshot file version 3");
});
