/** What a container should have registered, decided from the engine's view of it. Pure. */
import type { DockerHealth } from "../registry/types.js";
import type { BuildResult, ContainerInfo, Service, Skipped } from "../service/types.js";

export interface Accepted {
  services: Map<string, Service>;
  skipped: Skipped[];
}

/**
 * The built services this backend can hold and that no other container claims; each of the others
 * becomes a skipped port with its reason.
 */
export function acceptServices(
  containerId: string,
  built: BuildResult,
  validate: (service: Service) => string | undefined,
  holderOf: (serviceId: string) => string | undefined,
): Accepted {
  const services = new Map<string, Service>();
  const skipped: Skipped[] = [...built.skipped];
  for (const service of built.services) {
    const problem = validate(service) ?? conflict(containerId, service, services, holderOf);
    if (problem) skipped.push({ port: `${service.origin.exposedPort}/${service.origin.protocol}`, reason: problem });
    else services.set(service.id, service);
  }
  return { services, skipped };
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

/** Whether a stopped container keeps its services: only under `-deregister on-success`, after a failure. */
export function keepsServices(deregister: "always" | "on-success", destroyed: boolean, exitCode: number | undefined): boolean {
  return deregister === "on-success" && !destroyed && exitCode !== undefined && exitCode !== 0;
}

/** Docker's health check state, for backends that mirror it; undefined without a health check. */
export function dockerHealth(info: ContainerInfo): DockerHealth | undefined {
  const status = info.State?.Health?.Status;
  return status ? { status, output: info.State?.Health?.Log?.at(-1)?.Output?.trim() ?? "" } : undefined;
}
