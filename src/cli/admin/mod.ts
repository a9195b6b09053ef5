/**
 * The admin subcommands of `synod`, for people without etcdctl: `status`, `member`,
 * `move-leader`, `snapshot`, `check perf`, `defrag`, `alarm`. `main.ts` hands argv here when its
 * first word is one of {@link adminCommands}; everything else starts a member.
 */
import { SynodError } from "../../lib/errors.js";
import { type AdminArgs, parseAdminArgs } from "./args.js";
import {
  alarmCommand,
  defragCommand,
  errorText,
  memberCommand,
  moveLeaderCommand,
  statusCommand,
} from "./cluster.js";
import { type AdminIo, UsageError } from "./io.js";
import { type Out, styleFor } from "./output.js";
import { checkPerfCommand } from "./perf.js";
import { restoreFlags, snapshotRestore, snapshotSave, snapshotStatus } from "./snapshotcmd.js";

/** First words that select an admin command. */
export const adminCommands: ReadonlySet<string> = new Set([
  "status",
  "member",
  "move-leader",
  "snapshot",
  "check",
  "defrag",
  "alarm",
  "help",
]);

/** Flags only the admin commands have (never a server flag), so they may come before the command. */
const adminOnlyFlags = ["--endpoints", "-w", "--write-out", "--color", "--dial-timeout", "--command-timeout"];

/**
 * Whether `argv` (after `synod`) is an admin command: its first word is one of
 * {@link adminCommands}, or it starts with a flag only the admin commands have
 * (`synod --endpoints=... status`). Anything else is the server's command line.
 */
export function isAdminInvocation(argv: readonly string[]): boolean {
  const first = argv[0];
  if (first === undefined) return false;
  if (adminCommands.has(first)) return true;
  const name = first.split("=")[0] ?? "";
  return adminOnlyFlags.includes(name) || adminOnlyFlags.includes(name.replace(/^--/, "-"));
}

/** Command flags that take a value (any other command flag is boolean). */
const valueFlags: ReadonlySet<string> = new Set([...restoreFlags, "peer-urls", "load", "duration", "prefix"]);

/** The usage text of the admin commands. */
export const adminUsage = `Usage: synod <command> [flags]

Cluster administration (no etcdctl needed). Global flags:
  --endpoints=host:port,...   members to talk to (or SYNOD_ENDPOINTS; default 127.0.0.1:2379)
  -w, --write-out=FORMAT      simple, table or json (json for scripts)
  --dial-timeout=2s           --command-timeout=5s      --color=auto|always|never

Commands:
  status                      table of every member: id, name, URLs, leader, raft term/index,
                              applied index, db size, version, round trip
  member list                 the members
  member add NAME --peer-urls=URL[,URL] [--learner]
  member remove ID            ID in hex, as member list prints it
  member promote ID           turn a learner into a voter
  move-leader ID              hand leadership to member ID
  snapshot save FILE          stream a backup from the first endpoint (progress bar on a TTY)
  snapshot status FILE        hash, revision, keys and size of a backup (checks its SHA-256)
  snapshot restore FILE --name=NAME --initial-cluster=... --initial-cluster-token=TOKEN
                   --initial-advertise-peer-urls=URL --data-dir=DIR
                              a new member's data directory for a new cluster from a backup
  check perf [--load=s|m|l|xl] [--duration=60s] [--prefix=/synod-check-perf/] [--auto-compact]
                              a paced write load like etcdctl's check perf, with a verdict
  defrag [--cluster]          defragment each endpoint, or every member (a no-op: Synod's store
                              has no file to defragment; kept for scripts written for etcd)
  alarm list                  raised alarms
  alarm disarm                disarm every alarm
  help                        this text
`;

/** Runs one admin command; resolves with the exit status. */
export async function runAdmin(
  argv: readonly string[],
  streams: { readonly stdout: Out; readonly stderr: Out },
  env: Readonly<Record<string, string | undefined>>,
): Promise<number> {
  const parsed = parseAdminArgs(argv, env, valueFlags);
  if (typeof parsed === "string") return usage(streams.stderr, parsed);
  const io: AdminIo = {
    stdout: streams.stdout,
    stderr: streams.stderr,
    env,
    style: (out) => styleFor(out, parsed.global.color, env),
  };
  try {
    return await dispatch(parsed, io);
  } catch (e) {
    if (e instanceof UsageError) return usage(streams.stderr, e.message);
    const message = e instanceof SynodError ? e.message : errorText(e);
    streams.stderr.write(`${io.style(streams.stderr).red("Error:")} ${message}\n`);
    return 1;
  }
}

function usage(err: Out, message: string): number {
  err.write(`synod: ${message}\nRun 'synod help' for the admin commands, 'synod --help' for the server.\n`);
  return 2;
}

async function dispatch(args: AdminArgs, io: AdminIo): Promise<number> {
  const [command, sub] = args.words;
  if (args.flags.has("help") || args.flags.has("h") || command === "help") {
    io.stdout.write(adminUsage);
    return 0;
  }
  switch (command) {
    case "snapshot":
      if (sub === "status") return snapshotStatus(args, io);
      if (sub === "restore") return snapshotRestore(args, io);
      if (sub === "save") return snapshotSave(args, io);
      throw new UsageError(`'snapshot' needs one of save, restore, status, got ${quote(sub)}`);
    case "status":
      return statusCommand(args, io);
    case "member":
      return memberCommand(args, io);
    case "move-leader":
      return moveLeaderCommand(args, io);
    case "defrag":
      return defragCommand(args, io);
    case "alarm":
      return alarmCommand(args, io);
    case "check":
      return checkPerfCommand(args, io);
    default:
      throw new UsageError(`unknown command ${quote(command)}`);
  }
}

function quote(word: string | undefined): string {
  return word === undefined ? "nothing" : `'${word}'`;
}
