/** A small `--flag=value` / `--flag value` parser for the benchmark commands. */

/** Parsed arguments: positionals and flags (a bare `--flag` is "true"). */
export interface Args {
  readonly positionals: string[];
  readonly flags: Map<string, string>;
}

/** Parses `argv` (without node and the script). Booleans may be given bare. */
export function parseArgs(argv: readonly string[], booleans: ReadonlySet<string>): Args {
  const positionals: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (!a.startsWith("--")) {
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    if (eq >= 0) flags.set(a.slice(2, eq), a.slice(eq + 1));
    else if (booleans.has(a.slice(2))) flags.set(a.slice(2), "true");
    else {
      const v = argv[i + 1];
      if (v === undefined) throw new Error(`bench: flag ${a} needs a value`);
      flags.set(a.slice(2), v);
      i++;
    }
  }
  return { positionals, flags };
}

/** A duration flag: "10s", "500ms", "2m" or plain seconds; in milliseconds. */
export function parseDuration(name: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text);
  if (m === null) throw new Error(`bench: '--${name}' must be a duration like 10s or 500ms, got '${text}'`);
  const n = Number(m[1]);
  return m[2] === "ms" ? n : m[2] === "m" ? n * 60_000 : n * 1000;
}

/** Reads flags, checking that each was used. */
export class FlagReader {
  readonly #flags: Map<string, string>;
  readonly #used = new Set<string>();

  constructor(flags: Map<string, string>) {
    this.#flags = flags;
  }

  string(name: string, fallback: string): string {
    this.#used.add(name);
    return this.#flags.get(name) ?? fallback;
  }

  int(name: string, fallback: number): number {
    const v = this.string(name, String(fallback));
    const n = Number(v);
    if (!Number.isFinite(n)) throw new Error(`bench: '--${name}' must be a number, got '${v}'`);
    return n;
  }

  bool(name: string): boolean {
    const v = this.string(name, "false");
    return v === "true" || v === "1";
  }

  duration(name: string, fallbackMs: number): number {
    this.#used.add(name);
    const v = this.#flags.get(name);
    return v === undefined ? fallbackMs : parseDuration(name, v);
  }

  /** Fails on flags nobody read. */
  done(): void {
    for (const k of this.#flags.keys()) if (!this.#used.has(k)) throw new Error(`bench: unknown flag --${k}`);
  }
}
