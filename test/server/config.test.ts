// Tests of the etcd-compatible configuration layer: flag syntax, sources and precedence, config
// files, validation messages, the etcd flag table and the generated help.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { type LoadConfigResult, loadConfig, type ServerConfig } from "../../src/server/config.js";
import { type FlagSpec, flagSpecs, isCommandLineFlag } from "../../src/server/configflags.js";
import { helpText } from "../../src/server/confighelp.js";
import {
  formatInitialCluster,
  parseDuration,
  parseHttpUrl,
  parseInitialCluster,
  parseInteger,
} from "../../src/server/configvalues.js";

type Env = Record<string, string | undefined>;

/** A readFile over an in-memory set of files; other paths fail like a missing file. */
function files(contents: Record<string, string> = {}): (path: string) => string {
  return (path) => {
    const text = contents[path];
    if (text === undefined) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
    return text;
  };
}

function load(argv: string[], env: Env = {}, fs: Record<string, string> = {}): LoadConfigResult {
  return loadConfig(argv, env, files(fs));
}

function config(argv: string[], env: Env = {}, fs: Record<string, string> = {}): ServerConfig {
  const r = load(argv, env, fs);
  if (!r.ok) assert.fail(`expected a configuration for ${JSON.stringify(argv)}, got: ${r.error}`);
  return r.config;
}

function warnings(argv: string[], env: Env = {}, fs: Record<string, string> = {}): string[] {
  const r = load(argv, env, fs);
  if (!r.ok) assert.fail(`expected a configuration for ${JSON.stringify(argv)}, got: ${r.error}`);
  return r.warnings;
}

function error(argv: string[], env: Env = {}, fs: Record<string, string> = {}): string {
  const r = load(argv, env, fs);
  if (r.ok) assert.fail(`expected ${JSON.stringify(argv)} to be refused`);
  return r.error;
}

const url = (host: string, port: number, scheme: "http" | "https" = "http") => ({
  href: `${scheme}://${host.includes(":") ? `[${host}]` : host}:${port}`,
  scheme,
  host,
  port,
});

/** The TLS settings of a configuration that sets none. */
const noTls = (side: "client" | "peer") => ({
  side,
  certFile: "",
  keyFile: "",
  trustedCaFile: "",
  clientCertAuth: false,
  crlFile: "",
  autoTls: false,
  allowedCn: "",
  allowedHostname: "",
});

test("loadConfig: no flags gives the documented defaults and no warnings", () => {
  // Proves `npm start` with nothing configured runs one member on 127.0.0.1:2379/2380 with data in ./data.
  const r = load([]);
  assert.ok(r.ok);
  assert.deepEqual(r.warnings, []);
  assert.deepEqual(r.config, {
    name: "default",
    dataDir: "./data",
    listenClientUrls: [url("127.0.0.1", 2379)],
    advertiseClientUrls: [url("127.0.0.1", 2379)],
    listenPeerUrls: [url("127.0.0.1", 2380)],
    initialAdvertisePeerUrls: [url("127.0.0.1", 2380)],
    listenMetricsUrls: [],
    initialCluster: [{ name: "default", peerUrls: [url("127.0.0.1", 2380)] }],
    initialClusterState: "new",
    initialClusterToken: "etcd-cluster",
    heartbeatIntervalMs: 100,
    electionTimeoutMs: 1000,
    electionTicks: 10,
    snapshotCount: 100_000,
    quotaBackendBytes: 2 * 1024 ** 3,
    maxRequestBytes: 1_572_864,
    maxTxnOps: 128,
    autoCompactionMode: "periodic",
    autoCompactionRetention: "0",
    autoCompactionRetentionMs: 0,
    autoCompactionRetentionRevisions: 0,
    corruptCheckTimeMs: 0,
    warningApplyDurationMs: 100,
    authTokenTtlSeconds: 300,
    bcryptCost: 10,
    logLevel: "info",
    clientTls: noTls("client"),
    peerTls: noTls("peer"),
    cipherSuites: [],
    tlsMinVersion: null,
    tlsMaxVersion: null,
    configFile: null,
  });
});

test("loadConfig: every flag form of Go's flag package is read the same way", () => {
  // Proves --flag value, --flag=value, -flag value and -flag=value are equivalent, as in etcd.
  for (const argv of [["--name", "m1"], ["--name=m1"], ["-name", "m1"], ["-name=m1"]]) {
    assert.equal(config(argv).name, "m1", JSON.stringify(argv));
  }
  // A value may itself start with '-' or contain '='.
  assert.equal(config(["--data-dir", "-odd"]).dataDir, "-odd");
  assert.equal(config(["--initial-cluster-token=a=b"]).initialClusterToken, "a=b");
  // The last repeat wins.
  assert.equal(config(["--name=a", "--name", "b"]).name, "b");
  // `--` ends the flags.
  assert.equal(config(["--name=a", "--"]).name, "a");
});

test("loadConfig: booleans are --flag or --flag=<Go boolean word>", () => {
  // Proves boolean flags take no separate value and accept strconv.ParseBool's words.
  const cases: [string[], ServerConfig["logLevel"]][] = [
    [["--debug"], "debug"],
    [["-debug"], "debug"],
    [["--debug=true"], "debug"],
    [["--debug=1"], "debug"],
    [["--debug=t"], "debug"],
    [["--debug=TRUE"], "debug"],
    [["--debug=false", "--log-level=warn"], "warn"],
    [["--debug=0", "--log-level=warn"], "warn"],
    [["--debug=F", "--log-level=warn"], "warn"],
  ];
  for (const [argv, level] of cases) assert.equal(config(argv).logLevel, level, JSON.stringify(argv));
  assert.match(error(["--debug=maybe"]), /--debug must be true or false, got 'maybe'/);
  assert.match(error(["--enable-v2", "false"]), /Unexpected argument 'false'.*--enable-v2=false/);
});

test("loadConfig: integers use Go's syntax (hex, octal, binary, underscores)", () => {
  // Proves numeric flags parse like etcd's, which reads them with strconv base 0.
  const cases: [string, number][] = [
    ["42", 42],
    ["0x10", 16],
    ["0X1f", 31],
    ["0o17", 15],
    ["010", 8],
    ["0b101", 5],
    ["1_000", 1000],
    ["0", 100_000],
  ];
  for (const [text, want] of cases)
    assert.equal(config([`--snapshot-count=${text}`]).snapshotCount, want, text);
  assert.equal(config(["--quota-backend-bytes=+4194304"]).quotaBackendBytes, 4_194_304);
  for (const bad of ["abc", "1.5", "08", "1__0", "-1", "", "0x"]) {
    assert.match(
      error([`--snapshot-count=${bad}`]),
      new RegExp(`--snapshot-count must be a non-negative integer, got '${bad.replace("+", "\\+")}'`),
      bad,
    );
  }
  assert.match(error(["--max-txn-ops=99999999999999999999"]), /--max-txn-ops must be at most/);
});

test("parseInteger: signed parsing follows Go's ParseInt", () => {
  // Proves the signed/unsigned split and the range check.
  assert.deepEqual(parseInteger("-0x10", true), { ok: true, value: -16 });
  assert.deepEqual(parseInteger("+7", true), { ok: true, value: 7 });
  assert.equal(parseInteger("-7", false).ok, false);
  assert.equal(parseInteger("9007199254740992", true).ok, false);
  assert.deepEqual(parseInteger("9007199254740991", true), { ok: true, value: Number.MAX_SAFE_INTEGER });
});

test("parseDuration: Go duration syntax in milliseconds", () => {
  // Proves the units and forms time.ParseDuration accepts, and what it refuses.
  const cases: [string, number][] = [
    ["0", 0],
    ["300ms", 300],
    ["10s", 10_000],
    ["5m", 300_000],
    ["1h", 3_600_000],
    ["1.5h", 5_400_000],
    ["2h45m", 9_900_000],
    ["1h2m3s4ms", 3_723_004],
    ["-5s", -5000],
    ["+5s", 5000],
    [".5s", 500],
    ["1500us", 1.5],
    ["1500µs", 1.5],
    ["2000000ns", 2],
  ];
  for (const [text, ms] of cases) assert.deepEqual(parseDuration(text), { ok: true, value: ms }, text);
  for (const bad of ["", "5", "5x", "s", "1.s.", "5 s", "-", "1h-5m"]) {
    assert.equal(parseDuration(bad).ok, false, bad);
  }
});

test("parseHttpUrl: accepted forms and the reason for each refusal", () => {
  // Proves URL checks: http or https, explicit port, no path, IP (or localhost) to listen on.
  assert.deepEqual(parseHttpUrl("HTTPS://127.0.0.1:2379", "listen"), {
    ok: true,
    value: url("127.0.0.1", 2379, "https"),
  });
  assert.deepEqual(parseHttpUrl("http://[::1]:2379", "listen"), { ok: true, value: url("::1", 2379) });
  assert.deepEqual(parseHttpUrl("http://LOCALHOST:0", "listen"), { ok: true, value: url("localhost", 0) });
  assert.deepEqual(parseHttpUrl("http://node-1.example.com:2380", "advertise"), {
    ok: true,
    value: url("node-1.example.com", 2380),
  });
  const refusals: [string, "listen" | "advertise", RegExp][] = [
    ["127.0.0.1:2379", "listen", /not a URL of the form http:\/\/host:port/],
    ["unixs://sock:1", "listen", /unix socket/],
    ["unix://sock:1", "listen", /unix socket/],
    ["ftp://1.2.3.4:1", "listen", /scheme 'ftp'; only http/],
    ["http://1.2.3.4", "listen", /has no port/],
    ["http://1.2.3.4:", "listen", /has no port/],
    ["http://1.2.3.4:99999", "listen", /invalid port '99999'/],
    ["http://1.2.3.4:2a", "listen", /invalid port '2a'/],
    ["http://1.2.3.4:2379/v3", "listen", /must not contain a path/],
    ["http://1.2.3.4:2379?x=1", "listen", /must not contain a path/],
    ["http://:2379", "listen", /has no host/],
    ["http://exa_mple:2379", "advertise", /invalid host/],
    ["http://1.2.3.999:2379", "advertise", /invalid host/],
    ["http://[zz]:2379", "advertise", /invalid host/],
    ["http://example.com:2379", "listen", /must name an IP address \(or localhost\) to listen on/],
    ["http://1.2.3.4:0", "advertise", /must advertise a real port, not 0/],
  ];
  for (const [text, use, reason] of refusals) {
    const r = parseHttpUrl(text, use);
    assert.equal(r.ok, false, text);
    if (!r.ok) assert.match(r.reason, reason, text);
  }
});

test("parseInitialCluster: name=url entries, repeated names, and malformed lists", () => {
  // Proves the --initial-cluster grammar etcd uses, and that it round-trips to text.
  const r = parseInitialCluster("a=http://10.0.0.1:2380, b=http://10.0.0.2:2380,a=http://10.0.0.9:2380,");
  assert.ok(r.ok);
  assert.deepEqual(
    r.value.map((m) => [m.name, m.peerUrls.map((u) => u.href)]),
    [
      ["a", ["http://10.0.0.1:2380", "http://10.0.0.9:2380"]],
      ["b", ["http://10.0.0.2:2380"]],
    ],
  );
  assert.equal(
    formatInitialCluster(r.value),
    "a=http://10.0.0.1:2380,a=http://10.0.0.9:2380,b=http://10.0.0.2:2380",
  );
  const bad: [string, RegExp][] = [
    ["", /at least one member/],
    ["a", /entry 'a' is not of the form name=http/],
    ["=http://1.2.3.4:1", /empty member name/],
    ["a=http://1.2.3.4", /entry 'a=http:\/\/1.2.3.4': 'http:\/\/1.2.3.4' has no port/],
    ["a=http://1.2.3.4:1,b=http://1.2.3.4:1", /appears twice \(members 'a' and 'b'\)/],
  ];
  for (const [text, reason] of bad) {
    const p = parseInitialCluster(text);
    assert.equal(p.ok, false, text);
    if (!p.ok) assert.match(p.reason, reason, text);
  }
});

test("loadConfig: a three-member cluster configuration resolves fully", () => {
  // Proves the settings `npm run cluster` needs: own URLs, the member list, state and token.
  const c = config([
    "--name=m2",
    "--data-dir=/var/lib/synod/m2",
    "--listen-client-urls=http://127.0.0.1:22379",
    "--advertise-client-urls=http://127.0.0.1:22379",
    "--listen-peer-urls=http://127.0.0.1:22380",
    "--initial-advertise-peer-urls=http://127.0.0.1:22380",
    "--initial-cluster=m1=http://127.0.0.1:2380,m2=http://127.0.0.1:22380,m3=http://127.0.0.1:32380",
    "--initial-cluster-state=existing",
    "--initial-cluster-token=tok",
    "--listen-metrics-urls=http://127.0.0.1:22381",
  ]);
  assert.equal(c.name, "m2");
  assert.equal(c.dataDir, "/var/lib/synod/m2");
  assert.deepEqual(c.listenClientUrls, [url("127.0.0.1", 22379)]);
  assert.deepEqual(c.listenMetricsUrls, [url("127.0.0.1", 22381)]);
  assert.deepEqual(
    c.initialCluster.map((m) => m.name),
    ["m1", "m2", "m3"],
  );
  assert.equal(c.initialClusterState, "existing");
  assert.equal(c.initialClusterToken, "tok");
  // The default initial cluster follows --name and --initial-advertise-peer-urls.
  const solo = config([
    "--name=x",
    "--initial-advertise-peer-urls=http://10.1.1.1:2380,http://10.1.1.2:2380",
  ]);
  assert.equal(formatInitialCluster(solo.initialCluster), "x=http://10.1.1.1:2380,x=http://10.1.1.2:2380");
  // Duplicate URLs in a list are dropped, as etcd's unique-URL flags do.
  assert.equal(
    config(["--listen-peer-urls=http://127.0.0.1:2380,http://127.0.0.1:2380"]).listenPeerUrls.length,
    1,
  );
});

test("loadConfig: timing, limits and compaction derive as etcd does", () => {
  // Proves derived values: election ticks, 0 meaning default, hours vs durations vs revisions.
  assert.equal(config(["--heartbeat-interval=100", "--election-timeout=1050"]).electionTicks, 10);
  assert.equal(config(["--heartbeat-interval=50", "--election-timeout=500"]).electionTicks, 10);
  assert.equal(config(["--quota-backend-bytes=0"]).quotaBackendBytes, 2 * 1024 ** 3);
  assert.equal(
    config(["--quota-backend-bytes=1048576", "--max-request-bytes=4096"]).quotaBackendBytes,
    1_048_576,
  );
  assert.equal(config(["--max-request-bytes=4096"]).maxRequestBytes, 4096);
  assert.equal(config(["--max-txn-ops=1000"]).maxTxnOps, 1000);
  const hours = config(["--auto-compaction-retention=1"]);
  assert.deepEqual(
    [hours.autoCompactionMode, hours.autoCompactionRetentionMs, hours.autoCompactionRetentionRevisions],
    ["periodic", 3_600_000, 0],
  );
  const minutes = config(["--auto-compaction-retention=30m"]);
  assert.equal(minutes.autoCompactionRetentionMs, 1_800_000);
  assert.equal(minutes.autoCompactionRetention, "30m");
  const revs = config(["--auto-compaction-mode=revision", "--auto-compaction-retention=1000"]);
  assert.deepEqual([revs.autoCompactionRetentionMs, revs.autoCompactionRetentionRevisions], [0, 1000]);
});

test("loadConfig: log level from --log-level and --debug", () => {
  // Proves the four levels, --debug overriding, and etcd's panic/fatal mapped to error with a warning.
  for (const level of ["debug", "info", "warn", "error"] as const) {
    assert.equal(config([`--log-level=${level}`]).logLevel, level);
  }
  assert.equal(config(["--log-level=error", "--debug"]).logLevel, "debug");
  const r = load(["--log-level=fatal"]);
  assert.ok(r.ok);
  assert.equal(r.config.logLevel, "error");
  assert.deepEqual(r.warnings, ["--log-level is 'fatal'; Synod logs errors at that setting"]);
});

test("loadConfig: precedence is flag > SYNOD_* > ETCD_* > config file > default", () => {
  // Proves each source overrides the ones below it, setting by setting.
  const fs = { "/etc/synod.yaml": "name: file\ndata-dir: /from/file\nmax-txn-ops: 7\nsnapshot-count: 5\n" };
  const env = {
    SYNOD_CONFIG_FILE: "/etc/synod.yaml",
    SYNOD_DATA_DIR: "/from/synod",
    ETCD_DATA_DIR: "/from/etcd",
    ETCD_MAX_TXN_OPS: "9",
  };
  const c = config(["--name=flag"], env, fs);
  assert.equal(c.name, "flag");
  assert.equal(c.dataDir, "/from/synod");
  assert.equal(c.maxTxnOps, 9);
  assert.equal(c.snapshotCount, 5);
  assert.equal(c.heartbeatIntervalMs, 100);
  assert.equal(c.configFile, "/etc/synod.yaml");
  // ETCD_* alone works (etcd deployments), and an empty variable counts as unset, as in etcd.
  assert.equal(config([], { ETCD_NAME: "etcd-name" }).name, "etcd-name");
  assert.equal(config([], { SYNOD_NAME: "", ETCD_NAME: "e" }).name, "e");
  // --config-file beats SYNOD_CONFIG_FILE, which beats ETCD_CONFIG_FILE.
  const two = { "/a.yaml": "name: a\n", "/b.yaml": "name: b\n", "/c.yaml": "name: c\n" };
  assert.equal(config(["--config-file=/a.yaml"], { SYNOD_CONFIG_FILE: "/b.yaml" }, two).name, "a");
  assert.equal(config([], { SYNOD_CONFIG_FILE: "/b.yaml", ETCD_CONFIG_FILE: "/c.yaml" }, two).name, "b");
  assert.equal(config([], { ETCD_CONFIG_FILE: "/c.yaml" }, two).name, "c");
});

test("loadConfig: warnings for shadowed and unrecognised environment variables", () => {
  // Proves etcd's environment warnings: a variable shadowed by a flag, and an unknown name.
  assert.deepEqual(warnings(["--name=a"], { SYNOD_NAME: "b" }), [
    "SYNOD_NAME is set but unused: --name on the command line takes precedence",
  ]);
  assert.deepEqual(warnings([], { SYNOD_NAME: "b", ETCD_NAME: "c" }), [
    "ETCD_NAME is set but unused: SYNOD_NAME takes precedence for --name",
  ]);
  assert.deepEqual(warnings([], { ETCD_NAMEE: "x", SYNOD_DATADIR: "y", ETCDCTL_API: "3" }), [
    "Unrecognized environment variable ETCD_NAMEE: no flag of that name (ignored)",
    "Unrecognized environment variable SYNOD_DATADIR: no flag of that name (ignored)",
  ]);
});

test("loadConfig: a YAML config file in etcd's format", () => {
  // Proves etcd-style YAML: flag-name keys, lists as YAML sequences, empty keys unset, TLS sections.
  const yaml = `# etcd-style configuration
name: infra1
data-dir: /var/lib/etcd/infra1
wal-dir:
snapshot-count: 10000
heartbeat-interval: 100
election-timeout: 1000
quota-backend-bytes: 0x40000000
listen-peer-urls: http://10.0.0.1:2380
listen-client-urls: [http://10.0.0.1:2379, http://127.0.0.1:2379]
initial-advertise-peer-urls: http://10.0.0.1:2380
advertise-client-urls: http://10.0.0.1:2379
discovery:
initial-cluster: infra1=http://10.0.0.1:2380,infra2=http://10.0.0.2:2380
initial-cluster-token: 'etcd-cluster-1'
initial-cluster-state: 'new'
auto-compaction-mode: periodic
auto-compaction-retention: "1"
log-level: warn
client-transport-security:
  cert-file:
  auto-tls: false
`;
  const r = load(["--config-file=/etc/etcd.yml"], {}, { "/etc/etcd.yml": yaml });
  assert.ok(r.ok, r.ok ? "" : r.error);
  const c = r.config;
  assert.equal(c.name, "infra1");
  assert.equal(c.dataDir, "/var/lib/etcd/infra1");
  assert.equal(c.snapshotCount, 10_000);
  assert.equal(c.quotaBackendBytes, 1024 ** 3);
  assert.deepEqual(c.listenClientUrls, [url("10.0.0.1", 2379), url("127.0.0.1", 2379)]);
  assert.deepEqual(
    c.initialCluster.map((m) => m.name),
    ["infra1", "infra2"],
  );
  assert.equal(c.initialClusterToken, "etcd-cluster-1");
  assert.equal(c.autoCompactionRetentionMs, 3_600_000);
  assert.equal(c.logLevel, "warn");
  assert.equal(c.configFile, "/etc/etcd.yml");
  // The TLS section is read as etcd reads it: its empty cert-file leaves TLS off, quietly.
  assert.deepEqual(r.warnings, []);
  assert.deepEqual(c.clientTls, noTls("client"));
});

test("loadConfig: a JSON config file, and durations in nanoseconds as etcd writes them", () => {
  // Proves .json files are read as JSON, numbers and booleans are typed, and a numeric duration is ns.
  const json = JSON.stringify({
    name: "j",
    "heartbeat-interval": 50,
    "election-timeout": "500",
    "max-request-bytes": 2097152,
    debug: true,
    "grpc-keepalive-timeout": 20_000_000_000,
    "log-outputs": ["stderr"],
  });
  const r = load(["--config-file", "/c.json"], {}, { "/c.json": json });
  assert.ok(r.ok, r.ok ? "" : r.error);
  assert.equal(r.config.name, "j");
  assert.equal(r.config.heartbeatIntervalMs, 50);
  assert.equal(r.config.electionTimeoutMs, 500);
  assert.equal(r.config.maxRequestBytes, 2_097_152);
  assert.equal(r.config.logLevel, "debug");
  assert.equal(r.warnings.length, 2);
  // The same JSON text is also valid YAML.
  assert.equal(config(["--config-file=/c.yaml"], {}, { "/c.yaml": json }).name, "j");
  // YAML 1.1 boolean words, which etcd's YAML reader accepts, are booleans in a YAML file.
  assert.equal(config(["--config-file=/y.yaml"], {}, { "/y.yaml": "debug: yes\n" }).logLevel, "debug");
  assert.equal(
    config(["--config-file=/y.yaml"], {}, { "/y.yaml": "debug: off\nlog-level: warn\n" }).logLevel,
    "warn",
  );
  // As in etcd, listen-client-urls from a file without advertise-client-urls keeps the default advertised URL.
  const listenOnly = config(
    ["--config-file=/l.yaml"],
    {},
    { "/l.yaml": "listen-client-urls: http://0.0.0.0:2379\n" },
  );
  assert.deepEqual(listenOnly.advertiseClientUrls, [url("127.0.0.1", 2379)]);
  // An empty file sets nothing.
  assert.equal(config(["--config-file=/e.yaml"], {}, { "/e.yaml": "# nothing\n" }).name, "default");
});

test("loadConfig: config file problems name the file and the key", () => {
  // Proves unreadable, unparseable, non-mapping files and unknown or mistyped keys are refused clearly.
  assert.equal(
    error(["--config-file=/missing.yaml"]),
    "Cannot read config file '/missing.yaml' (--config-file): ENOENT: no such file or directory, open '/missing.yaml'",
  );
  assert.match(
    error([], { SYNOD_CONFIG_FILE: "/missing.yaml" }),
    /Cannot read config file '\/missing.yaml' \(SYNOD_CONFIG_FILE \(--config-file\)\)/,
  );
  assert.match(
    error(["--config-file=/a.yaml"], {}, { "/a.yaml": "name: [unclosed\n" }),
    /Cannot parse config file '\/a.yaml': /,
  );
  assert.match(
    error(["--config-file=/a.json"], {}, { "/a.json": "{name: 1}" }),
    /Cannot parse config file '\/a.json': /,
  );
  assert.match(
    error(["--config-file=/a.yaml"], {}, { "/a.yaml": "name: a\nname: b\n" }),
    /Cannot parse config file/,
  );
  assert.equal(
    error(["--config-file=/a.yaml"], {}, { "/a.yaml": "- name\n" }),
    "Config file '/a.yaml' must hold a mapping of flag names to values",
  );
  assert.equal(
    error(["--config-file=/a.yaml"], {}, { "/a.yaml": "data_dir: /x\n" }),
    "Unknown key 'data_dir' in config file '/a.yaml': etcd 3.4 has no such setting",
  );
  assert.equal(
    error(["--config-file=/a.yaml"], {}, { "/a.yaml": "config-file: /b.yaml\n" }),
    "Unknown key 'config-file' in config file '/a.yaml': it is only meaningful on the command line",
  );
  assert.equal(
    error(["--config-file=/a.yaml"], {}, { "/a.yaml": "heartbeat-interval: fast\n" }),
    "Invalid configuration: 'heartbeat-interval' in config file '/a.yaml' must be a non-negative integer, got 'fast'",
  );
  assert.equal(
    error(["--config-file=/a.yaml"], {}, { "/a.yaml": "name: [a, b]\n" }),
    `Invalid configuration: 'name' in config file '/a.yaml' must be text, got ["a","b"]`,
  );
  assert.equal(
    error(["--config-file=/a.yaml"], {}, { "/a.yaml": "client-transport-security: yes\n" }),
    "Invalid configuration: 'client-transport-security' in config file '/a.yaml' must be a mapping, got 'yes'",
  );
});

test("loadConfig: every validation error names the setting and the value", () => {
  // Proves each refusal's message, one table row per rule.
  const m = (s: string) => new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const cases: [string[], Env, string][] = [
    [
      ["--listen-client-urls=http://1.2.3.4", "--advertise-client-urls=http://1.2.3.4:1"],
      {},
      "--listen-client-urls: 'http://1.2.3.4' has no port",
    ],
    [
      ["--listen-peer-urls=https://127.0.0.1:2380"],
      {},
      "--listen-peer-urls has https://127.0.0.1:2380, which needs a certificate: set --peer-cert-file and --peer-key-file, or --peer-auto-tls",
    ],
    [
      ["--initial-advertise-peer-urls=http://a.example:2380/x"],
      {},
      "--initial-advertise-peer-urls: 'http://a.example:2380/x' must not contain a path",
    ],
    [
      ["--listen-metrics-urls=http://metrics.local:2381"],
      {},
      "--listen-metrics-urls: 'http://metrics.local:2381' must name an IP address",
    ],
    [
      [],
      { SYNOD_LISTEN_PEER_URLS: "garbage" },
      "SYNOD_LISTEN_PEER_URLS (--listen-peer-urls): 'garbage' is not a URL",
    ],
    [["--listen-peer-urls="], {}, "--listen-peer-urls must list at least one URL"],
    [
      ["--initial-cluster-state=bogus"],
      {},
      "--initial-cluster-state must be one of new, existing, got 'bogus'",
    ],
    [
      ["--auto-compaction-mode=hourly"],
      {},
      "--auto-compaction-mode must be one of periodic, revision, got 'hourly'",
    ],
    [
      ["--log-level=trace"],
      {},
      "--log-level must be one of debug, info, warn, error, panic, fatal, got 'trace'",
    ],
    [
      ["--heartbeat-interval=1000"],
      {},
      "--heartbeat-interval (1000 ms) must be below --election-timeout (1000 ms)",
    ],
    [
      ["--heartbeat-interval=300"],
      {},
      "--election-timeout (1000 ms) must be at least 5 times --heartbeat-interval (300 ms)",
    ],
    [["--election-timeout=60000"], {}, "--election-timeout (60000 ms) must be at most 50000 ms"],
    [["--heartbeat-interval=0"], {}, "--heartbeat-interval (0 ms) must be a positive number of milliseconds"],
    [["--election-timeout=0"], {}, "--election-timeout (0 ms) must be a positive number of milliseconds"],
    [
      ["--name=m9", "--initial-cluster=m1=http://127.0.0.1:2380"],
      {},
      "--initial-cluster has no entry for this member's --name 'm9', got 'm1=http://127.0.0.1:2380'",
    ],
    [
      ["--initial-cluster=default=http://127.0.0.1:9999"],
      {},
      "--initial-cluster gives member 'default' the peer URLs http://127.0.0.1:9999, but --initial-advertise-peer-urls is http://127.0.0.1:2380; they must match",
    ],
    [
      ["--initial-cluster=default"],
      {},
      "--initial-cluster entry 'default' is not of the form name=http://host:port, got 'default'",
    ],
    [
      ["--initial-cluster=a=http://1.1.1.1:1,default=http://1.1.1.1:1"],
      {},
      "--initial-cluster peer URL http://1.1.1.1:1 appears twice",
    ],
    [["--snapshot-count=many"], {}, "--snapshot-count must be a non-negative integer, got 'many'"],
    [["--max-txn-ops=-5"], {}, "--max-txn-ops must be a non-negative integer, got '-5'"],
    [["--max-txn-ops=0"], {}, "--max-txn-ops must be a positive integer, got 0"],
    [
      [],
      { ETCD_HEARTBEAT_INTERVAL: "1s" },
      "ETCD_HEARTBEAT_INTERVAL (--heartbeat-interval) must be a non-negative integer, got '1s'",
    ],
    [
      ["--grpc-keepalive-timeout=soon"],
      {},
      "--grpc-keepalive-timeout must be a duration such as 500ms, 10s, 5m or 1h, got 'soon'",
    ],
    [
      ["--auto-compaction-retention=5x"],
      {},
      "--auto-compaction-retention must be a number of hours or a duration such as 30m, got '5x'",
    ],
    [["--auto-compaction-retention=-1h"], {}, "--auto-compaction-retention must not be negative, got '-1h'"],
    [
      ["--auto-compaction-mode=revision", "--auto-compaction-retention=1h"],
      {},
      "--auto-compaction-retention must be a whole number of revisions in revision mode (--auto-compaction-mode), got '1h'",
    ],
    [
      ["--quota-backend-bytes=-1"],
      {},
      "--quota-backend-bytes must not be negative (Synod always keeps a quota; 0 means 2 GiB), got -1",
    ],
    [["--max-request-bytes=0"], {}, "--max-request-bytes must be a positive number of bytes, got 0"],
    [
      ["--max-request-bytes=33554433"],
      {},
      "--max-request-bytes must be at most 33554432 (32 MiB), got 33554433",
    ],
    [
      ["--max-request-bytes=2000000", "--quota-backend-bytes=1000000"],
      {},
      "--max-request-bytes (2000000) must not exceed the storage quota --quota-backend-bytes (1000000)",
    ],
    [
      ["--listen-client-urls=http://0.0.0.0:2379"],
      {},
      "--advertise-client-urls is required when --listen-client-urls is set",
    ],
    [
      [],
      { ETCD_LISTEN_CLIENT_URLS: "http://0.0.0.0:2379" },
      "--advertise-client-urls is required when ETCD_LISTEN_CLIENT_URLS (--listen-client-urls) is set",
    ],
    [
      ["--listen-peer-urls=http://127.0.0.1:2379"],
      {},
      "--listen-client-urls (http://127.0.0.1:2379) and --listen-peer-urls (http://127.0.0.1:2379) would listen on the same address",
    ],
    [
      ["--listen-metrics-urls=http://0.0.0.0:2380"],
      {},
      "--listen-peer-urls (http://127.0.0.1:2380) and --listen-metrics-urls (http://0.0.0.0:2380) would listen on the same address",
    ],
    [
      ["--discovery=https://discovery.etcd.io/abc"],
      {},
      "--discovery is 'https://discovery.etcd.io/abc', but Synod cannot bootstrap through discovery",
    ],
    [
      ["--discovery-srv=example.com"],
      {},
      "--discovery-srv is 'example.com', but Synod cannot bootstrap through discovery",
    ],
    [["--proxy=on"], {}, "--proxy is 'on', but Synod has no v2 proxy mode"],
    [["--proxy=sideways"], {}, "--proxy must be one of off, readonly, on, got 'sideways'"],
    [["--name="], {}, "--name must not be empty"],
    [["--name=a=b"], {}, "--name must not contain ',' or '=', got 'a=b'"],
    [["--data-dir="], {}, "--data-dir must not be empty"],
  ];
  for (const [argv, env, message] of cases) {
    const e = error(argv, env);
    assert.match(e, m(`Invalid configuration: ${message}`), `${JSON.stringify(argv)} ${JSON.stringify(env)}`);
  }
});

test("loadConfig: all problems are reported together, one per line", () => {
  // Proves a user sees every mistake at once instead of fixing them one run at a time.
  const lines = error(["--snapshot-count=x", "--max-txn-ops=y", "--initial-cluster-state=z"]).split("\n");
  assert.equal(lines.length, 3);
  for (const line of lines) assert.match(line, /^Invalid configuration: /);
});

test("loadConfig: warnings for a large quota and a large request limit", () => {
  // Proves settings that are allowed but unwise draw a warning, as in etcd.
  assert.deepEqual(warnings(["--quota-backend-bytes=17179869184"]), [
    "--quota-backend-bytes is 17179869184 bytes, above the suggested maximum of 8 GiB; Synod holds its data in memory",
  ]);
  assert.deepEqual(warnings(["--max-request-bytes=16777216"]), [
    "--max-request-bytes is 16777216 bytes, above the recommended maximum of 10 MiB",
  ]);
});

/** A valid value for a flag whose value Synod ignores ("" for discovery flags, refused when non-empty). */
function sampleValue(spec: FlagSpec): string {
  switch (spec.kind) {
    case "bool":
    case "legacy":
      return "true";
    case "uint":
    case "int":
      return "1";
    case "duration":
      return "1s";
    case "choice":
      return spec.values?.[0] ?? "";
    case "listenUrls":
    case "advertiseUrls":
      return "http://127.0.0.1:1234";
    case "list":
    case "string":
      return spec.name.startsWith("discovery") ? "" : "x";
    case "section":
      return "";
  }
}

const ignoredFlags = flagSpecs.filter((s) => s.support.status === "ignored" && isCommandLineFlag(s));

test("loadConfig: every etcd flag Synod ignores is accepted with exactly one warning naming it", () => {
  // Proves the drop-in promise: each such flag, from the command line, ETCD_* or a config file,
  // is accepted with one warning line naming it, even when given by two sources at once.
  assert.ok(ignoredFlags.length > 50);
  for (const spec of ignoredFlags) {
    const value = sampleValue(spec);
    const forms =
      spec.kind === "bool" || spec.kind === "legacy"
        ? [[`--${spec.name}`], [`--${spec.name}=${value}`]]
        : [[`--${spec.name}=${value}`], [`--${spec.name}`, value]];
    for (const argv of forms) {
      const w = warnings(argv);
      assert.equal(w.length, 1, `${argv.join(" ")}: ${JSON.stringify(w)}`);
      assert.ok(w[0]?.startsWith(`--${spec.name} is accepted but ignored: `), w[0]);
    }
    const variable = `ETCD_${spec.name.toUpperCase().replaceAll("-", "_")}`;
    const twice = warnings([`--${spec.name}=${value}`], { [variable]: "x" });
    assert.equal(twice.length, 1, `flag and ${variable}: ${JSON.stringify(twice)}`);
    if (value === "") continue; // an empty variable counts as unset
    const fromEnv = warnings([], { [variable]: value });
    assert.equal(fromEnv.length, 1, `${variable}: ${JSON.stringify(fromEnv)}`);
    assert.ok(fromEnv[0]?.startsWith(`${variable} (--${spec.name}) is accepted but ignored: `), fromEnv[0]);
    const fromFile = warnings(["--config-file=/f.yaml"], {}, { "/f.yaml": `${spec.name}: "${value}"\n` });
    assert.equal(fromFile.length, 1, `${spec.name} in a file: ${JSON.stringify(fromFile)}`);
    assert.ok(fromFile[0]?.startsWith(`'${spec.name}' in config file '/f.yaml' is accepted but ignored: `));
  }
});

test("loadConfig: the auth flags — simple tokens only, the token TTL, the password cost", () => {
  // Proves --auth-token accepts only etcd's default 'simple' (JWT is refused at start, never
  // silently served as something else), --auth-token-ttl 0 means 300 s as in etcd, and a
  // --bcrypt-cost outside 4–31 warns and falls back to 10 as etcd does.
  const given = load(["--auth-token=simple", "--auth-token-ttl=30", "--bcrypt-cost=4"]);
  assert.ok(given.ok);
  assert.deepEqual([given.config.authTokenTtlSeconds, given.config.bcryptCost], [30, 4]);
  const zero = load(["--auth-token-ttl=0"]);
  assert.ok(zero.ok);
  assert.equal(zero.config.authTokenTtlSeconds, 300);
  assert.equal(
    error(["--auth-token=jwt,pub-key=a.pub,priv-key=a.key,sign-method=RS256"]),
    "Invalid configuration: --auth-token must be 'simple' (Synod serves etcd's simple tokens only), got 'jwt,pub-key=a.pub,priv-key=a.key,sign-method=RS256'",
  );
  const w = warnings(["--bcrypt-cost=40"]);
  assert.deepEqual(w, ["--bcrypt-cost must be in 4–31, got 40; using 10"]);
});

test("loadConfig: flags etcd 3.4 does not have are refused, naming the flag", () => {
  // Proves unknown flags (including ones only newer etcd releases have) stop the start.
  const cases = [
    "--bogus",
    "--data_dir=/x",
    "--experimental-memory-mlock",
    "--listen-client-http-urls=http://127.0.0.1:1",
    "--experimental-compact-hash-check-enabled",
    "--ca-file=/ca.pem",
    "--client-transport-security=x",
  ];
  for (const arg of cases) {
    const name = arg.replace(/^--/, "").split("=")[0];
    assert.equal(
      error([arg]),
      `Unknown flag '--${name}': etcd 3.4 has no such flag, and neither has Synod (see --help)`,
      arg,
    );
  }
  assert.equal(error(["--name"]), "Flag '--name' needs a value: --name=<string>");
  assert.equal(error(["serve"]), "Unexpected argument 'serve': Synod takes only flags");
  assert.equal(error(["--name=a", "--", "extra"]), "Unexpected argument 'extra': Synod takes only flags");
  assert.equal(error(["---name=a"]), "Bad flag syntax '---name=a': write --name=value or --name value");
  assert.equal(error(["-"]), "Unexpected argument '-': Synod takes only flags");
  assert.equal(error(["--help"]), "--help asks for the usage text, not a configuration");
});

/**
 * The flag set of the etcd 3.4.23 binary, probed flag by flag (`etcd --version --<flag>`):
 * boolean flags are accepted bare, the others need a value.
 */
const etcd34Bool =
  `auto-tls client-cert-auth cluster-active-size cluster-remove-delay cluster-sync-interval config
  debug enable-grpc-gateway enable-pprof enable-v2 experimental-enable-lease-checkpoint
  experimental-enable-lease-checkpoint-persist experimental-initial-corrupt-check
  experimental-peer-skip-client-san-verification force force-new-cluster initial-election-tick-advance
  max-result-buffer max-retry-attempts peer-auto-tls peer-client-cert-auth peer-election-timeout
  peer-heartbeat-interval pre-vote retry-interval snapshot strict-reconfig-check test.coverprofile
  test.outputdir unsafe-no-fsync v version vv`.split(/\s+/);
const etcd34Valued = `advertise-client-urls auth-token auth-token-ttl auto-compaction-mode
  auto-compaction-retention backend-batch-interval backend-batch-limit bcrypt-cost cert-file cipher-suites
  client-cert-allowed-hostname client-crl-file config-file cors data-dir discovery discovery-fallback
  discovery-proxy discovery-srv discovery-srv-name election-timeout experimental-backend-bbolt-freelist-type
  experimental-compaction-batch-limit experimental-corrupt-check-time experimental-enable-v2v3
  experimental-warning-apply-duration experimental-watch-progress-notify-interval grpc-keepalive-interval
  grpc-keepalive-min-time grpc-keepalive-timeout heartbeat-interval host-whitelist initial-advertise-peer-urls
  initial-cluster initial-cluster-state initial-cluster-token key-file listen-client-urls listen-metrics-urls
  listen-peer-urls log-level log-output log-outputs log-package-levels logger max-concurrent-streams
  max-request-bytes max-snapshots max-txn-ops max-wals metrics name peer-cert-allowed-cn
  peer-cert-allowed-hostname peer-cert-file peer-crl-file peer-key-file peer-trusted-ca-file proxy
  proxy-dial-timeout proxy-failure-wait proxy-read-timeout proxy-refresh-interval proxy-write-timeout
  quota-backend-bytes snapshot-count trusted-ca-file wal-dir`.split(/\s+/);

test("flagSpecs: the table holds exactly etcd 3.4's flags, with the same boolean-ness", () => {
  // Proves drop-in coverage: every flag etcd 3.4.23 defines is in the table (plus the late-3.4 TLS
  // version flags), and a flag takes a separate value exactly when etcd's does.
  const table = flagSpecs.filter(isCommandLineFlag);
  const boolInTable = table.filter((s) => s.kind === "bool" || s.kind === "legacy").map((s) => s.name);
  const valuedInTable = table.filter((s) => s.kind !== "bool" && s.kind !== "legacy").map((s) => s.name);
  assert.deepEqual([...boolInTable].sort(), [...etcd34Bool].sort());
  assert.deepEqual([...valuedInTable].sort(), [...etcd34Valued, "tls-max-version", "tls-min-version"].sort());
  assert.equal(new Set(flagSpecs.map((s) => s.name)).size, flagSpecs.length, "no flag listed twice");
  // Every flag the issue names as Synod's core settings is honoured.
  const core =
    `name data-dir listen-client-urls advertise-client-urls listen-peer-urls initial-advertise-peer-urls
    initial-cluster initial-cluster-state initial-cluster-token heartbeat-interval election-timeout snapshot-count
    quota-backend-bytes max-request-bytes max-txn-ops auto-compaction-mode auto-compaction-retention log-level
    listen-metrics-urls config-file`.split(/\s+/);
  for (const name of core) {
    assert.equal(flagSpecs.find((s) => s.name === name)?.support.status, "honoured", name);
  }
});

test("helpText: lists every flag with its default and what Synod does with it", () => {
  // Proves --help documents each accepted flag, generated from the same table the parser uses.
  const help = helpText();
  for (const spec of flagSpecs) {
    const heading =
      spec.kind === "section"
        ? `  ${spec.name}: (config file)\n`
        : `  --${spec.name}${spec.kind === "legacy" ? "\n" : " '"}`;
    const at = help.indexOf(`\n${heading}`);
    assert.ok(at >= 0, spec.name);
    const entry = help
      .slice(at + 1)
      .split("\n")
      .slice(0, 3)
      .join("\n");
    assert.match(
      entry,
      spec.support.status === "honoured" ? /\n {6}Synod: (?!accepted)/ : /\n {6}Synod: accepted, ignored: /,
      spec.name,
    );
  }
  assert.match(help, /--data-dir '\.\/data'\n.*\n.*etcd's default: '\$\{name\}\.etcd'/);
  assert.match(help, /SYNOD_DATA_DIR for --data-dir/);
  assert.match(help, /synod -h \| --help/);
});

test("docs/configuration.md: the flag table lists every flag with the status the code gives it", () => {
  // Proves the documentation cannot drift from the table that drives parsing and --help.
  const doc = readFileSync(join(process.cwd(), "docs/configuration.md"), "utf8");
  for (const spec of flagSpecs) {
    const cell = spec.kind === "section" ? `\`${spec.name}:\`` : `\`--${spec.name}\``;
    const rows = doc
      .split("\n")
      .filter((line) => line.startsWith(`| ${cell} `) && /\| (honoured|accepted, ignored): /.test(line));
    assert.equal(rows.length, 1, `one flag-table row for ${cell}`);
    const status = spec.support.status === "honoured" ? "| honoured: " : "| accepted, ignored: ";
    assert.ok(rows[0]?.includes(status), `${cell}: ${rows[0]}`);
  }
});
