import { assert } from "../lib/assert.js";
import type { LeaseAttachments } from "./kv.js";
import { leaseRevokeRatePerSecond } from "./limits.js";
import type { LeaseCheckpoint, LeaseId } from "./types.js";

/** How long the leader waits before offering an expired lease again if its revoke never applied. */
export const expiredLeaseRetryMs = 3000;

/** One lease. `ttl`/`remainingTtl` are replicated; `expiryMs` is the leader's own bookkeeping. */
export interface Lease {
  readonly id: LeaseId;
  /** Granted TTL in seconds. */
  readonly ttl: number;
  /** Remaining TTL in seconds from the last checkpoint; 0 = none (use `ttl`). */
  remainingTtl: number;
  /** Attached keys (binary strings). */
  readonly keys: Set<string>;
  /** Leader only: monotonic time (ms) at which the lease expires; Infinity when not tracked. */
  expiryMs: number;
  /** Leader only: when the expiry queue next reports this lease (its expiry, or a retry after it). */
  checkMs: number;
}

/** Largest lease id the store accepts or generates. */
export const leaseIdMax = Number.MAX_SAFE_INTEGER;

/** Whether `id` is usable as a lease id: an integer in `[1, 2^53-1]`. */
export function validLeaseId(id: number): boolean {
  return Number.isSafeInteger(id) && id > 0;
}

/**
 * The leases of the state machine (etcd's lessor). Grants, revokes, checkpoints and key
 * attachments are replicated state, changed only by applied commands. Expiry is not decided here:
 * the leader feeds its monotonic clock to {@link Lessor.promote}, {@link Lessor.renew},
 * {@link Lessor.expired} and {@link Lessor.timeToLiveSeconds}, and proposes revoke commands for the
 * ids that {@link Lessor.expired} returns. Followers never expire anything.
 */
export class Lessor implements LeaseAttachments {
  readonly #leases = new Map<LeaseId, Lease>();
  #nextId: LeaseId = 1;
  #primary = false;
  /** Leases granted while primary that have no expiry yet; the next clock reading arms them. */
  #unarmed: Lease[] = [];
  readonly #heap = new ExpiryHeap();
  #checkpointCursor: LeaseId = 0;

  /** Number of leases. */
  get size(): number {
    return this.#leases.size;
  }

  /** Whether this member tracks expiry (it is the leader). */
  get primary(): boolean {
    return this.#primary;
  }

  /** The next id a grant with id 0 will consider. */
  get nextId(): LeaseId {
    return this.#nextId;
  }

  /** The lease with `id`, if any. */
  lookup(id: LeaseId): Lease | undefined {
    return this.#leases.get(id);
  }

  /** Picks the id for a grant that asked for id 0: the lowest unused id from a counter. */
  generateId(): LeaseId {
    while (this.#leases.has(this.#nextId)) this.#nextId++;
    assert(this.#nextId <= leaseIdMax, "Lessor: lease ids exhausted");
    return this.#nextId;
  }

  /** Creates a lease (validated by the caller: id unused and valid, ttl already raised). */
  grant(id: LeaseId, ttl: number): Lease {
    assert(!this.#leases.has(id) && validLeaseId(id), `Lessor: cannot grant lease ${id}`);
    const lease: Lease = {
      id,
      ttl,
      remainingTtl: 0,
      keys: new Set(),
      expiryMs: Number.POSITIVE_INFINITY,
      checkMs: Number.POSITIVE_INFINITY,
    };
    this.#leases.set(id, lease);
    if (id === this.#nextId) this.#nextId++;
    if (this.#primary) this.#unarmed.push(lease);
    return lease;
  }

  /** Removes a lease; the caller has deleted its keys. */
  remove(id: LeaseId): void {
    const lease = this.#leases.get(id);
    assert(lease !== undefined, `Lessor: removing unknown lease ${id}`);
    lease.expiryMs = Number.POSITIVE_INFINITY;
    lease.checkMs = Number.POSITIVE_INFINITY;
    this.#leases.delete(id);
  }

  /** Applies replicated checkpoints; unknown ids are ignored (the lease was revoked meanwhile). */
  checkpoint(checkpoints: readonly LeaseCheckpoint[]): void {
    for (const c of checkpoints) {
      const lease = this.#leases.get(c.id);
      if (lease !== undefined) lease.remainingTtl = c.remainingTtl;
    }
  }

  attach(id: LeaseId, key: string): void {
    const lease = this.#leases.get(id);
    assert(lease !== undefined, `Lessor: attaching a key to unknown lease ${id}`);
    lease.keys.add(key);
  }

  detach(id: LeaseId, key: string): void {
    this.#leases.get(id)?.keys.delete(key);
  }

  /** Every lease id, ascending. */
  ids(): LeaseId[] {
    return [...this.#leases.keys()].sort((a, b) => a - b);
  }

  /** Every lease, by ascending id. */
  all(): Lease[] {
    return this.ids().map((id) => this.#leases.get(id) as Lease);
  }

  /** Restores the id counter (snapshot restore). */
  restoreNextId(next: LeaseId): void {
    this.#nextId = next;
  }

  /**
   * This member became leader at `nowMs`: every lease now expires at
   * `now + (remaining or granted TTL) + extendMs` (etcd: a leader change resets remaining TTLs,
   * extended by the election timeout). With at least `revokeRatePerSecond` leases, expiries are
   * spread so at most 3/4 of the revoke rate fall in any one second, as etcd's `Promote` does.
   */
  promote(nowMs: number, extendMs: number, revokeRatePerSecond = leaseRevokeRatePerSecond): void {
    this.#primary = true;
    this.#unarmed = [];
    this.#heap.clear();
    const leases = [...this.#leases.values()];
    for (const lease of leases) lease.expiryMs = nowMs + extendMs + leaseTtlMs(lease);
    if (leases.length >= revokeRatePerSecond) spreadExpiries(leases, nowMs, extendMs, revokeRatePerSecond);
    for (const lease of leases) {
      lease.checkMs = lease.expiryMs;
      this.#heap.push(lease.id, lease.checkMs);
    }
  }

  /** This member stopped being leader: nothing expires here any more. */
  demote(): void {
    this.#primary = false;
    this.#unarmed = [];
    this.#heap.clear();
    for (const lease of this.#leases.values()) {
      lease.expiryMs = Number.POSITIVE_INFINITY;
      lease.checkMs = Number.POSITIVE_INFINITY;
    }
  }

  /**
   * Leader only: a keepalive at `nowMs`. Returns the granted TTL, or 0 when the lease is unknown
   * or already expired (its revoke is pending). `clearCheckpoint` asks the server to replicate a
   * checkpoint with remaining TTL 0, because a stale checkpoint would shorten the next leader's view.
   */
  renew(id: LeaseId, nowMs: number): { ttl: number; clearCheckpoint: boolean } {
    assert(this.#primary, "Lessor: renew on a member that is not the leader");
    this.#arm(nowMs);
    const lease = this.#leases.get(id);
    if (lease === undefined || lease.expiryMs <= nowMs) return { ttl: 0, clearCheckpoint: false };
    lease.expiryMs = nowMs + lease.ttl * 1000;
    lease.checkMs = lease.expiryMs;
    this.#heap.push(id, lease.checkMs);
    this.#compactHeap();
    return { ttl: lease.ttl, clearCheckpoint: lease.remainingTtl > 0 };
  }

  /**
   * Leader only: up to `max` leases expired at `nowMs`, earliest first (ties by id). Each returned
   * lease is offered again after {@link expiredLeaseRetryMs} unless its revoke applies first.
   */
  expired(nowMs: number, max: number): LeaseId[] {
    assert(this.#primary, "Lessor: expiry asked of a member that is not the leader");
    this.#arm(nowMs);
    const out: LeaseId[] = [];
    while (out.length < max) {
      const top = this.#heap.peek();
      if (top === null || top.expiryMs > nowMs) break;
      this.#heap.pop();
      const lease = this.#leases.get(top.id);
      if (lease === undefined || lease.checkMs !== top.expiryMs) continue;
      out.push(lease.id);
      lease.checkMs = nowMs + expiredLeaseRetryMs;
      this.#heap.push(lease.id, lease.checkMs);
    }
    return out;
  }

  /**
   * Remaining TTL in whole seconds as seen at `nowMs`: -1 for an unknown lease; on the leader the
   * time to expiry (truncated, at least 0); elsewhere the checkpointed or granted TTL.
   */
  timeToLiveSeconds(id: LeaseId, nowMs: number): number {
    const lease = this.#leases.get(id);
    if (lease === undefined) return -1;
    if (this.#primary) this.#arm(nowMs);
    if (!Number.isFinite(lease.expiryMs)) return lease.remainingTtl > 0 ? lease.remainingTtl : lease.ttl;
    return Math.max(0, Math.floor((lease.expiryMs - nowMs) / 1000));
  }

  /**
   * Leader only: checkpoints of the remaining TTL of up to `max` leases, continuing round-robin
   * from the previous call (for etcd's optional lease checkpointing).
   */
  checkpointsDue(nowMs: number, max: number): LeaseCheckpoint[] {
    assert(this.#primary, "Lessor: checkpoints asked of a member that is not the leader");
    this.#arm(nowMs);
    const ids = this.ids();
    let start = ids.findIndex((id) => id > this.#checkpointCursor);
    if (start === -1) start = 0;
    const out: LeaseCheckpoint[] = [];
    for (let i = 0; i < ids.length && out.length < max; i++) {
      const lease = this.#leases.get(ids[(start + i) % ids.length] as LeaseId) as Lease;
      if (!Number.isFinite(lease.expiryMs)) continue;
      out.push({ id: lease.id, remainingTtl: Math.max(1, Math.ceil((lease.expiryMs - nowMs) / 1000)) });
      this.#checkpointCursor = lease.id;
    }
    return out;
  }

  /** Gives leases granted since the last clock reading their first expiry. */
  #arm(nowMs: number): void {
    for (const lease of this.#unarmed) {
      if (!this.#leases.has(lease.id)) continue;
      lease.expiryMs = nowMs + leaseTtlMs(lease);
      lease.checkMs = lease.expiryMs;
      this.#heap.push(lease.id, lease.checkMs);
    }
    this.#unarmed = [];
  }

  /** Drops stale heap entries once they outnumber live leases, so keepalive storms stay bounded. */
  #compactHeap(): void {
    if (this.#heap.size <= 2 * this.#leases.size + 1024) return;
    this.#heap.clear();
    for (const lease of this.#leases.values()) {
      if (Number.isFinite(lease.checkMs)) this.#heap.push(lease.id, lease.checkMs);
    }
  }
}

function leaseTtlMs(lease: Lease): number {
  return (lease.remainingTtl > 0 ? lease.remainingTtl : lease.ttl) * 1000;
}

/** etcd's Promote spreading: at most 3/4 of the revoke rate of expiries in any one-second window. */
function spreadExpiries(leases: Lease[], nowMs: number, extendMs: number, revokeRatePerSecond: number): void {
  leases.sort((a, b) => a.expiryMs - b.expiryMs || a.id - b.id);
  const first = leases[0];
  if (first === undefined) return;
  let baseWindow = first.expiryMs - nowMs;
  let nextWindow = baseWindow + 1000;
  let expires = 0;
  const targetPerSecond = Math.floor((3 * revokeRatePerSecond) / 4);
  for (const lease of leases) {
    const remaining = lease.expiryMs - nowMs;
    if (remaining > nextWindow) {
      baseWindow = remaining;
      nextWindow = baseWindow + 1000;
      expires = 1;
      continue;
    }
    expires++;
    if (expires <= targetPerSecond) continue;
    const delay = 1000 * (expires / targetPerSecond) - (remaining - baseWindow);
    nextWindow = baseWindow + delay;
    lease.expiryMs = nowMs + delay + extendMs + leaseTtlMs(lease);
  }
}

/** A binary min-heap of (expiry, id) with lazy invalidation by the caller. */
class ExpiryHeap {
  #times: number[] = [];
  #ids: number[] = [];

  get size(): number {
    return this.#ids.length;
  }

  clear(): void {
    this.#times = [];
    this.#ids = [];
  }

  peek(): { id: LeaseId; expiryMs: number } | null {
    const id = this.#ids[0];
    return id === undefined ? null : { id, expiryMs: this.#times[0] as number };
  }

  push(id: LeaseId, expiryMs: number): void {
    const t = this.#times;
    const d = this.#ids;
    let i = d.length;
    t.push(expiryMs);
    d.push(id);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(i, p)) break;
      this.#swap(i, p);
      i = p;
    }
  }

  pop(): void {
    const last = this.#ids.length - 1;
    if (last < 0) return;
    this.#swap(0, last);
    this.#times.pop();
    this.#ids.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < last && this.#less(l, m)) m = l;
      if (r < last && this.#less(r, m)) m = r;
      if (m === i) return;
      this.#swap(i, m);
      i = m;
    }
  }

  #less(a: number, b: number): boolean {
    const ta = this.#times[a] as number;
    const tb = this.#times[b] as number;
    return ta < tb || (ta === tb && (this.#ids[a] as number) < (this.#ids[b] as number));
  }

  #swap(a: number, b: number): void {
    const t = this.#times;
    const d = this.#ids;
    const ta = t[a] as number;
    t[a] = t[b] as number;
    t[b] = ta;
    const da = d[a] as number;
    d[a] = d[b] as number;
    d[b] = da;
  }
}
