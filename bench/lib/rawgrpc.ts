// Raw gRPC unary calls over one node:http2 session, for the micro-benchmarks that measure one
// server path over TLS or with metadata (bench/tls.ts, auth.ts, secure.ts), which the lean client
// (h2client.ts, plain h2c only) does not speak, without the client library's own bookkeeping; and
// a closed-loop driver that turns a call into a rate (also used by bench/etcd-api.ts).
import type http2 from "node:http2";
import { frameMessage } from "../../src/api/etcd/grpc/frames.js";

/** A call's outcome: the gRPC status (-1 if none came), its message, and the response bytes (framed). */
export interface RawAnswer {
  readonly status: number;
  readonly message: string;
  readonly data: Buffer;
}

/** One unary call of `path` with `message` (unframed protobuf); `headers` are added to the request. */
export function rawUnary(
  session: http2.ClientHttp2Session,
  path: string,
  message: Uint8Array,
  headers: Readonly<Record<string, string>> = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
      ...headers,
    });
    const chunks: Buffer[] = [];
    let status = -1;
    let text = "";
    const take = (h: http2.IncomingHttpHeaders): void => {
      if (h["grpc-status"] === undefined) return;
      status = Number(h["grpc-status"]);
      text = String(h["grpc-message"] ?? "");
    };
    req.on("response", take);
    req.on("trailers", take);
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("close", () => resolve({ status, message: text, data: Buffer.concat(chunks) }));
    req.on("error", reject);
    req.end(frameMessage(message));
  });
}

/** {@link rawUnary} that rejects unless the status is OK. */
export async function rawUnaryOk(
  session: http2.ClientHttp2Session,
  path: string,
  message: Uint8Array,
  headers: Readonly<Record<string, string>> = {},
): Promise<RawAnswer> {
  const a = await rawUnary(session, path, message, headers);
  if (a.status !== 0) throw new Error(`${path}: gRPC status ${a.status}: ${a.message}`);
  return a;
}

/**
 * Runs `workers` closed loops of `op` (worker index, iteration) for `seconds`; resolves with
 * completed operations per second. An operation that throws stops the run with that error.
 */
export async function closedLoopRate(
  workers: number,
  seconds: number,
  op: (worker: number, i: number) => Promise<void>,
): Promise<number> {
  let done = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (let i = 0; performance.now() < end; i++) {
        await op(w, i);
        done++;
      }
    }),
  );
  return done / ((performance.now() - start) / 1000);
}
