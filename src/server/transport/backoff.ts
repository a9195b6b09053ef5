/**
 * Reconnect delays: exponential backoff with jitter. Pure; the random draw is passed in.
 *
 * The base delay starts at `minMs` and doubles with each consecutive failed attempt up to
 * `maxMs`; the delay itself is drawn uniformly from [base / 2, base], so members that lost the
 * same peer at the same moment do not all redial it in lockstep.
 */

/** Reconnect delay in milliseconds after `attempt` consecutive failures (0 = the first). */
export function backoffDelayMs(attempt: number, minMs: number, maxMs: number, random: number): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(base / 2 + (random * base) / 2);
}
