/**
 * Consul through the local agent: each service is an agent service with its health check
 * (`PUT /v1/agent/service/register`). A URI with a path means Consul KV instead (consulkv.ts),
 * as in upstream registrator, so this factory serves consul, consul-tls, consul-unix and consulkv.
 */
import { readFileSync } from "node:fs";
import { Batcher } from "../batcher.js";
import { HttpClient, type EndpointOptions, type TlsFiles } from "../http-client.js";
import type { Service } from "../service/types.js";
import {
  consulDropped,
  consulProblem,
  consulRefusal,
  consulRegistration,
  consulStatus,
  DOCKER_HEALTH_TTL_SECONDS,
  mirrorsDockerHealth,
} from "./consul-check.js";
import { ConsulKvAdapter } from "./consulkv.js";
import { hostPort } from "../address.js";
import { checkWrite, mayRemove, OWNER_FIELD_NAMES, ownerInFields, type Found } from "./owner.js";
import { storedService } from "./stored.js";
import {
  InvalidUriError,
  RejectedError,
  type AdapterFactory,
  type Capabilities,
  type DockerHealth,
  type Owner,
  type Registered,
  type RegistryAdapter,
  type RegistryUri,
  type Stored,
  type Written,
} from "./types.js";
import { httpOrigin } from "./uri.js";

const DEFAULT_HOST = "127.0.0.1";
const DEFAULT_HTTP_PORT = 8500;
const DEFAULT_HTTPS_PORT = 8501;
const REQUEST_TIMEOUT_MS = 10_000;

export const TTL_NOTICE = "-ttl and -ttl-refresh are not used with Consul: give services a TTL health check with SERVICE_CHECK_TTL instead";

export const create: AdapterFactory = (ctx) => {
  const http = new HttpClient(consulEndpoint(ctx.uri, ctx.env));
  if (isKvUri(ctx.uri)) return new ConsulKvAdapter(http, kvPrefix(ctx.uri), ctx.ttl);
  return new ConsulAdapter(http, ctx.ttl);
};

/** consulkv://, or consul:// / consul-tls:// with a path. For consul-unix the path is the socket. */
export function isKvUri(uri: RegistryUri): boolean {
  return uri.scheme === "consulkv" || (uri.scheme !== "consul-unix" && uri.path !== "");
}

/** The KV folder the URI names, without slashes at either end. */
export function kvPrefix(uri: RegistryUri): string {
  const prefix = uri.path.replace(/^\/+/, "").replace(/\/+$/, "");
  if (!prefix) throw new InvalidUriError(`${uri.scheme}:// needs a key path, e.g. consulkv://127.0.0.1:8500/services`);
  return prefix;
}

type ReadFile = (path: string) => Buffer;

/**
 * Where and how to reach the agent. The environment is read as Consul's own CLI reads it:
 * CONSUL_HTTP_TOKEN, and for consul-tls CONSUL_CACERT, CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY
 * (upstream registrator's CONSUL_TLSCERT / CONSUL_TLSKEY are accepted too).
 */
export function consulEndpoint(uri: RegistryUri, env: NodeJS.ProcessEnv, read: ReadFile = readFileSync): EndpointOptions {
  const headers: Record<string, string> = env.CONSUL_HTTP_TOKEN ? { "X-Consul-Token": env.CONSUL_HTTP_TOKEN } : {};
  const common = { headers, timeoutMs: REQUEST_TIMEOUT_MS };
  switch (uri.scheme) {
    case "consul-unix":
      return { url: "http://localhost", socketPath: unixSocketPath(uri), ...common };
    case "consul-tls":
      return { url: httpOrigin(uri, DEFAULT_HOST, DEFAULT_HTTPS_PORT, true), tls: consulTls(env, read), ...common };
    default:
      return { url: httpOrigin(uri, DEFAULT_HOST, DEFAULT_HTTP_PORT), ...common };
  }
}

function unixSocketPath(uri: RegistryUri): string {
  if (uri.authority !== "" || !uri.path.startsWith("/")) {
    throw new InvalidUriError(`consul-unix:// needs an absolute socket path after three slashes, e.g. consul-unix:///var/run/consul.sock`);
  }
  return uri.path;
}

function consulTls(env: NodeJS.ProcessEnv, read: ReadFile): TlsFiles {
  const ca = env.CONSUL_CACERT;
  const cert = env.CONSUL_CLIENT_CERT || env.CONSUL_TLSCERT;
  const key = env.CONSUL_CLIENT_KEY || env.CONSUL_TLSKEY;
  if (Boolean(cert) !== Boolean(key)) throw new InvalidUriError("CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY must be set together");
  const load = (name: string, path: string | undefined): Buffer | undefined => {
    if (!path) return undefined;
    try {
      return read(path);
    } catch (err) {
      throw new InvalidUriError(`${name}=${path}: cannot read it: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const tls: TlsFiles = {};
  const caFile = load("CONSUL_CACERT", ca);
  const certFile = load("CONSUL_CLIENT_CERT", cert);
  const keyFile = load("CONSUL_CLIENT_KEY", key);
  if (caFile) tls.ca = caFile;
  if (certFile) tls.cert = certFile;
  if (keyFile) tls.key = keyFile;
  return tls;
}

export interface AgentService {
  ID: string;
  Service: string;
  Tags?: string[] | null;
  Address?: string;
  Port?: number;
  Meta?: Record<string, string> | null;
}

/** Who holds each agent service id, and at what address, as one listing showed it. */
type OwnerLookup = (serviceId: string) => Found;

export class ConsulAdapter implements RegistryAdapter {
  readonly capabilities: Capabilities;
  /**
   * Consul 1.0 has no endpoint for one agent service (1.3 added it): the list it is. Reads share a
   * list, one out at a time, each sent after all its reads were asked, so it still shows every write
   * that finished before any of them.
   */
  private readonly ownerLists = new Batcher<void, OwnerLookup>(
    async (asks) => {
      const listed = await this.agentServices();
      const lookup: OwnerLookup = (id) => (Object.hasOwn(listed, id) ? foundIn(listed[id]!) : undefined);
      return asks.map(() => lookup);
    },
    { maxSize: Infinity, inFlight: 1 },
  );

  constructor(
    private readonly http: HttpClient,
    ttl = 0,
  ) {
    this.capabilities = {
      rules: { validate: consulProblem, dropped: consulDropped, ...(ttl > 0 && { notice: TTL_NOTICE }) },
      health: { update: (service, health) => this.health(service, health) },
      // Checks that mirror Docker health are TTL checks: re-sent well before the TTL runs out.
      renewal: {
        schedule: { everyMs: (DOCKER_HEALTH_TTL_SECONDS * 1000) / 3, retryMs: 2000 },
        renew: (registered) => this.renew(registered),
      },
    };
  }

  async ping(): Promise<void> {
    await this.http.json("GET", "/v1/status/leader");
  }

  /**
   * The agent's API has no check-and-set: the owner is read, then the service written. Two registrators
   * sharing one agent could both find an id free at the same moment; the later write wins.
   */
  async register(service: Service, owner: Owner): Promise<Written> {
    const built = consulRegistration(service, owner);
    if (!built.ok) throw new RejectedError(built.reason);
    const holders = await this.ownerLists.add();
    const written = checkWrite(holders(service.id), service, owner);
    await this.http.call("PUT", "/v1/agent/service/register", { body: built.registration, refusal: consulRefusal });
    return written;
  }

  async deregister(service: Service, owner: Owner): Promise<void> {
    const holders = await this.ownerLists.add();
    if (!mayRemove(holders(service.id), service, owner)) return;
    const path = `/v1/agent/service/deregister/${encodeURIComponent(service.id)}`;
    await this.http.call("PUT", path, { accept: isUnknownService });
  }

  async services(): Promise<Stored[]> {
    return Object.values(await this.agentServices()).map(storedFromAgent);
  }

  async close(): Promise<void> {
    this.http.close();
  }

  /** SERVICE_CHECK_DOCKER_HEALTH: the service's TTL check follows the container's Docker health. */
  private async health(service: Service, health: DockerHealth): Promise<void> {
    if (!mirrorsDockerHealth(service)) return;
    // A service's single check is named `service:<id>` by the agent.
    const path = `/v1/agent/check/update/${encodeURIComponent(`service:${service.id}`)}`;
    await this.http.call("PUT", path, { body: { Status: consulStatus(health.status), Output: health.output } });
  }

  /** Consul has no expiring registrations; only the mirrored Docker health must be said again. */
  private async renew(registered: readonly Registered[]): Promise<Service[]> {
    let failure: unknown;
    for (const { service, health } of registered) {
      if (health) await this.health(service, health).catch((err) => (failure ??= err));
    }
    if (failure) throw failure;
    return [];
  }

  private async agentServices(): Promise<Record<string, AgentService>> {
    return (await this.http.json<Record<string, AgentService> | null>("GET", "/v1/agent/services")) ?? {};
  }
}

/** An agent service as the ownership rules see it: its owner from Meta, and its address. */
function foundIn(agent: AgentService): Found {
  const owner = ownerInFields(agent.Meta);
  return { ...(owner && { owner }), address: hostPort(agent.Address ?? "", agent.Port ?? 0) };
}

/** An agent service as read back: the owner from Meta, and Meta without it as the attributes. */
export function storedFromAgent(agent: AgentService): Stored {
  const owner = ownerInFields(agent.Meta);
  const attrs = { ...agent.Meta };
  for (const key of OWNER_FIELD_NAMES) delete attrs[key];
  const service = {
    ...storedService(agent.ID, agent.Service, ""),
    ip: agent.Address ?? "",
    port: agent.Port ?? 0,
    tags: agent.Tags ?? [],
    attrs,
  };
  return owner ? { service, owner } : { service };
}

/** Already gone: Consul 1.0 answers 500 `Unknown service "x"`, later versions 404. */
export function isUnknownService(status: number, body: string): boolean {
  return status === 404 || (status === 500 && /unknown service/i.test(body));
}
