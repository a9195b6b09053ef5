/**
 * Peer URLs, written as etcd writes them (`http://10.0.0.1:2380`, `https://10.0.0.1:2380`): the
 * scheme, a host and a port. Synod peers speak their own framed protocol over plain TCP at that
 * address, or over TLS for `https://`.
 */

/** A peer's TCP address, and whether it is dialed with TLS. */
export interface PeerAddress {
  readonly host: string;
  readonly port: number;
  /** `https://`: the stream runs over TLS. */
  readonly secure: boolean;
}

/** Parses a peer URL; returns the address, or why the URL is not usable (a sentence fragment). */
export function parsePeerUrl(url: string): PeerAddress | string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `must be a URL such as 'http://127.0.0.1:2380', got '${url}'`;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return `must use http:// or https://, got '${url}'`;
  if (u.port === "") return `must name a port, got '${url}'`;
  if ((u.pathname !== "/" && u.pathname !== "") || u.search !== "" || u.hash !== "" || u.username !== "") {
    return `must be only a scheme, host and port, got '${url}'`;
  }
  // IPv6 literals come back as "[::1]"; sockets want them without brackets.
  const host = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
  return { host, port: Number(u.port), secure: u.protocol === "https:" };
}
