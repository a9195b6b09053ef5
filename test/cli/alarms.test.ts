// Alarms on real processes: NOSPACE as etcd raises it (with etcd's error, reads and deletes still
// served, `etcdctl alarm list/disarm`) and Synod's automatic disarm below the low-water mark; and
// CORRUPT from the periodic cross-member hash check (--experimental-corrupt-check-time).
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { etcdctl, waitFor } from "../../src/testing/procs.js";
import {
  allocate,
  gateway,
  get,
  initialClusterOf,
  logsOf,
  member,
  put,
  startAll,
  synod,
  waitUntilServing,
} from "./adminhelpers.js";

/** The last line of etcdctl's stderr (its client may log retries before the error). */
function lastLine(text: string): string {
  return text.trim().split("\n").at(-1) ?? "";
}

/** Quota of the NOSPACE test, in accounted bytes. */
const quotaBytes = 256 * 1024;

test("NOSPACE on a 3-member cluster: writes refused with etcd's error, reads/deletes served, alarm list/disarm, and automatic disarm below 80% of the quota", async () => {
  // Proves the NOSPACE alarm as etcd has it (every member refuses puts with 'etcdserver: mvcc:
  // database space exceeded' once the quota is hit; gets, deletes and compaction still work;
  // etcdctl lists and disarms it) and Synod's addition: once deletes and a compaction bring usage
  // to the low-water mark or below, the leader disarms the alarm by itself and writes pass again.
  // The corruption check runs all along (500 ms) and must never fire on a healthy cluster.
  const c = await allocate(3, [
    `--quota-backend-bytes=${quotaBytes}`,
    "--max-request-bytes=65536",
    "--experimental-corrupt-check-time=500ms",
  ]);
  try {
    await startAll(c);
    const ports = c.members.map((m) => m.clientPort);
    const value = "v".repeat(1000);
    let written = 0;
    let refusal = "";
    for (let i = 0; i < 1000 && refusal === ""; i++) {
      const r = await etcdctl(c.endpoints([member(c, i % 3)]), ["put", `/fill/${i}`, value]);
      if (r.code === 0) written++;
      else refusal = lastLine(r.stderr);
    }
    assert.equal(refusal, "Error: etcdserver: mvcc: database space exceeded");
    assert.ok(written > 150 && written < 300, `${written} puts of 1 kB fit in ${quotaBytes} bytes`);
    for (const m of c.members) {
      const ep = c.endpoints([m]);
      assert.equal((await etcdctl(ep, ["alarm", "list"])).stdout, "alarm:NOSPACE \n");
      const p = await etcdctl(ep, ["put", "/small", "x"]);
      assert.equal(lastLine(p.stderr), "Error: etcdserver: mvcc: database space exceeded", m.name);
      assert.equal(await get(m.clientPort, "/fill/0"), value, "reads are served");
      const h = await fetch(`http://127.0.0.1:${m.clientPort}/health`);
      assert.equal(h.status, 503);
      assert.deepEqual(await h.json(), { health: "false", reason: "ALARM NOSPACE" });
    }
    // Disarming by hand with usage still over the quota: the next put raises it again.
    assert.equal((await etcdctl(c.endpoints(), ["alarm", "disarm"])).stdout, "alarm:NOSPACE \n");
    assert.equal((await etcdctl(c.endpoints(), ["alarm", "list"])).stdout, "");
    const again = await etcdctl(c.endpoints(), ["put", "/big", value]);
    assert.equal(lastLine(again.stderr), "Error: etcdserver: mvcc: database space exceeded");
    // Deletes pass under NOSPACE; usage falls only once the deleted history is compacted.
    const del = await etcdctl(c.endpoints(), ["del", "/fill/", "--prefix"]);
    assert.equal(del.code, 0, del.stderr);
    assert.equal(del.stdout.trim(), String(written));
    const metricsOf = async (port: number): Promise<string> =>
      (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(await metricsOf(ports[0] ?? 0), /^synod_server_alarm_active\{alarm="NOSPACE"\} 1$/m);
    const status = await gateway(ports[1] ?? 0, "/v3/maintenance/status", {});
    const rev = Number((status.header as { revision: string }).revision);
    const compact = await etcdctl(c.endpoints(), ["compaction", String(rev), "--physical"]);
    assert.equal(compact.code, 0, compact.stderr);
    await waitFor(
      "the leader to disarm NOSPACE",
      async () => (await etcdctl(c.endpoints(), ["alarm", "list"])).stdout === "",
      // The check runs each second; each poll is an etcdctl process, slow on a loaded CI machine
      // (the full suite once took over 5 s here while the test alone takes under 2 s).
      15_000,
    );
    for (const port of ports) {
      await put(port, `/after/${port}`, "fits");
      assert.equal(await get(port, `/after/${port}`), "fits");
      assert.match(await metricsOf(port), /^synod_server_alarm_active\{alarm="NOSPACE"\} 0$/m);
    }
    const logs = c.members.map((m) => m.log).join("\n");
    assert.match(
      logs,
      /"msg":"alarms: NOSPACE disarmed: usage is below the low-water mark".*"lowWaterBytes":209715/,
    );
    assert.doesNotMatch(logs, /CORRUPT/);
    assert.equal((await etcdctl(c.endpoints(), ["alarm", "list"])).stdout, "");
  } finally {
    await c.destroy();
  }
});

test("CORRUPT from the periodic hash check: a member whose data differs at the same revision is flagged and the cluster stops serving", async () => {
  // Proves --experimental-corrupt-check-time: members restored from two different backups (an
  // operator mistake that gives one member different data under the same revisions) form a
  // cluster; the leader puts its HashKV in the log, and the member whose HashKV differs at that
  // revision raises CORRUPT for itself; then every member refuses reads and writes with etcd's error and
  // /readyz fails its data_corruption check.
  const source = await allocate(1);
  const target = await allocate(3, ["--experimental-corrupt-check-time=300ms"]);
  try {
    await startAll(source);
    const s = member(source, 0);
    await put(s.clientPort, "/a", "1");
    const fileA = join(source.root, "a.db");
    assert.equal((await etcdctl(source.endpoints(), ["snapshot", "save", fileA])).code, 0);
    await put(s.clientPort, "/a", "2");
    const fileB = join(source.root, "b.db");
    assert.equal((await etcdctl(source.endpoints(), ["snapshot", "save", fileB])).code, 0);
    const initial = initialClusterOf(target.members);
    for (const [i, m] of target.members.entries()) {
      const r = await synod([
        "snapshot",
        "restore",
        i === 2 ? fileB : fileA,
        `--name=${m.name}`,
        `--initial-cluster=${initial}`,
        `--initial-cluster-token=${target.token}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${m.peerPort}`,
        `--data-dir=${m.dataDir}`,
      ]);
      assert.equal(r.code, 0, r.stderr);
    }
    for (const m of target.members) target.start(m, "new", initial);
    await waitUntilServing(target);
    // m3 is one revision ahead with other data; it must not lead (a leader compares at its own
    // revision, which the others have not reached), so leadership goes to m1.
    const [t1, , t3] = [member(target, 0), member(target, 1), member(target, 2)];
    const list = await etcdctl(target.endpoints(), ["member", "list"]);
    const idOf = (port: number): string => {
      const line = list.stdout.split("\n").find((l) => l.includes(`http://127.0.0.1:${port}, false`));
      assert.ok(line !== undefined, list.stdout);
      return line.split(",")[0] as string;
    };
    const st = await gateway(t1.clientPort, "/v3/maintenance/status", {});
    if (String(st.leader) !== String((st.header as { member_id: string }).member_id)) {
      const moved = await etcdctl(target.endpoints(), ["move-leader", idOf(t1.clientPort)]);
      assert.equal(moved.code, 0, moved.stderr);
    }
    // Writes land at different revisions: m1/m2 hash a new write at r, m3 holds '/a=2' at r. The
    // readiness probe's write may already have done it (then this write is refused).
    await put(t1.clientPort, "/trigger", "x").catch(() => undefined);
    await waitFor(
      "the CORRUPT alarm",
      async () => /alarm:CORRUPT/.test((await etcdctl(target.endpoints([t1]), ["alarm", "list"])).stdout),
      10_000,
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${logsOf(target)}`);
    });
    const alarms = (await etcdctl(target.endpoints([t1]), ["alarm", "list"])).stdout;
    assert.equal(alarms, `memberID:${BigInt(`0x${idOf(t3.clientPort)}`)} alarm:CORRUPT \n`);
    for (const m of target.members) {
      const r = await etcdctl(target.endpoints([m]), ["get", "/a"]);
      assert.equal(lastLine(r.stderr), "Error: etcdserver: corrupt cluster", m.name);
      const w = await etcdctl(target.endpoints([m]), ["put", "/b", "1"]);
      assert.equal(lastLine(w.stderr), "Error: etcdserver: corrupt cluster", m.name);
      const ready = await fetch(`http://127.0.0.1:${m.clientPort}/readyz?verbose`);
      assert.equal(ready.status, 503);
      assert.match(await ready.text(), /^\[-\]data_corruption failed: the CORRUPT alarm is raised$/m);
    }
    assert.match(member(target, 2).log, /member's hash differs from the leader's; raising CORRUPT/);
  } finally {
    await source.destroy();
    await target.destroy();
  }
});
