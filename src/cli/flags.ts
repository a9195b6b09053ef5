/**
 * The `synod` command line as a pure decision: print help, print the version, refuse with an
 * error, or serve with a checked configuration. The process entry point performs the decision
 * (writes the text, sets the exit code, or starts the member).
 */
import { loadConfig, type ServerConfig } from "../server/config.js";
import { helpText, type VersionInfo, versionText } from "../server/confighelp.js";
import { readArgv } from "../server/configsources.js";
import { parseBool } from "../server/configvalues.js";

/** Exit status for a refused command line or configuration (Go's flag package uses 2, as etcd). */
export const exitCodeUsage = 2;

/** What the `synod` command should do. */
export type CommandLine =
  /** Print `text` to stdout and exit 0. */
  | { readonly kind: "help"; readonly text: string }
  /** Print `text` to stdout and exit 0. */
  | { readonly kind: "version"; readonly text: string }
  /** Print `message` to stderr and exit with `exitCode`. */
  | { readonly kind: "error"; readonly message: string; readonly exitCode: number }
  /** Log each warning, then start the member with `config`. */
  | { readonly kind: "serve"; readonly config: ServerConfig; readonly warnings: readonly string[] };

/**
 * Decides what `synod <argv>` does, as etcd would: a malformed command line is an error first;
 * then `-h`/`--help` (where it appears; later arguments are not read) and `--version` win over
 * everything else, before the configuration is loaded; otherwise the configuration is loaded
 * from flags, environment and config file (see `loadConfig`).
 */
export function parseCommandLine(
  argv: string[],
  env: Record<string, string | undefined>,
  readFile: (path: string) => string,
  about: VersionInfo,
): CommandLine {
  const args = readArgv(argv);
  if (!args.ok)
    return {
      kind: "error",
      message: `${args.error}\nRun 'synod --help' for usage.`,
      exitCode: exitCodeUsage,
    };
  if (args.help) return { kind: "help", text: helpText() };
  const version = args.settings.get("version")?.value;
  const asBool = typeof version === "string" ? parseBool(version) : null;
  if (version === true || (asBool?.ok === true && asBool.value)) {
    return { kind: "version", text: versionText(about) };
  }
  const loaded = loadConfig(argv, env, readFile);
  if (!loaded.ok) return { kind: "error", message: loaded.error, exitCode: exitCodeUsage };
  return { kind: "serve", config: loaded.config, warnings: loaded.warnings };
}
