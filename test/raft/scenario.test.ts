// Runs every scenario script in test/raft/testdata: each file is one test, and each command's
// actual output must equal the expected output checked in below it. With REWRITE=1 the files are
// regenerated in place instead (review the diff before committing).
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { diffLines, renderScenario, runScenario } from "../../src/testing/scenario.js";

const dir = join(process.cwd(), "test/raft/testdata");
const rewrite = process.env.REWRITE === "1";
/** Mismatching blocks shown per file; later blocks usually differ because earlier ones did. */
const mismatchesShownMax = 3;

const files = readdirSync(dir)
  .filter((f) => f.endsWith(".txt"))
  .sort();

test("Raft scenario: testdata holds scenario files", () => {
  // Proves the suite is not vacuous: a wrong working directory would otherwise find no scripts.
  assert.ok(files.length >= 15, `expected at least 15 scenario files in ${dir}, found ${files.length}`);
});

for (const file of files) {
  test(`Raft scenario: ${file}`, () => {
    // Proves the core still behaves exactly as the checked-in transcript of this scenario says.
    const path = join(dir, file);
    const source = readFileSync(path, "utf8");
    let run: ReturnType<typeof runScenario>;
    try {
      run = runScenario(source);
    } catch (err) {
      throw new Error(`${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (rewrite) {
      const updated = renderScenario(run.parts, run.results);
      if (updated !== source) writeFileSync(path, updated);
      return;
    }
    const bad = run.results.filter((r) => r.expected.join("\n") !== r.actual.join("\n"));
    if (bad.length === 0) return;
    const shown = bad.slice(0, mismatchesShownMax).map((r) => {
      const diff = diffLines(r.expected, r.actual);
      return `${path}:${r.line}: ${r.command}\n--- expected\n+++ actual\n${diff}`;
    });
    const more = bad.length > shown.length ? `\n(${bad.length - shown.length} more mismatching blocks)` : "";
    assert.fail(
      `${bad.length} block(s) differ; rerun with REWRITE=1 to accept.\n${shown.join("\n\n")}${more}`,
    );
  });
}
