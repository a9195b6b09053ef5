/**
 * Cluster commands of the admin CLI: `status`, `member list|add|remove|promote`, `move-leader`,
 * `defrag`, `alarm list|disarm`, over the etcd v3 API with the project's own client.
 */
import { EtcdClient } from "../../api/etcd/client/mod.js";
import {
  type AlarmResponseMsg,
  D,
  type HeaderOnlyMsg,
  type MemberMsg,
  type MembersResponseMsg,
  type StatusResponseMsg,
} from "../../api/etcd/proto/messages.js";
import {
  type AdminArgs,
  flagBool,
  flagString,
  type GlobalOptions,
  stripScheme,
  unknownFlags,
} from "./args.js";
import { type AdminIo, UsageError } from "./io.js";
import { humanBytes, humanMs, jsonLine, type Style, table } from "./output.js";

/** A client on the global endpoints, with the global timeouts. */
export function clientFor(g: GlobalOptions): EtcdClient {
  return new EtcdClient({
    endpoints: g.endpoints,
    dialTimeoutMs: g.dialTimeoutMs,
    defaultTimeoutMs: g.commandTimeoutMs,
  });
}

/** Runs `f` with a client that is closed afterwards. */
export async function withClient<T>(g: GlobalOptions, f: (c: EtcdClient) => Promise<T>): Promise<T> {
  const c = clientFor(g);
  try {
    return await f(c);
  } finally {
    c.close();
  }
}

/** A member id as etcdctl prints it (hex). */
export function hex(id: bigint): string {
  return id.toString(16);
}

/** Parses a hex member id argument. */
export function parseMemberId(text: string | undefined, command: string): bigint {
  if (text === undefined || !/^[0-9a-fA-F]{1,16}$/.test(text)) {
    throw new UsageError(
      `'${command}' needs a member ID in hex (as 'synod member list' prints it), got ${text === undefined ? "nothing" : `'${text}'`}`,
    );
  }
  return BigInt(`0x${text}`);
}

function noExtraFlags(args: AdminArgs, command: string, allowed: readonly string[] = []): void {
  const unknown = unknownFlags(args, allowed);
  if (unknown.length > 0) throw new UsageError(`unknown flag --${unknown[0]} for '${command}'`);
}

// ------------------------------------------------------------------------------------- status

/** One member's row of `synod status`. */
interface MemberStatusRow {
  readonly member: MemberMsg;
  readonly endpoint: string | null;
  readonly status: StatusResponseMsg | null;
  readonly rttMs: number | null;
  readonly error: string | null;
}

/** Milliseconds each member has to answer `status`. */
const statusTimeoutMs = 3000;

/**
 * `status`: every member (from the member list) asked for its Status at its first client URL,
 * timed: a table of id, name, URLs, leader, raft term/index, applied index, db size, version and
 * round trip. Exit status 1 when a member does not answer.
 */
export async function statusCommand(args: AdminArgs, io: AdminIo): Promise<number> {
  noExtraFlags(args, "status");
  const rows = await withClient(args.global, async (c) => {
    const list = await c.memberList();
    // Members that have not published a client URL yet may still be among the endpoints given.
    const byId = new Map<bigint, string>();
    await Promise.all(
      args.global.endpoints.map((endpoint) =>
        c.status({ endpoint, timeoutMs: statusTimeoutMs }).then(
          (s) => byId.set(s.header.memberId, endpoint),
          () => undefined,
        ),
      ),
    );
    return Promise.all(list.members.map((m) => memberStatus(c, m, byId.get(m.ID))));
  });
  const w = args.global.writeOut ?? "table";
  if (w === "json") io.stdout.write(jsonLine(rows.map(statusJson)));
  else if (w === "simple") {
    for (const r of rows) {
      const s = r.status;
      io.stdout.write(
        s === null
          ? `${hex(r.member.ID)}, ${r.member.name}, ${r.endpoint ?? "-"}, error: ${r.error}\n`
          : `${hex(r.member.ID)}, ${r.member.name}, ${r.endpoint}, ${s.version}, ${humanBytes(s.dbSize)}, ${s.leader === r.member.ID}, ${r.member.isLearner}, ${s.raftTerm}, ${s.raftIndex}, ${s.raftAppliedIndex}, ${humanMs(r.rttMs ?? 0)}, ${s.errors.join("; ")}\n`,
      );
    }
  } else io.stdout.write(statusTable(rows, io.style(io.stdout)));
  // A member added but not started yet (no client URL) is listed, not counted as a failure.
  return rows.every((r) => r.status !== null || r.endpoint === null) ? 0 : 1;
}

async function memberStatus(c: EtcdClient, m: MemberMsg, given?: string): Promise<MemberStatusRow> {
  const url = m.clientURLs[0];
  if (url === undefined && given === undefined) {
    return { member: m, endpoint: null, status: null, rttMs: null, error: "not started (no client URL yet)" };
  }
  const endpoint = url === undefined ? (given as string) : stripScheme(url);
  const start = performance.now();
  try {
    const status = await c.status({ endpoint, timeoutMs: statusTimeoutMs });
    return { member: m, endpoint, status, rttMs: performance.now() - start, error: null };
  } catch (e) {
    return { member: m, endpoint, status: null, rttMs: null, error: errorText(e) };
  }
}

function statusTable(rows: readonly MemberStatusRow[], st: Style): string {
  const headers = [
    "ID",
    "NAME",
    "CLIENT URL",
    "PEER URL",
    "LEADER",
    "TERM",
    "INDEX",
    "APPLIED",
    "DB SIZE",
    "VERSION",
    "RTT",
    "ERRORS",
  ];
  const cells = rows.map((r) => {
    const s = r.status;
    const id = hex(r.member.ID);
    const name = r.member.isLearner ? `${r.member.name} (learner)` : r.member.name;
    const urls = [r.endpoint ?? "-", r.member.peerURLs.join(",")];
    if (s === null) return [id, name, ...urls, "", "", "", "", "", "", "", st.red(r.error ?? "no answer")];
    const leader = s.leader === r.member.ID ? st.green("*") : "";
    const lag = s.raftIndex - s.raftAppliedIndex;
    const applied = lag > 1000 ? st.yellow(String(s.raftAppliedIndex)) : String(s.raftAppliedIndex);
    const errors =
      s.errors.length > 0 ? st.red(s.errors.join("; ")) : s.leader === 0n ? st.yellow("no leader") : "";
    return [
      id,
      name,
      ...urls,
      leader,
      String(s.raftTerm),
      String(s.raftIndex),
      applied,
      humanBytes(s.dbSize),
      s.version,
      humanMs(r.rttMs ?? 0),
      errors,
    ];
  });
  return table(headers, cells, st);
}

function statusJson(r: MemberStatusRow): Record<string, unknown> {
  const s = r.status;
  return {
    id: hex(r.member.ID),
    name: r.member.name,
    clientURLs: r.member.clientURLs,
    peerURLs: r.member.peerURLs,
    isLearner: r.member.isLearner,
    ...(s === null
      ? { error: r.error }
      : {
          isLeader: s.leader === r.member.ID,
          leader: hex(s.leader),
          raftTerm: s.raftTerm,
          raftIndex: s.raftIndex,
          raftAppliedIndex: s.raftAppliedIndex,
          revision: s.header.revision,
          dbSize: s.dbSize,
          dbSizeInUse: s.dbSizeInUse,
          dbSizeQuota: s.dbSizeQuota,
          version: s.version,
          rttMs: Math.round((r.rttMs ?? 0) * 1000) / 1000,
          errors: s.errors,
        }),
  };
}

/** The text of an error for a person (the server's message without client decorations). */
export function errorText(e: unknown): string {
  if (typeof e === "object" && e !== null && "details" in e && typeof e.details === "string")
    return e.details;
  return e instanceof Error ? e.message : String(e);
}

// ------------------------------------------------------------------------------------- member

/** `member list|add|remove|promote`. */
export async function memberCommand(args: AdminArgs, io: AdminIo): Promise<number> {
  const sub = args.words[1];
  switch (sub) {
    case "list":
      return memberList(args, io);
    case "add":
      return memberAdd(args, io);
    case "remove":
    case "promote":
      return memberChange(args, io, sub);
    default:
      throw new UsageError(
        `'member' needs one of list, add, remove, promote, got ${sub === undefined ? "nothing" : `'${sub}'`}`,
      );
  }
}

async function memberList(args: AdminArgs, io: AdminIo): Promise<number> {
  noExtraFlags(args, "member list");
  const r = await withClient(args.global, (c) => c.memberList(true));
  const w = args.global.writeOut ?? "simple";
  if (w === "json") io.stdout.write(jsonLine(membersJson(r)));
  else if (w === "table") {
    const st = io.style(io.stdout);
    io.stdout.write(
      table(
        ["ID", "STATUS", "NAME", "PEER ADDRS", "CLIENT ADDRS", "IS LEARNER"],
        r.members.map((m) => [
          hex(m.ID),
          m.name === "" ? st.yellow("unstarted") : st.green("started"),
          m.name,
          m.peerURLs.join(","),
          m.clientURLs.join(","),
          String(m.isLearner),
        ]),
        st,
      ),
    );
  } else {
    for (const m of r.members) {
      io.stdout.write(
        `${hex(m.ID)}, ${m.name === "" ? "unstarted" : "started"}, ${m.name}, ${m.peerURLs.join(",")}, ${m.clientURLs.join(",")}, ${m.isLearner}\n`,
      );
    }
  }
  return 0;
}

function membersJson(r: MembersResponseMsg): Record<string, unknown> {
  return {
    header: {
      cluster_id: hex(r.header.clusterId),
      member_id: hex(r.header.memberId),
      raft_term: r.header.raftTerm,
    },
    members: r.members.map((m) => ({
      ID: hex(m.ID),
      name: m.name,
      peerURLs: m.peerURLs,
      clientURLs: m.clientURLs,
      isLearner: m.isLearner,
    })),
  };
}

async function memberAdd(args: AdminArgs, io: AdminIo): Promise<number> {
  noExtraFlags(args, "member add", ["peer-urls", "learner"]);
  const name = args.words[2];
  if (name === undefined || args.words.length !== 3) {
    throw new UsageError("'member add' takes the new member's name: member add NAME --peer-urls=URL[,URL]");
  }
  const peerUrls = flagString(args, "peer-urls", "")
    .split(",")
    .map((u) => u.trim())
    .filter((u) => u !== "");
  if (peerUrls.length === 0)
    throw new UsageError("'member add' needs --peer-urls=URL[,URL] of the new member");
  const learner = flagBool(args, "learner");
  const r = await withClient(args.global, (c) => c.memberAdd(peerUrls, learner));
  const initial = r.members
    .flatMap((m) => {
      const n = m.ID === r.member.ID ? name : m.name;
      return n === "" ? [] : m.peerURLs.map((u) => `${n}=${u}`);
    })
    .join(",");
  if ((args.global.writeOut ?? "simple") === "json") {
    io.stdout.write(
      jsonLine({
        ...membersJson(r),
        member: { ID: hex(r.member.ID), peerURLs: r.member.peerURLs, isLearner: learner },
      }),
    );
    return 0;
  }
  const st = io.style(io.stdout);
  io.stdout.write(
    `Member ${st.bold(hex(r.member.ID))} added to cluster ${hex(r.header.clusterId)}${learner ? " as a learner" : ""}\n\n` +
      `ETCD_NAME="${name}"\nETCD_INITIAL_CLUSTER="${initial}"\nETCD_INITIAL_ADVERTISE_PEER_URLS="${peerUrls.join(",")}"\nETCD_INITIAL_CLUSTER_STATE="existing"\n\n` +
      `Start it with these settings (synod reads ETCD_* too) and the cluster's --initial-cluster-token.\n`,
  );
  return 0;
}

async function memberChange(args: AdminArgs, io: AdminIo, sub: "remove" | "promote"): Promise<number> {
  noExtraFlags(args, `member ${sub}`);
  const id = parseMemberId(args.words[2], `member ${sub}`);
  const r = await withClient(args.global, (c) =>
    sub === "remove"
      ? c.memberRemove(id)
      : c.unary<MembersResponseMsg>(
          "etcdserverpb.Cluster",
          "MemberPromote",
          D.MemberPromoteRequest,
          D.MemberPromoteResponse,
          { ID: id },
        ),
  );
  if ((args.global.writeOut ?? "simple") === "json") io.stdout.write(jsonLine(membersJson(r)));
  else
    io.stdout.write(
      `Member ${hex(id)} ${sub === "remove" ? "removed from" : "promoted in"} cluster ${hex(r.header.clusterId)}\n`,
    );
  return 0;
}

// -------------------------------------------------------------------------------- move-leader

/** `move-leader ID`: finds the leader and asks it to hand leadership to member ID. */
export async function moveLeaderCommand(args: AdminArgs, io: AdminIo): Promise<number> {
  noExtraFlags(args, "move-leader");
  const target = parseMemberId(args.words[1], "move-leader");
  const from = await withClient(args.global, async (c) => {
    const list = await c.memberList();
    const rows = await Promise.all(list.members.map((m) => memberStatus(c, m)));
    const leaderRow = rows.find((r) => r.status !== null && r.status.leader === r.member.ID);
    if (leaderRow === undefined || leaderRow.endpoint === null)
      throw new Error("no leader found among the members");
    if (leaderRow.member.ID === target) return null;
    if (!list.members.some((m) => m.ID === target))
      throw new Error(`member ${hex(target)} is not in the cluster`);
    await c.moveLeader(target, { endpoint: leaderRow.endpoint });
    return leaderRow.member.ID;
  });
  if (from === null) io.stdout.write(`Member ${hex(target)} is already the leader\n`);
  else io.stdout.write(`Leadership transferred from ${hex(from)} to ${hex(target)}\n`);
  return 0;
}

// ------------------------------------------------------------------------------------- defrag

/** `defrag [--cluster]`: Defragment on each endpoint (or each member); a no-op for Synod's store. */
export async function defragCommand(args: AdminArgs, io: AdminIo): Promise<number> {
  noExtraFlags(args, "defrag", ["cluster"]);
  let failed = 0;
  await withClient(args.global, async (c) => {
    const endpoints = flagBool(args, "cluster")
      ? (await c.memberList()).members.flatMap((m) => m.clientURLs.slice(0, 1).map(stripScheme))
      : args.global.endpoints;
    for (const endpoint of endpoints) {
      try {
        await c.unary<HeaderOnlyMsg>(
          "etcdserverpb.Maintenance",
          "Defragment",
          D.DefragmentRequest,
          D.DefragmentResponse,
          {},
          { endpoint },
        );
        io.stdout.write(`Finished defragmenting etcd member[${endpoint}]\n`);
      } catch (e) {
        failed++;
        io.stderr.write(`Failed to defragment etcd member[${endpoint}] (${errorText(e)})\n`);
      }
    }
  });
  return failed === 0 ? 0 : 1;
}

// -------------------------------------------------------------------------------------- alarm

/** etcd's alarm type numbers and names. */
const alarmNames: Readonly<Record<number, string>> = { 0: "NONE", 1: "NOSPACE", 2: "CORRUPT" };

/** `alarm list` / `alarm disarm`. */
export async function alarmCommand(args: AdminArgs, io: AdminIo): Promise<number> {
  const sub = args.words[1];
  if (sub !== "list" && sub !== "disarm") {
    throw new UsageError(`'alarm' needs list or disarm, got ${sub === undefined ? "nothing" : `'${sub}'`}`);
  }
  noExtraFlags(args, `alarm ${sub}`);
  const alarm = (c: EtcdClient, action: number, memberID: bigint, type: number): Promise<AlarmResponseMsg> =>
    c.unary<AlarmResponseMsg>("etcdserverpb.Maintenance", "Alarm", D.AlarmRequest, D.AlarmResponse, {
      action,
      memberID,
      alarm: type,
    });
  const alarms = await withClient(args.global, async (c) => {
    const listed = (await alarm(c, 0, 0n, 0)).alarms;
    if (sub === "list") return listed;
    for (const a of listed) await alarm(c, 2, a.memberID, a.alarm);
    return listed;
  });
  const w = args.global.writeOut ?? "simple";
  const rows = alarms.map((a) => ({ memberID: a.memberID, alarm: alarmNames[a.alarm] ?? String(a.alarm) }));
  if (w === "json") io.stdout.write(jsonLine({ alarms: rows }));
  else if (w === "table") {
    const st = io.style(io.stdout);
    io.stdout.write(
      table(
        ["MEMBER", "ALARM"],
        rows.map((r) => [r.memberID === 0n ? "0 (quota)" : hex(r.memberID), st.red(r.alarm)]),
        st,
      ),
    );
  } else {
    const st = io.style(io.stdout);
    for (const r of rows) {
      io.stdout.write(
        `${r.memberID === 0n ? "" : `memberID:${r.memberID} `}alarm:${st.red(r.alarm)}${sub === "disarm" ? " (disarmed)" : ""}\n`,
      );
    }
  }
  return 0;
}
