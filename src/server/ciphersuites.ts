/**
 * etcd's `--cipher-suites` names (Go's `crypto/tls` constant names, the IANA names) and the
 * OpenSSL names Node's TLS needs for the same suites. Pure: no I/O.
 */

/** Go / IANA cipher-suite name → OpenSSL name. TLS 1.3 suites have the same name in both. */
const goToOpenssl: ReadonlyMap<string, string> = new Map([
  // TLS 1.0–1.2 suites Go's crypto/tls implements (and so etcd accepts).
  ["TLS_RSA_WITH_RC4_128_SHA", "RC4-SHA"],
  ["TLS_RSA_WITH_3DES_EDE_CBC_SHA", "DES-CBC3-SHA"],
  ["TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"],
  ["TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"],
  ["TLS_RSA_WITH_AES_128_CBC_SHA256", "AES128-SHA256"],
  ["TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"],
  ["TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"],
  ["TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", "ECDHE-ECDSA-RC4-SHA"],
  ["TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"],
  ["TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"],
  ["TLS_ECDHE_RSA_WITH_RC4_128_SHA", "ECDHE-RSA-RC4-SHA"],
  ["TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "ECDHE-RSA-DES-CBC3-SHA"],
  ["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"],
  ["TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"],
  ["TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA-AES128-SHA256"],
  ["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256"],
  ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"],
  ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"],
  ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"],
  ["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"],
  ["TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"],
  ["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305"],
  ["TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305"],
  ["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"],
  // TLS 1.3 suites (not configurable in Go, but named there; OpenSSL configures them).
  ["TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"],
  ["TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384"],
  ["TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256"],
]);

/** Whether an OpenSSL suite name is a TLS 1.3 suite (OpenSSL configures those separately). */
export function isTls13Suite(opensslName: string): boolean {
  return opensslName.startsWith("TLS_");
}

/** The outcome of {@link mapCipherSuites}: OpenSSL names in the order given, or the unknown names. */
export type CipherSuitesResult =
  | { readonly ok: true; readonly openssl: readonly string[] }
  | { readonly ok: false; readonly unknown: readonly string[] };

/**
 * Maps etcd's cipher-suite names to OpenSSL names, keeping their order (the server's
 * preference). Duplicates (two Go names of one suite) are kept once. Unknown names are returned
 * together, so one message can list them all.
 */
export function mapCipherSuites(names: readonly string[]): CipherSuitesResult {
  const out: string[] = [];
  const unknown: string[] = [];
  for (const name of names) {
    const o = goToOpenssl.get(name);
    if (o === undefined) unknown.push(name);
    else if (!out.includes(o)) out.push(o);
  }
  return unknown.length > 0 ? { ok: false, unknown } : { ok: true, openssl: out };
}

/** Every name `--cipher-suites` accepts, in table order (for help and error messages). */
export const knownCipherSuites: readonly string[] = [...goToOpenssl.keys()];
