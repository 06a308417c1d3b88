import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { freePorts } from "./ports.js";
import { findExecutable, httpRequest, removeDir, spawnServer, tempDir, waitUntilReady, type ServerProcess } from "./process.js";

export interface EtcdTlsOptions {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** Presented by this helper's own requests (get, put, ...); makeCerts' output fits as is. */
  clientCertFile?: string;
  clientKeyFile?: string;
  /** Make etcd require a client certificate signed by caFile (--client-cert-auth). */
  clientCertAuth?: boolean;
}

export interface EtcdOptions {
  /** Also serve the v2 API (the Go registrator only speaks v2). */
  v2?: boolean;
  tls?: EtcdTlsOptions;
}

export interface EtcdServer {
  /** "http://127.0.0.1:PORT" or "https://127.0.0.1:PORT". */
  endpoint: string;
  port: number;
  /** "127.0.0.1:PORT". */
  host: string;
  get(key: string): Promise<string | undefined>;
  /** key -> value of every key under prefix. */
  list(prefix: string): Promise<Record<string, string>>;
  /** With ttlSeconds, the key is attached to a new lease of that TTL. */
  put(key: string, value: string, opts?: { ttlSeconds?: number }): Promise<void>;
  /** Puts every key in one transaction, so they share one revision (as registrator writes an entry and its marker). */
  putTogether(entries: Record<string, string>): Promise<void>;
  /** Deletes every key under prefix, as another tool or an operator would. */
  deletePrefix(prefix: string): Promise<void>;
  /** The key's lease id as a decimal string, "0" for none; throws if the key does not exist. */
  leaseOf(key: string): Promise<string>;
  /** The revision that last wrote the key; throws if the key does not exist. */
  modRevisionOf(key: string): Promise<string>;
  /** Stops etcd and removes its data dir; restart() after it starts an empty etcd. */
  stop(): Promise<void>;
  /** SIGKILL, keeping the data dir. */
  kill(): Promise<void>;
  /** Starts again on the same ports and data dir (stopping it first if it runs). */
  restart(): Promise<void>;
}

interface RangeResponse {
  kvs?: { key: string; value?: string; lease?: string; mod_revision?: string }[];
}

const START_TIMEOUT_MS = 30_000;

export async function startEtcd(opts: EtcdOptions = {}): Promise<EtcdServer> {
  const binary = findExecutable("etcd", ["/usr/bin/etcd"]);
  if (!binary) throw new Error("etcd not found: install etcd: apt-get install etcd-server");
  const [port, peerPort] = (await freePorts(2)) as [number, number];
  const dir = tempDir("etcd");
  const scheme = opts.tls ? "https" : "http";
  const endpoint = `${scheme}://127.0.0.1:${port}`;
  const client = etcdClient(endpoint, opts.tls);
  const args = etcdArgs({ dir, endpoint, peerPort, ...opts });

  let proc: ServerProcess | undefined;
  const start = async (): Promise<void> => {
    mkdirSync(join(dir, "data"), { recursive: true });
    proc = spawnServer({ name: "etcd", command: binary, args, logFile: join(dir, "etcd.log") });
    await waitUntilHealthy(proc, client);
  };
  const halt = async (signal: "stop" | "kill"): Promise<void> => {
    if (proc?.running()) await (signal === "stop" ? proc.stop() : proc.kill());
  };

  try {
    await start();
  } catch (err) {
    await halt("kill");
    removeDir(dir);
    throw err;
  }
  return {
    endpoint,
    port,
    host: `127.0.0.1:${port}`,
    get: client.get,
    list: client.list,
    put: client.put,
    putTogether: client.putTogether,
    deletePrefix: client.deletePrefix,
    leaseOf: client.leaseOf,
    modRevisionOf: client.modRevisionOf,
    stop: async () => {
      await halt("stop");
      removeDir(dir);
    },
    kill: () => halt("kill"),
    restart: async () => {
      await halt("stop");
      await start();
    },
  };
}

function etcdArgs(o: { dir: string; endpoint: string; peerPort: number } & EtcdOptions): string[] {
  const peer = `http://127.0.0.1:${o.peerPort}`;
  const args = [
    "--name",
    "default",
    "--data-dir",
    join(o.dir, "data"),
    "--listen-client-urls",
    o.endpoint,
    "--advertise-client-urls",
    o.endpoint,
    "--listen-peer-urls",
    peer,
    "--initial-advertise-peer-urls",
    peer,
    "--initial-cluster",
    `default=${peer}`,
    "--initial-cluster-state",
    "new",
    "--logger",
    "zap",
    "--log-outputs",
    "stderr",
  ];
  if (o.v2) args.push("--enable-v2");
  if (o.tls) {
    args.push("--cert-file", o.tls.certFile, "--key-file", o.tls.keyFile, "--trusted-ca-file", o.tls.caFile);
    if (o.tls.clientCertAuth) args.push("--client-cert-auth");
  }
  return args;
}

async function waitUntilHealthy(proc: ServerProcess, client: EtcdClient): Promise<void> {
  await waitUntilReady(
    proc,
    "etcd /health",
    async () => {
      const res = await client.request("GET", "/health");
      return res.status === 200 && (JSON.parse(res.body) as { health?: string }).health === "true";
    },
    START_TIMEOUT_MS,
  );
}

interface EtcdClient {
  request(method: string, path: string, body?: unknown): Promise<{ status: number; body: string }>;
  get(key: string): Promise<string | undefined>;
  list(prefix: string): Promise<Record<string, string>>;
  put(key: string, value: string, opts?: { ttlSeconds?: number }): Promise<void>;
  putTogether(entries: Record<string, string>): Promise<void>;
  deletePrefix(prefix: string): Promise<void>;
  leaseOf(key: string): Promise<string>;
  modRevisionOf(key: string): Promise<string>;
}

// Uses the v3 JSON gateway, where keys and values travel base64-encoded.
function etcdClient(endpoint: string, tls?: EtcdTlsOptions): EtcdClient {
  const pem = tls && {
    ca: readFileSync(tls.caFile, "utf8"),
    cert: tls.clientCertFile ? readFileSync(tls.clientCertFile, "utf8") : undefined,
    key: tls.clientKeyFile ? readFileSync(tls.clientKeyFile, "utf8") : undefined,
  };
  const request = (method: string, path: string, body?: unknown) =>
    httpRequest({ method, url: `${endpoint}${path}`, body: body === undefined ? undefined : JSON.stringify(body), ...pem });
  const call = async <T>(path: string, body: unknown): Promise<T> => {
    const res = await request("POST", path, body);
    if (res.status !== 200) throw new Error(`etcd ${path}: HTTP ${res.status}: ${res.body}`);
    return JSON.parse(res.body) as T;
  };
  const range = (body: Record<string, string>) => call<RangeResponse>("/v3/kv/range", body);
  const kvOf = async (key: string) => (await range({ key: b64(key) })).kvs?.[0];
  const existing = async (key: string) => {
    const kv = await kvOf(key);
    if (!kv) throw new Error(`etcd key ${key} does not exist`);
    return kv;
  };

  return {
    request,
    get: async (key) => {
      const kv = await kvOf(key);
      return kv && unb64(kv.value ?? "");
    },
    list: async (prefix) => {
      // An empty key is invalid; "\0" is the smallest key there is.
      const { kvs = [] } = await range({ key: b64(prefix || "\0"), range_end: b64(prefixEnd(prefix)) });
      return Object.fromEntries(kvs.map((kv) => [unb64(kv.key), unb64(kv.value ?? "")]));
    },
    put: async (key, value, opts = {}) => {
      const lease = opts.ttlSeconds ? (await call<{ ID: string }>("/v3/lease/grant", { TTL: opts.ttlSeconds })).ID : undefined;
      await call("/v3/kv/put", { key: b64(key), value: b64(value), ...(lease && { lease }) });
    },
    putTogether: async (entries) => {
      const success = Object.entries(entries).map(([key, value]) => ({ request_put: { key: b64(key), value: b64(value) } }));
      await call("/v3/kv/txn", { success });
    },
    deletePrefix: async (prefix) => {
      await call("/v3/kv/deleterange", { key: b64(prefix), range_end: b64(prefixEnd(prefix)) });
    },
    // The gateway leaves out zero-valued fields, so no lease means no field.
    leaseOf: async (key) => (await existing(key)).lease ?? "0",
    modRevisionOf: async (key) => {
      const revision = (await existing(key)).mod_revision;
      if (!revision) throw new Error(`etcd key ${key} has no mod_revision`);
      return revision;
    },
  };
}

/** The smallest key greater than every key starting with prefix, as etcd's clientv3.GetPrefixRangeEnd. */
function prefixEnd(prefix: string): Buffer {
  const bytes = Buffer.from(prefix, "utf8");
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      const end = bytes.subarray(0, i + 1);
      end[i] = bytes[i]! + 1;
      return end;
    }
  }
  return Buffer.from([0]); // every key
}

function b64(value: string | Buffer): string {
  return Buffer.from(value).toString("base64");
}

function unb64(value: string): string {
  return Buffer.from(value, "base64").toString("utf8");
}
