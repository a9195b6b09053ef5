import { assert } from "./assert.js";

/**
 * A seeded pseudo-random source. Pure layers take one of these instead of `Math.random`, so every
 * run with the same seed makes the same choices.
 */
export interface Rng {
  /** An integer uniformly distributed in `[0, bound)`; `bound` is a positive safe integer. */
  intBelow(bound: number): number;
  /** A float uniformly distributed in `[0, 1)`. */
  float(): number;
}

/**
 * SplitMix32-seeded xoshiro128** generator: fast, 128-bit state, good statistical quality, and
 * fully determined by a 32-bit seed.
 */
export class SeededRng implements Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    assert(Number.isInteger(seed), `SeededRng: 'seed' must be an integer, got ${seed}`);
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = next();
    this.#b = next();
    this.#c = next();
    this.#d = next();
  }

  #next32(): number {
    const result = Math.imul(rotl(Math.imul(this.#b, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.#b << 9) >>> 0;
    this.#c ^= this.#a;
    this.#d ^= this.#b;
    this.#b ^= this.#c;
    this.#a ^= this.#d;
    this.#c ^= t;
    this.#d = rotl(this.#d, 11);
    return result;
  }

  float(): number {
    return this.#next32() / 4294967296;
  }

  intBelow(bound: number): number {
    assert(Number.isSafeInteger(bound) && bound > 0, `Rng.intBelow: 'bound' must be positive, got ${bound}`);
    return Math.floor(this.float() * bound);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
