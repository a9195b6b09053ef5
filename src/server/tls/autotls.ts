/**
 * etcd's `--auto-tls` / `--peer-auto-tls`: a self-signed certificate made at start with the
 * `openssl` command (Debian's `openssl` package), kept under `<data-dir>/fixtures/<side>` and
 * reused while it is valid, as etcd reuses its `fixtures` files.
 */
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { ErrorCode, SynodError } from "../../lib/errors.js";

/** Days a generated certificate is valid (etcd 3.4 makes them for one year). */
export const autoTlsValidDays = 365;
/** A certificate with less than this left is replaced at start rather than reused: one day. */
export const autoTlsRenewBeforeMs = 24 * 3600 * 1000;

/** Where a generated certificate and key are. */
export interface AutoTlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

function run(cmd: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 30_000 }, (error, _stdout, stderr) => {
      if (error === null) resolve();
      else reject(Object.assign(error, { stderr: String(stderr) }));
    });
  });
}

/** Whether `certFile` holds a certificate still valid for a day at `nowMs`. */
function reusable(certFile: string, keyFile: string, nowMs: number): boolean {
  if (!existsSync(certFile) || !existsSync(keyFile)) return false;
  try {
    const cert = new X509Certificate(readFileSync(certFile));
    return Date.parse(cert.validTo) - autoTlsRenewBeforeMs > nowMs;
  } catch {
    return false;
  }
}

/**
 * A self-signed certificate for `hosts` (IP addresses and names, put in its subjectAltName) in
 * `dir` (`cert.pem`, `key.pem`): reused when one valid for another day is there, otherwise made
 * with `openssl` (ECDSA P-256, O=synod). Rejects with a {@link SynodError} naming `flag` when the
 * `openssl` command is missing or fails.
 */
export async function selfSignedCertificate(
  dir: string,
  hosts: readonly string[],
  flag: string,
  nowMs: number,
): Promise<AutoTlsFiles & { readonly created: boolean }> {
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  if (reusable(certFile, keyFile, nowMs)) return { certFile, keyFile, created: false };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const names = [...new Set(["localhost", "127.0.0.1", ...hosts].filter((h) => h !== ""))];
  const san = names.map((h) => (isIP(h) === 0 ? `DNS:${h}` : `IP:${h}`)).join(",");
  try {
    await run("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      String(autoTlsValidDays),
      "-subj",
      "/O=synod",
      "-addext",
      `subjectAltName=${san}`,
      "-addext",
      "extendedKeyUsage=serverAuth,clientAuth",
      "-keyout",
      keyFile,
      "-out",
      certFile,
    ]);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "the 'openssl' command is not installed (apt-get install -y openssl)"
        : `openssl failed: ${String((e as { stderr?: string }).stderr ?? e).trim()}`;
    throw new SynodError(
      ErrorCode.invalidArgument,
      `--${flag} cannot make a self-signed certificate in '${dir}': ${why}; install openssl or give the certificate and key files`,
    );
  }
  return { certFile, keyFile, created: true };
}
