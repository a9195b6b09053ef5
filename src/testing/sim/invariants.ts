import type { RaftLog } from "../../raft/log.js";
import type { Entry, HardState, Index, NodeId, Term } from "../../raft/types.js";

/** A broken safety property, with enough detail to debug it from the replayed seed. */
export class InvariantViolation extends Error {
  override readonly name = "InvariantViolation";
}

interface Recorded {
  readonly term: Term;
  readonly data: Uint8Array;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Raft's safety properties, checked incrementally as the simulator reports what nodes do, so
 * that every step can be checked cheaply:
 * - Election Safety: at most one leader per term.
 * - Log Matching: entries with the same index and term hold the same data and follow the same
 *   previous term (so, by induction, the logs are identical up to there).
 * - Leader Completeness: a new leader holds every entry committed so far.
 * - Committed entries never change; State Machine Safety: every node applies the same entry at
 *   an index.
 * - Durable hard state: term never decreases, a vote is never changed within a term, and the
 *   durable commit index never decreases, across crashes and restarts.
 */
export class Invariants {
  readonly #leaders = new Map<Term, NodeId>();
  readonly #committed: (Recorded | undefined)[] = [];
  readonly #logEntries = new Map<string, { prevTerm: Term; data: Uint8Array }>();
  readonly #durable = new Map<NodeId, HardState>();
  readonly #seenCommit = new Map<NodeId, Index>();
  checks = 0;

  /** The highest index known committed anywhere. */
  get committedIndex(): Index {
    return this.#committed.length - 1;
  }

  committedEntry(index: Index): Recorded | undefined {
    return this.#committed[index];
  }

  /** Called after every step for every live node. */
  observeNode(id: NodeId, role: string, term: Term, log: RaftLog): void {
    this.checks++;
    if (role === "leader") {
      const prev = this.#leaders.get(term);
      if (prev === undefined) {
        this.#leaders.set(term, id);
        this.#checkLeaderCompleteness(id, term, log);
      } else if (prev !== id) {
        throw new InvariantViolation(
          `Election Safety: nodes ${prev} and ${id} are both leaders of term ${term}`,
        );
      }
    }
    const seen = this.#seenCommit.get(id) ?? 0;
    if (log.committed > seen) {
      const from = Math.max(seen + 1, log.firstIndex());
      for (let i = from; i <= log.committed; i++) {
        const ents = log.slice(i, i + 1, Number.POSITIVE_INFINITY);
        if (typeof ents === "string") continue;
        const e = ents[0];
        if (e !== undefined) this.#recordCommitted(id, e);
      }
      this.#seenCommit.set(id, log.committed);
    }
  }

  /** A node restarted: its view of what it saw committed starts again from its durable state. */
  restarted(id: NodeId, commit: Index): void {
    this.#seenCommit.set(id, commit);
  }

  #recordCommitted(id: NodeId, e: Entry): void {
    const known = this.#committed[e.index];
    if (known === undefined) {
      while (this.#committed.length < e.index) this.#committed.push(undefined);
      this.#committed[e.index] = { term: e.term, data: e.data };
      return;
    }
    if (known.term !== e.term || !sameBytes(known.data, e.data)) {
      throw new InvariantViolation(
        `committed entry changed: index ${e.index} was committed with term ${known.term}, node ${id} commits term ${e.term}`,
      );
    }
  }

  #checkLeaderCompleteness(id: NodeId, term: Term, log: RaftLog): void {
    const first = log.firstIndex();
    for (let i = Math.max(1, first); i < this.#committed.length; i++) {
      const c = this.#committed[i];
      if (c === undefined) continue;
      const t = log.term(i);
      if (t !== c.term) {
        throw new InvariantViolation(
          `Leader Completeness: node ${id}, leader of term ${term}, has term ${t} at index ${i}, committed with term ${c.term}`,
        );
      }
    }
  }

  /** A node made entries durable; `prevTerm(i)` is its log's term at `i` after the write. */
  persistedEntries(id: NodeId, entries: readonly Entry[], prevTerm: (index: Index) => Term): void {
    for (const e of entries) {
      const key = `${e.index}/${e.term}`;
      const pt = prevTerm(e.index - 1);
      const known = this.#logEntries.get(key);
      if (known === undefined) {
        this.#logEntries.set(key, { prevTerm: pt, data: e.data });
        continue;
      }
      if (!sameBytes(known.data, e.data)) {
        throw new InvariantViolation(
          `Log Matching: node ${id} holds different data at index ${e.index} term ${e.term}`,
        );
      }
      if (pt >= 0 && known.prevTerm >= 0 && pt !== known.prevTerm) {
        throw new InvariantViolation(
          `Log Matching: node ${id} has term ${pt} before (${e.index}, ${e.term}); another log has ${known.prevTerm}`,
        );
      }
    }
  }

  /** A node applied `e` to its state machine. */
  applied(id: NodeId, e: Entry): void {
    const known = this.#committed[e.index];
    if (known === undefined) {
      this.#recordCommitted(id, e);
      return;
    }
    if (known.term !== e.term || !sameBytes(known.data, e.data)) {
      throw new InvariantViolation(
        `State Machine Safety: node ${id} applies term ${e.term} at index ${e.index}; committed entry has term ${known.term}`,
      );
    }
  }

  /** A node made a hard state durable. */
  persistedHardState(id: NodeId, hs: HardState): void {
    const prev = this.#durable.get(id);
    if (prev !== undefined) {
      if (hs.term < prev.term)
        throw new InvariantViolation(`durable term of node ${id} went back: ${prev.term} → ${hs.term}`);
      if (hs.term === prev.term && prev.vote !== 0 && hs.vote !== prev.vote) {
        throw new InvariantViolation(
          `node ${id} changed its durable vote in term ${hs.term}: ${prev.vote} → ${hs.vote} (two votes in one term)`,
        );
      }
      if (hs.commit < prev.commit) {
        throw new InvariantViolation(`durable commit of node ${id} went back: ${prev.commit} → ${hs.commit}`);
      }
    }
    this.#durable.set(id, hs);
  }
}
