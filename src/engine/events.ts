/** The engine's event stream, kept open: reconnects with backoff and reports each (re)subscription. */
import type { Readable } from "node:stream";
import { backoffDelay, type BackoffPolicy } from "../backoff.js";
import type { EndpointOptions } from "../http-client.js";
import { DockerClient } from "./docker.js";

/**
 * Docker copies a container's labels into each of its events, so a container with huge labels makes
 * huge lines: one over this is skipped, and one that never ends cannot fill memory.
 */
export const MAX_EVENT_LINE = 1024 * 1024;
/** What is kept of a line over the cap to find its container: the id comes before the attributes. */
const HEAD_CHARS = 4096;

export interface ContainerEvent {
  id: string;
  /** start, die, destroy, health_status `oversized` for a skipped line */
  action: string;
  exitCode?: number;
  /** Set when the engine's line was skipped unread: the warning to log. The container is to be read again. */
  warning?: string;
}

interface RawEvent {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

function readEvent(line: string): RawEvent | undefined {
  try {
    const raw: unknown = JSON.parse(line);
    return typeof raw === "object" && raw !== null ? (raw as RawEvent) : undefined;
  } catch {
    return undefined;
  }
}

/** One line of the stream → a container event, or undefined for anything else. */
export function parseEvent(line: string): ContainerEvent | undefined {
  const raw = readEvent(line);
  return raw && containerEvent(raw);
}

/** One line of the stream → the id of a swarm service that was updated, or undefined. */
export function parseServiceUpdate(line: string): string | undefined {
  const raw = readEvent(line);
  return raw && serviceUpdate(raw);
}

function serviceUpdate(raw: RawEvent): string | undefined {
  return raw.Type === "service" && raw.Action === "update" ? raw.Actor?.ID || undefined : undefined;
}

function containerEvent(raw: RawEvent): ContainerEvent | undefined {
  const id = raw.Actor?.ID ?? raw.id;
  const fullAction = raw.Action ?? raw.status;
  if (!id || !fullAction || (raw.Type !== undefined && raw.Type !== "container")) return undefined;
  // `health_status: healthy`: the new status is read again by the inspect that follows.
  const action = fullAction.split(":")[0]!.trim();
  const event: ContainerEvent = { id, action };
  const exitCode = raw.Actor?.Attributes?.exitCode;
  if (exitCode !== undefined && exitCode !== "") event.exitCode = Number(exitCode);
  return event;
}

/**
 * A line over the cap as the container event it stands for, from its beginning alone: the container
 * is named, and its inspect tells what changed. undefined when the beginning names no container.
 */
export function oversizedEvent(head: string): ContainerEvent | undefined {
  const type = /"Type":"([^"]*)"/.exec(head)?.[1];
  const id = /"(?:id|ID)":"([0-9a-f]{64})"/.exec(head)?.[1];
  if (!id || (type !== undefined && type !== "container")) return undefined;
  const warning = `ignored: an engine event line over ${MAX_EVENT_LINE} characters (each event carries the container's labels); reading the container again`;
  return { id, action: "oversized", warning };
}

/**
 * Splits a stream's text into lines, in time linear in its length. A line is kept up to `max`
 * characters; past that only its first characters are handed on, and the rest is dropped unread.
 */
export class LineSplitter {
  private pending = "";
  private over = false;

  constructor(
    private readonly max: number,
    private readonly line: (text: string) => void,
    private readonly oversized: (head: string) => void,
  ) {}

  push(chunk: string): void {
    for (let start = 0; ;) {
      const newline = chunk.indexOf("\n", start);
      if (!this.over) this.take(chunk.slice(start, newline < 0 ? chunk.length : newline));
      if (newline < 0) return;
      const text = this.over ? "" : this.pending.trim();
      this.pending = "";
      this.over = false;
      if (text) this.line(text);
      start = newline + 1;
    }
  }

  private take(part: string): void {
    this.pending += part;
    if (this.pending.length <= this.max) return;
    const head = this.pending.slice(0, HEAD_CHARS);
    this.pending = "";
    this.over = true;
    this.oversized(head);
  }
}

export interface WatchHandlers {
  /** Subscribed (first time or after a reconnect): everything may have changed, sync it all. */
  connected(client: DockerClient): Promise<void> | void;
  event(event: ContainerEvent): void;
  /** A swarm service was updated (its ports or labels may have changed): its tasks are to be read again. */
  serviceChanged?(serviceId: string): void;
  disconnected(reason: Error, retryInMs: number): void;
}

export class EngineWatcher {
  private current?: DockerClient;
  /** The client whose event subscription the engine has not answered yet: nothing else uses it. */
  private subscribing?: DockerClient;
  private stream?: Readable;
  private stopped = false;
  private wake?: () => void;
  private loop?: Promise<void>;
  private pingTimer?: NodeJS.Timeout;

  /**
   * `pingIntervalMs`: how often the engine is asked whether it still answers. The event stream
   * carries no heartbeat, so a daemon that hangs (or a connection lost without a reset) would
   * otherwise look like a quiet one.
   */
  constructor(
    private readonly endpoint: EndpointOptions,
    private readonly handlers: WatchHandlers,
    private readonly backoff: BackoffPolicy,
    private readonly pingIntervalMs = 10_000,
  ) {}

  start(): void {
    this.loop ??= this.run();
    this.pingTimer ??= setInterval(() => void this.checkAlive(), this.pingIntervalMs);
    this.pingTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.pingTimer);
    this.stream?.destroy();
    // An engine that accepted the connection but never answers must not hold the shutdown up.
    this.subscribing?.close();
    this.wake?.();
    await this.loop;
    this.current?.close();
    this.current = undefined;
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      try {
        const client = await DockerClient.connect(this.endpoint);
        this.current?.close();
        this.current = client;
        this.subscribing = client;
        this.stream = await client.events().finally(() => (this.subscribing = undefined));
        // stop() may have come while we were connecting: it could not end a stream not yet open.
        if (this.stopped) {
          this.stream.destroy();
          return;
        }
        attempt = 0;
        const ended = this.consume(this.stream);
        // Observed below; a failure while the sync runs must not count as unhandled.
        ended.catch(() => undefined);
        await this.handlers.connected(client);
        await ended;
        if (this.stopped) return;
        throw new Error("the engine closed the event stream");
      } catch (err) {
        if (this.stopped) return;
        const delay = backoffDelay(attempt++, this.backoff);
        this.handlers.disconnected(err as Error, delay);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
  }

  private async checkAlive(): Promise<void> {
    const client = this.current;
    const stream = this.stream;
    if (!client || !stream || stream.destroyed) return;
    try {
      await client.ping(Math.min(5000, this.pingIntervalMs));
    } catch (err) {
      stream.destroy(new Error(`the engine stopped answering: ${(err as Error).message}`));
    }
  }

  private dispatch(line: string): void {
    const raw = readEvent(line);
    const event = raw && containerEvent(raw);
    if (event) this.handlers.event(event);
    const service = raw && serviceUpdate(raw);
    if (!service) return;
    this.current?.forgetSwarmService(service);
    this.handlers.serviceChanged?.(service);
  }

  /** A line over the cap is skipped and its container read again; one that names none leaves the stream unknowable. */
  private skip(stream: Readable, head: string): void {
    const event = oversizedEvent(head);
    if (event) this.handlers.event(event);
    else stream.destroy(new Error(`an event line is longer than ${MAX_EVENT_LINE} characters and names no container`));
  }

  /** Resolves when the stream ends; rejects on a transport error. */
  private consume(stream: Readable): Promise<void> {
    stream.setEncoding("utf8");
    const lines = new LineSplitter(
      MAX_EVENT_LINE,
      (line) => this.dispatch(line),
      (head) => this.skip(stream, head),
    );
    return new Promise((resolve, reject) => {
      stream.on("data", (chunk: string) => lines.push(chunk));
      stream.on("end", resolve);
      stream.on("close", resolve);
      stream.on("error", reject);
    });
  }
}
