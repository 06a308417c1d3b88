/**
 * Docker Swarm mode: what a task container's labels and its service's endpoint add to the rules of
 * build.ts. Pure: the engine's answers come in as SwarmFacts.
 */
import type { ContainerInfo, SwarmFacts, SwarmPort, SwarmService } from "./types.js";

export const SWARM_SERVICE_NAME = "com.docker.swarm.service.name";
export const SWARM_SERVICE_ID = "com.docker.swarm.service.id";
export const SWARM_NODE_ID = "com.docker.swarm.node.id";
export const SWARM_TASK_ID = "com.docker.swarm.task.id";

/** Who a task container says it is, from the labels swarm gives it: a claim until the engine confirms it. */
export interface SwarmTask {
  serviceName: string;
  serviceId: string;
  nodeId: string;
  /** "" when the label is missing. */
  taskId: string;
}

/** The task a container is, or undefined for a container that swarm did not start. */
export function swarmTask(container: ContainerInfo): SwarmTask | undefined {
  const labels = container.Config.Labels ?? {};
  const serviceName = labels[SWARM_SERVICE_NAME];
  const serviceId = labels[SWARM_SERVICE_ID];
  if (!serviceName || !serviceId) return undefined;
  return { serviceName, serviceId, nodeId: labels[SWARM_NODE_ID] ?? "", taskId: labels[SWARM_TASK_ID] ?? "" };
}

/**
 * Each node's registrator registers its own tasks only. A task labelled for another node would be
 * registered twice, once by its own node, so it is skipped, and so is one on an engine in no swarm.
 */
export function nodeProblem(task: Pick<SwarmTask, "nodeId">, facts: SwarmFacts): string | undefined {
  if (facts.nodeId === "") return `swarm task of node ${task.nodeId || "(none)"}, but this engine is in no swarm`;
  if (task.nodeId !== facts.nodeId) return `swarm task of node ${task.nodeId || "(none)"}, not of this node (${facts.nodeId})`;
  return undefined;
}

/**
 * The service's own labels under the container's env and labels: the service's come first, so
 * that, rank for rank, the container's keys are the later ones and win.
 */
export function withServiceLabels(own: ReadonlyMap<string, string>, service: SwarmService | undefined): ReadonlyMap<string, string> {
  if (!service) return own;
  const merged = new Map(Object.entries(service.labels));
  for (const [key, value] of own) {
    merged.delete(key);
    merged.set(key, value);
  }
  return merged;
}

/**
 * Ports the routing mesh publishes: they are on the service's endpoint, not on the container.
 * Host-mode ports are left out, since the container's own bindings show them.
 */
export function ingressPorts(service: SwarmService | undefined): SwarmPort[] {
  return (service?.ports ?? []).filter((port) => port.mode === "ingress" && port.publishedPort > 0);
}
