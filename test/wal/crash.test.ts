// Real crash tests: a child process appends to a WAL in a real directory as fast as it can and
// is killed with SIGKILL at random (seeded) moments, 55 times, reusing the directory so that
// recovery also runs on directories left by an interrupted recovery. After every kill the
// parent reopens the WAL and checks that every acknowledged record is there, in order, intact.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { SeededRng } from "../../src/lib/rng.js";
import { Wal } from "../../src/wal/wal.js";
import { payload } from "./helpers.js";

const childScript = fileURLToPath(new URL("./crash_child.js", import.meta.url));
const kills = 55;

interface Run {
  /** Highest index the child reported durable. */
  acked: number;
  /** Whether the child reached "ready" before the kill. */
  ready: boolean;
}

/** Runs the child until `killAfterMs` past readiness (or past spawn if `early`), then SIGKILLs it. */
async function runChild(dir: string, seed: number, killAfterMs: number, early: boolean): Promise<Run> {
  let child: ChildProcess | null = null;
  try {
    const c = spawn(process.execPath, [childScript, dir, String(seed)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = c;
    const run: Run = { acked: 0, ready: false };
    let out = "";
    let err = "";
    let onReady: () => void = () => {};
    const ready = new Promise<void>((resolve) => {
      onReady = resolve;
    });
    c.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const lines = out.split("\n");
      out = lines.pop() ?? "";
      for (const line of lines) {
        if (line.startsWith("ready ")) {
          run.ready = true;
          onReady();
        } else run.acked = Math.max(run.acked, Number(line));
      }
    });
    c.stderr?.on("data", (chunk: Buffer) => {
      err += chunk.toString();
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      c.on("exit", (code, signal) => resolve({ code, signal })),
    );
    const exitedEarly = exited.then((e) => {
      throw new Error(`child exited by itself (${e.code}/${e.signal}): ${err}`);
    });
    exitedEarly.catch(() => {});
    if (!early) await Promise.race([ready, exitedEarly]);
    await Promise.race([new Promise((resolve) => setTimeout(resolve, killAfterMs)), exitedEarly]);
    c.kill("SIGKILL");
    const e = await exited;
    assert.equal(e.signal, "SIGKILL", `child died by itself: ${err}`);
    return run;
  } finally {
    if (child !== null && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
}

/**
 * Reopens the WAL (taking over the dead child's lock) and checks that it holds at least up to
 * `acked` with every entry intact and no gap; returns the recovered last index.
 */
async function verify(dir: string, acked: number): Promise<number> {
  const wal = await Wal.open(dir, { segmentBytes: 64 * 1024, snapshotsRetained: 2 });
  try {
    const r = wal.recovered;
    const base = r.snapshot?.metadata.index ?? 0;
    assert.ok(r.lastIndex >= acked, `acknowledged ${acked} but recovered only up to ${r.lastIndex}`);
    r.entries.forEach((e, i) => {
      assert.equal(e.index, base + 1 + i, "entries follow the snapshot without a gap");
      assert.equal(e.term, 1);
      assert.deepEqual(e.data, payload(e.index, 1), `entry ${e.index} is intact`);
    });
    if (r.snapshot !== null) assert.equal(r.snapshot.metadata.term, 1);
    return r.lastIndex;
  } finally {
    await wal.close();
  }
}

test("Wal crash: 55 SIGKILLs at random moments lose no acknowledged entry and expose no gap", {
  timeout: 120_000,
}, async () => {
  // Proves durability end to end on a real file system: an index printed by the child was
  // acknowledged by Wal.save, so after any kill (including kills during recovery and repair of
  // the previous kill's directory) it must be recovered, with every entry before it intact.
  const dir = mkdtempSync(join(tmpdir(), "synod-wal-crash-"));
  const rng = new SeededRng(2024);
  try {
    let acked = 0;
    let readyKills = 0;
    for (let k = 0; k < kills; k++) {
      const early = rng.intBelow(5) === 0;
      const run = await runChild(dir, k + 1, early ? 20 + rng.intBelow(80) : 5 + rng.intBelow(150), early);
      if (run.ready) readyKills++;
      acked = Math.max(acked, run.acked);
      // Entries recovered once are on disk (a process kill loses no page cache) and the next
      // child appends after them, so later recoveries must keep them too.
      acked = Math.max(acked, await verify(dir, acked));
    }
    assert.ok(readyKills >= kills / 2, `${readyKills} kills after recovery`);
    assert.ok(acked > 5000, `the children must do real work: ${acked} entries acknowledged`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
