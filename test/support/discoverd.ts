/**
 * The real Flynn discoverd (../shared/bin/discoverd, or DISCOVERD_BIN), one node on 127.0.0.1 in a temp
 * data dir. It leads its own raft cluster within seconds; it expires an instance 10 s after its last
 * PUT, but only once it has led for 20 s.
 */
import { join } from "node:path";
import type { DiscoverdInstance } from "../../src/registry/discoverd.js";
import { freePort } from "./ports.js";
import { findReferenceBinary, httpRequest, removeDir, spawnServer, tempDir, waitUntilReady, type ServerProcess } from "./process.js";

export interface DiscoverdServer {
  /** `127.0.0.1:PORT`. */
  hostPort: string;
  /** `discoverd://127.0.0.1:PORT`, for the adapter. */
  uri: string;
  /** The live instances of a service; undefined when it has none (discoverd's 404). */
  instances(service: string): Promise<DiscoverdInstance[] | undefined>;
  /** One request to the server, JSON in and out. */
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: string }>;
  /** Stops it and starts a new node on the same port with an empty data dir: a cluster started afresh. */
  restartEmpty(): Promise<void>;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 30_000;

export async function startDiscoverd(): Promise<DiscoverdServer> {
  const binary = findReferenceBinary("discoverd", "DISCOVERD_BIN", "discoverd not found: set DISCOVERD_BIN or put discoverd on the PATH");
  // Never 1111: at start-up discoverd takes over whatever discoverd answers there.
  let port = await freePort();
  while (port === 1111) port = await freePort();
  const hostPort = `127.0.0.1:${port}`;
  const dir = tempDir("discoverd");
  const api: DiscoverdServer["api"] = async (method, path, body) => {
    const res = await httpRequest({
      method,
      url: `http://${hostPort}${path}`,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: res.body };
  };
  let proc: ServerProcess;
  let starts = 0;
  const start = async (): Promise<void> => {
    const data = join(dir, `data-${++starts}`);
    proc = spawnServer({
      name: "discoverd",
      command: binary,
      args: [`-data-dir=${data}`, "-host=127.0.0.1", `-addr=${hostPort}`],
      logFile: join(dir, `discoverd-${starts}.log`),
    });
    // Writes get 503 "no known leader" until the node leads.
    const leads = async () => (await api("GET", "/raft/leader").catch(() => ({ status: 0 }))).status === 200;
    await waitUntilReady(proc, "discoverd to lead", leads, START_TIMEOUT_MS);
  };
  try {
    await start();
  } catch (err) {
    await proc!.kill();
    removeDir(dir);
    throw err;
  }
  return {
    hostPort,
    uri: `discoverd://${hostPort}`,
    api,
    instances: async (service) => {
      const res = await api("GET", `/services/${encodeURIComponent(service)}/instances`);
      if (res.status === 404) return undefined;
      if (res.status !== 200) throw new Error(`discoverd: GET instances of ${service}: ${res.status} ${res.body}`);
      return JSON.parse(res.body) as DiscoverdInstance[];
    },
    restartEmpty: async () => {
      await proc.stop();
      await start();
    },
    stop: async () => {
      if (proc.running()) await proc.stop();
      removeDir(dir);
    },
  };
}
