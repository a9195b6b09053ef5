/**
 * An etcd v3 gRPC client (node:http2, this project's protobuf codec): unary calls, watches and
 * lease keep-alives, with errors that tell a definite failure from an unknown outcome.
 */
export {
  type Bytes,
  type CallOptions,
  callTimeoutMsDefault,
  type DeleteArgs,
  dialTimeoutMsDefault,
  type EndpointSelection,
  EtcdClient,
  type EtcdClientOptions,
  type PutArgs,
  type RangeArgs,
  type StreamOptions,
  toBytes,
  type WatchHandle,
} from "./client.js";
export { type Metadata, receiveWindowBytes, responseBytesMax } from "./connection.js";
export {
  ClientClosedError,
  ClientTimeoutError,
  ConnectionError,
  GrpcCode,
  GrpcError,
  isDefiniteFailure,
  isOutcomeUnknown,
} from "./errors.js";
export { KeepAliveStream, keepAliveIntervalMinMs, LeaseKeeper, type LeaseKeeperOptions } from "./lease.js";
export { type WatchCreate, Watcher, type WatchHandlers, WatchStream } from "./watch.js";
