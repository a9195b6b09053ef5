/**
 * The TLS part of the configuration: etcd's client and peer certificate flags, `--cipher-suites`
 * and the TLS version bounds, checked against each other and against the listen URLs. Which
 * files exist and what they hold is checked when the member starts (`src/server/tls/`), since
 * this module is pure.
 */
import { mapCipherSuites } from "./ciphersuites.js";
import type { HttpUrl } from "./configvalues.js";

/** Which connections a {@link TlsConfig} is for. */
export type TlsSide = "client" | "peer";

/** A TLS protocol version as etcd's `--tls-min-version` names it, and Node's name for it. */
export type TlsVersion = "TLSv1" | "TLSv1.1" | "TLSv1.2" | "TLSv1.3";

/**
 * One side's certificate settings, as etcd's `TLSInfo`. File paths are as given (relative to the
 * working directory); "" means unset.
 */
export interface TlsConfig {
  readonly side: TlsSide;
  /** `--cert-file` / `--peer-cert-file`: this member's certificate (PEM; a chain may follow). */
  readonly certFile: string;
  /** `--key-file` / `--peer-key-file`: the certificate's private key (PEM, unencrypted). */
  readonly keyFile: string;
  /** `--trusted-ca-file` / `--peer-trusted-ca-file`: CAs that sign the other side's certificates. */
  readonly trustedCaFile: string;
  /** `--client-cert-auth` / `--peer-client-cert-auth`: the other side must present a certificate. */
  readonly clientCertAuth: boolean;
  /** `--client-crl-file` / `--peer-crl-file`: revoked certificates, refused in handshakes. */
  readonly crlFile: string;
  /**
   * `--auto-tls` / `--peer-auto-tls` with no certificate given: a self-signed certificate is made
   * at start (under `<data-dir>/fixtures/<side>`), and, for peers, peer certificates are not
   * verified against a CA (as etcd).
   */
  readonly autoTls: boolean;
  /** `--peer-cert-allowed-cn`: the common name every peer certificate must carry; "" for any. */
  readonly allowedCn: string;
  /** `--client-cert-allowed-hostname` / `--peer-cert-allowed-hostname`: a name the certificate must be valid for. */
  readonly allowedHostname: string;
}

/** The TLS fields of the server configuration. */
export interface TlsSettings {
  readonly clientTls: TlsConfig;
  readonly peerTls: TlsConfig;
  /** `--cipher-suites` as OpenSSL names, in the order given; empty for Node's defaults. */
  readonly cipherSuites: readonly string[];
  /** `--tls-min-version`; null for Node's default (TLS 1.2). */
  readonly tlsMinVersion: TlsVersion | null;
  /** `--tls-max-version`; null for Node's default (TLS 1.3). */
  readonly tlsMaxVersion: TlsVersion | null;
}

/** The flag behind each field of a side's settings. */
export function tlsFlagName(
  side: TlsSide,
  field: "certFile" | "keyFile" | "trustedCaFile" | "clientCertAuth" | "crlFile" | "autoTls",
): string {
  const client = {
    certFile: "cert-file",
    keyFile: "key-file",
    trustedCaFile: "trusted-ca-file",
    clientCertAuth: "client-cert-auth",
    crlFile: "client-crl-file",
    autoTls: "auto-tls",
  } as const;
  const peer = {
    certFile: "peer-cert-file",
    keyFile: "peer-key-file",
    trustedCaFile: "peer-trusted-ca-file",
    clientCertAuth: "peer-client-cert-auth",
    crlFile: "peer-crl-file",
    autoTls: "peer-auto-tls",
  } as const;
  return side === "client" ? client[field] : peer[field];
}

/** Read access to the typed settings (implemented by the configuration loader). */
export interface TlsSettingsReader {
  has(name: string): boolean;
  label(name: string): string;
  string(name: string, fallback: string): string;
  bool(name: string, fallback: boolean): boolean;
  list(name: string): readonly string[];
}

/** Where problems found go (implemented by the configuration loader). */
export interface TlsProblems {
  error(message: string): void;
  readonly warnings: string[];
}

const versionNames: ReadonlyMap<string, TlsVersion> = new Map([
  ["TLS1.0", "TLSv1"],
  ["TLS1.1", "TLSv1.1"],
  ["TLS1.2", "TLSv1.2"],
  ["TLS1.3", "TLSv1.3"],
]);
const versionOrder: readonly TlsVersion[] = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"];

/** Resolves and cross-checks every TLS setting; `listen` are the client and peer listen URLs. */
export function resolveTls(
  s: TlsSettingsReader,
  listen: { readonly client: readonly HttpUrl[]; readonly peer: readonly HttpUrl[] },
  problems: TlsProblems,
): TlsSettings {
  const clientTls = resolveSide(s, "client", listen.client, problems);
  const peerTls = resolveSide(s, "peer", listen.peer, problems);
  const min = version(s, "tls-min-version", problems);
  const max = version(s, "tls-max-version", problems);
  if (min !== null && max !== null && versionOrder.indexOf(min) > versionOrder.indexOf(max)) {
    problems.error(
      `${s.label("tls-min-version")} ('${s.string("tls-min-version", "")}') must not be above ${s.label("tls-max-version")} ('${s.string("tls-max-version", "")}')`,
    );
  }
  const names = s.list("cipher-suites");
  const mapped = mapCipherSuites(names);
  let cipherSuites: readonly string[] = [];
  if (!mapped.ok) {
    problems.error(
      `${s.label("cipher-suites")} has unknown cipher suites ${mapped.unknown.map((n) => `'${n}'`).join(", ")}; use etcd's (Go's) names, e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 or TLS_AES_128_GCM_SHA256`,
    );
  } else cipherSuites = mapped.openssl;
  if (names.length > 0 && min === "TLSv1.3" && cipherSuites.some((c) => !c.startsWith("TLS_"))) {
    problems.error(
      `${s.label("cipher-suites")} lists TLS 1.2 suites, but ${s.label("tls-min-version")} allows only TLS 1.3`,
    );
  }
  return { clientTls, peerTls, cipherSuites, tlsMinVersion: min, tlsMaxVersion: max };
}

function version(s: TlsSettingsReader, name: string, problems: TlsProblems): TlsVersion | null {
  const text = s.string(name, "");
  if (text === "") return null;
  const v = versionNames.get(text);
  if (v === undefined) {
    problems.error(`${s.label(name)} must be one of TLS1.0, TLS1.1, TLS1.2, TLS1.3, got '${text}'`);
    return null;
  }
  return v;
}

function resolveSide(
  s: TlsSettingsReader,
  side: TlsSide,
  listen: readonly HttpUrl[],
  problems: TlsProblems,
): TlsConfig {
  const flag = (field: Parameters<typeof tlsFlagName>[1]): string => tlsFlagName(side, field);
  const certFile = s.string(flag("certFile"), "");
  const keyFile = s.string(flag("keyFile"), "");
  const trustedCaFile = s.string(flag("trustedCaFile"), "");
  const clientCertAuth = s.bool(flag("clientCertAuth"), false);
  const crlFile = s.string(flag("crlFile"), "");
  const autoGiven = s.bool(flag("autoTls"), false);
  const allowedCn = side === "peer" ? s.string("peer-cert-allowed-cn", "") : "";
  const hostnameFlag = side === "peer" ? "peer-cert-allowed-hostname" : "client-cert-allowed-hostname";
  const allowedHostname = s.string(hostnameFlag, "");
  const label = (f: Parameters<typeof tlsFlagName>[1]): string => s.label(flag(f));
  if ((certFile === "") !== (keyFile === "")) {
    const [given, missing] = certFile === "" ? ["keyFile", "certFile"] : ["certFile", "keyFile"];
    problems.error(
      `${label(given as "certFile")} is set but ${label(missing as "certFile")} is not: a certificate needs its key`,
    );
  }
  const haveCert = certFile !== "" && keyFile !== "";
  if (autoGiven && haveCert) {
    problems.warnings.push(
      `${label("autoTls")} is ignored: ${label("certFile")} and ${label("keyFile")} are given (as in etcd)`,
    );
  }
  const autoTls = autoGiven && !haveCert;
  const secure = listen.filter((u) => u.scheme === "https");
  const urlsFlag = side === "client" ? "listen-client-urls" : "listen-peer-urls";
  if (secure.length > 0 && !haveCert && !autoTls) {
    problems.error(
      `${s.label(urlsFlag)} has ${secure.map((u) => u.href).join(", ")}, which needs a certificate: set ${label("certFile")} and ${label("keyFile")}, or ${label("autoTls")}`,
    );
  }
  if (clientCertAuth && trustedCaFile === "") {
    problems.error(
      `${label("clientCertAuth")} needs ${label("trustedCaFile")}: the CA bundle that signs the certificates to accept`,
    );
  }
  if (allowedCn !== "" && allowedHostname !== "") {
    problems.error(
      `${s.label("peer-cert-allowed-cn")} and ${s.label(hostnameFlag)} cannot both be set (as in etcd)`,
    );
  }
  warnUnused(s, side, { haveCert: haveCert || autoTls, secure: secure.length > 0, clientCertAuth }, problems);
  return {
    side,
    certFile,
    keyFile,
    trustedCaFile,
    clientCertAuth,
    crlFile,
    autoTls,
    allowedCn,
    allowedHostname,
  };
}

/** Settings that would do nothing as given: one warning line each (etcd warns about most). */
function warnUnused(
  s: TlsSettingsReader,
  side: TlsSide,
  state: { readonly haveCert: boolean; readonly secure: boolean; readonly clientCertAuth: boolean },
  problems: TlsProblems,
): void {
  const urlsFlag = side === "client" ? "listen-client-urls" : "listen-peer-urls";
  const label = (f: Parameters<typeof tlsFlagName>[1]): string => s.label(tlsFlagName(side, f));
  if (state.haveCert && !state.secure && side === "client") {
    problems.warnings.push(
      `${label("certFile")} is set but no ${s.label(urlsFlag)} URL is https://; clients are served without TLS`,
    );
  }
  if (state.clientCertAuth && !state.secure) {
    problems.warnings.push(
      `${label("clientCertAuth")} has no effect: no ${s.label(urlsFlag)} URL is https://`,
    );
  }
  // A peer CRL also checks the certificates of the peers this member dials; a client CRL only
  // checks client certificates, which are asked for only with --client-cert-auth.
  if (side === "client" && s.string(tlsFlagName(side, "crlFile"), "") !== "" && !state.clientCertAuth) {
    problems.warnings.push(
      `${label("crlFile")} has no effect without ${label("clientCertAuth")} (no certificate is asked for)`,
    );
  }
}
