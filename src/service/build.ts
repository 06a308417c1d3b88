/**
 * Container + options → services, by the rules of gliderlabs registrator v7 (with fayrus v9's additions).
 * Pure: no I/O, no clock. Everything a container can get wrong ends up in `skipped` with a reason.
 */
import { isIP } from "node:net";
import {
  mergeEnvAndLabels,
  metadataForPort,
  parseContainerMetadata,
  splitTags,
  unmatchedPortProblems,
  type PortMetadata,
} from "./metadata.js";
import { ingressPorts, nodeProblem, swarmTask, withServiceLabels, type SwarmTask } from "./swarm.js";
import type { BuildOptions, BuildResult, ContainerInfo, Protocol, Service, Skipped, SwarmFacts, SwarmPort } from "./types.js";

/** Keys that steer building and are not passed on as attributes. */
const DIRECTIVE_KEYS = ["id", "name", "tags", "network", "require_healthy"];
const MAX_IDENTIFIER_LENGTH = 255;
/** Tags and attributes of one service: far beyond any real use, far below what a registry entry may hold. */
export const MAX_METADATA_BYTES = 64 * 1024;
const MAX_PORT_LINES = 8;
const MAX_PROBLEM_LINES = 8;
const PLAIN_NETWORK_MODES = new Set(["", "bridge", "default", "host", "none"]);

interface PortBinding {
  /** `80/tcp` */
  key: string;
  exposedPort: string;
  protocol: Protocol;
  hostPort: string;
  hostIp: string;
  /** Published by swarm's routing mesh: one entry per node, at the node's address. */
  ingress?: boolean;
}

/**
 * Extra facts the caller looked up: the container whose network this one shares (`--net container:<id>`),
 * and for a swarm task, its node and service.
 */
export interface RelatedContainers {
  networkContainer?: ContainerInfo;
  swarm?: SwarmFacts;
}

/** What every port of one container shares. */
interface ContainerFacts extends RelatedContainers {
  /** From `-useIpFromLabel`, checked once per container. */
  labelledIp?: string | undefined;
  task?: SwarmTask | undefined;
}

export function buildServices(container: ContainerInfo, options: BuildOptions, related: RelatedContainers = {}): BuildResult {
  const claim = swarmTask(container);
  const unconfirmed = claim ? related.swarm?.unconfirmed : undefined;
  // A container is a task only where the engine confirms it; anything else is a plain container, which
  // takes nothing from swarm's facts: not a service's name, labels or ingress entry.
  const task = unconfirmed === undefined ? claim : undefined;
  const swarm = task ? related.swarm : undefined;
  const elsewhere = task && swarm ? nodeProblem(task, swarm) : undefined;
  if (elsewhere) return { services: [], skipped: [{ reason: elsewhere }] };
  const notes: Skipped[] = unconfirmed === undefined ? [] : [{ reason: `swarm labels ignored, the engine does not confirm the task (${unconfirmed}): a plain container` }];
  const ports = collectPorts(container, ingressPorts(swarm?.service));
  const published = options.internal ? ports : ports.filter((p) => p.hostPort !== "");
  if (published.length > options.maxServices) {
    const reason = `${published.length} ports would become services, more than --max-services ${options.maxServices}`;
    return { services: [], skipped: [...notes, { reason }] };
  }
  const own = mergeEnvAndLabels(container.Config.Env, container.Config.Labels);
  const meta = parseContainerMetadata(withServiceLabels(own, swarm?.service));
  const problems = [...meta.problems, ...unmatchedPortProblems(meta, new Set(ports.map((p) => p.exposedPort)))];
  const skipped: Skipped[] = [...notes, ...problemLines(problems)];
  const unhealthy = healthProblem(container, meta.generic.get("require_healthy"), options.requireHealthy ?? false);
  if (unhealthy) return { services: [], skipped: [...skipped, { reason: unhealthy }] };
  if (ports.length === 0) return { services: [], skipped: [...skipped, { reason: "no published ports" }] };
  const labelled = labelledAddress(container, options.useIpFromLabel);
  if (typeof labelled === "string") return { services: [], skipped: [...skipped, { reason: labelled }] };
  const facts: ContainerFacts = { ...related, swarm, labelledIp: labelled?.ip, task };

  skipped.push(...unpublished(ports, published));
  const isGroup = published.length > 1;
  const services: Service[] = [];
  for (const port of published) {
    const portMeta = metadataForPort(meta, port.exposedPort, port.protocol);
    const result = buildService(container, port, portMeta, isGroup, options, facts);
    if (typeof result === "string") skipped.push({ port: port.key, reason: result });
    else services.push(result);
  }
  return { services, skipped };
}

/** One line per key dropped, up to a few, then one that counts the rest: a container may have thousands. */
function problemLines(problems: readonly string[]): Skipped[] {
  const lines = problems.slice(0, MAX_PROBLEM_LINES).map((reason) => ({ reason: `metadata key ignored: ${reason}` }));
  const more = problems.length - lines.length;
  if (more > 0) lines.push({ reason: `metadata key ignored: ${more} more keys` });
  return lines;
}

/** One line per port, or one for them all when there are many (`EXPOSE 1-65535`). */
function unpublished(ports: readonly PortBinding[], published: readonly PortBinding[]): Skipped[] {
  const chosen = new Set(published);
  const left = ports.filter((port) => !chosen.has(port));
  if (left.length > MAX_PORT_LINES) return [{ reason: `${left.length} ports not published on host` }];
  return left.map((port) => ({ port: port.key, reason: "port not published on host" }));
}

/**
 * `-useIpFromLabel`: v7 cuts the value at its last `/` (a CIDR suffix, or anything else) and
 * registers what is left as is, host name or path. Registries take it for an address, so it must be one.
 */
function labelledAddress(container: ContainerInfo, label: string | undefined): { ip: string } | string | undefined {
  const value = label ? container.Config.Labels?.[label] : undefined;
  if (!label || !value) return undefined;
  const slash = value.lastIndexOf("/");
  const ip = slash >= 0 ? value.slice(0, slash) : value;
  if (isIP(ip) === 0) return `label ${label} value ${JSON.stringify(value)} is not an IP address`;
  return { ip };
}

/** A container with a health check waits until healthy, where asked (SERVICE_REQUIRE_HEALTHY beats the option). */
function healthProblem(container: ContainerInfo, perContainer: string | undefined, byDefault: boolean): string | undefined {
  const required = perContainer !== undefined ? ["true", "1", "yes"].includes(perContainer.toLowerCase()) : byDefault;
  const status = container.State?.Health?.Status;
  if (!required || status === undefined || status === "" || status === "none" || status === "healthy") return undefined;
  return `not healthy (health: ${status})`;
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
  return [...byKey.values()].sort(
    (a, b) => Number(a.exposedPort) - Number(b.exposedPort) || byCodeUnits(a.protocol, b.protocol),
  );
}

function portBinding(key: string, first: { HostIp?: string; HostPort?: string } | undefined): PortBinding | undefined {
  const [exposedPort = "", proto = "tcp"] = key.split("/");
  if (!/^\d+$/.test(exposedPort)) return undefined;
  const protocol: Protocol = proto === "udp" || proto === "sctp" ? proto : "tcp";
  return { key, exposedPort, protocol, hostPort: first?.HostPort ?? "", hostIp: first?.HostIp || "0.0.0.0" };
}

function buildService(
  container: ContainerInfo,
  port: PortBinding,
  meta: PortMetadata,
  isGroup: boolean,
  options: BuildOptions,
  facts: ContainerFacts,
): Service | string {
  const values = meta.values;
  if (values.has("ignore")) return "SERVICE_IGNORE is set";

  let name = values.get("name");
  if (name === undefined) {
    if (options.explicit) return "no SERVICE_NAME and -explicit is set";
    // A swarm task is named after its service, which is what users call it (`docker service ls`).
    name = facts.task?.serviceName ?? defaultName(container);
  }
  if (isGroup && !meta.fromPort.has("name")) name = `${name}-${port.exposedPort}`;

  const containerName = container.Name.replace(/^\//, "");
  let id = `${options.hostname}:${containerName}:${port.exposedPort}`;
  // One entry per node: every task of the service on this node claims the same id, and one holds it.
  if (port.ingress && facts.task && !options.internal) id = `${options.hostname}:${facts.task.serviceName}:${port.hostPort}`;
  if (port.protocol === "udp") id += ":udp";
  id = values.get("id") ?? id;

  const problem = identifierProblem("name", name) ?? identifierProblem("id", id);
  if (problem) return problem;

  const address = serviceAddress(container, port, values.get("network"), options, facts);
  if (typeof address !== "object") return address;

  const ownTags = containerTags(values.get("tags"), options);
  if (ownTags.problem) return ownTags.problem;
  const tags = [...ownTags.tags, ...options.tags];
  if (port.protocol === "udp") tags.push("udp");

  const attrs: Record<string, string> = {};
  for (const [key, value] of [...values].sort(([a], [b]) => byCodeUnits(a, b))) {
    if (!DIRECTIVE_KEYS.includes(key)) attrs[key] = value;
  }
  const size = metadataBytes(tags, attrs);
  if (size > MAX_METADATA_BYTES) return `${size} bytes of tags and attributes, more than ${MAX_METADATA_BYTES} per service`;

  return {
    id,
    name,
    ip: address.ip,
    port: address.port,
    tags,
    attrs,
    ttl: options.ttl,
    origin: {
      containerId: container.Id,
      containerName,
      exposedPort: port.exposedPort,
      hostPort: port.hostPort,
      hostIp: address.hostIp,
      protocol: port.protocol,
    },
  };
}

interface Address {
  ip: string;
  port: number;
  hostIp: string;
}

function serviceAddress(
  container: ContainerInfo,
  port: PortBinding,
  networkName: string | undefined,
  options: BuildOptions,
  facts: ContainerFacts,
): Address | string {
  const networkMode = container.HostConfig?.NetworkMode ?? "";
  const own = containerAddress(container, networkName ?? options.network, networkName !== undefined, facts.swarm?.ingressNetworks);
  if (typeof own !== "object") return own;
  // A host-network container has no address of its own (v7 registers it with an empty one): it is reached at the host's.
  const containerIp = networkMode === "host" && !own.ip ? options.ip || options.hostIp : own.ip;

  let hostIp = port.hostIp;
  if (!PLAIN_NETWORK_MODES.has(networkMode) && !networkMode.startsWith("container:")) {
    // As upstream: a container on a user-defined network is reached at that network's address.
    hostIp = container.NetworkSettings?.Networks?.[networkMode]?.IPAddress || hostIp;
  }
  if (hostIp === "0.0.0.0" || hostIp === "::") hostIp = options.hostIp;
  if (options.ip) hostIp = options.ip;

  // The routing mesh answers on the node's address, not on the task's.
  let ip = options.internal || (options.ipFromContainer && !port.ingress) ? containerIp : hostIp;
  const portNumber = Number(options.internal ? port.exposedPort : port.hostPort);

  if (facts.labelledIp) ip = facts.labelledIp;
  if (networkMode.startsWith("container:") && facts.networkContainer) {
    const shared = containerAddress(facts.networkContainer, undefined, false);
    if (typeof shared === "object" && shared.ip) ip = shared.ip;
  }
  if (!ip && facts.task) return "no IP address on a network other containers reach (not ingress): attach the service to an overlay network";
  if (!ip) return "no IP address for the service";
  return { ip, port: portNumber, hostIp };
}

/**
 * The container's own address. A network named by SERVICE_NETWORK must exist on the container;
 * one named by `--network` is preferred where attached. Otherwise the default bridge address, else the first attached network by name, so the choice never depends on map order.
 * A swarm task's address on the routing mesh's network is never chosen unless named: no other container can reach it there.
 */
function containerAddress(
  container: ContainerInfo,
  network: string | undefined,
  strict: boolean,
  unreachable: readonly string[] = [],
): { ip: string } | string {
  const networks = container.NetworkSettings?.Networks ?? {};
  if (network) {
    const chosen = networks[network];
    if (chosen) return { ip: chosen.IPAddress || chosen.GlobalIPv6Address || "" };
    if (strict) {
      const attached = Object.keys(networks).sort().join(", ") || "none";
      return `not attached to network ${network} (attached: ${attached})`;
    }
  }
  const settings = container.NetworkSettings;
  const defaultIp = settings?.IPAddress || settings?.GlobalIPv6Address;
  if (defaultIp) return { ip: defaultIp };
  for (const name of Object.keys(networks).sort()) {
    if (unreachable.includes(name)) continue;
    const candidate = networks[name];
    const ip = candidate?.IPAddress || candidate?.GlobalIPv6Address;
    if (ip) return { ip };
  }
  return { ip: "" };
}

function metadataBytes(tags: readonly string[], attrs: Readonly<Record<string, string>>): number {
  let bytes = 0;
  for (const tag of tags) bytes += Buffer.byteLength(tag);
  for (const [key, value] of Object.entries(attrs)) bytes += Buffer.byteLength(key) + Buffer.byteLength(value);
  return bytes;
}

/** SERVICE_TAGS, rendered first when it holds a Go template (fayrus v9). */
function containerTags(text: string | undefined, options: BuildOptions): { tags: string[]; problem?: string } {
  if (text === undefined || !text.includes("{{")) return { tags: splitTags(text) };
  if (!options.renderTemplate) return { tags: [], problem: "SERVICE_TAGS holds a template, but templates are not loaded" };
  try {
    return { tags: splitTags(options.renderTemplate(text)) };
  } catch (err) {
    return { tags: [], problem: `SERVICE_TAGS: ${(err as Error).message}` };
  }
}

/** A stable order that, unlike localeCompare, needs no ICU data, which costs memory and time on first use. */
function byCodeUnits(a: string, b: string): number {
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

/** Names and ids become key paths and URLs in the registries: nothing there may escape its place. */
function identifierProblem(kind: "name" | "id", value: string): string | undefined {
  if (value === "") return `empty service ${kind}`;
  if (value.length > MAX_IDENTIFIER_LENGTH) return `service ${kind} longer than ${MAX_IDENTIFIER_LENGTH} characters`;
  if (value === "." || value === "..") return `service ${kind} ${JSON.stringify(value)} is a path step`;
  if (value.includes("/")) return `service ${kind} ${JSON.stringify(value)} contains "/"`;
  if (/[\u0000-\u001f\u007f-\u009f]/.test(value)) return `service ${kind} ${JSON.stringify(value)} contains a control character`;
  return undefined;
}
