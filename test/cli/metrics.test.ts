// `--listen-metrics-urls` and the member's /metrics text, against a real synod process.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { freePort, ProcessCluster, waitFor } from "../../src/testing/procs.js";

const mainJs = join(process.cwd(), "dist/src/cli/main.js");

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

async function get(url: string): Promise<{ status: number; type: string; body: string }> {
  const r = await fetch(url);
  return { status: r.status, type: r.headers.get("content-type") ?? "", body: await r.text() };
}

test("cli: --listen-metrics-urls serves /metrics and /health like the client port, with etcd's metric names", async () => {
  // Proves that a metrics URL listens and answers only GET /metrics and GET /health with the
  // same bodies as the client port, and that /metrics carries the member's state under etcd's
  // names, HELP and TYPE lines (leader, revision moving with writes, sizes, proposals).
  const metricsPort = await freePort();
  const c = await ProcessCluster.create(1, mainJs, [`--listen-metrics-urls=http://127.0.0.1:${metricsPort}`]);
  try {
    const m = c.members[0];
    assert.ok(m !== undefined);
    c.start(m);
    const client = `http://127.0.0.1:${m.clientPort}`;
    const metrics = `http://127.0.0.1:${metricsPort}`;
    await waitFor(
      "the member to lead",
      async () => {
        try {
          return (await get(`${metrics}/health`)).status === 200;
        } catch {
          return false;
        }
      },
      15_000,
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${m.log}`);
    });
    const health = await get(`${metrics}/health`);
    assert.deepEqual(JSON.parse(health.body), { health: "true", reason: "" });
    assert.equal(health.body, (await get(`${client}/health`)).body);

    const before = await get(`${metrics}/metrics`);
    assert.equal(before.status, 200);
    assert.match(before.type, /^text\/plain; version=0\.0\.4/);
    for (const [name, type] of [
      ["etcd_server_has_leader", "gauge"],
      ["etcd_server_is_leader", "gauge"],
      ["etcd_server_leader_changes_seen_total", "counter"],
      ["etcd_debugging_mvcc_current_revision", "gauge"],
      ["etcd_mvcc_db_total_size_in_bytes", "gauge"],
      ["process_resident_memory_bytes", "gauge"],
    ]) {
      assert.match(before.body, new RegExp(`^# HELP ${name} \\S`, "m"), name);
      assert.match(before.body, new RegExp(`^# TYPE ${name} ${type}$`, "m"), name);
    }
    const s0 = samples(before.body);
    assert.equal(s0.get("etcd_server_has_leader"), 1);
    assert.equal(s0.get("etcd_server_is_leader"), 1);
    assert.equal(s0.get("etcd_server_leader_changes_seen_total"), 1);
    assert.equal(s0.get('etcd_server_version{server_version="3.5.0"}'), 1);
    assert.ok((s0.get("process_resident_memory_bytes") ?? 0) > 1_000_000);
    assert.ok((s0.get("etcd_mvcc_db_total_size_in_bytes") ?? 0) >= 0);
    const rev0 = s0.get("etcd_debugging_mvcc_current_revision") ?? -1;
    assert.ok(rev0 >= 1);

    const put = await fetch(`${client}/v3/kv/put`, {
      method: "POST",
      body: JSON.stringify({
        key: Buffer.from("k").toString("base64"),
        value: Buffer.from("v".repeat(1000)).toString("base64"),
      }),
    });
    assert.equal(put.status, 200);
    const s1 = samples((await get(`${metrics}/metrics`)).body);
    assert.equal(s1.get("etcd_debugging_mvcc_current_revision"), rev0 + 1);
    assert.ok(
      (s1.get("etcd_mvcc_db_total_size_in_bytes") ?? 0) > (s0.get("etcd_mvcc_db_total_size_in_bytes") ?? 0),
    );
    assert.ok(
      (s1.get("etcd_server_proposals_applied_total") ?? 0) >
        (s0.get("etcd_server_proposals_applied_total") ?? 0),
    );

    // The client port serves the same metric text (same series; values may move between scrapes).
    const viaClient = samples((await get(`${client}/metrics`)).body);
    assert.deepEqual([...viaClient.keys()].sort(), [...s1.keys()].sort());
    assert.equal(viaClient.get("etcd_debugging_mvcc_current_revision"), rev0 + 1);

    // Only /metrics and /health: no gateway, no version.
    assert.equal((await get(`${metrics}/version`)).status, 404);
    const post = await fetch(`${metrics}/v3/kv/range`, { method: "POST", body: "{}" });
    assert.equal(post.status, 404);
  } finally {
    await c.destroy();
  }
});

test("cli: a metrics URL that cannot be bound fails startup and the process exits", async () => {
  // Proves startup failure handling: with the metrics port taken, synod reports it and exits
  // non-zero instead of serving without its metrics listener.
  const blocker = await new Promise<Server>((resolve) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => resolve(srv));
  });
  const addr = blocker.address();
  const port = typeof addr === "object" && addr !== null ? addr.port : 0;
  const c = await ProcessCluster.create(1, mainJs, [`--listen-metrics-urls=http://127.0.0.1:${port}`]);
  try {
    const m = c.members[0];
    assert.ok(m !== undefined);
    c.start(m);
    const proc = m.proc;
    assert.ok(proc !== null);
    const code = await new Promise<number | null>((resolve) => proc.once("exit", (n) => resolve(n)));
    assert.equal(code, 1, m.log);
    assert.match(m.log, /failed to start: .*EADDRINUSE/);
  } finally {
    await c.destroy();
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
  }
});
