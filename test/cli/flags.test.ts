// Tests of the `synod` command-line decision: help, version, error or serve, in etcd's order.
import assert from "node:assert/strict";
import { test } from "node:test";
import { exitCodeUsage, parseCommandLine } from "../../src/cli/flags.js";
import { helpText } from "../../src/server/confighelp.js";

const about = { synodVersion: "9.8.7", nodeVersion: "v20.0.0", platform: "linux", arch: "x64" };
const noFiles = (path: string): string => {
  throw new Error(`ENOENT: ${path}`);
};

function run(argv: string[], env: Record<string, string | undefined> = {}) {
  return parseCommandLine(argv, env, noFiles, about);
}

test("parseCommandLine: -h and --help print the generated help wherever they appear", () => {
  // Proves help wins over the rest of the command line, and that later arguments are not read (Go's rule).
  for (const argv of [
    ["-h"],
    ["--help"],
    ["-help"],
    ["--name=a", "--help", "--bogus"],
    ["--heartbeat-interval=0", "-h"],
  ]) {
    const r = run(argv);
    assert.equal(r.kind, "help", JSON.stringify(argv));
    if (r.kind === "help") assert.equal(r.text, helpText());
  }
  // An unknown flag before --help is still an error.
  assert.equal(run(["--bogus", "--help"]).kind, "error");
});

test("parseCommandLine: --version prints versions before the configuration is checked", () => {
  // Proves --version works even with settings that would be refused, as etcd's does.
  const r = run(["--version", "--heartbeat-interval=0"]);
  assert.deepEqual(r, {
    kind: "version",
    text: "Synod Version: 9.8.7\netcd API Version: 3.4\nNode Version: v20.0.0\nNode OS/Arch: linux/x64\n",
  });
  assert.equal(run(["--version=true"]).kind, "version");
  assert.equal(run(["--version=false"]).kind, "serve");
});

test("parseCommandLine: refusals carry etcd's usage exit status and name the problem", () => {
  // Proves a bad command line or configuration stops the start with exit status 2 and a clear message.
  const unknown = run(["--no-such-flag"]);
  assert.deepEqual(unknown, {
    kind: "error",
    message:
      "Unknown flag '--no-such-flag': etcd 3.4 has no such flag, and neither has Synod (see --help)\nRun 'synod --help' for usage.",
    exitCode: exitCodeUsage,
  });
  const invalid = run(["--election-timeout=60000"]);
  assert.equal(invalid.kind, "error");
  if (invalid.kind === "error") {
    assert.equal(invalid.exitCode, 2);
    assert.match(invalid.message, /--election-timeout \(60000 ms\) must be at most 50000 ms/);
  }
});

test("parseCommandLine: a valid command line serves with its configuration and warnings", () => {
  // Proves the serve decision carries the loaded configuration and the warning lines to log.
  const r = run(["--name=n1", "--enable-v2=false"], { SYNOD_DATA_DIR: "/tmp/n1" });
  assert.equal(r.kind, "serve");
  if (r.kind === "serve") {
    assert.equal(r.config.name, "n1");
    assert.equal(r.config.dataDir, "/tmp/n1");
    assert.deepEqual(r.warnings, ["--enable-v2 is accepted but ignored: Synod serves only the v3 API"]);
  }
});
