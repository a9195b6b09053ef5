/**
 * The chaos harness's fault proxy on the peer links. Every member advertises the URL of its own
 * {@link PeerProxy} to the others (`--initial-advertise-peer-urls`, `--initial-cluster`) while it
 * listens on its real `--listen-peer-urls`; so every peer connection to member B passes through
 * B's proxy. The proxy reads the dialer's `hello` frame (docs/peer-protocol.md) to learn which
 * member dialed, then forwards the bytes both ways.
 *
 * A peer connection from A to B carries A's Raft messages to B (the reverse direction carries only
 * the handshake answer and snapshot acknowledgements), so the directed link A→B is controlled at
 * B's proxy by the `from` of the connections it accepted. A blocked link either drops (existing
 * connections reset, new ones closed right after their hello: the dialer sees a refused
 * handshake) or stalls (existing connections stop moving bytes in both directions but stay open,
 * new ones are accepted and never answered: a half-open network, the dialer waits for its
 * timeouts). When a stalled link is unblocked, its surviving connections resume and deliver what
 * was held back, late — as a healed network delivers retransmitted segments.
 */
import { connect, createServer, type Server, type Socket } from "node:net";

/** How a blocked link behaves: `drop` resets and refuses, `stall` holds bytes (half-open). */
export type BlockMode = "drop" | "stall";

/** Bytes of a frame header (docs/peer-protocol.md). */
const frameHeaderBytes = 12;
/** Payload bytes of a `hello` frame. */
const helloPayloadBytes = 32;
/** Frame type of `hello`. */
const helloFrameType = 1;
/** Bytes read before giving up on finding a hello: a dialer sends it first, in one write. */
const preambleBytesMax = frameHeaderBytes + 64;

/** One connection through a proxy. */
interface Link {
  readonly from: number;
  readonly client: Socket;
  upstream: Socket | null;
  stalled: boolean;
  /** Bytes read from the client before the upstream connection existed. */
  held: Buffer[];
}

/** Counters of a proxy, for the run's summary. */
export interface ProxyStats {
  accepted: number;
  forwarded: number;
  refused: number;
  stalled: number;
  reset: number;
}

/**
 * Reads the `from` member id out of a complete hello frame at the start of `buf`: `null` while
 * more bytes are needed, 0 if the bytes are not a hello (the connection is then forwarded as is).
 */
export function helloFrom(buf: Buffer): number | null {
  if (buf.length < frameHeaderBytes) return null;
  const length = buf.readUInt32BE(0);
  if (buf[4] !== helloFrameType || length !== helloPayloadBytes) return 0;
  if (buf.length < frameHeaderBytes + helloPayloadBytes) return null;
  const p = frameHeaderBytes;
  return buf.readUInt32BE(p + 16) * 2 ** 32 + buf.readUInt32BE(p + 20);
}

/** The proxy in front of one member's peer port. */
export class PeerProxy {
  readonly name: string;
  readonly listenPort: number;
  readonly targetPort: number;
  readonly stats: ProxyStats = { accepted: 0, forwarded: 0, refused: 0, stalled: 0, reset: 0 };
  readonly #server: Server;
  readonly #links = new Set<Link>();
  readonly #pending = new Set<Socket>();
  /** Blocked senders (member ids) and how. */
  readonly #blocked = new Map<number, BlockMode>();
  #closed = false;

  constructor(name: string, listenPort: number, targetPort: number) {
    this.name = name;
    this.listenPort = listenPort;
    this.targetPort = targetPort;
    this.#server = createServer((socket) => this.#accept(socket));
  }

  /** Starts listening on 127.0.0.1:`listenPort`. */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(this.listenPort, "127.0.0.1", () => {
        this.#server.off("error", reject);
        resolve();
      });
    });
  }

  /** The senders whose link to this member is blocked now. */
  blockedFrom(): ReadonlyMap<number, BlockMode> {
    return this.#blocked;
  }

  /** Blocks (mode) or unblocks (null) the link from member `from` to this proxy's member. */
  setBlocked(from: number, mode: BlockMode | null): void {
    const before = this.#blocked.get(from) ?? null;
    if (before === mode) return;
    if (mode === null) this.#blocked.delete(from);
    else this.#blocked.set(from, mode);
    for (const link of [...this.#links]) {
      if (link.from !== from) continue;
      if (mode === "drop") this.#destroy(link, true);
      else if (mode === "stall") this.#stall(link);
      else this.#resume(link);
    }
  }

  /** Unblocks every link and resumes stalled connections. */
  healAll(): void {
    for (const from of [...this.#blocked.keys()]) this.setBlocked(from, null);
  }

  /** Closes the listener and every connection. */
  close(): Promise<void> {
    this.#closed = true;
    for (const link of [...this.#links]) this.#destroy(link, false);
    for (const s of this.#pending) s.destroy();
    this.#pending.clear();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    if (this.#closed) {
      client.destroy();
      return;
    }
    this.stats.accepted++;
    client.setNoDelay(true);
    this.#pending.add(client);
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      const from = helloFrom(buf);
      if (from === null && buf.length < preambleBytesMax) return;
      client.off("data", onData);
      client.pause();
      this.#pending.delete(client);
      this.#route(client, from ?? 0, buf);
    };
    client.on("data", onData);
    client.on("error", () => client.destroy());
    client.on("close", () => this.#pending.delete(client));
  }

  #route(client: Socket, from: number, preamble: Buffer): void {
    const mode = this.#blocked.get(from) ?? null;
    if (mode === "drop") {
      this.stats.refused++;
      client.destroy();
      return;
    }
    const link: Link = { from, client, upstream: null, stalled: false, held: [preamble] };
    this.#links.add(link);
    client.on("close", () => this.#destroy(link, false));
    if (mode === "stall") {
      // Accepted and never answered while the link stays blocked.
      this.stats.stalled++;
      link.stalled = true;
      return;
    }
    this.#connectUpstream(link);
  }

  #connectUpstream(link: Link): void {
    if (link.client.destroyed) return;
    this.stats.forwarded++;
    const up = connect(this.targetPort, "127.0.0.1");
    link.upstream = up;
    up.setNoDelay(true);
    for (const b of link.held) up.write(b);
    link.held = [];
    const { client } = link;
    client.on("data", (b: Buffer) => {
      if (!up.write(b)) client.pause();
    });
    up.on("drain", () => {
      if (!link.stalled) client.resume();
    });
    up.on("data", (b: Buffer) => {
      if (!client.write(b)) up.pause();
    });
    client.on("drain", () => {
      if (!link.stalled) up.resume();
    });
    up.on("error", () => this.#destroy(link, false));
    up.on("close", () => this.#destroy(link, false));
    client.resume();
  }

  #stall(link: Link): void {
    if (link.stalled) return;
    this.stats.stalled++;
    link.stalled = true;
    link.client.pause();
    link.upstream?.pause();
  }

  #resume(link: Link): void {
    if (!link.stalled) return;
    link.stalled = false;
    if (link.upstream === null) {
      this.#connectUpstream(link);
      return;
    }
    link.client.resume();
    link.upstream.resume();
  }

  #destroy(link: Link, reset: boolean): void {
    if (!this.#links.delete(link)) return;
    if (reset) {
      this.stats.reset++;
      link.client.resetAndDestroy();
      link.upstream?.resetAndDestroy();
    } else {
      link.client.destroy();
      link.upstream?.destroy();
    }
  }
}

/** A directed peer link, by member names. */
export interface DirectedLink {
  readonly from: string;
  readonly to: string;
}

/**
 * The proxies of a whole cluster, addressed by member names: blocks directed links, builds
 * partitions out of them, and heals.
 */
export class FaultNetwork {
  readonly #proxies = new Map<string, PeerProxy>();
  readonly #ids = new Map<string, number>();

  /** Registers member `name` (id `id`) behind `proxy`. */
  add(name: string, id: number, proxy: PeerProxy): void {
    this.#proxies.set(name, proxy);
    this.#ids.set(name, id);
  }

  proxy(name: string): PeerProxy | undefined {
    return this.#proxies.get(name);
  }

  /** Blocks `links` with `mode` (other links keep their state). */
  block(links: readonly DirectedLink[], mode: BlockMode): void {
    for (const l of links) {
      const id = this.#ids.get(l.from);
      const p = this.#proxies.get(l.to);
      if (id !== undefined && p !== undefined && l.from !== l.to) p.setBlocked(id, mode);
    }
  }

  /** The directed links blocked now, as `from->to` strings. */
  blocked(): string[] {
    const byId = new Map([...this.#ids].map(([n, id]) => [id, n]));
    const out: string[] = [];
    for (const [to, p] of this.#proxies)
      for (const from of p.blockedFrom().keys()) out.push(`${byId.get(from) ?? from}->${to}`);
    return out.sort();
  }

  /** Unblocks every link. */
  heal(): void {
    for (const p of this.#proxies.values()) p.healAll();
  }

  /** Sums of every proxy's counters. */
  stats(): ProxyStats {
    const s: ProxyStats = { accepted: 0, forwarded: 0, refused: 0, stalled: 0, reset: 0 };
    for (const p of this.#proxies.values()) {
      s.accepted += p.stats.accepted;
      s.forwarded += p.stats.forwarded;
      s.refused += p.stats.refused;
      s.stalled += p.stats.stalled;
      s.reset += p.stats.reset;
    }
    return s;
  }

  async close(): Promise<void> {
    for (const p of this.#proxies.values()) await p.close();
  }
}

/** Both directions of every link between members of different groups (members in no group keep all links). */
export function partitionLinks(groups: readonly (readonly string[])[]): DirectedLink[] {
  const out: DirectedLink[] = [];
  for (const [i, a] of groups.entries())
    for (const [j, b] of groups.entries()) {
      if (i === j) continue;
      for (const from of a) for (const to of b) out.push({ from, to });
    }
  return out;
}

/**
 * Links to block for partial connectivity: every member keeps links only to its neighbours in the
 * ring `order` (for 5 members each sees 2 others — with itself a majority, yet no two agree on one).
 */
export function ringLinks(order: readonly string[]): DirectedLink[] {
  const out: DirectedLink[] = [];
  const n = order.length;
  for (const [i, from] of order.entries())
    for (const [j, to] of order.entries()) {
      const d = Math.abs(i - j);
      if (i !== j && d !== 1 && d !== n - 1) out.push({ from, to });
    }
  return out;
}

/**
 * A bridge: two sides that cannot reach each other and one member (`bridge`) that reaches both
 * (Jepsen's bridge nemesis). Returns the links between the two sides.
 */
export function bridgeLinks(left: readonly string[], right: readonly string[]): DirectedLink[] {
  return partitionLinks([left, right]);
}
