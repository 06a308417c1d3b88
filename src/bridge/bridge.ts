/**
 * The bridge: the reconciler, the registry watch that tells it when the registry came back, and the
 * refresher that renews what expires, wired into one loop. See README, "How it is built".
 */
import type { Logger } from "../log.js";
import type { RegistryAdapter } from "../registry/types.js";
import { Reconciler, serviceFields, type Engine, type ReconcilerOptions } from "./reconciler.js";
import { Refresher } from "./refresher.js";
import { RegistryWatch } from "./registry-watch.js";

export type { Engine, MarkHint } from "./reconciler.js";

export interface BridgeOptions extends Omit<ReconcilerOptions, "writeFailed"> {
  /** How often the registry is pinged while it answers, and while it does not. */
  registryCheck: { upMs: number; downMs: number };
}

/** Matches the ids registrator gives by default: `<hostname>:<container name>:<port>[:udp]`. */
const DEFAULT_ID_PATTERN = /^(.+?):([a-zA-Z0-9][a-zA-Z0-9_.-]+):[0-9]+(?::udp)?$/;

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
    const registerAll = () => this.reconciler.markAll({ force: true });
    this.watch = new RegistryWatch(() => registry.ping(), { ...options.registryCheck, backend, changed: (up) => observer?.registryUp(up) }, registerAll, log);
    this.reconciler = new Reconciler(engine, registry, { ...options, writeFailed: () => this.watch.suspect() }, log);
    this.refresher = new Refresher(
      registry,
      { registered: () => this.reconciler.registeredEntries(), lost: (services) => this.reconciler.markLost(services) },
      log,
      backend,
      observer,
    );
    registry.onLost?.(() => {
      log.warn({ backend }, "lost: the registry dropped every entry of this registrator; registering them anew");
      registerAll();
    });
  }

  /** Starts the periodic work that follows the registry's first contact. */
  start(): void {
    this.watch.start();
    this.refresher.start();
  }

  /** Removes entries in the registry that this host wrote by default id and that no container accounts for. */
  async cleanup(): Promise<void> {
    if (!this.registry.services) {
      this.log.warn({ backend: this.options.backend }, "cleanup is not supported by this backend");
      return;
    }
    for (const { service } of await this.registry.services()) {
      const match = DEFAULT_ID_PATTERN.exec(service.id);
      if (!match || match[1] !== this.options.build.hostname || this.reconciler.holderOf(service.id) !== undefined) continue;
      await this.registry.deregister(service, { host: this.options.build.hostname, container: "" });
      this.log.info({ service: service.id, name: service.name, backend: this.options.backend }, "removed: dangling, no container behind it");
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
