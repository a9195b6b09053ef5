import type { Logger } from "../lib/logger.js";

const levels = { debug: 10, info: 20, warn: 30, error: 40 } as const;
/** A log level name. */
export type LogLevelName = keyof typeof levels;

/**
 * The process logger: one JSON object per line on stderr (time, level, message, `component`,
 * `member` and the call's fields), at or above `level`. A dependency-free stand-in for pino's
 * format (`level`, `time` in ms, `msg`).
 */
export function jsonLogger(
  level: LogLevelName,
  base: Record<string, unknown>,
  write: (line: string) => void = (l) => process.stderr.write(l),
): Logger {
  const min = levels[level];
  const emit = (lvl: LogLevelName, msg: string, fields?: Record<string, unknown>): void => {
    if (levels[lvl] < min) return;
    const line = { level: lvl, time: Date.now(), ...base, msg, ...fields };
    write(`${JSON.stringify(line, (_k, v) => (typeof v === "bigint" ? v.toString() : v))}\n`);
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
  };
}
