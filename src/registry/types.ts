import type { Service } from "../service/types.js";

/** One registry backend. Adapters know nothing about containers: they store services. */
export interface RegistryAdapter {
  /** Reachable? Used at start-up and before retrying after an outage. */
  ping(): Promise<void>;
  /** Idempotent: registering the same service twice is not an error. */
  register(service: Service): Promise<void>;
  /** Idempotent: a missing entry is not an error. */
  deregister(service: Service): Promise<void>;
  /** Renews TTLs; a no-op where the backend has none. */
  refresh(service: Service): Promise<void>;
  /** What is stored under this adapter's scope, for `-cleanup`. Only `id` and `name` need be exact. */
  services?(): Promise<Service[]>;
  /** Why this backend cannot store the service (e.g. a name that is no DNS label), or undefined. */
  validate?(service: Service): string | undefined;
  /**
   * The container's Docker health changed (`healthy`, `unhealthy`, `starting`) for a registered
   * service, with the last probe's output; for backends that can mirror it into a check.
   */
  health?(service: Service, status: string, output: string): Promise<void>;
  /** Said once at start-up, e.g. that an option does not apply to this backend. */
  readonly notice?: string;
  close(): Promise<void>;
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
}

export type AdapterFactory = (ctx: AdapterContext) => RegistryAdapter;

/** A write the registry refused for this service (bad metadata): retrying will not help. */
export class RejectedError extends Error {
  override name = "RejectedError";
}

/** The registry URI cannot be used as written; the message says what a correct one looks like. */
export class InvalidUriError extends Error {
  override name = "InvalidUriError";
}
