/**
 * The bridge: the reconciler, the registry watch that tells it when the registry came back, and the
 * refresher that renews what expires, wired into one loop. See README, "How it is built".
 */
import type { Logger } from "../log.js";
import { isDangling } from "../registry/owner.js";
import type { RegistryAdapter } from "../registry/types.js";
import { Reconciler, type Engine, type MarkHint, type ReconcilerOptions } from "./reconciler.js";
import { Refresher } from "./refresher.js";
import { RegistryWatch } from "./registry-watch.js";
import type { BridgeSnapshot, ContainerSnapshot } from "./snapshot.js";
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
  private lastSync?: Date;

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

  /** Lists every container and reconciles it (Reconciler.syncAll), noting when it finished for the status page. */
  async syncAll(hint: MarkHint = {}): Promise<void> {
    await this.reconciler.syncAll(hint);
    this.lastSync = new Date();
  }

  /**
   * What `/status` shows, from what the reconciler exposes: the services the registry acknowledged.
   * Pending, refused and ignored services are not exposed by it, so they are not listed here.
   */
  snapshot(): BridgeSnapshot {
    const containers = new Map<string, ContainerSnapshot>();
    for (const { service, owner } of this.reconciler.registeredEntries()) {
      let container = containers.get(owner.container);
      if (!container) containers.set(owner.container, (container = { id: owner.container, name: service.origin.containerName, services: [], ignored: [] }));
      container.services.push({ id: service.id, name: service.name, ip: service.ip, port: service.port, tags: service.tags, state: "registered" });
    }
    const list = [...containers.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const registered = list.reduce((n, c) => n + c.services.length, 0);
    return {
      hostId: this.options.build.hostname,
      registry: { backend: this.options.backend, up: !this.watch.isDown },
      ...(this.lastSync && { lastSync: this.lastSync.toISOString() }),
      counts: { containers: list.length, registered, pending: 0, refused: 0, ownedElsewhere: 0, ignored: 0 },
      containers: list,
    };
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
