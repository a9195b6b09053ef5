import type { Logger } from "../lib/logger.js";

/** pino's numeric levels, so tools that read pino output (pino-pretty, shippers) read ours. */
const levels = { debug: 20, info: 30, warn: 40, error: 50 } as const;
/** A log level name. */
export type LogLevelName = keyof typeof levels;

/**
 * The process logger: one JSON object per line on stderr in pino's format (numeric `level`,
 * `time` in ms, `msg`), with `member`, `component` and the call's fields, at or above `level`.
 */
export function jsonLogger(
  level: LogLevelName,
  base: Record<string, unknown>,
  write: (line: string) => void = (l) => process.stderr.write(l),
): Logger {
  const min = levels[level];
  const emit = (lvl: LogLevelName, msg: string, fields?: Record<string, unknown>): void => {
    if (levels[lvl] < min) return;
    const line = { level: levels[lvl], time: Date.now(), ...base, msg, ...fields };
    write(`${JSON.stringify(line, (_k, v) => (typeof v === "bigint" ? v.toString() : v))}\n`);
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
  };
}
