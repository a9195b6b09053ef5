// The rolling restart procedure of docs/operations.md on a real three-member cluster under write
// load: each member in turn (followers first, the leader last) gets SIGTERM, is started again
// with the same flags (the point where an upgrade swaps the binary), and must be ready and caught
// up before the next one goes. No write may fail beyond the client's retries.
import assert from "node:assert/strict";
import { test } from "node:test";
import { EtcdClient } from "../../src/api/etcd/client/mod.js";
import { type ProcessMember, waitFor } from "../../src/testing/procs.js";
import { allocate, gateway, get, hashKv, initialClusterOf, logsOf, startAll } from "./adminhelpers.js";

/** Concurrent writers during the restarts. */
const writers = 4;
/** How long one write may keep being retried before it counts as failed, in ms. */
const retryBudgetMs = 15_000;
/** Pause between retries of one write, in ms. */
const retryPauseMs = 100;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test("rolling restart under write load: every member restarted in turn, no write fails beyond client retries, nothing acknowledged is lost", async () => {
  // Proves the documented procedure keeps the cluster available: with one member down at a time
  // a quorum remains, clients retry on another endpoint, and a restarted member catches up from
  // its WAL and the leader before the next member stops.
  const c = await allocate(3);
  let stop = false;
  const acked = new Map<string, string>();
  let retries = 0;
  let failed = 0;
  const writeWithRetries = async (key: string, value: string, cl: EtcdClient): Promise<void> => {
    const deadline = Date.now() + retryBudgetMs;
    for (;;) {
      try {
        await cl.put({ key, value });
        acked.set(key, value);
        return;
      } catch (e) {
        // A put of the same key and value is idempotent, so retrying after an unknown outcome
        // is safe; etcd's clients retry the same way.
        if (Date.now() > deadline) {
          failed++;
          throw e;
        }
        retries++;
        await sleep(retryPauseMs);
      }
    }
  };
  try {
    await startAll(c);
    const cl = new EtcdClient({
      endpoints: c.endpoints().split(","),
      dialTimeoutMs: 500,
      defaultTimeoutMs: 3000,
    });
    try {
      const load = Array.from({ length: writers }, async (_, w) => {
        for (let i = 0; !stop; i++) await writeWithRetries(`/rr/${w}/${i}`, `v${w}.${i}`, cl);
      });
      const ackedAt: number[] = [];
      const leaderId = async (): Promise<string> => {
        const s = await gateway(c.members[0]?.clientPort ?? 0, "/v3/maintenance/status", {});
        return String(s.leader);
      };
      const idOf = async (m: ProcessMember): Promise<string> => {
        const s = await gateway(m.clientPort, "/v3/maintenance/status", {});
        return String((s.header as { member_id: string }).member_id);
      };
      await sleep(1000);
      // Followers first, the leader last (one leader change instead of up to three).
      const lead = await leaderId();
      const ids = await Promise.all(c.members.map(idOf));
      const order = [...c.members].sort(
        (a, b) => Number(ids[c.members.indexOf(a)] === lead) - Number(ids[c.members.indexOf(b)] === lead),
      );
      const initial = initialClusterOf(c.members);
      for (const m of order) {
        const before = acked.size;
        await c.kill(m, "SIGTERM");
        await sleep(1000);
        assert.ok(acked.size > before, `writes continue while ${m.name} is down`);
        c.start(m, "new", initial);
        await waitFor(
          `${m.name} ready after its restart`,
          async () => {
            const r = await fetch(`http://127.0.0.1:${m.clientPort}/readyz`).catch(() => null);
            return r?.status === 200;
          },
          20_000,
        );
        // Caught up: its applied index reaches what the cluster had committed when it came back.
        const target = Number(
          (await gateway(order.find((x) => x !== m)?.clientPort ?? 0, "/v3/maintenance/status", {}))
            .raftIndex,
        );
        await waitFor(
          `${m.name} to catch up`,
          async () =>
            Number((await gateway(m.clientPort, "/v3/maintenance/status", {})).raftAppliedIndex) >= target,
          20_000,
        );
        ackedAt.push(acked.size);
      }
      await sleep(500);
      stop = true;
      await Promise.all(load);
      assert.equal(failed, 0, "no write failed beyond its retries");
      assert.ok(acked.size > 100, `writes acknowledged: ${acked.size}`);
      // Every acknowledged write is there, on every member (sampled), and the members agree.
      const keys = [...acked.keys()];
      for (let i = 0; i < keys.length; i += Math.max(1, Math.floor(keys.length / 200))) {
        const k = keys[i] as string;
        assert.equal(await get(c.members[i % 3]?.clientPort ?? 0, k), acked.get(k), k);
      }
      for (let w = 0; w < writers; w++) {
        const count = (await cl.range({ key: `/rr/${w}/`, rangeEnd: `/rr/${w}0`, countOnly: true })).count;
        assert.equal(count, keys.filter((k) => k.startsWith(`/rr/${w}/`)).length, `writer ${w}'s keys`);
      }
      const h0 = await hashKv(c.members[0]?.clientPort ?? 0);
      for (const m of c.members.slice(1))
        assert.deepEqual(await hashKv(m.clientPort, h0.revision), h0, m.name);
      process.stdout.write(
        `# rolling restart: ${acked.size} writes acknowledged, ${retries} client retries, 0 failed; acked after each restart: ${ackedAt.join(", ")}\n`,
      );
    } finally {
      stop = true;
      cl.close();
    }
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.stack : String(e)}\n${logsOf(c)}`);
  } finally {
    await c.destroy();
  }
});
