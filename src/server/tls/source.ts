/**
 * One side's (clients' or peers') certificates while the member runs: loaded and checked at
 * start, then watched, so replacing the files rotates the certificate without a restart. New
 * connections use the new certificate; open ones keep theirs. A changed set that fails its checks
 * (expired, key not matching, unreadable) is refused with one log line, and the previous set stays.
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import {
  checkServerIdentity,
  type PeerCertificate,
  type SecureContext,
  type SecureContextOptions,
} from "node:tls";
import { type Logger, noopLogger } from "../../lib/logger.js";
import { type TlsConfig, tlsFlagName } from "../configtls.js";
import { selfSignedCertificate } from "./autotls.js";
import {
  contextOptions,
  loadTlsMaterial,
  type TlsFiles,
  type TlsMaterial,
  type TlsProtocolSettings,
} from "./material.js";

/** Default interval between checks of the certificate files for changes: 1 s. */
export const tlsReloadPollMsDefault = 1000;

/** How to open a {@link TlsSource}. */
export interface TlsSourceOptions {
  readonly config: TlsConfig;
  readonly protocol: TlsProtocolSettings;
  /** The member's data directory; auto-TLS certificates go to `<dataDir>/fixtures/<side>`. */
  readonly dataDir: string;
  /** Host names and addresses a generated (auto-TLS) certificate is made for. */
  readonly hosts: readonly string[];
  readonly logger?: Logger;
  /** Interval between checks of the files for changes. Default 1 s. */
  readonly pollMs?: number;
  /** The clock, in ms since the epoch. Default `Date.now`. */
  readonly nowMs?: () => number;
}

/** A file's identity for change detection: modification time, size and inode. */
function signature(paths: readonly string[]): string {
  return paths
    .map((p) => {
      try {
        const s = statSync(p);
        return `${s.mtimeMs}:${s.size}:${s.ino}`;
      } catch {
        return "missing";
      }
    })
    .join("|");
}

/** The certificates of one side, reloaded when their files change. */
export class TlsSource {
  readonly config: TlsConfig;
  readonly #protocol: TlsProtocolSettings;
  readonly #logger: Logger;
  readonly #nowMs: () => number;
  readonly #paths: readonly string[];
  readonly #listeners = new Set<() => void>();
  readonly #timer: NodeJS.Timeout;
  #material: TlsMaterial;
  /** The signature of the files last loaded, the one seen at the last poll, and the last refused. */
  #loaded: string;
  #seen: string;
  #refused = "";
  #expiryWarned = false;

  private constructor(opts: TlsSourceOptions, material: TlsMaterial) {
    this.config = opts.config;
    this.#protocol = opts.protocol;
    this.#logger = opts.logger ?? noopLogger;
    this.#nowMs = opts.nowMs ?? Date.now;
    this.#material = material;
    const f = material.files;
    this.#paths = [f.cert.path, f.key.path, f.ca?.path ?? "", f.crl?.path ?? ""].filter((p) => p !== "");
    this.#loaded = signature(this.#paths);
    this.#seen = this.#loaded;
    this.#timer = setInterval(() => this.#poll(), opts.pollMs ?? tlsReloadPollMsDefault);
    this.#timer.unref();
  }

  /**
   * Loads the side's files (making a self-signed certificate first for auto-TLS) and starts
   * watching them. Rejects with a {@link SynodError} naming the setting and the file when a file
   * is missing, unreadable, expired, or the key does not match the certificate.
   */
  static async open(opts: TlsSourceOptions): Promise<TlsSource> {
    const c = opts.config;
    const nowMs = opts.nowMs ?? Date.now;
    const flag = (f: Parameters<typeof tlsFlagName>[1]): string => tlsFlagName(c.side, f);
    let certPath = c.certFile;
    let keyPath = c.keyFile;
    let certFlag = flag("certFile");
    let keyFlag = flag("keyFile");
    if (c.autoTls) {
      const dir = join(opts.dataDir, "fixtures", c.side);
      const made = await selfSignedCertificate(dir, opts.hosts, flag("autoTls"), nowMs());
      certPath = made.certFile;
      keyPath = made.keyFile;
      certFlag = `${flag("autoTls")} certificate`;
      keyFlag = `${flag("autoTls")} key`;
      opts.logger?.info(
        made.created ? "tls: made a self-signed certificate" : "tls: reusing a self-signed certificate",
        {
          side: c.side,
          cert: certPath,
        },
      );
    }
    const files: TlsFiles = {
      cert: { path: certPath, flag: certFlag },
      key: { path: keyPath, flag: keyFlag },
      ca: c.trustedCaFile === "" ? null : { path: c.trustedCaFile, flag: flag("trustedCaFile") },
      crl: c.crlFile === "" ? null : { path: c.crlFile, flag: flag("crlFile") },
    };
    const material = loadTlsMaterial(files, opts.protocol, nowMs());
    const source = new TlsSource(opts, material);
    source.#logger.info("tls: loaded the certificate", source.#describe());
    return source;
  }

  /** The certificate set in use. */
  get material(): TlsMaterial {
    return this.#material;
  }

  /** Whether the other side must present a certificate signed by the trusted CAs. */
  get clientCertAuth(): boolean {
    return this.config.clientCertAuth;
  }

  /** Whether dialed peers' certificates go unchecked against a CA (peer auto-TLS, as etcd). */
  get insecureSkipVerify(): boolean {
    return this.config.autoTls && this.config.trustedCaFile === "";
  }

  /** Options for a TLS server's secure context (`tls.createServer`, `setSecureContext`), current. */
  serverContextOptions(): SecureContextOptions {
    return contextOptions(this.#material, this.#protocol);
  }

  /** A secure context for dialing with the current certificate (made when the certificate set was loaded). */
  clientContext(): SecureContext {
    return this.#material.context;
  }

  /**
   * Why a verified certificate of the other side is still refused (etcd's `--peer-cert-allowed-cn`
   * and allowed-hostname rules), or null when it passes.
   */
  checkCertificate(cert: PeerCertificate): string | null {
    const { allowedCn, allowedHostname } = this.config;
    const cn = certificateCommonName(cert);
    if (allowedCn !== "" && cn !== allowedCn) {
      return `its certificate's CN '${cn}' is not the allowed '${allowedCn}' (--peer-cert-allowed-cn)`;
    }
    if (allowedHostname !== "" && checkServerIdentity(allowedHostname, cert) !== undefined) {
      const flag =
        this.config.side === "peer" ? "peer-cert-allowed-hostname" : "client-cert-allowed-hostname";
      return `its certificate (CN '${cn}') is not valid for the host name '${allowedHostname}' (--${flag})`;
    }
    return null;
  }

  /** Calls `listener` after each successful reload; returns a function that unsubscribes. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops watching the files. */
  close(): void {
    clearInterval(this.#timer);
    this.#listeners.clear();
  }

  #describe(): Record<string, unknown> {
    const m = this.#material;
    return {
      side: this.config.side,
      cert: m.files.cert.path,
      cn: m.commonName,
      validTo: new Date(m.validToMs).toISOString(),
      fingerprint: m.fingerprint,
    };
  }

  /** Reloads once the files changed and then stayed unchanged for one poll (both halves written). */
  #poll(): void {
    this.#warnIfExpired();
    const now = signature(this.#paths);
    const stable = now === this.#seen;
    this.#seen = now;
    if (!stable || now === this.#loaded || now === this.#refused) return;
    try {
      this.#material = loadTlsMaterial(this.#material.files, this.#protocol, this.#nowMs());
    } catch (e) {
      this.#refused = now;
      this.#logger.warn("tls: refused the changed certificate files; the previous certificate stays in use", {
        side: this.config.side,
        reason: e instanceof Error ? e.message : String(e),
      });
      return;
    }
    this.#loaded = now;
    this.#refused = "";
    this.#expiryWarned = false;
    this.#logger.info("tls: reloaded the certificate", this.#describe());
    for (const l of this.#listeners) l();
  }

  #warnIfExpired(): void {
    if (this.#expiryWarned || this.#nowMs() < this.#material.validToMs) return;
    this.#expiryWarned = true;
    this.#logger.warn(
      "tls: the certificate in use has expired; the other side will refuse it until the files are replaced",
      this.#describe(),
    );
  }
}

/** The subject common name of a certificate as Node reports it ("" when none). */
export function certificateCommonName(cert: PeerCertificate): string {
  const cn: unknown = cert.subject?.CN;
  if (typeof cn === "string") return cn;
  if (Array.isArray(cn) && typeof cn[0] === "string") return cn[0];
  return "";
}
