/** One ZooKeeper session, its callback API turned into promises. */
import zookeeper from "node-zookeeper-client";
import { RejectedError } from "../errors.js";

const CALL_TIMEOUT_MS = 10_000;

export function codeOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === "number" ? code : undefined;
}

/**
 * One ZooKeeper session, with the callback API turned into promises. Calls fail at once while
 * disconnected rather than queue: a queued write could land after a later removal.
 */
export class ZkSession {
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
    return this.call(`create ${path}`, (cb) => this.client.create(path, data, zookeeper.CreateMode.EPHEMERAL, (err) => cb(err, undefined)));
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
        // The client checks its arguments (paths, a body over its limit) with assert() before sending
        // anything: the same call would fail the same way again.
        clearTimeout(timer);
        reject(new RejectedError(describe(err, what).message));
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
