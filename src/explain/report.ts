/**
 * `registrator explain`'s answer, as plain data (its `--json` output), and the judgement that makes it
 * from what was read: per container, the services the daemon would register (built by the daemon's own
 * code, see collect.ts) or why not, and how each compares with what the registry holds. Pure.
 */
import { hostPort } from "../address.js";
import type { Accepted } from "../bridge/desired.js";
import { isDangling, isDefaultIdOf, type Self } from "../registry/owner.js";
import type { Owner, Stored } from "../registry/types.js";
import { byCodeUnits } from "../service/record.js";
import type { BuildOptions, ContainerInfo, Service } from "../service/types.js";
import { addressOrigin, type AddressFacts, type AddressOrigin } from "./address.js";
import { fixFor, keepsService } from "./fixes.js";

export type Field = "name" | "ip" | "port" | "tags" | "attrs";

export interface FieldDifference {
  field: Field;
  want: string;
  have: string;
}

/** What the registry holds for one service, compared with what it should. */
export type EntryState =
  | { state: "in-step" }
  | { state: "missing"; fix: string }
  | { state: "different"; fields: FieldDifference[]; fix: string }
  | { state: "owned-elsewhere"; owner: string; fix: string }
  /** The registry could not be read, or this backend cannot list its entries. */
  | { state: "unknown"; reason: string };

export interface ServiceReport {
  /** The container port, `80/tcp`. */
  port: string;
  id: string;
  name: string;
  ip: string;
  hostPort: number;
  address: AddressOrigin;
  tags: string[];
  /** The health checks the backend gets (Consul), one line each. */
  checks: string[];
  /** What the backend leaves out of it, each with what to change. */
  notes: Ignored[];
  registry: EntryState;
}

export interface Ignored {
  /** Undefined when the reason is about the whole container. */
  port?: string;
  reason: string;
  fix?: string;
}

export interface EntryReport {
  id: string;
  name: string;
  address: string;
  /** `host <id>, container <short id>`, or `another tool` for an entry without registrator's marker. */
  owner: string;
  fix: string;
}

export interface ContainerReport {
  id: string;
  name: string;
  /** False when it was named but does not run: it has no services. */
  running: boolean;
  services: ServiceReport[];
  ignored: Ignored[];
  /** Entries held for this container that it should not have: left over, or written under another host id. */
  unexpected: EntryReport[];
}

export interface ExplainReport {
  hostId: string;
  registry: { uri: string; backend: string; readable: boolean; error?: string };
  /** The start-up warnings the daemon would log with these options (src/cli/warnings.ts). */
  warnings: string[];
  containers: ContainerReport[];
  /** Names given on the command line that match no container. */
  notFound: string[];
  /** Entries this host id holds for containers that no longer run. */
  orphans: EntryReport[];
  inStep: boolean;
}

/** One container as read: its inspect, and what the daemon's code made of it. */
export interface ContainerFacts {
  info: ContainerInfo;
  /** Undefined when it does not run. */
  accepted?: Accepted;
  address: AddressFacts;
}

export interface ExplainFacts {
  hostId: string;
  build: BuildOptions;
  registry: { uri: string; backend: string };
  warnings: string[];
  containers: ContainerFacts[];
  notFound: string[];
  /** Every running container of the engine, not only the explained ones, and the service ids they claim: for orphans. */
  running: { ids: ReadonlySet<string>; claimed: ReadonlySet<string> };
  /** What the registry holds, or why it could not be read. */
  stored: Stored[] | { error: string };
  /** What of a service the backend stores and can read back: compared field by field. */
  backend: { fields: readonly Field[]; stored(service: Service): Service; checks(service: Service): string[] };
}

/** How the registry's entry for a container's service compares with it. */
type RegistryState = (service: Service, containerId: string) => EntryState;

export function explainReport(facts: ExplainFacts): ExplainReport {
  const stored = Array.isArray(facts.stored) ? facts.stored : undefined;
  const error = Array.isArray(facts.stored) ? undefined : facts.stored.error;
  const byId = new Map((stored ?? []).map((entry) => [entry.service.id, entry]));
  const registryState: RegistryState = (service, containerId) =>
    stored
      ? entryState(facts.backend.stored(service), byId.get(service.id), facts.hostId, containerId, facts.backend.fields)
      : { state: "unknown", reason: `registry not read: ${error}` };
  const containers = facts.containers.map((container) => containerReport(container, facts, registryState, stored ?? []));
  const self = { hostId: facts.hostId, addresses: [facts.build.ip ?? facts.build.hostIp] };
  const orphans = stored ? orphanEntries(stored, self, facts.running) : [];
  const inStep =
    error === undefined &&
    facts.notFound.length === 0 &&
    orphans.length === 0 &&
    containers.every((c) => c.running && c.unexpected.length === 0 && c.services.every((s) => s.registry.state === "in-step"));
  return {
    hostId: facts.hostId,
    registry: { ...facts.registry, readable: error === undefined, ...(error !== undefined && { error }) },
    warnings: facts.warnings,
    containers,
    notFound: facts.notFound,
    orphans,
    inStep,
  };
}

function containerReport(
  facts: ContainerFacts,
  all: ExplainFacts,
  registryState: RegistryState,
  stored: readonly Stored[],
): ContainerReport {
  const { info, accepted } = facts;
  const base = { id: info.Id, name: info.Name.replace(/^\//, "") };
  if (!accepted) {
    const ignored = [{ reason: "the container is not running", fix: `start it (docker start ${base.name})` }];
    return { ...base, running: false, services: [], ignored, unexpected: [] };
  }
  const withFix = (item: { port?: string; reason: string }): Ignored => {
    const fix = fixFor(item.reason, { internal: all.build.internal, port: item.port });
    return { ...item, ...(fix && { fix }) };
  };
  const services = [...accepted.services.values()].map((service) => {
    const port = `${service.origin.exposedPort}/${service.origin.protocol}`;
    const notes = accepted.skipped.filter((s) => s.port === port && keepsService(s.reason)).map(withFix);
    return serviceReport(service, port, notes, registryState(service, info.Id), info, all, facts.address);
  });
  const ignored = accepted.skipped.filter((s) => !keepsService(s.reason)).map(withFix);
  const unexpected = unexpectedEntries(stored, info.Id, new Set(accepted.services.keys()), all.hostId);
  return { ...base, running: true, services, ignored, unexpected };
}

function serviceReport(
  service: Service,
  port: string,
  notes: Ignored[],
  registry: EntryState,
  info: ContainerInfo,
  all: ExplainFacts,
  address: AddressFacts,
): ServiceReport {
  return {
    port,
    id: service.id,
    name: service.name,
    ip: service.ip,
    hostPort: service.port,
    address: addressOrigin(info, service, all.build, address),
    tags: service.tags,
    checks: all.backend.checks(service),
    notes,
    registry,
  };
}

/** How the registry's entry for `want` compares with it, and who holds it. */
export function entryState(
  want: Service,
  found: Stored | undefined,
  hostId: string,
  containerId: string,
  fields: readonly Field[],
): EntryState {
  if (!found) {
    return {
      state: "missing",
      fix: "the daemon writes it at its next sync (restart it, or pass -resync); if it runs, its log says why (failed: …)",
    };
  }
  const holder = holderProblem(found, want.id, hostId, containerId);
  if (holder) return holder;
  const differences = fields.flatMap((field) => difference(field, want, found.service));
  if (differences.length === 0) return { state: "in-step" };
  return {
    state: "different",
    fields: differences,
    fix: "the daemon writes it again at its next -resync pass, or when the container restarts",
  };
}

function holderProblem(found: Stored, id: string, hostId: string, containerId: string): EntryState | undefined {
  const owner = found.owner;
  if (!owner) {
    if (isDefaultIdOf(hostId, id)) return undefined;
    return {
      state: "owned-elsewhere",
      owner: "another tool",
      fix: "an entry without registrator's marker holds this id: remove it, or set SERVICE_ID to another id",
    };
  }
  if (owner.hostId !== hostId) {
    const fix =
      owner.container === containerId
        ? `written for this container under host id ${owner.hostId}: run every registrator of this host with one identity (--hostname=$(hostname) in docker run, or --host-id)`
        : `host ${owner.hostId} holds this id: set SERVICE_ID to one of this host's own`;
    return { state: "owned-elsewhere", owner: ownerText(owner), fix };
  }
  if (owner.container !== containerId) {
    return {
      state: "owned-elsewhere",
      owner: ownerText(owner),
      fix: "held for another container of this host: the daemon takes it over at its next write of this service",
    };
  }
  return undefined;
}

function difference(field: Field, want: Service, have: Service): FieldDifference[] {
  const [a, b] = [fieldText(field, want), fieldText(field, have)];
  return a === b ? [] : [{ field, want: a, have: b }];
}

function fieldText(field: Field, service: Service): string {
  switch (field) {
    case "tags":
      return service.tags.join(",");
    case "attrs":
      return JSON.stringify(Object.fromEntries(Object.entries(service.attrs).sort(([x], [y]) => byCodeUnits(x, y))));
    case "port":
      return String(service.port);
    default:
      return service[field];
  }
}

function ownerText(owner: Owner): string {
  return `host ${owner.hostId}, container ${owner.container.slice(0, 12)}`;
}

/** Unmarked entries count as this host's only in its default id form (the Go registrator wrote them). */
function entryReport(stored: Stored, fix: string, hostId: string): EntryReport {
  const { service, owner } = stored;
  const address = service.ip ? hostPort(service.ip, service.port) : "";
  const holder = owner ? ownerText(owner) : isDefaultIdOf(hostId, service.id) ? `host ${hostId}, no marker` : "another tool";
  return { id: service.id, name: service.name, address, owner: holder, fix };
}

/** Entries marked for this container that are not among its services. */
function unexpectedEntries(stored: readonly Stored[], containerId: string, wanted: ReadonlySet<string>, hostId: string): EntryReport[] {
  return stored
    .filter((entry) => entry.owner?.container === containerId && !wanted.has(entry.service.id))
    .map((entry) =>
      entryReport(
        entry,
        entry.owner!.hostId === hostId
          ? "this container should not have it: the daemon removes it at its next sync of the container"
          : `written under host id ${entry.owner!.hostId} for this container: run every registrator of this host with one identity (--hostname=$(hostname) in docker run, or --host-id), and remove it`,
        hostId,
      ),
    );
}

/**
 * Entries -cleanup would remove (isDangling: this host's, and no running container claims them),
 * except those marked for a container that runs: they are listed with it, as not among its services.
 */
export function orphanEntries(stored: readonly Stored[], self: Self, running: ExplainFacts["running"]): EntryReport[] {
  const fix = "no container runs behind it: pass -cleanup to the daemon, which removes it";
  return stored
    .filter((entry) => isDangling(entry, self, (id) => running.claimed.has(id)) && !(entry.owner && running.ids.has(entry.owner.container)))
    .map((entry) => entryReport(entry, fix, self.hostId));
}
