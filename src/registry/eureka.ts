/**
 * Eureka over its REST API (`<base>/apps/...`, JSON). Eureka forgets an instance that misses heartbeats
 * for its lease duration, so this adapter heartbeats what it registered on its own timer, every 30 s
 * (Eureka's default renewal interval) or every -ttl-refresh, and registers again when Eureka answers a
 * heartbeat with 404 (it restarted, or evicted the instance).
 */
import { HttpClient, HttpStatusError } from "../request.js";
import type { Service } from "../service/types.js";
import { SerialByKey } from "./serial.js";
import { storedService } from "./stored.js";
import { httpOrigin } from "./uri.js";
import { RejectedError, type AdapterFactory, type RegistryAdapter, type RegistryUri } from "./types.js";

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
/** A heartbeat younger than this share of the interval makes the next one unnecessary. */
const FRESH_SHARE = 0.75;

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

export function instancePayload(service: Service, options: EurekaOptions): { instance: EurekaInstance } {
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
      metadata: { ...service.attrs },
      leaseInfo: {
        renewalIntervalInSecs: options.renewalSeconds,
        ...(options.ttl > 0 ? { durationInSecs: options.ttl } : {}),
      },
    },
  };
}

/** Why Eureka cannot hold this service, or undefined. */
export function serviceProblem(service: Service): string | undefined {
  if (service.name === "" || service.name.includes("/")) return `service name ${JSON.stringify(service.name)} cannot be a Eureka application name`;
  if (service.id.includes("/")) return `service id ${JSON.stringify(service.id)} cannot be a Eureka instance id: it contains "/"`;
  return undefined;
}

/**
 * The instances in a `GET <base>/apps` answer. Older Eureka servers (XStream JSON) write a list of one
 * as a bare object and numbers as strings; both forms are read.
 */
export function flattenApps(body: unknown): Service[] {
  const applications = (body as { applications?: { application?: unknown } } | undefined)?.applications;
  return listOf(applications?.application).flatMap((app) => {
    const { name = "", instance } = (app ?? {}) as { name?: string; instance?: unknown };
    return listOf(instance).flatMap((raw) => {
      const found = raw as Partial<{ instanceId: string; hostName: string; ipAddr: string; vipAddress: string; port: { $?: unknown } }>;
      const id = found.instanceId || found.hostName;
      if (!id || !name) return [];
      // Our instances carry the original name as vipAddress; others are known by their application name.
      const serviceName = found.vipAddress && found.vipAddress.toUpperCase() === name.toUpperCase() ? found.vipAddress : name;
      const service = storedService(id, serviceName, "");
      service.ip = found.ipAddr ?? "";
      service.port = Number(found.port?.$ ?? 0);
      return [service];
    });
  });
}

function listOf(value: unknown): unknown[] {
  if (value === undefined || value === null || value === "") return [];
  return Array.isArray(value) ? value : [value];
}

export class EurekaAdapter implements RegistryAdapter {
  /** What we registered, by instance path, and when Eureka last renewed its lease. */
  private readonly registered = new Map<string, { service: Service; lastBeat: number }>();
  private readonly serial = new SerialByKey();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly http: HttpClient,
    private readonly base: string,
    private readonly options: EurekaOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.timer = setInterval(() => this.heartbeatAll(), options.renewalSeconds * 1000);
    this.timer.unref();
  }

  async ping(): Promise<void> {
    const res = await this.http.request("GET", `${this.base}/apps`);
    if (res.status === 404) {
      const hint = `is ${this.base || "/"} Eureka's REST base? Spring Cloud's is /eureka, e.g. eureka://127.0.0.1:8761/eureka`;
      throw new HttpStatusError(404, hint, `GET ${this.base}/apps`);
    }
    if (res.status < 200 || res.status >= 300) throw new HttpStatusError(res.status, res.text, `GET ${this.base}/apps`);
  }

  validate(service: Service): string | undefined {
    return serviceProblem(service);
  }

  register(service: Service): Promise<void> {
    const path = instancePath(this.base, service);
    return this.serial.run(path, async () => {
      await this.post(path, service);
      this.registered.set(path, { service, lastBeat: this.now() });
    });
  }

  deregister(service: Service): Promise<void> {
    const path = instancePath(this.base, service);
    this.registered.delete(path);
    return this.serial.run(path, async () => {
      const res = await this.http.request("DELETE", path);
      if (res.status !== 404 && (res.status < 200 || res.status >= 300)) throw new HttpStatusError(res.status, res.text, `DELETE ${path}`);
    });
  }

  refresh(service: Service): Promise<void> {
    const path = instancePath(this.base, service);
    const entry = this.registered.get(path);
    if (entry && this.fresh(entry.lastBeat)) return Promise.resolve();
    if (!entry) this.registered.set(path, { service, lastBeat: 0 });
    return this.serial.run(path, () => this.heartbeat(path));
  }

  async services(): Promise<Service[]> {
    return flattenApps(await this.http.json("GET", `${this.base}/apps`));
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.http.close();
  }

  private heartbeatAll(): void {
    for (const [path, entry] of this.registered) {
      // A failed heartbeat is tried again on the next tick; Eureka's lease outlasts several of them.
      if (!this.fresh(entry.lastBeat)) this.serial.run(path, () => this.heartbeat(path)).catch(() => undefined);
    }
  }

  /** Renews the lease; an instance Eureka no longer knows is registered again. */
  private async heartbeat(path: string): Promise<void> {
    const entry = this.registered.get(path);
    if (!entry) return;
    const res = await this.http.request("PUT", path);
    if (res.status === 404) {
      await this.post(path, entry.service);
    } else if (res.status < 200 || res.status >= 300) {
      throw new HttpStatusError(res.status, res.text, `PUT ${path}`);
    }
    entry.lastBeat = this.now();
  }

  private async post(path: string, service: Service): Promise<void> {
    const appPath = path.slice(0, path.lastIndexOf("/"));
    const res = await this.http.request("POST", appPath, { body: instancePayload(service, this.options) });
    if (res.status >= 200 && res.status < 300) return;
    const error = new HttpStatusError(res.status, res.text, `POST ${appPath}`);
    // Eureka answers 400 to an instance it will never accept (a missing or mismatched field).
    throw res.status === 400 ? new RejectedError(error.message) : error;
  }

  private fresh(lastBeat: number): boolean {
    return this.now() - lastBeat < this.options.renewalSeconds * 1000 * FRESH_SHARE;
  }

}
