/**
 * The one scheduler of periodic registry work (TTL renewals, heartbeats, mirrored health), at the
 * pace the adapter declares. What the registry lost is handed back to be registered again.
 */
import type { Logger } from "../log.js";
import type { Registered, Renewal } from "../registry/types.js";
import type { Service } from "../service/types.js";
import type { BridgeObserver } from "./observer.js";

export interface RefreshHooks {
  /** The services the registry holds for us now. */
  registered(): Registered[];
  /** The registry no longer has these: write them again. */
  lost(services: Service[]): void;
}

export class Refresher {
  private timer?: NodeJS.Timeout;
  private running = false;

  constructor(
    private readonly renewal: Renewal | undefined,
    private readonly hooks: RefreshHooks,
    private readonly log: Logger,
    private readonly backend: string,
    private readonly observer?: BridgeObserver,
  ) {}

  start(): void {
    if (!this.renewal?.schedule) return;
    this.running = true;
    this.schedule(this.renewal.schedule.everyMs);
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => void this.tick(), delayMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    const { everyMs, retryMs } = this.renewal!.schedule!;
    const registered = this.hooks.registered();
    if (registered.length === 0) return this.schedule(everyMs);
    try {
      const lost = await this.renewal!.renew(registered);
      this.observer?.operation("refresh", "ok");
      if (lost.length > 0) {
        this.log.warn(
          { backend: this.backend, services: lost.length },
          "lost: the registry no longer holds these services; registering them again",
        );
        this.hooks.lost(lost);
      }
      this.schedule(everyMs);
    } catch (err) {
      this.observer?.operation("refresh", "error");
      this.log.warn({ backend: this.backend }, `failed: refresh: ${(err as Error).message}; retrying in ${retryMs}ms`);
      this.schedule(retryMs);
    }
  }
}
