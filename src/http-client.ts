/**
 * A small HTTP client, shared by the engine and the HTTP-speaking registries: node:http over a
 * keep-alive agent per server, and the one rule by which every answer is judged.
 */
import {
  Agent,
  request as httpRequest,
  type ClientRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type RequestOptions as NodeRequestOptions,
} from "node:http";
import type { Readable } from "node:stream";
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
const DEFAULT_TIMEOUT_MS = 30_000;
/** Sockets kept open to one server: as many requests in flight as the reconciler sends it at once. */
const MAX_SOCKETS = 16;
/** Safe to send twice: what a server that closed a kept-alive socket unread may be sent again. */
const REPEATABLE = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]);

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

/** What one request needs once its path and headers are final. */
interface Outgoing {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** From the moment the request has a socket, not while it waits for one. */
  timeoutMs: number;
}

/** Something in flight that close() ends. */
interface Cancellable {
  cancel(err: Error): void;
}

export class HttpClient {
  private readonly base: URL;
  private readonly agent: Agent;
  private readonly inFlight = new Set<Cancellable>();
  private closed = false;

  constructor(private readonly endpoint: EndpointOptions) {
    this.base = new URL(endpoint.url);
    const pooling = { keepAlive: true, maxSockets: MAX_SOCKETS };
    this.agent = this.isTls ? new (https().Agent)({ ...pooling, ...endpoint.tls }) : new Agent(pooling);
  }

  get origin(): string {
    return this.endpoint.socketPath ? `unix://${this.endpoint.socketPath}` : this.base.origin;
  }

  /** A complete request; non-2xx answers come back as a Response, transport errors throw. */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const body = encodeBody(options.body);
    const headers: Record<string, string> = { ...this.endpoint.headers, ...options.headers };
    if (body !== undefined) {
      headers["content-type"] ??= "application/json";
      headers["content-length"] = String(body.length);
    }
    const outgoing: Outgoing = { method, path: this.fullPath(path), headers, body, timeoutMs: this.timeout(options) };
    const maxBodyBytes = this.endpoint.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    return new Promise<Response>((resolve, reject) => {
      if (this.closed) return reject(new Error("the client was closed"));
      const exchange = new Exchange(
        outgoing,
        maxBodyBytes,
        (sendOptions) => this.send(sendOptions),
        (err, answer) => {
          this.inFlight.delete(exchange);
          if (err) reject(err);
          else resolve(answer!);
        },
      );
      this.inFlight.add(exchange);
      exchange.start();
    }).catch((err: Error) => {
      throw describeError(err, this.origin, `${method} ${path}`);
    });
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

  /**
   * A long-lived response (an event stream) on a connection of its own: resolves once the headers
   * are in; no deadline afterwards. Destroying the body ends the connection.
   */
  async stream(method: string, path: string, options: RequestOptions = {}): Promise<Readable> {
    const what = `${method} ${path}`;
    const outgoing: Outgoing = {
      method,
      path: this.fullPath(path),
      headers: { ...this.endpoint.headers, ...options.headers },
      timeoutMs: this.timeout(options),
    };
    const res = await this.open(outgoing).catch((err: Error) => {
      throw describeError(err, this.origin, what);
    });
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) return res;
    throw new HttpStatusError(status, await readBody(res), what);
  }

  /** Ends every connection; requests waiting or in flight fail, streams end. */
  close(): void {
    this.closed = true;
    for (const pending of [...this.inFlight]) pending.cancel(new Error("the client was closed"));
    // Requests still queued for a socket would otherwise be given one, opened for nothing.
    const queued = this.agent.requests as Record<string, unknown>;
    for (const name of Object.keys(queued)) delete queued[name];
    this.agent.destroy();
  }

  private open(outgoing: Outgoing): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error("the client was closed"));
      let req: ClientRequest;
      try {
        req = this.send({ method: outgoing.method, path: outgoing.path, headers: outgoing.headers, agent: false });
      } catch (err) {
        return reject(err as Error);
      }
      let answer: IncomingMessage | undefined;
      const opened: Cancellable = { cancel: (err) => (answer ? answer.destroy(err) : req.destroy(err)) };
      this.inFlight.add(opened);
      const timer = setTimeout(() => req.destroy(noAnswer(outgoing)), outgoing.timeoutMs);
      req.once("socket", (socket) => socket.setKeepAlive(true, 1000));
      req.once("response", (res: IncomingMessage) => {
        clearTimeout(timer);
        answer = res;
        res.once("close", () => this.inFlight.delete(opened));
        resolve(res);
      });
      req.on("error", (err) => {
        clearTimeout(timer);
        this.inFlight.delete(opened);
        reject(err);
      });
      req.end();
    });
  }

  /** A request to this server, through the agent unless `options.agent` says otherwise. */
  private send(options: NodeRequestOptions): ClientRequest {
    const target: NodeRequestOptions = {
      host: this.host,
      port: Number(this.base.port) || (this.isTls ? 443 : 80),
      socketPath: this.endpoint.socketPath,
      agent: this.agent,
      ...options,
    };
    return this.isTls ? https().request({ ...target, ...this.endpoint.tls }) : httpRequest(target);
  }

  private timeout(options: RequestOptions): number {
    return options.timeoutMs ?? this.endpoint.timeoutMs ?? DEFAULT_TIMEOUT_MS;
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

/**
 * One request and its answer, read whole under the size cap. The deadline runs from the first socket
 * the request gets: a long queue behind busy sockets (a sync of thousands against a slow registry) is
 * not the server failing to answer. A request that met a kept-alive socket the server had just closed
 * never reached it, and is sent again once when that is harmless.
 */
class Exchange implements Cancellable {
  private req?: ClientRequest;
  private timer?: NodeJS.Timeout;
  private repeated = false;
  private done = false;

  constructor(
    private readonly outgoing: Outgoing,
    private readonly maxBodyBytes: number,
    private readonly send: (options: NodeRequestOptions) => ClientRequest,
    private readonly finish: (err: Error | undefined, answer?: Response) => void,
  ) {}

  start(): void {
    const { method, path, headers, body, timeoutMs } = this.outgoing;
    let req: ClientRequest;
    try {
      req = this.req = this.send({ method, path, headers });
    } catch (err) {
      return this.settle(err as Error);
    }
    let answered = false;
    req.once("socket", () => (this.timer ??= setTimeout(() => this.settle(noAnswer(this.outgoing)), timeoutMs)));
    req.once("response", (res: IncomingMessage) => {
      answered = true;
      this.read(res);
    });
    req.on("error", (err: NodeJS.ErrnoException) => {
      if (!answered && req.reusedSocket && this.mayRepeat(err)) this.repeat();
      else this.settle(err);
    });
    req.end(body);
  }

  cancel(err: Error): void {
    this.settle(err);
  }

  private mayRepeat(err: NodeJS.ErrnoException): boolean {
    return !this.done && !this.repeated && REPEATABLE.has(this.outgoing.method) && (err.code === "ECONNRESET" || err.code === "EPIPE");
  }

  private repeat(): void {
    this.repeated = true;
    this.start();
  }

  private read(res: IncomingMessage): void {
    const declared = Number(res.headers["content-length"]);
    if (declared > this.maxBodyBytes) return this.settle(tooLarge(this.maxBodyBytes));
    const chunks: Buffer[] = [];
    let size = 0;
    res.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > this.maxBodyBytes) this.settle(tooLarge(this.maxBodyBytes));
      else chunks.push(chunk);
    });
    res.on("end", () => {
      const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString("utf8");
      this.settle(undefined, { status: res.statusCode ?? 0, headers: flatHeaders(res.headers), text });
    });
    res.on("error", (err) => this.settle(err));
    res.on("close", () => this.settle(new Error("the connection closed in the middle of the answer")));
  }

  private settle(err: Error | undefined, answer?: Response): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    // A request cut short leaves its socket mid-answer: it cannot carry another one.
    if (err) this.req?.destroy();
    this.finish(err, answer);
  }
}

/** node:https brings node:tls and crypto along: loaded only for a TLS server. */
function https(): typeof import("node:https") {
  return require("node:https") as typeof import("node:https");
}

/** One string per header, a repeated one's values joined with ", ". */
function flatHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return flat;
}

function noAnswer(outgoing: Outgoing): Error {
  return new Error(`no answer within ${outgoing.timeoutMs} ms`);
}

function tooLarge(maxBodyBytes: number): Error {
  return new Error(`the answer is larger than ${maxBodyBytes} bytes`);
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

/** Whom a connection failure concerns, and which request any other failure was for. */
function describeError(err: Error & { code?: string }, origin: string, what: string): Error {
  const connecting = err.code === "ECONNREFUSED" || err.code === "ENOENT" || err.code === "EACCES";
  if (!connecting && err.message.startsWith(what)) return err;
  const wrapped: Error & { code?: string } = new Error(connecting ? `cannot connect to ${origin}: ${err.code}` : `${what}: ${err.message}`);
  if (err.code !== undefined) wrapped.code = err.code;
  return wrapped;
}
