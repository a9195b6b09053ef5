// Runs every compiled test file under dist/test with node's built-in test runner.
// Node 20 has no glob support, so the files are listed here explicitly by walking the folder;
// a test file is any `*.test.js`. Extra arguments are passed to `node --test`.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function walk(dir, out) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith(".test.js")) out.push(path);
  }
  return out;
}

const filter = process.env.TEST_FILTER ?? "";
const files = walk("dist/test", []).filter((f) => f.includes(filter));
if (files.length === 0) {
  console.error(`no test files found under dist/test (filter '${filter}'); run 'npm run build' first`);
  process.exit(1);
}
// A per-test timeout turns a hang into a failure with a name, instead of a stalled CI run.
const timeout = "--test-timeout=300000";
// Node 20's V8 can deadlock at exit: the main thread drains platform tasks while a background
// TurboFan job waits for it to run a garbage collection (seen here as test files that finished
// every test and never exited, 1 run in ~10 of test/mvcc/lease.test.js). Without concurrent
// recompilation there is no such job; the test runner passes the flag to every test process.
const v8Flags = ["--no-concurrent-recompilation"];
const result = spawnSync(
  process.execPath,
  [...v8Flags, "--test", timeout, ...process.argv.slice(2), ...files],
  {
    stdio: "inherit",
  },
);
process.exit(result.status ?? 1);
