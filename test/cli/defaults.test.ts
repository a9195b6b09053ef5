// `npm start` with no flags: one member, data in ./data, etcd API on 127.0.0.1:2379.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { etcdctl, waitFor } from "../../src/testing/procs.js";

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

test("synod with no flags: serves etcdctl's default endpoint with data in ./data, and stops on SIGTERM", async () => {
  // Proves the quick start of the README: nothing to configure, etcd's default ports.
  assert.ok(await portFree(2379), "port 2379 must be free for this test (is an etcd or synod running?)");
  assert.ok(await portFree(2380), "port 2380 must be free for this test");
  const cwd = mkdtempSync(join(tmpdir(), "synod-defaults-"));
  const proc = spawn(process.execPath, [join(process.cwd(), "dist/src/cli/main.js")], {
    cwd,
    stdio: "ignore",
  });
  try {
    await waitFor(
      "the default endpoint",
      async () => (await etcdctl("127.0.0.1:2379", ["put", "a", "1"], "1s")).code === 0,
      15_000,
    );
    const got = await etcdctl("127.0.0.1:2379", ["get", "a", "--print-value-only"]);
    assert.equal(got.stdout.trim(), "1");
    assert.ok(existsSync(join(cwd, "data")), "the data directory is ./data");
    const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
    proc.kill("SIGTERM");
    assert.equal(await exited, 0, "a graceful stop exits with status 0");
  } finally {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
    rmSync(cwd, { recursive: true, force: true });
  }
});
