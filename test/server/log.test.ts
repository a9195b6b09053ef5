// The process log format: pino-compatible JSON lines with member and component fields.
import assert from "node:assert/strict";
import { test } from "node:test";
import { jsonLogger } from "../../src/server/log.js";

test("jsonLogger: writes pino-style JSON lines at or above the level, with base and call fields", () => {
  // Proves the contract log tooling relies on: numeric levels, time, msg, member, component.
  const lines: string[] = [];
  const log = jsonLogger("info", { member: "m1" }, (l) => lines.push(l));
  log.debug("hidden");
  log.info("started", { component: "raft", id: 5n });
  log.warn("slow disk", { component: "wal" });
  assert.equal(lines.length, 2);
  const first = JSON.parse(lines[0] ?? "") as Record<string, unknown>;
  assert.equal(first.level, 30);
  assert.equal(first.msg, "started");
  assert.equal(first.member, "m1");
  assert.equal(first.component, "raft");
  assert.equal(first.id, "5", "bigints are written as strings");
  assert.equal(typeof first.time, "number");
  assert.equal((JSON.parse(lines[1] ?? "") as { level: number }).level, 40);
  assert.ok(lines.every((l) => l.endsWith("\n")));
});
