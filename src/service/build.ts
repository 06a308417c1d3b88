/**
 * Container + options → services, by the rules of gliderlabs registrator v7 (with fayrus v9's additions).
 * The container is read once into a record (record.ts); each port then becomes a service from it.
 * Pure: no I/O, no clock. Everything a container can get wrong ends up in `skipped` with a reason.
 */
import { metadataForPort, splitTags, type ContainerMetadata, type PortMetadata } from "./metadata.js";
import {
  addressOf,
  byCodeUnits,
  defaultAddress,
  readContainer,
  type ContainerRecord,
  type PortBinding,
  type RelatedContainers,
} from "./record.js";
import type { BuildOptions, BuildResult, ContainerInfo, Service, Skipped } from "./types.js";

export { imageBaseName, type RelatedContainers } from "./record.js";

/** Keys that steer building and are not passed on as attributes. */
const DIRECTIVE_KEYS = ["id", "name", "tags", "network", "require_healthy"];
const MAX_IDENTIFIER_LENGTH = 255;
/** Tags and attributes of one service: far beyond any real use, far below what a registry entry may hold. */
export const MAX_METADATA_BYTES = 64 * 1024;
/** Tags and attributes of all the services of one container together, so that their building is bounded too. */
export const MAX_CONTAINER_METADATA_BYTES = 1024 * 1024;
const MAX_PORT_LINES = 8;
const MAX_PROBLEM_LINES = 8;
const PLAIN_NETWORK_MODES = new Set(["", "bridge", "default", "host", "none"]);

/** A container's own tags, rendered where SERVICE_TAGS holds a template, or why they cannot be. */
type TagsOf = (text: string | undefined) => { tags: string[]; problem?: string };

export function buildServices(container: ContainerInfo, options: BuildOptions, related: RelatedContainers = {}): BuildResult {
  const record = readContainer(container, options, related);
  if (typeof record === "string") return { services: [], skipped: [{ reason: record }] };
  const notes: Skipped[] = record.notes.map((reason) => ({ reason }));
  const published = options.internal ? record.ports : record.ports.filter((p) => p.hostPort !== "");
  if (published.length > options.maxServices) {
    const reason = `${published.length} ports would become services, more than --max-services ${options.maxServices}`;
    return { services: [], skipped: [...notes, { reason }] };
  }
  const skipped = [...notes, ...problemLines(record.problems)];
  const refused = containerProblem(record, options) ?? sizeProblem(record.metadata, options, published.length);
  if (refused) return { services: [], skipped: [...skipped, { reason: refused }] };
  skipped.push(...unpublished(record.ports, published));
  const tagsOf = containerTags(options);
  const services: Service[] = [];
  for (const port of published) {
    const meta = metadataForPort(record.metadata, port.exposedPort, port.protocol);
    const result = serviceFor(record, port, meta, published.length > 1, options, tagsOf);
    if (typeof result === "string") skipped.push({ port: port.key, reason: result });
    else services.push(result);
  }
  return { services, skipped };
}

/** Why none of the container's ports becomes a service. */
function containerProblem(record: ContainerRecord, options: BuildOptions): string | undefined {
  const unhealthy = healthProblem(record.healthStatus, record.metadata.generic.get("require_healthy"), options.requireHealthy ?? false);
  if (unhealthy) return unhealthy;
  if (record.ports.length === 0) return "no published ports";
  return record.labelled && "problem" in record.labelled ? record.labelled.problem : undefined;
}

/**
 * Metadata too big for every service, or for all of them together, is refused once, before it is
 * copied into each: the tags and attributes that every port carries at least are known up front.
 */
function sizeProblem(meta: ContainerMetadata, options: BuildOptions, services: number): string | undefined {
  if (services === 0) return undefined;
  const floor = everyPortBytes(meta, options.tags);
  if (floor > MAX_METADATA_BYTES) return `${floor} bytes of tags and attributes, more than ${MAX_METADATA_BYTES} per service`;
  if (floor * services <= MAX_CONTAINER_METADATA_BYTES) return undefined;
  return `${services} services of at least ${floor} bytes of tags and attributes each, more than ${MAX_CONTAINER_METADATA_BYTES} for one container`;
}

/** The `-tags` and generic attributes every service has; a generic value a port or range key may replace counts one byte. */
function everyPortBytes(meta: ContainerMetadata, optionTags: readonly string[]): number {
  const replaceable = new Set(meta.ranges.map((entry) => entry.key));
  for (const entries of meta.byPort.values()) for (const entry of entries) replaceable.add(entry.key);
  let bytes = metadataBytes(optionTags, {});
  for (const [key, value] of meta.generic) {
    if (!DIRECTIVE_KEYS.includes(key)) bytes += Buffer.byteLength(key) + (replaceable.has(key) ? 1 : Buffer.byteLength(value));
  }
  return bytes;
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

/** A container with a health check waits until healthy, where asked (SERVICE_REQUIRE_HEALTHY beats the option). */
function healthProblem(status: string | undefined, perContainer: string | undefined, byDefault: boolean): string | undefined {
  const required = perContainer !== undefined ? ["true", "1", "yes"].includes(perContainer.toLowerCase()) : byDefault;
  if (!required || status === undefined || status === "" || status === "none" || status === "healthy") return undefined;
  return `not healthy (health: ${status})`;
}

function serviceFor(
  record: ContainerRecord,
  port: PortBinding,
  meta: PortMetadata,
  isGroup: boolean,
  options: BuildOptions,
  tagsOf: TagsOf,
): Service | string {
  const values = meta.values;
  if (values.has("ignore")) return "SERVICE_IGNORE is set";
  const named = serviceName(record, port, meta, isGroup, options);
  if (named === undefined) return "no SERVICE_NAME and -explicit is set";
  const id = values.get("id") ?? defaultId(record, port, options);
  const problem = identifierProblem("name", named) ?? identifierProblem("id", id);
  if (problem) return problem;
  const address = serviceAddress(record, port, values.get("network"), options);
  if (typeof address !== "object") return address;
  const own = tagsOf(values.get("tags"));
  if (own.problem) return own.problem;
  const tags = [...own.tags, ...options.tags];
  if (port.protocol === "udp") tags.push("udp");
  const attrs = attributes(values);
  const size = metadataBytes(tags, attrs);
  if (size > MAX_METADATA_BYTES) return `${size} bytes of tags and attributes, more than ${MAX_METADATA_BYTES} per service`;
  const origin = {
    containerId: record.id,
    containerName: record.name,
    exposedPort: port.exposedPort,
    hostPort: port.hostPort,
    hostIp: address.hostIp,
    protocol: port.protocol,
  };
  return { id, name: named, ip: address.ip, port: address.port, tags, attrs, ttl: options.ttl, origin };
}

/** undefined under -explicit without a name. */
function serviceName(
  record: ContainerRecord,
  port: PortBinding,
  meta: PortMetadata,
  isGroup: boolean,
  options: BuildOptions,
): string | undefined {
  const name = meta.values.get("name");
  if (name === undefined && options.explicit) return undefined;
  // As in v7 and fayrus: a name meant for the port (or its range) gets no `-<port>` suffix.
  return isGroup && !meta.fromPort.has("name") ? `${name ?? record.defaultName}-${port.exposedPort}` : (name ?? record.defaultName);
}

function defaultId(record: ContainerRecord, port: PortBinding, options: BuildOptions): string {
  // One entry per node: every task of the service on this node claims the same id, and one holds it.
  const perNode = port.ingress && record.swarmService !== undefined && !options.internal;
  const id = perNode ? `${options.hostId}:${record.swarmService}:${port.hostPort}` : `${options.hostId}:${record.name}:${port.exposedPort}`;
  return port.protocol === "udp" ? `${id}:udp` : id;
}

function attributes(values: ReadonlyMap<string, string>): Record<string, string> {
  const attrs: Record<string, string> = {};
  for (const [key, value] of [...values].sort(([a], [b]) => byCodeUnits(a, b))) {
    if (!DIRECTIVE_KEYS.includes(key)) attrs[key] = value;
  }
  return attrs;
}

interface Address {
  ip: string;
  port: number;
  hostIp: string;
}

function serviceAddress(
  record: ContainerRecord,
  port: PortBinding,
  networkName: string | undefined,
  options: BuildOptions,
): Address | string {
  const mode = record.networkMode;
  const own = ownAddress(record, networkName ?? options.network, networkName !== undefined);
  if (typeof own !== "object") return own;
  // A host-network container has no address of its own (v7 registers it with an empty one): it is reached at the host's.
  const containerIp = mode === "host" && !own.ip ? options.ip || options.hostIp : own.ip;

  let hostIp = port.hostIp;
  // As upstream: a container on a user-defined network is reached at that network's address.
  if (!PLAIN_NETWORK_MODES.has(mode) && !mode.startsWith("container:")) hostIp = record.networks[mode]?.IPAddress || hostIp;
  if (hostIp === "0.0.0.0" || hostIp === "::") hostIp = options.hostIp;
  if (options.ip) hostIp = options.ip;

  // The routing mesh answers on the node's address, not on the task's.
  let ip = options.internal || (options.ipFromContainer && !port.ingress) ? containerIp : hostIp;
  if (record.labelled && "ip" in record.labelled) ip = record.labelled.ip;
  if (record.sharedIp) ip = record.sharedIp;
  if (!ip && record.swarmService !== undefined)
    return "no IP address on a network other containers reach (not ingress): attach the service to an overlay network";
  if (!ip) return "no IP address for the service";
  return { ip, port: Number(options.internal ? port.exposedPort : port.hostPort), hostIp };
}

/**
 * The container's own address. A network named by SERVICE_NETWORK must exist on the container;
 * one named by `--network` is preferred where attached; otherwise see defaultAddress.
 */
function ownAddress(record: ContainerRecord, network: string | undefined, strict: boolean): { ip: string } | string {
  const chosen = network ? record.networks[network] : undefined;
  if (chosen) return { ip: addressOf(chosen) };
  if (network && strict) {
    const attached = Object.keys(record.networks).sort().join(", ") || "none";
    return `not attached to network ${network} (attached: ${attached})`;
  }
  return { ip: defaultAddress(record.bridgeIp, record.networks, record.unreachable) };
}

function metadataBytes(tags: readonly string[], attrs: Readonly<Record<string, string>>): number {
  let bytes = 0;
  for (const tag of tags) bytes += Buffer.byteLength(tag);
  for (const [key, value] of Object.entries(attrs)) bytes += Buffer.byteLength(key) + Buffer.byteLength(value);
  return bytes;
}

/** SERVICE_TAGS, rendered first when it holds a Go template (fayrus v9): each template once, whatever the number of ports. */
function containerTags(options: BuildOptions): TagsOf {
  const rendered = new Map<string, ReturnType<TagsOf>>();
  return (text) => {
    if (text === undefined || !text.includes("{{")) return { tags: splitTags(text) };
    let result = rendered.get(text);
    if (!result) rendered.set(text, (result = renderTags(text, options.renderTemplate)));
    return result;
  };
}

function renderTags(text: string, render: BuildOptions["renderTemplate"]): ReturnType<TagsOf> {
  if (!render) return { tags: [], problem: "SERVICE_TAGS holds a template, but templates are not loaded" };
  try {
    return { tags: splitTags(render(text)) };
  } catch (err) {
    return { tags: [], problem: `SERVICE_TAGS: ${(err as Error).message}` };
  }
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
