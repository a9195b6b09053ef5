// The simulated disk (src/testing/simdisk.ts): what a crash keeps and loses, failed syncs and a
// full disk, checked over many seeds.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SeededRng } from "../../src/lib/rng.js";
import { SimDisk } from "../../src/testing/simdisk.js";

function filled(n: number, v: number): Uint8Array {
  return new Uint8Array(n).fill(v);
}

test("SimDisk.crash: keeps synced data, a prefix of unsynced writes, and tears only at sector boundaries", () => {
  // Proves the crash model: never loses synced bytes, never keeps a later unsynced write without
  // the earlier ones, and cuts a torn write at a 512-byte boundary of the file.
  const seen = { none: 0, all: 0, torn: 0 };
  for (let seed = 1; seed <= 300; seed++) {
    const disk = new SimDisk(new SeededRng(seed));
    disk.execute([
      { op: "create", file: "f" },
      { op: "write", file: "f", offset: 0, bytes: filled(100, 1) },
      { op: "sync", file: "f" },
      { op: "syncDir" },
      { op: "write", file: "f", offset: 100, bytes: filled(1900, 2) },
      { op: "write", file: "f", offset: 2000, bytes: filled(2000, 3) },
      { op: "write", file: "f", offset: 4000, bytes: filled(2000, 4) },
    ]);
    assert.equal(disk.durableFiles().get("f")?.length, 100);
    disk.crash();
    const f = disk.files().get("f");
    assert.ok(f !== undefined);
    assert.ok(
      f.subarray(0, 100).every((b) => b === 1),
      "synced bytes survive",
    );
    const cut = f.length;
    const want = (i: number): number => (i < 100 ? 1 : i < 2000 ? 2 : i < 4000 ? 3 : 4);
    for (let i = 0; i < cut; i++) assert.equal(f[i], want(i), `seed ${seed}: byte ${i} of ${cut}`);
    assert.ok(
      cut % 2000 === 0 || cut === 100 || cut === 6000 || cut % 512 === 0,
      `seed ${seed}: cut at ${cut}`,
    );
    if (cut === 100) seen.none++;
    else if (cut === 6000) seen.all++;
    else if (cut % 2000 !== 0) seen.torn++;
  }
  assert.ok(seen.none > 20 && seen.all > 20 && seen.torn > 20, JSON.stringify(seen));
});

test("SimDisk.crash: directory changes need syncDir; a rename is atomic", () => {
  // Proves a new file whose data was synced may still vanish without a directory sync, and that
  // a crash after a rename shows the file under exactly one of its names.
  let vanished = 0;
  let renamed = 0;
  for (let seed = 1; seed <= 100; seed++) {
    const disk = new SimDisk(new SeededRng(seed));
    disk.execute([
      { op: "create", file: "a.tmp" },
      { op: "write", file: "a.tmp", offset: 0, bytes: filled(10, 9) },
      { op: "sync", file: "a.tmp" },
    ]);
    const before = disk.durableFiles();
    assert.equal(before.size, 0, "not durable before syncDir");
    disk.execute([{ op: "syncDir" }, { op: "rename", from: "a.tmp", to: "a" }]);
    disk.crash();
    const names = [...disk.files().keys()];
    assert.equal(names.length, 1);
    assert.deepEqual(disk.files().get(names[0] as string), filled(10, 9));
    if (names[0] === "a") renamed++;
    const lost = new SimDisk(new SeededRng(seed));
    lost.execute([
      { op: "create", file: "b" },
      { op: "write", file: "b", offset: 0, bytes: filled(5, 1) },
      { op: "sync", file: "b" },
    ]);
    lost.crash();
    if (!lost.files().has("b")) vanished++;
  }
  assert.ok(renamed > 10 && renamed < 90 && vanished > 10, `renamed ${renamed}, vanished ${vanished}`);
});

test("SimDisk.execute: injected EIO fails a sync without making anything durable; capacity gives ENOSPC", () => {
  // Proves the two failure injections the WAL tests and the simulator use.
  const disk = new SimDisk(new SeededRng(1), { capacityBytes: 1000 });
  disk.execute([{ op: "create", file: "f" }, { op: "syncDir" }]);
  disk.failSyncs(1);
  const r = disk.execute([
    { op: "write", file: "f", offset: 0, bytes: filled(600, 1) },
    { op: "sync", file: "f" },
    { op: "write", file: "f", offset: 600, bytes: filled(10, 1) },
  ]);
  assert.deepEqual(r, { ok: false, failedAt: 1, error: "EIO" });
  assert.equal(disk.durableFiles().get("f")?.length, 0);
  assert.deepEqual(disk.execute([{ op: "sync", file: "f" }]), { ok: true });
  assert.equal(disk.durableFiles().get("f")?.length, 600);
  assert.deepEqual(disk.execute([{ op: "zero", file: "f", offset: 600, length: 500 }]), {
    ok: false,
    failedAt: 0,
    error: "ENOSPC",
  });
  assert.deepEqual(disk.execute([{ op: "write", file: "g", offset: 0, bytes: filled(1, 1) }]), {
    ok: false,
    failedAt: 0,
    error: "ENOENT",
  });
});
