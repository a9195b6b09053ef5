import type { AlarmType } from "../../mvcc/mod.js";

/**
 * The etcd server version Synod reports (`GET /version` `etcdserver`, Status `version`). Clients
 * gate features on it (the Go client's `RejectOldCluster`, Patroni's choice of the v3 API), so it
 * names the etcd release whose API Synod implements.
 */
export const etcdServerVersion = "3.5.0";

/** The cluster version (`GET /version` `etcdcluster`): major.minor.0, as etcd reports it. */
export const etcdClusterVersion = "3.5.0";

/** The proto name of each alarm type. */
export const alarmTypeNames: Readonly<Record<AlarmType, string>> = {
  none: "NONE",
  noSpace: "NOSPACE",
  corrupt: "CORRUPT",
};

/** An alarm as etcd lists it in `StatusResponse.errors` (the proto text form of `AlarmMember`). */
export function alarmText(memberId: bigint, alarm: AlarmType): string {
  return `memberID:${memberId} alarm:${alarmTypeNames[alarm]} `;
}
