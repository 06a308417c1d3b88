/** What the reconciler holds of one container, and what follows from it alone. Pure. */
import type { DockerHealth } from "../registry/types.js";
import type { Service, Skipped } from "../service/types.js";
import { isDefaultOwner, keepsServices } from "./desired.js";
import type { Lifecycle } from "./lifecycle.js";
import type { Refusal } from "./refusals.js";

export interface Tracked {
  lifecycle: Lifecycle;
  /** Write every desired service again at the next reconcile, not only what changed. */
  rewrite: boolean;
  /** Its name, without the leading slash, and when it started (ISO 8601): from its last read. */
  name: string;
  startedAt: string;
  desired: Map<string, Service>;
  registered: Map<string, Service>;
  refusals: Map<string, Refusal>;
  /** The ports that became no service, each with why, as last logged. */
  skipped: Skipped[];
  /** Ids it would have but another container holds: it is read again when they are let go. */
  heldElsewhere: Set<string>;
  /** The health the registry was last told, as `status\noutput`. */
  healthSent?: string;
  /** When it was first marked since it last agreed with the registry: for latency. */
  markedAt?: bigint;
  /** Why its last reconcile failed, while it waits for the retry. */
  lastError?: string;
}

export function newTracked(): Tracked {
  return {
    lifecycle: { is: "unread" },
    rewrite: false,
    name: "",
    startedAt: "",
    desired: new Map(),
    registered: new Map(),
    refusals: new Map(),
    skipped: [],
    heldElsewhere: new Set(),
  };
}

/** Stopped or removed, with nothing desired or registered: there is nothing left to remember. */
export function isDone(tracked: Tracked): boolean {
  const ended = tracked.lifecycle.is === "stopped" || tracked.lifecycle.is === "removed";
  return ended && tracked.registered.size === 0 && tracked.desired.size === 0;
}

/** The Docker health of a running container, for backends that mirror it. */
export function healthOf({ lifecycle }: Tracked): DockerHealth | undefined {
  return lifecycle.is === "running" ? lifecycle.health : undefined;
}

/** What a stopped or removed container keeps registered: only under -deregister on-success, after a failure. */
export function keptServices(deregister: "always" | "on-success", tracked: Tracked): Map<string, Service> {
  return keepsServices(deregister, tracked.lifecycle.is === "removed", exitCodeOf(tracked)) ? new Map(tracked.registered) : new Map();
}

/** The exit code the engine gave when the container stopped, if it gave one. */
export function exitCodeOf(tracked: Tracked): number | undefined {
  return tracked.lifecycle.is === "stopped" ? tracked.lifecycle.exitCode : undefined;
}

/**
 * A container new to a sync pass that has an id it may write only once every listed container was
 * read (one that is not its default id), still unwritten: the pass reconciles it again.
 */
export function waitsForPass(tracked: Tracked | undefined, hostId: string): boolean {
  return [...(tracked?.desired.values() ?? [])].some((service) => !tracked!.registered.has(service.id) && !isDefaultOwner(hostId, service));
}
