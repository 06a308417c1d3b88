/**
 * The few Docker Engine API calls the bench makes itself: create, start and remove its own
 * containers. Talking to the socket directly (keep-alive, no CLI process per call) keeps the
 * bench's own CPU use low on a 2-core machine and gives a precise "start returned" instant.
 */
import http from "node:http";
import { performance } from "node:perf_hooks";

/** Every container the bench creates carries this label and a name `bench-<n>`. */
export const BENCH_LABEL = "registrator-bench";
export const BENCH_NAME = /^\/?bench-\d+$/;

export interface EngineResponse {
  status: number;
  body: string;
}

export class EngineApi {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  private readonly target: { socketPath: string } | { host: string; port: number };

  /** `host` as in DOCKER_HOST: unix:///path or tcp://host:port (plain HTTP only). */
  constructor(host: string) {
    if (host.startsWith("unix://")) this.target = { socketPath: host.slice("unix://".length) };
    else if (host.startsWith("tcp://") || host.startsWith("http://")) {
      const url = new URL(host.replace(/^tcp:/, "http:"));
      this.target = { host: url.hostname, port: Number(url.port || 2375) };
    } else throw new Error(`the bench talks to unix:// or plain tcp:// engines, not ${host}`);
  }

  request(method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<EngineResponse> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          ...this.target,
          method,
          path,
          agent: this.agent,
          headers: payload ? { "content-type": "application/json", "content-length": String(payload.length) } : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("error", reject);
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer in ${timeoutMs} ms`)));
      req.on("error", reject);
      req.end(payload);
    });
  }

  /** Creates (does not start) `name` from `image`, with container port 80 published on `hostPort`. */
  async create(name: string, image: string, hostPort: number): Promise<string> {
    const res = await this.request("POST", `/containers/create?name=${encodeURIComponent(name)}`, {
      Image: image,
      Cmd: ["sleep", "3600"],
      Labels: { [BENCH_LABEL]: "1" },
      ExposedPorts: { "80/tcp": {} },
      HostConfig: { PortBindings: { "80/tcp": [{ HostPort: String(hostPort) }] } },
    });
    if (res.status !== 201) throw new Error(`create ${name}: HTTP ${res.status}: ${res.body.trim()}`);
    return (JSON.parse(res.body) as { Id: string }).Id;
  }

  /** Starts a created container; resolves (with the instant the answer arrived) once the engine says it runs. */
  async start(idOrName: string): Promise<number> {
    const res = await this.request("POST", `/containers/${encodeURIComponent(idOrName)}/start`);
    const at = performance.now();
    if (res.status !== 204 && res.status !== 304) throw new Error(`start ${idOrName}: HTTP ${res.status}: ${res.body.trim()}`);
    return at;
  }

  /** `docker rm -f -v`; a container that is already gone is fine. Resolves with the instant the answer arrived. */
  async remove(idOrName: string): Promise<number> {
    const res = await this.request("DELETE", `/containers/${encodeURIComponent(idOrName)}?force=1&v=1`);
    const at = performance.now();
    if (res.status !== 204 && res.status !== 404) throw new Error(`rm -f ${idOrName}: HTTP ${res.status}: ${res.body.trim()}`);
    return at;
  }

  /** The bench's own containers (label and name both match), running or not. */
  async benchContainers(): Promise<string[]> {
    const filters = encodeURIComponent(JSON.stringify({ label: [`${BENCH_LABEL}=1`] }));
    const res = await this.request("GET", `/containers/json?all=1&filters=${filters}`);
    if (res.status !== 200) throw new Error(`list: HTTP ${res.status}: ${res.body.trim()}`);
    const list = JSON.parse(res.body) as Array<{ Id: string; Names?: string[] }>;
    return list.filter((c) => (c.Names ?? []).some((n) => BENCH_NAME.test(n))).map((c) => c.Id);
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Runs `fn` over `items` with at most `concurrency` in flight; results in input order. */
export async function pool<T, R>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return results;
}
