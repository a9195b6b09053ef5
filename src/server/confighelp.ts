/**
 * The `--help` and `--version` texts, generated from the flag table so that every accepted flag
 * is documented with its default and what Synod does with it.
 */
import { type FlagGroup, FlagKind, type FlagSpec, flagSpecs } from "./configflags.js";

/** The etcd API version Synod speaks (what `/version` reports as `etcdcluster`). */
export const etcdApiVersion = "3.4";

function defaultShown(spec: FlagSpec): string {
  if (spec.kind === FlagKind.legacy || spec.kind === FlagKind.section) return "";
  const synod = spec.support.status === "honoured" ? spec.support.synodDefault : undefined;
  return ` '${synod ?? spec.etcdDefault}'`;
}

function usageOf(spec: FlagSpec): string[] {
  const name =
    spec.kind === FlagKind.section ? `${spec.name}: (config file)` : `--${spec.name}${defaultShown(spec)}`;
  const lines = [`  ${name}`, `      ${spec.description}`];
  if (spec.support.status === "honoured") {
    const synod = spec.support.synodDefault;
    const differs = synod === undefined ? "" : ` (etcd's default: '${spec.etcdDefault}')`;
    lines.push(`      Synod: ${spec.support.effect}${differs}.`);
  } else {
    lines.push(`      Synod: accepted, ignored: ${spec.support.reason}.`);
  }
  return lines;
}

const header = `Usage:

  synod [flags]
      Start a Synod member, which speaks the etcd v3 API. Synod accepts every flag of
      etcd ${etcdApiVersion}: the ones it can honour change what it does, the others are
      accepted with one warning line each. Unknown flags are errors.

  synod --version
      Print the version and exit.

  synod -h | --help
      Print this help and exit.

Flag syntax (as etcd's): --flag=value or --flag value; booleans as --flag or --flag=false.

Sources, highest precedence first:
  1. flags on the command line;
  2. environment variables SYNOD_<FLAG>, e.g. SYNOD_DATA_DIR for --data-dir;
  3. environment variables ETCD_<FLAG> (etcd's names, for existing deployments);
  4. the config file given by --config-file (or SYNOD_CONFIG_FILE / ETCD_CONFIG_FILE): YAML or
     JSON whose keys are flag names, e.g. "data-dir: /var/lib/synod";
  5. defaults.
Unlike etcd, a config file does not disable flags and environment variables: they override it.`;

/** The full `--help` text: usage, sources, then every flag by group with defaults and Synod's handling. */
export function helpText(): string {
  const groups = new Map<FlagGroup, FlagSpec[]>();
  for (const spec of flagSpecs) {
    const list = groups.get(spec.group) ?? [];
    list.push(spec);
    groups.set(spec.group, list);
  }
  const parts = [header];
  for (const [group, specs] of groups) {
    parts.push(`\n${group}:\n${specs.flatMap(usageOf).join("\n")}`);
  }
  return `${parts.join("\n")}\n`;
}

/** Facts about the running program for {@link versionText}. */
export interface VersionInfo {
  /** Synod's version (package.json). */
  readonly synodVersion: string;
  /** `process.version`, e.g. v20.11.0. */
  readonly nodeVersion: string;
  /** `process.platform`. */
  readonly platform: string;
  /** `process.arch`. */
  readonly arch: string;
}

/** The `--version` text, shaped like etcd's (`etcd Version: ...` lines). */
export function versionText(info: VersionInfo): string {
  return [
    `Synod Version: ${info.synodVersion}`,
    `etcd API Version: ${etcdApiVersion}`,
    `Node Version: ${info.nodeVersion}`,
    `Node OS/Arch: ${info.platform}/${info.arch}`,
    "",
  ].join("\n");
}
