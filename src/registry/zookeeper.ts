/**
 * ZooKeeper: one ephemeral znode `<path>/<name>/<ip>:<port>` per service, holding the Go registrator's
 * JSON body plus the service id. Ephemeral nodes die with the session, so a registrator that dies takes
 * its entries with it; when the session expires while we run, a new session writes them all again.
 */
import zookeeper from "node-zookeeper-client";
import { hostPort } from "../service/address.js";
import type { Service } from "../service/types.js";
import { SerialByKey } from "./serial.js";
import { storedService } from "./stored.js";
import { InvalidUriError, RejectedError, type AdapterFactory, type RegistryAdapter, type RegistryUri } from "./types.js";

/** The Go registrator's znode body; `ID` is ours, so -cleanup can tell which service a znode belongs to. */
export interface ZnodeBody {
  Name: string;
  IP: string;
  PublicPort: number;
  PrivatePort: number;
  ContainerID: string;
  Tags: string[];
  Attrs: Record<string, string>;
  ID: string;
}

export interface ZkTarget {
  connectString: string;
  root: string;
}

const DEFAULT_PORT = 2181;
/** The Go registrator's session timeout; ZooKeeper clamps it to 2–20 ticks (4–40 s with its defaults). */
const DEFAULT_SESSION_MS = 10_000;
const CONNECT_WAIT_MS = 5_000;
const CALL_TIMEOUT_MS = 10_000;
const CLOSE_WAIT_MS = 2_000;
const RESTORE_RETRY_MS = { initial: 500, max: 10_000 };
const EXAMPLE = "zookeeper://127.0.0.1:2181/services";
// Characters ZooKeeper refuses in node names (PathUtils.validatePath).
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\ud800-\uf8ff\ufff0-\uffff]/;

export const create: AdapterFactory = (ctx) =>
  new ZookeeperAdapter(zkTarget(ctx.uri), ctx.ttl > 0 ? ctx.ttl * 1000 : DEFAULT_SESSION_MS);

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

export function namePath(root: string, name: string): string {
  return `${root}/${name}`;
}

export function nodePath(root: string, service: Pick<Service, "name" | "ip" | "port">): string {
  return `${namePath(root, service.name)}/${hostPort(service.ip, service.port)}`;
}

export function znodeBody(service: Service): ZnodeBody {
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
  };
}

/** The service id in a znode body that registrator wrote, or undefined. */
export function znodeId(data: Buffer | undefined): string | undefined {
  try {
    const body = JSON.parse(data?.toString("utf8") ?? "") as Partial<ZnodeBody> | null;
    return typeof body?.ID === "string" && body.ID !== "" ? body.ID : undefined;
  } catch {
    return undefined;
  }
}

/** The service a znode stands for, when registrator wrote it; the address comes from the znode's name. */
export function parseZnode(name: string, child: string, data: Buffer | undefined): Service | undefined {
  const id = znodeId(data);
  const service = id === undefined ? undefined : storedService(id, name, child);
  return service && service.port > 0 ? service : undefined;
}

export class ZookeeperAdapter implements RegistryAdapter {
  readonly notice?: string;
  private session: ZkSession;
  /** What we registered, by znode path: written again by a new session after the old one expired. */
  private readonly registered = new Map<string, Buffer>();
  private readonly serial = new SerialByKey();
  private restoreTimer?: NodeJS.Timeout;
  private restoreAttempt = 0;
  private closed = false;

  constructor(
    private readonly target: ZkTarget,
    private readonly sessionTimeoutMs: number,
  ) {
    if (sessionTimeoutMs !== DEFAULT_SESSION_MS) {
      this.notice = `-ttl is ZooKeeper's session timeout (${sessionTimeoutMs / 1000} s, clamped by the server to 2-20 ticks): znodes vanish that long after registrator stops answering`;
    }
    this.session = this.openSession();
  }

  async ping(): Promise<void> {
    await this.session.waitConnected(CONNECT_WAIT_MS);
    await this.session.exists("/");
  }

  validate(service: Service): string | undefined {
    return nameProblem(service.name);
  }

  register(service: Service): Promise<void> {
    const path = nodePath(this.target.root, service);
    const data = Buffer.from(JSON.stringify(znodeBody(service)));
    return this.serial.run(path, async () => {
      await this.write(path, data);
      this.registered.set(path, data);
    });
  }

  deregister(service: Service): Promise<void> {
    const path = nodePath(this.target.root, service);
    this.registered.delete(path);
    return this.serial.run(path, () => this.remove(path, service));
  }

  /** Writes the znode again if it went missing (removed by hand, or its session expired meanwhile). */
  refresh(service: Service): Promise<void> {
    const path = nodePath(this.target.root, service);
    const data = Buffer.from(JSON.stringify(znodeBody(service)));
    return this.serial.run(path, async () => {
      const stat = await this.session.exists(path);
      if (!stat || !this.session.owns(stat)) await this.write(path, data);
      this.registered.set(path, data);
    });
  }

  async services(): Promise<Service[]> {
    const names = await this.session.children(this.target.root);
    const found: Service[] = [];
    for (const name of names) {
      for (const child of await this.session.children(namePath(this.target.root, name))) {
        const node = await this.session.data(`${namePath(this.target.root, name)}/${child}`);
        const service = node && parseZnode(name, child, node.data);
        if (service) found.push(service);
      }
    }
    return found;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.restoreTimer);
    await this.session.close(CLOSE_WAIT_MS);
  }

  /**
   * Creates the ephemeral znode (and its parents when missing), or takes over one left by an earlier
   * session: a registrator restarted within its session timeout finds its own znodes still there.
   */
  private async write(path: string, data: Buffer, attempt = 0): Promise<void> {
    const session = this.session;
    try {
      await session.create(path, data);
      return;
    } catch (err) {
      const code = codeOf(err);
      // Parents are made only when missing (one round trip otherwise); a name node can also vanish
      // between mkdirp and create, when its last other service is removed.
      if (code === zookeeper.Exception.NO_NODE && attempt < 2) {
        await session.mkdirp(parentOf(path));
        return this.write(path, data, attempt + 1);
      }
      if (code !== zookeeper.Exception.NODE_EXISTS) throw err;
    }
    const existing = await session.exists(path);
    if (!existing) {
      if (attempt < 2) return this.write(path, data, attempt + 1);
      throw new Error(`zookeeper create ${path}: the znode keeps appearing and vanishing`);
    }
    if (session.owns(existing)) return session.setData(path, data, existing.version);
    if (isPersistent(existing)) throw new RejectedError(`a persistent znode ${path} exists that registrator did not write`);
    await session.remove(path, existing.version);
    await session.create(path, data);
  }

  private async remove(path: string, service: Service): Promise<void> {
    const node = await this.session.data(path);
    // A znode at this address that holds another service's id is not ours to remove.
    if (node && znodeId(node.data) === service.id) {
      await this.session.remove(path, node.stat.version, [zookeeper.Exception.NO_NODE]);
    }
    await this.session.remove(parentOf(path), -1, [zookeeper.Exception.NO_NODE, zookeeper.Exception.NOT_EMPTY]);
  }

  private openSession(): ZkSession {
    const session: ZkSession = new ZkSession(this.target.connectString, this.sessionTimeoutMs, () => this.expired(session));
    return session;
  }

  private expired(session: ZkSession): void {
    if (this.closed || session !== this.session) return;
    void session.close(0);
    this.session = this.openSession();
    this.scheduleRestore(0);
  }

  private scheduleRestore(delayMs: number): void {
    clearTimeout(this.restoreTimer);
    if (this.closed) return;
    this.restoreTimer = setTimeout(() => void this.restore(), delayMs);
    this.restoreTimer.unref();
  }

  /** Writes every registered znode in the current session; retried with backoff until it succeeds. */
  private async restore(): Promise<void> {
    try {
      await this.session.waitConnected(CONNECT_WAIT_MS);
      for (const path of [...this.registered.keys()]) {
        await this.serial.run(path, async () => {
          const data = this.registered.get(path);
          if (data) await this.write(path, data);
        });
      }
      this.restoreAttempt = 0;
    } catch {
      const delay = Math.min(RESTORE_RETRY_MS.initial * 2 ** this.restoreAttempt++, RESTORE_RETRY_MS.max);
      this.scheduleRestore(delay);
    }
  }

}

function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/"));
}

function codeOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === "number" ? code : undefined;
}

function isPersistent(stat: zookeeper.Stat): boolean {
  return stat.ephemeralOwner.every((byte) => byte === 0);
}

/**
 * One ZooKeeper session, with the callback API turned into promises. Calls fail at once while
 * disconnected rather than queue: a queued write could land after a later removal.
 */
class ZkSession {
  private readonly client: zookeeper.Client;

  constructor(
    private readonly connectString: string,
    sessionTimeoutMs: number,
    onExpired: () => void,
  ) {
    this.client = zookeeper.createClient(connectString, { sessionTimeout: sessionTimeoutMs, spinDelay: 1000 });
    this.client.once("expired", onExpired);
    this.client.connect();
  }

  connected(): boolean {
    return this.client.getState() === zookeeper.State.SYNC_CONNECTED;
  }

  waitConnected(timeoutMs: number): Promise<void> {
    if (this.connected()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.client.off("connected", done);
        reject(new Error(`cannot connect to ZooKeeper at ${this.connectString} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.client.once("connected", done);
    });
  }

  owns(stat: zookeeper.Stat): boolean {
    return stat.ephemeralOwner.equals(this.client.getSessionId());
  }

  mkdirp(path: string): Promise<void> {
    return this.call(`create ${path}`, (cb) => this.client.mkdirp(path, (err) => cb(err, undefined)));
  }

  create(path: string, data: Buffer): Promise<void> {
    return this.call(`create ${path}`, (cb) =>
      this.client.create(path, data, zookeeper.CreateMode.EPHEMERAL, (err) => cb(err, undefined)),
    );
  }

  setData(path: string, data: Buffer, version: number): Promise<void> {
    return this.call(`set ${path}`, (cb) => this.client.setData(path, data, version, (err) => cb(err, undefined)));
  }

  async remove(path: string, version: number, ignore: number[] = []): Promise<void> {
    try {
      await this.call(`delete ${path}`, (cb) => this.client.remove(path, version, (err) => cb(err, undefined)));
    } catch (err) {
      if (!ignore.includes(codeOf(err) ?? 0)) throw err;
    }
  }

  exists(path: string): Promise<zookeeper.Stat | null> {
    return this.call(`exists ${path}`, (cb) => this.client.exists(path, cb));
  }

  /** undefined when the node does not exist. */
  async data(path: string): Promise<{ data: Buffer | undefined; stat: zookeeper.Stat } | undefined> {
    try {
      return await this.call(`get ${path}`, (cb) => this.client.getData(path, (err, data, stat) => cb(err, { data, stat })));
    } catch (err) {
      if (codeOf(err) === zookeeper.Exception.NO_NODE) return undefined;
      throw err;
    }
  }

  /** [] when the node does not exist. */
  async children(path: string): Promise<string[]> {
    try {
      return await this.call(`list ${path}`, (cb) => this.client.getChildren(path, (err, children) => cb(err, children)));
    } catch (err) {
      if (codeOf(err) === zookeeper.Exception.NO_NODE) return [];
      throw err;
    }
  }

  /** Ends the session (ZooKeeper drops its ephemeral znodes at once), waiting up to waitMs for that to be sent. */
  async close(waitMs: number): Promise<void> {
    const wasConnected = this.connected();
    const closed = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, waitMs);
      this.client.once("disconnected", () => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.client.close();
    if (wasConnected) await closed;
  }

  private call<T>(what: string, start: (cb: (err: unknown, value: T) => void) => void): Promise<T> {
    if (!this.connected()) return Promise.reject(new Error(`zookeeper ${what}: not connected`));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`zookeeper ${what}: no answer within ${CALL_TIMEOUT_MS} ms`)), CALL_TIMEOUT_MS);
      try {
        start((err, value) => {
          clearTimeout(timer);
          if (err) reject(describe(err, what));
          else resolve(value);
        });
      } catch (err) {
        // The client checks paths with assert() before sending anything.
        clearTimeout(timer);
        reject(describe(err, what));
      }
    });
  }
}

function describe(err: unknown, what: string): Error {
  const wrapped = new Error(`zookeeper ${what}: ${err instanceof Error ? err.message : String(err)}`);
  const code = codeOf(err);
  if (code !== undefined) (wrapped as Error & { code?: number }).code = code;
  return wrapped;
}
