// The operations metrics, probes and slow-operation warnings on real processes: etcd's histograms
// (WAL fsync, peer round trip) and gauges (watchers, proposals pending), Synod's own (apply
// latency, event loop, alarms), /readyz and /livez as etcd serves them, and the 'slow fdatasync'
// and 'apply request took too long' warnings with their figures.
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { etcdctl, waitFor } from "../../src/testing/procs.js";
import { killAllCtl, spawnCtl, waitForOutput } from "../server/clusterhelpers.js";
import { allocate, gateway, logsOf, member, put, startAll } from "./adminhelpers.js";

/** The samples of a Prometheus text body by series (name plus labels). */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

async function scrape(port: number): Promise<{ text: string; s: Map<string, number> }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return { text, s: samples(text) };
}

/** Checks a histogram's buckets are cumulative and end with +Inf = count; returns the count. */
function histogramCount(s: Map<string, number>, name: string, labels = ""): number {
  const sep = labels === "" ? "" : ",";
  const buckets = [...s.entries()].filter(([k]) => k.startsWith(`${name}_bucket{${labels}${sep}le=`));
  assert.ok(buckets.length > 5, `${name}{${labels}} has buckets`);
  for (let i = 1; i < buckets.length; i++) {
    assert.ok((buckets[i]?.[1] ?? 0) >= (buckets[i - 1]?.[1] ?? 0), `${name} buckets are cumulative`);
  }
  const count = s.get(`${name}_count${labels === "" ? "" : `{${labels}}`}`) ?? -1;
  assert.equal(buckets.at(-1)?.[0], `${name}_bucket{${labels}${sep}le="+Inf"}`);
  assert.equal(buckets.at(-1)?.[1], count);
  return count;
}

async function probe(port: number, path: string): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, body: await r.text() };
}

test("metrics and probes on a 3-member cluster: fsync and peer round-trip histograms, watcher gauges, apply latency, /readyz and /livez through a quorum loss", async () => {
  // Proves /metrics carries etcd's histograms with real observations (every member's WAL syncs;
  // the leader's heartbeat round trips to each peer, labelled with the peer's id), the watch
  // gauges following a real watch, Synod's apply latency and event-loop gauges; and that /readyz
  // and /livez answer as etcd's: ok while healthy, and once quorum is lost the survivor fails
  // readiness (linearizable_read) but stays live.
  const c = await allocate(3);
  try {
    await startAll(c);
    for (let i = 0; i < 20; i++) await put(member(c, i % 3).clientPort, `/m/${i}`, "v");
    const list = await etcdctl(c.endpoints(), ["member", "list"]);
    const idOf = (port: number): string =>
      (list.stdout.split("\n").find((l) => l.includes(`127.0.0.1:${port}, false`)) ?? "").split(",")[0] ?? "";
    const status = await gateway(member(c, 0).clientPort, "/v3/maintenance/status", {});
    const leaderHex = BigInt(String(status.leader)).toString(16);
    const leader = c.members.find((m) => idOf(m.clientPort) === leaderHex);
    assert.ok(leader !== undefined, `leader ${leaderHex} in ${list.stdout}`);
    const followers = c.members.filter((m) => m !== leader);
    const follower = followers[0];
    assert.ok(follower !== undefined);

    const { s: ls } = await scrape(leader.clientPort);
    assert.equal(ls.get("etcd_server_is_leader"), 1);
    for (const f of followers) {
      const n = histogramCount(ls, "etcd_network_peer_round_trip_time_seconds", `To="${idOf(f.clientPort)}"`);
      assert.ok(n > 0, `round trips to ${f.name}`);
    }
    for (const m of c.members) {
      const { s } = await scrape(m.clientPort);
      assert.ok(histogramCount(s, "etcd_disk_wal_fsync_duration_seconds") > 0, m.name);
      assert.ok(histogramCount(s, "synod_server_apply_duration_seconds") > 0, m.name);
      histogramCount(s, "etcd_disk_backend_commit_duration_seconds");
      // A member's publish of its name may still be waiting (forwarded while another change was
      // pending); nothing else is in flight.
      assert.ok([0, 1].includes(s.get("etcd_server_proposals_pending") ?? -1));
      assert.equal(s.get('synod_server_alarm_active{alarm="NOSPACE"}'), 0);
      assert.equal(s.get("etcd_server_slow_apply_total"), 0);
      assert.ok((s.get('synod_event_loop_delay_seconds{quantile="0.99"}') ?? -1) >= 0);
      assert.equal(s.get("etcd_debugging_mvcc_watcher_total"), 0);
    }
    // A watch on the follower shows in its watch gauges.
    // Watching from the put's revision sees it however long the watch takes to start.
    await put(leader.clientPort, "/w", "1");
    const rev = Number(
      (
        (await gateway(leader.clientPort, "/v3/kv/range", { key: Buffer.from("/w").toString("base64") }))
          .header as { revision: string }
      ).revision,
    );
    const w = spawnCtl(c.endpoints([follower]), ["watch", "/w", `--rev=${rev}`]);
    await waitForOutput(w, "/w\n1\n");
    const { s: fs } = await scrape(follower.clientPort);
    assert.equal(fs.get("etcd_debugging_mvcc_watcher_total"), 1);
    assert.equal(fs.get("etcd_debugging_mvcc_watch_stream_total"), 1);
    assert.equal(fs.get("etcd_debugging_mvcc_slow_watcher_total"), 0);

    for (const m of c.members) {
      assert.deepEqual(await probe(m.clientPort, "/readyz"), { status: 200, body: "ok" });
      assert.deepEqual(await probe(m.clientPort, "/livez"), { status: 200, body: "ok" });
    }
    assert.deepEqual(await probe(follower.clientPort, "/readyz?verbose"), {
      status: 200,
      body: "[+]data_corruption ok\n[+]serializable_read ok\n[+]linearizable_read ok\nok\n",
    });
    assert.deepEqual(await probe(follower.clientPort, "/readyz?verbose&exclude=linearizable_read"), {
      status: 200,
      body: "[+]data_corruption ok\n[+]serializable_read ok\n[+]linearizable_read excluded: ok\nok\n",
    });

    // Quorum lost: the survivor is live but not ready.
    const survivor = follower;
    for (const m of c.members) if (m !== survivor) await c.kill(m);
    await waitFor(
      "the survivor to lose its leader",
      async () => (await scrape(survivor.clientPort)).s.get("etcd_server_has_leader") === 0,
      10_000,
    );
    assert.deepEqual(await probe(survivor.clientPort, "/readyz"), {
      status: 503,
      body: "[+]data_corruption ok\n[+]serializable_read ok\n[-]linearizable_read failed: reason withheld\nreadyz check failed\n",
    });
    assert.match(
      (await probe(survivor.clientPort, "/readyz?verbose")).body,
      /\[-\]linearizable_read failed: no leader\n/,
    );
    assert.deepEqual(await probe(survivor.clientPort, "/livez"), { status: 200, body: "ok" });
    const health = await fetch(`http://127.0.0.1:${survivor.clientPort}/health`);
    assert.equal(health.status, 503);
    assert.deepEqual(await health.json(), { health: "false", reason: "RAFT NO LEADER" });
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.stack : String(e)}\n${logsOf(c)}`);
  } finally {
    await killAllCtl();
    await c.destroy();
  }
});

test("slow-operation warnings: a WAL sync over 1 s logs 'slow fdatasync' and an apply over --experimental-warning-apply-duration logs 'apply request took too long', with figures and counters", async () => {
  // Proves the warnings an operator greps for on a bad disk day, with the measured time and the
  // threshold, and the metrics that count them. The disk is slowed with the WAL's test-only
  // fsync delay hook (SYNOD_TEST_FSYNC_DELAY_FILE); the apply threshold is set below any real
  // apply time.
  const delayFile = join(tmpdir(), `synod-fsync-delay-${process.pid}`);
  writeFileSync(delayFile, "0");
  const c = await allocate(1, ["--experimental-warning-apply-duration=1us"]);
  const saved = process.env.SYNOD_TEST_FSYNC_DELAY_FILE;
  try {
    process.env.SYNOD_TEST_FSYNC_DELAY_FILE = delayFile;
    await startAll(c);
    const m = member(c, 0);
    writeFileSync(delayFile, "1200");
    const started = Date.now();
    await put(m.clientPort, "/slow", "disk");
    assert.ok(Date.now() - started >= 1200, "the write waited for the slow sync");
    writeFileSync(delayFile, "0");
    await waitFor("the slow fdatasync warning", () => Promise.resolve(/slow fdatasync/.test(m.log)), 5000);
    const line = m.log.split("\n").find((l) => l.includes('"msg":"slow fdatasync"')) ?? "";
    const fields = JSON.parse(line) as Record<string, unknown>;
    assert.equal(fields.level, 40, "a warning");
    assert.equal(fields["expected-duration"], "1000ms");
    assert.ok(Number(String(fields.took).replace("ms", "")) >= 1200, line);
    const apply = m.log.split("\n").find((l) => l.includes('"msg":"apply request took too long"')) ?? "";
    assert.match(apply, /"took":"\d+ms","expected-duration":"0\.001ms","entries":\d+,"index":\d+/);
    const { s } = await scrape(m.clientPort);
    assert.ok((s.get("synod_disk_wal_slow_fsync_total") ?? 0) >= 1);
    assert.ok(
      (s.get('etcd_disk_wal_fsync_duration_seconds_bucket{le="2.048"}') ?? 0) >
        (s.get('etcd_disk_wal_fsync_duration_seconds_bucket{le="1.024"}') ?? 0),
    );
    assert.ok((s.get("etcd_server_slow_apply_total") ?? 0) >= 1);
  } finally {
    if (saved === undefined) delete process.env.SYNOD_TEST_FSYNC_DELAY_FILE;
    else process.env.SYNOD_TEST_FSYNC_DELAY_FILE = saved;
    await c.destroy();
    rmSync(delayFile, { force: true });
  }
});
