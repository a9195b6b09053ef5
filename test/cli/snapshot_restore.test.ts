// Backup and restore with real processes: `etcdctl snapshot save` from a loaded three-member
// cluster, `synod snapshot status` and `synod snapshot restore` into a fresh three-member cluster,
// and the refusals (corrupted or truncated file, non-empty data directory).
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { etcdctl } from "../../src/testing/procs.js";
import {
  allocate,
  gateway,
  get,
  hashKv,
  initialClusterOf,
  member,
  pool,
  put,
  startAll,
  synod,
  waitUntilServing,
} from "./adminhelpers.js";

test("synod snapshot restore: a backup of a loaded 3-member cluster restored into a new 3-member cluster keeps keys, revisions, hash and leases under a new cluster id", async () => {
  // Proves item 1 of the operations issue end to end: the file etcdctl saves from Synod is
  // checked by `synod snapshot status` (its hash and revision match the source cluster's HashKV),
  // and restoring it member by member gives a new cluster (new id, new members) whose HashKV at
  // the same revision, sampled keys and lease equal the source's.
  const source = await allocate(3);
  const target = await allocate(3);
  try {
    await startAll(source);
    const [s1, s2, s3] = [member(source, 0), member(source, 1), member(source, 2)];
    const lease = await gateway(s1.clientPort, "/v3/lease/grant", { TTL: 3600 });
    const leaseId = String(lease.ID);
    const keys = Array.from({ length: 3000 }, (_, i) => i);
    await pool(keys, 16, (i) => put([s1, s2, s3][i % 3]?.clientPort ?? 0, `/load/${i}`, `value-${i}`));
    // History worth keeping: overwrites, deletes, a compaction, and keys on the lease.
    await pool(keys.slice(0, 500), 16, (i) => put(s2.clientPort, `/load/${i}`, `second-${i}`));
    await gateway(s3.clientPort, "/v3/kv/deleterange", {
      key: Buffer.from("/load/2").toString("base64"),
      range_end: Buffer.from("/load/3").toString("base64"),
    });
    const mid = await hashKv(s1.clientPort);
    await gateway(s1.clientPort, "/v3/kv/compaction", { revision: mid.revision - 100, physical: true });
    await put(s1.clientPort, "/leased/a", "held", leaseId);
    await put(s1.clientPort, "/leased/b", "held", leaseId);

    const file = join(source.root, "backup.db");
    const saved = await etcdctl(source.endpoints([s2]), ["snapshot", "save", file], "20s");
    assert.equal(saved.code, 0, saved.stderr);
    const src = await hashKv(s1.clientPort);
    assert.ok(src.revision > 3500 && src.hash !== 0, JSON.stringify(src));
    for (const m of [s2, s3]) assert.deepEqual(await hashKv(m.clientPort, src.revision), src);

    const status = await synod(["snapshot", "status", file, "-w", "json"]);
    assert.equal(status.code, 0, status.stderr);
    const st = JSON.parse(status.stdout) as Record<string, number>;
    assert.equal(st.revision, src.revision);
    assert.equal(st.hash, src.hash);
    assert.equal(
      st.totalKey,
      3000 - 1111 + 2 + 1,
      "live keys: loaded, minus /load/2*, plus leased and /ready",
    );
    assert.equal(st.leases, 1);
    assert.equal(st.totalSize, readFileSync(file).length);
    const simple = await synod(["snapshot", "status", file]);
    assert.equal(
      simple.stdout.split(", ").slice(0, 3).join(", "),
      `${st.hash?.toString(16).padStart(8, "0")}, ${src.revision}, ${st.totalKey}`,
    );

    // Restore each member of the new cluster from the same file, then start them.
    const initial = initialClusterOf(target.members);
    for (const m of target.members) {
      const r = await synod([
        "snapshot",
        "restore",
        file,
        `--name=${m.name}`,
        `--initial-cluster=${initial}`,
        `--initial-cluster-token=${target.token}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${m.peerPort}`,
        `--data-dir=${m.dataDir}`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stdout,
        new RegExp(`^restored .* revision ${src.revision}, ${st.totalKey} keys, 1 leases`),
      );
    }
    for (const m of target.members) target.start(m, "new", initial);
    await waitUntilServing(target);
    // /ready was written again by the readiness probe: one revision more everywhere, so compare
    // the hash at the snapshot's revision.
    const [t1, t2, t3] = [member(target, 0), member(target, 1), member(target, 2)];
    for (const m of [t1, t2, t3]) {
      assert.deepEqual(await hashKv(m.clientPort, src.revision), src, `member ${m.name}`);
    }
    for (const i of [0, 1, 250, 499, 500, 1999, 2500, 2999]) {
      const k = `/load/${i}`;
      // /load/2, /load/20..29, /load/200..299, /load/2000..2999 were deleted ("/load/2" prefix).
      const expected = String(i).startsWith("2") ? null : i < 500 ? `second-${i}` : `value-${i}`;
      assert.equal(await get(t2.clientPort, k), expected, k);
      assert.equal(await get(s2.clientPort, k), await get(t3.clientPort, k), k);
    }
    assert.equal(await get(t1.clientPort, "/leased/a"), "held");
    const ttl = await gateway(t3.clientPort, "/v3/lease/timetolive", { ID: leaseId, keys: true });
    assert.equal(Number(ttl.grantedTTL), 3600);
    assert.equal((ttl.keys as string[]).length, 2);
    // Reads below the compaction stay refused; the history above it is there.
    const old = await etcdctl(target.endpoints([t1]), ["get", "/load/1", `--rev=${mid.revision - 101}`]);
    assert.match(old.stderr, /required revision has been compacted/);
    const kept = await etcdctl(target.endpoints([t1]), [
      "get",
      "/load/1",
      `--rev=${mid.revision - 1}`,
      "--print-value-only",
    ]);
    assert.equal(kept.stdout.trim(), "second-1");

    // A new cluster: another cluster id, the new members only.
    const srcStatus = await gateway(s1.clientPort, "/v3/maintenance/status", {});
    const dstStatus = await gateway(t1.clientPort, "/v3/maintenance/status", {});
    const idOf = (s: Record<string, unknown>): string =>
      String((s.header as { cluster_id: string }).cluster_id);
    assert.notEqual(idOf(dstStatus), idOf(srcStatus));
    const list = await etcdctl(target.endpoints(), ["member", "list"]);
    for (const m of target.members)
      assert.match(list.stdout, new RegExp(`${m.name}, http://127.0.0.1:${m.peerPort}`));
    for (const m of source.members) assert.doesNotMatch(list.stdout, new RegExp(`:${m.peerPort}`));
    // And it takes writes.
    await put(t3.clientPort, "/after-restore", "yes");
    assert.equal(await get(t1.clientPort, "/after-restore"), "yes");
  } finally {
    await source.destroy();
    await target.destroy();
  }
});

test("synod snapshot status/restore: a corrupted, truncated or foreign file and a non-empty data dir are refused with a clear message", async () => {
  // Proves the integrity checks: one flipped byte fails the SHA-256, a cut file fails the size
  // check, a file with a valid hash but a broken stream fails the decoder, and restore never
  // writes into a directory that holds anything.
  const c = await allocate(1);
  try {
    await startAll(c);
    const m = member(c, 0);
    for (let i = 0; i < 50; i++) await put(m.clientPort, `/k/${i}`, "x".repeat(100));
    const file = join(c.root, "good.db");
    const saved = await etcdctl(c.endpoints(), ["snapshot", "save", file], "20s");
    assert.equal(saved.code, 0, saved.stderr);
    const good = readFileSync(file);
    assert.equal((await synod(["snapshot", "status", file])).code, 0);

    const flipped = Buffer.from(good);
    flipped[100] = (flipped[100] ?? 0) ^ 0x40;
    writeFileSync(join(c.root, "flipped.db"), flipped);
    const f = await synod(["snapshot", "status", join(c.root, "flipped.db")]);
    assert.equal(f.code, 1);
    assert.match(
      f.stderr,
      /^Error: snapshot file .*flipped\.db is not usable: SHA-256 mismatch .*corrupted or truncated\n$/,
    );

    writeFileSync(join(c.root, "cut.db"), good.subarray(0, good.length - 700));
    const t = await synod(["snapshot", "status", join(c.root, "cut.db")]);
    assert.equal(t.code, 1);
    assert.match(
      t.stderr,
      /its size \(\d+ bytes\) is not whole 512-byte pages plus a 32-byte SHA-256; the file is truncated/,
    );

    // A well-formed file (right size and hash) whose stream is not a Synod snapshot.
    const { createHash } = await import("node:crypto");
    const body = Buffer.alloc(1024, 7);
    writeFileSync(
      join(c.root, "foreign.db"),
      Buffer.concat([body, createHash("sha256").update(body).digest()]),
    );
    const x = await synod(["snapshot", "status", join(c.root, "foreign.db")]);
    assert.equal(x.code, 1);
    assert.match(x.stderr, /corrupt snapshot: not a Synod MVCC snapshot \(bad magic\)/);

    const busy = join(c.root, "busy");
    mkdirSync(busy);
    writeFileSync(join(busy, "something"), "x");
    const restore = (dir: string, f2: string) =>
      synod([
        "snapshot",
        "restore",
        f2,
        "--name=r1",
        "--initial-cluster=r1=http://127.0.0.1:1",
        "--initial-advertise-peer-urls=http://127.0.0.1:1",
        `--data-dir=${dir}`,
      ]);
    const r = await restore(busy, file);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /data-dir ".*busy" exists and is not empty; restore into a new directory/);
    assert.deepEqual(readFileSync(join(busy, "something"), "utf8"), "x");
    const bad = await restore(join(c.root, "fresh"), join(c.root, "flipped.db"));
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /SHA-256 mismatch/);
    const usage = await synod(["snapshot", "restore", file, "--bogus=1"]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /unknown flag --bogus for 'snapshot restore'/);
  } finally {
    await c.destroy();
  }
});
