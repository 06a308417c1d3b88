import type { Service } from "../service/types.js";
import type { Found } from "./owner.js";

export { OwnedElsewhereError, RejectedError } from "../errors.js";

/** Who holds an entry: this registrator's host identity and the container behind the service. */
export interface Owner {
  host: string;
  container: string;
}

/** A service the registry has acknowledged, as the bridge hands it to `refresh`. */
export interface Registered {
  service: Service;
  owner: Owner;
  /** The container's Docker health, for backends that mirror it into a check. */
  health?: DockerHealth;
}

export interface DockerHealth {
  /** `healthy`, `unhealthy` or `starting`. */
  status: string;
  /** The last probe's output. */
  output: string;
}

/** What a write found: an entry held under this host id by another container, which it took over. */
export interface Written {
  tookOver?: Owner;
}

/** Who holds each service id, as an adapter read it ahead of a container's writes. */
export type OwnerLookup = (serviceId: string) => Found;

/** What the bridge knows about a write, which an adapter may use to send less. */
export interface WriteHints {
  /** What this adapter's `readAhead` answered for the same container, when the bridge asked it. */
  readAhead?: Promise<OwnerLookup>;
  /**
   * The registry acknowledged this very service for this owner before, and nothing since said it was
   * lost: a `-resync` rewrite, whose entry is most likely still there as written. An adapter that can
   * compare in the request (etcd) only checks it then, and writes only what it finds gone or changed.
   */
  renewal?: boolean;
  /** A new service of a container whose start the engine just reported: its entry most likely does not exist yet. */
  fresh?: boolean;
}

/** A service read back from the registry, for `-cleanup`. */
export interface Stored {
  service: Service;
  /** Read from the entry's marker; undefined when registrator did not write it. */
  owner?: Owner;
}

/**
 * One registry backend: a translator from services to the backend's calls. It keeps no timers and no
 * copy of what is registered; the bridge holds that state and calls `refresh` on the schedule the
 * adapter declares. What the backend loses by itself is reported, and the bridge writes it again.
 */
export interface RegistryAdapter {
  /** Reachable? The only signal that says "registry down". */
  ping(): Promise<void>;
  /**
   * Creates the entry, or updates one this host id holds (atomically where the backend allows), with
   * the owner's marker. Throws OwnedElsewhereError for an entry of another host or tool, and
   * RejectedError when the registry will never take the service as it is. `hints` say what the bridge
   * knows that may spare a request; the rules stay the same without them.
   */
  register(service: Service, owner: Owner, hints?: WriteHints): Promise<Written | void>;
  /**
   * For backends that must read who holds an id before writing it (no conditional write): starts
   * that read now, beside the engine's inspect of a container that is probably new, so the write need
   * not wait for it. Shows every write that finished before it was called.
   */
  readAhead?(): Promise<OwnerLookup>;
  /** Removes the entry when `owner` holds it (or it is this host's unmarked default-id entry); else, or when missing, nothing. */
  deregister(service: Service, owner: Owner): Promise<void>;
  /** How often the bridge calls `refresh`, and how soon again after it failed. */
  readonly refreshSchedule?: RefreshSchedule;
  /**
   * Renews what expires (leases, heartbeats, mirrored health). Resolves with the services the registry
   * has lost, which the bridge registers again; rejects when a renewal failed for a passing reason.
   */
  refresh?(registered: readonly Registered[]): Promise<Service[]>;
  /**
   * What the registry holds in this adapter's scope, for `-cleanup`, each with the owner its marker
   * names. Entries without a marker are listed only where the adapter may remove them (see owner.ts,
   * Legacy). Only `id` and `name` need be exact.
   */
  services?(): Promise<Stored[]>;
  /** Why this backend cannot store the service (e.g. a name that is no DNS label), or undefined. */
  validate?(service: Service): string | undefined;
  /** What of the service this backend leaves out (an attribute it cannot hold), each with why. */
  dropped?(service: Service): string[];
  /** The container's Docker health changed, for backends that mirror it into a check. */
  health?(service: Service, health: DockerHealth): Promise<void>;
  /** Calls `listener` when the backend lost every entry at once (a ZooKeeper session that expired). */
  onLost?(listener: () => void): void;
  /** Said once at start-up, e.g. that an option does not apply to this backend. */
  readonly notice?: string;
  close(): Promise<void>;
}

export interface RefreshSchedule {
  everyMs: number;
  retryMs: number;
}

/** A registry URI taken apart. */
export interface RegistryUri {
  scheme: string;
  /** Everything between `//` and the path, as written: `host:port`, or a list for ZooKeeper. */
  authority: string;
  /** The first host of the authority, without brackets; empty when none was given. */
  host: string;
  port?: number;
  /** Decoded, without a trailing slash (`/` alone becomes empty). */
  path: string;
  query: URLSearchParams;
  raw: string;
}

export interface AdapterContext {
  uri: RegistryUri;
  /** `-ttl` in seconds; 0 = none. */
  ttl: number;
  /** `-ttl-refresh` in seconds. */
  ttlRefresh: number;
  env: NodeJS.ProcessEnv;
  /** `-cleanup` is on: adapters refuse a scope (a root path) where it could reach entries of others. */
  cleanup?: boolean;
}

export type AdapterFactory = (ctx: AdapterContext) => RegistryAdapter;

/** The registry URI cannot be used as written; the message says what a correct one looks like. */
export class InvalidUriError extends Error {
  override name = "InvalidUriError";
}
