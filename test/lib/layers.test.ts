// The layering rules of STYLE.md, checked on the source tree: pure layers do no I/O and read no
// clock or ambient randomness, and imports point downward only.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { test } from "node:test";

const root = process.cwd();

function sources(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith(".ts")) out.push(p);
    }
  };
  walk(join(root, dir));
  return out;
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/^\s*(?:import|export)[^'"]*from\s+["']([^"']+)["']/gm)].map(
    (m) => m[1] as string,
  );
}

/** Pure layers: no node:* imports, no clocks, no Math.random. */
const pureLayers = ["src/lib", "src/raft", "src/mvcc"];
/** Pure files in layers that also hold I/O code (the sans-I/O cores the simulator runs). */
const pureFiles = [
  "src/wal/core.ts",
  "src/wal/crc32c.ts",
  "src/wal/format.ts",
  "src/wal/plan.ts",
  "src/wal/recover.ts",
  "src/wal/storage.ts",
  "src/server/transport/frame.ts",
  "src/server/transport/codec.ts",
  "src/server/transport/snapshot.ts",
  "src/server/transport/backoff.ts",
  "src/server/transport/url.ts",
];
/** Layers each layer may import from (besides itself). */
const allowed: Record<string, readonly string[]> = {
  lib: [],
  raft: ["lib"],
  mvcc: ["lib"],
  wal: ["lib", "raft"],
  server: ["lib", "raft", "mvcc", "wal"],
  api: ["lib", "mvcc", "raft", "server"],
  cli: ["lib", "raft", "mvcc", "wal", "server", "api"],
  testing: ["lib", "raft", "mvcc", "wal", "server", "api", "testing"],
};
const banned = [
  "Math.random",
  "Date.now",
  "new Date(",
  "performance.now",
  "setTimeout",
  "setInterval",
  "process.",
];

test("layers: pure code imports no node:* module, no impure file, and never reads the clock or Math.random", () => {
  // Proves the determinism contract of src/lib, src/raft, src/mvcc and the sans-I/O cores of the
  // WAL and the peer transport (the simulator relies on it).
  const pure = new Set<string>(pureFiles.map((f) => join(root, f)));
  for (const layer of pureLayers) for (const f of sources(layer)) pure.add(f);
  assert.ok(pure.size > pureFiles.length, "the pure layers were found");
  const offences: string[] = [];
  for (const f of pure) {
    const rel = relative(root, f);
    for (const spec of importsOf(f)) {
      if (spec.startsWith("node:")) offences.push(`${rel} imports ${spec}`);
      else if (spec.startsWith(".") && !pure.has(resolve(dirname(f), spec).replace(/\.js$/, ".ts"))) {
        offences.push(`${rel} imports impure ${spec}`);
      }
    }
    const text = readFileSync(f, "utf8")
      .replace(/\/\/.*$/gm, "")
      .replace(/\/\*[\s\S]*?\*\//g, "");
    for (const b of banned) if (text.includes(b)) offences.push(`${rel} uses ${b}`);
  }
  assert.deepEqual(offences, []);
});

test("layers: imports point downward only (api → server → raft / wal / mvcc → lib)", () => {
  // Proves no layer reaches sideways or upward, e.g. src/raft importing from src/testing.
  const offences: string[] = [];
  for (const [layer, ok] of Object.entries(allowed)) {
    let files: string[];
    try {
      files = sources(`src/${layer}`);
    } catch {
      continue;
    }
    for (const f of files) {
      for (const spec of importsOf(f)) {
        if (!spec.startsWith(".")) continue;
        const target = relative(join(root, "src"), resolve(dirname(f), spec)).split(sep)[0] as string;
        if (target !== layer && !ok.includes(target)) offences.push(`${relative(root, f)} imports ${spec}`);
      }
    }
  }
  assert.deepEqual(offences, []);
});
