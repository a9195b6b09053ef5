/**
 * Every flag etcd 3.4 accepts, in one table: its kind, etcd's default, a description, and whether
 * Synod honours it or accepts and ignores it. The parser, `--help` and `docs/configuration.md` are
 * all driven by this table, so a flag cannot be accepted without being documented.
 *
 * The list was checked against the flag set of the etcd 3.4.23 binary (the version Debian ships)
 * plus `--tls-min-version` / `--tls-max-version`, added in a later 3.4 release.
 */

/** How a flag's value is written. */
export const FlagKind = {
  /** Any text. */
  string: "string",
  /** `--flag`, `--flag=true|false` (Go's boolean words); never a separate `true` argument. */
  bool: "bool",
  /** A non-negative integer (Go syntax: decimal, 0x hex, 0o/0 octal, 0b binary, `_` separators). */
  uint: "uint",
  /** A signed integer, same syntax. */
  int: "int",
  /** A Go duration such as 500ms, 10s, 5m, 1h. */
  duration: "duration",
  /** Comma-separated URLs to listen on (IP address or localhost). */
  listenUrls: "listenUrls",
  /** Comma-separated URLs to advertise (host names allowed). */
  advertiseUrls: "advertiseUrls",
  /** Comma-separated words. */
  list: "list",
  /** One of a fixed set of words (`values`). */
  choice: "choice",
  /** An etcd 0.4 flag etcd itself ignores: boolean syntax, any `=value`. */
  legacy: "legacy",
  /** A config-file section (a YAML mapping); never a command-line flag. */
  section: "section",
} as const;
export type FlagKind = (typeof FlagKind)[keyof typeof FlagKind];

/** The `--help` section a flag is listed under (etcd's grouping). */
export const FlagGroup = {
  member: "Member",
  clustering: "Clustering",
  security: "Security",
  auth: "Auth",
  monitoring: "Profiling and monitoring",
  logging: "Logging",
  proxy: "v2 proxy (etcd's, removed in etcd 3.5)",
  experimental: "Experimental",
  unsafe: "Unsafe",
  misc: "Miscellaneous",
  legacy: "Legacy etcd 0.4 flags (etcd ignores them too)",
  fileOnly: "Config file only",
} as const;
export type FlagGroup = (typeof FlagGroup)[keyof typeof FlagGroup];

/** What Synod does with a flag. */
export type FlagSupport =
  | {
      readonly status: "honoured";
      /** What the setting does in Synod. */
      readonly effect: string;
      /** Synod's default, when it differs from etcd's. */
      readonly synodDefault?: string;
    }
  | {
      readonly status: "ignored";
      /** Why Synod ignores it; shown in the warning line and the docs. */
      readonly reason: string;
    };

/** One flag of etcd 3.4. */
export interface FlagSpec {
  /** The name without dashes, e.g. `data-dir`. */
  readonly name: string;
  readonly kind: FlagKind;
  /** The accepted words of a `choice` flag. */
  readonly values?: readonly string[];
  readonly group: FlagGroup;
  /** etcd 3.4's default as its `--help` shows it ("" for none). */
  readonly etcdDefault: string;
  /** What the flag means in etcd. */
  readonly description: string;
  readonly support: FlagSupport;
}

const K = FlagKind;
const G = FlagGroup;

function honoured(effect: string, synodDefault?: string): FlagSupport {
  return synodDefault === undefined
    ? { status: "honoured", effect }
    : { status: "honoured", effect, synodDefault };
}

function ignored(reason: string): FlagSupport {
  return { status: "ignored", reason };
}

const noBackend = ignored("Synod has no bbolt backend: state lives in memory, made durable by its WAL");
const noProxy = ignored("Synod has no v2 proxy mode; --proxy values other than 'off' are refused");
const legacy = ignored("an etcd 0.4 flag that etcd 3.4 also ignores");

/** Every etcd 3.4 flag (and the two config-file-only sections), in `--help` order. */
export const flagSpecs: readonly FlagSpec[] = [
  // Member
  {
    name: "name",
    kind: K.string,
    group: G.member,
    etcdDefault: "default",
    description: "Human-readable name of this member; must match its entry in --initial-cluster.",
    support: honoured("names this member in --initial-cluster and in member lists"),
  },
  {
    name: "data-dir",
    kind: K.string,
    group: G.member,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: etcd's default, printed literally as its --help does
    etcdDefault: "${name}.etcd",
    description: "Directory holding this member's write-ahead log and snapshots.",
    support: honoured("where the WAL and snapshots are kept", "./data"),
  },
  {
    name: "wal-dir",
    kind: K.string,
    group: G.member,
    etcdDefault: "",
    description: "A separate directory for the write-ahead log.",
    support: ignored("Synod keeps its write-ahead log inside --data-dir"),
  },
  {
    name: "snapshot-count",
    kind: K.uint,
    group: G.member,
    etcdDefault: "100000",
    description: "Committed entries between two snapshots to disk (0 means the default).",
    support: honoured("applied entries between local snapshots, after which the log is released"),
  },
  {
    name: "heartbeat-interval",
    kind: K.uint,
    group: G.member,
    etcdDefault: "100",
    description: "Milliseconds between leader heartbeats (one Raft tick).",
    support: honoured("the Raft tick length and leader heartbeat period"),
  },
  {
    name: "election-timeout",
    kind: K.uint,
    group: G.member,
    etcdDefault: "1000",
    description:
      "Milliseconds a follower waits without hearing from a leader before it campaigns; at least 5 heartbeats, at most 50000.",
    support: honoured("the Raft election timeout (rounded down to whole heartbeats)"),
  },
  {
    name: "initial-election-tick-advance",
    kind: K.bool,
    group: G.member,
    etcdDefault: "true",
    description: "Fast-forward the election clock at boot so the first election comes sooner.",
    support: ignored("Synod's raft driver chooses the first election timeout itself"),
  },
  {
    name: "listen-peer-urls",
    kind: K.listenUrls,
    group: G.member,
    etcdDefault: "http://localhost:2380",
    description: "URLs to accept peer (member-to-member) connections on.",
    support: honoured("addresses the peer transport listens on", "http://127.0.0.1:2380"),
  },
  {
    name: "listen-client-urls",
    kind: K.listenUrls,
    group: G.member,
    etcdDefault: "http://localhost:2379",
    description:
      "URLs to accept client connections on (gRPC and HTTP share each port); setting it requires --advertise-client-urls.",
    support: honoured("addresses the etcd API listens on", "http://127.0.0.1:2379"),
  },
  {
    name: "max-snapshots",
    kind: K.uint,
    group: G.member,
    etcdDefault: "5",
    description: "Snapshot files to keep (0 is unlimited).",
    support: ignored("Synod's WAL decides which snapshot files to keep"),
  },
  {
    name: "max-wals",
    kind: K.uint,
    group: G.member,
    etcdDefault: "5",
    description: "WAL files to keep (0 is unlimited).",
    support: ignored("Synod's WAL releases segments once a snapshot covers them"),
  },
  {
    name: "quota-backend-bytes",
    kind: K.int,
    group: G.member,
    etcdDefault: "0",
    description: "Storage size in bytes at which the NOSPACE alarm is raised (0 means 2 GiB).",
    support: honoured("the storage quota; above it writes fail with NOSPACE (negative values are refused)"),
  },
  {
    name: "backend-batch-interval",
    kind: K.duration,
    group: G.member,
    etcdDefault: "",
    description: "Longest time before the backend transaction is committed.",
    support: noBackend,
  },
  {
    name: "backend-batch-limit",
    kind: K.int,
    group: G.member,
    etcdDefault: "0",
    description: "Most operations before the backend transaction is committed.",
    support: noBackend,
  },
  {
    name: "max-txn-ops",
    kind: K.uint,
    group: G.member,
    etcdDefault: "128",
    description: "Most operations in one transaction.",
    support: honoured("the limit on compares and operations per transaction level"),
  },
  {
    name: "max-request-bytes",
    kind: K.uint,
    group: G.member,
    etcdDefault: "1572864",
    description: "Largest client request in bytes.",
    support: honoured("the largest request accepted (at most 32 MiB in Synod)"),
  },
  {
    name: "max-concurrent-streams",
    kind: K.uint,
    group: G.member,
    etcdDefault: "math.MaxUint32",
    description: "Concurrent streams each client connection may open.",
    support: ignored("not configurable in Synod"),
  },
  {
    name: "grpc-keepalive-min-time",
    kind: K.duration,
    group: G.member,
    etcdDefault: "5s",
    description: "Shortest interval at which a client may ping the server.",
    support: ignored("not configurable in Synod"),
  },
  {
    name: "grpc-keepalive-interval",
    kind: K.duration,
    group: G.member,
    etcdDefault: "2h",
    description: "How often the server pings an idle client connection (0 disables).",
    support: ignored("not configurable in Synod"),
  },
  {
    name: "grpc-keepalive-timeout",
    kind: K.duration,
    group: G.member,
    etcdDefault: "20s",
    description: "How long to wait for a ping reply before closing the connection (0 disables).",
    support: ignored("not configurable in Synod"),
  },
  // Clustering
  {
    name: "initial-advertise-peer-urls",
    kind: K.advertiseUrls,
    group: G.clustering,
    etcdDefault: "http://localhost:2380",
    description:
      "This member's peer URLs as the other members reach them; must match its --initial-cluster entry.",
    support: honoured(
      "the peer URLs this member announces when the cluster is formed",
      "http://127.0.0.1:2380",
    ),
  },
  {
    name: "initial-cluster",
    kind: K.string,
    group: G.clustering,
    etcdDefault: "default=http://localhost:2380",
    description: "The members of a new cluster as name=peer-url pairs, comma-separated.",
    support: honoured(
      "the members of a new cluster; by default this member alone, as <name>=<each advertised peer URL>",
    ),
  },
  {
    name: "initial-cluster-state",
    kind: K.choice,
    values: ["new", "existing"],
    group: G.clustering,
    etcdDefault: "new",
    description: "'new' to form a cluster from --initial-cluster, 'existing' to join a running one.",
    support: honoured("whether this member bootstraps a new cluster or joins an existing one"),
  },
  {
    name: "initial-cluster-token",
    kind: K.string,
    group: G.clustering,
    etcdDefault: "etcd-cluster",
    description:
      "A token unique to this cluster, so that separate clusters never mistake each other's members.",
    support: honoured("mixed into the cluster and member ids"),
  },
  {
    name: "advertise-client-urls",
    kind: K.advertiseUrls,
    group: G.clustering,
    etcdDefault: "http://localhost:2379",
    description: "This member's client URLs as clients reach them (returned in member lists).",
    support: honoured("the client URLs published in member lists", "http://127.0.0.1:2379"),
  },
  {
    name: "discovery",
    kind: K.string,
    group: G.clustering,
    etcdDefault: "",
    description: "Discovery service URL used to form the cluster.",
    support: ignored("Synod cannot bootstrap through a discovery service; a non-empty value is refused"),
  },
  {
    name: "discovery-fallback",
    kind: K.choice,
    values: ["exit", "proxy"],
    group: G.clustering,
    etcdDefault: "proxy",
    description: "What to do when the discovery service fails: 'exit' or 'proxy'.",
    support: ignored("Synod does not use discovery services"),
  },
  {
    name: "discovery-proxy",
    kind: K.string,
    group: G.clustering,
    etcdDefault: "",
    description: "HTTP proxy for traffic to the discovery service.",
    support: ignored("Synod does not use discovery services"),
  },
  {
    name: "discovery-srv",
    kind: K.string,
    group: G.clustering,
    etcdDefault: "",
    description: "DNS domain whose SRV records list the members of a new cluster.",
    support: ignored("Synod cannot bootstrap through DNS discovery; a non-empty value is refused"),
  },
  {
    name: "discovery-srv-name",
    kind: K.string,
    group: G.clustering,
    etcdDefault: "",
    description: "Suffix of the DNS SRV name queried for discovery.",
    support: ignored("Synod does not use DNS discovery"),
  },
  {
    name: "strict-reconfig-check",
    kind: K.bool,
    group: G.clustering,
    etcdDefault: "true",
    description: "Refuse membership changes that would lose quorum.",
    support: ignored("not configurable: Synod applies its own membership-change checks"),
  },
  {
    name: "pre-vote",
    kind: K.bool,
    group: G.clustering,
    etcdDefault: "false",
    description: "Run Raft's pre-vote phase before an election.",
    support: ignored("Synod always runs Raft with PreVote and CheckQuorum"),
  },
  {
    name: "auto-compaction-retention",
    kind: K.string,
    group: G.clustering,
    etcdDefault: "0",
    description:
      "History to keep when compacting automatically: hours (or a duration such as 30m) in periodic mode, revisions in revision mode; 0 disables.",
    support: honoured("how much history automatic compaction keeps"),
  },
  {
    name: "auto-compaction-mode",
    kind: K.choice,
    values: ["periodic", "revision"],
    group: G.clustering,
    etcdDefault: "periodic",
    description:
      "How --auto-compaction-retention is read: 'periodic' (a time window) or 'revision' (a count).",
    support: honoured("selects time-based or revision-based automatic compaction"),
  },
  {
    name: "enable-v2",
    kind: K.bool,
    group: G.clustering,
    etcdDefault: "false",
    description: "Serve etcd's v2 API.",
    support: ignored("Synod serves only the v3 API"),
  },
  // Security
  {
    name: "cert-file",
    kind: K.string,
    group: G.security,
    etcdDefault: "",
    description: "TLS certificate for client connections.",
    support: honoured(
      "the certificate served on https:// client URLs (and presented when forwarding to the leader's client URL); reloaded when the file changes",
    ),
  },
  {
    name: "key-file",
    kind: K.string,
    group: G.security,
    etcdDefault: "",
    description: "TLS key for client connections.",
    support: honoured("the key of --cert-file; reloaded with it"),
  },
  {
    name: "client-cert-auth",
    kind: K.bool,
    group: G.security,
    etcdDefault: "false",
    description: "Require client certificates.",
    support: honoured(
      "https:// client URLs refuse clients without a certificate signed by --trusted-ca-file; the certificate's CN is the client's identity for auth",
    ),
  },
  {
    name: "client-crl-file",
    kind: K.string,
    group: G.security,
    etcdDefault: "",
    description: "Certificate revocation list for client certificates.",
    support: honoured(
      "client certificates listed there are refused in the handshake; reloaded when the file changes",
    ),
  },
  {
    name: "client-cert-allowed-hostname",
    kind: K.string,
    group: G.security,
    etcdDefault: "",
    description: "TLS host name client certificates must carry.",
    support: honoured("with --client-cert-auth, client certificates must be valid for this host name"),
  },
  {
    name: "trusted-ca-file",
    kind: K.string,
    group: G.security,
    etcdDefault: "",
    description: "CA bundle that signs client certificates.",
    support: honoured(
      "the CAs that sign client certificates (with --client-cert-auth); reloaded when the file changes",
    ),
  },
  {
    name: "auto-tls",
    kind: K.bool,
    group: G.security,
    etcdDefault: "false",
    description: "Serve clients over TLS with a generated self-signed certificate.",
    support: honoured(
      "without --cert-file, a self-signed certificate is made at start in <data-dir>/fixtures/client (needs the openssl command)",
    ),
  },
  {
    name: "peer-cert-file",
    kind: K.string,
    group: G.security,
    etcdDefault: "",
    description: "TLS certificate for peer connections.",
    support: honoured(
      "the certificate served on https:// peer URLs and presented when dialing peers; reloaded when the file changes",
    ),
  },
  {
    name: "peer-key-file",
    kind: K.string,
    group: G.security,
    etcdDefault: "",
    description: "TLS key for peer connections.",
    support: honoured("the key of --peer-cert-file; reloaded with it"),
  },
  {
    name: "peer-client-cert-auth",
    kind: K.bool,
    group: G.security,
    etcdDefault: "false",
    description: "Require certificates from peers.",
    support: honoured(
      "https:// peer URLs refuse members without a certificate signed by --peer-trusted-ca-file",
    ),
  },
  {
    name: "peer-trusted-ca-file",
    kind: K.string,
    group: G.security,
    etcdDefault: "",
    description: "CA bundle that signs peer certificates.",
    support: honoured(
      "the CAs that sign peer certificates, checked both ways; reloaded when the file changes",
    ),
  },
  {
    name: "peer-cert-allowed-cn",
    kind: K.string,
    group: G.security,
    etcdDefault: "",
    description: "Common name peer certificates must carry.",
    support: honoured("peer certificates (dialed and accepted) must carry this common name"),
  },
  {
    name: "peer-cert-allowed-hostname",
    kind: K.string,
    group: G.security,
    etcdDefault: "",
    description: "TLS host name peer certificates must carry.",
    support: honoured("peer certificates (dialed and accepted) must be valid for this host name"),
  },
  {
    name: "peer-auto-tls",
    kind: K.bool,
    group: G.security,
    etcdDefault: "false",
    description: "Talk to peers over TLS with generated self-signed certificates.",
    support: honoured(
      "without --peer-cert-file, a self-signed certificate is made at start in <data-dir>/fixtures/peer and peers' certificates are not checked against a CA (as etcd)",
    ),
  },
  {
    name: "peer-crl-file",
    kind: K.string,
    group: G.security,
    etcdDefault: "",
    description: "Certificate revocation list for peer certificates.",
    support: honoured(
      "peer certificates listed there are refused, both ways; reloaded when the file changes",
    ),
  },
  {
    name: "cipher-suites",
    kind: K.list,
    group: G.security,
    etcdDefault: "",
    description: "TLS cipher suites allowed for clients and peers, comma-separated.",
    support: honoured(
      "the TLS 1.2 (and 1.3) cipher suites offered, in etcd's Go names (mapped to OpenSSL's); unknown names are refused at start",
    ),
  },
  {
    name: "tls-min-version",
    kind: K.string,
    group: G.security,
    etcdDefault: "",
    description: "Lowest TLS version accepted (added in a late etcd 3.4 release).",
    support: honoured("the lowest TLS version accepted: TLS1.0, TLS1.1, TLS1.2 or TLS1.3 (default TLS1.2)"),
  },
  {
    name: "tls-max-version",
    kind: K.string,
    group: G.security,
    etcdDefault: "",
    description: "Highest TLS version accepted (added in a late etcd 3.4 release).",
    support: honoured("the highest TLS version accepted: TLS1.0, TLS1.1, TLS1.2 or TLS1.3 (default TLS1.3)"),
  },
  {
    name: "cors",
    kind: K.list,
    group: G.security,
    etcdDefault: "*",
    description: "Origins allowed for cross-origin HTTP requests, comma-separated (* allows all).",
    support: ignored("not configurable in Synod"),
  },
  {
    name: "host-whitelist",
    kind: K.list,
    group: G.security,
    etcdDefault: "*",
    description: "Host names accepted in HTTP requests on insecure listeners (* allows all).",
    support: ignored("not configurable in Synod"),
  },
  // Auth
  {
    name: "auth-token",
    kind: K.string,
    group: G.auth,
    etcdDefault: "simple",
    description: "Auth token type and options: 'simple' or 'jwt,...'.",
    support: honoured("only 'simple' tokens are served; anything else is refused at start"),
  },
  {
    name: "bcrypt-cost",
    kind: K.uint,
    group: G.auth,
    etcdDefault: "10",
    description: "bcrypt cost for hashing auth passwords (4 to 31).",
    support: honoured(
      "the password hashing cost: Synod hashes with scrypt, N = 2^(cost + 5) (capped at 2^18), r = 8, p = 1",
    ),
  },
  {
    name: "auth-token-ttl",
    kind: K.uint,
    group: G.auth,
    etcdDefault: "300",
    description: "Seconds a simple auth token stays valid.",
    support: honoured("seconds a simple token stays valid after its last use (0 means 300)"),
  },
  // Profiling and monitoring
  {
    name: "enable-pprof",
    kind: K.bool,
    group: G.monitoring,
    etcdDefault: "false",
    description: "Serve Go runtime profiles under /debug/pprof/.",
    support: ignored("Synod is not a Go program; use node --inspect or --cpu-prof"),
  },
  {
    name: "metrics",
    kind: K.string,
    group: G.monitoring,
    etcdDefault: "basic",
    description: "Detail of exported metrics: 'basic' or 'extensive' (adds histograms).",
    support: ignored("Synod exports one fixed set of metrics"),
  },
  {
    name: "listen-metrics-urls",
    kind: K.listenUrls,
    group: G.monitoring,
    etcdDefault: "",
    description: "Extra URLs that serve only /metrics and /health.",
    support: honoured("extra listeners for /metrics and /health"),
  },
  // Logging
  {
    name: "logger",
    kind: K.string,
    group: G.logging,
    etcdDefault: "capnslog",
    description: "etcd's logging library: 'zap' (structured) or 'capnslog'.",
    support: ignored("Synod always writes structured JSON lines"),
  },
  {
    name: "log-outputs",
    kind: K.list,
    group: G.logging,
    etcdDefault: "default",
    description: "Where logs go: 'stdout', 'stderr', 'default' or file paths, comma-separated.",
    support: ignored("Synod's log destination is not configurable"),
  },
  {
    name: "log-output",
    kind: K.list,
    group: G.logging,
    etcdDefault: "default",
    description: "Deprecated spelling of --log-outputs.",
    support: ignored("Synod's log destination is not configurable"),
  },
  {
    name: "log-level",
    kind: K.choice,
    values: ["debug", "info", "warn", "error", "panic", "fatal"],
    group: G.logging,
    etcdDefault: "info",
    description: "Lowest level logged: debug, info, warn, error, panic or fatal.",
    support: honoured("the lowest level logged (panic and fatal log errors only)"),
  },
  {
    name: "debug",
    kind: K.bool,
    group: G.logging,
    etcdDefault: "false",
    description: "Deprecated: same as --log-level=debug.",
    support: honoured("true sets the log level to debug"),
  },
  {
    name: "log-package-levels",
    kind: K.string,
    group: G.logging,
    etcdDefault: "",
    description: "Per-package log levels, e.g. 'etcdserver=DEBUG'.",
    support: ignored("Synod has one log level for the whole process"),
  },
  // v2 proxy
  {
    name: "proxy",
    kind: K.choice,
    values: ["off", "readonly", "on"],
    group: G.proxy,
    etcdDefault: "off",
    description: "Run as a v2 proxy: 'off', 'readonly' or 'on'.",
    support: noProxy,
  },
  {
    name: "proxy-failure-wait",
    kind: K.uint,
    group: G.proxy,
    etcdDefault: "5000",
    description: "Milliseconds a failed endpoint stays out of rotation.",
    support: noProxy,
  },
  {
    name: "proxy-refresh-interval",
    kind: K.uint,
    group: G.proxy,
    etcdDefault: "30000",
    description: "Milliseconds between endpoint refreshes.",
    support: noProxy,
  },
  {
    name: "proxy-dial-timeout",
    kind: K.uint,
    group: G.proxy,
    etcdDefault: "1000",
    description: "Milliseconds before a dial times out (0 disables).",
    support: noProxy,
  },
  {
    name: "proxy-write-timeout",
    kind: K.uint,
    group: G.proxy,
    etcdDefault: "5000",
    description: "Milliseconds before a write times out (0 disables).",
    support: noProxy,
  },
  {
    name: "proxy-read-timeout",
    kind: K.uint,
    group: G.proxy,
    etcdDefault: "0",
    description: "Milliseconds before a read times out (0 disables).",
    support: noProxy,
  },
  // Experimental
  {
    name: "experimental-initial-corrupt-check",
    kind: K.bool,
    group: G.experimental,
    etcdDefault: "false",
    description: "Compare this member's data hash with its peers before serving.",
    support: ignored("not implemented: members do not compare state hashes at start"),
  },
  {
    name: "experimental-corrupt-check-time",
    kind: K.duration,
    group: G.experimental,
    etcdDefault: "0s",
    description: "Interval between cluster-wide corruption checks.",
    support: honoured(
      "the leader compares every member's HashKV at its current revision each interval and raises CORRUPT for a member that differs; 0 turns the check off",
    ),
  },
  {
    name: "experimental-enable-v2v3",
    kind: K.string,
    group: G.experimental,
    etcdDefault: "",
    description: "Serve the v2 API from the v3 store under this prefix.",
    support: ignored("Synod serves only the v3 API"),
  },
  {
    name: "experimental-backend-bbolt-freelist-type",
    kind: K.string,
    group: G.experimental,
    etcdDefault: "array",
    description: "bbolt freelist type: 'array' or 'map'.",
    support: noBackend,
  },
  {
    name: "experimental-enable-lease-checkpoint",
    kind: K.bool,
    group: G.experimental,
    etcdDefault: "false",
    description: "Let the leader checkpoint lease remaining TTLs to the followers.",
    support: ignored(
      "not configurable: Synod extends every lease on a leader change, as etcd does by default",
    ),
  },
  {
    name: "experimental-enable-lease-checkpoint-persist",
    kind: K.bool,
    group: G.experimental,
    etcdDefault: "false",
    description: "Persist lease checkpoints (needs --experimental-enable-lease-checkpoint).",
    support: ignored("not configurable: Synod does not checkpoint leases"),
  },
  {
    name: "experimental-compaction-batch-limit",
    kind: K.int,
    group: G.experimental,
    etcdDefault: "1000",
    description: "Most revisions deleted per compaction batch.",
    support: noBackend,
  },
  {
    name: "experimental-peer-skip-client-san-verification",
    kind: K.bool,
    group: G.experimental,
    etcdDefault: "false",
    description: "Skip the SAN check of peer client certificates.",
    support: ignored(
      "Synod does not match peer client certificates' SANs against the remote address; use --peer-cert-allowed-cn or --peer-cert-allowed-hostname",
    ),
  },
  {
    name: "experimental-watch-progress-notify-interval",
    kind: K.duration,
    group: G.experimental,
    etcdDefault: "10m",
    description: "Interval of progress notifications to watchers that asked for them.",
    support: ignored("not configurable in Synod"),
  },
  {
    name: "experimental-warning-apply-duration",
    kind: K.duration,
    group: G.experimental,
    etcdDefault: "100ms",
    description: "Apply time above which a slow-request warning is logged.",
    support: honoured(
      "a batch of committed entries that takes longer to apply is logged as a warning with its duration and size",
    ),
  },
  // Unsafe
  {
    name: "force-new-cluster",
    kind: K.bool,
    group: G.unsafe,
    etcdDefault: "false",
    description: "Restart as a one-member cluster, discarding the others (disaster recovery).",
    support: ignored("not supported: Synod never rewrites the membership on its own"),
  },
  {
    name: "unsafe-no-fsync",
    kind: K.bool,
    group: G.unsafe,
    etcdDefault: "false",
    description: "Skip fsync (loses data on a crash; for tests only).",
    support: ignored("Synod always fsyncs its write-ahead log"),
  },
  // Miscellaneous
  {
    name: "config-file",
    kind: K.string,
    group: G.misc,
    etcdDefault: "",
    description: "YAML or JSON file of settings, keyed by flag name.",
    support: honoured(
      "loads settings from the file; flags and environment variables override it (etcd instead ignores them)",
    ),
  },
  {
    name: "version",
    kind: K.bool,
    group: G.misc,
    etcdDefault: "false",
    description: "Print the version and exit.",
    support: honoured("prints Synod's version and the etcd API version it speaks"),
  },
  {
    name: "enable-grpc-gateway",
    kind: K.bool,
    group: G.misc,
    etcdDefault: "true",
    description: "Serve the HTTP/JSON gateway to the v3 API.",
    support: ignored("the JSON gateway is always served"),
  },
  // Legacy flags etcd 3.4 accepts and ignores.
  ...[
    "cluster-active-size",
    "cluster-remove-delay",
    "cluster-sync-interval",
    "config",
    "force",
    "max-result-buffer",
    "max-retry-attempts",
    "peer-heartbeat-interval",
    "peer-election-timeout",
    "retry-interval",
    "snapshot",
    "v",
    "vv",
    "test.coverprofile",
    "test.outputdir",
  ].map(
    (name): FlagSpec => ({
      name,
      kind: K.legacy,
      group: G.legacy,
      etcdDefault: "",
      description: "Removed etcd 0.4 flag, still accepted.",
      support: legacy,
    }),
  ),
  // Config-file-only sections of etcd's YAML format.
  {
    name: "client-transport-security",
    kind: K.section,
    group: G.fileOnly,
    etcdDefault: "",
    description:
      "TLS settings for clients (cert-file, key-file, client-cert-auth, trusted-ca-file, auto-tls, ...).",
    support: honoured(
      "read as etcd reads it: cert-file, key-file, client-cert-auth, trusted-ca-file, auto-tls (and crl-file, allowed-hostname) set the client flags",
    ),
  },
  {
    name: "peer-transport-security",
    kind: K.section,
    group: G.fileOnly,
    etcdDefault: "",
    description: "TLS settings for peers (same keys as client-transport-security).",
    support: honoured("read as etcd reads it: the same keys (and allowed-cn) set the --peer-* flags"),
  },
];

const byName = new Map(flagSpecs.map((s) => [s.name, s]));

/** The spec of flag `name` (without dashes), or undefined when etcd 3.4 has no such flag. */
export function flagSpec(name: string): FlagSpec | undefined {
  return byName.get(name);
}

/** Flags that can be given on the command line or in the environment (all but config-file sections). */
export function isCommandLineFlag(spec: FlagSpec): boolean {
  return spec.kind !== FlagKind.section;
}

/** Flags a config file may set (not `config-file` itself, nor `version`). */
export function isFileKey(spec: FlagSpec): boolean {
  return spec.name !== "config-file" && spec.name !== "version";
}

/** Flags settable from `SYNOD_*` / `ETCD_*` variables (all command-line flags but `version`). */
export function isEnvFlag(spec: FlagSpec): boolean {
  return isCommandLineFlag(spec) && spec.name !== "version";
}

/** The environment variable for a flag under a prefix: `data-dir` → `SYNOD_DATA_DIR` (etcd's rule). */
export function envName(prefix: "SYNOD" | "ETCD", flag: string): string {
  return `${prefix}_${flag.toUpperCase().replaceAll("-", "_")}`;
}
