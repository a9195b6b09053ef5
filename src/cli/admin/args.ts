/**
 * Command-line parsing for the admin subcommands of `synod` (`synod status`, `synod member list`,
 * `synod snapshot save`, ...): global options as etcdctl spells them (`--endpoints`,
 * `-w/--write-out`, `--dial-timeout`, `--command-timeout`), the `SYNOD_ENDPOINTS` variable, and
 * each command's own flags. Pure: the caller passes argv and the environment.
 */
import { parseDuration } from "../../server/configvalues.js";

/** Output formats, as etcdctl's `-w`. */
export type WriteOut = "simple" | "table" | "json";

/** Options every admin command accepts. */
export interface GlobalOptions {
  /** Client endpoints (`host:port`, `http://` prefix allowed); default 127.0.0.1:2379. */
  readonly endpoints: readonly string[];
  /** `-w`: null when not given (each command has its own default). */
  readonly writeOut: WriteOut | null;
  /** Milliseconds to wait for a connection; default 2000. */
  readonly dialTimeoutMs: number;
  /** Milliseconds a command may take (long commands such as snapshot save ignore it); default 5000. */
  readonly commandTimeoutMs: number;
  /** Colour: `--color=always|never|auto`; auto colours a TTY unless `NO_COLOR` is set. */
  readonly color: "always" | "never" | "auto";
}

/** A command line split into words, flags and global options. */
export interface AdminArgs {
  readonly global: GlobalOptions;
  /** The command words and positional arguments, in order (`["member", "remove", "8e9e"]`). */
  readonly words: readonly string[];
  /** Command flags by name (without dashes); `true` for a boolean flag given bare. */
  readonly flags: ReadonlyMap<string, string | true>;
}

/** Default client endpoint, as etcdctl. */
export const defaultEndpoint = "127.0.0.1:2379";

const globalValueFlags = new Set(["endpoints", "write-out", "w", "dial-timeout", "command-timeout", "color"]);

/**
 * Splits `argv` (after `synod`) into global options, command words and command flags.
 * `valueFlags` are command flags that take a value (`--peer-urls a` or `--peer-urls=a`); any other
 * flag is boolean. Returns an error message for a malformed line.
 */
export function parseAdminArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  valueFlags: ReadonlySet<string>,
): AdminArgs | string {
  const words: string[] = [];
  const flags = new Map<string, string | true>();
  const globals = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") {
      words.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      words.push(arg);
      continue;
    }
    const body = arg.replace(/^--?/, "");
    const eq = body.indexOf("=");
    const name = eq < 0 ? body : body.slice(0, eq);
    const isGlobal = globalValueFlags.has(name);
    let value: string | true;
    if (eq >= 0) value = body.slice(eq + 1);
    else if (isGlobal || valueFlags.has(name)) {
      const next = argv[i + 1];
      if (next === undefined) return `flag needs an argument: ${arg}`;
      value = next;
      i++;
    } else value = true;
    if (isGlobal) globals.set(name === "w" ? "write-out" : name, String(value));
    else flags.set(name, value);
  }
  const global = globalOptions(globals, env);
  return typeof global === "string" ? global : { global, words, flags };
}

function globalOptions(
  globals: ReadonlyMap<string, string>,
  env: Readonly<Record<string, string | undefined>>,
): GlobalOptions | string {
  const endpointsText = globals.get("endpoints") ?? env.SYNOD_ENDPOINTS ?? defaultEndpoint;
  const endpoints = endpointsText
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "");
  if (endpoints.length === 0) return `--endpoints must list at least one endpoint, got '${endpointsText}'`;
  const w = globals.get("write-out");
  if (w !== undefined && w !== "simple" && w !== "table" && w !== "json") {
    return `-w/--write-out must be one of simple, table, json, got '${w}'`;
  }
  const dial = durationMs(globals, "dial-timeout", 2000);
  if (typeof dial === "string") return dial;
  const command = durationMs(globals, "command-timeout", 5000);
  if (typeof command === "string") return command;
  const color = globals.get("color") ?? "auto";
  if (color !== "always" && color !== "never" && color !== "auto") {
    return `--color must be one of always, never, auto, got '${color}'`;
  }
  return {
    endpoints: endpoints.map(stripScheme),
    writeOut: w ?? null,
    dialTimeoutMs: dial,
    commandTimeoutMs: command,
    color,
  };
}

function durationMs(globals: ReadonlyMap<string, string>, name: string, fallback: number): number | string {
  const text = globals.get(name);
  if (text === undefined) return fallback;
  const d = parseDuration(text);
  if (!d.ok || d.value <= 0) return `--${name} must be a positive duration such as 5s, got '${text}'`;
  return d.value;
}

/** `http://host:port/` → `host:port` (the client dials host:port). */
export function stripScheme(endpoint: string): string {
  return endpoint.replace(/^https?:\/\//, "").replace(/\/+$/, "");
}

/** A command flag's string value, or `fallback`; an error message when given bare. */
export function flagString(args: AdminArgs, name: string, fallback: string): string {
  const v = args.flags.get(name);
  if (v === undefined) return fallback;
  return v === true ? "" : v;
}

/** Whether a boolean command flag is on (`--learner`, `--learner=true`). */
export function flagBool(args: AdminArgs, name: string): boolean {
  const v = args.flags.get(name);
  return v === true || v === "true" || v === "1";
}

/** Names of flags given that `allowed` does not list, for an error message. */
export function unknownFlags(args: AdminArgs, allowed: readonly string[]): string[] {
  return [...args.flags.keys()].filter((f) => !allowed.includes(f));
}
