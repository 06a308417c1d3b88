/**
 * ZooKeeper: one ephemeral znode `<path>/<name>/<ip>:<port>` per service, holding the Go registrator's
 * JSON body plus the service id and its owner. The key is the address, so two services can meet at one
 * znode: the first holder keeps it. Ephemeral nodes die with the session, so a registrator that dies
 * takes its entries with it; when the session expires while we run, the adapter reports them lost and
 * the bridge writes them all again in a new session.
 */
import zookeeper from "node-zookeeper-client";
import { hostPort } from "../address.js";
import type { Service } from "../service/types.js";
import { checkWrite, mayRemove, ownerFields, type Found } from "./owner.js";
import { storedObject, storedService } from "./stored.js";
import { codeOf, ZkSession } from "./zookeeper-session.js";
import {
  InvalidUriError,
  type AdapterFactory,
  type Capabilities,
  type Owner,
  type Registered,
  type RegistryAdapter,
  type RegistryUri,
  type Stored,
  type Written,
} from "./types.js";

/**
 * The Go registrator's znode body; `ID` and `Owner` are ours, so that -cleanup can tell which service
 * a znode belongs to and who holds it.
 */
export interface ZnodeBody {
  Name: string;
  IP: string;
  PublicPort: number;
  PrivatePort: number;
  ContainerID: string;
  Tags: string[];
  Attrs: Record<string, string>;
  ID: string;
  Owner?: { Host: string; Container: string };
}

export interface ZkTarget {
  connectString: string;
  root: string;
}

const DEFAULT_PORT = 2181;
/** The Go registrator's session timeout; ZooKeeper clamps it to 2–20 ticks (4–40 s with its defaults). */
const DEFAULT_SESSION_MS = 10_000;
const CONNECT_WAIT_MS = 5_000;
const CLOSE_WAIT_MS = 2_000;
const EXAMPLE = "zookeeper://127.0.0.1:2181/services";
// Characters ZooKeeper refuses in node names (PathUtils.validatePath).
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\ud800-\uf8ff\ufff0-\uffff]/;

export const create: AdapterFactory = (ctx) =>
  new ZookeeperAdapter(zkTarget(ctx.uri), ctx.ttl > 0 ? ctx.ttl * 1000 : DEFAULT_SESSION_MS, ctx.ttlRefresh);

/** Reads the URI; throws InvalidUriError with a correct example when it cannot work. */
export function zkTarget(uri: RegistryUri): ZkTarget {
  const problem = rootProblem(uri.path);
  if (problem) throw new InvalidUriError(`zookeeper URI: ${problem}, e.g. ${EXAMPLE} (got ${uri.raw})`);
  return { connectString: connectString(uri.authority), root: uri.path };
}

/** `h1,h2:2182` → `h1:2181,h2:2182`; nothing → the local default. */
export function connectString(authority: string): string {
  const hosts = authority.split(",").filter((host) => host !== "");
  if (hosts.length === 0) return `127.0.0.1:${DEFAULT_PORT}`;
  return hosts.map((host) => (/^(?:[^:]+|\[.*\]):\d+$/.test(host) ? host : `${host}:${DEFAULT_PORT}`)).join(",");
}

function rootProblem(path: string): string | undefined {
  if (path === "") return "the base path is missing";
  const segments = path.split("/").slice(1);
  if (segments.some((segment) => segment === "" || segment === "." || segment === "..")) {
    return `base path ${JSON.stringify(path)} has an empty, "." or ".." segment`;
  }
  if (FORBIDDEN.test(path)) return `base path ${JSON.stringify(path)} has characters ZooKeeper does not allow`;
  if (segments[0] === "zookeeper") return `base path ${JSON.stringify(path)} is under /zookeeper, which ZooKeeper reserves`;
  return undefined;
}

/** Why the service name cannot be a znode name, or undefined. */
export function nameProblem(name: string): string | undefined {
  if (name === "" || name === "." || name === "..") return `service name ${JSON.stringify(name)} cannot be a znode name`;
  if (name.includes("/")) return `service name ${JSON.stringify(name)} cannot be a znode name: it contains "/"`;
  if (FORBIDDEN.test(name)) return `service name ${JSON.stringify(name)} has characters ZooKeeper does not allow`;
  return undefined;
}

function namePath(root: string, name: string): string {
  return `${root}/${name}`;
}

export function nodePath(root: string, service: Pick<Service, "name" | "ip" | "port">): string {
  return `${namePath(root, service.name)}/${hostPort(service.ip, service.port)}`;
}

export function znodeBody(service: Service, owner?: Owner): ZnodeBody {
  return {
    Name: service.name,
    IP: service.ip,
    PublicPort: service.port,
    PrivatePort: Number(service.origin.exposedPort),
    // The Go registrator writes the container's hostname here, which Docker sets to the short id.
    ContainerID: service.origin.containerId.slice(0, 12),
    Tags: service.tags,
    Attrs: service.attrs,
    ID: service.id,
    ...(owner ? { Owner: { Host: owner.hostId, Container: owner.container } } : {}),
  };
}

function parseBody(data: Buffer | undefined): Partial<ZnodeBody> | undefined {
  return storedObject(data?.toString("utf8") ?? "") as Partial<ZnodeBody> | undefined;
}

/** The service id in a znode body that registrator wrote, or undefined. */
export function znodeId(data: Buffer | undefined): string | undefined {
  return bodyId(parseBody(data));
}

function bodyId(body: Partial<ZnodeBody> | undefined): string | undefined {
  return typeof body?.ID === "string" && body.ID !== "" ? body.ID : undefined;
}

/**
 * Who holds a znode, as `owner` writing `service` sees it: the owner in its body; without one, `owner`
 * when the Go registrator (or an earlier version) wrote it for this very container, else nobody we know.
 */
export function znodeOwner(data: Buffer | undefined, service: Service, owner: Owner): Owner | undefined {
  return bodyOwner(parseBody(data), service, owner);
}

function bodyOwner(body: Partial<ZnodeBody> | undefined, service: Service, owner: Owner): Owner | undefined {
  const marked = ownerFields(body?.Owner, "Host", "Container");
  if (marked) return marked;
  const container = service.origin.containerId.slice(0, 12);
  return container !== "" && body?.ContainerID === container ? owner : undefined;
}

/**
 * A znode at `service`'s address as the ownership rules see it, for `owner`: its owner; the id of the
 * service it holds, since two services at one address meet at one znode; and the address, which
 * lets an unmarked znode an earlier version wrote for this very service id count as ours.
 */
export function znodeFound(data: Buffer | undefined, service: Service, owner: Owner): Found {
  const body = parseBody(data);
  const owned = bodyOwner(body, service, owner);
  const id = bodyId(body);
  const address = id === service.id ? hostPort(service.ip, service.port) : undefined;
  return { ...(owned && { owner: owned }), ...(id !== undefined && { id }), ...(address !== undefined && { address }) };
}

/** The service a znode stands for, with its owner, when registrator wrote it; the address comes from the znode's name. */
export function parseZnode(name: string, child: string, data: Buffer | undefined): Stored | undefined {
  const body = parseBody(data);
  const id = bodyId(body);
  const service = id === undefined ? undefined : storedService(id, name, child);
  if (!service || service.port <= 0) return undefined;
  const owner = ownerFields(body?.Owner, "Host", "Container");
  return owner ? { service, owner } : { service };
}

class ZookeeperAdapter implements RegistryAdapter {
  readonly capabilities: Capabilities;
  private session: ZkSession;
  private lostListener?: () => void;
  private closed = false;

  constructor(
    private readonly target: ZkTarget,
    private readonly sessionTimeoutMs: number,
    refreshSeconds = 0,
  ) {
    const notice =
      sessionTimeoutMs === DEFAULT_SESSION_MS
        ? undefined
        : `-ttl is ZooKeeper's session timeout (${sessionTimeoutMs / 1000} s, clamped by the server to 2-20 ticks): znodes vanish that long after registrator stops answering`;
    this.capabilities = {
      rules: { validate: (service) => nameProblem(service.name), ...(notice && { notice }) },
      renewal: {
        // Only with -ttl-refresh: looks for znodes that vanished (removed by hand) while the session lived.
        ...(refreshSeconds > 0 && { schedule: { everyMs: refreshSeconds * 1000, retryMs: 1000 } }),
        renew: (registered) => this.renew(registered),
        onLost: (listener) => (this.lostListener = listener),
      },
    };
    this.session = this.openSession();
  }

  async ping(): Promise<void> {
    await this.session.waitConnected(CONNECT_WAIT_MS);
    await this.session.exists("/");
  }

  register(service: Service, owner: Owner): Promise<Written> {
    return this.write(nodePath(this.target.root, service), service, owner);
  }

  deregister(service: Service, owner: Owner): Promise<void> {
    return this.remove(nodePath(this.target.root, service), service, owner);
  }

  /** The znodes of this session that are gone. */
  private async renew(registered: readonly Registered[]): Promise<Service[]> {
    const lost: Service[] = [];
    for (const { service } of registered) {
      const stat = await this.session.exists(nodePath(this.target.root, service));
      if (!stat || !this.session.owns(stat)) lost.push(service);
    }
    return lost;
  }

  async services(): Promise<Stored[]> {
    const names = await this.session.children(this.target.root);
    const found: Stored[] = [];
    for (const name of names) {
      for (const child of await this.session.children(namePath(this.target.root, name))) {
        const node = await this.session.data(`${namePath(this.target.root, name)}/${child}`);
        const stored = node && parseZnode(name, child, node.data);
        if (stored) found.push(stored);
      }
    }
    return found;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.session.close(CLOSE_WAIT_MS);
  }

  /**
   * Creates the ephemeral znode (and its parents when missing), or takes over one our host id holds for
   * this service: a registrator restarted within its session timeout finds its own znodes still there.
   * A znode of another service at the same address is its holder's: the first running one keeps it.
   */
  private async write(path: string, service: Service, owner: Owner, attempt = 0): Promise<Written> {
    const session = this.session;
    const data = Buffer.from(JSON.stringify(znodeBody(service, owner)));
    try {
      await session.create(path, data);
      return {};
    } catch (err) {
      const code = codeOf(err);
      // Parents are made only when missing (one round trip otherwise); a name node can also vanish
      // between mkdirp and create, when its last other service is removed.
      if (code === zookeeper.Exception.NO_NODE && attempt < 2) {
        await session.mkdirp(parentOf(path));
        return this.write(path, service, owner, attempt + 1);
      }
      if (code !== zookeeper.Exception.NODE_EXISTS) throw err;
    }
    const existing = await session.data(path);
    if (!existing) {
      if (attempt < 2) return this.write(path, service, owner, attempt + 1);
      throw new Error(`zookeeper create ${path}: the znode keeps appearing and vanishing`);
    }
    const found = znodeFound(existing.data, service, owner);
    const written = checkWrite(found, service, owner);
    // Versions make each step conditional: a znode changed meanwhile fails it, and the write is retried.
    if (session.owns(existing.stat)) await session.setData(path, data, existing.stat.version);
    else {
      await session.remove(path, existing.stat.version);
      await session.create(path, data);
    }
    return written;
  }

  private async remove(path: string, service: Service, owner: Owner): Promise<void> {
    const node = await this.session.data(path);
    // A znode at this address that holds another service, or another owner's, is not ours to remove.
    if (node && mayRemove(znodeFound(node.data, service, owner), service, owner)) {
      await this.session.remove(path, node.stat.version, [zookeeper.Exception.NO_NODE]);
    }
    await this.session.remove(parentOf(path), -1, [zookeeper.Exception.NO_NODE, zookeeper.Exception.NOT_EMPTY]);
  }

  private openSession(): ZkSession {
    const session: ZkSession = new ZkSession(this.target.connectString, this.sessionTimeoutMs, () => this.expired(session));
    return session;
  }

  /** Ephemeral znodes die with their session: a new one starts empty, and the bridge writes them all again. */
  private expired(session: ZkSession): void {
    if (this.closed || session !== this.session) return;
    void session.close(0);
    this.session = this.openSession();
    this.lostListener?.();
  }
}

function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/"));
}
