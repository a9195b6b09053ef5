// The V8 garbage-collector flags a serving member sets on itself, and when it leaves them alone.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import {
  gcTuningFlags,
  incrementalMarkingHardTriggerPercent,
  incrementalMarkingSoftTriggerPercent,
} from "../../src/cli/gctuning.js";

test("gcTuningFlags: both incremental-marking triggers, as shares of the old generation's limit", () => {
  // Proves the default: marking starts by task at the soft share and at once at the hard share.
  assert.equal(
    gcTuningFlags([]),
    `--incremental-marking-soft-trigger=${incrementalMarkingSoftTriggerPercent} --incremental-marking-hard-trigger=${incrementalMarkingHardTriggerPercent}`,
  );
  assert.ok(incrementalMarkingSoftTriggerPercent < incrementalMarkingHardTriggerPercent);
  assert.ok(incrementalMarkingHardTriggerPercent < 100);
  assert.equal(gcTuningFlags(["--enable-source-maps", "--max-old-space-size=4096"]), gcTuningFlags([]));
});

test("gcTuningFlags: an operator's own trigger flag, in any spelling, turns the tuning off", () => {
  // Proves that node flags given on the command line win over the member's own choice.
  for (const arg of [
    "--incremental-marking-soft-trigger=50",
    "--incremental_marking_hard_trigger=99",
    "--no-incremental-marking-soft-trigger",
  ]) {
    assert.equal(gcTuningFlags(["--enable-source-maps", arg]), "", arg);
  }
});

test("tuneGarbageCollector: V8 takes the flags in a running process", () => {
  // Proves the flags are ones this node's V8 knows: an unknown flag would make V8 print
  // "unrecognized flag" on stdout, before the JSON line.
  const module = join(process.cwd(), "dist/src/cli/gctuning.js");
  const script = `import("${module}").then((m) => console.log(JSON.stringify(m.tuneGarbageCollector())))`;
  const res = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
  assert.equal(res.status, 0, res.stderr);
  assert.equal(res.stderr, "");
  assert.equal(JSON.parse(res.stdout), gcTuningFlags([]));
});
