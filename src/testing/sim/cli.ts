import { parseArgs } from "node:util";
import type { InjectedBugs } from "../../raft/config.js";
import { replayCommand, type SimOptions, simulate } from "./simulator.js";

/**
 * `npm run sim -- --seeds N --nodes 3|5 [--first-seed S] [--fault-ticks T] [--profile swarm|churn] [--lease] [--bug NAME] [--trace]`:
 * runs N consecutive seeds; on the first failure prints the seed, the violated property and the
 * command that replays it, and exits 1.
 */
function main(): number {
  const { values } = parseArgs({
    options: {
      seeds: { type: "string", default: "100" },
      nodes: { type: "string", default: "3" },
      "first-seed": { type: "string", default: "1" },
      "fault-ticks": { type: "string" },
      lease: { type: "boolean", default: false },
      profile: { type: "string", default: "swarm" },
      bug: { type: "string", multiple: true },
      trace: { type: "boolean", default: false },
    },
  });
  const seeds = Number(values.seeds);
  const nodes = Number(values.nodes);
  const first = Number(values["first-seed"]);
  const faultTicks = values["fault-ticks"] === undefined ? undefined : Number(values["fault-ticks"]);
  const checks: [string, number][] = [
    ["--seeds", seeds],
    ["--nodes", nodes],
    ["--first-seed", first],
  ];
  if (faultTicks !== undefined) checks.push(["--fault-ticks", faultTicks]);
  for (const [name, v] of checks) {
    if (!Number.isSafeInteger(v) || v < 0) {
      console.error(`sim: '${name}' must be a non-negative integer, got ${String(v)}`);
      return 2;
    }
  }
  if (nodes !== 3 && nodes !== 5) {
    console.error(`sim: '--nodes' must be 3 or 5, got ${nodes}`);
    return 2;
  }
  const profile = values.profile;
  if (profile !== "swarm" && profile !== "churn") {
    console.error(`sim: '--profile' must be swarm or churn, got ${profile}`);
    return 2;
  }
  const bugs: Record<string, boolean> = {};
  for (const b of values.bug ?? []) bugs[b] = true;
  const started = performance.now();
  const totals: Record<string, number> = {};
  for (let seed = first; seed < first + seeds; seed++) {
    const opts: SimOptions = {
      seed,
      nodes,
      readOnlyOption: values.lease ? "leaseBased" : "safe",
      profile,
      bugs: bugs as InjectedBugs,
      ...(faultTicks !== undefined ? { faultTicks } : {}),
      ...(values.trace ? { trace: (line: string) => console.log(line) } : {}),
    };
    const res = simulate(opts);
    for (const [k, v] of Object.entries(res.stats)) totals[k] = (totals[k] ?? 0) + v;
    if (!res.ok) {
      console.error(`sim: seed ${seed} FAILED: ${res.error}`);
      console.error(`sim: replay with: ${replayCommand(opts)}`);
      return 1;
    }
    if (values.trace) console.log(JSON.stringify(res.stats));
  }
  const secs = (performance.now() - started) / 1000;
  console.log(`sim: ${seeds} seeds passed (${nodes} nodes, first seed ${first}) in ${secs.toFixed(1)} s`);
  console.log(
    `sim: totals ${Object.entries(totals)
      .map(([k, v]) => `${k}=${v}`)
      .join(" ")}`,
  );
  return 0;
}

process.exitCode = main();
