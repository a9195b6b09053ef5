/**
 * Reading and checking one side's certificate files: the certificate (and chain), its key, the
 * trusted CAs and the revocation list. Every problem is an error that names the setting and the
 * file, so a member refuses to start (or a reload is refused) with a line that says what to fix.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { createSecureContext, getCiphers, type SecureContext, type SecureContextOptions } from "node:tls";
import { ErrorCode, SynodError } from "../../lib/errors.js";
import { isTls13Suite } from "../ciphersuites.js";
import type { TlsVersion } from "../configtls.js";

/** The files of one side, each with the flag that named it (for messages). */
export interface TlsFiles {
  readonly cert: { readonly path: string; readonly flag: string };
  readonly key: { readonly path: string; readonly flag: string };
  /** The trusted CAs; null when not given. */
  readonly ca: { readonly path: string; readonly flag: string } | null;
  /** The revocation list; null when not given. */
  readonly crl: { readonly path: string; readonly flag: string } | null;
}

/** Settings shared by both sides: `--cipher-suites` (OpenSSL names) and the version bounds. */
export interface TlsProtocolSettings {
  readonly cipherSuites: readonly string[];
  readonly minVersion: TlsVersion | null;
  readonly maxVersion: TlsVersion | null;
}

/** A checked set of certificate files, ready for `tls.createSecureContext`. */
export interface TlsMaterial {
  readonly files: TlsFiles;
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer | null;
  readonly crl: Buffer | null;
  /** The certificate's subject common name ("" when it has none). */
  readonly commonName: string;
  /** When the certificate stops being valid, in ms since the epoch. */
  readonly validToMs: number;
  /** The certificate's SHA-256 fingerprint, for logs. */
  readonly fingerprint: string;
  /** A secure context holding all of it (the check that OpenSSL accepts it; used for dialing). */
  readonly context: SecureContext;
}

function invalid(message: string): SynodError {
  return new SynodError(ErrorCode.invalidArgument, message);
}

function read(file: { readonly path: string; readonly flag: string }, what: string): Buffer {
  try {
    return readFileSync(file.path);
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    throw invalid(`Cannot read the ${what} --${file.flag} '${file.path}': ${detail}`);
  }
}

const pemCertificate = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM file, parsed; throws naming the file when there are none or one is bad. */
function certificates(
  file: { readonly path: string; readonly flag: string },
  pem: Buffer,
): X509Certificate[] {
  const blocks = pem.toString("latin1").match(pemCertificate) ?? [];
  if (blocks.length === 0) {
    throw invalid(`--${file.flag} '${file.path}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (e) {
      const detail = e instanceof Error ? e.message : String(e);
      throw invalid(`--${file.flag} '${file.path}': certificate ${i + 1} cannot be parsed: ${detail}`);
    }
  });
}

/** The subject's common name of a certificate ("" when it has none). */
export function commonNameOf(cert: X509Certificate): string {
  for (const line of cert.subject.split("\n")) if (line.startsWith("CN=")) return line.slice(3);
  return "";
}

/**
 * Reads and checks `files` at time `nowMs`: the certificate parses, is valid now (not expired,
 * not yet to come), the key parses and belongs to the certificate, the CA file holds certificates,
 * the CRL is one, and OpenSSL accepts the whole set with `protocol`. Throws a {@link SynodError}
 * whose message names the setting and the file.
 */
export function loadTlsMaterial(files: TlsFiles, protocol: TlsProtocolSettings, nowMs: number): TlsMaterial {
  const certPem = read(files.cert, "certificate");
  const keyPem = read(files.key, "key");
  const leaf = certificates(files.cert, certPem)[0];
  if (leaf === undefined) throw invalid(`--${files.cert.flag} '${files.cert.path}' holds no certificate`);
  const cn = commonNameOf(leaf);
  const named = `--${files.cert.flag} '${files.cert.path}' (CN=${cn})`;
  const validToMs = Date.parse(leaf.validTo);
  if (validToMs <= nowMs) {
    throw invalid(`${named} expired on ${new Date(validToMs).toISOString()}; replace it with a current one`);
  }
  const validFromMs = Date.parse(leaf.validFrom);
  if (validFromMs > nowMs) {
    throw invalid(`${named} is not valid until ${new Date(validFromMs).toISOString()}`);
  }
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(keyPem);
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    throw invalid(`--${files.key.flag} '${files.key.path}' is not an unencrypted PEM private key: ${detail}`);
  }
  if (!leaf.checkPrivateKey(key)) {
    throw invalid(
      `--${files.key.flag} '${files.key.path}' does not match ${named}: the key belongs to another certificate`,
    );
  }
  const ca = files.ca === null ? null : read(files.ca, "trusted CA file");
  if (files.ca !== null && ca !== null) certificates(files.ca, ca);
  const crl = files.crl === null ? null : read(files.crl, "certificate revocation list");
  if (files.crl !== null && crl !== null && !crl.toString("latin1").includes("-----BEGIN X509 CRL-----")) {
    throw invalid(
      `--${files.crl.flag} '${files.crl.path}' holds no PEM revocation list (-----BEGIN X509 CRL-----)`,
    );
  }
  const material = {
    files,
    cert: certPem,
    key: keyPem,
    ca,
    crl,
    commonName: cn,
    validToMs,
    fingerprint: leaf.fingerprint256,
  };
  let context: SecureContext;
  try {
    context = createSecureContext(contextOptions(material, protocol));
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    throw invalid(`OpenSSL refuses ${named} with its key, CA and CRL files: ${detail}`);
  }
  return { ...material, context };
}

/**
 * Checks that this Node's OpenSSL offers every `--cipher-suites` entry; throws naming the
 * setting and the missing suites (etcd's names map to OpenSSL's, which some builds lack).
 */
export function checkCipherSuites(protocol: TlsProtocolSettings, label: string): void {
  const offered = new Set(getCiphers().map((c) => c.toLowerCase()));
  const missing = protocol.cipherSuites.filter((c) => !offered.has(c.toLowerCase()));
  if (missing.length > 0) {
    throw invalid(
      `${label} names cipher suites this Node's OpenSSL does not offer (OpenSSL names): ${missing.join(", ")}`,
    );
  }
}

/** The options of a secure context holding `m` (certificate, key, CA, CRL) and the protocol settings. */
export function contextOptions(
  m: Pick<TlsMaterial, "cert" | "key" | "ca" | "crl">,
  protocol: TlsProtocolSettings,
): SecureContextOptions {
  const o: SecureContextOptions = { cert: m.cert, key: m.key, ...protocolOptions(protocol) };
  if (m.ca !== null) o.ca = m.ca;
  if (m.crl !== null) o.crl = m.crl;
  return o;
}

/** Ciphers and version bounds as Node's TLS options (empty for Node's defaults). */
export function protocolOptions(protocol: TlsProtocolSettings): SecureContextOptions {
  const o: SecureContextOptions = {};
  if (protocol.cipherSuites.length > 0) {
    // TLS 1.3 suites go first: Node hands names starting with TLS_ to OpenSSL's TLS 1.3 list.
    const v13 = protocol.cipherSuites.filter(isTls13Suite);
    const v12 = protocol.cipherSuites.filter((c) => !isTls13Suite(c));
    o.ciphers = [...v13, ...v12].join(":");
  }
  if (protocol.minVersion !== null) o.minVersion = protocol.minVersion;
  if (protocol.maxVersion !== null) o.maxVersion = protocol.maxVersion;
  return o;
}
