/**
 * HTTP/1.1 over kept-alive sockets, for the short requests registrator sends by the hundred: inspects
 * and registry writes. Without a JIT, node:http's request and response objects, streams and agent
 * cost 1.8 times the CPU per request of this reader (bench/README.md), and a sync is bound by
 * registrator's own CPU; undici needs WebAssembly, which a JIT-less Node does not have.
 */
import { connect as netConnect, type Socket } from "node:net";
import { Readable } from "node:stream";
import type { ConnectionOptions } from "node:tls";

export interface Http1Target {
  host: string;
  port: number;
  socketPath?: string;
  /** Set for https: the options for tls.connect (certificates, verification). */
  tls?: ConnectionOptions;
}

export interface Http1Request {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** From the moment the request is sent, not while it waits for a free connection. */
  timeoutMs: number;
  /** The largest body read; a longer one fails the request. */
  maxBodyBytes: number;
}

/** An answer whose body is read as it comes: an event stream. */
export interface Http1Stream {
  status: number;
  headers: Record<string, string>;
  body: Readable;
}

export interface Http1Answer {
  status: number;
  /** Lowercased names; a repeated header's values joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
}

/** A header block larger than this is no server registrator talks to. */
const MAX_HEAD_BYTES = 64 * 1024;
const CRLF = Buffer.from("\r\n");
const HEAD_END = Buffer.from("\r\n\r\n");
/** Where every response starts: allocating an empty buffer per request showed in a sync's profile. */
const NOTHING = Buffer.alloc(0);

/** Safe to send twice: what a server that closed a kept-alive socket unread may be sent again. */
const IDEMPOTENT = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]);

/**
 * Reads one response, fed as it arrives. Pure: no socket, so every framing (length, chunked, until
 * close, none) is tested on bytes alone.
 */
export class ResponseReader {
  private pending: Buffer = NOTHING;
  private status = 0;
  private headers: Record<string, string> = {};
  private framing: "head" | "length" | "chunk-size" | "chunk-data" | "chunk-end" | "trailers" | "until-close" | "done" = "head";
  private remaining = 0;
  private readonly body: Buffer[] = [];
  private bodySize = 0;
  /** Whether the socket may carry the next request once this response is read. */
  keepAlive = true;
  /** Any byte of the response seen: a request so far unanswered may be sent again elsewhere. */
  started = false;

  /**
   * `sink`: where the body goes as it arrives (a stream that does not end), instead of into the
   * answer.
   */
  constructor(
    private readonly method: string,
    private readonly maxBodyBytes: number,
    private readonly sink?: (chunk: Buffer) => void,
  ) {}

  /** The status and headers are read: a streamed body follows through the sink. */
  get headRead(): boolean {
    return this.framing !== "head";
  }

  get head(): { status: number; headers: Record<string, string> } {
    return { status: this.status, headers: this.headers };
  }

  /** The answer once complete, else undefined. Throws on bytes that are not HTTP/1.x. */
  push(data: Buffer): Http1Answer | undefined {
    this.started = true;
    this.pending = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
    while (this.framing !== "done") {
      if (!this.step()) return undefined;
    }
    // Bytes past the response were never asked for: the socket is not trusted with another request.
    if (this.pending.length > 0) this.keepAlive = false;
    return this.answer();
  }

  /** The server closed the connection: the end of a body read until close, else an error. */
  end(): Http1Answer {
    if (this.framing !== "until-close")
      throw new Error(this.started ? "the connection closed in the middle of the answer" : "the connection closed before an answer");
    this.framing = "done";
    return this.answer();
  }

  private answer(): Http1Answer {
    const body = this.body.length === 1 ? this.body[0]! : Buffer.concat(this.body);
    return { status: this.status, headers: this.headers, body };
  }

  /** One state's worth of parsing; false when it needs more bytes. */
  private step(): boolean {
    switch (this.framing) {
      case "head":
        return this.readHead();
      case "length":
        return this.readCounted("done");
      case "chunk-size":
        return this.readChunkSize();
      case "chunk-data":
        return this.readCounted("chunk-end");
      case "chunk-end":
        return this.readChunkEnd();
      case "trailers":
        return this.readTrailers();
      case "until-close":
        if (this.pending.length > 0) this.bodyPart(this.take(this.pending.length));
        return false;
      default:
        return false;
    }
  }

  private readHead(): boolean {
    const end = this.pending.indexOf(HEAD_END);
    if (end < 0) {
      if (this.pending.length > MAX_HEAD_BYTES) throw new Error(`the answer's header is larger than ${MAX_HEAD_BYTES} bytes`);
      return false;
    }
    const lines = this.pending.toString("latin1", 0, end).split("\r\n");
    this.pending = this.pending.subarray(end + HEAD_END.length);
    const statusLine = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(lines[0]!);
    if (!statusLine) throw new Error(`not an HTTP/1.x answer: ${JSON.stringify(lines[0]!.slice(0, 60))}`);
    const status = Number(statusLine[2]);
    const headers = parseHeaders(lines);
    // An interim answer (100 Continue) precedes the real one.
    if (status >= 100 && status < 200 && status !== 101) return true;
    this.status = status;
    this.headers = headers;
    const connection = (headers.connection ?? "").toLowerCase();
    this.keepAlive = statusLine[1] === "1" ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
    this.framing = this.bodyFraming(status, headers);
    if (this.framing === "until-close") this.keepAlive = false;
    return true;
  }

  private bodyFraming(status: number, headers: Record<string, string>): ResponseReader["framing"] {
    if (this.method === "HEAD" || status === 204 || status === 304 || status < 200) return "done";
    if (headers["transfer-encoding"] !== undefined) {
      if (!/\bchunked\s*$/i.test(headers["transfer-encoding"])) return "until-close";
      return "chunk-size";
    }
    const length = headers["content-length"];
    if (length === undefined) return "until-close";
    if (!/^\d+$/.test(length)) throw new Error(`the answer's Content-Length is not a number: ${JSON.stringify(length.slice(0, 40))}`);
    this.remaining = Number(length);
    this.checkSize(this.remaining);
    return this.remaining === 0 ? "done" : "length";
  }

  /** `remaining` bytes of body (the whole of a Content-Length body, or one chunk), then `next`. */
  private readCounted(next: "done" | "chunk-end"): boolean {
    if (this.pending.length === 0) return false;
    const n = Math.min(this.remaining, this.pending.length);
    this.bodyPart(this.take(n));
    this.remaining -= n;
    if (this.remaining > 0) return false;
    this.framing = next;
    return true;
  }

  private readChunkSize(): boolean {
    const line = this.line();
    if (line === undefined) return false;
    const size = /^([0-9a-fA-F]+)\s*(?:;.*)?$/.exec(line);
    if (!size) throw new Error(`a chunk of the answer has no size: ${JSON.stringify(line.slice(0, 40))}`);
    this.remaining = parseInt(size[1]!, 16);
    this.framing = this.remaining === 0 ? "trailers" : "chunk-data";
    return true;
  }

  private readChunkEnd(): boolean {
    const line = this.line();
    if (line === undefined) return false;
    if (line !== "") throw new Error("a chunk of the answer is longer than its size");
    this.framing = "chunk-size";
    return true;
  }

  private readTrailers(): boolean {
    for (;;) {
      const line = this.line();
      if (line === undefined) return false;
      if (line === "") {
        this.framing = "done";
        return true;
      }
    }
  }

  /** The next CRLF-ended line, without its CRLF. */
  private line(): string | undefined {
    const end = this.pending.indexOf(CRLF);
    if (end < 0) {
      if (this.pending.length > MAX_HEAD_BYTES) throw new Error(`a line of the answer is longer than ${MAX_HEAD_BYTES} bytes`);
      return undefined;
    }
    const text = this.pending.toString("latin1", 0, end);
    this.pending = this.pending.subarray(end + CRLF.length);
    return text;
  }

  private take(n: number): Buffer {
    const taken = this.pending.subarray(0, n);
    this.pending = this.pending.subarray(n);
    return taken;
  }

  private bodyPart(chunk: Buffer): void {
    if (this.sink) return this.sink(chunk);
    this.bodySize += chunk.length;
    this.checkSize(this.bodySize);
    this.body.push(chunk);
  }

  private checkSize(size: number): void {
    if (size > this.maxBodyBytes) throw new Error(`the answer is larger than ${this.maxBodyBytes} bytes`);
  }
}

function parseHeaders(lines: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`a header line of the answer has no name: ${JSON.stringify(line.slice(0, 60))}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return headers;
}

/** The request's head; refuses what would split it (a header or path carrying a line break). */
export function requestHead(
  method: string,
  path: string,
  host: string,
  headers: Record<string, string>,
  bodyLength: number | undefined,
): string {
  if (!/^[A-Z]+$/.test(method)) throw new Error(`not an HTTP method: ${JSON.stringify(method)}`);
  if (/[\s\u0000-\u001f\u007f]/.test(path))
    throw new Error(`the request path holds a space or a control character: ${JSON.stringify(path.slice(0, 80))}`);
  let head = `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === "content-length" || name.toLowerCase() === "host") continue;
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new Error(`not a header name: ${JSON.stringify(name)}`);
    if (/[\r\n\u0000]/.test(value)) throw new Error(`the ${name} header holds a line break`);
    head += `${name}: ${value}\r\n`;
  }
  if (bodyLength !== undefined) head += `Content-Length: ${bodyLength}\r\n`;
  return `${head}\r\n`;
}

/** What a request whose deadline passed fails with. */
function noAnswer(request: Pick<Http1Request, "method" | "path" | "timeoutMs">): Error {
  return new Error(`${request.method} ${request.path}: no answer within ${request.timeoutMs} ms`);
}

function requestBytes(head: string, body: Buffer | undefined): Buffer {
  const headBytes = Buffer.from(head, "latin1");
  return body ? Buffer.concat([headBytes, body]) : headBytes;
}

/**
 * An IP address rather than a name (a URL's host: IPv6 without its brackets). Not net.isIP: its IPv6
 * pattern takes about 20 ms to compile on first use without a JIT.
 */
function isAddress(host: string): boolean {
  return host.includes(":") || /^\d{1,3}(\.\d{1,3}){3}$/.test(host);
}

function connectTo({ host, port, socketPath, tls }: Http1Target): Socket {
  if (socketPath) return netConnect(socketPath);
  let socket: Socket;
  if (tls) {
    // Loaded only for TLS servers: node:tls brings crypto along.
    const { connect } = require("node:tls") as typeof import("node:tls");
    socket = connect({ ...tls, host, port, servername: isAddress(host) ? undefined : host });
  } else socket = netConnect({ host, port });
  socket.setNoDelay(true);
  socket.setKeepAlive(true, 1000);
  return socket;
}

interface Waiter {
  request: Http1Request;
  /** The request's bytes as sent: head and body. */
  bytes: Buffer;
  resolve: (answer: Http1Answer) => void;
  reject: (err: Error) => void;
  timer?: NodeJS.Timeout;
  /** The connection carrying it, once sent. */
  carrier?: Connection;
  /** Already sent once, on a kept-alive socket the server closed unanswered. */
  retried: boolean;
  done: boolean;
}

/**
 * One socket, listened to for its whole life: what it hears goes to the request it carries, and
 * anything heard while idle (the server closing it, bytes nobody asked for) ends it. Listeners are
 * not added and removed per request: without a JIT that churn cost more than the parsing.
 */
class Connection {
  waiter?: Waiter;
  private reader?: ResponseReader;
  /** Has carried a request before the current one. */
  private reused = false;

  constructor(
    readonly socket: Socket,
    private readonly pool: Http1Pool,
  ) {
    socket.on("data", (data: Buffer) => this.onData(data));
    socket.on("end", () => this.onEnd());
    socket.on("error", (err: Error) => this.settle(err));
    socket.on("close", () => {
      this.settle(new Error("the connection closed before an answer"));
      pool.closed(this);
    });
  }

  send(waiter: Waiter): void {
    this.waiter = waiter;
    waiter.carrier = this;
    this.reader = new ResponseReader(waiter.request.method, waiter.request.maxBodyBytes);
    this.socket.ref();
    this.socket.write(waiter.bytes);
  }

  private onData(data: Buffer): void {
    if (!this.reader) {
      this.socket.destroy();
      return;
    }
    let answer: Http1Answer | undefined;
    try {
      answer = this.reader.push(data);
    } catch (err) {
      this.settle(err as Error);
      return;
    }
    if (answer) this.settle(undefined, answer);
  }

  private onEnd(): void {
    if (!this.reader) {
      this.socket.destroy();
      return;
    }
    let answer: Http1Answer;
    try {
      answer = this.reader.end();
    } catch (err) {
      this.settle(err as Error);
      return;
    }
    this.settle(undefined, answer);
  }

  private settle(err: Error | undefined, answer?: Http1Answer): void {
    const { waiter, reader } = this;
    if (!waiter || !reader) {
      if (err) this.socket.destroy();
      return;
    }
    this.waiter = undefined;
    this.reader = undefined;
    waiter.carrier = undefined;
    const unanswered = this.reused && !reader.started;
    this.reused = true;
    if (err) {
      this.socket.destroy();
      this.pool.failed(waiter, err, unanswered);
      return;
    }
    if (reader.keepAlive) this.socket.unref();
    else this.socket.destroy();
    this.pool.answered(this, waiter, answer!, reader.keepAlive);
  }
}

/** At most `maxSockets` connections to one server; idle ones are kept for the next request. */
export class Http1Pool {
  private readonly idle: Connection[] = [];
  private readonly queued: Waiter[] = [];
  private readonly connections = new Set<Connection>();
  /** Sockets of streams (stream()), each a connection of its own. */
  private readonly streams = new Set<Socket>();
  private ended = false;
  private readonly hostHeader: string;

  constructor(
    private readonly target: Http1Target,
    private readonly maxSockets: number,
  ) {
    const host = target.host.includes(":") ? `[${target.host}]` : target.host;
    const defaultPort = target.tls ? 443 : 80;
    this.hostHeader = target.socketPath || target.port === defaultPort ? host : `${host}:${target.port}`;
  }

  request(request: Http1Request): Promise<Http1Answer> {
    return new Promise((resolve, reject) => {
      let bytes: Buffer;
      try {
        bytes = requestBytes(
          requestHead(request.method, request.path, this.hostHeader, request.headers, request.body?.length),
          request.body,
        );
      } catch (err) {
        reject(err as Error);
        return;
      }
      const waiter: Waiter = { request, bytes, resolve, reject, retried: false, done: false };
      this.queued.push(waiter);
      this.dispatch();
    });
  }

  /** Ends every connection; requests waiting or in flight fail. */
  close(): void {
    this.ended = true;
    for (const waiter of this.queued.splice(0)) this.fail(waiter, new Error("the client was closed"));
    for (const connection of this.connections) {
      if (connection.waiter) this.fail(connection.waiter, new Error("the client was closed"));
      connection.socket.destroy();
    }
    for (const socket of this.streams) socket.destroy(new Error("the client was closed"));
    this.idle.length = 0;
  }

  /**
   * A request on a connection of its own, answered by a body that does not end (an event stream):
   * resolves once the status and headers are in, within `timeoutMs`; the body has no deadline.
   * Destroying the body ends the connection.
   */
  stream(request: Omit<Http1Request, "maxBodyBytes">): Promise<Http1Stream> {
    return new Promise((resolve, reject) => {
      const head = requestHead(request.method, request.path, this.hostHeader, request.headers, request.body?.length);
      const socket = connectTo(this.target);
      this.streams.add(socket);
      socket.once("close", () => this.streams.delete(socket));
      const body = new Readable({
        read: () => socket.resume(),
        destroy: (err, callback) => {
          socket.destroy();
          callback(err);
        },
      });
      let ended = false;
      const end = () => {
        if (ended || body.destroyed) return;
        ended = true;
        body.push(null);
      };
      const reader = new ResponseReader(request.method, Infinity, (chunk) => {
        if (!body.destroyed && !body.push(chunk)) socket.pause();
      });
      const timer = setTimeout(() => socket.destroy(noAnswer(request)), request.timeoutMs);
      let settled = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve({ ...reader.head, body });
      };
      socket.on("data", (data: Buffer) => {
        try {
          if (reader.push(data)) end();
        } catch (err) {
          socket.destroy(err as Error);
          return;
        }
        if (reader.headRead) settle();
      });
      socket.on("end", () => {
        try {
          reader.end();
        } catch {
          // An event stream that ends is not an error: the watcher reconnects either way.
        }
        end();
      });
      socket.on("error", (err) => {
        if (!settled) settle(err);
        else body.destroy(err);
      });
      socket.on("close", () => {
        if (!settled) settle(new Error("the connection closed before an answer"));
        else end();
      });
      socket.write(requestBytes(head, request.body));
    });
  }

  /** Called by a connection with the answer to what it carried. */
  answered(connection: Connection, waiter: Waiter, answer: Http1Answer, keepAlive: boolean): void {
    if (keepAlive && !this.ended) this.idle.push(connection);
    this.succeed(waiter, answer);
    this.dispatch();
  }

  /** Called by a connection that failed what it carried; `unanswered`: a kept-alive socket the server had closed. */
  failed(waiter: Waiter, err: Error, unanswered: boolean): void {
    // The request never reached the server: send it again, once, when that is harmless.
    if (unanswered && !waiter.retried && !waiter.done && !this.ended && IDEMPOTENT.has(waiter.request.method)) {
      waiter.retried = true;
      this.queued.unshift(waiter);
      this.dispatch();
      return;
    }
    this.fail(waiter, err);
  }

  /** Called by a connection whose socket closed. */
  closed(connection: Connection): void {
    this.connections.delete(connection);
    const at = this.idle.indexOf(connection);
    if (at >= 0) this.idle.splice(at, 1);
    this.dispatch();
  }

  private dispatch(): void {
    while (this.queued.length > 0 && !this.ended) {
      let connection = this.idle.pop();
      if (!connection) {
        if (this.connections.size >= this.maxSockets) return;
        connection = new Connection(connectTo(this.target), this);
        this.connections.add(connection);
      }
      const waiter = this.queued.shift()!;
      // The deadline runs from the first send, as node:http's did: a long queue behind busy sockets
      // (a sync of thousands against a slow registry) is not the server failing to answer.
      waiter.timer ??= setTimeout(() => this.fail(waiter, noAnswer(waiter.request)), waiter.request.timeoutMs);
      connection.send(waiter);
    }
  }

  private succeed(waiter: Waiter, answer: Http1Answer): void {
    if (waiter.done) return;
    waiter.done = true;
    clearTimeout(waiter.timer);
    waiter.resolve(answer);
  }

  private fail(waiter: Waiter, err: Error): void {
    if (waiter.done) return;
    waiter.done = true;
    clearTimeout(waiter.timer);
    const at = this.queued.indexOf(waiter);
    if (at >= 0) this.queued.splice(at, 1);
    // Its connection is mid-answer and cannot carry another request.
    waiter.carrier?.socket.destroy();
    waiter.reject(err);
  }
}
