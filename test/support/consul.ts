import { rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { freePorts } from "./ports.js";
import { findReferenceBinary, httpRequest, removeDir, spawnServer, tempDir, waitUntilReady, type ServerProcess } from "./process.js";

export interface ConsulTlsOptions {
  caFile: string;
  certFile: string;
  keyFile: string;
}

export interface ConsulOptions {
  /** Also serve HTTPS on httpsPort with this server certificate; client certificates are not required. */
  tls?: ConsulTlsOptions;
  /** Turn ACLs on with default policy deny and this master token. */
  aclMasterToken?: string;
  enableScriptChecks?: boolean;
  /** Also serve the HTTP API on this unix socket (for consul-unix://). */
  unixSocket?: string;
}

export interface ConsulApiResponse<T> {
  status: number;
  /** Parsed JSON, or the raw text when the answer is not JSON ("Permission denied"). */
  body: T;
}

export interface ConsulServer {
  /** "127.0.0.1:HTTPPORT". */
  address: string;
  httpPort: number;
  dnsPort: number;
  httpsPort?: number;
  /** Plain HTTP to the agent; token goes in X-Consul-Token. */
  api<T = unknown>(method: string, path: string, body?: unknown, token?: string): Promise<ConsulApiResponse<T>>;
  stop(): Promise<void>;
  kill(): Promise<void>;
  /** Stops and starts again on the same ports. Dev mode keeps state in memory, so it comes back empty. */
  restart(): Promise<void>;
}

const START_TIMEOUT_MS = 30_000;

/** CONSUL_BIN, else consul on the PATH, else the reference binary in ../shared/bin beside the repository. */
export function findConsul(): string {
  return findReferenceBinary("consul", "CONSUL_BIN", "Consul not found: set CONSUL_BIN to a consul binary or put consul on the PATH");
}

export async function startConsul(opts: ConsulOptions = {}): Promise<ConsulServer> {
  const binary = findConsul();
  const [httpPort, dnsPort, serfLan, serfWan, server, https] = (await freePorts(opts.tls ? 6 : 5)) as number[] as [
    number,
    number,
    number,
    number,
    number,
    number | undefined,
  ];
  const ports = { http: httpPort, dns: dnsPort, serf_lan: serfLan, serf_wan: serfWan, server, https };
  const dir = tempDir("consul");
  const args = ["agent", "-dev", "-bind", "127.0.0.1", "-client", "127.0.0.1", "-node", "test", "-hcl", consulHcl(ports, opts)];
  const api = consulApi(httpPort);

  let proc: ServerProcess | undefined;
  const start = async (): Promise<void> => {
    // A socket left by a killed agent makes the next one fail to listen.
    if (opts.unixSocket) rmSync(opts.unixSocket, { force: true });
    proc = spawnServer({ name: "consul", command: binary, args, logFile: join(dir, "consul.log") });
    await waitForLeader(proc, api);
  };
  const halt = async (signal: "stop" | "kill"): Promise<void> => {
    if (proc?.running()) await (signal === "stop" ? proc.stop() : proc.kill());
  };
  const cleanUp = (): void => {
    removeDir(dir);
    if (opts.unixSocket) rmSync(opts.unixSocket, { force: true });
  };

  try {
    await start();
  } catch (err) {
    await halt("kill");
    cleanUp();
    throw err;
  }
  return {
    address: `127.0.0.1:${httpPort}`,
    httpPort,
    dnsPort,
    ...(https === undefined ? {} : { httpsPort: https }),
    api,
    stop: async () => {
      await halt("stop");
      cleanUp();
    },
    kill: () => halt("kill"),
    restart: async () => {
      await halt("stop");
      await start();
    },
  };
}

type Ports = Record<"http" | "dns" | "serf_lan" | "serf_wan" | "server", number> & { https: number | undefined };

// Consul 1.0.8 syntax: ACLs are the legacy acl_* keys, and addresses.http
// takes a space-separated list to add a unix socket beside the TCP listener.
function consulHcl(ports: Ports, opts: ConsulOptions): string {
  const portLines = Object.entries(ports)
    .filter(([, port]) => port !== undefined)
    .map(([name, port]) => `${name} = ${port}`);
  const lines = ["disable_update_check = true", `ports { ${portLines.join(", ")} }`];
  if (opts.unixSocket) lines.push(`addresses { http = ${JSON.stringify(`127.0.0.1 unix://${resolve(opts.unixSocket)}`)} }`);
  if (opts.tls) {
    lines.push(
      `ca_file = ${JSON.stringify(opts.tls.caFile)}`,
      `cert_file = ${JSON.stringify(opts.tls.certFile)}`,
      `key_file = ${JSON.stringify(opts.tls.keyFile)}`,
      "verify_incoming = false",
    );
  }
  if (opts.aclMasterToken) {
    const token = JSON.stringify(opts.aclMasterToken);
    // The agent token lets the agent sync its own node and services into the
    // catalog; without it a deny policy keeps /v1/catalog empty.
    lines.push(`acl_datacenter = "dc1"`, `acl_master_token = ${token}`, `acl_agent_token = ${token}`, `acl_default_policy = "deny"`);
  }
  if (opts.enableScriptChecks) lines.push("enable_script_checks = true");
  return lines.join("\n");
}

function consulApi(httpPort: number): ConsulServer["api"] {
  return async <T>(method: string, path: string, body?: unknown, token?: string) => {
    const res = await httpRequest({
      method,
      url: `http://127.0.0.1:${httpPort}${path}`,
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: token ? { "x-consul-token": token } : {},
    });
    return { status: res.status, body: parseBody(res.body) as T };
  };
}

function parseBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function waitForLeader(proc: ServerProcess, api: ConsulServer["api"]): Promise<void> {
  await waitUntilReady(
    proc,
    "Consul to elect a leader",
    async () => {
      const res = await api<string>("GET", "/v1/status/leader");
      return res.status === 200 && typeof res.body === "string" && res.body !== "";
    },
    START_TIMEOUT_MS,
  );
}
