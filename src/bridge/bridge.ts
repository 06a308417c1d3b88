/**
 * The bridge: the reconciler, the registry watch that tells it when the registry came back, the
 * refresher that renews what expires, and the retries of services owned elsewhere, wired into one
 * loop. The composition root feeds it the engine's events and its sync passes.
 */
import type { ContainerEvent as EngineEvent } from "../engine/events.js";
import type { Engine } from "../engine/types.js";
import type { Logger } from "../log.js";
import { isDangling } from "../registry/owner.js";
import type { RegistryAdapter } from "../registry/types.js";
import type { Service } from "../service/types.js";
import { fromEngine, type ContainerEvent } from "./lifecycle.js";
import { Reconciler, type ReconcilerOptions } from "./reconciler.js";
import { Refresher } from "./refresher.js";
import { RegistryWatch } from "./registry-watch.js";
import type { BridgeSnapshot } from "./snapshot.js";
import { bridgeSnapshot, containerSnapshot } from "./status.js";
import { serviceFields, short } from "./wording.js";

export type { ContainerEvent } from "./lifecycle.js";

export interface BridgeOptions extends Omit<ReconcilerOptions, "writeFailed"> {
  /** How often the registry is pinged while it answers, and while it does not. */
  registryCheck: { upMs: number; downMs: number };
  /** `-cleanup`: after each sync, remove what this host id holds and no container accounts for. */
  cleanup?: boolean;
  /** How often services owned elsewhere are checked for a retry that is due, and how many at most each time. */
  refusalCheck?: { everyMs: number; max: number };
}

/** A check every 15 s, of at most 16 services: no storm however many are refused. */
const REFUSAL_CHECK = { everyMs: 15_000, max: 16 };

export class Bridge {
  private readonly reconciler: Reconciler;
  private readonly watch: RegistryWatch;
  private readonly refresher: Refresher;
  /** Sync passes run one at a time. */
  private syncing: Promise<void> = Promise.resolve();
  private lastSync?: number;
  private cleanupFailed = false;
  private refusalTimer?: NodeJS.Timeout;

  constructor(
    engine: Engine,
    private readonly registry: RegistryAdapter,
    private readonly options: BridgeOptions,
    private readonly log: Logger,
  ) {
    const { backend, observer } = options;
    const registerAll = () => this.reconciler.lost();
    this.watch = new RegistryWatch(
      () => registry.ping(),
      { ...options.registryCheck, backend, changed: (up) => observer?.registryUp(up) },
      registerAll,
      log,
    );
    this.reconciler = new Reconciler(engine, registry, { ...options, writeFailed: () => this.watch.suspect() }, log);
    const hooks = {
      registered: () => this.reconciler.registeredEntries(),
      lost: (services: readonly Service[]) => this.reconciler.lost(services),
    };
    this.refresher = new Refresher(registry.capabilities?.renewal, hooks, log, backend, observer);
    registry.capabilities?.renewal?.onLost?.(() => {
      log.warn({ backend }, "lost: the registry dropped every entry of this registrator; registering them anew");
      registerAll();
    });
  }

  /** Starts the periodic work that follows the registry's first contact. */
  start(): void {
    this.watch.start();
    this.refresher.start();
    const { everyMs, max } = this.options.refusalCheck ?? REFUSAL_CHECK;
    this.refusalTimer = setInterval(() => this.reconciler.retryRefused(max), everyMs);
    this.refusalTimer.unref();
  }

  /** Something happened to one container. */
  handle(containerId: string, event: ContainerEvent): void {
    this.reconciler.handle(containerId, event);
  }

  /** The engine reported an event of a container (start, die, destroy, health_status, …). */
  engineEvent({ id, action, exitCode }: EngineEvent): void {
    this.log.debug({ container: short(id), action }, "event");
    this.reconciler.handle(id, fromEngine(action, exitCode));
  }

  /** A swarm service was updated: its tasks are read again. */
  serviceChanged(serviceId: string): void {
    this.reconciler.serviceChanged(serviceId);
  }

  /**
   * Lists every container and reconciles it, then cleans up when asked; `resync` writes again what is
   * registered. One pass at a time. Only the engine's failures reject: a registry that fails the
   * cleanup is tried again at the next pass.
   */
  sync(resync = false): Promise<void> {
    const pass = this.syncing.catch(() => undefined).then(() => this.syncOnce(resync));
    this.syncing = pass;
    return pass;
  }

  /** Every container's services are registered as desired, and the last cleanup (when asked for) succeeded. */
  converged(): boolean {
    return this.reconciler.converged() && !this.cleanupFailed;
  }

  registeredCount(): number {
    return this.reconciler.registeredCount();
  }

  /** Resolves when no reconcile is queued or running. */
  idle(): Promise<void> {
    return this.reconciler.idle();
  }

  snapshot(): BridgeSnapshot {
    const head = { hostId: this.options.build.hostId, backend: this.options.backend, up: !this.watch.isDown, lastSync: this.lastSync };
    return bridgeSnapshot(head, this.reconciler.records().map(containerSnapshot));
  }

  /**
   * Removes the entries this host id holds that no container of ours accounts for; entries of other
   * hosts and tools are never touched. Unmarked entries count only in this host's default-id form.
   */
  async cleanup(): Promise<void> {
    const hostId = this.options.build.hostId;
    const self = { hostId, addresses: [this.options.build.ip ?? this.options.build.hostIp] };
    for (const stored of await this.registry.services()) {
      if (!isDangling(stored, self, (id) => this.reconciler.claimed(id))) continue;
      const { service, owner } = stored;
      await this.registry.deregister(service, owner ?? { hostId, container: "" });
      const fields = {
        service: service.id,
        name: service.name,
        ...(owner && { container: short(owner.container) }),
        backend: this.options.backend,
      };
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
    clearInterval(this.refusalTimer);
    await this.reconciler.stop(timeoutMs);
  }

  private async syncOnce(resync: boolean): Promise<void> {
    await this.reconciler.sync(resync);
    this.lastSync = Date.now();
    if (!this.options.cleanup) return;
    this.cleanupFailed = false;
    await this.cleanup().catch((err: Error) => {
      this.cleanupFailed = true;
      this.log.warn(`failed: cleanup: ${err.message}`);
    });
  }
}
