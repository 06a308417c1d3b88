/**
 * The bridge keeps, per container, the services it should have (built from the engine's view) and
 * the ones the registry last acknowledged, and writes the difference. Events only mark a container;
 * a failed write leaves it marked, with a backoff, until the two agree. One reconcile runs at a time
 * per container, up to `concurrency` containers at once.
 */
import { backoffDelay, type BackoffPolicy } from "../backoff.js";
import type { Logger } from "../log.js";
import { RejectedError, type RegistryAdapter } from "../registry/types.js";
import { hostPort } from "../service/address.js";
import { buildServices, type RelatedContainers } from "../service/build.js";
import type { BuildOptions, ContainerInfo, Service, Skipped } from "../service/types.js";
import { fingerprint, planChanges } from "./plan.js";

export interface Engine {
  /** Ids of the running containers. */
  listRunning(): Promise<string[]>;
  /** undefined when the container is gone. */
  inspect(id: string): Promise<ContainerInfo | undefined>;
}

export interface BridgeOptions {
  build: BuildOptions;
  deregister: "always" | "on-success";
  concurrency: number;
  retry: BackoffPolicy;
  /** The registry's scheme, for the logs. */
  backend: string;
  /** How often the registry is pinged while it answers, and while it does not. */
  registryCheck?: { upMs: number; downMs: number };
  observer?: BridgeObserver;
}

/** What the bridge reports as it works: the metrics hook. */
export interface BridgeObserver {
  operation(kind: "register" | "deregister" | "refresh", result: "ok" | "error" | "rejected"): void;
  /** Seconds from the engine event that marked a container to its service being acknowledged. */
  registered(seconds: number): void;
  /** Services acknowledged by the registry, and containers waiting for a retry. */
  state(services: number, retrying: number): void;
  registryUp(up: boolean): void;
}

/** What is known about a container beyond the engine's current view. */
export interface MarkHint {
  exitCode?: number;
  destroyed?: boolean;
  /** Register again what is registered already. */
  force?: boolean;
}

/** Matches the ids registrator gives by default: `<hostname>:<container name>:<port>[:udp]`. */
export const DEFAULT_ID_PATTERN = /^(.+?):([a-zA-Z0-9][a-zA-Z0-9_.-]+):[0-9]+(?::udp)?$/;

interface Entry {
  registered: Map<string, Service>;
  desired: Map<string, Service>;
  needsInspect: boolean;
  force: boolean;
  exitCode?: number;
  destroyed: boolean;
  running: boolean;
  attempt: number;
  retryTimer?: NodeJS.Timeout;
  /** When the container was first marked since it last agreed with the registry: for latency. */
  markedAt?: bigint;
  busy: boolean;
  again: boolean;
  rejected: Map<string, string>;
  lastSkipped: string;
  /** Docker's health (status and last output) from the last inspect, and what the registry was last told. */
  health?: string;
  healthOutput: string;
  healthSent?: string;
}

export class Bridge {
  private readonly entries = new Map<string, Entry>();
  private readonly queue = new Set<string>();
  private active = 0;
  private stopped = false;
  private idleWaiters: Array<() => void> = [];
  private registryDown = false;
  private registryTimer?: NodeJS.Timeout;

  constructor(
    private readonly engine: Engine,
    private readonly registry: RegistryAdapter,
    private readonly options: BridgeOptions,
    private readonly log: Logger,
  ) {}

  /** The container may have changed: read it again and reconcile it. */
  mark(containerId: string, hint: MarkHint = {}): void {
    // A container removed before we ever saw it running has nothing to undo.
    if (this.stopped || (hint.destroyed && !this.entries.has(containerId))) return;
    const entry = this.entry(containerId);
    entry.needsInspect = true;
    entry.markedAt ??= process.hrtime.bigint();
    if (hint.exitCode !== undefined) entry.exitCode = hint.exitCode;
    if (hint.destroyed) entry.destroyed = true;
    if (hint.force) entry.force = true;
    if (entry.retryTimer) {
      clearTimeout(entry.retryTimer);
      entry.retryTimer = undefined;
    }
    this.enqueue(containerId);
  }

  /**
   * Reads every running container and every known one again (`force` re-registers what is there),
   * and resolves once each has been reconciled once.
   */
  async syncAll(hint: MarkHint = {}): Promise<void> {
    const running = new Set(await this.engine.listRunning());
    for (const id of running) this.mark(id, hint);
    for (const id of [...this.entries.keys()]) if (!running.has(id)) this.mark(id, hint);
    await this.idle();
  }

  /** Removes entries in the registry that this host wrote by default id and that no container accounts for. */
  async cleanup(): Promise<void> {
    if (!this.registry.services) {
      this.log.warn({ backend: this.options.backend }, "cleanup is not supported by this backend");
      return;
    }
    const stored = await this.registry.services();
    for (const service of stored) {
      const match = DEFAULT_ID_PATTERN.exec(service.id);
      if (!match || match[1] !== this.options.build.hostname || this.ownerOf(service.id)) continue;
      await this.registry.deregister(service);
      this.log.info({ service: service.id, name: service.name, backend: this.options.backend }, "removed: dangling, no container behind it");
    }
  }

  /** Renews every registered service's TTL; a failure re-registers that container's services later. */
  async refreshAll(): Promise<void> {
    for (const [containerId, entry] of this.entries) {
      for (const service of entry.registered.values()) {
        try {
          await this.observe("refresh", () => this.registry.refresh(service));
        } catch (err) {
          this.log.warn(this.fields(containerId, service), `failed: refresh: ${reason(err)}`);
          this.mark(containerId, { force: true });
          break;
        }
      }
    }
  }

  /**
   * Pings the registry now and then. When it comes back after failing, every container is
   * registered again: a registry that restarted may have lost what it held.
   */
  watchRegistry(): void {
    if (this.registryTimer || this.stopped || !this.options.registryCheck) return;
    const { upMs, downMs } = this.options.registryCheck;
    this.registryTimer = setTimeout(async () => {
      this.registryTimer = undefined;
      try {
        await this.registry.ping();
        if (this.registryDown) this.registryRecovered();
      } catch (err) {
        if (!this.registryDown) this.log.warn({ backend: this.options.backend }, `failed: registry unreachable: ${reason(err)}`);
        this.setRegistryDown(true);
      }
      this.watchRegistry();
    }, this.registryDown ? downMs : upMs);
    this.registryTimer.unref();
  }

  /** Removes every service this process registered (for hosts that go away). */
  async deregisterAll(): Promise<void> {
    for (const [containerId, entry] of this.entries) {
      for (const service of [...entry.registered.values()]) {
        try {
          await this.registry.deregister(service);
          entry.registered.delete(service.id);
          this.log.info(this.fields(containerId, service), "removed: shutting down");
        } catch (err) {
          this.log.warn(this.fields(containerId, service), `failed: ${reason(err)}`);
        }
      }
    }
  }

  /** The services acknowledged by the registry, by container. */
  registeredServices(): Service[] {
    return [...this.entries.values()].flatMap((entry) => [...entry.registered.values()]);
  }

  /** Resolves when nothing is queued or running (retries waiting on a timer do not count). */
  idle(): Promise<void> {
    if (this.active === 0 && this.queue.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** True when every container's services are registered as desired. */
  converged(): boolean {
    for (const entry of this.entries.values()) {
      if (entry.needsInspect || entry.retryTimer || entry.busy) return false;
    }
    return this.queue.size === 0;
  }

  /** Stops taking work and waits (up to `timeoutMs`) for writes in flight. */
  async stop(timeoutMs = 4000): Promise<void> {
    this.stopped = true;
    this.queue.clear();
    clearTimeout(this.registryTimer);
    for (const entry of this.entries.values()) clearTimeout(entry.retryTimer);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }

  private entry(containerId: string): Entry {
    let entry = this.entries.get(containerId);
    if (!entry) {
      entry = {
        registered: new Map(),
        desired: new Map(),
        needsInspect: true,
        force: false,
        destroyed: false,
        running: false,
        attempt: 0,
        busy: false,
        again: false,
        rejected: new Map(),
        lastSkipped: "",
        healthOutput: "",
      };
      this.entries.set(containerId, entry);
    }
    return entry;
  }

  private enqueue(containerId: string): void {
    const entry = this.entries.get(containerId);
    if (!entry || this.stopped) return;
    if (entry.busy) entry.again = true;
    else this.queue.add(containerId);
    this.pump();
  }

  private pump(): void {
    while (!this.stopped && this.active < this.options.concurrency && this.queue.size > 0) {
      const containerId = this.queue.values().next().value as string;
      this.queue.delete(containerId);
      const entry = this.entries.get(containerId);
      if (!entry) continue;
      entry.busy = true;
      this.active++;
      void this.reconcile(containerId, entry).finally(() => {
        entry.busy = false;
        this.active--;
        if (entry.again) {
          entry.again = false;
          this.enqueue(containerId);
        } else {
          this.forgetIfDone(containerId, entry);
        }
        this.pump();
        this.notifyIfIdle();
      });
    }
    this.notifyIfIdle();
  }

  private notifyIfIdle(): void {
    if (this.active > 0 || this.queue.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private async reconcile(containerId: string, entry: Entry): Promise<void> {
    try {
      if (entry.needsInspect) {
        entry.needsInspect = false;
        try {
          entry.desired = await this.desiredServices(containerId, entry);
        } catch (err) {
          entry.needsInspect = true;
          throw err;
        }
      }
      const force = entry.force;
      const plan = planChanges(entry.registered, entry.desired, force, entry.rejected);
      for (const service of plan.remove) {
        await this.observe("deregister", () => this.registry.deregister(service));
        entry.registered.delete(service.id);
        this.log.info(this.fields(containerId, service), "removed");
      }
      for (const service of plan.add) {
        // Changed services were removed above, so one still registered is an identical renewal.
        const renewal = entry.registered.has(service.id);
        if (!(await this.write(containerId, entry, service))) continue;
        entry.registered.set(service.id, service);
        // A resync writes every service again: only what is new is a decision worth a line.
        if (renewal) this.log.debug(this.fields(containerId, service), "registered again");
        else this.log.info(this.fields(containerId, service), "added");
        if (entry.markedAt !== undefined) this.options.observer?.registered(Number(process.hrtime.bigint() - entry.markedAt) / 1e9);
      }
      await this.reportHealth(containerId, entry, force || plan.add.length > 0);
      if (force) entry.force = false;
      entry.attempt = 0;
      entry.markedAt = undefined;
      if (this.registryDown && plan.remove.length + plan.add.length > 0) this.registryRecovered();
    } catch (err) {
      this.scheduleRetry(containerId, entry, err);
    }
    this.reportState();
  }

  /** Runs one registry call, counting it by kind and result; a failure marks the registry as down. */
  private async observe(kind: "register" | "deregister" | "refresh", call: () => Promise<void>): Promise<void> {
    try {
      await call();
      this.options.observer?.operation(kind, "ok");
    } catch (err) {
      const rejected = err instanceof RejectedError;
      this.options.observer?.operation(kind, rejected ? "rejected" : "error");
      if (!rejected) this.setRegistryDown(true);
      throw err;
    }
  }

  private setRegistryDown(down: boolean): void {
    if (down === this.registryDown) return;
    this.registryDown = down;
    this.options.observer?.registryUp(!down);
    if (down && this.registryTimer) {
      // Probe at the faster pace from now on.
      clearTimeout(this.registryTimer);
      this.registryTimer = undefined;
      this.watchRegistry();
    }
  }

  private registryRecovered(): void {
    this.log.info({ backend: this.options.backend }, "registry reachable again: registering every container's services anew");
    this.setRegistryDown(false);
    for (const containerId of [...this.entries.keys()]) this.mark(containerId, { force: true });
  }

  private reportState(): void {
    if (!this.options.observer) return;
    let services = 0;
    let retrying = 0;
    for (const entry of this.entries.values()) {
      services += entry.registered.size;
      if (entry.retryTimer) retrying++;
    }
    this.options.observer.state(services, retrying);
  }

  /** Tells backends that mirror Docker health checks what changed (or everything, when forced). */
  private async reportHealth(containerId: string, entry: Entry, force: boolean): Promise<void> {
    if (!this.registry.health || entry.health === undefined) return;
    const state = `${entry.health}\n${entry.healthOutput}`;
    if (!force && state === entry.healthSent) return;
    for (const service of entry.registered.values()) {
      await this.registry.health(service, entry.health, entry.healthOutput);
    }
    entry.healthSent = state;
    this.log.debug({ container: short(containerId), health: entry.health, backend: this.options.backend }, "health reported");
  }

  /** Registers one service; false when the registry refused it for good (logged, not retried). */
  private async write(containerId: string, entry: Entry, service: Service): Promise<boolean> {
    try {
      await this.observe("register", () => this.registry.register(service));
      entry.rejected.delete(service.id);
      return true;
    } catch (err) {
      if (!(err instanceof RejectedError)) throw err;
      entry.rejected.set(service.id, fingerprint(service));
      this.log.warn(this.fields(containerId, service), `failed: ${err.message}`);
      return false;
    }
  }

  private scheduleRetry(containerId: string, entry: Entry, err: unknown): void {
    if (this.stopped) return;
    const delay = backoffDelay(entry.attempt++, this.options.retry);
    this.log.warn(
      { container: short(containerId), backend: this.options.backend },
      `failed: ${reason(err)}; retrying in ${formatDelay(delay)}`,
    );
    entry.retryTimer = setTimeout(() => {
      entry.retryTimer = undefined;
      this.enqueue(containerId);
    }, delay);
  }

  private async desiredServices(containerId: string, entry: Entry): Promise<Map<string, Service>> {
    // Removed containers need no inspect: it could only answer 404.
    const info = entry.destroyed ? undefined : await this.engine.inspect(containerId);
    if (!info) entry.destroyed = true;
    entry.running = info?.State?.Running === true;
    if (!entry.running) {
      const exitCode = info?.State?.ExitCode ?? entry.exitCode;
      const keep = this.options.deregister === "on-success" && !entry.destroyed && exitCode !== undefined && exitCode !== 0;
      if (keep && entry.registered.size > 0) {
        this.log.info({ container: short(containerId), exitCode }, "kept: exited with a non-zero code and -deregister is on-success");
        return new Map(entry.registered);
      }
      return new Map();
    }
    entry.exitCode = undefined;
    if (!info) return new Map();
    entry.health = info.State?.Health?.Status || undefined;
    entry.healthOutput = info.State?.Health?.Log?.at(-1)?.Output?.trim() ?? "";
    const related: RelatedContainers = {};
    const networkMode = info.HostConfig?.NetworkMode ?? "";
    if (networkMode.startsWith("container:")) {
      related.networkContainer = await this.engine.inspect(networkMode.slice("container:".length));
    }
    const built = buildServices(info, this.options.build, related);
    const desired = new Map<string, Service>();
    const skipped: Skipped[] = [...built.skipped];
    for (const service of built.services) {
      const problem = this.registry.validate?.(service) ?? this.conflict(containerId, service, desired);
      if (problem) skipped.push({ port: `${service.origin.exposedPort}/${service.origin.protocol}`, reason: problem });
      else desired.set(service.id, service);
    }
    this.logSkipped(containerId, entry, skipped);
    return desired;
  }

  private conflict(containerId: string, service: Service, siblings: Map<string, Service>): string | undefined {
    if (siblings.has(service.id)) return `service id ${service.id} is used by another port of this container`;
    const owner = this.ownerOf(service.id, containerId);
    return owner ? `service id ${service.id} is already registered for container ${short(owner)}` : undefined;
  }

  private ownerOf(serviceId: string, exceptContainer?: string): string | undefined {
    for (const [containerId, entry] of this.entries) {
      if (containerId !== exceptContainer && (entry.desired.has(serviceId) || entry.registered.has(serviceId))) {
        return containerId;
      }
    }
    return undefined;
  }

  /** Each reason is logged once per container, not again on every resync. */
  private logSkipped(containerId: string, entry: Entry, skipped: Skipped[]): void {
    const summary = JSON.stringify(skipped);
    if (summary === entry.lastSkipped) return;
    entry.lastSkipped = summary;
    for (const item of skipped) {
      this.log.info(
        { container: short(containerId), port: item.port, backend: this.options.backend },
        `ignored: ${item.reason}`,
      );
    }
  }

  private forgetIfDone(containerId: string, entry: Entry): void {
    // A running container is remembered even without services, so its `ignored` lines are not repeated.
    const settled = !entry.needsInspect && !entry.retryTimer && !entry.busy && !entry.running;
    if (settled && entry.registered.size === 0 && entry.desired.size === 0) {
      this.entries.delete(containerId);
    }
  }

  private fields(containerId: string, service: Service): Record<string, unknown> {
    return {
      container: short(containerId),
      service: service.id,
      name: service.name,
      address: hostPort(service.ip, service.port),
      backend: this.options.backend,
    };
  }
}

function short(containerId: string): string {
  return containerId.slice(0, 12);
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function formatDelay(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(1)}s`;
}
