/** Where each container's services stand with the registry, as the snapshot shows it. Pure. */
import type { Service } from "../service/types.js";
import { fingerprint } from "./plan.js";
import type { Tracked } from "./record.js";
import type { BridgeSnapshot, ContainerSnapshot, ServiceSnapshot } from "./snapshot.js";

/** What the reconciler holds of one container. */
export type ContainerStatus = Pick<Tracked, "name" | "desired" | "registered" | "refusals" | "skipped" | "lastError"> & {
  id: string;
  /** When its failed reconcile is tried again (ms since the epoch). */
  retryAt?: number;
};

export function containerSnapshot(record: ContainerStatus): ContainerSnapshot {
  const services: ServiceSnapshot[] = [];
  for (const service of record.desired.values()) services.push(serviceSnapshot(service, record));
  // Registered and no longer wanted: on its way out.
  for (const [id, service] of record.registered) if (!record.desired.has(id)) services.push(pending(service, record));
  return {
    id: record.id,
    name: record.name,
    services,
    ignored: record.skipped.map(({ port, reason }) => (port === undefined ? { reason } : { port, reason })),
  };
}

function serviceSnapshot(service: Service, record: ContainerStatus): ServiceSnapshot {
  const refusal = record.refusals.get(service.id);
  if (refusal && refusal.fingerprint === fingerprint(service)) {
    if (refusal.kind === "refused") return { ...basics(service), state: "refused", reason: refusal.reason };
    return {
      ...basics(service),
      state: "owned-elsewhere",
      reason: refusal.reason,
      owner: refusal.owner,
      nextAttemptAt: iso(refusal.retryAt),
    };
  }
  const registered = record.registered.get(service.id);
  if (registered && fingerprint(registered) === fingerprint(service)) return { ...basics(service), state: "registered" };
  return pending(service, record);
}

function pending(service: Service, record: ContainerStatus): ServiceSnapshot {
  const snapshot: ServiceSnapshot = { ...basics(service), state: "pending" };
  if (record.lastError !== undefined) snapshot.reason = record.lastError;
  if (record.retryAt !== undefined) snapshot.nextAttemptAt = iso(record.retryAt);
  return snapshot;
}

function basics(service: Service): Pick<ServiceSnapshot, "id" | "name" | "ip" | "port" | "tags"> {
  return { id: service.id, name: service.name, ip: service.ip, port: service.port, tags: [...service.tags] };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export interface SnapshotHead {
  hostId: string;
  backend: string;
  up: boolean;
  /** ms since the epoch. */
  lastSync?: number;
}

export function bridgeSnapshot(head: SnapshotHead, containers: ContainerSnapshot[]): BridgeSnapshot {
  const counts = { containers: containers.length, registered: 0, pending: 0, refused: 0, ownedElsewhere: 0, ignored: 0 };
  for (const container of containers) {
    counts.ignored += container.ignored.length;
    for (const { state } of container.services) {
      if (state === "registered") counts.registered++;
      else if (state === "pending") counts.pending++;
      else if (state === "refused") counts.refused++;
      else counts.ownedElsewhere++;
    }
  }
  const snapshot: BridgeSnapshot = { hostId: head.hostId, registry: { backend: head.backend, up: head.up }, counts, containers };
  if (head.lastSync !== undefined) snapshot.lastSync = iso(head.lastSync);
  return snapshot;
}
