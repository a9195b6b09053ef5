import { assert } from "../../lib/assert.js";

/** A client command as carried in a log entry. */
export interface Command {
  /** Unique write id = the written value. */
  readonly value: number;
  readonly key: string;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeCommand(c: Command): Uint8Array {
  return enc.encode(`${c.key}=${c.value}`);
}

export function decodeCommand(data: Uint8Array): Command {
  const s = dec.decode(data);
  const eq = s.indexOf("=");
  assert(eq > 0, `decodeCommand: malformed command '${s}'`);
  return { key: s.slice(0, eq), value: Number(s.slice(eq + 1)) };
}

/**
 * The simulator's replicated state machine: registers keyed by name. A command applied twice
 * (a duplicated proposal) takes effect only the first time, as a real server dedupes by request id.
 */
export class RegisterMachine {
  readonly values = new Map<string, number>();
  readonly seen = new Set<number>();
  applied = 0;

  /** Applies a command at `index`; returns true if it took effect (first occurrence). */
  apply(index: number, c: Command): boolean {
    assert(index > this.applied, `apply: index ${index} not after applied ${this.applied}`);
    this.applied = index;
    if (this.seen.has(c.value)) return false;
    this.seen.add(c.value);
    this.values.set(c.key, c.value);
    return true;
  }

  skip(index: number): void {
    assert(index > this.applied, `skip: index ${index} not after applied ${this.applied}`);
    this.applied = index;
  }

  snapshot(): Uint8Array {
    return enc.encode(JSON.stringify({ v: [...this.values], s: [...this.seen], a: this.applied }));
  }

  static restore(data: Uint8Array): RegisterMachine {
    const m = new RegisterMachine();
    if (data.length === 0) return m;
    const o = JSON.parse(dec.decode(data)) as { v: [string, number][]; s: number[]; a: number };
    for (const [k, v] of o.v) m.values.set(k, v);
    for (const s of o.s) m.seen.add(s);
    m.applied = o.a;
    return m;
  }
}
