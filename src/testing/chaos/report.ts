/**
 * The chaos run's report: a summary (operations by workload, kind and outcome; faults injected;
 * every checker's verdict) as text and JSON, and for each anomaly its minimal failing
 * sub-history as JSON plus a self-contained HTML timeline of it (one row per client, a bar from
 * invoke to completion coloured by outcome, nemesis events as vertical markers, hover titles
 * with inputs and outputs).
 *
 * `summarize`, `formatSummary` and `renderTimeline` are pure; `writeReport` is the only function
 * here (and in the checkers) that touches the file system.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type {
  AppendInput,
  AppendOp,
  AppendOutput,
  LockHold,
  Op,
  Outcome,
  RegisterInput,
  RegisterOp,
  RegisterOutput,
  WatchObservation,
} from "./history.js";
import type { KeyVerdict, LinearizabilityResult, Verdict } from "./linearizable.js";
import { holdEnd, isStale, type LockResult } from "./lockcheck.js";
import { appendModel, type Model, registerModel } from "./models.js";
import type { WatchResult } from "./watchcheck.js";

/** A nemesis (or cluster) event; `time` is milliseconds since the run started (monotonic). */
export interface NemesisEvent {
  readonly time: number;
  readonly kind: string;
  readonly detail: string;
}

/** A verdict from outside these checkers, e.g. convergence (all members' HashKV equal). */
export interface ExtraVerdict {
  readonly name: string;
  readonly verdict: Verdict;
  readonly detail: string;
}

/** Everything a report is made of; every part is optional but the nemesis events. */
export interface ReportInput {
  readonly title?: string;
  readonly register?: readonly RegisterOp[];
  readonly append?: readonly AppendOp[];
  readonly watches?: readonly WatchObservation[];
  readonly locks?: readonly LockHold[];
  readonly nemesis: readonly NemesisEvent[];
  readonly results: {
    readonly register?: LinearizabilityResult<RegisterInput, RegisterOutput>;
    readonly append?: LinearizabilityResult<AppendInput, AppendOutput>;
    readonly watch?: WatchResult;
    readonly lock?: LockResult;
  };
  readonly extra?: readonly ExtraVerdict[];
}

/** Counts of one kind of operation by outcome. */
export interface OutcomeCounts {
  ok: number;
  fail: number;
  unknown: number;
  total: number;
}

/** One checker's line in the summary. */
export interface CheckerLine {
  readonly name: string;
  readonly verdict: Verdict;
  readonly detail: string;
}

/** The run's summary (also written as summary.json). */
export interface RunSummary {
  readonly title: string;
  /** Invalid if any checker is, else unknown if any is, else valid. */
  readonly verdict: Verdict;
  /** Operations by "workload.kind" (e.g. "register.cas", "lock.write"), by outcome. */
  readonly ops: Readonly<Record<string, OutcomeCounts>>;
  readonly opsTotal: OutcomeCounts;
  /** Watch streams and the events they delivered. */
  readonly watch: { readonly streams: number; readonly events: number; readonly compacted: number };
  /** Nemesis events by kind. */
  readonly faults: Readonly<Record<string, number>>;
  readonly faultsTotal: number;
  readonly checkers: readonly CheckerLine[];
}

function count(table: Record<string, OutcomeCounts>, key: string, outcome: Outcome): void {
  const c = table[key] ?? { ok: 0, fail: 0, unknown: 0, total: 0 };
  c[outcome]++;
  c.total++;
  table[key] = c;
}

function linearizabilityLine<I, O>(name: string, r: LinearizabilityResult<I, O>): CheckerLine {
  const parts = [`${r.ops} ops on ${r.keys.length} keys (${r.opsSearched} searched, ${r.steps} steps)`];
  const bad = r.keys.filter((k) => k.verdict === "invalid");
  if (bad.length > 0) {
    parts.push(
      `not linearizable: ${bad.map((k) => `${k.key} [${k.anomalies[0] ?? "no linearization"}]`).join("; ")}`,
    );
  }
  const open = r.keys.filter((k) => k.verdict === "unknown");
  if (open.length > 0)
    parts.push(`undecided: ${open.map((k) => `${k.key} (${k.reason ?? "?"})`).join(", ")}`);
  return { name, verdict: r.verdict, detail: parts.join("; ") };
}

function checkerLines(input: ReportInput): CheckerLine[] {
  const { register, append, watch, lock } = input.results;
  const out: CheckerLine[] = [];
  if (register !== undefined) out.push(linearizabilityLine("register", register));
  if (append !== undefined) out.push(linearizabilityLine("append", append));
  if (watch !== undefined) {
    const first = watch.anomalies[0]?.message;
    const detail = `${watch.watchers} streams, ${watch.events} events over ${watch.revisions} revisions, ${watch.anomaliesTotal} anomalies${first === undefined ? "" : `; first: ${first}`}`;
    out.push({ name: "watch", verdict: watch.verdict, detail });
  }
  if (lock !== undefined) {
    const first = lock.anomalies[0]?.message;
    const detail = `${lock.holds} holds, ${lock.writes} counter writes, ${lock.stale} stale, ${lock.anomaliesTotal} anomalies${first === undefined ? "" : `; first: ${first}`}`;
    out.push({ name: "lock", verdict: lock.verdict, detail });
  }
  for (const e of input.extra ?? []) out.push({ name: e.name, verdict: e.verdict, detail: e.detail });
  return out;
}

/** Builds the run's summary from its histories, nemesis events and checker results. */
export function summarize(input: ReportInput): RunSummary {
  const ops: Record<string, OutcomeCounts> = {};
  const total: OutcomeCounts = { ok: 0, fail: 0, unknown: 0, total: 0 };
  const add = (key: string, outcome: Outcome): void => {
    count(ops, key, outcome);
    total[outcome]++;
    total.total++;
  };
  for (const op of input.register ?? []) add(`register.${op.input.f}`, op.outcome);
  for (const op of input.append ?? []) add(`append.${op.input.f}`, op.outcome);
  for (const h of input.locks ?? []) {
    add("lock.acquire", "ok");
    if (h.writeOutcome !== null) add("lock.write", h.writeOutcome);
  }
  const faults: Record<string, number> = {};
  for (const e of input.nemesis) faults[e.kind] = (faults[e.kind] ?? 0) + 1;
  const checkers = checkerLines(input);
  const verdict: Verdict = checkers.some((c) => c.verdict === "invalid")
    ? "invalid"
    : checkers.some((c) => c.verdict === "unknown")
      ? "unknown"
      : "valid";
  const watches = input.watches ?? [];
  return {
    title: input.title ?? "chaos run",
    verdict,
    ops,
    opsTotal: total,
    watch: {
      streams: watches.length,
      events: watches.reduce((n, w) => n + w.events.length, 0),
      compacted: watches.filter((w) => w.compactedAt !== null).length,
    },
    faults,
    faultsTotal: input.nemesis.length,
    checkers,
  };
}

/** The summary as text, one fact per line. */
export function formatSummary(s: RunSummary): string {
  const c = (o: OutcomeCounts) => `ok ${o.ok}, fail ${o.fail}, unknown ${o.unknown}`;
  const lines = [
    `${s.title}: ${s.verdict.toUpperCase()}`,
    `operations: ${s.opsTotal.total} (${c(s.opsTotal)})`,
  ];
  for (const key of Object.keys(s.ops).sort()) {
    const o = s.ops[key] as OutcomeCounts;
    lines.push(`  ${key.padEnd(16)} ${String(o.total).padStart(7)}  (${c(o)})`);
  }
  lines.push(
    `watch streams: ${s.watch.streams} (${s.watch.events} events, ${s.watch.compacted} ended compacted)`,
  );
  const kinds = Object.keys(s.faults).sort();
  lines.push(
    `faults injected: ${s.faultsTotal}${kinds.length === 0 ? "" : ` (${kinds.map((k) => `${k} ${s.faults[k]}`).join(", ")})`}`,
  );
  lines.push("checkers:");
  for (const k of s.checkers) lines.push(`  ${k.name.padEnd(12)} ${k.verdict.padEnd(8)} ${k.detail}`);
  return `${lines.join("\n")}\n`;
}

// ------------------------------------------------------------------ timeline

/** One bar of a timeline. Times are ns since the run started. */
export interface TimelineBar {
  /** The row label (one row per client). */
  readonly row: string;
  readonly start: number;
  /** Null: open-ended (drawn to the right edge). */
  readonly end: number | null;
  readonly outcome: Outcome;
  /** Short text drawn on the bar. */
  readonly label: string;
  /** Hover text (all the details). */
  readonly title: string;
  /** Drawn with a heavy outline (e.g. an op no linearization could place). */
  readonly highlight?: boolean;
}

const colours: Readonly<Record<Outcome, string>> = { ok: "#5fb760", fail: "#e0645c", unknown: "#f0b429" };
const rowHeightPx = 30;
const chartWidthPx = 1100;
const labelWidthPx = 110;

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function fmtMs(ns: number): string {
  return `${(ns / 1e6).toFixed(3)} ms`;
}

function timeWindow(bars: readonly TimelineBar[]): { t0: number; t1: number } {
  let t0 = Number.POSITIVE_INFINITY;
  let t1 = Number.NEGATIVE_INFINITY;
  for (const b of bars) {
    t0 = Math.min(t0, b.start);
    t1 = Math.max(t1, b.start, b.end !== null && Number.isFinite(b.end) ? b.end : b.start);
  }
  if (!Number.isFinite(t0)) return { t0: 0, t1: 1 };
  const pad = Math.max((t1 - t0) * 0.08, 1);
  return { t0: t0 - pad, t1: t1 + pad };
}

/**
 * A self-contained HTML page (inline SVG and CSS, no scripts) drawing `bars` (one row per
 * distinct `row`) and the nemesis events that fall inside the bars' time window.
 */
export function renderTimeline(
  title: string,
  bars: readonly TimelineBar[],
  nemesis: readonly NemesisEvent[],
): string {
  const rows = [...new Set(bars.map((b) => b.row))].sort((a, b) =>
    a.localeCompare(b, "en", { numeric: true }),
  );
  const { t0, t1 } = timeWindow(bars);
  const x = (t: number) => labelWidthPx + ((Math.min(Math.max(t, t0), t1) - t0) / (t1 - t0)) * chartWidthPx;
  const height = (rows.length + 1) * rowHeightPx + 20;
  const svg: string[] = [];
  rows.forEach((row, i) => {
    const y = i * rowHeightPx + 20;
    svg.push(`<text x="4" y="${y + 19}" class="row">${esc(row)}</text>`);
    svg.push(
      `<line x1="${labelWidthPx}" x2="${labelWidthPx + chartWidthPx}" y1="${y + rowHeightPx}" y2="${y + rowHeightPx}" class="grid"/>`,
    );
  });
  for (const b of bars) {
    const y = rows.indexOf(b.row) * rowHeightPx + 24;
    const open = b.end === null || !Number.isFinite(b.end);
    const xs = x(b.start);
    const xe = Math.max(x(open ? t1 : (b.end as number)), xs + 2);
    const cls = `bar ${b.outcome}${open ? " open" : ""}${b.highlight === true ? " hl" : ""}`;
    svg.push(
      `<g><title>${esc(b.title)}</title><rect x="${xs.toFixed(1)}" y="${y}" width="${(xe - xs).toFixed(1)}" height="${rowHeightPx - 8}" rx="3" class="${cls}" fill="${colours[b.outcome]}"/><text x="${(xs + 3).toFixed(1)}" y="${y + 15}" class="op">${esc(b.label)}</text></g>`,
    );
  }
  for (const e of nemesis) {
    const t = e.time * 1e6;
    if (t < t0 || t > t1) continue;
    const xe = x(t).toFixed(1);
    svg.push(
      `<g><title>${esc(`${fmtMs(t)} ${e.kind}: ${e.detail}`)}</title><line x1="${xe}" x2="${xe}" y1="12" y2="${height - 8}" class="nemesis"/><text x="${xe}" y="10" class="nemesis">${esc(e.kind)}</text></g>`,
    );
  }
  const legend = (Object.keys(colours) as Outcome[])
    .map((o) => `<span class="key" style="background:${colours[o]}"></span>${o}`)
    .join(" ");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font:13px system-ui,sans-serif;margin:16px;color:#222}
svg{border:1px solid #ddd;background:#fff}
text.row{font:12px monospace}
text.op{font:11px monospace;pointer-events:none}
line.grid{stroke:#eee}
rect.bar{stroke:#0003}
rect.open{fill-opacity:.45;stroke-dasharray:4 3}
rect.hl{stroke:#000;stroke-width:2.5}
line.nemesis{stroke:#7b3fbf;stroke-width:1.5;stroke-dasharray:6 3}
text.nemesis{font:10px sans-serif;fill:#7b3fbf}
.key{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}
</style></head><body>
<h1>${esc(title)}</h1>
<p>Time window ${esc(fmtMs(t0))} to ${esc(fmtMs(t1))} since the run started. ${legend}
<span class="key" style="background:#7b3fbf"></span>nemesis event. Faded, dashed bars: outcome unknown (it may take effect any time after its invoke). Hover for details.</p>
<svg xmlns="http://www.w3.org/2000/svg" width="${labelWidthPx + chartWidthPx + 10}" height="${height}">
${svg.join("\n")}
</svg>
</body></html>
`;
}

/** Bars for the ops of a witness; ops outside the longest partial linearization are outlined. */
export function opBars<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Op<I, O>[],
  linearized: readonly number[] = [],
): TimelineBar[] {
  const order = new Map(linearized.map((id, i) => [id, i + 1]));
  return ops.map((op) => {
    const place = order.get(op.id);
    const what = model.describe(op.input, op.output);
    const when = `${fmtMs(op.invoke)} → ${op.outcome === "unknown" ? "?" : fmtMs(op.complete)}`;
    const lin = place === undefined ? "not in the longest partial linearization" : `linearized #${place}`;
    return {
      row: `client ${op.client}`,
      start: op.invoke,
      end: op.outcome === "unknown" ? null : op.complete,
      outcome: op.outcome,
      label: `${place === undefined ? "" : `#${place} `}${what}`,
      title: `op ${op.id} on ${op.key}: ${what}\n${op.outcome}, ${when}${op.member === undefined ? "" : `, member ${op.member}`}\n${lin}`,
      highlight: linearized.length > 0 && place === undefined,
    };
  });
}

/** Bars for lock holds, from acquisition to the end of the hold. */
export function lockBars(holds: readonly LockHold[]): TimelineBar[] {
  return holds.map((h) => {
    const end = holdEnd(h);
    const outcome: Outcome = isStale(h) ? "unknown" : "ok";
    return {
      row: `client ${h.client}`,
      start: h.acquired,
      end,
      outcome,
      label: `token ${h.token} read ${h.counterRead ?? "-"}`,
      title: `token ${h.token}, lease ${h.lease}\nacquired ${fmtMs(h.acquired)}, released ${end === null ? "?" : fmtMs(end)}\nlease lost ${h.leaseLostAt === null ? "no" : fmtMs(h.leaseLostAt)}\ncounter read ${h.counterRead}, wrote ${h.counterWritten} (${h.writeOutcome})`,
    };
  });
}

// ------------------------------------------------------------------ files

function fileSafe(s: string): string {
  const safe = s.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 60);
  return safe === "" ? "_" : safe;
}

function writeLinearizabilityAnomalies<S, I, O>(
  dir: string,
  name: string,
  model: Model<S, I, O>,
  keys: readonly KeyVerdict<I, O>[],
  nemesis: readonly NemesisEvent[],
  files: string[],
): void {
  keys.forEach((k, i) => {
    if (k.verdict !== "invalid") return;
    const base = `anomaly-${name}-${i}-${fileSafe(k.key)}`;
    writeFileSync(join(dir, `${base}.json`), `${JSON.stringify({ checker: name, ...k }, null, 1)}\n`);
    const ops = k.witness?.ops ?? [];
    const title = `${name} key ${k.key}: not linearizable (${ops.length} ops${k.witness?.minimal === true ? ", minimal" : ""})`;
    const html = renderTimeline(title, opBars(model, ops, k.witness?.linearized ?? []), nemesis);
    writeFileSync(join(dir, `${base}.html`), html);
    files.push(`${base}.json`, `${base}.html`);
  });
}

/** What {@link writeReport} wrote. */
export interface ReportFiles {
  readonly summary: RunSummary;
  /** File names written, relative to the run folder. */
  readonly files: readonly string[];
}

/**
 * Writes the report under `dir` (created if missing): summary.json and summary.txt always; per
 * invalid key of the register / append checkers anomaly-<checker>-<n>-<key>.json (the verdict
 * and minimal failing sub-history) and .html (its timeline); anomaly-watch.json and
 * anomaly-lock.json (+ .html timeline of the holds involved) when those checkers found anomalies.
 */
export function writeReport(dir: string, input: ReportInput): ReportFiles {
  mkdirSync(dir, { recursive: true });
  const summary = summarize(input);
  const files = ["summary.json", "summary.txt"];
  writeFileSync(join(dir, "summary.json"), `${JSON.stringify(summary, null, 1)}\n`);
  writeFileSync(join(dir, "summary.txt"), formatSummary(summary));
  const { register, append, watch, lock } = input.results;
  if (register !== undefined)
    writeLinearizabilityAnomalies(dir, "register", registerModel, register.keys, input.nemesis, files);
  if (append !== undefined)
    writeLinearizabilityAnomalies(dir, "append", appendModel, append.keys, input.nemesis, files);
  if (watch !== undefined && watch.verdict === "invalid") {
    writeFileSync(join(dir, "anomaly-watch.json"), `${JSON.stringify(watch, null, 1)}\n`);
    files.push("anomaly-watch.json");
  }
  if (lock !== undefined && lock.verdict === "invalid") {
    writeFileSync(join(dir, "anomaly-lock.json"), `${JSON.stringify(lock, null, 1)}\n`);
    const involved = [...new Set(lock.anomalies.flatMap((a) => a.holds))];
    const html = renderTimeline(`lock: ${lock.anomaliesTotal} anomalies`, lockBars(involved), input.nemesis);
    writeFileSync(join(dir, "anomaly-lock.html"), html);
    files.push("anomaly-lock.json", "anomaly-lock.html");
  }
  return { summary, files };
}
