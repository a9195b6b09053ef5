/**
 * Data-driven scenario tests for the Raft core: a small interpreter for text scripts that drive a
 * {@link TestCluster} step by step and print, deterministically, everything the nodes did.
 *
 * A script is plain text. Lines starting with `#` and blank lines are comments. Every other line
 * is a command, followed by a line `----` and the expected output, which ends at the next blank
 * line (or the end of the file). Output never contains blank lines. `runScenario` executes the
 * commands in order and returns, per block, the expected and the actual output; `renderScenario`
 * rebuilds the script with the actual output (used to regenerate golden files with `REWRITE=1`).
 *
 * Commands (ids are node ids; `(1,2,3)` is a list):
 * - `add-nodes N [voters=(..)] [learners=(..)] [options]`: adds N nodes with the next free ids.
 *   With `voters`/`learners` they start with that configuration; without either they start empty
 *   (nodes that join later through a configuration change). Options (core defaults if omitted):
 *   `prevote=bool checkquorum=bool election=ticks heartbeat=ticks inflight=count
 *   inflight-bytes=n max-msg-bytes=n uncommitted-max=n read-only=safe|lease step-down-on-removal=bool
 *   disable-forwarding=bool`. To keep transcripts short, `election` defaults to 3 ticks and
 *   `heartbeat` to 1 here (as in etcd's interaction tests), not to the core's defaults.
 * - `campaign ID`, `propose ID DATA...` (one proposal per DATA),
 *   `propose-conf-change ID [transition=auto|jointImplicit|jointExplicit] v4 l5 r2` (v: add
 *   voter, l: add learner, r: remove; no changes leaves a joint configuration).
 * - `process-ready ID...|all`: handles each node's Ready as a driver would and prints it.
 * - `deliver-msgs [ID...] [drop=ID...] [type=T]`: delivers (or drops) queued messages, per
 *   recipient in id order and per recipient in send order; messages on a cut link are dropped.
 * - `stabilize [ID...]`: handles Readies and delivers messages until nothing is left.
 * - `tick ID N`, `tick-heartbeat ID...`, `tick-election ID...`: a leader's election tick runs
 *   until its next CheckQuorum / transfer timeout; anyone else's until its randomised election
 *   timeout fires.
 * - `partition GROUP GROUP...` (a group is an id or a list), `isolate ID`, `heal`. A cut link
 *   drops messages when they are delivered; `heal` first drops whatever is still queued on cut
 *   links (sent into the partition: lost, not delayed).
 * - `transfer-leadership from=ID to=ID`, `read-index ID CTX`, `compact ID INDEX`, `restart ID`,
 *   `report-unreachable ID PEER`, `report-snapshot ID PEER ok|fail`.
 * - `raft-log ID`, `raft-state`, `status ID`, `log-level debug|info|warn|none`.
 *
 * Logs of the core at the current level (default `info`) are printed where they happen; at level
 * `none` commands print only `ok (quiet)` (for setup steps).
 */
import { assert } from "../lib/assert.js";
import type { Logger } from "../lib/logger.js";
import { decodeConfChange } from "../raft/codec.js";
import { ReadOnlyOption } from "../raft/config.js";
import { campaignTransferContext } from "../raft/raft.js";
import type { Ready } from "../raft/rawnode.js";
import {
  type ConfChangeSingle,
  ConfChangeTransition,
  ConfChangeType,
  type ConfState,
  type Entry,
  EntryType,
  type Message,
  MessageType,
  type NodeId,
  type RequestResult,
  type Snapshot,
  StateRole,
} from "../raft/types.js";
import { type NodeOptions, TestCluster } from "./cluster.js";

// ------------------------------------------------------------------------ script files

/** A piece of a scenario script: verbatim comment lines, or a command with its expected output. */
export type ScenarioPart =
  | { readonly kind: "text"; readonly lines: readonly string[] }
  | {
      readonly kind: "block";
      /** 1-based line number of the command. */
      readonly line: number;
      readonly command: string;
      readonly expected: readonly string[];
    };

const separator = "----";

/** Splits a script into comment text and command blocks; a malformed script is a thrown Error. */
export function parseScenario(text: string): ScenarioPart[] {
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  const parts: ScenarioPart[] = [];
  let comments: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] as string;
    if (line.trim() === "" || line.startsWith("#")) {
      comments.push(line);
      i++;
      continue;
    }
    if (comments.length > 0) parts.push({ kind: "text", lines: comments });
    comments = [];
    if (lines[i + 1] !== separator) {
      throw new Error(`line ${i + 2}: expected '${separator}' after the command '${line}'`);
    }
    const expected: string[] = [];
    let j = i + 2;
    while (j < lines.length && (lines[j] as string).trim() !== "") expected.push(lines[j++] as string);
    parts.push({ kind: "block", line: i + 1, command: line.trim(), expected });
    i = j;
  }
  if (comments.length > 0) parts.push({ kind: "text", lines: comments });
  return parts;
}

/** The outcome of one command block. */
export interface BlockResult {
  readonly line: number;
  readonly command: string;
  readonly expected: readonly string[];
  readonly actual: readonly string[];
}

/** Runs every command of a script on a fresh cluster; a failing command throws with its line. */
export function runScenario(text: string): { parts: ScenarioPart[]; results: BlockResult[] } {
  const parts = parseScenario(text);
  const runner = new ScenarioRunner();
  const results: BlockResult[] = [];
  for (const part of parts) {
    if (part.kind !== "block") continue;
    let actual: string[];
    try {
      actual = runner.run(part.command);
    } catch (err) {
      const why = err instanceof Error ? (err.stack ?? err.message) : String(err);
      throw new Error(`line ${part.line}: '${part.command}' failed: ${why}`);
    }
    results.push({ line: part.line, command: part.command, expected: part.expected, actual });
  }
  return { parts, results };
}

/** Rebuilds a script with each block's actual output in place of the expected one. */
export function renderScenario(parts: readonly ScenarioPart[], results: readonly BlockResult[]): string {
  const out: string[] = [];
  let k = 0;
  for (const part of parts) {
    if (part.kind === "text") {
      out.push(...part.lines);
      continue;
    }
    const res = results[k++];
    assert(res !== undefined && res.line === part.line, "renderScenario: results do not match the parts");
    out.push(part.command, separator, ...res.actual);
  }
  return `${out.join("\n")}\n`;
}

/** A line diff of `expected` against `actual` (`-` expected only, `+` actual only, ` ` both). */
export function diffLines(expected: readonly string[], actual: readonly string[]): string {
  const n = expected.length;
  const m = actual.length;
  // lcs[i][j]: length of the longest common subsequence of expected[i..] and actual[j..].
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  const at = (i: number, j: number): number => (lcs[i] as number[])[j] as number;
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      (lcs[i] as number[])[j] =
        expected[i] === actual[j] ? at(i + 1, j + 1) + 1 : Math.max(at(i + 1, j), at(i, j + 1));
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && expected[i] === actual[j]) {
      out.push(`  ${expected[i]}`);
      i++;
      j++;
    } else if (j < m && (i === n || at(i, j + 1) >= at(i + 1, j))) {
      out.push(`+ ${actual[j++]}`);
    } else {
      out.push(`- ${expected[i++]}`);
    }
  }
  return out.join("\n");
}

// ------------------------------------------------------------------------ formatting

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

function list(ids: readonly NodeId[]): string {
  return `(${ids.join(" ")})`;
}

/** A configuration as `voters=(1 2 3)&&(1 2) learners=(4) learners_next=(3) autoleave`. */
export function formatConfState(cs: ConfState): string {
  let s = `voters=${list(cs.voters)}`;
  if (cs.votersOutgoing.length > 0) s += `&&${list(cs.votersOutgoing)}`;
  if (cs.learners.length > 0) s += ` learners=${list(cs.learners)}`;
  if (cs.learnersNext.length > 0) s += ` learners_next=${list(cs.learnersNext)}`;
  if (cs.autoLeave) s += " autoleave";
  return s;
}

const changeLetters: Record<ConfChangeType, string> = {
  [ConfChangeType.addNode]: "v",
  [ConfChangeType.addLearner]: "l",
  [ConfChangeType.removeNode]: "r",
};

/** An entry as `term/index EntryNormal "data"` or `term/index EntryConfChange v4 l5 r2`. */
export function formatEntry(e: Entry): string {
  if (e.type === EntryType.normal) return `${e.term}/${e.index} EntryNormal ${JSON.stringify(text(e.data))}`;
  const cc = decodeConfChange(e.data);
  if (typeof cc === "string") return `${e.term}/${e.index} EntryConfChange <undecodable: ${cc}>`;
  const changes = cc.changes.map((c) => `${changeLetters[c.type]}${c.nodeId}`);
  const words = cc.changes.length === 0 ? ["leave-joint"] : changes;
  if (cc.transition !== ConfChangeTransition.auto) words.unshift(cc.transition);
  return `${e.term}/${e.index} EntryConfChange ${words.join(" ")}`;
}

function text(data: Uint8Array): string {
  return fromUtf8.decode(data);
}

function formatSnapshot(s: Snapshot): string {
  return `index=${s.metadata.index} term=${s.metadata.term} ${formatConfState(s.metadata.confState)}`;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** One message on one line, with the fields its kind uses. */
export function formatMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  const ents = m.entries.length > 0 ? ` entries=[${m.entries.map(formatEntry).join(", ")}]` : "";
  const ctx = m.context.length > 0 ? ` ctx=${JSON.stringify(text(m.context))}` : "";
  switch (m.type) {
    case MessageType.app:
      return `${head} logTerm=${m.logTerm} index=${m.index} commit=${m.commit}${ents}`;
    case MessageType.appResp:
      if (m.reject) return `${head} index=${m.index} rejected hint=${m.rejectHint} hintTerm=${m.logTerm}`;
      return `${head} index=${m.index}`;
    case MessageType.vote:
    case MessageType.preVote: {
      const transfer = sameBytes(m.context, campaignTransferContext) ? " transfer" : "";
      return `${head} logTerm=${m.logTerm} index=${m.index}${transfer}`;
    }
    case MessageType.voteResp:
    case MessageType.preVoteResp:
      return `${head} ${m.reject ? "rejected" : "granted"}`;
    case MessageType.heartbeat:
      return `${head} commit=${m.commit} round=${m.round}`;
    case MessageType.heartbeatResp:
      return `${head} round=${m.round}`;
    case MessageType.snap:
      return m.snapshot === null
        ? `${head} snapshot=none`
        : `${head} snapshot=[${formatSnapshot(m.snapshot)}]`;
    case MessageType.readIndex:
      return `${head}${ctx}`;
    case MessageType.readIndexResp:
      return `${head} index=${m.index}${ctx}`;
    case MessageType.prop:
      return `${head}${ents}`;
    default:
      return `${head}${m.index !== 0 ? ` index=${m.index}` : ""}${ctx}`;
  }
}

/** A Ready as indented lines (without the header). */
export function formatReady(rd: Ready): string[] {
  const out: string[] = [];
  if (rd.softState !== null) out.push(`softstate: lead=${rd.softState.lead} role=${rd.softState.role}`);
  const hs = rd.hardState;
  if (hs !== null) out.push(`hardstate: term=${hs.term} vote=${hs.vote} commit=${hs.commit}`);
  if (rd.snapshot !== null) out.push(`snapshot: ${formatSnapshot(rd.snapshot)}`);
  const section = (title: string, lines: string[]): void => {
    if (lines.length === 0) return;
    out.push(`${title}:`, ...lines.map((l) => `  ${l}`));
  };
  section("entries", rd.entries.map(formatEntry));
  section("committed", rd.committedEntries.map(formatEntry));
  section("messages early", rd.messagesEarly.map(formatMessage));
  section("messages", rd.messages.map(formatMessage));
  section(
    "readstates",
    rd.readStates.map((s) => `index=${s.index} ctx=${JSON.stringify(text(s.context))}`),
  );
  return out;
}

function formatResult(what: string, res: RequestResult): string | null {
  return res.ok ? null : `${what} refused: ${res.reason} (${res.detail})`;
}

// ------------------------------------------------------------------------ commands

interface Args {
  readonly positional: string[];
  readonly keyed: Map<string, string>;
}

function parseArgs(words: readonly string[]): Args {
  const positional: string[] = [];
  const keyed = new Map<string, string>();
  for (const w of words) {
    const eq = w.indexOf("=");
    if (eq > 0 && !w.startsWith("(")) keyed.set(w.slice(0, eq), w.slice(eq + 1));
    else positional.push(w);
  }
  return { positional, keyed };
}

function parseId(s: string | undefined, what = "node id"): NodeId {
  const n = Number(s);
  if (s === undefined || !Number.isSafeInteger(n) || n <= 0) {
    throw new Error(`${what} must be a positive integer, got '${s}'`);
  }
  return n;
}

/** `(1,2,3)`, `(1 2 3)`, `()` or a bare `4`. */
function parseIds(s: string): NodeId[] {
  const inner = s.startsWith("(") && s.endsWith(")") ? s.slice(1, -1) : s;
  return inner
    .split(/[\s,]+/)
    .filter((x) => x !== "")
    .map((x) => parseId(x));
}

function parseBool(key: string, s: string): boolean {
  if (s !== "true" && s !== "false") throw new Error(`'${key}' must be true or false, got '${s}'`);
  return s === "true";
}

function noUnknownKeys(args: Args, allowed: readonly string[]): void {
  for (const k of args.keyed.keys()) {
    if (!allowed.includes(k)) throw new Error(`unknown argument '${k}' (allowed: ${allowed.join(", ")})`);
  }
}

const nodeOptionKeys = [
  "prevote",
  "checkquorum",
  "election",
  "heartbeat",
  "inflight",
  "inflight-bytes",
  "max-msg-bytes",
  "uncommitted-max",
  "read-only",
  "step-down-on-removal",
  "disable-forwarding",
] as const;

function parseNodeOptions(args: Args): NodeOptions {
  const o: { -readonly [K in keyof NodeOptions]: NodeOptions[K] } = {};
  const num = (k: string): number => parseId(args.keyed.get(k), `'${k}'`);
  for (const [k, v] of args.keyed) {
    switch (k) {
      case "prevote":
        o.preVote = parseBool(k, v);
        break;
      case "checkquorum":
        o.checkQuorum = parseBool(k, v);
        break;
      case "election":
        o.electionTicks = num(k);
        break;
      case "heartbeat":
        o.heartbeatTicks = num(k);
        break;
      case "inflight":
        o.inflightMessagesMax = num(k);
        break;
      case "inflight-bytes":
        o.inflightBytesMax = num(k);
        break;
      case "max-msg-bytes":
        o.entriesBytesPerMessageMax = num(k);
        break;
      case "uncommitted-max":
        o.uncommittedBytesMax = num(k);
        break;
      case "read-only":
        if (v !== "safe" && v !== "lease") throw new Error(`'read-only' must be safe or lease, got '${v}'`);
        o.readOnlyOption = v === "safe" ? ReadOnlyOption.safe : ReadOnlyOption.leaseBased;
        break;
      case "step-down-on-removal":
        o.stepDownOnRemoval = parseBool(k, v);
        break;
      case "disable-forwarding":
        o.disableProposalForwarding = parseBool(k, v);
        break;
      default:
        break;
    }
  }
  return o;
}

function parseChange(word: string): ConfChangeSingle {
  const letter = word[0];
  const nodeId = parseId(word.slice(1), `conf change '${word}'`);
  switch (letter) {
    case "v":
      return { type: ConfChangeType.addNode, nodeId };
    case "l":
      return { type: ConfChangeType.addLearner, nodeId };
    case "r":
      return { type: ConfChangeType.removeNode, nodeId };
    default:
      throw new Error(`conf change '${word}' must start with v (voter), l (learner) or r (remove)`);
  }
}

const logLevels = ["debug", "info", "warn", "none"] as const;
type LogLevel = (typeof logLevels)[number];

function formatField(v: unknown): string {
  if (v instanceof Uint8Array) return JSON.stringify(text(v));
  if (typeof v === "object" && v !== null) return JSON.stringify(v);
  return String(v);
}

/** Rounds of `stabilize` before it gives up (a livelock in the core is a failure). */
const stabilizeRoundsMax = 1000;

/**
 * Executes scenario commands against one {@link TestCluster}; each {@link run} returns the
 * command's output lines. Deterministic: the same commands always print the same output.
 */
export class ScenarioRunner {
  readonly cluster: TestCluster;
  #out: string[] = [];
  #level: LogLevel = "info";

  constructor() {
    const log =
      (level: Exclude<LogLevel, "none">) =>
      (message: string, fields: Record<string, unknown> = {}): void => {
        if (logLevels.indexOf(level) < logLevels.indexOf(this.#level)) return;
        const { id, ...rest } = fields;
        const kv = Object.entries(rest).map(([k, v]) => ` ${k}=${formatField(v)}`);
        const msg = message.replace(/^raft: /, "");
        this.#out.push(`${level.toUpperCase()} ${formatField(id ?? "-")} ${msg}${kv.join("")}`);
      };
    const logger: Logger = { debug: log("debug"), info: log("info"), warn: log("warn") };
    this.cluster = new TestCluster(logger);
  }

  /** Runs one command line and returns its output (`ok` if it printed nothing). */
  run(command: string): string[] {
    const words = command.match(/[^\s(]*\([^)]*\)\S*|\S+/g) ?? [];
    const [name, ...rest] = words;
    assert(name !== undefined, "run: empty command");
    this.#out = [];
    this.#dispatch(name, parseArgs(rest));
    const out = this.#out;
    this.#out = [];
    for (const line of out) assert(line.trim() !== "", `scenario output must not contain blank lines`);
    // `log-level none` hides whole transcripts too, for setup steps that prove nothing.
    if (this.#level === "none" && name !== "log-level") return ["ok (quiet)"];
    return out.length === 0 ? ["ok"] : out;
  }

  /** The commands by name; see the module comment for their syntax. */
  readonly #commands: ReadonlyMap<string, (args: Args) => void> = new Map<string, (args: Args) => void>([
    ["add-nodes", (a) => this.#addNodes(a)],
    ["campaign", (a) => this.#each(a, (id) => this.cluster.node(id).campaign())],
    ["propose", (a) => this.#propose(a)],
    ["propose-conf-change", (a) => this.#proposeConfChange(a)],
    ["process-ready", (a) => this.#processReady(a)],
    ["deliver-msgs", (a) => this.#deliverMsgs(a)],
    ["stabilize", (a) => this.#stabilize(a)],
    ["tick", (a) => this.#tick(a)],
    [
      "tick-heartbeat",
      (a) => this.#each(a, (id) => this.#ticks(id, this.cluster.node(id).raft.cfg.heartbeatTicks)),
    ],
    ["tick-election", (a) => this.#each(a, (id) => this.#tickElection(id))],
    ["partition", (a) => this.#partition(a)],
    ["isolate", (a) => this.#isolate(a)],
    ["heal", (a) => this.#heal(a)],
    ["transfer-leadership", (a) => this.#transferLeadership(a)],
    ["read-index", (a) => this.#readIndex(a)],
    ["compact", (a) => this.#compact(a)],
    ["restart", (a) => this.#each(a, (id) => this.#restart(id))],
    ["raft-log", (a) => this.#each(a, (id) => this.#raftLog(id))],
    ["raft-state", (a) => this.#raftState(a)],
    ["status", (a) => this.#each(a, (id) => this.#status(id))],
    ["report-unreachable", (a) => this.#reportUnreachable(a)],
    ["report-snapshot", (a) => this.#reportSnapshot(a)],
    ["log-level", (a) => this.#logLevel(a)],
  ]);

  #dispatch(name: string, args: Args): void {
    const command = this.#commands.get(name);
    if (command === undefined) throw new Error(`unknown command '${name}'`);
    command(args);
  }

  #isolate(args: Args): void {
    this.#each(args, (id) => this.cluster.isolate(id));
    this.#printCuts();
  }

  #restart(id: NodeId): void {
    this.cluster.restart(id);
    this.#out.push(this.#stateLine(id));
  }

  #raftState(args: Args): void {
    this.#noArgs(args);
    for (const id of this.#ids()) this.#out.push(this.#stateLine(id));
  }

  #ids(): NodeId[] {
    return [...this.cluster.members.keys()].sort((a, b) => a - b);
  }

  #noArgs(args: Args): void {
    if (args.positional.length > 0 || args.keyed.size > 0) throw new Error("this command takes no arguments");
  }

  /** Runs `f` for every positional id (at least one). */
  #each(args: Args, f: (id: NodeId) => void): void {
    noUnknownKeys(args, []);
    if (args.positional.length === 0) throw new Error("expected at least one node id");
    for (const w of args.positional) f(parseId(w));
  }

  #addNodes(args: Args): void {
    noUnknownKeys(args, ["voters", "learners", ...nodeOptionKeys]);
    const n = parseId(args.positional[0], "node count");
    const voters = args.keyed.get("voters");
    const learners = args.keyed.get("learners");
    const conf: ConfState | null =
      voters === undefined && learners === undefined
        ? null
        : {
            voters: parseIds(voters ?? "()"),
            votersOutgoing: [],
            learners: parseIds(learners ?? "()"),
            learnersNext: [],
            autoLeave: false,
          };
    const options: NodeOptions = { electionTicks: 3, heartbeatTicks: 1, ...parseNodeOptions(args) };
    const first = this.#ids().reduce((a, b) => Math.max(a, b), 0) + 1;
    for (let id = first; id < first + n; id++) {
      this.cluster.add(id, conf, options);
      this.#out.push(`${this.#stateLine(id)} ${formatConfState(this.cluster.node(id).confState())}`);
    }
  }

  #propose(args: Args): void {
    noUnknownKeys(args, []);
    const [idWord, ...datas] = args.positional;
    const id = parseId(idWord);
    if (datas.length === 0) throw new Error("propose needs at least one DATA word");
    for (const d of datas) {
      const why = formatResult(`propose ${JSON.stringify(d)}`, this.cluster.node(id).propose(utf8.encode(d)));
      if (why !== null) this.#out.push(why);
    }
  }

  #proposeConfChange(args: Args): void {
    noUnknownKeys(args, ["transition"]);
    const [idWord, ...words] = args.positional;
    const id = parseId(idWord);
    const t = args.keyed.get("transition") ?? "auto";
    const transitions: readonly string[] = Object.values(ConfChangeTransition);
    if (!transitions.includes(t)) throw new Error(`'transition' must be one of ${transitions.join("|")}`);
    const cc = {
      transition: t as ConfChangeTransition,
      changes: words.map(parseChange),
      context: new Uint8Array(0),
    };
    const why = formatResult("conf change", this.cluster.node(id).proposeConfChange(cc));
    if (why !== null) this.#out.push(why);
  }

  /** Handles one Ready of `id` (if any) and prints it; returns whether there was one. */
  #readyOf(id: NodeId): boolean {
    const node = this.cluster.node(id);
    if (!node.hasReady()) return false;
    const confBefore = formatConfState(node.confState());
    const header = this.#out;
    this.#out = [];
    const rd = this.cluster.processReady(id);
    assert(rd !== null, "processReady: hasReady() was true");
    const logs = this.#out;
    this.#out = header;
    // Logs raised while processing (in advance(): conf changes, stepping down) follow the Ready.
    this.#out.push(`> ${id} handling Ready${rd.mustSync ? " (mustSync)" : ""}`);
    for (const line of formatReady(rd)) this.#out.push(`  ${line}`);
    for (const line of logs) this.#out.push(`  ${line}`);
    const confAfter = formatConfState(this.cluster.node(id).confState());
    if (confAfter !== confBefore) this.#out.push(`  config applied: ${confAfter}`);
    return true;
  }

  #processReady(args: Args): void {
    noUnknownKeys(args, []);
    if (args.positional.length === 1 && args.positional[0] === "all") {
      for (const id of this.#ids()) this.#readyOf(id);
      return;
    }
    this.#each(args, (id) => {
      if (!this.#readyOf(id)) this.#out.push(`> ${id} has no Ready`);
    });
  }

  /**
   * Delivers (or with `drop`, discards) the queued messages addressed to `ids` and accepted by
   * `keep`, grouped by recipient; returns how many messages were taken off the queue.
   */
  #deliver(ids: readonly NodeId[], keep: (m: Message) => boolean, drop: string | null): number {
    let taken = 0;
    for (const to of [...ids].sort((a, b) => a - b)) {
      const now = this.cluster.queue.filter((m) => m.to === to && keep(m));
      if (now.length === 0) continue;
      this.cluster.queue = this.cluster.queue.filter((m) => !(m.to === to && keep(m)));
      taken += now.length;
      this.#out.push(`> ${to} ${drop !== null ? "dropping" : "receiving"} messages`);
      for (const m of now) this.#deliverOne(m, drop);
    }
    return taken;
  }

  #deliverOne(m: Message, drop: string | null): void {
    const line = `  ${formatMessage(m)}`;
    const dst = this.cluster.members.get(m.to);
    if (drop !== null) {
      this.#out.push(`${line} (dropped: ${drop})`);
    } else if (this.cluster.cut.has(`${m.from}->${m.to}`)) {
      this.#out.push(`${line} (dropped: link cut)`);
    } else if (dst === undefined) {
      this.#out.push(`${line} (dropped: no such node)`);
    } else {
      this.#out.push(line);
      const before = this.#out;
      this.#out = [];
      dst.node.step(m);
      const logs = this.#out;
      this.#out = before;
      for (const l of logs) this.#out.push(`    ${l}`);
    }
  }

  #deliverMsgs(args: Args): void {
    noUnknownKeys(args, ["drop", "type"]);
    const type = args.keyed.get("type");
    const types: readonly string[] = Object.values(MessageType);
    if (type !== undefined && !types.includes(type)) throw new Error(`unknown message type '${type}'`);
    const keep = (m: Message): boolean => type === undefined || m.type === type;
    const dropWord = args.keyed.get("drop");
    let taken = 0;
    if (dropWord !== undefined) taken += this.#deliver(parseIds(dropWord), keep, "as asked");
    const targets =
      args.positional.length > 0
        ? args.positional.map((w) => parseId(w))
        : dropWord !== undefined
          ? []
          : [...new Set(this.cluster.queue.map((m) => m.to))];
    taken += this.#deliver(targets, keep, null);
    if (taken === 0) this.#out.push("no messages");
  }

  #stabilize(args: Args): void {
    noUnknownKeys(args, []);
    const ids = args.positional.length > 0 ? args.positional.map((w) => parseId(w)) : this.#ids();
    for (let round = 0; round < stabilizeRoundsMax; round++) {
      let busy = false;
      for (const id of [...ids].sort((a, b) => a - b)) if (this.#readyOf(id)) busy = true;
      if (this.#deliver(ids, () => true, null) > 0) busy = true;
      if (!busy) return;
    }
    throw new Error(`stabilize: still busy after ${stabilizeRoundsMax} rounds`);
  }

  #ticks(id: NodeId, n: number): void {
    const node = this.cluster.node(id);
    for (let i = 0; i < n; i++) node.tick();
  }

  #tick(args: Args): void {
    noUnknownKeys(args, []);
    if (args.positional.length !== 2) throw new Error("usage: tick ID N");
    this.#ticks(parseId(args.positional[0]), parseId(args.positional[1], "tick count"));
  }

  /** Ticks until the node's election timer fires once (see the module comment). */
  #tickElection(id: NodeId): void {
    const r = this.cluster.node(id).raft;
    const target = r.role === StateRole.leader ? r.cfg.electionTicks : r.randomizedElectionTimeout;
    this.#ticks(id, Math.max(1, target - r.electionElapsed));
  }

  #partition(args: Args): void {
    noUnknownKeys(args, []);
    const groups = args.positional.map(parseIds);
    if (groups.length < 2) throw new Error("partition needs at least two groups");
    for (let i = 0; i < groups.length; i++) {
      for (let j = i + 1; j < groups.length; j++) {
        for (const a of groups[i] as NodeId[]) this.cluster.partition(a, groups[j] as NodeId[]);
      }
    }
    this.#printCuts();
  }

  #printCuts(): void {
    const pairs = new Set<string>();
    for (const key of this.cluster.cut) {
      const [a, b] = key.split("->").map(Number) as [number, number];
      pairs.add(a < b ? `${a}-${b}` : `${b}-${a}`);
    }
    const sorted = [...pairs].sort((x, y) => {
      const [xa, xb] = x.split("-").map(Number) as [number, number];
      const [ya, yb] = y.split("-").map(Number) as [number, number];
      return xa - ya || xb - yb;
    });
    this.#out.push(sorted.length === 0 ? "no links cut" : `cut: ${sorted.join(" ")}`);
  }

  /** Drops what was sent into the partition (it is lost, not delayed), then restores every link. */
  #heal(args: Args): void {
    this.#noArgs(args);
    const cut = (m: Message): boolean => this.cluster.cut.has(`${m.from}->${m.to}`);
    const lost = [...new Set(this.cluster.queue.filter(cut).map((m) => m.to))];
    this.#deliver(lost, cut, "sent into the partition");
    this.cluster.healAll();
    this.#printCuts();
  }

  #transferLeadership(args: Args): void {
    noUnknownKeys(args, ["from", "to"]);
    const from = parseId(args.keyed.get("from"), "'from'");
    const to = parseId(args.keyed.get("to"), "'to'");
    const why = formatResult("transfer", this.cluster.node(from).transferLeader(to));
    if (why !== null) this.#out.push(why);
  }

  #readIndex(args: Args): void {
    noUnknownKeys(args, []);
    const [idWord, ctx] = args.positional;
    if (ctx === undefined) throw new Error("usage: read-index ID CTX");
    const why = formatResult("read-index", this.cluster.node(parseId(idWord)).readIndex(utf8.encode(ctx)));
    if (why !== null) this.#out.push(why);
  }

  #compact(args: Args): void {
    noUnknownKeys(args, []);
    const id = parseId(args.positional[0]);
    const index = parseId(args.positional[1], "compact index");
    const m = this.cluster.member(id);
    const applied = m.node.raft.log.applied;
    if (index > applied) throw new Error(`compact: index ${index} is past node ${id}'s applied ${applied}`);
    m.storage.createSnapshot(index, m.node.confState(), utf8.encode(`snapshot@${index}`));
    m.storage.compact(index);
    this.#raftLog(id);
  }

  #raftLog(id: NodeId): void {
    const m = this.cluster.member(id);
    const first = m.storage.firstIndex();
    const last = m.storage.lastIndex();
    if (first > 1) this.#out.push(`snapshot: ${formatSnapshot(m.storage.snapshot())}`);
    const ents = m.storage.entries(first, last + 1, Number.POSITIVE_INFINITY);
    assert(ents !== "compacted", "raft-log: storage lost its own entries");
    for (const e of ents) this.#out.push(formatEntry(e));
    const log = m.node.raft.log;
    for (const e of log.unstableEntries) this.#out.push(`${formatEntry(e)} (unstable)`);
    if (first === 1 && ents.length === 0 && log.unstableEntries.length === 0) this.#out.push("log is empty");
  }

  #stateLine(id: NodeId): string {
    const r = this.cluster.node(id).raft;
    const kind = !r.trk.isMember(id) ? "non-member" : r.isLearner ? "learner" : "voter";
    const s = `${id}: ${r.role} (${kind}) term=${r.term} vote=${r.vote} lead=${r.lead}`;
    return `${s} last=${r.log.lastIndex()} commit=${r.log.committed} applied=${r.log.applied}`;
  }

  #status(id: NodeId): void {
    const st = this.cluster.node(id).status();
    this.#out.push(this.#stateLine(id), `config: ${formatConfState(st.config)}`);
    if (st.leadTransferee !== 0) this.#out.push(`transferring leadership to ${st.leadTransferee}`);
    if (st.progress === null) return;
    this.#out.push("progress:");
    for (const [peer, pr] of [...st.progress].sort((a, b) => a[0] - b[0])) {
      const r = this.cluster.node(id).raft.trk.progress.get(peer);
      const flags = [
        pr.isLearner ? " learner" : "",
        r?.isPaused() ? " paused" : "",
        pr.recentActive || peer === id ? "" : " inactive",
        r !== undefined && r.pendingSnapshot > 0 ? ` pendingSnapshot=${r.pendingSnapshot}` : "",
        pr.inflight > 0 ? ` inflight=${pr.inflight}` : "",
      ];
      this.#out.push(`  ${peer}: ${pr.state} match=${pr.match} next=${pr.next}${flags.join("")}`);
    }
  }

  #reportUnreachable(args: Args): void {
    noUnknownKeys(args, []);
    const [id, peer] = args.positional;
    this.cluster.node(parseId(id)).reportUnreachable(parseId(peer, "peer id"));
  }

  #reportSnapshot(args: Args): void {
    noUnknownKeys(args, []);
    const [id, peer, outcome] = args.positional;
    if (outcome !== "ok" && outcome !== "fail") throw new Error("usage: report-snapshot ID PEER ok|fail");
    this.cluster.node(parseId(id)).reportSnapshot(parseId(peer, "peer id"), outcome === "ok");
  }

  #logLevel(args: Args): void {
    noUnknownKeys(args, []);
    const level = args.positional[0];
    const known: readonly string[] = logLevels;
    if (level === undefined || !known.includes(level))
      throw new Error(`log-level: one of ${known.join("|")}`);
    this.#level = level as LogLevel;
  }
}
