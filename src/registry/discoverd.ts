/**
 * Flynn's discoverd over its HTTP API (discoverd/server/handler.go). Each service is an instance of the
 * discoverd service `<name>`: `PUT /services/<name>` creates the service, `PUT .../instances/<id>`
 * registers the instance, and the same PUT is its heartbeat. discoverd dictates the instance id (the
 * hex MD5 of `<proto>-<addr>`), so two services at one address meet at one instance: the first holder
 * keeps it. discoverd forgets an instance 10 s after its last PUT, so the renewal heartbeats every 5 s,
 * as Flynn's own client does. A follower answers writes with 307 to the raft leader, which is followed.
 * discoverd cannot list its services: -cleanup reads the names given in the URI (`?services=web,api`).
 */
import { createHash } from "node:crypto";
import { hostPort } from "../address.js";
import { HttpClient, HttpStatusError, judge, type CallOptions, type Response } from "../http-client.js";
import type { Protocol, Service } from "../service/types.js";
import { checkWrite, mayRemove, ownerAsFields, ownerInFields, type Found } from "./owner.js";
import { storedService } from "./stored.js";
import {
  InvalidUriError,
  RejectedError,
  type AdapterFactory,
  type Capabilities,
  type Owner,
  type Registered,
  type RegistryAdapter,
  type RegistryUri,
  type Stored,
  type Written,
} from "./types.js";

/** An instance as discoverd's client/instance.go marshals it. */
export interface DiscoverdInstance {
  id: string;
  addr: string;
  proto: string;
  meta?: Record<string, string>;
  index?: number;
}

export interface DiscoverdTarget {
  /** `http://host:port` of each server, in the URI's order. */
  origins: string[];
  /** The service names -cleanup lists. */
  names: string[];
}

export const DEFAULT_PORT = 1111;
/** The Go client's heartbeat interval and its retry interval while failing (client/heartbeat.go). */
const HEARTBEAT_MS = 5_000;
const FAILING_RETRY_MS = 200;
/** server/store.go DefaultInstanceTTL: a server setting, the client cannot change it. */
const SERVER_TTL_MS = 10_000;
const MAX_REDIRECTS = 3;
const EXAMPLE = "discoverd://127.0.0.1:1111";

/** The meta keys registrator writes beside the attributes, which get ATTR_PREFIX so none can collide. */
export const META = { serviceId: "service_id", tags: "tags" } as const;
export const ATTR_PREFIX = "attr_";

export const create: AdapterFactory = (ctx) => {
  const everyMs = ctx.ttlRefresh > 0 ? ctx.ttlRefresh * 1000 : HEARTBEAT_MS;
  return new DiscoverdAdapter(discoverdTarget(ctx.uri), everyMs, noticeFor(ctx.ttl, everyMs));
};

/** `discoverd://h1,h2:1112?services=web` → servers `http://h1:1111`, `http://h2:1112`; names to list. */
export function discoverdTarget(uri: RegistryUri): DiscoverdTarget {
  if (uri.path !== "") throw new InvalidUriError(`discoverd URI takes no path, e.g. ${EXAMPLE} (got ${uri.raw})`);
  const hosts = uri.authority.split(",").filter((host) => host !== "");
  const origins = (hosts.length > 0 ? hosts : ["127.0.0.1"]).map((host) => originOf(host, uri.raw));
  const names = (uri.query.get("services") ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
  for (const name of names) {
    const problem = nameProblem(name);
    if (problem) throw new InvalidUriError(`discoverd URI: ?services=: ${problem} (got ${uri.raw})`);
  }
  return { origins, names };
}

function originOf(host: string, raw: string): string {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(host);
  const port = Number(match?.[3] ?? DEFAULT_PORT);
  if (!match || port < 1 || port > 65535) {
    throw new InvalidUriError(`discoverd URI: invalid host ${JSON.stringify(host)}, e.g. ${EXAMPLE} (got ${raw})`);
  }
  return `http://${hostPort(match[1] ?? match[2] ?? "", port)}`;
}

function noticeFor(ttl: number, everyMs: number): string | undefined {
  const notes: string[] = [];
  if (ttl > 0) notes.push("-ttl does not apply: discoverd expires an instance 10 s after its last heartbeat (a server setting)");
  if (everyMs >= SERVER_TTL_MS)
    notes.push(`heartbeats every ${everyMs / 1000} s let instances lapse: discoverd's default instance TTL is 10 s`);
  return notes.length > 0 ? notes.join("; ") : undefined;
}

/** Why discoverd refuses the name (server/store.go ValidServiceName), or undefined. */
export function nameProblem(name: string): string | undefined {
  if (name === "") return "discoverd needs a service name";
  if (!/^[a-z0-9-]+$/.test(name))
    return `service name ${JSON.stringify(name)} cannot be a discoverd service: it allows only a-z, 0-9 and "-"`;
  return undefined;
}

/** `<ip>:<port>`, IPv6 bracketed: the form Go's net.SplitHostPort accepts. */
export function addr(service: Pick<Service, "ip" | "port">): string {
  return hostPort(service.ip, service.port);
}

/** The id discoverd requires: Hex(MD5(proto + "-" + addr)) (client/instance.go); it answers 400 to any other. */
export function instanceId(proto: string, address: string): string {
  return createHash("md5").update(`${proto}-${address}`).digest("hex");
}

export function instancePath(name: string, id: string): string {
  return `/services/${encodeURIComponent(name)}/instances/${encodeURIComponent(id)}`;
}

/** The same bytes on every heartbeat: discoverd skips the raft write for an unchanged instance. */
export function payload(service: Service, owner: Owner): DiscoverdInstance {
  const address = addr(service);
  const proto = service.origin.protocol;
  const meta: Record<string, string> = {
    [META.serviceId]: service.id,
    [META.tags]: service.tags.join(","),
    ...ownerAsFields(owner),
  };
  for (const [key, value] of Object.entries(service.attrs)) meta[ATTR_PREFIX + key] = value;
  return { id: instanceId(proto, address), addr: address, proto, meta };
}

/** A listed instance as a service; the owner only when both markers are there. */
export function fromInstance(name: string, instance: DiscoverdInstance): Stored {
  const meta = instance.meta ?? {};
  const service = storedService(meta[META.serviceId] || instance.id, name, instance.addr);
  const tags = meta[META.tags];
  service.tags = tags ? tags.split(",") : [];
  for (const [key, value] of Object.entries(meta)) {
    if (key.startsWith(ATTR_PREFIX)) service.attrs[key.slice(ATTR_PREFIX.length)] = value;
  }
  if (isProtocol(instance.proto)) service.origin.protocol = instance.proto;
  const owner = ownerInFields(meta);
  return owner ? { service, owner } : { service };
}

function isProtocol(proto: string): proto is Protocol {
  return proto === "tcp" || proto === "udp" || proto === "sctp";
}

/** discoverd answers 400 (validation_error) to what it will never accept. */
const refusal = (status: number, body: string) => (status === 400 ? `discoverd refused it (HTTP 400): ${body.trim()}` : undefined);

export class DiscoverdAdapter implements RegistryAdapter {
  readonly capabilities: Capabilities;
  private readonly clients = new Map<string, HttpClient>();
  /** The server that answered last; requests start there and fail over in the URI's order. */
  private current = 0;
  /** The read and write of one instance, in turn: two containers at one address never both find it free. */
  private readonly inTurn = new Map<string, Promise<unknown>>();

  constructor(
    private readonly target: DiscoverdTarget,
    everyMs: number,
    notice?: string,
  ) {
    this.capabilities = {
      rules: { validate: (service) => nameProblem(service.name), ...(notice && { notice }) },
      renewal: { schedule: { everyMs, retryMs: FAILING_RETRY_MS }, renew: (registered) => this.renew(registered) },
    };
  }

  async ping(): Promise<void> {
    await this.call("GET", "/ping");
  }

  /**
   * discoverd has no conditional write: the instance at this address is read, then written. Its id is
   * the address, so two services can meet there: the first holder keeps it. Instances without our
   * marker are applications' own: never written over.
   */
  async register(service: Service, owner: Owner): Promise<Written> {
    const problem = nameProblem(service.name);
    if (problem) throw new RejectedError(problem);
    const instance = payload(service, owner);
    return this.turn(instance.id, async () => {
      const found = await this.found(service.name, instance.id);
      const written = checkWrite(found, service, owner);
      await this.createService(service.name);
      await this.call("PUT", instancePath(service.name, instance.id), { body: instance, refusal });
      return written;
    });
  }

  async deregister(service: Service, owner: Owner): Promise<void> {
    // discoverd cannot hold a service by that name, so there is nothing to remove.
    if (nameProblem(service.name)) return;
    const id = instanceId(service.origin.protocol, addr(service));
    await this.turn(id, async () => {
      if (!mayRemove(await this.found(service.name, id), service, owner)) return;
      await this.call("DELETE", instancePath(service.name, id), { accept: [404] });
    });
  }

  /** Runs `work` after every earlier one for the same instance has settled. */
  private turn<T>(instance: string, work: () => Promise<T>): Promise<T> {
    const run = (this.inTurn.get(instance) ?? Promise.resolve()).then(work);
    const settled = run.catch(() => undefined);
    this.inTurn.set(instance, settled);
    void settled.then(() => this.inTurn.get(instance) === settled && this.inTurn.delete(instance));
    return run;
  }

  private async renew(registered: readonly Registered[]): Promise<Service[]> {
    const results = await Promise.allSettled(registered.map(({ service, owner }) => this.heartbeat(service, owner)));
    const lost: Service[] = [];
    let failed: unknown;
    results.forEach((result, i) => {
      if (result.status === "rejected") failed ??= result.reason;
      else if (!result.value) lost.push(registered[i]!.service);
    });
    if (failed !== undefined) throw failed;
    return lost;
  }

  async services(): Promise<Stored[]> {
    if (this.target.names.length === 0) {
      throw new Error(`discoverd cannot list its services: name them in the URI, e.g. ${EXAMPLE}?services=web,api`);
    }
    const lists = await Promise.all(this.target.names.map((name) => this.instances(name)));
    // Only ours: an instance without our marker is never removed.
    return lists.flatMap((list, i) =>
      list.map((instance) => fromInstance(this.target.names[i]!, instance)).filter((stored) => stored.owner),
    );
  }

  async close(): Promise<void> {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  /** True when discoverd kept the instance alive; false when it lost it (the bridge registers it again). */
  private async heartbeat(service: Service, owner: Owner): Promise<boolean> {
    if (nameProblem(service.name)) return false;
    const instance = payload(service, owner);
    // 404: discoverd no longer knows the service (its cluster started afresh). 400 cannot follow an
    // accepted PUT of the same bytes; register() will report it as a rejection.
    const res = await this.call("PUT", instancePath(service.name, instance.id), { body: instance, accept: [404, 400] });
    return res.status !== 404 && res.status !== 400;
  }

  private async found(name: string, id: string): Promise<Found> {
    const instance = (await this.instances(name)).find((listed) => listed.id === id);
    if (!instance) return undefined;
    const owner = ownerInFields(instance.meta);
    // An instance without our marker names no service id of ours: the rules leave it to its writer.
    const serviceId = instance.meta?.[META.serviceId];
    return { ...(owner && { owner }), ...(owner && serviceId && { id: serviceId }) };
  }

  private async createService(name: string): Promise<void> {
    // The server decodes a service config from the body and answers 500 to an empty one; 409: the
    // service exists, as the Go client's maybeAddService accepts.
    await this.call("PUT", `/services/${encodeURIComponent(name)}`, { body: { leader_type: "oldest" }, accept: [409], refusal });
  }

  private async instances(name: string): Promise<DiscoverdInstance[]> {
    // discoverd answers 404 both for an unknown service and for one without instances.
    const res = await this.call("GET", `/services/${encodeURIComponent(name)}/instances`, { accept: [404] });
    return res.status === 404 ? [] : ((JSON.parse(res.text) as DiscoverdInstance[] | null) ?? []);
  }

  private async call(method: string, path: string, options: CallOptions = {}): Promise<Response> {
    return judge(await this.send(method, path, options.body), `${method} ${path}`, options);
  }

  /** One request: the next server on a connection failure, then 307s to the raft leader. */
  private async send(method: string, path: string, body?: unknown): Promise<Response> {
    let { origin, res } = await this.firstAnswer(method, path, body);
    for (let hops = 0; res.status === 307 || res.status === 308; hops++) {
      const location = res.headers.location;
      if (!location || hops === MAX_REDIRECTS) {
        const why = location ? `more than ${MAX_REDIRECTS} redirects` : "a redirect without a Location";
        throw new HttpStatusError(res.status, why, `${method} ${path}`);
      }
      const next = new URL(location, origin);
      origin = next.origin;
      res = await this.client(origin).request(method, next.pathname + next.search, { body });
    }
    return res;
  }

  private async firstAnswer(method: string, path: string, body: unknown): Promise<{ origin: string; res: Response }> {
    const { origins } = this.target;
    let lastError: unknown;
    for (let tried = 0; tried < origins.length; tried++) {
      const index = (this.current + tried) % origins.length;
      const origin = origins[index]!;
      try {
        const res = await this.client(origin).request(method, path, { body });
        this.current = index;
        return { origin, res };
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError;
  }

  private client(origin: string): HttpClient {
    let client = this.clients.get(origin);
    if (!client) {
      client = new HttpClient({ url: origin, headers: { accept: "application/json" }, timeoutMs: 10_000 });
      this.clients.set(origin, client);
    }
    return client;
  }
}
