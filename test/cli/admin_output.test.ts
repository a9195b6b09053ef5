// The admin CLI's pure parts: argument parsing (global flags anywhere, SYNOD_ENDPOINTS), which
// command lines are admin commands, tables, sizes, colour choice and the progress bar on a TTY.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseAdminArgs } from "../../src/cli/admin/args.js";
import { isAdminInvocation } from "../../src/cli/admin/mod.js";
import { humanBytes, humanMs, type Out, ProgressBar, styleFor, table } from "../../src/cli/admin/output.js";

const esc = String.fromCharCode(27);

function capture(isTTY: boolean): Out & { text: string } {
  const out = {
    text: "",
    isTTY,
    write(s: string): void {
      out.text += s;
    },
  };
  return out;
}

test("parseAdminArgs: global flags anywhere, command flags with values, SYNOD_ENDPOINTS below --endpoints", () => {
  // Proves etcdctl's global options parse in any position and the endpoint precedence.
  const a = parseAdminArgs(
    ["member", "add", "m4", "--peer-urls", "http://h:1", "-w", "json", "--learner"],
    {},
    new Set(["peer-urls"]),
  );
  assert.ok(typeof a !== "string");
  assert.deepEqual(a.words, ["member", "add", "m4"]);
  assert.equal(a.flags.get("peer-urls"), "http://h:1");
  assert.equal(a.flags.get("learner"), true);
  assert.equal(a.global.writeOut, "json");
  assert.deepEqual(a.global.endpoints, ["127.0.0.1:2379"]);
  const env = { SYNOD_ENDPOINTS: "http://a:1, b:2" };
  const b = parseAdminArgs(["status"], env, new Set());
  assert.ok(typeof b !== "string");
  assert.deepEqual(b.global.endpoints, ["a:1", "b:2"]);
  const c = parseAdminArgs(["--endpoints=c:3", "status", "--command-timeout=2s"], env, new Set());
  assert.ok(typeof c !== "string");
  assert.deepEqual(c.global.endpoints, ["c:3"]);
  assert.equal(c.global.commandTimeoutMs, 2000);
  assert.equal(
    parseAdminArgs(["status", "--dial-timeout=soon"], {}, new Set()),
    "--dial-timeout must be a positive duration such as 5s, got 'soon'",
  );
  assert.equal(
    parseAdminArgs(["status", "--endpoints"], {}, new Set()),
    "flag needs an argument: --endpoints",
  );
  assert.equal(
    parseAdminArgs(["status", "--color=red"], {}, new Set()),
    "--color must be one of always, never, auto, got 'red'",
  );
});

test("isAdminInvocation: admin commands and admin-only flags first; server flags stay the server's", () => {
  // Proves `synod --name x ...` still starts a member while `synod status` and
  // `synod --endpoints=... status` run the admin CLI.
  assert.equal(isAdminInvocation(["status"]), true);
  assert.equal(isAdminInvocation(["snapshot", "restore", "f"]), true);
  assert.equal(isAdminInvocation(["--endpoints=a:1", "status"]), true);
  assert.equal(isAdminInvocation(["-w", "json", "status"]), true);
  assert.equal(isAdminInvocation([]), false);
  assert.equal(isAdminInvocation(["--name", "status"]), false);
  assert.equal(isAdminInvocation(["--data-dir=/d"]), false);
});

test("table, humanBytes, humanMs: etcdctl-style tables, numbers right-aligned, colour not counted in widths", () => {
  // Proves the rendering people read: column widths ignore ANSI codes, numeric cells align right.
  const st = styleFor(capture(false), "always", {});
  const t = table(
    ["ID", "SIZE"],
    [
      [st.green("a"), "2.1 MB"],
      ["bbbb", "10 kB"],
    ],
    styleFor(capture(false), "never", {}),
  );
  assert.equal(
    t,
    "+------+--------+\n|  ID  |  SIZE  |\n+------+--------+\n| " +
      `${esc}[32ma${esc}[0m    | 2.1 MB |\n| bbbb |  10 kB |\n+------+--------+\n`,
  );
  assert.equal(humanBytes(0), "0 B");
  assert.equal(humanBytes(2_101_248), "2.1 MB");
  assert.equal(humanBytes(25_000), "25 kB");
  assert.equal(humanMs(0.5), "500 µs");
  assert.equal(humanMs(12.34), "12 ms");
  assert.equal(humanMs(1500), "1.50 s");
});

test("styleFor: colour on a terminal unless NO_COLOR or --color=never; always when forced", () => {
  // Proves colour never reaches pipes and files by default.
  assert.equal(styleFor(capture(true), "auto", {}).red("x"), `${esc}[31mx${esc}[0m`);
  assert.equal(styleFor(capture(false), "auto", {}).red("x"), "x");
  assert.equal(styleFor(capture(true), "auto", { NO_COLOR: "1" }).red("x"), "x");
  assert.equal(styleFor(capture(true), "never", {}).red("x"), "x");
  assert.equal(styleFor(capture(false), "always", {}).red("x"), `${esc}[31mx${esc}[0m`);
});

test("ProgressBar: redraws one line in place on a terminal, draws nothing elsewhere", () => {
  // Proves the transfer bar of snapshot save/restore: fraction, sizes, and a final newline.
  const tty = capture(true);
  const bar = new ProgressBar(tty, "saving");
  bar.update(500_000, 1_000_000, true);
  bar.update(1_000_000, 1_000_000, true);
  bar.finish();
  const frames = tty.text.split("\r").filter((f) => f !== "");
  assert.equal(frames.length, 2);
  assert.match(frames[0] ?? "", /^saving \[#{15}\.{15}\] {2}50% {2}500 kB \/ 1 MB {2}.*\/s/);
  assert.match(frames[1] ?? "", /^saving \[#{30}\] 100% {2}1 MB \/ 1 MB {2}.*\/s.*\n$/);
  const pipe = capture(false);
  const quiet = new ProgressBar(pipe, "saving");
  quiet.update(1, 2, true);
  quiet.finish();
  assert.equal(pipe.text, "");
});
