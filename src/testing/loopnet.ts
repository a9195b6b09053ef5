import type { Message, NodeId } from "../raft/types.js";

/** What a {@link LoopNet} delivers to: a member's inputs. */
export interface LoopNetEndpoint {
  receive(m: Message): void;
  reportUnreachable(peer: NodeId): void;
  reportSnapshotStatus(peer: NodeId, ok: boolean): void;
}

/**
 * An in-process network between members for driver tests: messages are delivered on a later
 * event-loop turn (never synchronously), links can be cut, and snapshots are reported as
 * delivered or failed to the sender as a real transport would. A harness, not a test.
 */
export class LoopNet {
  readonly #endpoints = new Map<NodeId, LoopNetEndpoint>();
  readonly #cut = new Set<string>();
  delivered = 0;

  attach(id: NodeId, endpoint: LoopNetEndpoint): void {
    this.#endpoints.set(id, endpoint);
  }

  detach(id: NodeId): void {
    this.#endpoints.delete(id);
  }

  /** Cuts (or heals) both directions between `a` and `b`. */
  cut(a: NodeId, b: NodeId, heal = false): void {
    for (const key of [`${a}->${b}`, `${b}->${a}`]) {
      if (heal) this.#cut.delete(key);
      else this.#cut.add(key);
    }
  }

  /** Cuts (or heals) the one direction `from` → `to`. */
  cutOneWay(from: NodeId, to: NodeId, heal = false): void {
    if (heal) this.#cut.delete(`${from}->${to}`);
    else this.#cut.add(`${from}->${to}`);
  }

  /** The transport of member `self`. */
  transport(self: NodeId): { send(msgs: readonly Message[]): void; addPeer(): void; removePeer(): void } {
    return {
      send: (msgs) => {
        for (const m of msgs) this.#send(self, m);
      },
      addPeer: () => {},
      removePeer: () => {},
    };
  }

  #send(self: NodeId, m: Message): void {
    setImmediate(() => {
      const dst = this.#endpoints.get(m.to);
      const src = this.#endpoints.get(self);
      const lost = dst === undefined || this.#cut.has(`${self}->${m.to}`);
      if (m.type === "snap") src?.reportSnapshotStatus(m.to, !lost);
      if (lost) {
        src?.reportUnreachable(m.to);
        return;
      }
      this.delivered++;
      dst.receive(m);
    });
  }
}
