/**
 * An in-process stand-in for Flynn's discoverd (Flynn is no longer developed and discoverd has no
 * package), following discoverd/server/handler.go and store.go and pkg/httphelper:
 *
 *   GET    /ping                               → 200
 *   PUT    /services/<name>      {"leader_type"} → 200; 409 object_exists when it exists; 400 for a name
 *                                                 outside [a-z0-9-]; 500 for an empty body (Go's io.EOF)
 *   PUT    /services/<name>/instances/<id>     → 200 (register or heartbeat); 400 for a bad proto, an addr
 *          {"id","addr","proto","meta"}          net.SplitHostPort refuses, or an id other than
 *                                                 hex(md5(proto-addr)); 404 when the service does not exist.
 *                                                 As in the server, the id in the path is not looked at.
 *   DELETE /services/<name>/instances/<id>     → 200, also for an unknown id; 404 when the service never
 *                                                 had an instance
 *   GET    /services/<name>/instances          → 200 [instances by index]; 404 when there are none
 *
 * Errors are discoverd's JSON `{"code","message","retry"}`. An instance expires `instanceTtlMs` (default
 * 10 s, discoverd's DefaultInstanceTTL) after its last PUT. A double started with `leader` is a follower:
 * it validates a write as the server does, then answers 307 with the leader's URL, and serves reads
 * from the leader's store (replication without lag). `shutDown()` answers every request 503, as the
 * server does after POST /shutdown; `restart()` forgets everything, as a cluster started afresh with
 * an empty data directory (a real restart keeps its raft log, hence its services and instances).
 *
 * Not modelled: raft (log, snapshots, peers, /raft/*), leader election and the 2×TTL wait of a new
 * leader before it expires anything, the 1 s expiry tick (an instance is gone exactly at its TTL), the
 * SSE streams (GET /services/<name>, or Accept: text/event-stream: the double answers 501), service
 * meta and service leaders,
 * DELETE /services/<name>, proxy mode, the Discoverd-Peers/Discoverd-Index headers, DNS. The real
 * server redirects to the leader's host on its own port (all nodes listen on one port); the double
 * redirects to the leader's host:port, since both doubles listen on 127.0.0.1.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface DoubleInstance {
  id: string;
  addr: string;
  proto: string;
  meta?: Record<string, string>;
  index: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  status: number;
  /** The parsed JSON body, when there was one. */
  body?: unknown;
  location?: string;
}

export interface DiscoverdDouble {
  /** `127.0.0.1:PORT`. */
  hostPort: string;
  /** `discoverd://127.0.0.1:PORT`, for the adapter. */
  uri: string;
  requests: RecordedRequest[];
  serviceNames(): string[];
  /** The live instances of a service, by index; undefined when it has none (discoverd's 404). */
  instances(service: string): DoubleInstance[] | undefined;
  /** Registers an instance as another discoverd client would (the service is created if needed). */
  add(service: string, instance: { addr: string; proto: string; meta?: Record<string, string> }): DoubleInstance;
  restart(): void;
  shutDown(): void;
  stop(): Promise<void>;
}

export interface DiscoverdDoubleOptions {
  instanceTtlMs?: number;
  now?: () => number;
  /** Makes this double a follower of that one. */
  leader?: DiscoverdDouble;
}

const DEFAULT_INSTANCE_TTL_MS = 10_000;

/** discoverd's state: services, and per service its instances with their last heartbeat. */
class Store {
  services = new Map<string, { leader_type?: string }>();
  instances = new Map<string, Map<string, { instance: DoubleInstance; lastBeat: number }>>();
  private lastIndex = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  expire(): void {
    for (const entries of this.instances.values()) {
      for (const [id, entry] of entries) if (this.now() - entry.lastBeat > this.ttlMs) entries.delete(id);
    }
  }

  /** The index of a first registration is kept across heartbeats, as store.go does. */
  put(service: string, instance: Omit<DoubleInstance, "index">): DoubleInstance {
    const entries = this.instances.get(service) ?? new Map();
    this.instances.set(service, entries);
    const index = entries.get(instance.id)?.instance.index ?? ++this.lastIndex;
    const stored = { ...instance, index };
    entries.set(instance.id, { instance: stored, lastBeat: this.now() });
    return stored;
  }

  list(service: string): DoubleInstance[] | undefined {
    const list = [...(this.instances.get(service)?.values() ?? [])].map((entry) => entry.instance);
    return list.length > 0 ? list.sort((a, b) => a.index - b.index) : undefined;
  }

  reset(): void {
    this.services.clear();
    this.instances.clear();
    this.lastIndex = 0;
  }
}

type Answer = { status: number; body?: unknown; location?: string };

const jsonError = (status: number, code: string, message: string, retry = false): Answer => ({ status, body: { code, message, retry } });

export async function startDiscoverdDouble(opts: DiscoverdDoubleOptions = {}): Promise<DiscoverdDouble> {
  const leader = opts.leader as (DiscoverdDouble & { store?: Store }) | undefined;
  const store = leader?.store ?? new Store(opts.instanceTtlMs ?? DEFAULT_INSTANCE_TTL_MS, opts.now ?? Date.now);
  const requests: RecordedRequest[] = [];
  let shuttingDown = false;

  const server = createServer((req, res) => {
    readBody(req).then(
      (text) => {
        const body = parseJson(text);
        const request = { method: req.method ?? "", url: req.url ?? "/", accept: req.headers.accept ?? "", text, body };
        const answer = shuttingDown
          ? jsonError(503, "service_unavailable", "discoverd: shutting down", true)
          : route(request, { store, leader });
        requests.push({ method: request.method, path: request.url, status: answer.status, body: body.value, location: answer.location });
        send(res, answer);
      },
      () => res.destroy(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const hostPort = `127.0.0.1:${(server.address() as AddressInfo).port}`;

  const double: DiscoverdDouble & { store: Store } = {
    store,
    hostPort,
    uri: `discoverd://${hostPort}`,
    requests,
    serviceNames: () => [...store.services.keys()].sort(),
    instances: (service) => {
      store.expire();
      return store.list(service);
    },
    add: (service, instance) => {
      if (!store.services.has(service)) store.services.set(service, { leader_type: "oldest" });
      return store.put(service, { ...instance, id: md5(`${instance.proto}-${instance.addr}`) });
    },
    restart: () => store.reset(),
    shutDown: () => void (shuttingDown = true),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  return double;
}

interface Context {
  store: Store;
  leader?: DiscoverdDouble;
}

type Parsed = { value?: unknown; error?: Answer };

interface Request {
  method: string;
  url: string;
  accept: string;
  text: string;
  body: Parsed;
}

const NOT_FOUND: Answer = { status: 404, body: "404 page not found" };
const NOT_MODELLED: Answer = { status: 501, body: "the discoverd double does not model event streams" };

/** httprouter's table; a path that matches no route is its plain 404, a wrong method its 405. */
function route(req: Request, ctx: Context): Answer {
  ctx.store.expire();
  const parts = new URL(req.url, "http://double").pathname.split("/").slice(1).map(decodeURIComponent);
  const [first, service, sub, id, ...rest] = parts;
  const only = (method: string, answer: () => Answer): Answer => (req.method === method ? answer() : { status: 405 });
  if (first === "ping" && parts.length === 1) return only("GET", () => ({ status: 200 }));
  if (first !== "services" || !service || rest.length > 0) return NOT_FOUND;
  if (sub === undefined) return req.method === "GET" ? NOT_MODELLED : only("PUT", () => putService(service, req, ctx));
  if (sub !== "instances") return NOT_FOUND;
  if (id === undefined) {
    return only("GET", () => (req.accept.includes("text/event-stream") ? NOT_MODELLED : getInstances(service, ctx)));
  }
  if (req.method === "PUT") return putInstance(service, req, ctx);
  return only("DELETE", () => deleteInstance(service, id, ctx, req.url));
}

function putService(service: string, req: Request, ctx: Context): Answer {
  const problem = serviceNameProblem(service);
  if (problem) return jsonError(400, "validation_error", problem);
  const undecodable = decodeProblem(req.text, req.body);
  if (undecodable) return undecodable;
  const body = req.body;
  if (ctx.leader) return redirect(ctx.leader, req.url);
  if (ctx.store.services.has(service)) return jsonError(409, "object_exists", `discoverd: service "${service}" already exists`);
  ctx.store.services.set(service, (body.value ?? {}) as { leader_type?: string });
  return { status: 200 };
}

function putInstance(service: string, req: Request, ctx: Context): Answer {
  const undecodable = decodeProblem(req.text, req.body);
  if (undecodable) return undecodable;
  const instance = (req.body.value ?? {}) as Partial<DoubleInstance>;
  // encoding/json refuses a field of another type than Instance's (a number for addr, a non-string meta value).
  if (!fitsInstanceType(instance)) return jsonError(400, "syntax_error", "The provided JSON input is invalid");
  const invalid = instanceProblem(instance);
  if (invalid) return jsonError(400, "validation_error", invalid);
  if (ctx.leader) return redirect(ctx.leader, req.url);
  if (!ctx.store.services.has(service)) return jsonError(404, "object_not_found", `discoverd: service "${service}" not found`);
  const { id, addr, proto, meta } = instance as DoubleInstance;
  // `meta,omitempty`: an empty map is not written back.
  ctx.store.put(service, meta && Object.keys(meta).length > 0 ? { id, addr, proto, meta } : { id, addr, proto });
  return { status: 200 };
}

function deleteInstance(service: string, id: string, ctx: Context, url: string): Answer {
  if (ctx.leader) return redirect(ctx.leader, url);
  const entries = ctx.store.instances.get(service);
  if (!entries) return jsonError(404, "object_not_found", `discoverd: service "${service}" not found`);
  entries.delete(id);
  return { status: 200 };
}

function getInstances(service: string, ctx: Context): Answer {
  const list = ctx.store.list(service);
  if (!list) return jsonError(404, "object_not_found", `service not found: "${service}"`);
  return { status: 200, body: list };
}

function redirect(leader: DiscoverdDouble, url: string): Answer {
  return { status: 307, location: `http://${leader.hostPort}${url}` };
}

/** hh.DecodeJSON: a syntax error is 400 syntax_error; an empty body is Go's io.EOF, an unknown error. */
function decodeProblem(text: string, body: Parsed): Answer | undefined {
  if (text.trim() === "") return jsonError(500, "unknown_error", "Something went wrong");
  return body.error;
}

function fitsInstanceType(instance: Record<string, unknown>): boolean {
  if (typeof instance !== "object" || instance === null || Array.isArray(instance)) return false;
  const strings = ["id", "addr", "proto"].every((key) => instance[key] === undefined || typeof instance[key] === "string");
  const meta = instance.meta;
  if (meta === undefined || meta === null) return strings;
  return strings && typeof meta === "object" && !Array.isArray(meta) && Object.values(meta).every((v) => typeof v === "string");
}

/** server/store.go ValidServiceName. */
function serviceNameProblem(name: string): string | undefined {
  if (name === "") return "discoverd: service name must not be empty";
  if (!/^[a-z0-9-]+$/.test(name)) return "discoverd: service must be lowercase alphanumeric plus dash";
  return undefined;
}

/** client/instance.go Instance.Valid, in its order. */
function instanceProblem(instance: Partial<DoubleInstance>): string | undefined {
  const proto = String(instance.proto ?? "");
  if (proto === "") return "discoverd: proto must be set";
  if (!/^[a-z0-9]+$/.test(proto)) return "discoverd: proto must be lowercase alphanumeric";
  const addrProblem = splitHostPortProblem(String(instance.addr ?? ""));
  if (addrProblem) return addrProblem;
  const expected = md5(`${proto}-${String(instance.addr)}`);
  if (instance.id !== expected) return `discoverd: instance id is incorrect, expected ${expected}`;
  return undefined;
}

/** Go's net.SplitHostPort, whose errors Instance.Valid passes on; the port itself may be anything. */
function splitHostPortProblem(hostport: string): string | undefined {
  const fail = (why: string) => `address ${hostport}: ${why}`;
  const colon = hostport.lastIndexOf(":");
  if (colon < 0) return fail("missing port in address");
  let noOpenFrom = 0;
  let noCloseFrom = 0;
  if (hostport.startsWith("[")) {
    const end = hostport.indexOf("]");
    if (end < 0) return fail("missing ']' in address");
    if (end + 1 === hostport.length) return fail("missing port in address");
    if (end + 1 !== colon) return fail(hostport[end + 1] === ":" ? "too many colons in address" : "missing port in address");
    noOpenFrom = 1;
    noCloseFrom = end + 1;
  } else if (hostport.slice(0, colon).includes(":")) {
    return fail("too many colons in address");
  }
  if (hostport.slice(noOpenFrom).includes("[")) return fail("unexpected '[' in address");
  if (hostport.slice(noCloseFrom).includes("]")) return fail("unexpected ']' in address");
  return undefined;
}

function md5(text: string): string {
  return createHash("md5").update(text).digest("hex");
}

function parseJson(text: string): Parsed {
  if (text.trim() === "") return {};
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return { error: jsonError(400, "syntax_error", "The provided JSON input is invalid") };
  }
}

function send(res: ServerResponse, answer: Answer): void {
  const headers: Record<string, string> = answer.location ? { location: answer.location } : {};
  if (answer.body === undefined) return void res.writeHead(answer.status, headers).end();
  const plain = typeof answer.body === "string";
  const text = plain ? (answer.body as string) : JSON.stringify(answer.body);
  headers["content-type"] = plain ? "text/plain; charset=utf-8" : "application/json";
  res.writeHead(answer.status, headers).end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
