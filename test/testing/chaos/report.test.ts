// The chaos report: the summary counts operations by workload, kind and outcome and faults by
// kind, takes the worst verdict; and on anomalies the minimal failing sub-history and an HTML
// timeline of it are written to the run folder.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { LockHold } from "../../../src/testing/chaos/history.js";
import { checkAppend, checkRegister } from "../../../src/testing/chaos/linearizable.js";
import { checkLocks } from "../../../src/testing/chaos/lockcheck.js";
import {
  formatSummary,
  type NemesisEvent,
  renderTimeline,
  summarize,
  writeReport,
} from "../../../src/testing/chaos/report.js";
import { checkWatches } from "../../../src/testing/chaos/watchcheck.js";
import { AppendHistory, RegisterHistory } from "./histories.js";

const ms = 1e6;
const nemesis: NemesisEvent[] = [
  { time: 2.5, kind: "kill", detail: "member m1 (leader) SIGKILL" },
  { time: 3.5, kind: "restart", detail: "member m1" },
  { time: 99, kind: "partition", detail: "{m1} | {m2, m3}" },
];

/** A register key with a stale read, one healthy register key, and a valid append key. */
function histories() {
  const bad = new RegisterHistory("r<1>")
    .write(1, "a", 0 * ms, 1 * ms)
    .write(1, "b", 2 * ms, 3 * ms)
    .read(2, "a", 4 * ms, 5 * ms)
    .write(3, "c", 1 * ms, 9 * ms, "unknown")
    .write(3, "d", 1 * ms, 2 * ms, "fail");
  const good = new RegisterHistory("r2").write(1, "x", 0, ms).read(2, "x", 2 * ms, 3 * ms);
  const register = [...bad.ops, ...good.ops.map((op) => ({ ...op, id: op.id + 100 }))];
  const append = new AppendHistory("l").append(1, "e1", 0, ms).read(2, ["e1"], 2 * ms, 3 * ms).ops;
  return { register, append };
}

test("summarize and formatSummary: counts ops and faults, and the worst verdict wins", () => {
  // Proves the summary's totals per workload/kind/outcome and per fault kind, and that one
  // invalid checker makes the run invalid while "unknown" only wins over "valid".
  const { register, append } = histories();
  const locks: LockHold[] = [
    {
      client: 1,
      lease: "7",
      token: 5,
      acquired: 0,
      released: ms,
      leaseLostAt: null,
      counterRead: 0,
      counterWritten: 1,
      writeOutcome: "ok",
    },
  ];
  const s = summarize({
    register,
    append,
    locks,
    watches: [{ watcher: 1, prefix: "", startRevision: 1, events: [], compactedAt: 4, lastRevision: 0 }],
    nemesis,
    results: { register: checkRegister(register), append: checkAppend(append), lock: checkLocks(locks) },
    extra: [{ name: "convergence", verdict: "valid", detail: "3 members, HashKV equal" }],
  });
  assert.equal(s.verdict, "invalid");
  assert.deepEqual(s.ops["register.write"], { ok: 3, fail: 1, unknown: 1, total: 5 });
  assert.deepEqual(s.ops["register.read"], { ok: 2, fail: 0, unknown: 0, total: 2 });
  assert.deepEqual(s.ops["lock.write"], { ok: 1, fail: 0, unknown: 0, total: 1 });
  assert.equal(s.opsTotal.total, 7 + 2 + 2);
  assert.deepEqual(s.faults, { kill: 1, restart: 1, partition: 1 });
  assert.deepEqual(s.watch, { streams: 1, events: 0, compacted: 1 });
  assert.deepEqual(
    s.checkers.map((c) => [c.name, c.verdict]),
    [
      ["register", "invalid"],
      ["append", "valid"],
      ["lock", "valid"],
      ["convergence", "valid"],
    ],
  );
  const text = formatSummary(s);
  assert.match(text, /^chaos run: INVALID\n/);
  assert.match(text, /register\.write +5 {2}\(ok 3, fail 1, unknown 1\)/);
  assert.match(text, /faults injected: 3 \(kill 1, partition 1, restart 1\)/);
  assert.match(text, /register +invalid +7 ops on 2 keys .*not linearizable: r<1>/);
  const undecided = summarize({
    nemesis: [],
    results: {},
    extra: [{ name: "x", verdict: "unknown", detail: "" }],
  });
  assert.equal(undecided.verdict, "unknown");
});

test("writeReport: writes the summary, and per anomaly the failing sub-history and its HTML timeline", () => {
  // Proves the run folder gets summary.{json,txt}, and for the non-linearizable key a JSON
  // witness with its ops and a self-contained HTML page drawing them (escaped) with the nemesis
  // events inside its window; watch and lock anomalies get their files too.
  const dir = mkdtempSync(join(tmpdir(), "chaos-report-"));
  try {
    const { register, append } = histories();
    const locks: LockHold[] = [
      {
        client: 1,
        lease: "7",
        token: 5,
        acquired: 0,
        released: 10 * ms,
        leaseLostAt: null,
        counterRead: 0,
        counterWritten: 1,
        writeOutcome: "ok",
      },
      {
        client: 2,
        lease: "8",
        token: 6,
        acquired: 5 * ms,
        released: 12 * ms,
        leaseLostAt: null,
        counterRead: 1,
        counterWritten: 2,
        writeOutcome: "ok",
      },
    ];
    const ev = (revision: number, value: string) => ({
      revision,
      key: "k",
      type: "put" as const,
      value,
      modRevision: revision,
    });
    const watch = checkWatches([
      {
        watcher: 1,
        prefix: "",
        startRevision: 1,
        events: [ev(2, "a"), ev(3, "b")],
        compactedAt: null,
        lastRevision: 3,
      },
      { watcher: 2, prefix: "", startRevision: 1, events: [ev(3, "b")], compactedAt: null, lastRevision: 3 },
    ]);
    const out = writeReport(join(dir, "run-1"), {
      title: "test run",
      register,
      append,
      locks,
      nemesis,
      results: {
        register: checkRegister(register),
        append: checkAppend(append),
        watch,
        lock: checkLocks(locks),
      },
    });
    assert.deepEqual(out.files, [
      "summary.json",
      "summary.txt",
      "anomaly-register-0-r_1_.json",
      "anomaly-register-0-r_1_.html",
      "anomaly-watch.json",
      "anomaly-lock.json",
      "anomaly-lock.html",
    ]);
    const run = join(dir, "run-1");
    assert.equal(JSON.parse(readFileSync(join(run, "summary.json"), "utf8")).verdict, "invalid");
    assert.match(readFileSync(join(run, "summary.txt"), "utf8"), /^test run: INVALID/);
    const witness = JSON.parse(readFileSync(join(run, "anomaly-register-0-r_1_.json"), "utf8"));
    assert.equal(witness.key, "r<1>");
    assert.deepEqual(
      witness.witness.ops.map((op: { id: number }) => op.id),
      [0, 1, 2],
    );
    const html = readFileSync(join(run, "anomaly-register-0-r_1_.html"), "utf8");
    assert.match(html, /^<!doctype html>/);
    assert.match(html, /r&#60;1&#62;: not linearizable \(3 ops, minimal\)/, "the key is escaped");
    for (const op of ["write(&#34;a&#34;) = ok", "write(&#34;b&#34;) = ok", "read() = &#34;a&#34;"]) {
      assert.ok(html.includes(op), `the timeline shows ${op}`);
    }
    assert.equal((html.match(/<rect /g) ?? []).length, 3, "one bar per op");
    assert.match(html, />client 1<\/text>[\s\S]*>client 2<\/text>/, "one row per client");
    assert.match(html, /kill: member m1 \(leader\) SIGKILL/, "nemesis events inside the window are drawn");
    assert.doesNotMatch(html, /\{m1\} \| \{m2, m3\}/, "events outside the window are not");
    assert.equal(JSON.parse(readFileSync(join(run, "anomaly-watch.json"), "utf8")).anomalies[0].kind, "gap");
    assert.match(readFileSync(join(run, "anomaly-lock.html"), "utf8"), /token 6/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("renderTimeline: escapes text, draws open bars for unknown outcomes and copes with no bars", () => {
  // Proves the page is well formed whatever the labels contain, and renders an empty history.
  const page = renderTimeline(
    "<script>",
    [
      { row: "client 1", start: 0, end: null, outcome: "unknown", label: 'w("<b>")', title: "a & b" },
      { row: "client 2", start: 5, end: 10, outcome: "fail", label: "x", title: "y", highlight: true },
    ],
    [],
  );
  assert.ok(!page.includes("<script>"));
  assert.match(page, /class="bar unknown open"/);
  assert.match(page, /class="bar fail hl"/);
  assert.match(page, /a &#38; b/);
  assert.match(renderTimeline("empty", [], nemesis), /<svg/);
});
