/**
 * `npm run chaos -- --nodes 3|5 --time SECONDS --nemesis LIST|all --seed N
 *   --workload register,append,watch,lock [--bug stale-reads] [--dir DIR] [--quiet]`
 *
 * Runs one chaos test (run.ts), prints the summary and the verdict, and exits 0 if the history is
 * valid and the members converged, 1 otherwise (2 on bad arguments). The run folder (default
 * `$TMPDIR/synod-chaos/<time>-seed<N>`) keeps the member logs, events, history and verdicts.
 */
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkHistory } from "./check.js";
import type { ChaosEvent } from "./events.js";
import { parseNemeses, partitionShapes } from "./nemesis.js";
import { runChaos, summaryText } from "./run.js";
import { type ChaosHistory, parseWorkloads } from "./workloads.js";

const usage = `usage: npm run chaos -- [--nodes 3|5] [--time SECONDS] [--nemesis kill,pause,partition,member,disk,clock|all|none]
                      [--seed N] [--workload register,append,watch,lock|all] [--bug stale-reads]
                      [--partitions majority,isolate-leader,bridge,ring,one-way] [--heartbeat MS] [--election MS]
                      [--dir DIR] [--keep-data] [--quiet]
       npm run chaos -- --recheck DIR     (run the checkers again over a run folder's history.json)`;

interface Args {
  nodes: number;
  time: number;
  nemesis: string;
  seed: number;
  workload: string;
  bug: string | undefined;
  partitions: string | undefined;
  dir: string | undefined;
  heartbeat: number;
  election: number;
  quiet: boolean;
  keepData: boolean;
}

function parseArgs(argv: readonly string[]): Args | string {
  const a: Args = {
    nodes: 5,
    time: 60,
    nemesis: "all",
    seed: 1,
    workload: "all",
    bug: undefined,
    partitions: undefined,
    dir: undefined,
    heartbeat: 100,
    election: 1000,
    quiet: false,
    keepData: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    const [flag, inline] = arg.includes("=")
      ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
      : [arg, undefined];
    if (flag === "--quiet" || flag === "--keep-data") {
      if (flag === "--quiet") a.quiet = true;
      else a.keepData = true;
      continue;
    }
    if (flag === "--help" || flag === "-h") return "";
    const value = inline ?? argv[++i];
    if (value === undefined) return `${flag} needs a value`;
    const int = (): number | string => {
      const n = Number(value);
      return Number.isSafeInteger(n) && n >= 0 ? n : `${flag} must be a non-negative integer, got '${value}'`;
    };
    let n: number | string = 0;
    switch (flag) {
      case "--nodes":
      case "--time":
      case "--seed":
      case "--heartbeat":
      case "--election":
        n = int();
        if (typeof n === "string") return n;
        if (flag === "--nodes") a.nodes = n;
        else if (flag === "--time") a.time = n;
        else if (flag === "--seed") a.seed = n;
        else if (flag === "--heartbeat") a.heartbeat = n;
        else a.election = n;
        break;
      case "--nemesis":
        a.nemesis = value;
        break;
      case "--workload":
        a.workload = value;
        break;
      case "--partitions":
        a.partitions = value;
        break;
      case "--bug":
        a.bug = value;
        break;
      case "--dir":
        a.dir = value;
        break;
      default:
        return `unknown option '${arg}'`;
    }
  }
  if (a.nodes !== 3 && a.nodes !== 5) return `--nodes must be 3 or 5, got ${a.nodes}`;
  if (a.time < 1) return "--time must be at least 1 second";
  if (a.bug !== undefined && a.bug !== "stale-reads") return `--bug must be 'stale-reads', got '${a.bug}'`;
  return a;
}

/** Runs the checkers again over a saved run folder; prints their lines. */
function recheck(dir: string): number {
  const history = JSON.parse(readFileSync(join(dir, "history.json"), "utf8")) as ChaosHistory;
  const events = readFileSync(join(dir, "events.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as ChaosEvent);
  const converged = events.some((e) => e.kind === "convergence" && e.detail.includes("HashKV equal"));
  const detail = [...events].reverse().find((e) => e.kind === "convergence")?.detail ?? "not recorded";
  const check = checkHistory(history, dir, events, { converged, detail }, `recheck of ${dir}`);
  process.stdout.write(
    `${check.lines.join("\n")}\nconvergence: ${detail}\nreport: ${check.files.join(", ")}\n`,
  );
  return check.valid && converged ? 0 : 1;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv[0] === "--recheck" && argv[1] !== undefined) return recheck(argv[1]);
  const args = parseArgs(argv);
  if (typeof args === "string") {
    process.stderr.write(`${args === "" ? "" : `chaos: ${args}\n`}${usage}\n`);
    return args === "" ? 0 : 2;
  }
  const nemeses = parseNemeses(args.nemesis);
  const workloads = parseWorkloads(args.workload);
  if (typeof nemeses === "string" || typeof workloads === "string") {
    process.stderr.write(`chaos: ${typeof nemeses === "string" ? nemeses : workloads}\n${usage}\n`);
    return 2;
  }
  const shapes = args.partitions?.split(",").map((s) => partitionShapes.find((x) => x === s.trim()));
  if (shapes !== undefined && (shapes.length === 0 || shapes.some((s) => s === undefined))) {
    process.stderr.write(`chaos: --partitions takes ${partitionShapes.join(", ")}\n${usage}\n`);
    return 2;
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const dir = args.dir ?? join(tmpdir(), "synod-chaos", `${stamp}-seed${args.seed}`);
  process.stderr.write(`chaos: run folder ${dir}\n`);
  const result = await runChaos({
    nodes: args.nodes,
    timeS: args.time,
    nemeses,
    workloads,
    seed: args.seed,
    dir,
    heartbeatMs: args.heartbeat,
    electionMs: args.election,
    echo: !args.quiet,
    keepData: args.keepData,
    ...(args.bug === undefined ? {} : { bug: args.bug }),
    ...(shapes === undefined ? {} : { partitionShapes: shapes.filter((s) => s !== undefined) }),
  });
  process.stdout.write(`${summaryText(result)}\n`);
  return result.valid ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`chaos: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(2);
  },
);
