// Test helpers for real processes: the ports they hand out.
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { test } from "node:test";
import { freePort } from "../../src/testing/procs.js";

function listenOn(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve()));
  });
}

test("freePort: never hands out one port twice in a process, and each port can be listened on", async () => {
  const seen = new Set<number>();
  for (let i = 0; i < 400; i++) {
    const port = await freePort();
    assert.ok(port > 0 && port < 65536, `port ${port}`);
    assert.ok(!seen.has(port), `port ${port} handed out twice (call ${i})`);
    seen.add(port);
  }
  // Released ports come back from the kernel; the helper's answers stay distinct and usable.
  const last = [...seen].slice(-5);
  for (const port of last) await listenOn(port);
});
