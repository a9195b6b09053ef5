/**
 * `synod snapshot restore FILE ...` and `synod snapshot status FILE` (etcdutl's commands): work on
 * a backup file without a running cluster.
 */
import { loadConfig } from "../../server/config.js";
import { clusterIdOf, hexId, memberIdOf } from "../../server/ids.js";
import { readSnapshotFile, restoreDataDir, type SnapshotFileStatus } from "../../server/snapshotfile.js";
import { initialMembers } from "../serve.js";
import { type AdminArgs, unknownFlags } from "./args.js";
import { type AdminIo, UsageError } from "./io.js";
import { humanBytes, jsonLine, ProgressBar, table } from "./output.js";

/** Flags of `snapshot restore`, as etcdutl names them. */
export const restoreFlags = [
  "name",
  "data-dir",
  "initial-cluster",
  "initial-cluster-token",
  "initial-advertise-peer-urls",
] as const;

/** `snapshot status FILE`: hash, revision, keys and size of a backup file, after checking it. */
export async function snapshotStatus(args: AdminArgs, io: AdminIo): Promise<number> {
  const file = onlyFile(args, "status", []);
  const bar = new ProgressBar(io.stderr, "checking");
  const { status } = await readSnapshotFile(file, (n, t) => bar.update(n, t)).finally(() => bar.finish());
  const w = args.global.writeOut ?? "simple";
  if (w === "json") io.stdout.write(jsonLine(statusJson(status)));
  else if (w === "table") {
    io.stdout.write(
      table(
        ["HASH", "REVISION", "TOTAL KEYS", "TOTAL SIZE", "COMPACTED", "LEASES"],
        [
          [
            hashHex(status.hash),
            String(status.revision),
            String(status.totalKey),
            humanBytes(status.totalSize),
            String(status.compactRevision),
            String(status.leases),
          ],
        ],
        io.style(io.stdout),
      ),
    );
  } else {
    io.stdout.write(
      `${hashHex(status.hash)}, ${status.revision}, ${status.totalKey}, ${humanBytes(status.totalSize)}\n`,
    );
  }
  return 0;
}

function hashHex(hash: number): string {
  return hash.toString(16).padStart(8, "0");
}

function statusJson(s: SnapshotFileStatus): Record<string, number> {
  return {
    hash: s.hash,
    revision: s.revision,
    totalKey: s.totalKey,
    totalSize: s.totalSize,
    compactRevision: s.compactRevision,
    totalRevisions: s.totalRevisions,
    leases: s.leases,
  };
}

/**
 * `snapshot restore FILE --name --initial-cluster --initial-cluster-token
 * --initial-advertise-peer-urls --data-dir`: a new member's data directory for a new cluster
 * (new cluster id from the token, membership from `--initial-cluster`) holding the file's keys,
 * revisions and leases. Refuses a data directory that exists and is not empty.
 */
export async function snapshotRestore(args: AdminArgs, io: AdminIo): Promise<number> {
  const file = onlyFile(args, "restore", restoreFlags);
  const argv = restoreFlags.flatMap((f) => {
    const v = args.flags.get(f);
    if (v === true) throw new UsageError(`flag needs an argument: --${f}`);
    return v === undefined ? [] : [`--${f}=${v}`];
  });
  const loaded = loadConfig(argv, {}, () => {
    throw new Error("no config file");
  });
  if (!loaded.ok) throw new UsageError(loaded.error);
  const config = loaded.config;
  const bar = new ProgressBar(io.stderr, "reading");
  const { store } = await readSnapshotFile(file, (n, t) => bar.update(n, t)).finally(() => bar.finish());
  const members = initialMembers(config);
  const memberId = memberIdOf(
    config.initialAdvertisePeerUrls.map((u) => u.href),
    config.initialClusterToken,
  );
  const clusterId = clusterIdOf(config.initialClusterToken);
  const r = await restoreDataDir(store, { members, dataDir: config.dataDir });
  if ((args.global.writeOut ?? "simple") === "json") {
    io.stdout.write(
      jsonLine({
        dataDir: config.dataDir,
        name: config.name,
        memberId: hexId(memberId),
        clusterId: hexId(clusterId),
        revision: r.revision,
        totalKey: r.totalKey,
        leases: r.leases,
        alarmsDropped: r.alarmsDropped,
      }),
    );
    return 0;
  }
  const s = io.style(io.stdout);
  io.stdout.write(
    `${s.green("restored")} ${file} into ${config.dataDir}: member ${hexId(memberId)} (${config.name}) of new cluster ${hexId(clusterId)}, ` +
      `revision ${r.revision}, ${r.totalKey} keys, ${r.leases} leases` +
      (r.alarmsDropped > 0 ? `, ${r.alarmsDropped} alarms of the old cluster dropped` : "") +
      "\n" +
      `start it with the same --name, --initial-cluster, --initial-cluster-token and --initial-advertise-peer-urls, and --data-dir ${config.dataDir}\n`,
  );
  return 0;
}

function onlyFile(args: AdminArgs, command: string, allowed: readonly string[]): string {
  const unknown = unknownFlags(args, allowed);
  if (unknown.length > 0) throw new UsageError(`unknown flag --${unknown[0]} for 'snapshot ${command}'`);
  const rest = args.words.slice(2);
  if (rest.length !== 1) {
    throw new UsageError(`'snapshot ${command}' takes one argument, the snapshot file, got ${rest.length}`);
  }
  return rest[0] as string;
}
