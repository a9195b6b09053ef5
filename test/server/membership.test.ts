// Runtime membership with real processes and etcdctl: grow 1 → 3 members and shrink back to 1
// while a client keeps writing; nothing acknowledged is lost.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { etcdctl, ProcessCluster, type ProcessMember, waitFor } from "../../src/testing/procs.js";

const mainJs = join(process.cwd(), "dist/src/cli/main.js");

function idOf(list: string, m: ProcessMember): string {
  const line = list.split("\n").find((l) => l.includes(`http://127.0.0.1:${m.peerPort}`));
  assert.ok(line !== undefined, `member ${m.name} not in:\n${list}`);
  return line.split(",")[0]?.trim() ?? "";
}

test("synod membership: grow 1 → 3 and shrink back to 1 while writing", async () => {
  // Proves MemberAdd/MemberRemove through joint-consensus-capable Raft membership, a joining
  // member learning everything from the leader's snapshot, and continuous availability.
  const c = await ProcessCluster.create(3, mainJs);
  const [m1, m2, m3] = c.members as [ProcessMember, ProcessMember, ProcessMember];
  let writing = true;
  const acked: string[] = [];
  try {
    c.start(m1, "new", `${m1.name}=http://127.0.0.1:${m1.peerPort}`);
    await waitFor(
      "m1 serving",
      async () => (await etcdctl(c.endpoints([m1]), ["put", "seed", "0"], "1s")).code === 0,
      15_000,
    );
    const writer = (async () => {
      for (let i = 0; writing && i < 10_000; i++) {
        const r = await etcdctl(c.endpoints([m1]), ["put", `w${i}`, `${i}`], "3s");
        if (r.code === 0) acked.push(`w${i}`);
      }
    })();
    let cluster = `${m1.name}=http://127.0.0.1:${m1.peerPort}`;
    for (const m of [m2, m3]) {
      const add = await etcdctl(c.endpoints([m1]), [
        "member",
        "add",
        m.name,
        `--peer-urls=http://127.0.0.1:${m.peerPort}`,
      ]);
      assert.equal(add.code, 0, add.stderr);
      cluster += `,${m.name}=http://127.0.0.1:${m.peerPort}`;
      c.start(m, "existing", cluster);
      await waitFor(
        `${m.name} caught up`,
        async () =>
          (
            await etcdctl(c.endpoints([m]), ["get", "seed", "--print-value-only", "--consistency=s"], "1s")
          ).stdout.trim() === "0",
        20_000,
      );
    }
    const list = (await etcdctl(c.endpoints([m1]), ["member", "list"])).stdout;
    assert.equal(list.trim().split("\n").length, 3);
    for (const m of [m3, m2]) {
      const current = (await etcdctl(c.endpoints([m1]), ["member", "list"])).stdout;
      const rm = await etcdctl(c.endpoints([m1]), ["member", "remove", idOf(current, m)]);
      assert.equal(rm.code, 0, rm.stderr);
      await c.kill(m, "SIGTERM");
    }
    const after = (await etcdctl(c.endpoints([m1]), ["member", "list"])).stdout;
    assert.equal(after.trim().split("\n").length, 1);
    writing = false;
    await writer;
    assert.ok(acked.length > 0, "the writer made progress during the changes");
    for (const k of acked) {
      const r = await etcdctl(c.endpoints([m1]), ["get", k, "--print-value-only"]);
      assert.equal(r.stdout.trim(), k.slice(1), `acknowledged write ${k}`);
    }
  } finally {
    writing = false;
    await c.destroy();
  }
});
