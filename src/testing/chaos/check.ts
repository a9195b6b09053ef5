/**
 * Runs the checkers over a run's history and writes their verdicts into the run folder
 * (`verdicts.json`): linearizability of the register and append histories (linearizable.ts).
 * A verdict of "unknown" (a search that ran out of budget) is reported and does not make the
 * run invalid; "invalid" does.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkAppend, checkRegister, type LinearizabilityResult, type Verdict } from "./linearizable.js";
import type { ChaosHistory } from "./workloads.js";

/** The checkers' verdicts in short. */
export interface CheckSummary {
  /** No checker found the history invalid. */
  readonly valid: boolean;
  /** One line per checker, for the summary. */
  readonly lines: readonly string[];
  /** Each checker's verdict. */
  readonly verdicts: Readonly<Record<string, Verdict>>;
}

function linLine<I, O>(name: string, r: LinearizabilityResult<I, O>): string {
  const invalid = r.keys.filter((k) => k.verdict === "invalid").map((k) => k.key);
  const unknown = r.keys.filter((k) => k.verdict === "unknown").map((k) => `${k.key} (${k.reason ?? "?"})`);
  let line = `${name.padEnd(17)}${r.verdict} — ${r.ops} ops on ${r.keys.length} keys, ${r.opsSearched} searched, ${r.steps} steps`;
  if (invalid.length > 0) line += `; INVALID keys: ${invalid.join(", ")}`;
  if (unknown.length > 0) line += `; unknown keys: ${unknown.join(", ")}`;
  return line;
}

/** Checks `history`; writes `verdicts.json` under `dir`. */
export function checkHistory(history: ChaosHistory, dir: string): CheckSummary {
  const register = checkRegister(history.register);
  const append = checkAppend(history.append);
  writeFileSync(join(dir, "verdicts.json"), JSON.stringify({ register, append }, null, 1));
  const lines = [linLine("register:", register), linLine("append:", append)];
  const valid = register.verdict !== "invalid" && append.verdict !== "invalid";
  return { valid, lines, verdicts: { register: register.verdict, append: append.verdict } };
}
