/**
 * The three places settings come from — the command line, `SYNOD_*` / `ETCD_*` environment
 * variables and a YAML or JSON config file — read into raw values that remember where each came
 * from, so every message can name the setting as the user wrote it. Pure: the caller reads the
 * file and hands its text in.
 */
import { parse as parseYaml } from "yaml";
import {
  envName,
  type FlagSpec,
  flagSpec,
  flagSpecs,
  isCommandLineFlag,
  isEnvFlag,
  isFileKey,
} from "./configflags.js";

/** Where a raw value came from. */
export type Origin =
  | { readonly kind: "flag" }
  | { readonly kind: "env"; readonly variable: string }
  | {
      readonly kind: "file";
      readonly path: string;
      /** The key as written when it is not the flag name (`client-transport-security.cert-file`). */
      readonly key?: string;
    };

/**
 * A value as written: text from the command line or environment (`true` for a bare boolean flag),
 * or whatever a config file held (string, number, boolean, list, mapping).
 */
export type RawValue = string | number | boolean | readonly unknown[] | { readonly [key: string]: unknown };

/** One setting as given by one source. */
export interface RawSetting {
  readonly spec: FlagSpec;
  readonly value: RawValue;
  readonly origin: Origin;
}

/** How a setting is named in messages: `--data-dir`, `SYNOD_DATA_DIR (--data-dir)`, or the file key. */
export function settingLabel(s: Pick<RawSetting, "spec" | "origin">): string {
  const flag = `--${s.spec.name}`;
  switch (s.origin.kind) {
    case "flag":
      return flag;
    case "env":
      return `${s.origin.variable} (${flag})`;
    case "file":
      return `'${s.origin.key ?? s.spec.name}' in config file '${s.origin.path}'`;
  }
}

/** The outcome of reading the command line. */
export type ArgvResult =
  | {
      readonly ok: true;
      /** The last value given for each flag (later repeats win, as in Go). */
      readonly settings: ReadonlyMap<string, RawSetting>;
      /** `-h` / `--help` was given (parsing stopped there, as Go's flag package does). */
      readonly help: boolean;
    }
  | { readonly ok: false; readonly error: string };

function argvError(error: string): ArgvResult {
  return { ok: false, error };
}

/**
 * Reads `argv` (without the program name) with the rules of Go's flag package that etcd uses:
 * `-flag` or `--flag`; `--flag=value` or `--flag value`; booleans as `--flag` or
 * `--flag=true|false` only; `--` ends the flags; any other non-flag word is an error. Unknown
 * flags are errors naming the flag.
 */
export function readArgv(argv: readonly string[]): ArgvResult {
  const settings = new Map<string, RawSetting>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--") {
      const extra = argv[i + 1];
      if (extra !== undefined) return argvError(notAFlag(extra, argv[i - 1]));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") return argvError(notAFlag(arg, argv[i - 1]));
    const body = arg.startsWith("--") ? arg.slice(2) : arg.slice(1);
    if (body === "" || body.startsWith("-") || body.startsWith("=")) {
      return argvError(`Bad flag syntax '${arg}': write --name=value or --name value`);
    }
    const eq = body.indexOf("=");
    const name = eq < 0 ? body : body.slice(0, eq);
    const inline = eq < 0 ? undefined : body.slice(eq + 1);
    if (name === "h" || name === "help") return { ok: true, settings, help: true };
    const spec = flagSpec(name);
    if (spec === undefined || !isCommandLineFlag(spec)) {
      return argvError(
        `Unknown flag '--${name}': etcd 3.4 has no such flag, and neither has Synod (see --help)`,
      );
    }
    let value: RawValue;
    if (inline !== undefined) value = inline;
    else if (spec.kind === "bool" || spec.kind === "legacy") value = true;
    else {
      const next = argv[i + 1];
      if (next === undefined) return argvError(`Flag '--${name}' needs a value: --${name}=<${spec.kind}>`);
      value = next;
      i++;
    }
    settings.set(name, { spec, value, origin: { kind: "flag" } });
  }
  return { ok: true, settings, help: false };
}

function notAFlag(arg: string, previous: string | undefined): string {
  const prevName = previous?.replace(/^--?/, "").split("=")[0];
  const prevSpec = prevName === undefined ? undefined : flagSpec(prevName);
  const hint =
    prevSpec?.kind === "bool" && previous !== undefined && !previous.includes("=")
      ? `; boolean flags take their value after '=', e.g. --${prevSpec.name}=${arg}`
      : "";
  return `Unexpected argument '${arg}': Synod takes only flags${hint}`;
}

/** Settings found in the environment, plus warnings about variables that were not used. */
export interface EnvResult {
  readonly settings: ReadonlyMap<string, RawSetting>;
  readonly warnings: readonly string[];
}

/**
 * Reads `SYNOD_<FLAG>` and, as a fallback for etcd deployments, `ETCD_<FLAG>` (etcd's own
 * naming: `--data-dir` → `ETCD_DATA_DIR`). Empty variables count as unset, as in etcd. A variable
 * with either prefix that names no flag draws a warning, as etcd warns about unknown `ETCD_*`.
 */
export function readEnv(env: Readonly<Record<string, string | undefined>>): EnvResult {
  const settings = new Map<string, RawSetting>();
  const warnings: string[] = [];
  const known = new Set<string>();
  for (const spec of flagSpecs) {
    if (!isEnvFlag(spec)) continue;
    const synod = envName("SYNOD", spec.name);
    const etcd = envName("ETCD", spec.name);
    known.add(synod);
    known.add(etcd);
    const synodValue = env[synod];
    const etcdValue = env[etcd];
    if (synodValue !== undefined && synodValue !== "") {
      settings.set(spec.name, { spec, value: synodValue, origin: { kind: "env", variable: synod } });
      if (etcdValue !== undefined && etcdValue !== "" && etcdValue !== synodValue) {
        warnings.push(`${etcd} is set but unused: ${synod} takes precedence for --${spec.name}`);
      }
    } else if (etcdValue !== undefined && etcdValue !== "") {
      settings.set(spec.name, { spec, value: etcdValue, origin: { kind: "env", variable: etcd } });
    }
  }
  for (const key of Object.keys(env).sort()) {
    // SYNOD_TEST_* are the chaos harness's test-only hooks (read by the WAL and the API), not flags.
    if (key.startsWith("SYNOD_TEST_")) continue;
    if ((key.startsWith("SYNOD_") || key.startsWith("ETCD_")) && !known.has(key)) {
      warnings.push(`Unrecognized environment variable ${key}: no flag of that name (ignored)`);
    }
  }
  return { settings, warnings };
}

/** Settings read from a config file, or why the file cannot be used. */
export type FileResult =
  | { readonly ok: true; readonly settings: ReadonlyMap<string, RawSetting> }
  | { readonly ok: false; readonly error: string };

function isMapping(v: unknown): v is { readonly [key: string]: unknown } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function asRawValue(v: unknown): RawValue | undefined {
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v;
  if (Array.isArray(v)) return v as readonly unknown[];
  if (isMapping(v)) return v;
  return undefined;
}

/**
 * Parses a config file: a YAML (or JSON) mapping whose keys are flag names, as in etcd's config
 * files (`data-dir: /var/lib/synod`). A `.json` file is read as JSON; anything else as YAML 1.2,
 * which also accepts JSON. `null` values (an empty `key:`) leave the setting unset. Keys that are
 * not etcd flags are errors, so a typo cannot silently fall back to a default.
 */
export function readConfigFile(path: string, text: string): FileResult {
  let doc: unknown;
  try {
    doc = path.toLowerCase().endsWith(".json") ? JSON.parse(text) : parseYaml(text, { uniqueKeys: true });
  } catch (err) {
    const detail = err instanceof Error ? err.message.split("\n")[0] : String(err);
    return { ok: false, error: `Cannot parse config file '${path}': ${detail}` };
  }
  if (doc === null || doc === undefined) return { ok: true, settings: new Map() };
  if (!isMapping(doc)) {
    return { ok: false, error: `Config file '${path}' must hold a mapping of flag names to values` };
  }
  const settings = new Map<string, RawSetting>();
  for (const [key, value] of Object.entries(doc)) {
    const spec = flagSpec(key);
    if (spec === undefined || !isFileKey(spec)) {
      const why =
        spec === undefined ? "etcd 3.4 has no such setting" : "it is only meaningful on the command line";
      return { ok: false, error: `Unknown key '${key}' in config file '${path}': ${why}` };
    }
    if (value === null || value === undefined) continue;
    const raw = asRawValue(value);
    if (raw === undefined)
      return { ok: false, error: `'${key}' in config file '${path}' has an unsupported value` };
    if (settings.has(key)) return { ok: false, error: twice(key, settings, path) };
    settings.set(key, { spec, value: raw, origin: { kind: "file", path } });
    const section = sectionKeys.get(key);
    if (section !== undefined && isMapping(raw)) {
      const problem = readSection(path, key, raw, section, settings);
      if (problem !== null) return { ok: false, error: problem };
    }
  }
  return { ok: true, settings };
}

/**
 * etcd's `client-transport-security` and `peer-transport-security` sections: each key sets the
 * flag it stands for (etcd 3.4 reads the first five; Synod also reads the rest).
 */
const sectionKeys: ReadonlyMap<string, ReadonlyMap<string, string>> = new Map([
  [
    "client-transport-security",
    new Map([
      ["cert-file", "cert-file"],
      ["key-file", "key-file"],
      ["client-cert-auth", "client-cert-auth"],
      ["trusted-ca-file", "trusted-ca-file"],
      ["auto-tls", "auto-tls"],
      ["crl-file", "client-crl-file"],
      ["allowed-hostname", "client-cert-allowed-hostname"],
    ]),
  ],
  [
    "peer-transport-security",
    new Map([
      ["cert-file", "peer-cert-file"],
      ["key-file", "peer-key-file"],
      ["client-cert-auth", "peer-client-cert-auth"],
      ["trusted-ca-file", "peer-trusted-ca-file"],
      ["auto-tls", "peer-auto-tls"],
      ["crl-file", "peer-crl-file"],
      ["allowed-cn", "peer-cert-allowed-cn"],
      ["allowed-hostname", "peer-cert-allowed-hostname"],
    ]),
  ],
]);

function twice(flag: string, settings: ReadonlyMap<string, RawSetting>, path: string): string {
  const first = settings.get(flag);
  const where = first === undefined ? `'${flag}'` : settingLabel(first);
  return `Config file '${path}' sets --${flag} twice (${where} and another key); keep one`;
}

/** Adds the settings of one TLS section; returns why it cannot be used, or null. */
function readSection(
  path: string,
  sectionName: string,
  section: { readonly [key: string]: unknown },
  keys: ReadonlyMap<string, string>,
  settings: Map<string, RawSetting>,
): string | null {
  for (const [key, value] of Object.entries(section)) {
    const flag = keys.get(key);
    const spec = flag === undefined ? undefined : flagSpec(flag);
    if (flag === undefined || spec === undefined) {
      return `Unknown key '${sectionName}.${key}' in config file '${path}': the section's keys are ${[...keys.keys()].join(", ")}`;
    }
    if (value === null || value === undefined) continue;
    const raw = asRawValue(value);
    if (raw === undefined) return `'${sectionName}.${key}' in config file '${path}' has an unsupported value`;
    if (settings.has(flag)) return twice(flag, settings, path);
    settings.set(flag, { spec, value: raw, origin: { kind: "file", path, key: `${sectionName}.${key}` } });
  }
  return null;
}
