/**
 * Synod's server configuration: etcd 3.4's flags, read from the command line, `SYNOD_*` /
 * `ETCD_*` environment variables and a YAML or JSON config file, checked, and resolved into one
 * fully-defaulted {@link ServerConfig}. `docs/configuration.md` is the user-facing reference.
 *
 * Precedence: command-line flags > `SYNOD_*` > `ETCD_*` > config file > defaults. (etcd itself
 * ignores flags and environment variables when a config file is given; Synod layers them.)
 */
import { assert } from "../lib/assert.js";
import { defaultLimits } from "../mvcc/mod.js";
import { FlagKind, flagSpecs } from "./configflags.js";
import {
  type RawSetting,
  type RawValue,
  readArgv,
  readConfigFile,
  readEnv,
  settingLabel,
} from "./configsources.js";
import { resolveTls, type TlsSettings } from "./configtls.js";
import {
  type HttpUrl,
  type InitialMember,
  type Parsed,
  parseBool,
  parseDuration,
  parseHttpUrls,
  parseInitialCluster,
  parseInteger,
  splitList,
} from "./configvalues.js";

export type { TlsConfig, TlsSide, TlsVersion } from "./configtls.js";
export type { HttpUrl, InitialMember } from "./configvalues.js";

/** `new`: form a cluster from `initialCluster`; `existing`: join a running cluster. */
export type InitialClusterState = "new" | "existing";
/** `periodic`: keep a time window of history; `revision`: keep a number of revisions. */
export type AutoCompactionMode = "periodic" | "revision";
/** Lowest level the process logs. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Largest `--election-timeout` etcd accepts, in milliseconds. */
export const electionTimeoutMsMax = 50_000;
/** etcd's default `--auth-token-ttl`, in seconds (also used for 0). */
export const authTokenTtlSecondsDefault = 300;
/** etcd's default `--bcrypt-cost`. */
export const bcryptCostDefault = 10;
/** etcd's accepted `--bcrypt-cost` range. */
export const bcryptCostMin = 4;
export const bcryptCostMax = 31;
/** `--election-timeout` must be at least this many heartbeats (etcd's rule). */
export const electionHeartbeatsMin = 5;
/** Default storage quota, used for `--quota-backend-bytes=0`: 2 GiB, as etcd (the MVCC default). */
export const quotaBackendBytesDefault = defaultLimits.quotaBytes;
/** Quota above which a warning is printed (etcd's suggested maximum): 8 GiB. */
export const quotaBackendBytesWarn = 8 * 1024 * 1024 * 1024;
/** Default `--max-request-bytes`: 1.5 MiB, as etcd (the MVCC default). */
export const maxRequestBytesDefault = defaultLimits.requestBytesMax;
/** Default `--max-txn-ops`: 128, as etcd (the MVCC default). */
export const maxTxnOpsDefault = defaultLimits.txnOpsMax;
/** Above this `--max-request-bytes` draws a warning (etcd's recommended maximum): 10 MiB. */
export const maxRequestBytesWarn = 10 * 1024 * 1024;
/**
 * Largest `--max-request-bytes` Synod accepts: 32 MiB. One request is one Raft entry, and the
 * leader's uncommitted-entry budget is 64 MiB; a larger request could never be proposed.
 */
export const maxRequestBytesMax = 32 * 1024 * 1024;
/** Default `--snapshot-count` (etcd 3.4), used for 0 too. */
export const snapshotCountDefault = 100_000;

/**
 * The fully-defaulted, validated settings of one Synod member. The TLS fields
 * (`clientTls`, `peerTls`, `cipherSuites`, `tlsMinVersion`, `tlsMaxVersion`) are described in
 * `configtls.ts`.
 */
export interface ServerConfig extends TlsSettings {
  /** `--name`: this member's name; default "default". */
  readonly name: string;
  /**
   * `--data-dir`: directory for the WAL and snapshots, as given (relative paths are relative to
   * the working directory); default "./data" (etcd's default is "${name}.etcd").
   */
  readonly dataDir: string;
  /** `--listen-client-urls`: where the etcd API listens; default http://127.0.0.1:2379. */
  readonly listenClientUrls: readonly HttpUrl[];
  /**
   * `--advertise-client-urls`: client URLs published in member lists; default
   * http://127.0.0.1:2379, and required whenever `--listen-client-urls` is set (as in etcd).
   */
  readonly advertiseClientUrls: readonly HttpUrl[];
  /** `--listen-peer-urls`: where the peer transport listens; default http://127.0.0.1:2380. */
  readonly listenPeerUrls: readonly HttpUrl[];
  /** `--initial-advertise-peer-urls`: this member's peer URLs; default http://127.0.0.1:2380. */
  readonly initialAdvertisePeerUrls: readonly HttpUrl[];
  /**
   * `--initial-cluster`: the members of a new cluster, in the order given; always contains this
   * member, whose peer URLs equal `initialAdvertisePeerUrls`. Default: this member alone.
   */
  readonly initialCluster: readonly InitialMember[];
  /** `--initial-cluster-state`; default "new". */
  readonly initialClusterState: InitialClusterState;
  /** `--initial-cluster-token`: mixed into cluster and member ids; default "etcd-cluster". */
  readonly initialClusterToken: string;
  /** `--heartbeat-interval`: milliseconds per Raft tick and between heartbeats; default 100. */
  readonly heartbeatIntervalMs: number;
  /** `--election-timeout` in milliseconds; default 1000; ≥ 5 heartbeats and ≤ 50000. */
  readonly electionTimeoutMs: number;
  /** Election timeout in ticks: floor(electionTimeoutMs / heartbeatIntervalMs), as etcd; default 10. */
  readonly electionTicks: number;
  /** `--snapshot-count`: applied entries between snapshots; default 100000 (0 also means 100000). */
  readonly snapshotCount: number;
  /** `--quota-backend-bytes`: storage quota in bytes; default 2 GiB (0 also means 2 GiB). */
  readonly quotaBackendBytes: number;
  /** `--max-request-bytes`: largest client request in bytes; default 1572864 (1.5 MiB), at most 32 MiB. */
  readonly maxRequestBytes: number;
  /** `--max-txn-ops`: most compares or operations per transaction level; default 128. */
  readonly maxTxnOps: number;
  /** `--auto-compaction-mode`; default "periodic". */
  readonly autoCompactionMode: AutoCompactionMode;
  /** `--auto-compaction-retention` exactly as given; default "0" (automatic compaction off). */
  readonly autoCompactionRetention: string;
  /**
   * The retention as a time window in milliseconds, in periodic mode (a bare number is hours, as
   * in etcd; "30m" is a Go duration); 0 when compaction is off or the mode is revision.
   */
  readonly autoCompactionRetentionMs: number;
  /** The retention as a number of revisions in revision mode; 0 when off or the mode is periodic. */
  readonly autoCompactionRetentionRevisions: number;
  /** `--log-level` (or `--debug`); default "info". etcd's "panic" and "fatal" become "error". */
  readonly logLevel: LogLevel;
  /** `--listen-metrics-urls`: extra listeners serving only /metrics and /health; default none. */
  readonly listenMetricsUrls: readonly HttpUrl[];
  /** `--experimental-corrupt-check-time` in ms: interval of the cross-member hash check; default 0 (off). */
  readonly corruptCheckTimeMs: number;
  /** `--experimental-warning-apply-duration` in ms: slower apply batches are logged; default 100. */
  readonly warningApplyDurationMs: number;
  /** `--auth-token-ttl`: seconds a simple auth token stays valid after its last use; default 300. */
  readonly authTokenTtlSeconds: number;
  /** `--bcrypt-cost`: password hashing cost, 4–31 (Synod maps it to scrypt); default 10. */
  readonly bcryptCost: number;
  /** The config file that was loaded (`--config-file`), or null. */
  readonly configFile: string | null;
}

/** The outcome of {@link loadConfig}: a configuration and warnings to log, or one error message per problem. */
export type LoadConfigResult =
  | { readonly ok: true; readonly config: ServerConfig; readonly warnings: string[] }
  | { readonly ok: false; readonly error: string };

/** A setting's value after checking its syntax, by the flag's kind. */
type Typed = string | number | boolean | readonly HttpUrl[] | readonly string[] | null;

interface Resolved {
  readonly value: Typed;
  readonly setting: RawSetting;
}

function show(v: RawValue): string {
  return typeof v === "string" ? `'${v}'` : JSON.stringify(v);
}

function scalarText(v: RawValue): string | undefined {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return undefined;
}

function listText(v: RawValue): string | undefined {
  if (Array.isArray(v)) return v.every((x) => typeof x === "string") ? v.join(",") : undefined;
  return scalarText(v);
}

function fail(reason: string): Parsed<Typed> {
  return { ok: false, reason };
}

function typedInteger(v: RawValue, signed: boolean): Parsed<Typed> {
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) return fail("must be an integer");
    return signed || v >= 0 ? { ok: true, value: v } : fail("must be a non-negative integer");
  }
  return typeof v === "string" ? parseInteger(v, signed) : fail("must be an integer");
}

/**
 * YAML 1.1 boolean words. etcd reads config files with a YAML 1.1 library, so `auto-tls: yes`
 * is true there; the `yaml` package reads YAML 1.2, where these are plain text.
 */
const yaml11Bools = new Map<string, boolean>(
  ["y", "Y", "yes", "Yes", "YES", "on", "On", "ON"]
    .map((w): [string, boolean] => [w, true])
    .concat(["n", "N", "no", "No", "NO", "off", "Off", "OFF"].map((w): [string, boolean] => [w, false])),
);

/** Checks a raw value against its flag's kind (durations in files may be nanoseconds, as in etcd). */
function typedValue(s: RawSetting): Parsed<Typed> {
  const v = s.value;
  switch (s.spec.kind) {
    case FlagKind.string: {
      const text = scalarText(v);
      return text === undefined ? fail("must be text") : { ok: true, value: text };
    }
    case FlagKind.bool:
      if (typeof v === "boolean") return { ok: true, value: v };
      if (typeof v === "string" && s.origin.kind === "file" && yaml11Bools.has(v)) {
        return { ok: true, value: yaml11Bools.get(v) === true };
      }
      return typeof v === "string" ? parseBool(v) : fail("must be true or false");
    case FlagKind.uint:
      return typedInteger(v, false);
    case FlagKind.int:
      return typedInteger(v, true);
    case FlagKind.duration:
      if (typeof v === "number") return { ok: true, value: v / 1e6 };
      return typeof v === "string" ? parseDuration(v) : fail("must be a duration such as 10s");
    case FlagKind.listenUrls:
    case FlagKind.advertiseUrls: {
      const text = listText(v);
      if (text === undefined) return fail("must be a comma-separated list of URLs");
      return parseHttpUrls(text, s.spec.kind === FlagKind.listenUrls ? "listen" : "advertise");
    }
    case FlagKind.list: {
      const text = listText(v);
      return text === undefined
        ? fail("must be a comma-separated list")
        : { ok: true, value: splitList(text) };
    }
    case FlagKind.choice: {
      const values = s.spec.values ?? [];
      return typeof v === "string" && values.includes(v)
        ? { ok: true, value: v }
        : fail(`must be one of ${values.join(", ")}`);
    }
    case FlagKind.legacy:
      return { ok: true, value: null };
    case FlagKind.section:
      return typeof v === "object" && !Array.isArray(v)
        ? { ok: true, value: null }
        : fail("must be a mapping");
  }
}

/** Collects error messages and warnings while a configuration is resolved. */
class Problems {
  readonly errors: string[] = [];
  readonly warnings: string[] = [];
  error(message: string): void {
    this.errors.push(`Invalid configuration: ${message}`);
  }
}

/** Typed settings by flag name, with accessors that fall back to defaults. */
class Settings {
  readonly #values: ReadonlyMap<string, Resolved>;
  constructor(values: ReadonlyMap<string, Resolved>) {
    this.#values = values;
  }
  has(name: string): boolean {
    return this.#values.has(name);
  }
  /** Where the setting came from; undefined when it was not set. */
  origin(name: string): "flag" | "env" | "file" | undefined {
    return this.#values.get(name)?.setting.origin.kind;
  }
  label(name: string): string {
    const r = this.#values.get(name);
    return r === undefined ? `--${name}` : settingLabel(r.setting);
  }
  string(name: string, fallback: string): string {
    const v = this.#values.get(name)?.value ?? fallback;
    assert(typeof v === "string", `config: --${name} is not text`);
    return v;
  }
  number(name: string, fallback: number): number {
    const v = this.#values.get(name)?.value ?? fallback;
    assert(typeof v === "number", `config: --${name} is not a number`);
    return v;
  }
  bool(name: string, fallback: boolean): boolean {
    const v = this.#values.get(name)?.value ?? fallback;
    assert(typeof v === "boolean", `config: --${name} is not a boolean`);
    return v;
  }
  list(name: string): readonly string[] {
    const v = this.#values.get(name)?.value ?? [];
    assert(Array.isArray(v), `config: --${name} is not a list`);
    return v as readonly string[];
  }
  urls(name: string, fallback: readonly HttpUrl[]): readonly HttpUrl[] {
    const v = this.#values.get(name)?.value ?? fallback;
    assert(Array.isArray(v), `config: --${name} is not a URL list`);
    return v as readonly HttpUrl[];
  }
}

const defaultClientUrl: HttpUrl = {
  href: "http://127.0.0.1:2379",
  scheme: "http",
  host: "127.0.0.1",
  port: 2379,
};
const defaultPeerUrl: HttpUrl = {
  href: "http://127.0.0.1:2380",
  scheme: "http",
  host: "127.0.0.1",
  port: 2380,
};

/**
 * Reads and checks the configuration of one member. `argv` excludes the program name; `env` is
 * usually `process.env`; `readFile(path)` returns a config file's text (it may throw). Pure apart
 * from `readFile`. `--help` is not a configuration: {@link parseCommandLine} in `src/cli/flags.ts`
 * handles it and `--version` before calling this.
 *
 * Every problem found is reported, one message per line, each naming the setting (as the user
 * wrote it: flag, variable or file key) and the value. Warnings list accepted-but-ignored etcd
 * flags (exactly one line each) and other things worth a look.
 */
export function loadConfig(
  argv: string[],
  env: Record<string, string | undefined>,
  readFile: (path: string) => string,
): LoadConfigResult {
  const args = readArgv(argv);
  if (!args.ok) return { ok: false, error: args.error };
  if (args.help) return { ok: false, error: "--help asks for the usage text, not a configuration" };
  const envs = readEnv(env);
  const problems = new Problems();
  problems.warnings.push(...envs.warnings);
  const fileSetting = args.settings.get("config-file") ?? envs.settings.get("config-file");
  let fileSettings: ReadonlyMap<string, RawSetting> = new Map();
  let configFile: string | null = null;
  if (fileSetting !== undefined && typeof fileSetting.value === "string" && fileSetting.value !== "") {
    configFile = fileSetting.value;
    let text: string;
    try {
      text = readFile(configFile);
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      return {
        ok: false,
        error: `Cannot read config file '${configFile}' (${settingLabel(fileSetting)}): ${detail}`,
      };
    }
    const file = readConfigFile(configFile, text);
    if (!file.ok) return { ok: false, error: file.error };
    fileSettings = file.settings;
  }
  const merged = new Map<string, RawSetting>([...fileSettings, ...envs.settings, ...args.settings]);
  warnShadowed(args.settings, envs.settings, problems);
  const settings = checkSyntax(merged, problems);
  if (problems.errors.length > 0) return { ok: false, error: problems.errors.join("\n") };
  const config = resolve(settings, configFile, problems);
  if (problems.errors.length > 0 || config === null) return { ok: false, error: problems.errors.join("\n") };
  return { ok: true, config, warnings: problems.warnings };
}

/** etcd warns when an environment variable is shadowed by a flag; so does Synod (honoured flags only). */
function warnShadowed(
  flags: ReadonlyMap<string, RawSetting>,
  envs: ReadonlyMap<string, RawSetting>,
  problems: Problems,
): void {
  for (const [name, env] of envs) {
    const flag = flags.get(name);
    if (flag === undefined || env.spec.support.status !== "honoured" || env.origin.kind !== "env") continue;
    problems.warnings.push(
      `${env.origin.variable} is set but unused: --${name} on the command line takes precedence`,
    );
  }
}

/** Checks each setting's syntax and warns once about each accepted-but-ignored flag. */
function checkSyntax(merged: ReadonlyMap<string, RawSetting>, problems: Problems): Map<string, Resolved> {
  const out = new Map<string, Resolved>();
  for (const spec of flagSpecs) {
    const setting = merged.get(spec.name);
    if (setting === undefined) continue;
    const typed = typedValue(setting);
    if (!typed.ok) {
      const label = settingLabel(setting);
      // Reasons that quote the offending item (URL lists) need no repeat of the value.
      problems.error(
        typed.reason.startsWith("must")
          ? `${label} ${typed.reason}, got ${show(setting.value)}`
          : `${label}: ${typed.reason}`,
      );
      continue;
    }
    out.set(spec.name, { value: typed.value, setting });
    if (spec.support.status === "ignored") {
      problems.warnings.push(`${settingLabel(setting)} is accepted but ignored: ${spec.support.reason}`);
    }
  }
  return out;
}

/** Builds the {@link ServerConfig} from checked settings, recording every problem found. */
function resolve(
  values: Map<string, Resolved>,
  configFile: string | null,
  problems: Problems,
): ServerConfig | null {
  const s = new Settings(values);
  refuseUnsupported(s, problems);
  const name = s.string("name", "default");
  if (name === "") problems.error(`${s.label("name")} must not be empty`);
  if (/[,=]/.test(name)) problems.error(`${s.label("name")} must not contain ',' or '=', got '${name}'`);
  const dataDir = s.string("data-dir", "./data");
  if (dataDir === "") problems.error(`${s.label("data-dir")} must not be empty`);
  const urls = resolveUrls(s, problems);
  const timing = resolveTiming(s, problems);
  const limits = resolveLimits(s, problems);
  const compaction = resolveCompaction(s, problems);
  const logLevel = resolveLogLevel(s, problems);
  const monitoring = resolveMonitoring(s, problems);
  const auth = resolveAuth(s, problems);
  const tls = resolveTls(s, { client: urls.listenClientUrls, peer: urls.listenPeerUrls }, problems);
  const initialCluster = resolveInitialCluster(s, name, urls.initialAdvertisePeerUrls, problems);
  if (problems.errors.length > 0 || timing === null || limits === null || compaction === null) return null;
  return Object.freeze({
    name,
    dataDir,
    ...urls,
    initialCluster,
    initialClusterState: s.string("initial-cluster-state", "new") === "existing" ? "existing" : "new",
    initialClusterToken: s.string("initial-cluster-token", "etcd-cluster"),
    ...timing,
    ...limits,
    ...compaction,
    ...monitoring,
    ...auth,
    logLevel,
    ...tls,
    configFile,
  });
}

/** Accepted etcd flags whose ignoring would change what the member does, so a real value is refused. */
function refuseUnsupported(s: Settings, problems: Problems): void {
  for (const flag of ["discovery", "discovery-srv"]) {
    const v = s.string(flag, "");
    if (v !== "") {
      problems.error(
        `${s.label(flag)} is '${v}', but Synod cannot bootstrap through discovery; list the members with --initial-cluster`,
      );
    }
  }
  const proxy = s.string("proxy", "off");
  if (proxy !== "off") {
    problems.error(
      `${s.label("proxy")} is '${proxy}', but Synod has no v2 proxy mode; it runs only as a member`,
    );
  }
}

interface UrlSettings {
  readonly listenClientUrls: readonly HttpUrl[];
  readonly advertiseClientUrls: readonly HttpUrl[];
  readonly listenPeerUrls: readonly HttpUrl[];
  readonly initialAdvertisePeerUrls: readonly HttpUrl[];
  readonly listenMetricsUrls: readonly HttpUrl[];
}

function resolveUrls(s: Settings, problems: Problems): UrlSettings {
  const required = (name: string, fallback: HttpUrl): readonly HttpUrl[] => {
    const v = s.urls(name, [fallback]);
    if (v.length === 0) problems.error(`${s.label(name)} must list at least one URL`);
    return v;
  };
  const listenClientUrls = required("listen-client-urls", defaultClientUrl);
  // etcd applies this rule to flags and environment variables only; a config file keeps the default.
  if (
    s.origin("listen-client-urls") !== "file" &&
    s.has("listen-client-urls") &&
    !s.has("advertise-client-urls")
  ) {
    problems.error(
      `--advertise-client-urls is required when ${s.label("listen-client-urls")} is set: clients need a URL they can reach`,
    );
  }
  const out: UrlSettings = {
    listenClientUrls,
    advertiseClientUrls: required("advertise-client-urls", defaultClientUrl),
    listenPeerUrls: required("listen-peer-urls", defaultPeerUrl),
    initialAdvertisePeerUrls: required("initial-advertise-peer-urls", defaultPeerUrl),
    listenMetricsUrls: s.urls("listen-metrics-urls", []),
  };
  checkListenConflicts(s, out, problems);
  return out;
}

const wildcardHosts = new Set(["0.0.0.0", "::"]);

/** Two listeners on the same port whose hosts overlap (equal, or either a wildcard) cannot both bind. */
function checkListenConflicts(s: Settings, u: UrlSettings, problems: Problems): void {
  const listeners: { flag: string; url: HttpUrl }[] = [
    ...u.listenClientUrls.map((url) => ({ flag: "listen-client-urls", url })),
    ...u.listenPeerUrls.map((url) => ({ flag: "listen-peer-urls", url })),
    ...u.listenMetricsUrls.map((url) => ({ flag: "listen-metrics-urls", url })),
  ];
  for (let i = 0; i < listeners.length; i++) {
    for (let j = i + 1; j < listeners.length; j++) {
      const a = listeners[i];
      const b = listeners[j];
      if (a === undefined || b === undefined || a.flag === b.flag || a.url.port === 0) continue;
      const overlap =
        a.url.host === b.url.host || wildcardHosts.has(a.url.host) || wildcardHosts.has(b.url.host);
      if (a.url.port === b.url.port && overlap) {
        problems.error(
          `${s.label(a.flag)} (${a.url.href}) and ${s.label(b.flag)} (${b.url.href}) would listen on the same address`,
        );
      }
    }
  }
}

function resolveInitialCluster(
  s: Settings,
  name: string,
  advertised: readonly HttpUrl[],
  problems: Problems,
): readonly InitialMember[] {
  if (!s.has("initial-cluster")) return [{ name, peerUrls: advertised }];
  const text = s.string("initial-cluster", "");
  const parsed = parseInitialCluster(text);
  if (!parsed.ok) {
    problems.error(`${s.label("initial-cluster")} ${parsed.reason}, got '${text}'`);
    return [];
  }
  const self = parsed.value.find((m) => m.name === name);
  if (self === undefined) {
    problems.error(
      `${s.label("initial-cluster")} has no entry for this member's --name '${name}', got '${text}'`,
    );
    return parsed.value;
  }
  const mine = self.peerUrls.map((u) => u.href).sort();
  const ours = advertised.map((u) => u.href).sort();
  if (mine.join(",") !== ours.join(",")) {
    problems.error(
      `${s.label("initial-cluster")} gives member '${name}' the peer URLs ${mine.join(",")}, but ${s.label("initial-advertise-peer-urls")} is ${ours.join(",")}; they must match`,
    );
  }
  return parsed.value;
}

interface TimingSettings {
  readonly heartbeatIntervalMs: number;
  readonly electionTimeoutMs: number;
  readonly electionTicks: number;
}

function resolveTiming(s: Settings, problems: Problems): TimingSettings | null {
  const heartbeat = s.number("heartbeat-interval", 100);
  const election = s.number("election-timeout", 1000);
  const hb = `${s.label("heartbeat-interval")} (${heartbeat} ms)`;
  const el = `${s.label("election-timeout")} (${election} ms)`;
  const before = problems.errors.length;
  if (heartbeat <= 0) problems.error(`${hb} must be a positive number of milliseconds`);
  if (election <= 0) problems.error(`${el} must be a positive number of milliseconds`);
  else if (election > electionTimeoutMsMax) {
    problems.error(`${el} must be at most ${electionTimeoutMsMax} ms, as in etcd`);
  }
  if (heartbeat > 0 && election > 0) {
    if (heartbeat >= election) problems.error(`${hb} must be below ${el}`);
    else if (election < electionHeartbeatsMin * heartbeat) {
      problems.error(`${el} must be at least ${electionHeartbeatsMin} times ${hb}, as etcd requires`);
    }
  }
  if (problems.errors.length > before) return null;
  return {
    heartbeatIntervalMs: heartbeat,
    electionTimeoutMs: election,
    electionTicks: Math.floor(election / heartbeat),
  };
}

interface LimitSettings {
  readonly snapshotCount: number;
  readonly quotaBackendBytes: number;
  readonly maxRequestBytes: number;
  readonly maxTxnOps: number;
}

function resolveLimits(s: Settings, problems: Problems): LimitSettings | null {
  const before = problems.errors.length;
  const snapshotCount = s.number("snapshot-count", 0) || snapshotCountDefault;
  const quotaGiven = s.number("quota-backend-bytes", 0);
  if (quotaGiven < 0) {
    problems.error(
      `${s.label("quota-backend-bytes")} must not be negative (Synod always keeps a quota; 0 means 2 GiB), got ${quotaGiven}`,
    );
  }
  const quotaBackendBytes = quotaGiven === 0 ? quotaBackendBytesDefault : quotaGiven;
  if (quotaBackendBytes > quotaBackendBytesWarn) {
    problems.warnings.push(
      `${s.label("quota-backend-bytes")} is ${quotaBackendBytes} bytes, above the suggested maximum of 8 GiB; Synod holds its data in memory`,
    );
  }
  const maxRequestBytes = s.number("max-request-bytes", maxRequestBytesDefault);
  const mrb = s.label("max-request-bytes");
  if (maxRequestBytes === 0) problems.error(`${mrb} must be a positive number of bytes, got 0`);
  else if (maxRequestBytes > maxRequestBytesMax) {
    problems.error(`${mrb} must be at most ${maxRequestBytesMax} (32 MiB), got ${maxRequestBytes}`);
  } else if (maxRequestBytes > maxRequestBytesWarn) {
    problems.warnings.push(`${mrb} is ${maxRequestBytes} bytes, above the recommended maximum of 10 MiB`);
  }
  if (quotaGiven >= 0 && maxRequestBytes > quotaBackendBytes) {
    problems.error(
      `${mrb} (${maxRequestBytes}) must not exceed the storage quota ${s.label("quota-backend-bytes")} (${quotaBackendBytes})`,
    );
  }
  const maxTxnOps = s.number("max-txn-ops", maxTxnOpsDefault);
  if (maxTxnOps === 0) problems.error(`${s.label("max-txn-ops")} must be a positive integer, got 0`);
  if (problems.errors.length > before) return null;
  return { snapshotCount, quotaBackendBytes, maxRequestBytes, maxTxnOps };
}

interface CompactionSettings {
  readonly autoCompactionMode: AutoCompactionMode;
  readonly autoCompactionRetention: string;
  readonly autoCompactionRetentionMs: number;
  readonly autoCompactionRetentionRevisions: number;
}

const hourMs = 3_600_000;

/**
 * etcd's reading of `--auto-compaction-retention`: a non-negative integer is hours (periodic) or
 * revisions (revision); anything else must be a Go duration, which only periodic mode accepts.
 */
function resolveCompaction(s: Settings, problems: Problems): CompactionSettings | null {
  const mode: AutoCompactionMode =
    s.string("auto-compaction-mode", "periodic") === "revision" ? "revision" : "periodic";
  const retention = s.string("auto-compaction-retention", "0");
  const label = s.label("auto-compaction-retention");
  const asInt = /^[0-9]+$/.test(retention) ? parseInteger(retention, false) : null;
  if (asInt?.ok) {
    return mode === "periodic"
      ? {
          autoCompactionMode: mode,
          autoCompactionRetention: retention,
          autoCompactionRetentionMs: asInt.value * hourMs,
          autoCompactionRetentionRevisions: 0,
        }
      : {
          autoCompactionMode: mode,
          autoCompactionRetention: retention,
          autoCompactionRetentionMs: 0,
          autoCompactionRetentionRevisions: asInt.value,
        };
  }
  const duration = parseDuration(retention);
  if (!duration.ok) {
    problems.error(`${label} must be a number of hours or a duration such as 30m, got '${retention}'`);
    return null;
  }
  if (mode === "revision") {
    problems.error(
      `${label} must be a whole number of revisions in revision mode (${s.label("auto-compaction-mode")}), got '${retention}'`,
    );
    return null;
  }
  if (duration.value < 0) {
    problems.error(`${label} must not be negative, got '${retention}'`);
    return null;
  }
  return {
    autoCompactionMode: mode,
    autoCompactionRetention: retention,
    autoCompactionRetentionMs: duration.value,
    autoCompactionRetentionRevisions: 0,
  };
}

/** The corruption-check interval and the slow-apply threshold, both non-negative durations. */
function resolveMonitoring(
  s: Settings,
  problems: Problems,
): { corruptCheckTimeMs: number; warningApplyDurationMs: number } {
  const read = (flag: string, fallback: number): number => {
    const v = s.number(flag, fallback);
    if (v < 0) problems.error(`${s.label(flag)} must not be negative, got ${v} ms`);
    return Math.max(0, v);
  };
  return {
    corruptCheckTimeMs: read("experimental-corrupt-check-time", 0),
    warningApplyDurationMs: read("experimental-warning-apply-duration", 100),
  };
}

/**
 * `--auth-token` (only etcd's default, "simple", is served), `--auth-token-ttl` (0 means the
 * default, as in etcd) and `--bcrypt-cost` (out of 4–31 etcd warns and uses 10; so does Synod).
 */
function resolveAuth(s: Settings, problems: Problems): { authTokenTtlSeconds: number; bcryptCost: number } {
  const token = s.string("auth-token", "simple");
  if (token !== "simple") {
    problems.error(
      `${s.label("auth-token")} must be 'simple' (Synod serves etcd's simple tokens only), got '${token}'`,
    );
  }
  const ttl = s.number("auth-token-ttl", authTokenTtlSecondsDefault);
  let bcryptCost = s.number("bcrypt-cost", bcryptCostDefault);
  if (bcryptCost < bcryptCostMin || bcryptCost > bcryptCostMax) {
    problems.warnings.push(
      `${s.label("bcrypt-cost")} must be in ${bcryptCostMin}–${bcryptCostMax}, got ${bcryptCost}; using ${bcryptCostDefault}`,
    );
    bcryptCost = bcryptCostDefault;
  }
  return { authTokenTtlSeconds: ttl === 0 ? authTokenTtlSecondsDefault : ttl, bcryptCost };
}

function resolveLogLevel(s: Settings, problems: Problems): LogLevel {
  if (s.bool("debug", false)) return "debug";
  const level = s.string("log-level", "info");
  if (level === "panic" || level === "fatal") {
    problems.warnings.push(`${s.label("log-level")} is '${level}'; Synod logs errors at that setting`);
    return "error";
  }
  if (level === "debug" || level === "info" || level === "warn" || level === "error") return level;
  problems.error(`${s.label("log-level")} must be one of debug, info, warn, error, got '${level}'`);
  return "info";
}
