// Regression test for a bug found by the chaos harness (npm run chaos): a member answered a
// client with the result of another command.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { utf8 } from "../../src/mvcc/mod.js";
import type { MemberInfo } from "../../src/server/envelope.js";
import { Member } from "../../src/server/member.js";
import { LoopNet } from "../../src/testing/loopnet.js";

const infos: MemberInfo[] = [1, 2, 3].map((id) => ({
  id,
  name: `m${id}`,
  peerUrls: [`http://127.0.0.1:${2380 + id}`],
  clientUrls: [],
  isLearner: false,
}));

async function until(what: string, f: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!f()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test("Member: a restarted member never answers a new request with the result of a command its previous run proposed", async () => {
  // Proves request ids are unique across a member's runs. Commands carry (proposer id, request
  // id); the proposer answers its waiting client when the command is applied. A member whose
  // ids restarted at 1 on every start matched a command proposed by its previous run (still to
  // be applied after the restart: here, a member rejoining with a wiped data directory replays
  // the whole log) to a new request with the same id, and answered that client with the other
  // command's result — chaos runs saw appends answered "compare failed" although applied (then
  // appended twice by the client's retry) and "command put answered as txn" internal errors.
  const net = new LoopNet();
  const root = mkdtempSync(join(tmpdir(), "synod-reqid-"));
  const members = new Map<number, Member>();
  const start = async (id: number, state: "new" | "existing"): Promise<Member> => {
    const m = await Member.start({
      id,
      dataDir: join(root, `m${id}-${state}`),
      initialCluster: infos,
      initialClusterState: state,
      heartbeatMs: 10,
      electionMs: 100,
      transport: net.transport(id),
    });
    net.attach(id, m);
    members.set(id, m);
    return m;
  };
  try {
    for (const id of [1, 2, 3]) await start(id, "new");
    await until("a leader", () => [...members.values()].some((m) => m.isLeader));
    const follower = [...members.values()].find((m) => !m.isLeader) as Member;
    const first = await follower.propose({ type: "put", request: { key: utf8("a"), value: utf8("1") } });
    assert.ok(first.ok && first.value.type === "put");
    // The follower loses its disk and rejoins empty; it learns the log (with its own earlier
    // command in it) from the leader, and a client's request reaches it before that.
    net.detach(follower.id);
    await follower.stop();
    const rejoined = await start(follower.id, "existing");
    const second = await rejoined.propose({ type: "put", request: { key: utf8("b"), value: utf8("2") } });
    assert.ok(second.ok && second.value.type === "put");
    const b = rejoined.store.range({ key: utf8("b") });
    assert.ok(b.ok);
    assert.equal(
      second.value.response.revision,
      b.value.kvs[0]?.modRevision,
      "the answer is the revision at which this put was applied",
    );
    assert.notEqual(second.value.response.revision, first.value.response.revision);
  } finally {
    for (const [id, m] of members) {
      net.detach(id);
      await m.stop();
    }
    rmSync(root, { recursive: true, force: true });
  }
});
