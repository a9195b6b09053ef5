/** gRPC status codes (the `grpc-status` trailer), by name. */
export const GrpcStatus = {
  ok: 0,
  canceled: 1,
  unknown: 2,
  invalidArgument: 3,
  deadlineExceeded: 4,
  notFound: 5,
  alreadyExists: 6,
  permissionDenied: 7,
  resourceExhausted: 8,
  failedPrecondition: 9,
  aborted: 10,
  outOfRange: 11,
  unimplemented: 12,
  internal: 13,
  unavailable: 14,
  dataLoss: 15,
  unauthenticated: 16,
} as const;

/** One gRPC status code. */
export type GrpcStatus = (typeof GrpcStatus)[keyof typeof GrpcStatus];

/**
 * A call's failure: the gRPC status code and the `grpc-message` text clients see. Handlers throw
 * it (or return it through the error table); the transport turns it into trailers.
 */
export class GrpcError extends Error {
  override readonly name = "GrpcError";

  constructor(
    readonly code: GrpcStatus,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The HTTP status grpc-gateway (v1, as etcd 3.5 uses) gives each gRPC code, for the JSON gateway.
 */
export function httpStatusOf(code: GrpcStatus): number {
  switch (code) {
    case GrpcStatus.ok:
      return 200;
    case GrpcStatus.canceled:
      return 408;
    case GrpcStatus.invalidArgument:
    case GrpcStatus.failedPrecondition:
    case GrpcStatus.outOfRange:
      return 400;
    case GrpcStatus.deadlineExceeded:
      return 504;
    case GrpcStatus.notFound:
      return 404;
    case GrpcStatus.alreadyExists:
    case GrpcStatus.aborted:
      return 409;
    case GrpcStatus.permissionDenied:
      return 403;
    case GrpcStatus.unauthenticated:
      return 401;
    case GrpcStatus.resourceExhausted:
      return 429;
    case GrpcStatus.unimplemented:
      return 501;
    case GrpcStatus.unavailable:
      return 503;
    default:
      return 500;
  }
}
