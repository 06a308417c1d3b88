/**
 * Per container, the services it should have (built from the engine's view) and the ones the registry
 * last acknowledged; reconciling writes the difference. Events only mark a container; the queue runs
 * one reconcile at a time per container and retries a failed one with backoff until the two agree.
 */
import type { Logger } from "../log.js";
import { OwnedElsewhereError, RejectedError, type DockerHealth, type Owner, type Registered, type RegistryAdapter, type Written } from "../registry/types.js";

/** Owners read ahead: the adapter contract no longer offers such reads, so none is ever made. */
type OwnerLookup = (serviceId: string) => unknown;
import { buildServices } from "../service/build.js";
import { swarmTask } from "../service/swarm.js";
import type { BuildOptions, BuildResult, ContainerInfo, Listed, Service, Skipped, SwarmFacts } from "../service/types.js";
import { acceptServices, dockerHealth, keepsServices, type BackendRules } from "./desired.js";
import type { BridgeObserver } from "./observer.js";
import { fingerprint, planChanges } from "./plan.js";
import { KeyedQueue } from "./queue.js";
import { formatDelay, ignoredLines, reason, serviceFields, short, takeOverMessage } from "./wording.js";
import { RelatedLookup } from "./related.js";
import { startedView } from "./started.js";
import { usesTemplates, withTemplates } from "./templates.js";

export interface Engine {
  listRunning(): Promise<Listed[]>;
  /** undefined when the container is gone. */
  inspect(id: string): Promise<ContainerInfo | undefined>;
  /** A swarm task's node, whether the engine confirms the task, and its service; engines without swarm mode leave it out. */
  swarmTask?(container: ContainerInfo): Promise<SwarmFacts>;
}

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
  /** How long what was learned at a container's creation may serve its start (default CREATION_SERVES_MS). */
  creationServesMs?: number;
}

/**
 * What was learned when the engine created a container serves its start only this long after:
 * `docker run` starts within moments, a Raspberry Pi may take seconds. A container started later is
 * inspected and read at its start.
 */
export const CREATION_SERVES_MS = 5000;

/** Creations waiting for their start: fewer than a burst of `docker create`. */
const MAX_CREATIONS = 256;

/** What is known about a container beyond the engine's current view. */
export interface MarkHint {
  exitCode?: number;
  destroyed?: boolean;
  /** The engine said it stopped, with its exit code: nothing to ask the engine. */
  stopped?: boolean;
  /** Register again what is registered already. */
  force?: boolean;
  /** The registry may have lost what it held: what is registered is written again as new, not as a renewal. */
  lost?: boolean;
  /** The engine reported its start just now. */
  started?: boolean;
  /** The engine shows the container as when it was last read: write the registry without reading it again. */
  unchanged?: boolean;
}

interface Container {
  desired: Map<string, Service>;
  registered: Map<string, Service>;
  /** Services the registry refused as they are, by fingerprint: not sent again until they change. */
  rejected: Map<string, string>;
  /** The engine's view must be read again before the next reconcile. */
  stale: boolean;
  /** How the last container list showed it (Listed.view). */
  view?: string;
  force: boolean;
  /** Marked as possibly lost by the registry since its last reconcile: no write is hinted as a renewal. */
  maybeLost: boolean;
  /** Its start was reported since its last reconcile: its new services are hinted as fresh. */
  started: boolean;
  running: boolean;
  destroyed: boolean;
  stopped: boolean;
  exitCode?: number;
  /** When the container was first marked since it last agreed with the registry: for latency. */
  markedAt?: bigint;
  lastSkipped: string;
  health?: DockerHealth;
  /** The health the registry was last told, as `status\noutput`. */
  healthSent?: string;
  /** The swarm service this container is a task of. */
  swarmService?: string;
  /** Ids it would have but another container holds (swarm's one entry per node): marked again when they are let go. */
  heldElsewhere: Set<string>;
  /** The owner read a sync pass made for the containers it found new (RegistryAdapter.readAhead). */
  readAhead?: Promise<OwnerLookup>;
  /** Its services were last built from the view foreseen at its creation, not yet from an inspect. */
  foreseen: boolean;
}

/** What was learned at a container's creation, for its start (see created()). */
interface Creation {
  at: number;
  /** The registry's owners (RegistryAdapter.readAhead); dropped once any write settles. */
  read?: Promise<OwnerLookup>;
  /** The container as it will run, or undefined where its start decides. */
  foreseen: Promise<EngineView | undefined>;
}

/** A container as the engine shows it (undefined: gone), with its services when built already. */
interface EngineView {
  info?: ContainerInfo;
  built?: BuildResult;
}


export class Reconciler {
  private readonly containers = new Map<string, Container>();
  /** Which container holds each service id: one id is never registered for two containers. */
  private readonly holders = new Map<string, string>();
  /** Services acknowledged, over all containers: counted as they change, since the metrics ask at every reconcile. */
  private servicesRegistered = 0;
  private readonly queue: KeyedQueue;
  private readonly backendRules: BackendRules;
  private readonly related: RelatedLookup;
  /** Containers created and not yet started, oldest first. */
  private readonly creations = new Map<string, Creation>();

  constructor(
    private readonly engine: Engine,
    private readonly registry: RegistryAdapter,
    private readonly options: ReconcilerOptions,
    private readonly log: Logger,
  ) {
    this.related = new RelatedLookup(engine, log);
    this.backendRules = {
      validate: (service) => registry.capabilities?.rules?.validate(service),
      dropped: (service) => registry.capabilities?.rules?.dropped?.(service) ?? [],
    };
    this.queue = new KeyedQueue((id) => this.reconcile(id), {
      concurrency: options.concurrency,
      retry: options.retry,
      onRetry: (id, err, delay) => {
        this.log.warn({ container: short(id), backend: options.backend }, `failed: ${reason(err)}; retrying in ${formatDelay(delay)}`);
        this.reportState();
      },
    });
  }

  /**
   * The engine created this container, and a start usually follows. While the engine starts it, it
   * is inspected, and a registry that reads owners before it writes (Consul's agent) is read, so that
   * the start's registration waits for neither. Where the inspect shows how the container will run
   * (startedView), the start is registered as foreseen, and an inspect confirms it after.
   *
   * The read made now judges only ids of this host's default form: only registrators of this host id
   * write those, and a read made at the write would let them be written all the same. Any other id
   * (a SERVICE_ID) is read again when it is written.
   */
  created(containerId: string): void {
    if (this.containers.has(containerId)) return;
    const now = performance.now();
    // What no start can use any more is let go, so creations never started hold no agent's list.
    for (const [id, creation] of this.creations) {
      if (this.stillServes(creation.at, now)) break;
      this.creations.delete(id);
    }
    if (this.creations.size >= MAX_CREATIONS) return;
    this.creations.set(containerId, { at: now, read: undefined, foreseen: this.foresee(containerId) });
  }

  /** The container may have changed: read it again and reconcile it. */
  mark(containerId: string, hint: MarkHint = {}): void {
    if (hint.destroyed) this.creations.delete(containerId);
    // A container removed before we ever saw it running has nothing to undo.
    if (hint.destroyed && !this.containers.has(containerId)) return;
    const container = this.container(containerId);
    if (!hint.unchanged) container.stale = true;
    container.markedAt ??= process.hrtime.bigint();
    if (hint.exitCode !== undefined) container.exitCode = hint.exitCode;
    if (hint.destroyed) container.destroyed = true;
    container.stopped = hint.stopped === true;
    if (hint.force) container.force = true;
    if (hint.lost) container.maybeLost = true;
    if (hint.started) container.started = true;
    this.queue.add(containerId);
  }

  /** Marks every container this process knows, e.g. when the registry may have lost what it held. */
  markAll(hint: MarkHint): void {
    for (const containerId of [...this.containers.keys()]) this.mark(containerId, hint);
  }

  /** A swarm service changed: its tasks read it again. */
  markService(serviceId: string): void {
    for (const [containerId, container] of this.containers) if (container.swarmService === serviceId) this.mark(containerId);
  }

  /** The registry lost these services: their containers register them again. */
  markLost(services: readonly Service[]): void {
    const owners = new Set(services.map((service) => this.holders.get(service.id)));
    for (const containerId of owners) if (containerId) this.mark(containerId, { force: true, lost: true });
  }

  /**
   * Reconciles every running container and every known one, and resolves once each was reconciled
   * once. Each is read again, except on a forced pass (-resync) one the list shows as before: as the
   * Go registrator does, that pass writes the registry again without asking the engine again.
   */
  async syncAll(hint: MarkHint = {}): Promise<void> {
    const listed = await this.engine.listRunning();
    const running = new Set(listed.map((entry) => entry.id));
    // One owner read serves every container the pass finds new: it shows the registry as of the
    // list, as the list shows the engine, and a cold sync of hundreds needs no read of its own each.
    let passRead: Promise<OwnerLookup> | undefined;
    for (const { id, view } of listed) {
      const known = this.containers.get(id);
      // Podman's list does not show health: a container with a health check is always read again.
      const unchanged = hint.force === true && known?.running === true && known.health === undefined && view !== undefined && known.view === view;
      const container = this.container(id);
      container.view = view;
      if (!container.running) container.readAhead = passRead;
      this.mark(id, { ...hint, unchanged });
    }
    for (const id of [...this.containers.keys()]) if (!running.has(id)) this.mark(id, hint);
    await this.queue.idle();
  }

  /** The container behind a service id, if this process has it. */
  holderOf(serviceId: string): string | undefined {
    return this.holders.get(serviceId);
  }

  /** The services acknowledged by the registry, with what the refresh needs to renew them. */
  registeredEntries(): Registered[] {
    const entries: Registered[] = [];
    for (const [containerId, container] of this.containers) {
      for (const service of container.registered.values()) {
        entries.push({ service, owner: this.owner(containerId), health: container.health });
      }
    }
    return entries;
  }

  registeredServices(): Service[] {
    return this.registeredEntries().map((entry) => entry.service);
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
    return { host: this.options.build.hostname, container: containerId };
  }

  private container(containerId: string): Container {
    let container = this.containers.get(containerId);
    if (!container) {
      container = {
        desired: new Map(),
        registered: new Map(),
        rejected: new Map(),
        stale: true,
        force: false,
        maybeLost: false,
        started: false,
        running: false,
        destroyed: false,
        stopped: false,
        lastSkipped: "",
        heldElsewhere: new Set(),
        foreseen: false,
      };
      this.containers.set(containerId, container);
    }
    return container;
  }

  private async reconcile(containerId: string): Promise<void> {
    const container = this.containers.get(containerId);
    if (!container) return;
    try {
      const creation = this.takeCreation(containerId);
      container.readAhead = undefined;
      if (container.stale) await this.readEngine(containerId, container, creation?.foreseen);
      const force = container.force;
      const plan = planChanges(container.registered, container.desired, force, container.rejected);
      for (const service of plan.remove) await this.remove(containerId, container, service);
      for (const service of plan.add) await this.add(containerId, container, service);
      await this.reportHealth(containerId, container, force || plan.add.length > 0);
      if (force) container.force = false;
      container.maybeLost = false;
      container.started = false;
      container.markedAt = undefined;
      // What was foreseen is confirmed by the engine right after, as any container is read.
      if (container.foreseen) this.queue.add(containerId);
      this.forgetIfDone(containerId, container);
    } finally {
      this.reportState();
    }
  }

  /** What was learned at this container's creation, while it is recent enough to serve. */
  private takeCreation(containerId: string): Creation | undefined {
    const creation = this.creations.get(containerId);
    if (!creation) return undefined;
    this.creations.delete(containerId);
    return this.stillServes(creation.at, performance.now()) ? creation : undefined;
  }

  /** What was learned at a creation at `at` may still serve its start at `now`. */
  private stillServes(at: number, now: number): boolean {
    return now - at < (this.options.creationServesMs ?? CREATION_SERVES_MS);
  }

  /**
   * The container as it will run once started, from an inspect made now, with its services built
   * now rather than at the start; undefined where its start decides.
   */
  private foresee(containerId: string): Promise<EngineView | undefined> {
    return this.engine.inspect(containerId).then(
      (created) => {
        const info = created && startedView(created, this.options.build);
        // startedView leaves out templates, swarm tasks and shared networks: the build needs nothing else.
        return info && { info, built: buildServices(info, this.options.build) };
      },
      () => undefined,
    );
  }

  private async readEngine(containerId: string, container: Container, foreseen?: Promise<EngineView | undefined>): Promise<void> {
    container.stale = false;
    container.foreseen = false;
    const before = container.desired;
    try {
      container.desired = await this.desiredServices(containerId, container, foreseen);
    } catch (err) {
      container.stale = true;
      throw err;
    }
    // Until an inspect confirms it, what was foreseen is read again at the next reconcile.
    if (container.foreseen) container.stale = true;
    for (const id of container.desired.keys()) this.holders.set(id, containerId);
    for (const id of before.keys()) if (!container.desired.has(id) && !container.registered.has(id)) this.releaseId(container, id);
  }

  private async remove(containerId: string, container: Container, service: Service): Promise<void> {
    await this.observe("deregister", () => this.registry.deregister(service, this.owner(containerId)));
    this.forget(container, service);
    this.log.info(this.fields(containerId, service), "removed");
  }

  private async add(containerId: string, container: Container, service: Service): Promise<void> {
    // Changed services were removed first, so one still registered is an identical renewal.
    const renewal = container.registered.has(service.id);
    let written: Written | void;
    try {
      written = await this.observe("register", () =>
        this.registry.register(service, this.owner(containerId)),
      );
    } catch (err) {
      if (!(err instanceof RejectedError)) throw err;
      container.rejected.set(service.id, fingerprint(service));
      this.log.warn(this.fields(containerId, service), `${err instanceof OwnedElsewhereError ? "ignored" : "failed"}: ${err.message}`);
      return;
    }
    if (written?.tookOver) this.warnTakeOver(containerId, service, written.tookOver);
    container.rejected.delete(service.id);
    if (!container.registered.has(service.id)) this.servicesRegistered++;
    container.registered.set(service.id, service);
    this.holders.set(service.id, containerId);
    // A resync writes every service again: only what is new is a decision worth a line.
    if (renewal) this.log.debug(this.fields(containerId, service), "registered again");
    else this.log.info(this.fields(containerId, service), "added");
    if (container.markedAt !== undefined) this.options.observer?.registered(Number(process.hrtime.bigint() - container.markedAt) / 1e9);
  }

  private forget(container: Container, service: Service): void {
    if (container.registered.delete(service.id)) this.servicesRegistered--;
    if (!container.desired.has(service.id)) this.releaseId(container, service.id);
  }

  private releaseId(container: Container, serviceId: string): void {
    const holder = this.holders.get(serviceId);
    if (holder === undefined || this.containers.get(holder) !== container) return;
    this.holders.delete(serviceId);
    for (const [containerId, other] of this.containers) if (other.heldElsewhere.has(serviceId)) this.mark(containerId);
  }

  private warnTakeOver(containerId: string, service: Service, from: Owner): void {
    if (this.containers.get(from.container)?.running) return;
    this.log.warn({ ...this.fields(containerId, service), previous: short(from.container) }, takeOverMessage(containerId, service, from));
  }

  /**
   * Runs one registry call, counting it by kind and result. A write may change what any owner read
   * made before it shows, so the reads made at creations are dropped once it settles.
   */
  private async observe<T>(kind: "register" | "deregister", call: () => Promise<T>): Promise<T> {
    try {
      const result = await call();
      this.options.observer?.operation(kind, "ok");
      return result;
    } catch (err) {
      const rejected = err instanceof RejectedError;
      this.options.observer?.operation(kind, err instanceof OwnedElsewhereError ? "owned_elsewhere" : rejected ? "rejected" : "error");
      if (!rejected) this.options.writeFailed?.();
      throw err;
    } finally {
      for (const creation of this.creations.values()) creation.read = undefined;
    }
  }

  private reportState(): void {
    this.options.observer?.state(this.servicesRegistered, this.queue.retrying());
  }

  /** Tells backends that mirror Docker health checks what changed (or everything, when forced). */
  private async reportHealth(containerId: string, container: Container, force: boolean): Promise<void> {
    const health = container.health;
    const mirror = this.registry.capabilities?.health;
    if (!mirror || health === undefined) return;
    const state = `${health.status}\n${health.output}`;
    if (!force && state === container.healthSent) return;
    for (const service of container.registered.values()) await mirror.update(service, health);
    container.healthSent = state;
    this.log.debug({ container: short(containerId), health: health.status, backend: this.options.backend }, "health reported");
  }

  private async desiredServices(containerId: string, container: Container, foreseen?: Promise<EngineView | undefined>): Promise<Map<string, Service>> {
    // Removed containers need no inspect: it could only answer 404. Nor do stopped ones, and an
    // inspect while the engine tears a container down can take it tens of milliseconds.
    const view = container.destroyed || container.stopped ? {} : await this.engineView(containerId, container, foreseen);
    const info = view.info;
    if (!info && !container.stopped) container.destroyed = true;
    container.running = info?.State?.Running === true;
    if (!info || !container.running) return this.keptServices(containerId, container, info?.State?.ExitCode ?? container.exitCode);
    container.exitCode = undefined;
    container.health = dockerHealth(info);
    container.swarmService = swarmTask(info)?.serviceId;
    const built = view.built ?? (await this.build(containerId, container, info));
    if (!built) return new Map();
    const accepted = acceptServices(containerId, built, this.backendRules, (id) => this.holders.get(id));
    container.heldElsewhere = accepted.heldElsewhere;
    // Claimed before any await: two tasks of one swarm service reconciled at once want the same id.
    for (const id of accepted.services.keys()) this.holders.set(id, containerId);
    this.logSkipped(containerId, container, accepted.skipped);
    return accepted.services;
  }

  /** The container's services, or undefined when the operator's `-tags` template fails on it (logged). */
  private async build(containerId: string, container: Container, info: ContainerInfo): Promise<BuildResult | undefined> {
    const related = await this.related.of(info);
    const build = await this.buildOptionsFor(info).catch((err: Error) => err);
    if (!(build instanceof Error)) return buildServices(info, build, related);
    this.logSkipped(containerId, container, [{ reason: `-tags: ${build.message}` }]);
    return undefined;
  }

  /** The container as the engine shows it; for a start just reported, as foreseen at its creation where it was. */
  private async engineView(containerId: string, container: Container, foreseen?: Promise<EngineView | undefined>): Promise<EngineView> {
    const view = foreseen && container.started && !container.running ? await foreseen : undefined;
    if (!view) return { info: await this.engine.inspect(containerId) };
    container.foreseen = true;
    this.log.debug({ container: short(containerId), backend: this.options.backend }, "started as foreseen at its creation");
    return view;
  }

  /** The build options, with tag templates rendered for this container when it or `-tags` has one. */
  private buildOptionsFor(info: ContainerInfo): Promise<BuildOptions> {
    const build = this.options.build;
    return usesTemplates(info, build) ? withTemplates(info, build) : Promise.resolve(build);
  }

  private keptServices(containerId: string, container: Container, exitCode: number | undefined): Map<string, Service> {
    if (!keepsServices(this.options.deregister, container.destroyed, exitCode) || container.registered.size === 0) return new Map();
    this.log.info({ container: short(containerId), exitCode }, "kept: failed with a non-zero exit code and -deregister is on-success");
    return new Map(container.registered);
  }

  /** Each reason is logged once per container, not again on every resync. */
  private logSkipped(containerId: string, container: Container, skipped: Skipped[]): void {
    const summary = JSON.stringify(skipped);
    if (summary === container.lastSkipped) return;
    container.lastSkipped = summary;
    for (const line of ignoredLines(containerId, skipped, this.options.backend)) this.log.info(line.fields, line.msg);
  }

  private forgetIfDone(containerId: string, container: Container): void {
    // A running container is remembered even without services, so its `ignored` lines are not repeated.
    if (!container.stale && !container.running && container.registered.size === 0 && container.desired.size === 0) {
      this.containers.delete(containerId);
    }
  }

  private fields(containerId: string, service: Service): Record<string, unknown> {
    return serviceFields(containerId, service, this.options.backend);
  }
}

