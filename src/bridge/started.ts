/**
 * A created container's inspect, as the engine will show it once started, where that can be known
 * at its creation. Then its start is registered at once, without waiting for the engine's answer
 * to an inspect while the engine is busy starting it. Pure.
 *
 * Only what the start cannot change is foreseen: every published port bound to a host port given
 * at creation, and a service address that is not the container's own (which the engine assigns at
 * the start). For any other container an inspect made at the start decides, as before.
 */
import { swarmTask } from "../service/swarm.js";
import type { BuildOptions, ContainerInfo, PortBindingSpec } from "../service/types.js";
import { usesTemplates } from "./templates.js";

const DEFAULT_BRIDGE_MODES = new Set(["", "bridge", "default"]);

/** undefined when the start decides something the services depend on. */
export function startedView(created: ContainerInfo, options: BuildOptions): ContainerInfo | undefined {
  if (created.State?.Running) return undefined;
  if (!addressKnownBeforeStart(created, options)) return undefined;
  // Health is only known once the check runs; Consul mirrors it, and it may hold services back.
  if (hasHealthCheck(created)) return undefined;
  // Templates may read anything the engine shows, addresses included.
  if (usesTemplates(created, options)) return undefined;
  if (swarmTask(created)) return undefined;
  const ports = portsOnceStarted(created);
  if (!ports) return undefined;
  return {
    ...created,
    NetworkSettings: { ...created.NetworkSettings, Ports: ports },
    State: { ...created.State, Running: true },
  };
}

/**
 * On the default bridge a published port is reached at the host's address; on a network of its
 * own, at the container's address there, unless `-ip` names the host's.
 */
function addressKnownBeforeStart(created: ContainerInfo, options: BuildOptions): boolean {
  if (options.internal || options.ipFromContainer) return false;
  const mode = created.HostConfig?.NetworkMode ?? "";
  if (DEFAULT_BRIDGE_MODES.has(mode)) return true;
  return options.ip !== undefined && options.ip !== "" && mode !== "host" && mode !== "none" && !mode.startsWith("container:");
}

function hasHealthCheck(created: ContainerInfo): boolean {
  const test = created.Config.Healthcheck?.Test;
  return Array.isArray(test) && test.length > 0 && test[0] !== "NONE";
}

/**
 * The port map the engine makes at the start: every exposed or bound port, with its binding as
 * asked. undefined when the engine would choose a host port (`-P`, `-p 80`, a range) or a port has
 * several bindings, whose order the engine decides.
 */
function portsOnceStarted(created: ContainerInfo): Record<string, PortBindingSpec[] | null> | undefined {
  if (created.HostConfig?.PublishAllPorts) return undefined;
  const bindings = created.HostConfig?.PortBindings ?? {};
  const ports: Record<string, PortBindingSpec[] | null> = {};
  for (const key of Object.keys(created.Config.ExposedPorts ?? {})) ports[key] = null;
  for (const [key, specs] of Object.entries(bindings)) {
    if (!specs || specs.length === 0) continue;
    const [spec] = specs;
    if (specs.length > 1 || !spec || !/^\d+$/.test(spec.HostPort ?? "")) return undefined;
    ports[key] = [{ HostIp: spec.HostIp || "0.0.0.0", HostPort: spec.HostPort }];
  }
  return ports;
}
