/**
 * V8 garbage-collector settings for a serving member.
 *
 * With its default heuristics V8 starts a full (mark-compact) collection when the room left below
 * the old generation's limit is no more than the young generation's capacity. A member's old
 * generation is small next to its allocation rate: under `etcdctl check perf --load=l` it held
 * about 14 MB live with a 38 MB limit, and its young generation grew to its maximum size. So a full
 * collection started every 0.4 s although the old generation barely grew, and marking took about a
 * tenth of the machine's CPU.
 *
 * Starting incremental marking at a share of the limit instead (the two V8 flags below) leaves the
 * limits themselves, and so memory, as V8 computes them; 85% is about where V8's own rule starts
 * once the limit is past 100 MB. Measured under check perf (3 members, `etcdctl check perf
 * --load=l`, one run each): full collections every 1.1–1.2 s instead of 0.4 s, and 292–319 µs of
 * member CPU per write with shares of 70/90 (four runs), 295 with 80/95 and 296 with 90/98, against
 * 333 µs without. With 16 clients putting after 256 had: 22–26 full collections per member with
 * 85/95 against 31–43 without, p99 latency 8.36 and 7.93 ms against 8.89 and 10.44 ms.
 */
import v8 from "node:v8";

/** Incremental marking starts in a task once the old generation reaches this share of its limit. */
export const incrementalMarkingSoftTriggerPercent = 85;

/** Incremental marking starts at once once the old generation reaches this share of its limit. */
export const incrementalMarkingHardTriggerPercent = 95;

const softTriggerFlag = "incremental-marking-soft-trigger";
const hardTriggerFlag = "incremental-marking-hard-trigger";

/** Whether `arg` (one of node's `execArgv`) sets `flag`; V8 accepts `-` and `_` alike. */
function setsFlag(arg: string, flag: string): boolean {
  const name = arg.replace(/^--?/, "").split("=")[0]?.replaceAll("_", "-") ?? "";
  return name === flag || name === `no-${flag}`;
}

/**
 * The V8 flags a serving member sets on itself, as one string for `v8.setFlagsFromString`; empty
 * when node was started with either trigger flag (`execArgv`), so that the operator's choice stands.
 */
export function gcTuningFlags(execArgv: readonly string[]): string {
  if (execArgv.some((a) => setsFlag(a, softTriggerFlag) || setsFlag(a, hardTriggerFlag))) return "";
  return `--${softTriggerFlag}=${incrementalMarkingSoftTriggerPercent} --${hardTriggerFlag}=${incrementalMarkingHardTriggerPercent}`;
}

/**
 * Applies {@link gcTuningFlags} to this process. V8 reads both flags each time it decides whether
 * to start marking, so setting them after start-up takes effect (for every thread, as V8's flags
 * are process-wide). Returns the flags set ("" for none).
 */
export function tuneGarbageCollector(execArgv: readonly string[] = process.execArgv): string {
  const flags = gcTuningFlags(execArgv);
  if (flags !== "") v8.setFlagsFromString(flags);
  return flags;
}
