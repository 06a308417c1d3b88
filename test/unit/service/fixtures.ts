import type { BuildOptions, ContainerInfo } from "../../../src/service/types.js";

export const options = (overrides: Partial<BuildOptions> = {}): BuildOptions => ({
  hostId: "hostname",
  hostIp: "192.168.1.102",
  internal: false,
  explicit: false,
  ipFromContainer: false,
  maxServices: 256,
  tags: [],
  ttl: 0,
  ...overrides,
});

interface ContainerSpec {
  id?: string;
  name?: string;
  image?: string;
  env?: string[];
  labels?: Record<string, string>;
  /** `docker run -p` style: "10000:6379", "53:53/udp", "127.0.0.1:80:80". */
  publish?: string[];
  /** Exposed but not published. */
  expose?: string[];
  networkMode?: string;
  ip?: string;
  networks?: Record<string, { IPAddress?: string; GlobalIPv6Address?: string }>;
}

/** An inspect document as Docker 20.10 returns it for `docker run -p …`. */
export function container(spec: ContainerSpec = {}): ContainerInfo {
  const exposed: Record<string, object> = {};
  const ports: Record<string, Array<{ HostIp: string; HostPort: string }> | null> = {};
  for (const p of spec.publish ?? []) {
    const [mapping = "", proto = "tcp"] = p.split("/");
    const parts = mapping.split(":");
    const containerPort = parts.pop()!;
    const hostPort = parts.pop() ?? "";
    const hostIp = parts.pop();
    const key = `${containerPort}/${proto}`;
    exposed[key] = {};
    ports[key] = [{ HostIp: hostIp ?? "0.0.0.0", HostPort: hostPort }];
  }
  for (const p of spec.expose ?? []) {
    const key = p.includes("/") ? p : `${p}/tcp`;
    exposed[key] = {};
    ports[key] = null;
  }
  const networkMode = spec.networkMode ?? "default";
  return {
    Id: spec.id ?? "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    Name: `/${spec.name ?? "redis.0"}`,
    Config: {
      Image: spec.image ?? "dockerfile/redis",
      Env: spec.env ?? [],
      Labels: spec.labels ?? {},
      ExposedPorts: exposed,
    },
    HostConfig: { NetworkMode: networkMode },
    NetworkSettings: {
      IPAddress: spec.ip ?? (networkMode === "default" || networkMode === "bridge" ? "172.17.0.2" : ""),
      Ports: networkMode === "host" ? {} : ports,
      Networks: spec.networks ?? { bridge: { IPAddress: spec.ip ?? "172.17.0.2" } },
    },
    State: { Running: true, ExitCode: 0 },
  };
}

/** The same container as Docker 20.10 shows it once created, before its start: no addresses, no port map. */
export function created(spec: ContainerSpec = {}): ContainerInfo {
  const started = container(spec);
  const networks = Object.fromEntries(Object.keys(started.NetworkSettings?.Networks ?? {}).map((name) => [name, { IPAddress: "" }]));
  return {
    ...started,
    NetworkSettings: { IPAddress: "", Ports: {}, Networks: networks },
    State: { Running: false, ExitCode: 0 },
  };
}
