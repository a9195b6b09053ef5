// Helpers for the operations tests: run the `synod` admin CLI, talk to members through the JSON
// gateway, and start clusters of real processes.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { etcdctl, ProcessCluster, type ProcessMember, waitFor } from "../../src/testing/procs.js";

export const mainJs = join(process.cwd(), "dist/src/cli/main.js");

/** The result of one `synod` admin command run. */
export interface SynodResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `synod <args>` (the compiled CLI) and resolves with its exit status and output. */
export function synod(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
  timeoutMs = 60_000,
): Promise<SynodResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [mainJs, ...args],
      { env: { ...process.env, NO_COLOR: "", ...env }, timeout: timeoutMs, maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const b64 = (s: string): string => Buffer.from(s).toString("base64");
const unb64 = (s: string | undefined): string => Buffer.from(s ?? "", "base64").toString();

/** POSTs `body` to the JSON gateway of `port` and returns the parsed answer (throws on HTTP errors). */
export async function gateway(port: number, path: string, body: unknown): Promise<Record<string, unknown>> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { method: "POST", body: JSON.stringify(body) });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`${path}: HTTP ${r.status}: ${text}`);
  return JSON.parse(text) as Record<string, unknown>;
}

/** Puts `key` = `value` through the gateway (optionally with a lease id). */
export async function put(port: number, key: string, value: string, lease?: string): Promise<void> {
  await gateway(port, "/v3/kv/put", { key: b64(key), value: b64(value), ...(lease ? { lease } : {}) });
}

/** Gets `key` through the gateway: its value, or null if absent. */
export async function get(port: number, key: string): Promise<string | null> {
  const r = await gateway(port, "/v3/kv/range", { key: b64(key) });
  const kvs = r.kvs as { value?: string }[] | undefined;
  return kvs === undefined || kvs.length === 0 ? null : unb64(kvs[0]?.value);
}

/** HashKV of member `port` at `revision` (0 = current): hash and the revision hashed. */
export async function hashKv(port: number, revision = 0): Promise<{ hash: number; revision: number }> {
  const r = await gateway(port, "/v3/maintenance/hashkv", { revision });
  return { hash: Number(r.hash ?? 0), revision: Number(r.hash_revision ?? 0) };
}

/** Runs `tasks` with at most `n` in flight. */
export async function pool<T>(
  items: readonly T[],
  n: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: n }, worker));
}

/** The `name=url` list of `members`. */
export function initialClusterOf(members: readonly ProcessMember[]): string {
  return members.map((m) => `${m.name}=http://127.0.0.1:${m.peerPort}`).join(",");
}

/**
 * Starts every member of `c` (already allocated) as a new cluster and waits until a write commits
 * and every member has published its client URL; on failure the logs are in the error.
 */
export async function startAll(c: ProcessCluster, readyMs = 20_000): Promise<void> {
  const initial = initialClusterOf(c.members);
  for (const m of c.members) c.start(m, "new", initial);
  await waitUntilServing(c, readyMs);
}

/** Waits until `c` commits writes and lists every member with its client URL. */
export async function waitUntilServing(c: ProcessCluster, readyMs = 20_000): Promise<void> {
  try {
    await waitFor(
      "a leader that commits writes",
      async () => (await etcdctl(c.endpoints(), ["put", "/ready", "1"], "1s")).code === 0,
      readyMs,
    );
    await waitFor(
      "every member published its client URL",
      async () => {
        const list = await etcdctl(c.endpoints(), ["member", "list"], "1s");
        return c.members.every((m) => list.stdout.includes(`http://127.0.0.1:${m.clientPort}, false`));
      },
      readyMs,
    );
  } catch (e) {
    throw new Error(`${String(e)}\n${logsOf(c)}`);
  }
}

/** The last lines of every member's log, for failure messages. */
export function logsOf(c: ProcessCluster): string {
  return c.members.map((m) => `--- ${m.name}\n${m.log.slice(-3000)}`).join("\n");
}

/** A new cluster of `n` allocated members (not started). */
export function allocate(n: number, extraArgs: readonly string[] = []): Promise<ProcessCluster> {
  return ProcessCluster.create(n, mainJs, extraArgs);
}

/** The member of `c` at index `i` (asserting it exists). */
export function member(c: ProcessCluster, i: number): ProcessMember {
  const m = c.members[i];
  assert.ok(m !== undefined, `no member ${i}`);
  return m;
}
