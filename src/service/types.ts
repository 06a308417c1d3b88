export type Protocol = "tcp" | "udp" | "sctp";

/** Where a service came from: the container port it describes. */
export interface ServiceOrigin {
  containerId: string;
  containerName: string;
  exposedPort: string;
  hostPort: string;
  hostIp: string;
  protocol: Protocol;
}

/** One registry entry: a published port of a running container. */
export interface Service {
  id: string;
  name: string;
  ip: string;
  port: number;
  tags: string[];
  attrs: Record<string, string>;
  ttl: number;
  origin: ServiceOrigin;
}

/** The options that shape how services are built from containers. */
export interface BuildOptions {
  /** This host's identity (`--host-id`, else the OS hostname): the first part of every default service id. */
  hostId: string;
  /** The address the hostname resolves to, used where a port is bound to 0.0.0.0 or ::. */
  hostIp: string;
  /** `-ip`: overrides every service's IP. */
  ip?: string;
  internal: boolean;
  explicit: boolean;
  useIpFromLabel?: string;
  /** `--ip-from-container`: the container's own IP (as `internal` picks it) with the published host port. */
  ipFromContainer: boolean;
  tags: string[];
  /** `-tags` holding a Go template: rendered per container into `tags` before building. */
  tagsTemplate?: string;
  /** Renders a container's own template (SERVICE_TAGS) against it; throws with the reason. */
  renderTemplate?: (source: string) => string;
  ttl: number;
  /** A container with more ports to register than this is ignored (`--max-services`). */
  maxServices: number;
  /** Preferred network when a container is on several (`--network`). */
  network?: string;
  /** Register containers that have a health check only while it reports healthy. */
  requireHealthy?: boolean;
}

export interface PortBindingSpec {
  HostIp?: string;
  HostPort?: string;
}

/** The subset of the engine's container inspect JSON that service building reads. */
export interface ContainerInfo {
  Id: string;
  Name: string;
  Config: {
    Image: string;
    Hostname?: string;
    Env?: string[] | null;
    Labels?: Record<string, string> | null;
    ExposedPorts?: Record<string, unknown> | null;
  };
  HostConfig?: {
    NetworkMode?: string;
  };
  NetworkSettings?: {
    IPAddress?: string;
    GlobalIPv6Address?: string;
    Ports?: Record<string, PortBindingSpec[] | null> | null;
    Networks?: Record<string, { IPAddress?: string; GlobalIPv6Address?: string }> | null;
  };
  State?: {
    Running?: boolean;
    ExitCode?: number;
    StartedAt?: string;
    Health?: { Status?: string; Log?: Array<{ Output?: string }> | null };
  };
}

/** A port a swarm service publishes, as its endpoint reports it (`GET /services/{id}`, Endpoint.Ports). */
export interface SwarmPort {
  protocol: Protocol;
  targetPort: number;
  publishedPort: number;
  /** ingress: the routing mesh answers on every node; host: only the task's own node, and the task's container shows the binding. */
  mode: "ingress" | "host";
}

/** A swarm service as a manager reads it. */
export interface SwarmService {
  /** Spec.Labels: metadata below the task container's own env and labels. */
  labels: Record<string, string>;
  ports: SwarmPort[];
}

/** What the engine says about a swarm task's node and service. */
export interface SwarmFacts {
  /** This engine's swarm node id; "" when it is in no swarm. */
  nodeId: string;
  /** Only managers can read services. */
  manager: boolean;
  /** Names of the routing mesh's networks, which no other container can reach a task on. */
  ingressNetworks: string[];
  /** The task's service; undefined on a worker, when the service is gone, or when the task is not confirmed. */
  service?: SwarmService;
  /**
   * On a manager, why the engine's record of the task (`GET /tasks/{id}`) does not name this
   * container, this node and the labelled service; the container is then a plain one. Unset when
   * confirmed, and on a worker, which has no task records to ask.
   */
  unconfirmed?: string;
}

/** A port that produced no service, and why: each one is logged as `ignored`. */
export interface Skipped {
  port?: string;
  reason: string;
}

export interface BuildResult {
  services: Service[];
  skipped: Skipped[];
}

/** A running container as the engine lists it. */
export interface Listed {
  id: string;
  /** What the list shows that services are built from; while it is unchanged, so is the last inspect. */
  view?: string;
}
