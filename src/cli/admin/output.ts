/**
 * Human output of the admin commands: tables drawn as etcdctl draws them, ANSI colour when the
 * output is a terminal (never in JSON, never when `NO_COLOR` is set or `--color=never`), byte
 * sizes as etcdctl prints them, and a progress bar for transfers on standard error.
 */

/** Where a command writes; the entry point passes process.stdout/stderr. */
export interface Out {
  write(text: string): void;
  /** Whether this stream is a terminal. */
  readonly isTTY: boolean;
}

/** ANSI styling, or identity functions when colour is off. */
export interface Style {
  bold(s: string): string;
  green(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  dim(s: string): string;
}

const ansi = (code: number) => (s: string) => `\u001b[${code}m${s}\u001b[0m`;

/** Colour for `out`: on for a terminal unless `NO_COLOR` is set, or as `--color` forces. */
export function styleFor(
  out: Out,
  color: "always" | "never" | "auto",
  env: Readonly<Record<string, string | undefined>>,
): Style {
  const on = color === "always" || (color === "auto" && out.isTTY && (env.NO_COLOR ?? "") === "");
  if (!on) {
    const id = (s: string): string => s;
    return { bold: id, green: id, red: id, yellow: id, dim: id };
  }
  return { bold: ansi(1), green: ansi(32), red: ansi(31), yellow: ansi(33), dim: ansi(2) };
}

/** Visible width of a string that may hold ANSI escapes. */
function width(s: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colour escapes
  return s.replace(/\u001b\[[0-9;]*m/g, "").length;
}

/**
 * A table in etcdctl's style (`+---+` rules, centred upper-case headers, cells right-aligned when
 * numeric); cells may carry colour.
 */
export function table(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  style: Style,
): string {
  const widths = headers.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ""))));
  const rule = `+${widths.map((w) => "-".repeat(w + 2)).join("+")}+`;
  const pad = (s: string, w: number, right: boolean): string =>
    right ? " ".repeat(w - width(s)) + s : s + " ".repeat(w - width(s));
  const centre = (s: string, w: number): string => {
    const left = Math.floor((w - width(s)) / 2);
    return " ".repeat(left) + s + " ".repeat(w - width(s) - left);
  };
  const numeric = (s: string): boolean => /^-?[0-9][0-9.,]*( ?[kMGT]?i?B| ms| s)?$/.test(s);
  const lines = [
    rule,
    `| ${headers.map((h, i) => style.bold(centre(h, widths[i] ?? 0))).join(" | ")} |`,
    rule,
  ];
  for (const r of rows) {
    lines.push(`| ${r.map((c, i) => pad(c, widths[i] ?? 0, numeric(c))).join(" | ")} |`);
  }
  lines.push(rule);
  return `${lines.join("\n")}\n`;
}

/** Bytes as etcdctl prints them (go-humanize: SI units, e.g. "25 kB", "2.1 MB"). */
export function humanBytes(n: number): string {
  if (n < 10) return `${n} B`;
  const units = ["B", "kB", "MB", "GB", "TB", "PB"];
  const e = Math.min(Math.floor(Math.log(n) / Math.log(1000)), units.length - 1);
  const v = n / 1000 ** e;
  const text =
    v < 10 ? (Math.floor(v * 10 + 0.5) / 10).toFixed(1).replace(/\.0$/, "") : String(Math.floor(v + 0.5));
  return `${text} ${units[e]}`;
}

/** Milliseconds as a short duration ("850 µs", "12.3 ms", "1.20 s"). */
export function humanMs(ms: number): string {
  if (ms < 1) return `${Math.round(ms * 1000)} µs`;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** Bar cells drawn by {@link ProgressBar}. */
const barCells = 30;
/** Least time between two redraws of a progress bar, in ms. */
const redrawMs = 100;

/**
 * A progress bar on a terminal (`[#####.....]  45%  12 MB / 27 MB  3.1 MB/s`), redrawn in place at
 * most every 100 ms; on anything else it draws nothing (scripts read the final result instead).
 */
export class ProgressBar {
  readonly #out: Out;
  readonly #label: string;
  readonly #startMs = Date.now();
  #lastDrawMs = 0;
  #drawn = false;

  constructor(out: Out, label: string) {
    this.#out = out;
    this.#label = label;
  }

  /** Reports `done` of `total` bytes (`total` 0 or less when unknown). */
  update(done: number, total: number, force = false): void {
    if (!this.#out.isTTY) return;
    const now = Date.now();
    if (!force && now - this.#lastDrawMs < redrawMs) return;
    this.#lastDrawMs = now;
    const seconds = Math.max((now - this.#startMs) / 1000, 0.001);
    const rate = `${humanBytes(Math.round(done / seconds))}/s`;
    let line: string;
    if (total > 0) {
      const frac = Math.min(1, done / total);
      const cells = Math.round(frac * barCells);
      line = `${this.#label} [${"#".repeat(cells)}${".".repeat(barCells - cells)}] ${(frac * 100).toFixed(0).padStart(3)}%  ${humanBytes(done)} / ${humanBytes(total)}  ${rate}`;
    } else line = `${this.#label} ${humanBytes(done)}  ${rate}`;
    this.#out.write(`\r${line}\u001b[K`);
    this.#drawn = true;
  }

  /** Ends the bar's line (if one was drawn). */
  finish(): void {
    if (this.#drawn) this.#out.write("\n");
    this.#drawn = false;
  }
}

/** JSON as etcdctl's `-w json` prints it: one object on one line. */
export function jsonLine(value: unknown): string {
  return `${JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? jsonBigint(v) : v))}\n`;
}

/** Unsigned 64-bit ids print as numbers in etcdctl's JSON; those above 2^53 keep their digits. */
function jsonBigint(v: bigint): number | string {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}
