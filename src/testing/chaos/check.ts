/**
 * Runs every checker over a run's history — linearizability of the register and append histories
 * (linearizable.ts), the watch checker with the write cross-check against both (watchcheck.ts),
 * the lock/fencing checker (lockcheck.ts) — and writes the report into the run folder
 * (report.ts: summary.txt/json, and per anomaly its minimal failing sub-history and an HTML
 * timeline), with the members' convergence as an extra verdict. A verdict of "unknown" (a search
 * that ran out of budget) is reported and does not make the run invalid; "invalid" does.
 */
import type { ChaosEvent } from "./events.js";
import { checkAppend, checkRegister, type LinearizabilityResult, type Verdict } from "./linearizable.js";
import { checkLocks } from "./lockcheck.js";
import { writeReport } from "./report.js";
import { appendWriteCheck, checkWatches, combineWriteChecks, registerWriteCheck } from "./watchcheck.js";
import type { ChaosHistory } from "./workloads.js";

/** The checkers' verdicts in short. */
export interface CheckSummary {
  /** No checker found the history invalid. */
  readonly valid: boolean;
  /** One line per checker, for the summary. */
  readonly lines: readonly string[];
  /** Each checker's verdict. */
  readonly verdicts: Readonly<Record<string, Verdict>>;
  /** Files of the report, relative to the run folder. */
  readonly files: readonly string[];
}

function linLine<I, O>(name: string, r: LinearizabilityResult<I, O>): string {
  const invalid = r.keys.filter((k) => k.verdict === "invalid").map((k) => k.key);
  const unknown = r.keys.filter((k) => k.verdict === "unknown").map((k) => `${k.key} (${k.reason ?? "?"})`);
  let line = `${name.padEnd(17)}${r.verdict} — ${r.ops} ops on ${r.keys.length} keys, ${r.opsSearched} searched, ${r.steps} steps`;
  if (invalid.length > 0) line += `; INVALID keys: ${invalid.join(", ")}`;
  if (unknown.length > 0) line += `; unknown keys: ${unknown.join(", ")}`;
  return line;
}

/** Checks `history`; writes the report under `dir`. */
export function checkHistory(
  history: ChaosHistory,
  dir: string,
  events: readonly ChaosEvent[],
  convergence: { readonly converged: boolean; readonly detail: string },
  title: string,
): CheckSummary {
  const register = checkRegister(history.register);
  const append = checkAppend(history.append);
  const watch = checkWatches(history.watch, {
    writeCheck: combineWriteChecks(registerWriteCheck(history.register), appendWriteCheck(history.append)),
  });
  const lock = checkLocks(history.lock);
  const report = writeReport(dir, {
    title,
    register: history.register,
    append: history.append,
    watches: history.watch,
    locks: history.lock,
    nemesis: events,
    results: { register, append, watch, lock },
    extra: [
      {
        name: "convergence",
        verdict: convergence.converged ? "valid" : "invalid",
        detail: convergence.detail,
      },
    ],
  });
  const first = (xs: readonly { readonly message: string }[]): string =>
    xs[0] === undefined ? "" : `; first: ${xs[0].message}`;
  const lines = [
    linLine("register:", register),
    linLine("append:", append),
    `${"watch:".padEnd(17)}${watch.verdict} — ${watch.watchers} streams, ${watch.events} events over ${watch.revisions} revisions, ${watch.anomaliesTotal} anomalies${first(watch.anomalies)}`,
    `${"lock:".padEnd(17)}${lock.verdict} — ${lock.holds} holds, ${lock.writes} counter writes, ${lock.stale} stale, ${lock.anomaliesTotal} anomalies${first(lock.anomalies)}`,
  ];
  const verdicts: Record<string, Verdict> = {
    register: register.verdict,
    append: append.verdict,
    watch: watch.verdict,
    lock: lock.verdict,
  };
  const valid = Object.values(verdicts).every((v) => v !== "invalid");
  return { valid, lines, verdicts, files: report.files };
}
