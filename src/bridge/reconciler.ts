/**
 * Per container, the services it should have (built from the engine's view) and the ones the registry
 * last acknowledged; reconciling writes the difference. Events move a container's lifecycle
 * (lifecycle.ts) and queue it; the queue runs one reconcile at a time per container and retries a
 * failed one with backoff until the two agree. planChanges decides each write.
 */
import type { Engine } from "../engine/types.js";
import type { Logger } from "../log.js";
import { RejectedError, type Owner, type Registered, type RegistryAdapter } from "../registry/types.js";
import { swarmTask } from "../service/swarm.js";
import type { BuildOptions, BuildResult, Service, Skipped } from "../service/types.js";
import { Claims } from "./claims.js";
import { acceptServices, dockerHealth, isDefaultOwner, rulesOf, startedAt, type BackendRules } from "./desired.js";
import { afterEvent, mayBeNew, type ContainerEvent } from "./lifecycle.js";
import type { BridgeObserver } from "./observer.js";
import { planChanges } from "./plan.js";
import { KeyedQueue } from "./queue.js";
import { exitCodeOf, healthOf, isDone, keptServices, newTracked, waitsForPass, type Tracked } from "./record.js";
import { dueRetries, mayTry, REFUSAL_BACKOFF, refusalOf, type RefusalBackoff } from "./refusals.js";
import { ServicesOf } from "./services-of.js";
import type { ContainerStatus } from "./status.js";
import { formatDelay, ignoredLines, KEPT_MESSAGE, reason, serviceFields, short, takeOverMessage, yieldedMessage } from "./wording.js";
import { RegistryWrites } from "./writes.js";

export interface ReconcilerOptions {
  build: BuildOptions;
  deregister: "always" | "on-success";
  concurrency: number;
  retry: { initialMs: number; maxMs: number };
  /** The registry's scheme, for the logs. */
  backend: string;
  observer?: BridgeObserver;
  /** A write failed for a reason that may pass: is the registry still there? */
  writeFailed?(): void;
  /** How soon a service whose id another owner holds is tried again (default REFUSAL_BACKOFF). */
  refusalBackoff?: RefusalBackoff;
  /** The time, in ms since the epoch (default Date.now). */
  now?: () => number;
}

export class Reconciler {
  private readonly containers = new Map<string, Tracked>();
  private readonly claims: Claims;
  /** Services acknowledged, over all containers: counted as they change, since the metrics ask at every reconcile. */
  private servicesRegistered = 0;
  private readonly queue: KeyedQueue;
  private readonly rules: BackendRules;
  private readonly writes: RegistryWrites;
  private readonly servicesOf: ServicesOf;
  /** The sync pass under way: what it listed, and the new containers whose contested ids wait for its reads. */
  private pass?: { listed: ReadonlySet<string>; held: Set<string> };
  private readonly now: () => number;

  constructor(
    private readonly engine: Engine,
    registry: RegistryAdapter,
    private readonly options: ReconcilerOptions,
    private readonly log: Logger,
  ) {
    this.now = options.now ?? Date.now;
    this.claims = new Claims(options.build.hostId, (id) => this.containers.get(id));
    this.writes = new RegistryWrites(registry, options.observer, options.writeFailed);
    this.servicesOf = new ServicesOf(engine, options.build, log);
    this.rules = rulesOf(registry);
    this.queue = new KeyedQueue((id) => this.reconcile(id), {
      concurrency: options.concurrency,
      retry: options.retry,
      onRetry: (id, err, delay) => {
        const tracked = this.containers.get(id);
        if (tracked) tracked.lastError = reason(err);
        this.log.warn({ container: short(id), backend: options.backend }, `failed: ${reason(err)}; retrying in ${formatDelay(delay)}`);
        this.reportState();
      },
    });
  }

  /** Something happened to a container: its lifecycle moves, and it is reconciled. */
  handle(containerId: string, event: ContainerEvent): void {
    if (this.apply(containerId, event)) this.queue.add(containerId);
  }

  /** A swarm service changed: its tasks are read again. */
  serviceChanged(serviceId: string): void {
    for (const [id, { lifecycle }] of this.containers)
      if (lifecycle.is === "running" && lifecycle.swarmService === serviceId) this.handle(id, { kind: "changed" });
  }

  /** The registry lost these services (or, without a list, everything): their containers write them again. */
  lost(services?: readonly Service[]): void {
    const ids = services ? services.map((service) => this.claims.holder(service.id)) : [...this.containers.keys()];
    for (const id of new Set(ids)) if (id !== undefined) this.handle(id, { kind: "lost" });
  }

  /**
   * Lists the running containers and reconciles them and every known one; resolves once each was
   * reconciled once. `resync` writes everything again. A container new to this process writes its own
   * default ids at once, and any other id once every listed container was read: which one the engine
   * lists first never decides who gets a contested id (after a restart, all are new).
   */
  async sync(resync: boolean): Promise<void> {
    const listed = await this.engine.listRunning();
    const running = new Set(listed.map((entry) => entry.id));
    const held = new Set([...running].filter((id) => !this.containers.has(id)));
    this.pass = { listed: running, held };
    for (const { id, view } of listed) this.handle(id, resync ? { kind: "resync", view } : { kind: "changed", view });
    for (const id of [...this.containers.keys()]) if (!running.has(id)) this.handle(id, resync ? { kind: "resync" } : { kind: "changed" });
    await this.queue.idle();
    for (const id of held) if (held.delete(id) && waitsForPass(this.containers.get(id), this.options.build.hostId)) this.queue.add(id);
    await this.queue.idle();
    this.pass = undefined;
  }

  /** Tries again, at most `max`, the services whose ids another owner held and whose backoff is over. */
  retryRefused(max: number): void {
    const now = this.now();
    let tried = 0;
    for (const [id, tracked] of this.containers) {
      if (tried >= max) return;
      const due = dueRetries(tracked.refusals.values(), now);
      if (due > 0) this.queue.add(id);
      tried += due;
    }
  }

  /** The services acknowledged by the registry, with what the refresh needs to renew them. */
  registeredEntries(): Registered[] {
    return [...this.containers].flatMap(([id, tracked]) =>
      [...tracked.registered.values()].map((service) => ({ service, owner: this.owner(id), health: healthOf(tracked) })),
    );
  }

  registeredCount(): number {
    return this.servicesRegistered;
  }

  /** Is a service id claimed by a container of this process? */
  claimed(serviceId: string): boolean {
    return this.claims.holder(serviceId) !== undefined;
  }

  /** What the snapshot shows of each container. */
  records(): ContainerStatus[] {
    return [...this.containers].map(([id, tracked]) => ({ id, ...tracked, retryAt: this.queue.retryAt(id) }));
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  /** True when every container's services are registered as desired. */
  converged(): boolean {
    return this.queue.empty();
  }

  stop(timeoutMs: number): Promise<void> {
    return this.queue.stop(timeoutMs);
  }

  owner(containerId: string): Owner {
    return { hostId: this.options.build.hostId, container: containerId };
  }

  /** Moves the container's lifecycle; undefined for an event about a container it need not know. */
  private apply(containerId: string, event: ContainerEvent): Tracked | undefined {
    let tracked = this.containers.get(containerId);
    if (!tracked) {
      if (!mayBeNew(event)) return undefined;
      tracked = newTracked();
      this.containers.set(containerId, tracked);
    }
    const next = afterEvent(tracked.lifecycle, event);
    tracked.lifecycle = next.lifecycle;
    tracked.rewrite ||= next.rewrite;
    tracked.markedAt ??= process.hrtime.bigint();
    return tracked;
  }

  private async reconcile(containerId: string): Promise<void> {
    const tracked = this.containers.get(containerId);
    if (!tracked) return;
    try {
      if (tracked.lifecycle.is === "unread") await this.read(containerId, tracked);
      // An event came while the engine answered: the run it queued reads again.
      if (tracked.lifecycle.is === "unread") return;
      if (tracked.lifecycle.is === "stopped" || tracked.lifecycle.is === "removed")
        this.setDesired(containerId, tracked, this.kept(containerId, tracked));
      await this.write(containerId, tracked, this.pass?.held.has(containerId) === true);
      // A running container is remembered even without services, so its `ignored` lines are not repeated.
      if (isDone(tracked)) this.containers.delete(containerId);
    } finally {
      this.reportState();
    }
  }

  /** Reads the container from the engine: its lifecycle, and for a running one, its services. */
  private async read(containerId: string, tracked: Tracked): Promise<void> {
    const before = tracked.lifecycle;
    const info = await this.engine.inspect(containerId);
    const running = info?.State?.Running === true ? info : undefined;
    const built = running && (await this.servicesOf.build(running));
    // What an event said meanwhile is newer than this answer.
    if (tracked.lifecycle !== before) return;
    if (!running || !built) {
      tracked.lifecycle = info ? { is: "stopped", exitCode: info.State?.ExitCode } : { is: "removed" };
      return;
    }
    tracked.name = running.Name.replace(/^\//, "");
    tracked.startedAt = startedAt(running);
    tracked.lifecycle = {
      is: "running",
      view: before.is === "unread" ? before.view : undefined,
      health: dockerHealth(running),
      swarmService: swarmTask(running)?.serviceId,
    };
    this.setDesired(containerId, tracked, this.accept(containerId, tracked, built));
  }

  /** The services this container may have; claimed before any await, as two tasks of one swarm service want one id. */
  private accept(containerId: string, tracked: Tracked, built: BuildResult): Map<string, Service> {
    const claimant = { container: containerId, startedAt: tracked.startedAt, hostId: this.options.build.hostId };
    const accepted = acceptServices(claimant, built, this.rules, (id) => this.claims.of(id));
    tracked.heldElsewhere = accepted.heldElsewhere;
    for (const id of accepted.services.keys()) this.claims.claim(id, containerId);
    for (const other of accepted.outranked) this.handle(other, { kind: "changed" });
    this.logSkipped(containerId, tracked, accepted.skipped);
    return accepted.services;
  }

  private setDesired(containerId: string, tracked: Tracked, desired: Map<string, Service>): void {
    const before = tracked.desired;
    tracked.desired = desired;
    for (const id of before.keys()) if (!desired.has(id) && !tracked.registered.has(id)) this.release(containerId, id);
  }

  /** `held`: only its own default ids may be written yet (see sync). */
  private async write(containerId: string, tracked: Tracked, held: boolean): Promise<void> {
    const rewrite = tracked.rewrite;
    tracked.rewrite = false;
    const now = this.now();
    const hostId = this.options.build.hostId;
    const mayWrite = (service: Service) =>
      (!held || isDefaultOwner(hostId, service)) && mayTry(service, tracked.refusals.get(service.id), rewrite, now);
    const plan = planChanges(tracked.registered, tracked.desired, rewrite, mayWrite);
    try {
      for (const service of plan.remove) await this.remove(containerId, tracked, service);
      for (const service of plan.add) await this.add(containerId, tracked, service);
      await this.reportHealth(containerId, tracked, rewrite || plan.add.length > 0);
    } catch (err) {
      tracked.rewrite ||= rewrite;
      throw err;
    }
    if (!held || !waitsForPass(tracked, this.options.build.hostId)) tracked.markedAt = undefined;
    tracked.lastError = undefined;
  }

  private async remove(containerId: string, tracked: Tracked, service: Service): Promise<void> {
    await this.writes.deregister(service, this.owner(containerId));
    if (tracked.registered.delete(service.id)) this.servicesRegistered--;
    if (!tracked.desired.has(service.id)) this.release(containerId, service.id);
    this.log.info(serviceFields(containerId, service, this.options.backend), "removed");
  }

  private async add(containerId: string, tracked: Tracked, service: Service): Promise<void> {
    // Changed services were removed first, so one still registered is an identical renewal.
    const renewal = tracked.registered.has(service.id);
    const written = await this.writes.register(service, this.owner(containerId));
    if (written instanceof RejectedError) return this.refused(containerId, tracked, service, written);
    if (written?.tookOver) this.tookOver(containerId, service, written.tookOver);
    tracked.refusals.delete(service.id);
    if (!renewal) this.servicesRegistered++;
    tracked.registered.set(service.id, service);
    this.claims.claim(service.id, containerId);
    // A resync writes every service again: only what is new is a decision worth a line.
    if (renewal) this.log.debug(serviceFields(containerId, service, this.options.backend), "registered again");
    else this.log.info(serviceFields(containerId, service, this.options.backend), "added");
    if (tracked.markedAt !== undefined) this.options.observer?.registered(Number(process.hrtime.bigint() - tracked.markedAt) / 1e9);
  }

  /** Remembers why the registry refused it; a refusal tried again and given again is not logged again. */
  private refused(containerId: string, tracked: Tracked, service: Service, err: RejectedError): void {
    const previous = tracked.refusals.get(service.id);
    const refusal = refusalOf(service, err, previous, this.now(), this.options.refusalBackoff ?? REFUSAL_BACKOFF);
    tracked.refusals.set(service.id, refusal);
    const message = `${refusal.kind === "owned-elsewhere" ? "ignored" : "failed"}: ${refusal.reason}`;
    const again = previous?.reason === refusal.reason && previous.fingerprint === refusal.fingerprint;
    if (again) this.log.debug(serviceFields(containerId, service, this.options.backend), message);
    else this.log.warn(serviceFields(containerId, service, this.options.backend), message);
  }

  private release(containerId: string, serviceId: string): void {
    if (!this.claims.release(serviceId, containerId)) return;
    for (const [id, other] of this.containers) if (other.heldElsewhere.has(serviceId)) this.handle(id, { kind: "changed" });
  }

  /** The entry was held under our host id by another container: one gone, or one here this container comes before. */
  private tookOver(containerId: string, service: Service, from: Owner): void {
    const fields = { ...serviceFields(containerId, service, this.options.backend), previous: short(from.container) };
    const previous = this.containers.get(from.container);
    const here = this.pass?.listed.has(from.container) || (previous !== undefined && previous.lifecycle.is !== "removed");
    if (!here) return this.log.warn(fields, takeOverMessage(containerId, service, from));
    this.log.info(fields, yieldedMessage(containerId, service, from, isDefaultOwner(this.options.build.hostId, service)));
  }

  private reportState(): void {
    this.options.observer?.state(this.servicesRegistered, this.queue.retrying());
  }

  /** Tells backends that mirror Docker health checks what changed (or everything, when forced). */
  private async reportHealth(containerId: string, tracked: Tracked, force: boolean): Promise<void> {
    const health = healthOf(tracked);
    const sent = await this.writes.health(tracked.registered.values(), health, tracked.healthSent, force);
    if (sent === undefined) return;
    tracked.healthSent = sent;
    this.log.debug({ container: short(containerId), health: health?.status, backend: this.options.backend }, "health reported");
  }

  private kept(containerId: string, tracked: Tracked): Map<string, Service> {
    const kept = keptServices(this.options.deregister, tracked);
    if (kept.size > 0) this.log.info({ container: short(containerId), exitCode: exitCodeOf(tracked) }, KEPT_MESSAGE);
    return kept;
  }

  /** Each reason is logged once per container, not again on every resync. */
  private logSkipped(containerId: string, tracked: Tracked, skipped: Skipped[]): void {
    if (JSON.stringify(skipped) === JSON.stringify(tracked.skipped)) return;
    tracked.skipped = skipped;
    for (const line of ignoredLines(containerId, skipped, this.options.backend)) this.log.info(line.fields, line.msg);
  }
}
