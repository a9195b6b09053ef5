/** Limits and the methods Synod leaves unimplemented, shared by the gRPC server and the gateway. */

/** gRPC framing allowance on top of `--max-request-bytes` for the receive limit (etcd: 512 KiB). */
export const grpcOverheadBytes = 512 * 1024;

/**
 * etcd methods that Synod does not implement; each answers UNIMPLEMENTED with this text (and is
 * listed in docs/etcd-api.md).
 */
export const unimplementedMethods: readonly string[] = ["/etcdserverpb.Maintenance/Downgrade"];

/** The message for a path no handler serves (grpc-go's wording for unknown ones). */
export function unknownMethodMessage(path: string): string {
  if (unimplementedMethods.includes(path)) return `synod: ${path.slice(1)} is not implemented`;
  const [service = "", method = ""] = path.slice(1).split("/");
  const known = [
    "etcdserverpb.KV",
    "etcdserverpb.Watch",
    "etcdserverpb.Lease",
    "etcdserverpb.Cluster",
    "etcdserverpb.Auth",
    "v3lockpb.Lock",
    "v3electionpb.Election",
  ];
  if (
    known.includes(service) ||
    service === "etcdserverpb.Maintenance" ||
    service === "grpc.health.v1.Health"
  ) {
    return `unknown method ${method} for service ${service}`;
  }
  return `unknown service ${service}`;
}
