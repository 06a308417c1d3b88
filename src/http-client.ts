/**
 * A small HTTP client over node:http/https, shared by the engine and the HTTP-speaking registries,
 * with the one rule by which every answer is judged. Node's own modules are loaded at start-up
 * anyway; a client library costs more than the few calls made here (bench/README.md).
 */
import http from "node:http";
import type { IncomingMessage } from "node:http";
import { RejectedError } from "./errors.js";

export interface TlsFiles {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  rejectUnauthorized?: boolean;
}

export interface EndpointOptions {
  /** `http://host:port` or `https://host:port`; with a socket path only its scheme matters. */
  url: string;
  socketPath?: string;
  tls?: TlsFiles;
  headers?: Record<string, string>;
  /** Per-request deadline for non-streaming requests. */
  timeoutMs?: number;
  /** The largest answer read; a longer one is an error, not a process out of memory. */
  maxBodyBytes?: number;
}

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** How an answer is judged: any 2xx passes, and so does what `accept` lists or accepts. */
export interface CallOptions extends RequestOptions {
  accept?: readonly number[] | ((status: number, body: string) => boolean);
  /** Why the server refused this request for good (a RejectedError), or undefined (an HttpStatusError). */
  refusal?: (status: number, body: string) => string | undefined;
}

/** Far above any answer registrator reads (a list of thousands of containers), far below a host's memory. */
const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;

/** The server answered with a status outside 2xx. */
export class HttpStatusError extends Error {
  override name = "HttpStatusError";
  constructor(
    readonly status: number,
    readonly body: string,
    what: string,
  ) {
    super(`${what}: HTTP ${status}${body ? `: ${body.trim().slice(0, 300)}` : ""}`);
  }
}

export class HttpClient {
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly transport: typeof http;

  constructor(private readonly endpoint: EndpointOptions) {
    this.base = new URL(endpoint.url);
    if (this.base.protocol === "https:") {
      // Loaded only for TLS endpoints: node:https brings tls and crypto along.
      const https = require("node:https") as typeof import("node:https");
      this.transport = https as unknown as typeof http;
      this.agent = new https.Agent({ keepAlive: true, maxSockets: 16, ...endpoint.tls });
    } else {
      this.transport = http;
      this.agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    }
  }

  get origin(): string {
    return this.endpoint.socketPath ? `unix://${this.endpoint.socketPath}` : this.base.origin;
  }

  /** A complete request; non-2xx answers come back as a Response, transport errors throw. */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const res = await this.open(method, path, options, options.timeoutMs ?? this.endpoint.timeoutMs ?? 30_000);
    const limit = this.endpoint.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    return { status: res.statusCode ?? 0, headers: res.headers, text: await readBody(res, limit, `${method} ${path}`) };
  }

  /**
   * The one response rule: 2xx and the accepted statuses come back; a refusal throws RejectedError,
   * any other status HttpStatusError.
   */
  async call(method: string, path: string, options: CallOptions = {}): Promise<Response> {
    return judge(await this.request(method, path, options), `${method} ${path}`, options);
  }

  /** `call`, with the body read as JSON (undefined when empty). */
  async json<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
    const res = await this.call(method, path, options);
    return (res.text ? JSON.parse(res.text) : undefined) as T;
  }

  /** A long-lived response (an event stream): resolves once the headers are in; no deadline afterwards. */
  async stream(method: string, path: string, options: RequestOptions = {}): Promise<IncomingMessage> {
    const res = await this.open(method, path, options, options.timeoutMs ?? this.endpoint.timeoutMs ?? 30_000, true);
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw new HttpStatusError(status, await readBody(res), `${method} ${path}`);
    return res;
  }

  close(): void {
    this.agent.destroy();
  }

  private open(
    method: string,
    path: string,
    options: RequestOptions,
    timeoutMs: number,
    streaming = false,
  ): Promise<IncomingMessage> {
    const payload = encodeBody(options.body);
    const headers: Record<string, string> = { ...this.endpoint.headers, ...options.headers };
    if (payload !== undefined) {
      headers["content-type"] ??= "application/json";
      headers["content-length"] = String(payload.length);
    }
    return new Promise((resolve, reject) => {
      const req = this.transport.request(
        {
          method,
          path: this.base.pathname.replace(/\/$/, "") + path,
          host: this.base.hostname.replace(/^\[(.*)\]$/, "$1"),
          port: this.base.port || undefined,
          socketPath: this.endpoint.socketPath,
          headers,
          agent: streaming ? false : this.agent,
          // Plain HTTP has no server name to send; left unset, Node's agent runs its IP-address
          // patterns over the host on every request, a cost that shows in a sync without a JIT.
          ...(this.base.protocol === "https:" ? (streaming ? this.endpoint.tls : {}) : { servername: "" }),
        },
        (res) => {
          if (!streaming) return resolve(res);
          req.setTimeout(0);
          resolve(res);
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
      req.on("error", (err) => reject(describeError(err, this.origin)));
      if (!streaming) {
        req.on("response", (res) => res.on("error", () => undefined));
      }
      req.end(payload);
    });
  }
}

/** The one response rule, for answers a caller had to follow first (redirects). */
export function judge(res: Response, what: string, options: Pick<CallOptions, "accept" | "refusal">): Response {
  if ((res.status >= 200 && res.status < 300) || accepts(options.accept, res)) return res;
  const error = new HttpStatusError(res.status, res.text, what);
  const refused = options.refusal?.(res.status, res.text) ?? (repeats(res.status) ? error.message : undefined);
  throw refused === undefined ? error : new RejectedError(refused);
}

/**
 * A client error answers the request as it was sent, so sending it again gets the same answer; except
 * a missing thing (404: an etcd lease, a path that comes back), a conflict, a timeout or a rate limit.
 */
function repeats(status: number): boolean {
  return status >= 400 && status < 500 && ![404, 408, 409, 425, 429].includes(status);
}

function accepts(accept: CallOptions["accept"], res: Response): boolean {
  if (!accept) return false;
  return typeof accept === "function" ? accept(res.status, res.text) : accept.includes(res.status);
}

/** Plain listeners: cheaper per request than the stream's async iterator. */
function readBody(res: IncomingMessage, limit = DEFAULT_MAX_BODY_BYTES, what = "answer"): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) res.destroy(new Error(`${what}: the answer is larger than ${limit} bytes`));
      else chunks.push(chunk);
    });
    res.on("end", () => resolve(chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8")));
    res.on("error", reject);
  });
}

function encodeBody(body: unknown): Buffer | undefined {
  if (body === undefined) return undefined;
  if (typeof body === "string") return Buffer.from(body);
  if (Buffer.isBuffer(body)) return body;
  return Buffer.from(JSON.stringify(body));
}

function describeError(err: Error & { code?: string }, origin: string): Error {
  if (err.code === "ECONNREFUSED" || err.code === "ENOENT" || err.code === "EACCES") {
    const wrapped = new Error(`cannot connect to ${origin}: ${err.code}`);
    (wrapped as Error & { code?: string }).code = err.code;
    return wrapped;
  }
  return err;
}
