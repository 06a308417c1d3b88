/**
 * etcd v3, in one of two layouts: plain key/value (`etcd://`: `<path>/<name>/<id>` = `<ip>:<port>`, the
 * owner in a marker key outside `<path>`) or SkyDNS records that CoreDNS reads (`skydns2://`,
 * `coredns://`; the owner in the record; see skydns2.ts). Registrations go out together, each a claim
 * that checks our own entry or creates a new one in the same request; anything else is read, judged
 * and written with a transaction that compares what was read, so an entry another owner holds is never
 * overwritten. With `-ttl`, every key is written under one shared lease, renewed by one keep-alive.
 */
import { hostPort } from "../address.js";
import type { Service } from "../service/types.js";
import { Batcher } from "../batcher.js";
import {
  EtcdClient,
  SharedLease,
  type Claim,
  type ClaimFound,
  type ClaimOutcome,
  type ClaimRequest,
  type EtcdLayout,
  type Guarded,
  type KeyValue,
} from "./etcd-client.js";
import { checkWrite, decodeOwner, encodeOwner, isOrphanOf, MARKERS, markersNameProblem, mayRemove, type Found } from "./owner.js";
import { recordLayout, skydnsLayout } from "./skydns2.js";
import { storedService } from "./stored.js";
import {
  InvalidUriError,
  OwnedElsewhereError,
  RejectedError,
  type AdapterFactory,
  type Capabilities,
  type Owner,
  type Registered,
  type RegistryAdapter,
  type Stored,
  type Written,
} from "./types.js";

export const create: AdapterFactory = (ctx) => {
  if (ctx.uri.scheme === "etcd" && ctx.cleanup && ctx.uri.path === "") {
    // Without a path, every key of etcd is in scope, and keys of other tools can look like service ids.
    throw new InvalidUriError(
      `-cleanup needs the path registrator writes under, e.g. etcd://127.0.0.1:2379/services: ${ctx.uri.raw} has none, so it would scan etcd's whole keyspace`,
    );
  }
  const layout = ctx.uri.scheme === "etcd" ? plainLayout(ctx.uri.path) : recordLayout(skydnsLayout(ctx.uri), ctx.ttl);
  return new EtcdAdapter(new EtcdClient(ctx.uri, ctx.env), layout, ctx.ttl, ctx.ttlRefresh);
};

/**
 * `<path>/<name>/<id>` = `<ip>:<port>`, as the Go registrator's etcd backend writes it. The owner goes
 * in `/.registrator<path>/<name>/<id>`, outside `<path>`: a consumer listing `<path>/` sees only
 * entries. Earlier versions kept it at `<path>/.registrator/<name>/<id>`, from where it is moved.
 */
export function plainLayout(path: string): EtcdLayout {
  const markerRoot = `/${MARKERS}`;
  return {
    prefix: `${path}/`,
    key: (service) => `${path}/${service.name}/${service.id}`,
    value: (service) => hostPort(service.ip, service.port),
    markerKey: (key) => `${markerRoot}${key}`,
    markerPrefix: `${markerRoot}${path}/`,
    // Without a path both are `/.registrator/<name>/<id>`: nothing to move.
    legacyMarkerKey: (key) => (path === "" ? undefined : `${path}/${MARKERS}${key.slice(path.length)}`),
    address: (value) => value,
    parse(key, value) {
      const [name, id, ...deeper] = key.slice(path.length + 1).split("/");
      return name && name !== MARKERS && id && deeper.length === 0 ? storedService(id, name, value) : undefined;
    },
    validate: markersNameProblem,
  };
}

/** An entry as read, with its markers when the layout keeps them apart. */
interface Entry {
  key: string;
  value?: KeyValue;
  markerKey?: string;
  marker?: KeyValue;
  legacyKey?: string;
  legacy?: KeyValue;
  found: Found;
}

export class EtcdAdapter implements RegistryAdapter {
  readonly capabilities: Capabilities;
  private readonly lease: SharedLease;
  /** Registrations, sent together: a sync of hundreds is a handful of transactions. */
  private readonly claims: Batcher<ClaimRequest, ClaimOutcome>;
  /**
   * What the last claim found. A claim most likely finds what the one before found: nothing on a
   * first start or after the registry lost its entries, our own entries at a resync or when
   * registrator restarts over them. Guessing so sends half of what etcd would decode for both
   * branches, and a guess of "held" only checks; a wrong guess costs that entry one more request.
   */
  private likely?: ClaimFound;

  constructor(
    private readonly etcd: EtcdClient,
    private readonly layout: EtcdLayout,
    ttl: number,
    ttlRefresh: number,
  ) {
    this.lease = new SharedLease(etcd, ttl);
    this.claims = new Batcher((claims) => this.lease.write((lease) => etcd.claim(claims, lease)), {
      // etcd's default --max-txn-ops is 128; one claim is one operation of the transaction.
      maxSize: 64,
      inFlight: 1,
      alone: (err) => err instanceof RejectedError,
    });
    const validate = (service: Service) => layout.validate?.(service);
    this.capabilities = { rules: { validate } };
    if (ttl > 0) {
      const schedule = { everyMs: ttlRefresh * 1000, retryMs: Math.min(1000, ttlRefresh * 1000) };
      this.capabilities.renewal = { schedule, renew: (registered) => this.renew(registered) };
    }
  }

  ping(): Promise<void> {
    return this.etcd.status();
  }

  async register(service: Service, owner: Owner): Promise<Written> {
    const { key, markerKey, claim } = this.claimOf(service, owner);
    const likely = this.likely;
    const outcome = await this.claims.add({ claim, likely });
    this.likely = foundBy(claim, outcome) ?? this.likely;
    if ("written" in outcome) return {};
    // A wrong guess: the keys already hold exactly what we would write, under our lease.
    if (asWritten(claim, outcome.read, this.lease.id)) return {};
    // Held by someone, or in a state only the full rules decide: judge what the claim read.
    const entry = await this.entry(key, markerKey, outcome.read[0], outcome.read[1]);
    const allowed = checkWrite(entry.found, service, owner);
    const holder = entry.value && this.layout.holder?.(entry.value.value);
    if (holder !== undefined && holder !== service.id) {
      throw new OwnedElsewhereError(service.id, entry.found?.owner, this.layout.clash!(entry.key, holder));
    }
    const writes = this.guards(entry, claim[0]!.value, claim[1]?.value);
    const written = await this.lease.write((lease) => this.etcd.writeIf(writes, lease));
    if (!written) throw new Error(`etcd: ${entry.key} changed while it was being written; trying again`);
    return allowed;
  }

  async deregister(service: Service, owner: Owner): Promise<void> {
    // Our entry as we wrote it goes in one request; anything else is judged on what that request read.
    const { key, markerKey, claim } = this.claimOf(service, owner);
    const seen = await this.etcd.release(claim);
    if (!seen) return;
    const entry = await this.entry(key, markerKey, seen[0], seen[1]);
    const holder = entry.value && this.layout.holder?.(entry.value.value);
    const ours = mayRemove(entry.found, service, owner) && (holder === undefined || holder === service.id);
    const orphan = isOrphanOf(entry.value, [entry.marker?.value, entry.legacy?.value], owner);
    if (!ours && !orphan) return;
    if (!(await this.etcd.writeIf(this.guards(entry))))
      throw new Error(`etcd: ${entry.key} changed while it was being removed; trying again`);
  }

  async services(): Promise<Stored[]> {
    const { prefix, markerPrefix } = this.layout;
    const [listed, markers] = await Promise.all([this.etcd.list(prefix), markerPrefix ? this.etcd.list(markerPrefix) : []]);
    const byKey = new Map([...listed, ...markers].map((kv) => [kv.key, kv]));
    const at = (key: string | undefined) => (key === undefined ? undefined : byKey.get(key));
    return listed.flatMap((kv) => {
      const service = this.layout.parse(kv.key, kv.value);
      if (!service) return [];
      const owner = this.ownerOf(kv, at(this.layout.markerKey?.(kv.key)), at(this.layout.legacyMarkerKey?.(kv.key)));
      return [owner ? { service, owner } : { service }];
    });
  }

  async close(): Promise<void> {
    this.etcd.close();
  }

  /** One keep-alive for every key; when the lease is gone, so is every key under it. */
  private async renew(registered: readonly Registered[]): Promise<Service[]> {
    return (await this.lease.renew()) ? [] : registered.map((entry) => entry.service);
  }

  /** The keys of the service's entry and what they hold when `owner` wrote it. */
  private claimOf(service: Service, owner: Owner): { key: string; markerKey?: string; claim: Claim } {
    const key = this.layout.key(service);
    const markerKey = this.layout.markerKey?.(key);
    const claim = [{ key, value: this.layout.value(service, owner) }];
    if (markerKey) claim.push({ key: markerKey, value: encodeOwner(owner) });
    return { key, markerKey, claim };
  }

  /** The entry a claim read, with the marker where earlier versions kept it, which the claim does not read. */
  private async entry(
    key: string,
    markerKey: string | undefined,
    value: KeyValue | undefined,
    marker: KeyValue | undefined,
  ): Promise<Entry> {
    const legacyKey = this.layout.legacyMarkerKey?.(key);
    const legacy = legacyKey === undefined ? undefined : await this.etcd.get(legacyKey);
    const address = value && this.layout.address(value.value);
    const found = value && { owner: this.ownerOf(value, marker, legacy), ...(address !== undefined && { address }) };
    return { key, value, markerKey, marker, legacyKey, legacy, found };
  }

  /**
   * The owner of a value: in the record, or in a marker written in the same transaction as the value
   * (another tool may have rewritten the value since); the marker where earlier versions kept it counts
   * until it is moved.
   */
  private ownerOf(value: KeyValue, marker: KeyValue | undefined, legacy: KeyValue | undefined): Owner | undefined {
    if (this.layout.ownerIn) return this.layout.ownerIn(value.value);
    const valid = [marker, legacy].find((kv) => kv && kv.modRevision === value.modRevision);
    return valid && decodeOwner(valid.value);
  }

  /**
   * The entry's keys, each only if unchanged since read: written with these values, or deleted
   * without. The marker where earlier versions kept it is deleted in the same transaction, so the
   * entry is never without its owner.
   */
  private guards(entry: Entry, value?: string, marker?: string): Guarded[] {
    const keys: Guarded[] = [{ key: entry.key, seen: entry.value, value }];
    if (entry.markerKey) keys.push({ key: entry.markerKey, seen: entry.marker, value: marker });
    if (entry.legacyKey && entry.legacy) keys.push({ key: entry.legacyKey, seen: entry.legacy });
    return keys;
  }
}

/** True when every key of the claim holds exactly its value, under `lease`. */
function asWritten(claim: Claim, read: ReadonlyArray<KeyValue | undefined>, lease: string | undefined): boolean {
  return lease !== undefined && claim.every(({ value }, i) => read[i]?.value === value && (read[i]?.lease ?? "0") === lease);
}

/** What a claim found, where that says something about the next: an entry held otherwise does not. */
function foundBy(claim: Claim, outcome: ClaimOutcome): ClaimFound | undefined {
  if ("written" in outcome) return outcome.written;
  if (outcome.read.every((kv) => kv === undefined)) return "absent";
  return outcome.read.every((kv, i) => kv?.value === claim[i]!.value) ? "held" : undefined;
}
