/**
 * The bridge: the reconciler, the registry watch that tells it when the registry came back, and the
 * refresher that renews what expires, wired into one loop. See README, "How it is built".
 */
import type { Logger } from "../log.js";
import { isDangling } from "../registry/owner.js";
import type { RegistryAdapter } from "../registry/types.js";
import { Reconciler, type Engine, type ReconcilerOptions } from "./reconciler.js";
import { Refresher } from "./refresher.js";
import { RegistryWatch } from "./registry-watch.js";
import { serviceFields } from "./wording.js";

export type { Engine, MarkHint } from "./reconciler.js";

export interface BridgeOptions extends Omit<ReconcilerOptions, "writeFailed"> {
  /** How often the registry is pinged while it answers, and while it does not. */
  registryCheck: { upMs: number; downMs: number };
}

export class Bridge {
  readonly reconciler: Reconciler;
  readonly watch: RegistryWatch;
  private readonly refresher: Refresher;

  constructor(
    engine: Engine,
    private readonly registry: RegistryAdapter,
    private readonly options: BridgeOptions,
    private readonly log: Logger,
  ) {
    const { backend, observer } = options;
    const registerAll = () => this.reconciler.markAll({ force: true, lost: true });
    this.watch = new RegistryWatch(() => registry.ping(), { ...options.registryCheck, backend, changed: (up) => observer?.registryUp(up) }, registerAll, log);
    this.reconciler = new Reconciler(engine, registry, { ...options, writeFailed: () => this.watch.suspect() }, log);
    this.refresher = new Refresher(
      registry.capabilities?.renewal,
      { registered: () => this.reconciler.registeredEntries(), lost: (services) => this.reconciler.markLost(services) },
      log,
      backend,
      observer,
    );
    registry.capabilities?.renewal?.onLost?.(() => {
      log.warn({ backend }, "lost: the registry dropped every entry of this registrator; registering them anew");
      registerAll();
    });
  }

  /** Starts the periodic work that follows the registry's first contact. */
  start(): void {
    this.watch.start();
    this.refresher.start();
  }

  /**
   * Removes the entries this host id holds that no container of ours accounts for; entries of other
   * hosts and tools are never touched. Unmarked entries count only in this host's default-id form.
   */
  async cleanup(): Promise<void> {
    const host = this.options.build.hostname;
    const self = { host, addresses: [this.options.build.ip ?? this.options.build.hostIp] };
    const held = (id: string) => this.reconciler.holderOf(id) !== undefined;
    for (const stored of await this.registry.services()) {
      if (!isDangling(stored, self, held)) continue;
      const { service, owner } = stored;
      await this.registry.deregister(service, owner ?? { host, container: "" });
      const fields = { service: service.id, name: service.name, ...(owner && { container: owner.container.slice(0, 12) }), backend: this.options.backend };
      this.log.info(fields, "removed: dangling, no container behind it");
    }
  }

  /** Removes every service this process registered (for hosts that go away). */
  async deregisterAll(): Promise<void> {
    for (const { service, owner } of this.reconciler.registeredEntries()) {
      const fields = serviceFields(owner.container, service, this.options.backend);
      try {
        await this.registry.deregister(service, owner);
        this.log.info(fields, "removed: shutting down");
      } catch (err) {
        this.log.warn(fields, `failed: ${(err as Error).message}`);
      }
    }
  }

  /** Stops the periodic work and waits (up to `timeoutMs`) for writes in flight. */
  async stop(timeoutMs = 4000): Promise<void> {
    this.watch.stop();
    this.refresher.stop();
    await this.reconciler.stop(timeoutMs);
  }
}
