/**
 * What the bench reads back from the registry: how many bench services are stored (a prefix range
 * count), and a watch that timestamps every write to the bench's prefix as it arrives:
 *
 * - etcd v3: the JSON gateway's streaming `POST /v3/watch` (what ours writes);
 * - etcd v2: `GET /v2/keys/<dir>?wait=true&recursive=true&stream=true` (what the Go registrator writes);
 * - Consul: no push for agent services, so `GET /v1/agent/services` polled every `pollMs`.
 *
 * All times are performance.now() in the bench process, in ms.
 */
import http from "node:http";
import { performance } from "node:perf_hooks";

export type RegistryKind = "etcd-v3" | "etcd-v2" | "consul";

export interface WatchEvent {
  t: number;
  key: string;
  type: "put" | "delete";
}

export interface RegistryProbe {
  readonly kind: RegistryKind;
  /** The registry URI the registrator under test is given. */
  readonly uri: string;
  /** The watch key (etcd) or service id (Consul) of the bench service of container `name`. */
  keyOf(containerName: string): string;
  /** Bench services stored now. */
  count(): Promise<number>;
  /** Removes every bench entry (so the next registrator starts from an empty registry). */
  clear(): Promise<void>;
  /** Removes the entry of container `name` behind the registrator's back, as an operator or a lost write would. */
  remove(containerName: string): Promise<void>;
  /** A watch of the bench entries, starting from the registry's state now. */
  watch(): Promise<KeyWatch>;
}

interface Http {
  request(method: string, path: string, body?: unknown): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>;
  stream(method: string, path: string, body: unknown, onLine: (line: string, t: number) => void): { done: Promise<void>; close(): void };
  close(): void;
}

function httpTo(port: number): Http {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const encode = (body: unknown) => (body === undefined ? undefined : Buffer.from(typeof body === "string" ? body : JSON.stringify(body)));
  return {
    request: (method, path, body) =>
      new Promise((resolve, reject) => {
        const payload = encode(body);
        const req = http.request(
          { host: "127.0.0.1", port, method, path, agent, headers: payload ? { "content-length": String(payload.length) } : {} },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("error", reject);
            res.on("end", () =>
              resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }),
            );
          },
        );
        req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path}: no answer in 10 s`)));
        req.on("error", reject);
        req.end(payload);
      }),
    stream: (method, path, body, onLine) => {
      let req: http.ClientRequest | undefined;
      const done = new Promise<void>((resolve) => {
        const payload = encode(body);
        req = http.request(
          { host: "127.0.0.1", port, method, path, agent: false, headers: payload ? { "content-length": String(payload.length) } : {} },
          (res) => {
            res.setEncoding("utf8");
            let pending = "";
            res.on("data", (chunk: string) => {
              const t = performance.now();
              pending += chunk;
              let nl: number;
              while ((nl = pending.indexOf("\n")) >= 0) {
                const line = pending.slice(0, nl).trim();
                pending = pending.slice(nl + 1);
                if (line) onLine(line, t);
              }
            });
            res.on("end", resolve);
            res.on("close", resolve);
            res.on("error", () => resolve());
          },
        );
        req.on("error", () => resolve());
        req.end(payload);
      });
      return { done, close: () => req?.destroy() };
    },
    close: () => agent.destroy(),
  };
}

/** Timestamped view of the bench's entries, fed by one of the sources above. */
export class KeyWatch {
  readonly events: WatchEvent[] = [];
  private readonly present = new Map<string, number>();
  private readonly waiters = new Set<() => void>();
  private lastAt = 0;
  private closer: () => void = () => undefined;
  /** Set when the source lost events (reconnected with a gap); figures after it rely on the range count. */
  gaps = 0;

  get size(): number {
    return this.present.size;
  }

  has(key: string): boolean {
    return this.present.has(key);
  }

  /** When the last event seen arrived. */
  get lastEventAt(): number {
    return this.lastAt;
  }

  /** Arrival time of the latest put of `key` at or after `since`, if any. */
  putAt(key: string, since = -Infinity): number | undefined {
    const t = this.present.get(key);
    return t !== undefined && t >= since ? t : undefined;
  }

  apply(event: WatchEvent): void {
    this.events.push(event);
    this.lastAt = event.t;
    if (event.type === "put") this.present.set(event.key, event.t);
    else this.present.delete(event.key);
    for (const wake of [...this.waiters]) wake();
  }

  /** Replaces the view (after a gap): keys not listed are gone, new ones count as put now. */
  reset(keys: Iterable<string>, t: number): void {
    const now = new Set(keys);
    for (const key of [...this.present.keys()]) if (!now.has(key)) this.apply({ t, key, type: "delete" });
    for (const key of now) if (!this.present.has(key)) this.apply({ t, key, type: "put" });
  }

  /** Resolves with probe()'s first defined value, re-evaluated after every event; undefined on timeout. */
  until<T>(probe: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
    const first = probe();
    if (first !== undefined) return Promise.resolve(first);
    return new Promise((resolve) => {
      const finish = (value: T | undefined) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(value);
      };
      const check = () => {
        const value = probe();
        if (value !== undefined) finish(value);
      };
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      this.waiters.add(check);
    });
  }

  /** Resolves with the arrival time of the event after which at least `n` entries are present. */
  untilAtLeast(n: number, timeoutMs: number): Promise<number | undefined> {
    return this.until(() => (this.present.size >= n ? this.lastAt : undefined), timeoutMs);
  }

  /** Resolves with the arrival time of the event after which at most `n` entries are present. */
  untilAtMost(n: number, timeoutMs: number): Promise<number | undefined> {
    return this.until(() => (this.present.size <= n ? this.lastAt : undefined), timeoutMs);
  }

  /** Resolves with the arrival time of a put of `key` at or after `since`. */
  untilPut(key: string, since: number, timeoutMs: number): Promise<number | undefined> {
    return this.until(() => this.putAt(key, since), timeoutMs);
  }

  /** Resolves with the arrival time of the delete of `key` (now, if it is not there). */
  untilGone(key: string, timeoutMs: number): Promise<number | undefined> {
    return this.until(() => (this.present.has(key) ? undefined : this.lastAt), timeoutMs);
  }

  onClose(closer: () => void): void {
    this.closer = closer;
  }

  close(): void {
    this.closer();
    for (const wake of [...this.waiters]) wake();
  }
}

const b64 = (text: string | Buffer) => Buffer.from(text).toString("base64");
const unb64 = (text: string | undefined) => Buffer.from(text ?? "", "base64").toString("utf8");

function prefixEnd(prefix: string): Buffer {
  const bytes = Buffer.from(prefix, "utf8");
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i] = bytes[i]! + 1;
      return end;
    }
  }
  return Buffer.from([0]);
}

/**
 * etcd, through v3 or v2. `root` is the registrator's path ("/bench"), `name` the service name:
 * entries are `<root>/<name>/<id>`. Only `<root>/<name>/` is counted and watched, so services other
 * people's containers on the same engine get under `<root>/` do not count.
 */
export function etcdProbe(opts: { port: number; api: "v2" | "v3"; root: string; name: string; hostname: string }): RegistryProbe {
  const h = httpTo(opts.port);
  const dir = `${opts.root}/${opts.name}`;
  const prefix = `${dir}/`;
  const keyOf = (container: string) => `${prefix}${opts.hostname}:${container}:80`;
  const uri = `etcd://127.0.0.1:${opts.port}${opts.root}`;

  if (opts.api === "v3") {
    const range = { key: b64(prefix), range_end: b64(prefixEnd(prefix)) };
    const revision = async (): Promise<number> => {
      const res = await h.request("POST", "/v3/kv/range", { ...range, count_only: true });
      return Number((JSON.parse(res.body) as { header?: { revision?: string } }).header?.revision ?? 0);
    };
    const deleteRange = async (body: { key: string; range_end?: string }): Promise<void> => {
      const res = await h.request("POST", "/v3/kv/deleterange", body);
      if (res.status !== 200) throw new Error(`etcd deleterange: HTTP ${res.status}: ${res.body}`);
    };
    return {
      kind: "etcd-v3",
      uri,
      keyOf,
      count: async () => {
        const res = await h.request("POST", "/v3/kv/range", { ...range, count_only: true });
        if (res.status !== 200) throw new Error(`etcd range: HTTP ${res.status}: ${res.body}`);
        return Number((JSON.parse(res.body) as { count?: string }).count ?? 0);
      },
      // Owner markers live under their own root (README, Running on many hosts): a cold start has neither.
      clear: async () => {
        for (const root of [`${opts.root}/`, `/.registrator${opts.root}/`])
          await deleteRange({ key: b64(root), range_end: b64(prefixEnd(root)) });
      },
      remove: (container) => deleteRange({ key: b64(keyOf(container)) }),
      watch: async () => {
        const watch = new KeyWatch();
        let next = (await revision()) + 1;
        let closed = false;
        let current: { close(): void } | undefined;
        const loop = async () => {
          while (!closed) {
            const s = h.stream("POST", "/v3/watch", { create_request: { ...range, start_revision: String(next) } }, (line, t) => {
              type Msg = {
                result?: { events?: Array<{ type?: string; kv?: { key?: string; mod_revision?: string } }>; compact_revision?: string };
              };
              let msg: Msg;
              try {
                msg = JSON.parse(line) as Msg;
              } catch {
                return;
              }
              for (const ev of msg.result?.events ?? []) {
                const rev = Number(ev.kv?.mod_revision ?? 0);
                if (rev >= next) next = rev + 1;
                watch.apply({ t, key: unb64(ev.kv?.key), type: ev.type === "DELETE" ? "delete" : "put" });
              }
            });
            current = s;
            await s.done;
            if (!closed) await new Promise((r) => setTimeout(r, 50));
          }
        };
        void loop();
        watch.onClose(() => {
          closed = true;
          current?.close();
        });
        // The gateway answers the create request first; give it a moment so nothing is missed.
        await new Promise((r) => setTimeout(r, 50));
        return watch;
      },
    };
  }

  type V2Node = { key?: string; dir?: boolean; nodes?: V2Node[]; modifiedIndex?: number };
  const list = async (): Promise<{ keys: string[]; index: number }> => {
    const res = await h.request("GET", `/v2/keys${dir}?recursive=true`);
    const index = Number(res.headers["x-etcd-index"] ?? 0);
    if (res.status === 404) return { keys: [], index };
    if (res.status !== 200) throw new Error(`etcd v2 get: HTTP ${res.status}: ${res.body}`);
    const node = (JSON.parse(res.body) as { node?: V2Node }).node;
    return { keys: (node?.nodes ?? []).filter((n) => !n.dir && n.key).map((n) => n.key as string), index };
  };
  /** `path`: a key, or a directory with `?recursive=true`; one already gone is fine. */
  const deleteKey = async (path: string): Promise<void> => {
    const res = await h.request("DELETE", `/v2/keys${path}`);
    if (res.status !== 200 && res.status !== 404) throw new Error(`etcd v2 delete: HTTP ${res.status}: ${res.body}`);
  };
  return {
    kind: "etcd-v2",
    uri,
    keyOf,
    count: async () => (await list()).keys.length,
    clear: () => deleteKey(`${opts.root}?recursive=true`),
    remove: (container) => deleteKey(keyOf(container)),
    watch: async () => {
      const watch = new KeyWatch();
      const start = await list();
      watch.reset(start.keys, performance.now());
      let next = start.index + 1;
      let closed = false;
      let current: { close(): void } | undefined;
      const loop = async () => {
        while (!closed) {
          let outdated = false;
          const s = h.stream("GET", `/v2/keys${dir}?wait=true&recursive=true&stream=true&waitIndex=${next}`, undefined, (line, t) => {
            type Msg = { action?: string; node?: V2Node; errorCode?: number; index?: number };
            let msg: Msg;
            try {
              msg = JSON.parse(line) as Msg;
            } catch {
              return;
            }
            if (msg.errorCode !== undefined) {
              outdated = true; // 401: the index is older than the 1000 events v2 keeps
              return;
            }
            const key = msg.node?.key;
            if (!key || msg.node?.dir) return;
            const index = msg.node?.modifiedIndex ?? 0;
            if (index >= next) next = index + 1;
            const gone = msg.action === "delete" || msg.action === "expire" || msg.action === "compareAndDelete";
            watch.apply({ t, key, type: gone ? "delete" : "put" });
          });
          current = s;
          await s.done;
          if (closed) break;
          if (outdated) {
            watch.gaps++;
            const now = await list();
            watch.reset(now.keys, performance.now());
            next = now.index + 1;
          } else await new Promise((r) => setTimeout(r, 20));
        }
      };
      void loop();
      watch.onClose(() => {
        closed = true;
        current?.close();
      });
      await new Promise((r) => setTimeout(r, 50));
      return watch;
    },
  };
}

/**
 * How often the Consul probe polls: tightly for single events; less during a sync, where a tight poll
 * of a growing list loads the very agent the registrators write to.
 */
export const CONSUL_POLL_MS = { latency: 2, sync: 20 } as const;

/** The local Consul agent's services named `name`, polled every `pollMs` (the agent API has no push). */
export function consulProbe(opts: { port: number; name: string; hostname: string; pollMs: number }): RegistryProbe {
  const h = httpTo(opts.port);
  const keyOf = (container: string) => `${opts.hostname}:${container}:80`;
  const services = async (): Promise<string[]> => {
    const res = await h.request("GET", "/v1/agent/services");
    if (res.status !== 200) throw new Error(`consul agent services: HTTP ${res.status}: ${res.body}`);
    const all = JSON.parse(res.body) as Record<string, { ID?: string; Service?: string }>;
    return Object.values(all)
      .filter((s) => s.Service === opts.name)
      .map((s) => s.ID ?? "");
  };
  return {
    kind: "consul",
    uri: `consul://127.0.0.1:${opts.port}`,
    keyOf,
    count: async () => (await services()).length,
    clear: async () => {
      for (const id of await services()) await h.request("PUT", `/v1/agent/service/deregister/${encodeURIComponent(id)}`);
    },
    remove: async (container) => {
      await h.request("PUT", `/v1/agent/service/deregister/${encodeURIComponent(keyOf(container))}`);
    },
    watch: async () => {
      const watch = new KeyWatch();
      watch.reset(await services(), performance.now());
      let closed = false;
      const loop = async () => {
        while (!closed) {
          try {
            const ids = await services();
            watch.reset(ids, performance.now());
          } catch {
            // the agent is busy or gone; try again
          }
          await new Promise((r) => setTimeout(r, opts.pollMs));
        }
      };
      void loop();
      watch.onClose(() => (closed = true));
      return watch;
    },
  };
}
