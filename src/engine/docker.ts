/**
 * The Docker Engine API (and Podman's Docker-compatible one): connection, version negotiation,
 * listing and inspecting containers.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { HttpClient, type EndpointOptions } from "../http-client.js";
import type { ContainerInfo, Listed, SwarmFacts } from "../service/types.js";
import { SwarmReader, type TaskClaim } from "./swarm.js";

/** Newest API version whose fields this client reads; older daemons are spoken to in their own. */
const MAX_API_VERSION = "1.47";
/** Oldest API version with everything used here (health_status events, NetworkSettings.Networks). */
const MIN_API_VERSION = "1.24";

export interface ContainerSummary {
  Id: string;
  Names?: string[];
  State?: string;
  Ports?: unknown[];
  NetworkSettings?: { Networks?: Record<string, { EndpointID?: string; IPAddress?: string; GlobalIPv6Address?: string }> };
}

/**
 * What the container list shows of what services are built from: published ports and network
 * endpoints (a restart makes new ones). Env and labels cannot change without a new container.
 */
export function listedView(summary: ContainerSummary): string {
  const networks = Object.entries(summary.NetworkSettings?.Networks ?? {}).map(([name, n]) => [
    name,
    n.EndpointID,
    n.IPAddress,
    n.GlobalIPv6Address,
  ]);
  return JSON.stringify([summary.Ports ?? [], networks]);
}

/** DOCKER_HOST, DOCKER_CERT_PATH and friends cannot be used as set: the message says why. */
export class EngineConfigError extends Error {
  override name = "EngineConfigError";
}

/** An engine endpoint, with what start-up must warn about. */
export interface EngineEndpoint extends EndpointOptions {
  /** Set when the engine's TLS certificate is not verified, because DOCKER_TLS asked for TLS without verification. */
  warning?: string;
}

/**
 * Where the engine is, from DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_TLS and DOCKER_CERT_PATH, as the
 * docker CLI reads them. The certificate is verified unless DOCKER_TLS alone asks for TLS.
 */
export function engineEndpoint(env: NodeJS.ProcessEnv, exists: (path: string) => boolean = existsSync): EngineEndpoint {
  const host = env.DOCKER_HOST;
  if (!host) {
    // /tmp/docker.sock is where the documented container setup mounts the socket.
    const socketPath = exists("/tmp/docker.sock") ? "/tmp/docker.sock" : "/var/run/docker.sock";
    return { url: "http://docker", socketPath };
  }
  if (host.startsWith("unix://")) return { url: "http://docker", socketPath: host.slice("unix://".length) };
  if (host.startsWith("tcp://") || host.startsWith("http://") || host.startsWith("https://")) return tcpEndpoint(host, env);
  throw new EngineConfigError(`DOCKER_HOST ${JSON.stringify(host)} is not supported: use unix:///path/docker.sock or tcp://host:port`);
}

/** Set as the docker CLI's boolean variables are, except that "0" is off (the CLI would read it as on). */
function envFlag(value: string | undefined): boolean {
  return value !== undefined && value !== "" && value !== "0";
}

function tcpEndpoint(host: string, env: NodeJS.ProcessEnv): EngineEndpoint {
  const address = host.replace(/^(tcp|http|https):\/\//, "");
  const verifyAsked = envFlag(env.DOCKER_TLS_VERIFY);
  const tlsAsked = envFlag(env.DOCKER_TLS);
  if (!verifyAsked && !tlsAsked && !host.startsWith("https://")) return { url: `http://${address}` };
  const certDir = env.DOCKER_CERT_PATH || join(env.HOME ?? "/root", ".docker");
  // An https:// host without either variable still verifies: against ca.pem when there is one, else the system's CAs.
  const verify = verifyAsked || !tlsAsked;
  const files = verifyAsked ? requiredCerts(certDir) : presentCerts(certDir);
  const endpoint: EngineEndpoint = { url: `https://${address}`, tls: { ...files, rejectUnauthorized: verify } };
  if (!verify) {
    endpoint.warning =
      `DOCKER_TLS is set without DOCKER_TLS_VERIFY: the engine's TLS certificate at ${address} is not verified, ` +
      "so whoever can intercept the connection can pose as the engine; set DOCKER_TLS_VERIFY=1 with ca.pem in DOCKER_CERT_PATH";
  }
  return endpoint;
}

type CertFiles = { ca?: Buffer; cert?: Buffer; key?: Buffer };

/** DOCKER_TLS_VERIFY: all three, as before, so a missing file is named rather than silently skipped. */
function requiredCerts(certDir: string): CertFiles {
  const read = (name: string) => readCert(certDir, name) ?? unreadable(certDir, name, "ENOENT");
  return { ca: read("ca.pem"), cert: read("cert.pem"), key: read("key.pem") };
}

/** Whichever of ca.pem and the client pair exist; a client certificate without its key is a mistake. */
function presentCerts(certDir: string): CertFiles {
  const files: CertFiles = {};
  const ca = readCert(certDir, "ca.pem");
  const cert = readCert(certDir, "cert.pem");
  const key = readCert(certDir, "key.pem");
  if (ca) files.ca = ca;
  if (Boolean(cert) !== Boolean(key)) unreadable(certDir, cert ? "key.pem" : "cert.pem", "ENOENT");
  if (cert && key) Object.assign(files, { cert, key });
  return files;
}

/** The file, or undefined when it does not exist; other failures (permissions) are configuration errors. */
function readCert(certDir: string, name: string): Buffer | undefined {
  try {
    return readFileSync(join(certDir, name));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    return unreadable(certDir, name, code ?? String(err));
  }
}

function unreadable(certDir: string, name: string, why: string): never {
  throw new EngineConfigError(`cannot read ${name} in ${certDir} (DOCKER_CERT_PATH): ${why}`);
}

/** The version both sides speak: the daemon's own, capped at what this client knows. */
export function negotiateVersion(daemonVersion: string, daemonMinVersion = MIN_API_VERSION): string {
  const chosen = compareVersions(daemonVersion, MAX_API_VERSION) < 0 ? daemonVersion : MAX_API_VERSION;
  if (compareVersions(chosen, MIN_API_VERSION) < 0) {
    throw new Error(`the engine speaks API ${daemonVersion}; registrator needs ${MIN_API_VERSION} or newer`);
  }
  if (compareVersions(chosen, daemonMinVersion) < 0) {
    throw new Error(`the engine needs API ${daemonMinVersion} or newer; registrator speaks up to ${MAX_API_VERSION}`);
  }
  return chosen;
}

function compareVersions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split(".").map(Number);
  const [bMajor = 0, bMinor = 0] = b.split(".").map(Number);
  return aMajor - bMajor || aMinor - bMinor;
}

export class DockerClient {
  /** One per connection: a daemon reconnected to may have joined or left a swarm meanwhile. */
  private readonly swarm = new SwarmReader((path) => this.http.call("GET", this.path(path), { accept: [404, 503] }));

  private constructor(
    private readonly http: HttpClient,
    readonly apiVersion: string,
  ) {}

  /**
   * Connects and negotiates the API version. `/_ping` names the daemon's version in a header and is
   * cheap; `/version` (unversioned on every daemon) runs the engine's components to ask theirs, tens of
   * milliseconds, so it is asked only of a daemon newer than this client, for its oldest version.
   */
  static async connect(endpoint: EndpointOptions): Promise<DockerClient> {
    const http = new HttpClient({ ...endpoint, timeoutMs: endpoint.timeoutMs ?? 30_000 });
    try {
      const pinged = (await http.call("GET", "/_ping")).headers["api-version"];
      if (typeof pinged === "string" && compareVersions(pinged, MAX_API_VERSION) <= 0)
        return new DockerClient(http, negotiateVersion(pinged));
      const version = await http.json<{ ApiVersion?: string; MinAPIVersion?: string }>("GET", "/version");
      if (!version.ApiVersion) throw new Error("the engine did not say which API version it speaks");
      return new DockerClient(http, negotiateVersion(version.ApiVersion, version.MinAPIVersion));
    } catch (err) {
      http.close();
      throw err;
    }
  }

  get address(): string {
    return this.http.origin;
  }

  /** Answers within `timeoutMs`, or throws. */
  async ping(timeoutMs: number): Promise<void> {
    await this.http.call("GET", "/_ping", { timeoutMs });
  }

  /** The running containers. */
  async listRunning(): Promise<Listed[]> {
    return (await this.http.json<ContainerSummary[]>("GET", this.path("/containers/json"))).map((summary) => ({
      id: summary.Id,
      view: listedView(summary),
    }));
  }

  /** undefined when the container no longer exists. */
  async inspect(id: string): Promise<ContainerInfo | undefined> {
    const res = await this.http.call("GET", this.path(`/containers/${encodeURIComponent(id)}/json`), { accept: [404] });
    return res.status === 404 ? undefined : (JSON.parse(res.text) as ContainerInfo);
  }

  /**
   * This swarm node, and for a container whose labels say it is a swarm task (the claim), whether the
   * engine confirms it, with the task's service where this node can read it.
   */
  swarmTask(claim: TaskClaim): Promise<SwarmFacts> {
    return this.swarm.task(claim);
  }

  /** A swarm service changed (its `update` event): its tasks read it anew. */
  forgetSwarmService(serviceId: string): void {
    this.swarm.forget(serviceId);
  }

  /**
   * The container event stream (starts, deaths, removals and health changes; not creations), with
   * swarm services' updates (managers only report those); resolves once the daemon has accepted the
   * subscription.
   */
  async events(): Promise<Readable> {
    // Podman filters by its own names (died, remove) though it reports die and remove; dockerd
    // accepts names it does not know, so one filter serves both.
    const filters = encodeURIComponent(
      JSON.stringify({
        type: ["container", "service"],
        event: ["start", "die", "died", "destroy", "remove", "health_status", "update"],
      }),
    );
    return this.http.stream("GET", this.path(`/events?filters=${filters}`));
  }

  close(): void {
    this.http.close();
  }

  private path(p: string): string {
    return `/v${this.apiVersion}${p}`;
  }
}
