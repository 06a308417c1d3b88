/**
 * Start-up warnings: misconfigurations a user cannot see in the log otherwise, one line each with the
 * fix. Pure: the facts about the host and registrator's own container come in (src/explain/host.ts
 * reads them), so every case is a unit test.
 */
import { isIP } from "node:net";

export interface HostFacts {
  /** The registry URI as given (checked for `//` before any parsing). */
  uri: string;
  /** The URI's host; "" when it names none (the backend's default, 127.0.0.1, applies). */
  uriHost: string;
  /** The URI's scheme, lower-cased. */
  scheme: string;
  /** `-ip` was given. */
  ipGiven: boolean;
  /** `--host-id` was given. */
  hostIdGiven: boolean;
  /** The OS hostname. */
  hostname: string;
  /** The address the hostname resolves to (or -ip). */
  hostIp: string;
  /** /.dockerenv, /run/.containerenv, or a container runtime in /proc/self/cgroup. */
  inContainer: boolean;
  /** Registrator's own container id, when mountinfo or cgroup shows it. */
  containerId?: string;
  /** Its own container's network mode, when the engine told it. */
  networkMode?: string;
  /** Its own container's addresses on its networks, as the engine reports them. */
  containerAddresses: readonly string[];
}

/** Schemes whose URI names no network host. */
const LOCAL_SCHEMES = new Set(["file", "consul-unix"]);

export function startupWarnings(facts: HostFacts): string[] {
  return [uriShape(facts), loopbackRegistry(facts), bridgeAddress(facts), containerHostname(facts)].filter(
    (w): w is string => w !== undefined,
  );
}

/** `etcd:host:2379/path`: without `//`, the host is read as part of the path. */
function uriShape({ uri, scheme }: HostFacts): string | undefined {
  const match = /^([a-zA-Z][a-zA-Z0-9+.-]*):(?!\/\/)(.*)$/.exec(uri.trim());
  if (!match) return undefined;
  const rest = match[2]!;
  // `consul:/services` lacks the host altogether; `etcd:host:2379/path` only the slashes.
  const fixed = rest.startsWith("/") ? `${match[1]}://HOST:PORT${rest}` : `${match[1]}://${rest}`;
  return (
    `registry URI ${JSON.stringify(uri)} has no "//": what follows "${scheme}:" is read as a path, and the backend's ` +
    `default host is used; write ${JSON.stringify(fixed)}`
  );
}

/**
 * Whether registrator's own container has a network namespace of its own (bridge or user-defined),
 * where 127.0.0.1 is the container itself. Known from the engine, else from Docker's default hostname.
 */
function onContainerNetwork(facts: HostFacts): boolean {
  if (!facts.inContainer) return false;
  if (facts.networkMode !== undefined) return facts.networkMode !== "host" && !facts.networkMode.startsWith("container:");
  return looksLikeContainerId(facts.hostname, facts.containerId);
}

function loopbackRegistry(facts: HostFacts): string | undefined {
  if (LOCAL_SCHEMES.has(facts.scheme) || !onContainerNetwork(facts) || !isLoopback(facts.uriHost)) return undefined;
  const where = facts.uriHost === "" ? "127.0.0.1 (no host given)" : facts.uriHost;
  return (
    `the registry URI points at ${where}, which inside registrator's container is the container itself, not the ` +
    `host: use the host's address (e.g. the bridge gateway, 172.17.0.1), or run registrator with --net=host`
  );
}

function bridgeAddress(facts: HostFacts): string | undefined {
  if (facts.ipGiven || !onContainerNetwork(facts) || !facts.containerAddresses.includes(facts.hostIp)) return undefined;
  return (
    `no -ip, and the hostname ${facts.hostname} resolves to ${facts.hostIp}, registrator's own container address: ` +
    `services published on the host would be registered there; pass -ip with the host's address`
  );
}

function containerHostname(facts: HostFacts): string | undefined {
  if (facts.hostIdGiven || !facts.inContainer || !looksLikeContainerId(facts.hostname, facts.containerId)) return undefined;
  return (
    `the hostname ${facts.hostname} is registrator's container id, not the host's: service ids would be ` +
    `${facts.hostname}:<container>:<port> and change with every new registrator container; run it with ` +
    `--hostname=$(hostname) in docker run, or pass --host-id`
  );
}

/** Docker names a container's host after the first 12 digits of its id, unless `-h` says otherwise. */
function looksLikeContainerId(hostname: string, containerId: string | undefined): boolean {
  if (!/^[0-9a-f]{12}$/.test(hostname)) return false;
  return containerId === undefined || containerId.startsWith(hostname);
}

function isLoopback(host: string): boolean {
  if (host === "" || host.toLowerCase() === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  return host === "::1";
}

/**
 * Whether this process runs in a container, and which, from the files a container runtime leaves:
 * `/.dockerenv` (Docker), `/run/.containerenv` (Podman), the cgroup path, and the mount of the
 * engine's per-container files (`…/containers/<id>/hostname`). `read` answers undefined for a missing file.
 */
export function containerIdentity(read: (path: string) => string | undefined): { inContainer: boolean; containerId?: string } {
  const cgroup = read("/proc/self/cgroup") ?? "";
  const mountinfo = read("/proc/self/mountinfo") ?? "";
  const marker = read("/.dockerenv") !== undefined || read("/run/.containerenv") !== undefined;
  const inContainer = marker || /\/(docker|libpod|kubepods|containerd)[/-]/.test(cgroup);
  const id = /\/containers\/([0-9a-f]{64})\/hostname/.exec(mountinfo)?.[1] ?? /(?:docker|libpod)[/-]([0-9a-f]{64})/.exec(cgroup)?.[1];
  return id ? { inContainer, containerId: id } : { inContainer };
}
