/**
 * What the running bridge knows, as `/status` and the status page show it: per container, each
 * service and where it stands with the registry. Plain data, safe to serialise.
 */

/** Where one service stands with the registry. */
export type ServiceState =
  /** The registry acknowledged it as it is. */
  | "registered"
  /** Not written yet, or a write failed for a reason that may pass: tried again at `nextAttemptAt`. */
  | "pending"
  /** The registry refused it as it is (`reason`); tried again when it changes. */
  | "refused"
  /** Another host or tool holds its id (`owner`); tried again at every resync and on a slow backoff. */
  | "owned-elsewhere";

export interface ServiceSnapshot {
  id: string;
  name: string;
  ip: string;
  port: number;
  tags: string[];
  state: ServiceState;
  /** Why it is not registered, for `refused` and `owned-elsewhere`, and the last error for `pending`. */
  reason?: string;
  /** Who holds it, for `owned-elsewhere`: a host id, or "another tool". */
  owner?: string;
  /** ISO 8601, for `pending` and `owned-elsewhere`. */
  nextAttemptAt?: string;
}

export interface ContainerSnapshot {
  /** The full container id. */
  id: string;
  /** Without the leading slash. */
  name: string;
  services: ServiceSnapshot[];
  /** Ports (or the whole container, without `port`) that become no service, each with why. */
  ignored: { port?: string; reason: string }[];
}

export interface BridgeSnapshot {
  /** This registrator's host id (the hostname, or `--host-id`). */
  hostId: string;
  registry: { backend: string; up: boolean };
  /** ISO 8601 time the last full sync with the engine finished, if one has. */
  lastSync?: string;
  counts: { containers: number; registered: number; pending: number; refused: number; ownedElsewhere: number; ignored: number };
  containers: ContainerSnapshot[];
}
