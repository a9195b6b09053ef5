/**
 * `GET /readyz` and `GET /livez` as etcd serves them (Kubernetes-style probes, plain text):
 * named checks, `?verbose` lists each one, `?exclude=<check>` skips one; 200 `ok` when every
 * check passes, 503 with the list and `<probe> check failed` otherwise (reasons withheld unless
 * verbose). `/health` (etcd's JSON) stays in the gateway.
 *
 * - readyz: `data_corruption` (no CORRUPT alarm), `serializable_read` (a local read works),
 *   `linearizable_read` (a read through the leader works: the member is part of a quorum).
 * - livez: `serializable_read` (the process serves requests at all).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { EtcdBackend } from "./backend.js";

/** A named probe check: null when it passes, else why not. */
type Check = readonly [name: string, run: (b: EtcdBackend) => Promise<string | null>];

const healthKey = new TextEncoder().encode("health");

const dataCorruption: Check = [
  "data_corruption",
  async (b) => {
    const s = await b.status();
    if (!s.ok) return `status failed: ${s.error.detail}`;
    return s.value.errors.some((e) => /CORRUPT/.test(e)) ? "the CORRUPT alarm is raised" : null;
  },
];

const serializableRead: Check = [
  "serializable_read",
  async (b) => {
    const r = await b.range({ key: healthKey }, { serializable: true });
    return r.ok ? null : r.error.detail;
  },
];

const linearizableRead: Check = [
  "linearizable_read",
  async (b) => {
    if (!b.hasLeader()) return "no leader";
    const r = await b.range({ key: healthKey }, { serializable: false });
    return r.ok ? null : r.error.detail;
  },
];

/** The checks of each probe path. */
export const probeChecks: Readonly<Record<string, readonly Check[]>> = {
  "/readyz": [dataCorruption, serializableRead, linearizableRead],
  "/livez": [serializableRead],
};

/** Serves `GET /readyz` or `GET /livez` (`path` must be a key of {@link probeChecks}). */
export async function serveProbe(
  backend: EtcdBackend,
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const query = new URL(req.url ?? "/", "http://x").searchParams;
  const verbose = query.has("verbose");
  const excluded = new Set(query.getAll("exclude"));
  const probe = path.slice(1);
  const lines: string[] = [];
  let failed = false;
  for (const [name, run] of probeChecks[path] ?? []) {
    if (excluded.has(name)) {
      lines.push(`[+]${name} excluded: ok`);
      continue;
    }
    const why = await run(backend).catch((e: unknown) => String(e));
    if (why === null) lines.push(`[+]${name} ok`);
    else {
      failed = true;
      lines.push(`[-]${name} failed: ${verbose ? why : "reason withheld"}`);
    }
  }
  const body = failed
    ? `${lines.join("\n")}\n${probe} check failed\n`
    : verbose
      ? `${lines.join("\n")}\nok\n`
      : "ok";
  res.writeHead(failed ? 503 : 200, {
    "content-type": "text/plain; charset=utf-8",
    "x-content-type-options": "nosniff",
  });
  res.end(body);
}
