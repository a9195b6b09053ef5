/**
 * The small logging interface pure layers accept. The process supplies a JSON-lines logger;
 * the default does nothing, so pure code never pays for logging it does not need.
 */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

/** A {@link Logger} that discards everything. */
export const noopLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
};

/** A {@link Logger} that keeps every line in memory; for tests that assert on what was logged. */
export class MemoryLogger implements Logger {
  readonly lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  debug(message: string, fields: Record<string, unknown> = {}): void {
    this.lines.push({ level: "debug", message, fields });
  }
  info(message: string, fields: Record<string, unknown> = {}): void {
    this.lines.push({ level: "info", message, fields });
  }
  warn(message: string, fields: Record<string, unknown> = {}): void {
    this.lines.push({ level: "warn", message, fields });
  }
}
