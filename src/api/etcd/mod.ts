/**
 * The etcd v3 API front door: gRPC and the JSON gateway on one port, served from an
 * {@link EtcdBackend}. See docs/etcd-api.md.
 */
export * from "./backend.js";
export { etcdWireErrors, grpcErrorOf, type WireError } from "./errors.js";
export { GrpcError, GrpcStatus } from "./grpc/status.js";
export { LocalBackend, type LocalBackendOptions } from "./local.js";
export { EtcdApiServer, type EtcdApiServerOptions } from "./server.js";
export { grpcOverheadBytes, unimplementedMethods } from "./unimplemented.js";
export { etcdClusterVersion, etcdServerVersion } from "./version.js";
