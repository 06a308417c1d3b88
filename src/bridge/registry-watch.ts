/**
 * Whether the registry answers, decided by its ping alone: rarely while it answers, often while it
 * does not, and at once when a write failed. When it answers again after failing, `recovered` runs:
 * a registry that restarted may have lost everything it held.
 */
import type { Logger } from "../log.js";

export interface WatchOptions {
  /** Ping pace while the registry answers, and while it does not. */
  upMs: number;
  downMs: number;
  backend: string;
  /** The registry went down (false) or came back (true). */
  changed?(up: boolean): void;
}

export interface FirstContact {
  /** More tries after the first; -1: forever. */
  retries: number;
  intervalMs: number;
  registry: string;
  backend: string;
}

/** The registry did not answer at start-up within the allowed tries. */
export class UnreachableError extends Error {
  override name = "UnreachableError";
}

/** The start-up check, as the Go registrator makes it: `retries` more tries, `intervalMs` apart. */
export async function firstContact(
  ping: () => Promise<void>,
  { retries, intervalMs, registry, backend }: FirstContact,
  log: Logger,
): Promise<void> {
  const fields = { backend, registry };
  for (let attempt = 0; ; attempt++) {
    try {
      await ping();
      log.info(fields, "registry reachable");
      return;
    } catch (err) {
      const message = (err as Error).message;
      if (retries !== -1 && attempt >= retries) {
        log.fatal(fields, `failed: registry unreachable: ${message}`);
        throw new UnreachableError(`registry ${registry} unreachable after ${attempt + 1} attempt(s): ${message}`);
      }
      log.warn(fields, `failed: registry unreachable: ${message}; retrying in ${intervalMs}ms`);
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}

export class RegistryWatch {
  private down = false;
  private timer?: NodeJS.Timeout;
  private checking?: Promise<void>;
  private running = false;

  constructor(
    private readonly ping: () => Promise<void>,
    private readonly options: WatchOptions,
    private readonly recovered: () => void,
    private readonly log: Logger,
  ) {}

  get isDown(): boolean {
    return this.down;
  }

  /** Starts the pinging that follows the first contact. */
  start(): void {
    this.running = true;
    this.schedule();
  }

  /** A write failed: ping now rather than at the next tick. */
  suspect(): void {
    if (this.running && !this.checking) {
      clearTimeout(this.timer);
      void this.check();
    }
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (!this.running) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.check(), this.down ? this.options.downMs : this.options.upMs);
    this.timer.unref();
  }

  private check(): Promise<void> {
    this.checking ??= this.ping()
      .then(
        () => this.setDown(false),
        (err: unknown) => {
          if (!this.down) this.log.warn({ backend: this.options.backend }, `failed: registry unreachable: ${(err as Error).message}`);
          this.setDown(true);
        },
      )
      .finally(() => {
        this.checking = undefined;
        this.schedule();
      });
    return this.checking;
  }

  private setDown(down: boolean): void {
    if (down === this.down) return;
    this.down = down;
    this.options.changed?.(!down);
    if (down) return;
    this.log.info({ backend: this.options.backend }, "registry reachable again: registering every container's services anew");
    this.recovered();
  }
}
