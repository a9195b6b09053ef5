/**
 * Brute-force protection for Authenticate (Synod's own; etcd relies on bcrypt's cost alone):
 * failed attempts are counted per user name and per client address in fixed windows. Once a
 * counter reaches its limit, further attempts for that user (or from that address) are refused
 * without checking the password until the window ends, with etcd's "too many requests" error.
 * A successful attempt clears its user's counter. The counters are per member (not replicated),
 * so a client spreading guesses over n members gets at most n times the rate.
 */

/** Failed attempts per user name in one window before further attempts are refused. */
export const authFailuresPerUserMax = 5;
/** Failed attempts per client address in one window before further attempts are refused. */
export const authFailuresPerAddressMax = 20;
/** Length of a counting window, in milliseconds. */
export const authFailureWindowMs = 30_000;
/** Most counters kept; beyond it the oldest counter is forgotten. */
export const authFailureCountersMax = 10_000;

/** Limits of an {@link AuthFailureLimiter}. */
export interface AuthFailureLimits {
  readonly perUserMax: number;
  readonly perAddressMax: number;
  readonly windowMs: number;
}

/** The defaults above. */
export const authFailureLimitsDefault: AuthFailureLimits = {
  perUserMax: authFailuresPerUserMax,
  perAddressMax: authFailuresPerAddressMax,
  windowMs: authFailureWindowMs,
};

interface Counter {
  count: number;
  resetAtMs: number;
}

/** Counts failed Authenticate calls; see the file comment. */
export class AuthFailureLimiter {
  readonly #limits: AuthFailureLimits;
  readonly #nowMs: () => number;
  readonly #counters = new Map<string, Counter>();

  constructor(limits: AuthFailureLimits, nowMs: () => number) {
    this.#limits = limits;
    this.#nowMs = nowMs;
  }

  /** Whether an attempt for `user` from `address` ("" if unknown) must be refused now. */
  blocked(user: string, address: string): boolean {
    return (
      this.#over(`u:${user}`, this.#limits.perUserMax) ||
      (address !== "" && this.#over(`a:${address}`, this.#limits.perAddressMax))
    );
  }

  /** Records a failed attempt. */
  failed(user: string, address: string): void {
    this.#bump(`u:${user}`);
    if (address !== "") this.#bump(`a:${address}`);
  }

  /** Records a successful attempt: the user's counter starts again. */
  succeeded(user: string): void {
    this.#counters.delete(`u:${user}`);
  }

  #over(key: string, max: number): boolean {
    const c = this.#counters.get(key);
    if (c === undefined) return false;
    if (this.#nowMs() >= c.resetAtMs) {
      this.#counters.delete(key);
      return false;
    }
    return c.count >= max;
  }

  #bump(key: string): void {
    const now = this.#nowMs();
    let c = this.#counters.get(key);
    if (c === undefined || now >= c.resetAtMs) {
      if (c === undefined && this.#counters.size >= authFailureCountersMax) {
        const oldest = this.#counters.keys().next();
        if (oldest.done !== true) this.#counters.delete(oldest.value);
      }
      c = { count: 0, resetAtMs: now + this.#limits.windowMs };
      this.#counters.set(key, c);
    }
    c.count++;
  }
}
