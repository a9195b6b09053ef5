/**
 * The member's TLS sources from its configuration: the client certificates (for `https://`
 * client URLs) and the peer certificates (for `https://` peer URLs), each reloaded when its
 * files change. A member whose certificate files are missing, expired or mismatched refuses to
 * start with a message naming the setting and the file.
 */
import type { ForwardTls } from "../api/etcd/forward.js";
import type { Logger } from "../lib/logger.js";
import type { ServerConfig, TlsConfig } from "../server/config.js";
import { checkCipherSuites, type TlsProtocolSettings, TlsSource } from "../server/tls/mod.js";

/** The TLS sources of a member; null where that side has no certificate configured. */
export interface MemberTls {
  readonly client: TlsSource | null;
  readonly peer: TlsSource | null;
  /** Stops watching the files. */
  close(): void;
}

function configured(c: TlsConfig): boolean {
  return c.autoTls || (c.certFile !== "" && c.keyFile !== "");
}

/** Opens the client and peer TLS sources the configuration asks for. */
export async function openMemberTls(config: ServerConfig, logger: Logger): Promise<MemberTls> {
  const protocol: TlsProtocolSettings = {
    cipherSuites: config.cipherSuites,
    minVersion: config.tlsMinVersion,
    maxVersion: config.tlsMaxVersion,
  };
  checkCipherSuites(protocol, "--cipher-suites");
  const hostsOf = (urls: readonly { readonly host: string }[]): string[] => urls.map((u) => u.host);
  const client = configured(config.clientTls)
    ? await TlsSource.open({
        config: config.clientTls,
        protocol,
        dataDir: config.dataDir,
        hosts: [...hostsOf(config.listenClientUrls), ...hostsOf(config.advertiseClientUrls)],
        logger,
      })
    : null;
  let peer: TlsSource | null = null;
  try {
    peer = configured(config.peerTls)
      ? await TlsSource.open({
          config: config.peerTls,
          protocol,
          dataDir: config.dataDir,
          hosts: [...hostsOf(config.listenPeerUrls), ...hostsOf(config.initialAdvertisePeerUrls)],
          logger,
        })
      : null;
  } catch (e) {
    client?.close();
    throw e;
  }
  return {
    client,
    peer,
    close() {
      client?.close();
      peer?.close();
    },
  };
}

/** The member's client certificate as lease forwarding to an `https://` leader uses it. */
export function forwardTlsOf(client: TlsSource): ForwardTls {
  return {
    clientContext: () => client.clientContext(),
    verify: client.config.trustedCaFile !== "",
  };
}
