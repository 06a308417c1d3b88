/**
 * What the engine says about swarm tasks: this node (`GET /info`), the routing mesh's networks,
 * whether a container is the task its labels name (`GET /tasks/{id}`, managers only) and the task's
 * service (`GET /services/{id}`, managers only). Node and service answers are kept briefly, since
 * every task of a service asks the same; a service event forgets its service at once.
 */
import type { Response } from "../http-client.js";
import type { SwarmTask } from "../service/swarm.js";
import type { Protocol, SwarmFacts, SwarmPort, SwarmService } from "../service/types.js";

/** A change without an event (a node promoted or demoted) is seen within this long. */
export const SWARM_CACHE_MS = 10_000;

/** A GET on the engine's versioned API that answers 404 and 503 rather than throwing. */
export type EngineGet = (path: string) => Promise<Response>;

interface SwarmNode {
  nodeId: string;
  manager: boolean;
  ingressNetworks: string[];
}

type ServiceAnswer = SwarmService | undefined | "not a manager";

/** A task container's claim, as its labels make it. */
export type TaskClaim = Pick<SwarmTask, "taskId" | "serviceId"> & { containerId: string };

/** Task states before the engine has made the task's container (swarmkit's TaskState order). */
const BEFORE_CONTAINER = new Set(["new", "pending", "assigned", "accepted", "preparing", "ready", "starting"]);

interface Cached<T> {
  at: number;
  value: Promise<T>;
}

export class SwarmReader {
  private node?: Cached<SwarmNode>;
  private readonly services = new Map<string, Cached<ServiceAnswer>>();

  constructor(
    private readonly get: EngineGet,
    private readonly ttlMs = SWARM_CACHE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * This node, and on a manager, whether the engine confirms the claim, with the service when it
   * does and the service still exists. A worker cannot ask: it gets the node alone.
   */
  async task(claim: TaskClaim): Promise<SwarmFacts> {
    const node = await this.nodeInfo();
    if (!node.manager) return node;
    const unconfirmed = await this.confirm(claim, node.nodeId);
    const service = unconfirmed === undefined ? await this.service(claim.serviceId) : undefined;
    if (unconfirmed === "not a manager" || service === "not a manager") {
      // Demoted since /info was read.
      this.node = undefined;
      return { ...node, manager: false };
    }
    if (unconfirmed !== undefined) return { ...node, unconfirmed };
    return service ? { ...node, service } : node;
  }

  /** Read every time: a task's record is the one proof that swarm, not a user, made the container. */
  private async confirm(claim: TaskClaim, nodeId: string): Promise<string | undefined> {
    if (claim.taskId === "") return "no com.docker.swarm.task.id label";
    const res = await this.get(`/tasks/${encodeURIComponent(claim.taskId)}`);
    if (res.status === 503) return "not a manager";
    if (res.status === 404) return `the engine knows no task ${claim.taskId}`;
    return taskMismatch(JSON.parse(res.text), claim, nodeId);
  }

  /** The service changed: the next task that asks reads it again. */
  forget(serviceId: string): void {
    this.services.delete(serviceId);
  }

  private nodeInfo(): Promise<SwarmNode> {
    this.node = this.fresh(
      this.node,
      () => this.readNode(),
      (failed) => {
        if (this.node === failed) this.node = undefined;
      },
    );
    return this.node.value;
  }

  private service(serviceId: string): Promise<ServiceAnswer> {
    const entry = this.fresh(
      this.services.get(serviceId),
      () => this.readService(serviceId),
      (failed) => {
        if (this.services.get(serviceId) === failed) this.services.delete(serviceId);
      },
    );
    this.services.set(serviceId, entry);
    return entry.value;
  }

  /** The cached entry while young enough, else a new read; a failed read is not kept. */
  private fresh<T>(entry: Cached<T> | undefined, read: () => Promise<T>, drop: (failed: Cached<T>) => void): Cached<T> {
    if (entry && this.now() - entry.at < this.ttlMs) return entry;
    const cached = { at: this.now(), value: read() };
    cached.value.catch(() => drop(cached));
    return cached;
  }

  private async readNode(): Promise<SwarmNode> {
    const info = await this.get("/info");
    const node = parseSwarmNode(JSON.parse(info.text));
    if (node.nodeId === "") return { ...node, ingressNetworks: [] };
    const filters = encodeURIComponent(JSON.stringify({ driver: ["overlay"] }));
    const networks = await this.get(`/networks?filters=${filters}`);
    return { ...node, ingressNetworks: ingressNetworkNames(JSON.parse(networks.text)) };
  }

  private async readService(serviceId: string): Promise<ServiceAnswer> {
    const res = await this.get(`/services/${encodeURIComponent(serviceId)}`);
    // 404: removed, its tasks are going away; 503: this node is (no longer) a manager.
    if (res.status === 404) return undefined;
    if (res.status === 503) return "not a manager";
    return parseSwarmService(JSON.parse(res.text));
  }
}

/**
 * Why the engine's record of a task (`GET /tasks/{id}`) does not make this container that task, or
 * undefined when it names this container, this node and the labelled service. Throws while the task
 * has no container yet: its agent reports the container to the managers a moment after starting it.
 */
export function taskMismatch(raw: unknown, claim: TaskClaim, nodeId: string): string | undefined {
  const task = raw as {
    ServiceID?: string;
    NodeID?: string;
    Status?: { State?: string; ContainerStatus?: { ContainerID?: string } };
  } | null;
  const id = claim.taskId;
  if (task?.ServiceID !== claim.serviceId) return `task ${id} is of service ${task?.ServiceID || "(none)"}, not ${claim.serviceId}`;
  if (task.NodeID !== nodeId) return `task ${id} is on node ${task.NodeID || "(none)"}, not this node (${nodeId})`;
  const containerId = task.Status?.ContainerStatus?.ContainerID ?? "";
  if (containerId === "" && BEFORE_CONTAINER.has(task.Status?.State ?? "")) throw new Error(`swarm task ${id} names no container yet`);
  if (containerId !== claim.containerId) return `task ${id} is container ${containerId.slice(0, 12) || "(none)"}, not this one`;
  return undefined;
}

/** `GET /info`'s Swarm section: the node id, empty outside a swarm, and whether it can read the cluster's state. */
export function parseSwarmNode(info: unknown): Omit<SwarmNode, "ingressNetworks"> {
  const swarm = (info as { Swarm?: { NodeID?: string; ControlAvailable?: boolean; LocalNodeState?: string } } | null)?.Swarm;
  const active = swarm?.LocalNodeState === undefined || swarm.LocalNodeState === "active";
  return { nodeId: active ? (swarm?.NodeID ?? "") : "", manager: active && swarm?.ControlAvailable === true };
}

/** The routing mesh's networks (`docker network create --ingress`; by default the one called `ingress`). */
export function ingressNetworkNames(networks: unknown): string[] {
  if (!Array.isArray(networks)) return [];
  return (networks as Array<{ Name?: string; Ingress?: boolean }>)
    .filter((network) => network.Ingress === true && typeof network.Name === "string")
    .map((network) => network.Name as string)
    .sort();
}

/** `GET /services/{id}`: the labels of its spec and the ports its endpoint publishes (allocated ones included). */
export function parseSwarmService(raw: unknown): SwarmService {
  const service = raw as { Spec?: { Labels?: Record<string, string> | null }; Endpoint?: { Ports?: unknown[] | null } } | null;
  const labels = { ...(service?.Spec?.Labels ?? {}) };
  const ports = (service?.Endpoint?.Ports ?? []).map(swarmPort).filter((port): port is SwarmPort => port !== undefined);
  return { labels, ports };
}

function swarmPort(raw: unknown): SwarmPort | undefined {
  const port = raw as { Protocol?: string; TargetPort?: number; PublishedPort?: number; PublishMode?: string } | null;
  const targetPort = port?.TargetPort ?? 0;
  const publishedPort = port?.PublishedPort ?? 0;
  if (!isPort(targetPort) || !(isPort(publishedPort) || publishedPort === 0)) return undefined;
  const protocol: Protocol = port?.Protocol === "udp" || port?.Protocol === "sctp" ? port.Protocol : "tcp";
  // Swarm's default mode is ingress.
  return { protocol, targetPort, publishedPort, mode: port?.PublishMode === "host" ? "host" : "ingress" };
}

function isPort(n: unknown): n is number {
  return Number.isInteger(n) && (n as number) > 0 && (n as number) <= 65535;
}
