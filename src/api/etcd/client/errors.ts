/**
 * The errors an {@link EtcdClient} call rejects with, split by what the caller knows afterwards:
 *
 * - {@link GrpcError}: the server answered with a gRPC status. The request reached a server and
 *   was refused; for most codes it was not applied. A few answers still leave the outcome open
 *   (etcd's "request timed out" family, "leader changed", "server stopped", DEADLINE_EXCEEDED,
 *   CANCELLED, UNKNOWN, INTERNAL): {@link GrpcError.outcomeUnknown} says which.
 * - {@link ClientTimeoutError}: no answer within the call's timeout after the request was sent.
 * - {@link ConnectionError}: the connection failed; `sent` says whether the request had been
 *   handed to the connection (then it may have been applied) or never left the client.
 * - {@link ClientClosedError}: the client was closed before the call was sent.
 *
 * {@link isOutcomeUnknown} folds these into the one question a history checker asks.
 */

import { GrpcStatus } from "../grpc/status.js";

/** gRPC status codes, by name (the `grpc-status` trailer); the server's table. */
export const GrpcCode = GrpcStatus;

/** etcd error texts that a server may send after it proposed the request (outcome unknown). */
const ambiguousMessages = [
  "etcdserver: request timed out",
  "etcdserver: leader changed",
  "etcdserver: server stopped",
  "etcdserver: request canceled",
  "etcdserver: context deadline exceeded",
];

/** A gRPC status the server returned (code != 0). */
export class GrpcError extends Error {
  override readonly name = "GrpcError";
  /** The `grpc-status` code. */
  readonly code: number;
  /** The (percent-decoded) `grpc-message` text, e.g. "etcdserver: key not found". */
  readonly details: string;
  /** The endpoint ("host:port") that answered. */
  readonly endpoint: string;

  constructor(code: number, details: string, endpoint: string) {
    super(`${details} (grpc status ${code}, from ${endpoint})`);
    this.code = code;
    this.details = details;
    this.endpoint = endpoint;
  }

  /**
   * Whether the request may nevertheless have been applied: statuses a server returns after a
   * proposal was made or when it cannot know (timeouts, leader loss, shutdown, cancellation).
   */
  get outcomeUnknown(): boolean {
    switch (this.code) {
      case GrpcCode.deadlineExceeded:
      case GrpcCode.canceled:
      case GrpcCode.unknown:
      case GrpcCode.internal:
        return true;
      default:
        return ambiguousMessages.some((m) => this.details.startsWith(m));
    }
  }
}

/** No response within the call's timeout; the request was sent, so its outcome is unknown. */
export class ClientTimeoutError extends Error {
  override readonly name = "ClientTimeoutError";

  constructor(
    readonly endpoint: string,
    readonly timeoutMs: number,
    what: string,
  ) {
    super(`${what} to ${endpoint} got no answer within ${timeoutMs} ms`);
  }
}

/**
 * The connection to `endpoint` failed (refused, dial timeout, reset, closed by the peer).
 * `sent` is false when the request never left the client (the outcome is then definite: not
 * applied) and true when it was handed to the connection first (the outcome is unknown).
 */
export class ConnectionError extends Error {
  override readonly name = "ConnectionError";

  constructor(
    readonly endpoint: string,
    readonly sent: boolean,
    reason: string,
  ) {
    super(`connection to ${endpoint} failed${sent ? " after the request was sent" : ""}: ${reason}`);
  }
}

/** The client was closed; the call was not sent (or its stream was ended by the close). */
export class ClientClosedError extends Error {
  override readonly name = "ClientClosedError";

  constructor() {
    super("the etcd client is closed");
  }
}

/**
 * Whether a call that rejected with `error` may have taken effect on the server: true for
 * timeouts, connections lost after sending and ambiguous gRPC statuses; false for definite
 * refusals (other gRPC statuses, connections that never carried the request, a closed client).
 * Unknown error types count as unknown outcomes.
 */
export function isOutcomeUnknown(error: unknown): boolean {
  if (error instanceof GrpcError) return error.outcomeUnknown;
  if (error instanceof ConnectionError) return error.sent;
  if (error instanceof ClientClosedError) return false;
  return true;
}

/** Whether `error` is a definite failure: the request was certainly not applied. */
export function isDefiniteFailure(error: unknown): boolean {
  return !isOutcomeUnknown(error);
}
