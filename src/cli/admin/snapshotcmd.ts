/**
 * `synod snapshot restore FILE ...` and `synod snapshot status FILE` (etcdutl's commands): work on
 * a backup file without a running cluster.
 */
import { createHash } from "node:crypto";
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { BidiStream, Connection } from "../../api/etcd/client/connection.js";
import { D, type SnapshotResponseMsg } from "../../api/etcd/proto/messages.js";
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

/** Bytes of the SHA-256 the server sends as the stream's last message. */
const shaBytes = 32;

/**
 * `snapshot save FILE`: streams Maintenance.Snapshot from the first endpoint into `FILE.part`
 * (progress bar on a terminal), checks the trailing SHA-256 against what arrived, syncs the file
 * and renames it to FILE; then reads it back as `snapshot status` does.
 */
export async function snapshotSave(args: AdminArgs, io: AdminIo): Promise<number> {
  const file = onlyFile(args, "save", []);
  const endpoint = args.global.endpoints[0] as string;
  const part = `${file}.part`;
  const bar = new ProgressBar(io.stderr, "saving");
  const started = performance.now();
  const fd = openSync(part, "w", 0o600);
  let bytes = 0;
  try {
    bytes = await streamSnapshot(endpoint, args.global.dialTimeoutMs, (blob, remaining) => {
      writeSync(fd, blob);
      bar.update(bytes + blob.length, remaining > 0 ? bytes + blob.length + remaining : 0);
      bytes += blob.length;
    });
    bar.update(bytes, bytes, true);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(part, { force: true });
    throw e;
  } finally {
    bar.finish();
  }
  closeSync(fd);
  renameSync(part, file);
  const ms = performance.now() - started;
  const { status } = await readSnapshotFile(file);
  if ((args.global.writeOut ?? "simple") === "json") {
    io.stdout.write(jsonLine({ file, ...statusJson(status), durationMs: Math.round(ms) }));
  } else {
    const st = io.style(io.stdout);
    io.stdout.write(
      `Snapshot saved at ${file}
${st.dim(`${humanBytes(bytes)} in ${(ms / 1000).toFixed(2)} s from ${endpoint}: revision ${status.revision}, ${status.totalKey} keys, hash ${hashHex(status.hash)}`)}
`,
    );
  }
  return 0;
}

/**
 * Streams Maintenance.Snapshot from `endpoint`, handing each blob but the final SHA-256 to
 * `onBlob` with the bytes the server says remain; checks the SHA-256; resolves with the bytes
 * written (the hash included, as etcdctl writes it).
 */
async function streamSnapshot(
  endpoint: string,
  dialTimeoutMs: number,
  onBlob: (blob: Uint8Array, remaining: number) => void,
): Promise<number> {
  const conn = new Connection(endpoint, dialTimeoutMs);
  try {
    const session = await conn.session();
    const sha = createHash("sha256");
    let held: Uint8Array | null = null;
    let total = 0;
    await new Promise<void>((resolve, reject) => {
      const stream = new BidiStream<object, SnapshotResponseMsg>(
        session,
        endpoint,
        "/etcdserverpb.Maintenance/Snapshot",
        D.SnapshotRequest,
        D.SnapshotResponse,
        undefined,
        {
          onMessage: (m) => {
            // The last blob is the hash of everything before it: hash each blob once the next arrives.
            if (held !== null) sha.update(held);
            held = m.blob;
            total += m.blob.length;
            onBlob(m.blob, m.remainingBytes);
          },
          onEnd: (error) => (error === null ? resolve() : reject(error)),
        },
      );
      stream.send({});
      stream.end();
    });
    const last = held as Uint8Array | null;
    if (last === null || last.length !== shaBytes) {
      throw new Error(
        `snapshot stream from ${endpoint} did not end with a ${shaBytes}-byte SHA-256; nothing was saved`,
      );
    }
    if (!sha.digest().equals(Buffer.from(last))) {
      throw new Error(`snapshot stream from ${endpoint} failed its SHA-256 check; nothing was saved`);
    }
    return total;
  } finally {
    conn.close();
  }
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
