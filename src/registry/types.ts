import type { Owner } from "../errors.js";
import type { Service } from "../service/types.js";

export { OwnedElsewhereError, RejectedError } from "../errors.js";

export type { Owner } from "../errors.js";

/** A service read back from the registry, with the owner its marker names (undefined: no marker). */
export interface Stored {
  service: Service;
  owner?: Owner;
}

/** What a write found: an entry held under this host id by another container, which it took over. */
export interface Written {
  tookOver?: Owner;
}

/**
 * One registry backend: a translator from services to the backend's calls. It keeps no timers and no
 * copy of what is registered: the bridge holds that state and drives every periodic job. What the
 * backend loses by itself is reported, and the bridge writes it again. See owner.ts for who may
 * write or remove an entry.
 */
export interface RegistryAdapter {
  /** Reachable? The only signal that says "registry down". */
  ping(): Promise<void>;
  /**
   * Creates the entry, or updates one this owner holds, with the owner's marker, atomically where the
   * backend allows. Throws OwnedElsewhereError for an entry another owner or tool holds, and
   * RejectedError when the registry will never take the service as it is.
   */
  register(service: Service, owner: Owner): Promise<Written | void>;
  /** Removes the entry when `owner` holds it (owner.ts, mayRemove); a missing entry is no error. */
  deregister(service: Service, owner: Owner): Promise<void>;
  /**
   * The entries in this adapter's scope, each with the owner its marker names, for `-cleanup` and
   * `explain`. Only `id`, `name`, `ip` and `port` need be exact.
   */
  services(): Promise<Stored[]>;
  close(): Promise<void>;
  /** What only some backends add, each an object of its own. */
  readonly capabilities?: Capabilities;
}

export interface Capabilities {
  renewal?: Renewal;
  rules?: Rules;
  health?: HealthMirror;
}

/** Entries that expire or can be lost (TTLs, heartbeats, leases, sessions). */
export interface Renewal {
  /** How often the bridge calls `renew`, and how soon again after it failed; undefined: never. */
  readonly schedule?: { everyMs: number; retryMs: number };
  /** Renews what expires; resolves with the services the registry lost, to be written again. */
  renew(registered: readonly Registered[]): Promise<Service[]>;
  /** Calls `listener` when the backend lost every entry at once (a ZooKeeper session that expired). */
  onLost?(listener: () => void): void;
}

/** What the backend refuses or leaves out, asked before any write. */
export interface Rules {
  /** Why this backend cannot store the service (e.g. a name that is no DNS label), or undefined. */
  validate(service: Service): string | undefined;
  /** What of the service this backend leaves out (an attribute it cannot hold), each with why. */
  dropped?(service: Service): string[];
  /** Said once at start-up, e.g. that an option does not apply to this backend. */
  readonly notice?: string;
}

/** Consul: a container's Docker HEALTHCHECK mirrored into the service's TTL check. */
export interface HealthMirror {
  update(service: Service, health: DockerHealth): Promise<void>;
}

/** A service the registry has acknowledged, as the bridge hands it to `renew`. */
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
