/**
 * The run's clock and event log: monotonic time since the run started (nanoseconds for histories,
 * as history.ts requires; milliseconds for events), and the `{time, kind, detail}` events of the
 * nemeses and the cluster, kept in memory and appended to `events.jsonl` in the run folder.
 */
import { appendFileSync } from "node:fs";

/** One logged event; `time` is milliseconds since the run started (monotonic). */
export interface ChaosEvent {
  readonly time: number;
  readonly kind: string;
  readonly detail: string;
}

/** Monotonic time since construction. */
export class RunClock {
  readonly #t0 = process.hrtime.bigint();

  /** Nanoseconds since the run started, as a JS number (exact for runs below 104 days). */
  nowNs(): number {
    return Number(process.hrtime.bigint() - this.#t0);
  }

  nowMs(): number {
    return this.nowNs() / 1e6;
  }
}

/** The event log of one run. */
export class EventLog {
  readonly events: ChaosEvent[] = [];
  readonly #clock: RunClock;
  readonly #file: string | null;
  readonly #echo: boolean;

  /** Events go to `file` (JSON lines) if given, and to stderr with `echo`. */
  constructor(clock: RunClock, file: string | null, echo: boolean) {
    this.#clock = clock;
    this.#file = file;
    this.#echo = echo;
  }

  add(kind: string, detail: string): ChaosEvent {
    const e: ChaosEvent = { time: Math.round(this.#clock.nowMs()), kind, detail };
    this.events.push(e);
    if (this.#file !== null) appendFileSync(this.#file, `${JSON.stringify(e)}\n`);
    if (this.#echo) process.stderr.write(`[${(e.time / 1000).toFixed(1).padStart(7)}s] ${kind}: ${detail}\n`);
    return e;
  }
}
