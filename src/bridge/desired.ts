/** What a container should have registered, decided from the engine's view of it. Pure. */
import type { DockerHealth } from "../registry/types.js";
import type { BuildResult, ContainerInfo, Service, Skipped } from "../service/types.js";

export interface Accepted {
  services: Map<string, Service>;
  skipped: Skipped[];
  /** Ids another container holds: this one may have them once that one lets go. */
  heldElsewhere: Set<string>;
}

/** What the backend thinks of a service: why it cannot hold it, and what of it it leaves out. */
export interface BackendRules {
  validate(service: Service): string | undefined;
  dropped(service: Service): string[];
}

/**
 * The built services this backend can hold and that no other container claims; each of the others
 * becomes a skipped port with its reason, and so does each part a backend leaves out of a service.
 */
export function acceptServices(
  containerId: string,
  built: BuildResult,
  backend: BackendRules,
  holderOf: (serviceId: string) => string | undefined,
): Accepted {
  const services = new Map<string, Service>();
  const skipped: Skipped[] = [...built.skipped];
  const heldElsewhere = new Set<string>();
  for (const service of built.services) {
    const port = `${service.origin.exposedPort}/${service.origin.protocol}`;
    const problem = backend.validate(service) ?? conflict(containerId, service, services, holderOf);
    if (problem) {
      skipped.push({ port, reason: problem });
      const holder = holderOf(service.id);
      if (holder !== undefined && holder !== containerId) heldElsewhere.add(service.id);
      continue;
    }
    services.set(service.id, service);
    for (const reason of backend.dropped(service)) skipped.push({ port, reason });
  }
  return { services, skipped, heldElsewhere };
}

function conflict(
  containerId: string,
  service: Service,
  siblings: ReadonlyMap<string, Service>,
  holderOf: (serviceId: string) => string | undefined,
): string | undefined {
  if (siblings.has(service.id)) return `service id ${service.id} is used by another port of this container`;
  const holder = holderOf(service.id);
  return holder !== undefined && holder !== containerId ? `service id ${service.id} is already registered for container ${holder.slice(0, 12)}` : undefined;
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
