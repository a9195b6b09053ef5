/**
 * Value parsers for configuration settings, with the syntax etcd's Go flag package accepts, so a
 * command line that works for `etcd` works for Synod. Each parser returns the value or a short
 * reason (`must be ...`) that the caller turns into a message naming the setting and the value.
 * Pure: no I/O.
 */

/** A parsed value, or why the text is not one. */
export type Parsed<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: string };

function ok<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

function bad<T>(reason: string): Parsed<T> {
  return { ok: false, reason };
}

const trueWords = new Set(["1", "t", "T", "true", "TRUE", "True"]);
const falseWords = new Set(["0", "f", "F", "false", "FALSE", "False"]);

/** A boolean as Go's `strconv.ParseBool` reads it: 1, t, T, true, TRUE, True and their false forms. */
export function parseBool(text: string): Parsed<boolean> {
  if (trueWords.has(text)) return ok(true);
  if (falseWords.has(text)) return ok(false);
  return bad("must be true or false");
}

const decimalInt = /^(?:0|[1-9](?:_?[0-9])*)$/;
const hexInt = /^0[xX](?:_?[0-9a-fA-F])+$/;
const octalInt = /^0[oO]?(?:_?[0-7])+$/;
const binaryInt = /^0[bB](?:_?[01])+$/;

/**
 * An integer as Go's `strconv.ParseInt(text, 0, 64)` reads it (what etcd's integer flags use):
 * decimal, `0x` hex, `0o` or leading-`0` octal, `0b` binary, `_` between digits, optional sign.
 * `signed: false` refuses a sign, like Go's unsigned flags. The result must be a safe integer.
 */
export function parseInteger(text: string, signed: boolean): Parsed<number> {
  let body = text;
  let negative = false;
  if (body.startsWith("+") || body.startsWith("-")) {
    if (!signed) return bad("must be a non-negative integer");
    negative = body.startsWith("-");
    body = body.slice(1);
  }
  let digits: string;
  if (decimalInt.test(body)) digits = body.replaceAll("_", "");
  else if (hexInt.test(body)) digits = `0x${body.slice(2).replaceAll("_", "")}`;
  else if (binaryInt.test(body)) digits = `0b${body.slice(2).replaceAll("_", "")}`;
  else if (octalInt.test(body)) digits = `0o${body.replace(/^0[oO]?/, "").replaceAll("_", "")}`;
  else return bad(signed ? "must be an integer" : "must be a non-negative integer");
  const big = BigInt(digits) * (negative ? -1n : 1n);
  if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < BigInt(Number.MIN_SAFE_INTEGER)) {
    return bad(`must be at most ${Number.MAX_SAFE_INTEGER} in magnitude`);
  }
  return ok(Number(big));
}

/** Nanoseconds per unit of a Go duration. */
const durationUnitsNs: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

const durationPart = /^([0-9]*(?:\.[0-9]*)?)([a-zµμ]+)/;

/**
 * A duration as Go's `time.ParseDuration` reads it ("300ms", "1.5h", "2h45m", "-5s", "0"),
 * returned in milliseconds (fractional below 1 ms). Units: ns, us (µs), ms, s, m, h.
 */
export function parseDuration(text: string): Parsed<number> {
  const usage = "must be a duration such as 500ms, 10s, 5m or 1h";
  let rest = text;
  let sign = 1;
  if (rest.startsWith("+") || rest.startsWith("-")) {
    sign = rest.startsWith("-") ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === "0") return ok(0);
  if (rest === "") return bad(usage);
  let totalNs = 0;
  while (rest !== "") {
    const m = durationPart.exec(rest);
    const number = m?.[1];
    const unit = m?.[2];
    if (m === null || number === undefined || unit === undefined) return bad(usage);
    if (number === "" || number === ".") return bad(usage);
    const scale = durationUnitsNs[unit];
    if (scale === undefined) return bad(`${usage} (unknown unit '${unit}')`);
    totalNs += Number(number) * scale;
    rest = rest.slice(m[0].length);
  }
  if (!Number.isFinite(totalNs) || totalNs > 2 ** 63) return bad(`${usage} (too large)`);
  return ok((sign * totalNs) / 1e6);
}

/** A comma-separated list: items trimmed, empty items dropped. */
export function splitList(text: string): string[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** An `http://host:port` or `https://host:port` endpoint, as Synod listens on or advertises it. */
export interface HttpUrl {
  /** Normalised text: `http://host:port` or `https://host:port` (IPv6 hosts in brackets). */
  readonly href: string;
  /** `https` serves (or dials) TLS with the client or peer certificate settings; `http` is plain TCP. */
  readonly scheme: "http" | "https";
  /** Host name or IP address; IPv6 without brackets, ready for `net.Server.listen`. */
  readonly host: string;
  /** TCP port, 0–65535 (0 only where the setting allows it: the kernel picks a free port). */
  readonly port: number;
}

/** What a URL setting is for, which decides the hosts and ports it may name. */
export type UrlUse = "listen" | "advertise";

const urlShape = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(\[[^\]]*\]|[^/:?#[\]]*)(?::([^/?#]*))?(.*)$/;
const ipv4 =
  /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/;
const hostName =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** Whether `host` (IPv6 without brackets) is an IP address literal. */
export function isIpLiteral(host: string): boolean {
  if (ipv4.test(host)) return true;
  if (!host.includes(":")) return false;
  try {
    return new URL(`http://[${host}]/`).hostname !== "";
  } catch {
    return false;
  }
}

/**
 * One URL as etcd's URL flags accept it, narrowed to what Synod serves: scheme `http` or `https`
 * (unix sockets are refused with a clear reason), an explicit port, no path, query or
 * fragment. Listen URLs must name an IP address or `localhost` (etcd binds only to addresses) and
 * may use port 0; advertised URLs may use host names and need a non-zero port.
 */
export function parseHttpUrl(text: string, use: UrlUse): Parsed<HttpUrl> {
  const m = urlShape.exec(text);
  if (m === null) return bad(`'${text}' is not a URL of the form http://host:port or https://host:port`);
  const [, scheme = "", rawHost = "", rawPort, rest = ""] = m;
  const lower = scheme.toLowerCase();
  if (lower === "unix" || lower === "unixs")
    return bad(`'${text}' is a unix socket, which Synod does not support; use http://host:port`);
  if (lower !== "http" && lower !== "https") {
    return bad(`'${text}' has scheme '${scheme}'; only http:// and https:// are supported`);
  }
  if (rest !== "") return bad(`'${text}' must not contain a path, query or fragment`);
  const bracketed = rawHost.startsWith("[");
  const host = bracketed ? rawHost.slice(1, -1) : rawHost;
  if (host === "") return bad(`'${text}' has no host`);
  // A dotted all-digit name that is not a valid IPv4 address (1.2.3.999) is a typo, not a host name.
  const plausibleName = hostName.test(host) && !/^[0-9.]+$/.test(host);
  if (bracketed ? !isIpLiteral(host) || !host.includes(":") : !(ipv4.test(host) || plausibleName)) {
    return bad(`'${text}' has an invalid host '${rawHost}'`);
  }
  if (rawPort === undefined || rawPort === "") return bad(`'${text}' has no port; write http://host:port`);
  if (!/^[0-9]{1,5}$/.test(rawPort) || Number(rawPort) > 65535) {
    return bad(`'${text}' has an invalid port '${rawPort}' (0-65535)`);
  }
  const port = Number(rawPort);
  if (use === "listen" && host.toLowerCase() !== "localhost" && !isIpLiteral(host)) {
    return bad(`'${text}' must name an IP address (or localhost) to listen on, not the host name '${host}'`);
  }
  if (use === "advertise" && port === 0) return bad(`'${text}' must advertise a real port, not 0`);
  const hrefHost = host.includes(":") ? `[${host.toLowerCase()}]` : host.toLowerCase();
  return ok({ href: `${lower}://${hrefHost}:${port}`, scheme: lower, host: host.toLowerCase(), port });
}

/** A comma-separated list of URLs (duplicates dropped, as etcd's unique-URL flags do). */
export function parseHttpUrls(text: string, use: UrlUse): Parsed<HttpUrl[]> {
  const out: HttpUrl[] = [];
  for (const item of splitList(text)) {
    const u = parseHttpUrl(item, use);
    if (!u.ok) return u;
    if (!out.some((o) => o.href === u.value.href)) out.push(u.value);
  }
  return ok(out);
}

/** One member of `--initial-cluster`: its name and peer URLs. */
export interface InitialMember {
  readonly name: string;
  readonly peerUrls: readonly HttpUrl[];
}

/**
 * `--initial-cluster`: comma-separated `name=url` entries; a name may appear more than once to
 * give a member several peer URLs (as etcd allows). Members keep the order of first appearance.
 * A peer URL may belong to only one entry.
 */
export function parseInitialCluster(text: string): Parsed<InitialMember[]> {
  const byName = new Map<string, HttpUrl[]>();
  const seen = new Map<string, string>();
  for (const entry of splitList(text)) {
    const eq = entry.indexOf("=");
    if (eq < 0) return bad(`entry '${entry}' is not of the form name=http://host:port`);
    const name = entry.slice(0, eq).trim();
    if (name === "") return bad(`entry '${entry}' has an empty member name`);
    const u = parseHttpUrl(entry.slice(eq + 1).trim(), "advertise");
    if (!u.ok) return bad(`entry '${entry}': ${u.reason}`);
    const owner = seen.get(u.value.href);
    if (owner !== undefined) {
      return bad(`peer URL ${u.value.href} appears twice (members '${owner}' and '${name}')`);
    }
    seen.set(u.value.href, name);
    const urls = byName.get(name) ?? [];
    urls.push(u.value);
    byName.set(name, urls);
  }
  if (byName.size === 0) return bad("must list at least one member as name=http://host:port");
  return ok([...byName].map(([name, peerUrls]) => ({ name, peerUrls })));
}

/** The text form of an initial cluster, `name=url,name=url`, as etcd prints it. */
export function formatInitialCluster(members: readonly InitialMember[]): string {
  return members.flatMap((m) => m.peerUrls.map((u) => `${m.name}=${u.href}`)).join(",");
}
