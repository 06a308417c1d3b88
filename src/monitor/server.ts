/** The optional HTTP endpoint (`--metrics-addr`) on node:http: the routes it is given, and its limits. */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { isIP } from "node:net";

export interface ListenAddress {
  /** "" listens on every interface, as Go's ":9335" does. */
  host: string;
  port: number;
}

/** `host:port`, `[v6]:port` or `:port`; undefined when it is none of them. Pure. */
export function parseListenAddress(text: string): ListenAddress | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]*)):(\d{1,5})$/.exec(text.trim());
  if (!match) return undefined;
  const host = match[1] ?? match[2] ?? "";
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return undefined;
  if (match[1] !== undefined && isIP(host) !== 6) return undefined;
  if (match[2] !== undefined && host !== "" && !isIP(host) && !/^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/.test(host)) return undefined;
  return { host, port };
}

export function formatListenAddress({ host, port }: ListenAddress): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** What to warn about when the address is reachable from every network the host is on; undefined otherwise. Pure. */
export function everyInterfaceWarning(addr: ListenAddress): string | undefined {
  if (addr.host !== "" && addr.host !== "0.0.0.0" && addr.host !== "::") return undefined;
  return (
    `--metrics-addr ${formatListenAddress(addr)} listens on every interface: anyone who can reach this host can read ` +
    `/metrics, /health, /status and the status page; bind an address such as 127.0.0.1:${addr.port} unless that is intended`
  );
}

/** What one scraper, or many connections that never finish a request, may take. */
export interface ServerLimits {
  /** Time to send the request headers, and the whole request, before the connection is dropped. */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  maxConnections: number;
}

/** Prometheus scrapes take milliseconds; 64 is far more than any set of scrapers keeps open. */
export const DEFAULT_LIMITS: ServerLimits = { headersTimeoutMs: 10_000, requestTimeoutMs: 10_000, maxConnections: 64 };

export interface Reply {
  status: number;
  contentType: string;
  body: string;
}

/** Answers one path; a route may be async (a scrape collects process metrics). */
export type Routes = Record<string, () => Reply | Promise<Reply>>;

/** Which reply a request gets, before any handler runs. Pure. */
export function route(method: string | undefined, url: string | undefined, routes: Routes): Reply | (() => Reply | Promise<Reply>) {
  const path = (url ?? "/").split("?")[0]!;
  const handler = Object.hasOwn(routes, path) ? routes[path] : undefined;
  if (!handler) return text(404, `not found: try ${Object.keys(routes).join(" or ")}\n`);
  if (method !== "GET" && method !== "HEAD") return text(405, "method not allowed: use GET\n");
  return handler;
}

export interface HttpServer {
  /** Where it listens, as `host:port` (the real port when 0 was asked for). */
  address: string;
  /** Said once at start-up: set when it listens on every interface. */
  warning?: string;
  close(): Promise<void>;
}

/** Listens, or rejects with a message that says what to change (port in use, address not local, …). */
export function serveHttp(addr: ListenAddress, routes: Routes, limits: ServerLimits = DEFAULT_LIMITS): Promise<HttpServer> {
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      // Node checks those deadlines only this often (30 s by default), so they would be up to 30 s late.
      connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
    },
    (req, res) => void answer(req, res, routes),
  );
  server.maxConnections = limits.maxConnections;
  // A scraper that keeps its connection open must not hold shutdown up.
  server.keepAliveTimeout = 5_000;
  return new Promise((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => reject(new Error(listenFailure(addr, err))));
    server.listen({ host: addr.host || undefined, port: addr.port }, () => {
      const bound = server.address();
      const port = typeof bound === "object" && bound ? bound.port : addr.port;
      const warning = everyInterfaceWarning({ host: addr.host, port });
      resolve({
        address: formatListenAddress({ host: addr.host, port }),
        ...(warning ? { warning } : {}),
        close: () =>
          new Promise((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

function listenFailure(addr: ListenAddress, err: NodeJS.ErrnoException): string {
  const where = `--metrics-addr ${formatListenAddress(addr)}`;
  switch (err.code) {
    case "EADDRINUSE":
      return `${where}: the port is already in use (another registrator, or another exporter?): choose another port`;
    case "EADDRNOTAVAIL":
      return `${where}: no interface of this host has that address`;
    case "EACCES":
      return `${where}: not allowed to listen there (ports below 1024 need privileges)`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `${where}: the host name does not resolve`;
    default:
      return `${where}: cannot listen: ${err.message}`;
  }
}

async function answer(req: IncomingMessage, res: ServerResponse, routes: Routes): Promise<void> {
  const picked = route(req.method, req.url, routes);
  let reply: Reply;
  try {
    reply = typeof picked === "function" ? await picked() : picked;
  } catch (err) {
    reply = text(500, `${(err as Error).message}\n`);
  }
  res.writeHead(reply.status, { "content-type": reply.contentType, "cache-control": "no-store" });
  res.end(req.method === "HEAD" ? undefined : reply.body);
}

function text(status: number, body: string): Reply {
  return { status, contentType: "text/plain; charset=utf-8", body };
}
