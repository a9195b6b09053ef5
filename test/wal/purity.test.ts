// The WAL's core files are pure, like src/raft: the simulator runs them on SimDisk and relies on
// their determinism. Only the shell (wal.ts, fs.ts, and mod.ts re-exporting it) does I/O.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

const shell = new Set(["wal.ts", "fs.ts", "mod.ts"]);

test("wal: the core files import no node:* module and read no clock or ambient randomness", () => {
  // Proves the sans-I/O split: framing, planning, recovery and CRC code can run in the simulator.
  const dir = join(process.cwd(), "src/wal");
  const offences: string[] = [];
  const files = readdirSync(dir).filter((f) => f.endsWith(".ts") && !shell.has(f));
  assert.ok(files.includes("core.ts") && files.includes("recover.ts"));
  for (const f of files) {
    const text = readFileSync(join(dir, f), "utf8")
      .replace(/\/\/.*$/gm, "")
      .replace(/\/\*[\s\S]*?\*\//g, "");
    if (/from\s+["']node:/.test(text)) offences.push(`${f} imports node:*`);
    if (/from\s+["']\.\/(wal|fs)\.js["']/.test(text)) offences.push(`${f} imports the shell`);
    for (const banned of [
      "Math.random",
      "Date.now",
      "new Date(",
      "performance.now",
      "setTimeout",
      "process.",
    ]) {
      if (text.includes(banned)) offences.push(`${f} uses ${banned}`);
    }
  }
  assert.deepEqual(offences, []);
});
