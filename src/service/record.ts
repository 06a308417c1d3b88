/**
 * A container read once into the plain record its services are built from: its names and addresses,
 * its metadata parsed once (env, labels, and a confirmed swarm service's labels beneath them), its
 * ports (its own, and those swarm's routing mesh publishes for it). Swarm's facts are applied here
 * and nowhere else. Pure.
 */
import { isIP } from "node:net";
import { mergeEnvAndLabels, parseContainerMetadata, unmatchedPortProblems, type ContainerMetadata } from "./metadata.js";
import { ingressPorts, nodeProblem, swarmTask, withServiceLabels } from "./swarm.js";
import type { BuildOptions, ContainerInfo, PortBindingSpec, Protocol, SwarmFacts, SwarmPort } from "./types.js";

/**
 * Extra facts the caller looked up: the container whose network this one shares (`--net container:<id>`),
 * and for a swarm task, its node, whether the engine confirms it, and its service.
 */
export interface RelatedContainers {
  networkContainer?: ContainerInfo;
  swarm?: SwarmFacts;
}

export interface PortBinding {
  /** `80/tcp` */
  key: string;
  exposedPort: string;
  protocol: Protocol;
  /** "" when not published. */
  hostPort: string;
  hostIp: string;
  /** Published by swarm's routing mesh: one entry per node, at the node's address. */
  ingress?: boolean;
}

export interface NetworkAddress {
  IPAddress?: string;
  GlobalIPv6Address?: string;
}

/** The address a network (or the default bridge) gives a container: its IPv4 one, else its IPv6 one, else "". */
export function addressOf(network: NetworkAddress | undefined): string {
  return network?.IPAddress || network?.GlobalIPv6Address || "";
}

export interface ContainerRecord {
  id: string;
  /** Without the leading `/`. */
  name: string;
  /** The service name where the metadata gives none. */
  defaultName: string;
  /** The swarm service of a task this engine vouches for: its ingress ports are one entry per node. */
  swarmService?: string;
  networkMode: string;
  /** `NetworkSettings.IPAddress`, else its IPv6 one. */
  bridgeIp: string;
  networks: Readonly<Record<string, NetworkAddress>>;
  /** Networks no other container reaches it on (swarm's routing mesh): never chosen unless named. */
  unreachable: readonly string[];
  /** `--net container:<id>`: the address of that container. */
  sharedIp?: string;
  /** `-useIpFromLabel`: the address, or why the label holds none. */
  labelled?: { ip: string } | { problem: string };
  healthStatus?: string;
  metadata: ContainerMetadata;
  /** Metadata keys dropped, with why. */
  problems: string[];
  /** Every port, sorted by number, then protocol. */
  ports: PortBinding[];
  /** Said about the container as a whole, whatever becomes of its ports. */
  notes: string[];
}

/** The record, or why this container is not for this registrator at all (a task of another node). */
export function readContainer(container: ContainerInfo, options: BuildOptions, related: RelatedContainers = {}): ContainerRecord | string {
  const claim = swarmTask(container);
  const unconfirmed = claim ? related.swarm?.unconfirmed : undefined;
  // A container is a task only where the engine vouches for it; any other is a plain container, which
  // takes nothing from swarm: not a service's name, labels, ingress ports or entry. A worker has no
  // task records to ask, so there the labels are believed: they give a name, which SERVICE_NAME gives
  // any container, and nothing more, since a worker reads no service and so no ingress port.
  const task = unconfirmed === undefined ? claim : undefined;
  const swarm = task ? related.swarm : undefined;
  const elsewhere = task && swarm ? nodeProblem(task, swarm) : undefined;
  if (elsewhere) return elsewhere;
  const settings = container.NetworkSettings;
  const ports = collectPorts(container, ingressPorts(swarm?.service));
  const metadata = parseContainerMetadata(
    withServiceLabels(mergeEnvAndLabels(container.Config.Env, container.Config.Labels), swarm?.service),
  );
  return {
    id: container.Id,
    name: container.Name.replace(/^\//, ""),
    // A swarm task is named after its service, which is what users call it (`docker service ls`).
    defaultName: task?.serviceName ?? defaultName(container),
    swarmService: task?.serviceName,
    networkMode: container.HostConfig?.NetworkMode ?? "",
    bridgeIp: addressOf(settings),
    networks: settings?.Networks ?? {},
    unreachable: swarm?.ingressNetworks ?? [],
    sharedIp: sharedAddress(container, related.networkContainer),
    labelled: labelledAddress(container, options.useIpFromLabel),
    healthStatus: container.State?.Health?.Status,
    metadata,
    problems: [...metadata.problems, ...unmatchedPortProblems(metadata, new Set(ports.map((p) => p.exposedPort)))],
    ports,
    notes:
      unconfirmed === undefined ? [] : [`swarm labels ignored, the engine does not confirm the task (${unconfirmed}): a plain container`],
  };
}

/**
 * The address a container is reached at when no network is named: its default bridge address, else
 * the first reachable network's by name, so the choice never depends on map order. "" for none.
 */
export function defaultAddress(
  bridgeIp: string,
  networks: Readonly<Record<string, NetworkAddress>>,
  unreachable: readonly string[] = [],
): string {
  if (bridgeIp) return bridgeIp;
  for (const name of Object.keys(networks).sort()) {
    if (unreachable.includes(name)) continue;
    const ip = addressOf(networks[name]);
    if (ip) return ip;
  }
  return "";
}

function sharedAddress(container: ContainerInfo, shared: ContainerInfo | undefined): string | undefined {
  if (!shared || !(container.HostConfig?.NetworkMode ?? "").startsWith("container:")) return undefined;
  const settings = shared.NetworkSettings;
  return defaultAddress(addressOf(settings), settings?.Networks ?? {}) || undefined;
}

/**
 * `-useIpFromLabel`: v7 cuts the value at its last `/` (a CIDR suffix, or anything else) and
 * registers what is left as is, host name or path. Registries take it for an address, so it must be one.
 */
function labelledAddress(container: ContainerInfo, label: string | undefined): ContainerRecord["labelled"] {
  const value = label ? container.Config.Labels?.[label] : undefined;
  if (!label || !value) return undefined;
  const slash = value.lastIndexOf("/");
  const ip = slash >= 0 ? value.slice(0, slash) : value;
  if (isIP(ip) === 0) return { problem: `label ${label} value ${JSON.stringify(value)} is not an IP address` };
  return { ip };
}

/**
 * Exposed ports first, as if published on the same host port (so `--net=host -p 80:80` works), then
 * the real bindings, then the ports swarm's routing mesh publishes for the task's service, unless the
 * container binds that port itself.
 */
function collectPorts(container: ContainerInfo, ingress: readonly SwarmPort[]): PortBinding[] {
  const byKey = new Map<string, PortBinding>();
  for (const key of Object.keys(container.Config.ExposedPorts ?? {})) {
    const binding = portBinding(key, { HostIp: "", HostPort: key.split("/")[0] ?? "" });
    if (binding) byKey.set(key, binding);
  }
  const bound = new Set<string>();
  for (const [key, bindings] of Object.entries(container.NetworkSettings?.Ports ?? {})) {
    const binding = portBinding(key, bindings?.[0]);
    if (binding) byKey.set(key, binding);
    if (binding?.hostPort) bound.add(key);
  }
  for (const port of ingress) {
    const key = `${port.targetPort}/${port.protocol}`;
    const binding = portBinding(key, { HostIp: "", HostPort: String(port.publishedPort) });
    if (binding && !bound.has(key)) byKey.set(key, { ...binding, ingress: true });
  }
  return [...byKey.values()].sort((a, b) => Number(a.exposedPort) - Number(b.exposedPort) || byCodeUnits(a.protocol, b.protocol));
}

function portBinding(key: string, first: PortBindingSpec | undefined): PortBinding | undefined {
  const [exposedPort = "", proto = "tcp"] = key.split("/");
  if (!/^\d+$/.test(exposedPort)) return undefined;
  const protocol: Protocol = proto === "udp" || proto === "sctp" ? proto : "tcp";
  return { key, exposedPort, protocol, hostPort: first?.HostPort ?? "", hostIp: first?.HostIp || "0.0.0.0" };
}

/** A stable order that, unlike localeCompare, needs no ICU data, which costs memory and time on first use. */
export function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The image's base name, as v7. For an image referenced by its id (compose-built images run as
 * `sha256:<hex>`) that would name every such service `sha256`, or a 64-digit hex string, so the
 * compose service, else the container's name, stands in: the inspect JSON holds none of the image's tags.
 */
function defaultName(container: ContainerInfo): string {
  if (!isImageId(container.Config.Image)) return imageBaseName(container.Config.Image);
  return container.Config.Labels?.["com.docker.compose.service"] || container.Name.replace(/^\//, "");
}

function isImageId(image: string): boolean {
  return /^sha256:[0-9a-f]+$/.test(image) || /^[0-9a-f]{64}$/.test(image);
}

/** `registry.example.com:5000/team/app:1.2@sha256:…` → `app` */
export function imageBaseName(image: string): string {
  const withoutDigest = image.split("@")[0] ?? "";
  const base = withoutDigest.slice(withoutDigest.lastIndexOf("/") + 1);
  return base.split(":")[0] ?? "";
}
