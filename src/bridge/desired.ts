/** What a container should have registered, decided from the engine's view of it. Pure. */
import { defaultIdOf } from "../registry/owner.js";
import type { DockerHealth, RegistryAdapter } from "../registry/types.js";
import type { BuildResult, ContainerInfo, Service, Skipped } from "../service/types.js";

export interface Accepted {
  services: Map<string, Service>;
  skipped: Skipped[];
  /** Ids another container holds: this one may have them once that one lets go. */
  heldElsewhere: Set<string>;
  /** Containers whose claim to an id this one outranks: they let it go. */
  outranked: Set<string>;
}

/** What the backend thinks of a service: why it cannot hold it, and what of it it leaves out. */
export interface BackendRules {
  validate(service: Service): string | undefined;
  dropped(service: Service): string[];
}

/** The backend's rules, as its adapter's capabilities state them (none: it takes everything). */
export function rulesOf(registry: RegistryAdapter): BackendRules {
  return {
    validate: (service) => registry.capabilities?.rules?.validate(service),
    dropped: (service) => registry.capabilities?.rules?.dropped?.(service) ?? [],
  };
}

/** A container's claim to a service id, as the rule of who keeps an id weighs it. */
export interface Claim {
  container: string;
  /** The id is this container's default one (`<host id>:<its name>:<port>`), not one a SERVICE_ID chose. */
  defaultOwner: boolean;
  /** When the container started (the engine's StartedAt, ISO 8601), "" when unknown. */
  startedAt: string;
  /** The registry acknowledged the id for it. */
  registered: boolean;
}

/**
 * Whether `claimant` takes an id from `holder`; never a matter of which was read first. The container
 * whose default id it is comes first; else a holder the registry acknowledged keeps it; else the one
 * that started first, and the container id settles a tie.
 */
export function outranks(claimant: Omit<Claim, "registered">, holder: Claim): boolean {
  if (claimant.defaultOwner !== holder.defaultOwner) return claimant.defaultOwner;
  if (holder.registered) return false;
  if (claimant.startedAt !== holder.startedAt)
    return holder.startedAt === "" || (claimant.startedAt !== "" && claimant.startedAt < holder.startedAt);
  return claimant.container < holder.container;
}

/** True when `service` has its container's default id on host `hostId`. */
export function isDefaultOwner(hostId: string, service: Service): boolean {
  return service.id === defaultIdOf(hostId, service.origin);
}

/** Who is asking: the container, its start, and the host id its default ids carry. */
export interface Claimant {
  container: string;
  startedAt: string;
  hostId: string;
}

/**
 * The built services this backend can hold and that no container with a better claim holds; each of
 * the others becomes a skipped port with its reason, and so does each part a backend leaves out.
 */
export function acceptServices(
  claimant: Claimant,
  built: BuildResult,
  backend: BackendRules,
  claimOf: (serviceId: string) => Claim | undefined,
): Accepted {
  const accepted: Accepted = { services: new Map(), skipped: [...built.skipped], heldElsewhere: new Set(), outranked: new Set() };
  for (const service of built.services) {
    const port = `${service.origin.exposedPort}/${service.origin.protocol}`;
    const holder = claimOf(service.id);
    const theirs = holder !== undefined && holder.container !== claimant.container ? holder : undefined;
    const mine = { container: claimant.container, startedAt: claimant.startedAt, defaultOwner: isDefaultOwner(claimant.hostId, service) };
    const invalid = backend.validate(service);
    const blocking = theirs && !outranks(mine, theirs) ? theirs : undefined;
    const problem = invalid ?? conflict(service, accepted.services, blocking);
    if (problem) {
      accepted.skipped.push({ port, reason: problem });
      if (!invalid && blocking) accepted.heldElsewhere.add(service.id);
      continue;
    }
    if (theirs) accepted.outranked.add(theirs.container);
    accepted.services.set(service.id, service);
    for (const reason of backend.dropped(service)) accepted.skipped.push({ port, reason });
  }
  return accepted;
}

function conflict(service: Service, siblings: ReadonlyMap<string, Service>, holder: Claim | undefined): string | undefined {
  if (siblings.has(service.id)) return `service id ${service.id} is used by another port of this container`;
  if (!holder) return undefined;
  return `service id ${service.id} is ${holder.registered ? "already registered for" : "claimed by"} container ${holder.container.slice(0, 12)}`;
}

/**
 * Whether a stopped container keeps its services: only under `-deregister on-success`, after a real
 * failure. An exit code with bit 128 set means a signal stopped it (`docker stop`: 137 or 143), which
 * v7's shouldRemove counts as a success.
 */
export function keepsServices(deregister: "always" | "on-success", destroyed: boolean, exitCode: number | undefined): boolean {
  const failed = exitCode !== undefined && exitCode !== 0 && (exitCode & 0x80) === 0;
  return deregister === "on-success" && !destroyed && failed;
}

/** Docker's health check state, for backends that mirror it; undefined without a health check. */
export function dockerHealth(info: ContainerInfo): DockerHealth | undefined {
  const status = info.State?.Health?.Status;
  return status ? { status, output: info.State?.Health?.Log?.at(-1)?.Output?.trim() ?? "" } : undefined;
}

/** When the engine started the container (ISO 8601), or "" when it does not say. */
export function startedAt(info: ContainerInfo): string {
  const started = info.State?.StartedAt;
  return typeof started === "string" ? started : "";
}
