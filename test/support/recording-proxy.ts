/**
 * An HTTP proxy on 127.0.0.1 that forwards every request to one upstream server and keeps the ones
 * a test asks for, with their bodies. For servers that do not tell what they were sent: Consul 1.0.8
 * reports no check definitions, so a test that compares registrations reads the requests instead.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from "node:http";

export interface RecordedRequest {
  method: string;
  /** Path and query as sent. */
  url: string;
  body: string;
  /** The upstream's status; 0 when the upstream did not answer. */
  status: number;
  at: number;
}

export interface RecordingProxy {
  port: number;
  /** "127.0.0.1:PORT", to give the client instead of the upstream's address. */
  address: string;
  /** The kept requests, in the order their answers came back. */
  readonly recorded: RecordedRequest[];
  close(): Promise<void>;
}

export type KeepRequest = (method: string, url: string) => boolean;

/** A port on 127.0.0.1, or a unix socket (the engine's). */
export type Upstream = number | { socketPath: string };

/** `recorded`: a list to keep the requests in, which proxies of several servers may share, for one order. */
export async function startRecordingProxy(
  upstream: Upstream,
  keep: KeepRequest,
  recorded: RecordedRequest[] = [],
): Promise<RecordingProxy> {
  const server = createServer((req, res) => forward(req, res, { upstream, keep, recorded }));
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    address: `127.0.0.1:${port}`,
    recorded,
    close: () =>
      new Promise<void>((resolve) => {
        // Clients keep connections alive (Go's does); they must not hold the close up.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface Route {
  upstream: Upstream;
  keep: KeepRequest;
  recorded: RecordedRequest[];
}

function forward(req: IncomingMessage, res: ServerResponse, route: Route): void {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    const record = (status: number) => {
      if (route.keep(method, url)) route.recorded.push({ method, url, body: body.toString("utf8"), status, at: Date.now() });
    };
    const target = typeof route.upstream === "number" ? { host: "127.0.0.1", port: route.upstream } : route.upstream;
    const host = typeof route.upstream === "number" ? `127.0.0.1:${route.upstream}` : "docker";
    const upstream = request({ ...target, method, path: url, headers: { ...req.headers, host } }, (answer) => {
      record(answer.statusCode ?? 0);
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      // A stream (the engine's events) may send nothing for a while: its client waits for the head.
      res.flushHeaders();
      answer.pipe(res);
    });
    upstream.on("error", (err) => {
      record(0);
      // The client must see the upstream as down, as it would without the proxy.
      if (!res.headersSent) res.writeHead(502).end(err.message);
      else res.destroy(err);
    });
    // A client that goes (or is cut off at close) ends its request upstream too: a stream would outlive it.
    res.on("close", () => upstream.destroy());
    upstream.end(body);
  });
}
