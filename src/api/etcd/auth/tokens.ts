/**
 * etcd's simple tokens on one member: token → user, each valid for `--auth-token-ttl` seconds
 * (default 300) after its last use, as etcd's `simpleTokenTTLKeeper`. Tokens are minted by
 * applied Authenticate commands (`<16 random letters>.<log index>`, the letters chosen by the
 * proposing member), so every member learns every token from the log; the table hears about it
 * through the auth store's events (see `AuthStore.listener`). Nothing here is replicated or
 * persisted: a restarted member has no tokens and clients authenticate again, as with etcd.
 */
import { randomInt } from "node:crypto";
import type { AuthEvent } from "../../../mvcc/mod.js";
/** Most tokens held; minting more drops the least recently minted (etcd has no bound; it warns). */
export const tokensMax = 100_000;
/** Letters in a token prefix (etcd's `defaultSimpleTokenLength`). */
export const tokenPrefixLength = 16;

const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** A fresh random token prefix (etcd's `genTokenPrefix`: 16 letters from a CSPRNG). */
export function tokenPrefix(): string {
  let s = "";
  for (let i = 0; i < tokenPrefixLength; i++) s += letters[randomInt(letters.length)];
  return s;
}

/** Whether `token` has the shape of a simple token (`<letters>.<index>`); the index, or -1. */
export function tokenIndex(token: string): number {
  const m = /^[A-Za-z]{1,64}\.(\d{1,15})$/.exec(token);
  return m === null ? -1 : Number(m[1]);
}

interface Entry {
  readonly user: string;
  expiresAtMs: number;
}

/** The token table of one member. */
export class SimpleTokens {
  readonly #ttlMs: number;
  readonly #nowMs: () => number;
  readonly #tokens = new Map<string, Entry>();

  /** `ttlSeconds`: validity after the last use; `nowMs`: a monotonic clock. */
  constructor(ttlSeconds: number, nowMs: () => number) {
    this.#ttlMs = ttlSeconds * 1000;
    this.#nowMs = nowMs;
  }

  /** Tokens currently held (expired ones count until looked up or swept). */
  get size(): number {
    return this.#tokens.size;
  }

  /** Follows the auth store: a minted token, a user's tokens invalidated, or all dropped. */
  onEvent(e: AuthEvent): void {
    switch (e.type) {
      case "token": {
        if (this.#tokens.size >= tokensMax) {
          const oldest = this.#tokens.keys().next();
          if (oldest.done !== true) this.#tokens.delete(oldest.value);
        }
        this.#tokens.set(e.token, { user: e.user, expiresAtMs: this.#nowMs() + this.#ttlMs });
        return;
      }
      case "invalidateUser":
        for (const [t, entry] of this.#tokens) if (entry.user === e.user) this.#tokens.delete(t);
        return;
      case "dropAll":
        this.#tokens.clear();
        return;
    }
  }

  /** The user of a valid token (its TTL starts again), or null for an unknown or expired one. */
  lookup(token: string): string | null {
    const entry = this.#tokens.get(token);
    if (entry === undefined) return null;
    const now = this.#nowMs();
    if (now >= entry.expiresAtMs) {
      this.#tokens.delete(token);
      return null;
    }
    entry.expiresAtMs = now + this.#ttlMs;
    return entry.user;
  }

  /** Drops every expired token. */
  sweep(): void {
    const now = this.#nowMs();
    for (const [t, entry] of this.#tokens) if (now >= entry.expiresAtMs) this.#tokens.delete(t);
  }
}
