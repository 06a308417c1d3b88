/**
 * An in-process stand-in for a Eureka server (no Eureka can be installed here), following the REST
 * API that Netflix Eureka 1.x/2.x documents and Spring Cloud Netflix's server serves, JSON only:
 *
 *   POST   <base>/apps/<APP>        {"instance": {...}}  → 204; 400 on a missing or mismatched field
 *   PUT    <base>/apps/<APP>/<id>   heartbeat            → 200; 404 for an unknown instance
 *   DELETE <base>/apps/<APP>/<id>                        → 200; 404 for an unknown instance
 *   GET    <base>/apps              {"applications": {"versions__delta", "apps__hashcode", "application": [...]}}
 *   GET    <base>/apps/<APP>        {"application": {"name", "instance": [...]}}; 404 when empty
 *   GET    <base>/apps/<APP>/<id>   {"instance": {...}}; 404 when unknown
 *
 * A lease lasts leaseInfo.durationInSecs (default 90) from the last registration or heartbeat; an
 * instance past it is gone from every answer. Not modelled: the read cache in front of GET /apps
 * (30 s in Eureka), the eviction timer (60 s) and its 2×duration lease quirk, self-preservation,
 * status overrides (PUT .../status), /apps/delta, /vips, XML, peer replication and authentication.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface StoredInstance {
  app: string;
  id: string;
  /** The instance as posted, with Eureka's lease fields filled in. */
  instance: Record<string, unknown>;
  registeredAt: number;
  lastRenewal: number;
  durationMs: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  status: number;
  accept: string;
}

export interface EurekaDouble {
  /** `http://127.0.0.1:PORT`. */
  origin: string;
  base: string;
  /** `eureka://127.0.0.1:PORT<base>`, for registrator. */
  uri: string;
  requests: RecordedRequest[];
  instance(app: string, id: string): StoredInstance | undefined;
  instances(): StoredInstance[];
  /** Adds an instance as if some client had registered it. */
  add(instance: Record<string, unknown>): void;
  /** Drops an instance without a DELETE, as a restarted Eureka would have. */
  forget(app: string, id: string): void;
  stop(): Promise<void>;
}

export interface EurekaDoubleOptions {
  /** The REST base; Spring Cloud's server uses /eureka, Netflix's war /eureka/v2. */
  base?: string;
  now?: () => number;
}

const DEFAULT_DURATION_SECONDS = 90;
const DEFAULT_RENEWAL_SECONDS = 30;

export async function startEurekaDouble(opts: EurekaDoubleOptions = {}): Promise<EurekaDouble> {
  const base = opts.base ?? "/eureka";
  const now = opts.now ?? Date.now;
  const registry = new Map<string, StoredInstance>();
  const requests: RecordedRequest[] = [];
  const keyOf = (app: string, id: string) => `${app.toUpperCase()}\u0000${id}`;

  const evictExpired = (): void => {
    for (const [key, stored] of registry) {
      if (now() - stored.lastRenewal > stored.durationMs) registry.delete(key);
    }
  };

  const store = (instance: Record<string, unknown>): StoredInstance => {
    const app = String(instance.app).toUpperCase();
    const id = instanceId(instance);
    const lease = (instance.leaseInfo ?? {}) as Record<string, unknown>;
    const durationSeconds = Number(lease.durationInSecs ?? DEFAULT_DURATION_SECONDS) || DEFAULT_DURATION_SECONDS;
    const at = now();
    const stored: StoredInstance = {
      app,
      id,
      instance: { ...instance, app },
      registeredAt: at,
      lastRenewal: at,
      durationMs: durationSeconds * 1000,
    };
    registry.set(keyOf(app, id), stored);
    return stored;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<number> => {
    evictExpired();
    const url = new URL(req.url ?? "/", "http://double");
    if (!url.pathname.startsWith(`${base}/apps`)) return send(res, 404, { error: `not under ${base}/apps` });
    const accept = req.headers.accept ?? "";
    if (req.method === "GET" && !accept.includes("json"))
      return send(res, 406, { error: "this double answers JSON only: send Accept: application/json" });
    const parts = url.pathname.slice(`${base}/apps`.length).split("/").filter(Boolean).map(decodeURIComponent);
    const [app, id, ...rest] = parts;
    if (rest.length > 0) return send(res, 404, { error: "unknown resource" });

    if (app === undefined) {
      if (req.method !== "GET") return send(res, 405, {});
      return send(res, 200, applicationsJson([...registry.values()]));
    }
    if (id === undefined) {
      if (req.method === "POST") return register(req, res, app);
      if (req.method !== "GET") return send(res, 405, {});
      const instances = [...registry.values()].filter((s) => s.app === app.toUpperCase());
      if (instances.length === 0) return send(res, 404, {});
      return send(res, 200, { application: applicationJson(app.toUpperCase(), instances) });
    }
    const stored = registry.get(keyOf(app, id));
    switch (req.method) {
      case "PUT":
        if (!stored) return send(res, 404, {});
        stored.lastRenewal = now();
        return send(res, 200, undefined);
      case "DELETE":
        if (!stored) return send(res, 404, {});
        registry.delete(keyOf(app, id));
        return send(res, 200, undefined);
      case "GET":
        if (!stored) return send(res, 404, {});
        return send(res, 200, { instance: instanceJson(stored) });
      default:
        return send(res, 405, {});
    }
  };

  const register = async (req: IncomingMessage, res: ServerResponse, app: string): Promise<number> => {
    if (!String(req.headers["content-type"] ?? "").includes("json")) return send(res, 415, { error: "send application/json" });
    let body: { instance?: Record<string, unknown> };
    try {
      body = JSON.parse(await readBody(req)) as typeof body;
    } catch {
      return send(res, 400, { error: "body is not JSON" });
    }
    const problem = registrationProblem(body.instance, app);
    // Eureka answers these with the bare message as the entity.
    if (problem) return send(res, 400, problem);
    store(body.instance!);
    return send(res, 204, undefined);
  };

  const server = createServer((req, res) => {
    handle(req, res).then(
      (status) => requests.push({ method: req.method ?? "", path: req.url ?? "", status, accept: req.headers.accept ?? "" }),
      (err: unknown) => {
        if (!res.headersSent) send(res, 500, { error: String(err) });
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    origin: `http://127.0.0.1:${port}`,
    base,
    uri: `eureka://127.0.0.1:${port}${base}`,
    requests,
    instance: (app, id) => {
      evictExpired();
      return registry.get(keyOf(app, id));
    },
    instances: () => {
      evictExpired();
      return [...registry.values()];
    },
    add: (instance) => void store(instance),
    forget: (app, id) => void registry.delete(keyOf(app, id)),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Eureka's InstanceInfo.getId(): the instanceId, else (for MyOwn data centers) the host name. */
function instanceId(instance: Record<string, unknown>): string {
  return String(instance.instanceId || instance.hostName || "");
}

/** The checks of Eureka's ApplicationResource.addInstance (1.10), in its order. */
function registrationProblem(instance: Record<string, unknown> | undefined, app: string): string | undefined {
  if (!instance || typeof instance !== "object") return "Missing instance";
  if (!instanceId(instance)) return "Missing instanceId";
  if (!instance.hostName) return "Missing hostname";
  if (!instance.ipAddr) return "Missing ip address";
  if (!instance.app) return "Missing appName";
  if (String(instance.app).toUpperCase() !== app.toUpperCase())
    return `Mismatched appName, expecting ${app.toUpperCase()} but was ${String(instance.app)}`;
  const dataCenter = instance.dataCenterInfo as Record<string, unknown> | undefined;
  if (!dataCenter) return "Missing dataCenterInfo";
  if (!dataCenter.name) return "Missing dataCenterInfo Name";
  return undefined;
}

function instanceJson(stored: StoredInstance): Record<string, unknown> {
  const lease = (stored.instance.leaseInfo ?? {}) as Record<string, unknown>;
  return {
    ...stored.instance,
    instanceId: stored.id,
    app: stored.app,
    status: stored.instance.status ?? "UP",
    overriddenStatus: "UNKNOWN",
    leaseInfo: {
      renewalIntervalInSecs: Number(lease.renewalIntervalInSecs ?? DEFAULT_RENEWAL_SECONDS),
      durationInSecs: stored.durationMs / 1000,
      registrationTimestamp: stored.registeredAt,
      lastRenewalTimestamp: stored.lastRenewal,
      evictionTimestamp: 0,
      serviceUpTimestamp: stored.registeredAt,
    },
    metadata: stored.instance.metadata ?? {},
    lastUpdatedTimestamp: String(stored.registeredAt),
    lastDirtyTimestamp: String(stored.registeredAt),
    actionType: "ADDED",
  };
}

function applicationJson(app: string, instances: StoredInstance[]): Record<string, unknown> {
  return { name: app, instance: instances.map(instanceJson) };
}

/** As Eureka's Jackson codec writes it: lists are always arrays; the hash counts instances by status. */
function applicationsJson(all: StoredInstance[]): Record<string, unknown> {
  const apps = new Map<string, StoredInstance[]>();
  for (const stored of all) apps.set(stored.app, [...(apps.get(stored.app) ?? []), stored]);
  return {
    applications: {
      versions__delta: "1",
      apps__hashcode: all.length > 0 ? `UP_${all.length}_` : "",
      application: [...apps].map(([app, instances]) => applicationJson(app, instances)),
    },
  };
}

function send(res: ServerResponse, status: number, body: unknown): number {
  if (body === undefined) {
    res.writeHead(status).end();
  } else if (typeof body === "string") {
    res.writeHead(status, { "content-type": "text/plain", "content-length": Buffer.byteLength(body) }).end(body);
  } else {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) }).end(text);
  }
  return status;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
