/**
 * A small HTTP client, shared by the engine and the HTTP-speaking registries, with the one rule by
 * which every answer is judged, over the sockets of `Http1Pool` (src/http1.ts).
 */
import type { Readable } from "node:stream";
import { RejectedError } from "./errors.js";
import { Http1Pool } from "./http1.js";

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
  /** Lowercased names. */
  headers: Record<string, string>;
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
  private readonly pool: Http1Pool;

  constructor(private readonly endpoint: EndpointOptions) {
    this.base = new URL(endpoint.url);
    this.pool = new Http1Pool(
      {
        host: this.host,
        port: Number(this.base.port) || (this.isTls ? 443 : 80),
        socketPath: endpoint.socketPath,
        tls: this.isTls ? { ...endpoint.tls } : undefined,
      },
      16,
    );
  }

  get origin(): string {
    return this.endpoint.socketPath ? `unix://${this.endpoint.socketPath}` : this.base.origin;
  }

  /** A complete request; non-2xx answers come back as a Response, transport errors throw. */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const body = encodeBody(options.body);
    const headers: Record<string, string> = { ...this.endpoint.headers, ...options.headers };
    if (body !== undefined) headers["content-type"] ??= "application/json";
    const answer = await this.pool
      .request({
        method,
        path: this.fullPath(path),
        headers,
        body,
        timeoutMs: options.timeoutMs ?? this.endpoint.timeoutMs ?? 30_000,
        maxBodyBytes: this.endpoint.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      })
      .catch((err: Error) => {
        throw describeError(err, this.origin, `${method} ${path}`);
      });
    return { status: answer.status, headers: answer.headers, text: answer.body.toString("utf8") };
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
  async stream(method: string, path: string, options: RequestOptions = {}): Promise<Readable> {
    const what = `${method} ${path}`;
    const answer = await this.pool
      .stream({
        method,
        path: this.fullPath(path),
        headers: { ...this.endpoint.headers, ...options.headers },
        timeoutMs: options.timeoutMs ?? this.endpoint.timeoutMs ?? 30_000,
      })
      .catch((err: Error) => {
        throw describeError(err, this.origin, what);
      });
    if (answer.status >= 200 && answer.status < 300) return answer.body;
    throw new HttpStatusError(answer.status, await readBody(answer.body), what);
  }

  close(): void {
    this.pool.close();
  }

  private get isTls(): boolean {
    return this.base.protocol === "https:";
  }

  private get host(): string {
    return this.base.hostname.replace(/^\[(.*)\]$/, "$1");
  }

  private fullPath(path: string): string {
    return this.base.pathname.replace(/\/$/, "") + path;
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

/** A refused stream's body: the engine's few words on why. */
function readBody(res: Readable, limit = 64 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) res.destroy();
      else chunks.push(chunk);
    });
    const done = () => resolve(Buffer.concat(chunks).toString("utf8"));
    res.on("end", done);
    res.on("close", done);
    res.on("error", reject);
  });
}

function encodeBody(body: unknown): Buffer | undefined {
  if (body === undefined) return undefined;
  if (typeof body === "string") return Buffer.from(body);
  if (Buffer.isBuffer(body)) return body;
  return Buffer.from(JSON.stringify(body));
}

/** Whom a connection failure concerns, and which request an answer that could not be read was for. */
function describeError(err: Error & { code?: string }, origin: string, what: string): Error {
  if (err.code === "ECONNREFUSED" || err.code === "ENOENT" || err.code === "EACCES") {
    const wrapped = new Error(`cannot connect to ${origin}: ${err.code}`);
    (wrapped as Error & { code?: string }).code = err.code;
    return wrapped;
  }
  if (err.code === undefined && !err.message.startsWith(what)) return new Error(`${what}: ${err.message}`);
  return err;
}
