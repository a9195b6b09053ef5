/** What an admin command runs with: its output streams, environment and colour choice. */
import type { Out, Style } from "./output.js";

/** The streams and settings of one admin command run. */
export interface AdminIo {
  readonly stdout: Out;
  readonly stderr: Out;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The colours for a stream (off unless it is a terminal, or as `--color` says). */
  style(out: Out): Style;
}

/** A malformed command line: printed with the usage hint, exit status 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}
