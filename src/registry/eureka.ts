/**
 * Eureka over its REST API (`<base>/apps/...`, JSON). Eureka forgets an instance that misses heartbeats
 * for its lease duration, so the renewal heartbeats every instance every 30 s (Eureka's default
 * renewal interval) or every -ttl-refresh; an instance Eureka answers 404 for is registered again.
 */
import { HttpClient, HttpStatusError } from "../http-client.js";
import type { Service } from "../service/types.js";
import { checkWrite, mayRemove, OWNER_FIELD_NAMES, ownerAsFields, ownerFieldDropped, ownerInFields, type Found } from "./owner.js";
import { storedService } from "./stored.js";
import { httpOrigin } from "./uri.js";
import { hostPort } from "../address.js";
import {
  type AdapterFactory,
  type Capabilities,
  type Owner,
  type Registered,
  type RegistryAdapter,
  type RegistryUri,
  type Stored,
  type Written,
} from "./types.js";

export interface EurekaInstance {
  instanceId: string;
  hostName: string;
  app: string;
  ipAddr: string;
  vipAddress: string;
  status: "UP";
  port: { $: number; "@enabled": "true" };
  dataCenterInfo: { "@class": string; name: "MyOwn" };
  metadata: Record<string, string>;
  leaseInfo: { renewalIntervalInSecs: number; durationInSecs?: number };
}

export interface EurekaOptions {
  /** `-ttl`: the lease duration; 0 leaves Eureka's default (90 s). */
  ttl: number;
  /** How often to heartbeat, in seconds. */
  renewalSeconds: number;
}

/** The Go registrator's default when the URI has no host. */
const DEFAULT_HOST = "eureka";
const DEFAULT_PORT = 8761;
const DEFAULT_RENEWAL_SECONDS = 30;

export const create: AdapterFactory = (ctx) => {
  const { origin, base } = eurekaTarget(ctx.uri);
  const http = new HttpClient({ url: origin, headers: { accept: "application/json" }, timeoutMs: 10_000 });
  return new EurekaAdapter(http, base, { ttl: ctx.ttl, renewalSeconds: ctx.ttlRefresh > 0 ? ctx.ttlRefresh : DEFAULT_RENEWAL_SECONDS });
};

/** `eureka://host:8761/eureka` → origin `http://host:8761`, REST base `/eureka`. */
export function eurekaTarget(uri: RegistryUri): { origin: string; base: string } {
  return { origin: httpOrigin(uri, DEFAULT_HOST, DEFAULT_PORT), base: uri.path };
}

/** Eureka keeps application names in upper case. */
export function appName(service: Pick<Service, "name">): string {
  return service.name.toUpperCase();
}

export function instancePath(base: string, service: Pick<Service, "name" | "id">): string {
  return `${base}/apps/${encodeURIComponent(appName(service))}/${encodeURIComponent(service.id)}`;
}

/** The attributes as metadata, with the owner's keys, which no attribute may set. */
function instanceMetadata(attrs: Record<string, string>, owner?: Owner): Record<string, string> {
  const metadata = Object.fromEntries(Object.entries(attrs).filter(([key]) => !OWNER_FIELD_NAMES.includes(key)));
  if (owner) Object.assign(metadata, ownerAsFields(owner));
  return metadata;
}

export function instancePayload(service: Service, options: EurekaOptions, owner?: Owner): { instance: EurekaInstance } {
  return {
    instance: {
      instanceId: service.id,
      hostName: service.ip,
      app: appName(service),
      ipAddr: service.ip,
      vipAddress: service.name,
      status: "UP",
      port: { $: service.port, "@enabled": "true" },
      dataCenterInfo: { "@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo", name: "MyOwn" },
      metadata: instanceMetadata(service.attrs, owner),
      leaseInfo: {
        renewalIntervalInSecs: options.renewalSeconds,
        ...(options.ttl > 0 ? { durationInSecs: options.ttl } : {}),
      },
    },
  };
}

/** Why Eureka cannot hold this service, or undefined. */
export function serviceProblem(service: Service): string | undefined {
  if (service.name === "" || service.name.includes("/"))
    return `service name ${JSON.stringify(service.name)} cannot be a Eureka application name`;
  if (service.id.includes("/")) return `service id ${JSON.stringify(service.id)} cannot be a Eureka instance id: it contains "/"`;
  return undefined;
}

/**
 * The instances in a `GET <base>/apps` answer, each with the owner its metadata names. Older Eureka servers (XStream JSON) write a list of one
 * as a bare object and numbers as strings; both forms are read.
 */
export function flattenApps(body: unknown): Stored[] {
  const applications = (body as { applications?: { application?: unknown } } | undefined)?.applications;
  return listOf(applications?.application).flatMap((app) => {
    const { name = "", instance } = (app ?? {}) as { name?: string; instance?: unknown };
    return listOf(instance).flatMap((raw) => {
      const found = raw as Partial<{
        instanceId: string;
        hostName: string;
        ipAddr: string;
        vipAddress: string;
        port: { $?: unknown };
        metadata: unknown;
      }>;
      const id = found.instanceId || found.hostName;
      if (!id || !name) return [];
      // Our instances carry the original name as vipAddress; others are known by their application name.
      const serviceName = found.vipAddress && found.vipAddress.toUpperCase() === name.toUpperCase() ? found.vipAddress : name;
      const service = storedService(id, serviceName, "");
      service.ip = found.ipAddr ?? "";
      service.port = Number(found.port?.$ ?? 0);
      const owner = ownerInFields(found.metadata);
      return [owner ? { service, owner } : { service }];
    });
  });
}

function listOf(value: unknown): unknown[] {
  if (value === undefined || value === null || value === "") return [];
  return Array.isArray(value) ? value : [value];
}

/** What of a service Eureka leaves out: attributes that would set an owner field. */
function droppedAttributes(service: Service): string[] {
  return Object.keys(service.attrs)
    .filter((key) => OWNER_FIELD_NAMES.includes(key))
    .map(ownerFieldDropped);
}

class EurekaAdapter implements RegistryAdapter {
  readonly capabilities: Capabilities;

  constructor(
    private readonly http: HttpClient,
    private readonly base: string,
    private readonly options: EurekaOptions,
  ) {
    const everyMs = options.renewalSeconds * 1000;
    this.capabilities = {
      rules: { validate: serviceProblem, dropped: droppedAttributes },
      // Heartbeats; a failed round is tried again soon, well within Eureka's lease of several intervals.
      renewal: { schedule: { everyMs, retryMs: Math.min(everyMs, 5000) }, renew: (registered) => this.renew(registered) },
    };
  }

  async ping(): Promise<void> {
    await this.http.call("GET", `${this.base}/apps`, { refusal: (status) => (status === 404 ? this.baseHint() : undefined) });
  }

  /**
   * Eureka has no conditional write: the owner is read, then the instance posted. An instance the Go
   * registrator left (no marker) is ours only by the rules of owner.ts (this container's default id,
   * at the address we write).
   */
  async register(service: Service, owner: Owner): Promise<Written> {
    const written = checkWrite(await this.found(service), service, owner);
    const path = instancePath(this.base, service);
    const appPath = path.slice(0, path.lastIndexOf("/"));
    // Eureka answers 400 to an instance it will never accept (a missing or mismatched field).
    await this.http.call("POST", appPath, {
      body: instancePayload(service, this.options, owner),
      refusal: (status, body) => (status === 400 ? new HttpStatusError(status, body, `POST ${appPath}`).message : undefined),
    });
    return written;
  }

  async deregister(service: Service, owner: Owner): Promise<void> {
    if (!mayRemove(await this.found(service), service, owner)) return;
    await this.http.call("DELETE", instancePath(this.base, service), { accept: [404] });
  }

  /** Renews each lease; an instance Eureka answers 404 for (it restarted, or evicted it) is lost. */
  private async renew(registered: readonly Registered[]): Promise<Service[]> {
    const lost: Service[] = [];
    let failure: unknown;
    for (const { service } of registered) {
      try {
        const res = await this.http.call("PUT", instancePath(this.base, service), { accept: [404] });
        if (res.status === 404) lost.push(service);
      } catch (err) {
        failure ??= err;
      }
    }
    // Those lost meanwhile are found again by the retry, which comes soon.
    if (failure) throw failure;
    return lost;
  }

  /** Only marked instances: unmarked ones expire by themselves once nobody heartbeats them. */
  async services(): Promise<Stored[]> {
    return flattenApps(await this.http.json("GET", `${this.base}/apps`)).filter((stored) => stored.owner);
  }

  async close(): Promise<void> {
    this.http.close();
  }

  private async found(service: Service): Promise<Found> {
    const res = await this.http.call("GET", instancePath(this.base, service), { accept: [404] });
    if (res.status === 404) return undefined;
    const { instance } = JSON.parse(res.text) as { instance?: { metadata?: unknown; ipAddr?: string; port?: { $?: unknown } } };
    const owner = ownerInFields(instance?.metadata);
    const address = instance?.ipAddr === undefined ? undefined : hostPort(instance.ipAddr, Number(instance.port?.$ ?? 0));
    return { ...(owner && { owner }), ...(address !== undefined && { address }) };
  }

  private baseHint(): string {
    return `GET ${this.base}/apps: HTTP 404: is ${this.base || "/"} Eureka's REST base? Spring Cloud's is /eureka, e.g. eureka://127.0.0.1:8761/eureka`;
  }
}
