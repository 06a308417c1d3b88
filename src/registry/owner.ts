/**
 * Who holds a registry entry, and what that allows: pure, so every rule is a unit test. Every adapter
 * records the owner (host identity + container id) with its entries, where consumers do not look,
 * and asks these functions before it writes or removes one. See README, "Running on many hosts".
 */
import { hostPort } from "../address.js";
import { holderText, OwnedElsewhereError } from "../errors.js";
import type { Service, ServiceOrigin } from "../service/types.js";
import { storedObject } from "./stored.js";
import type { Owner, Stored, Written } from "./types.js";

/**
 * The root of the owner markers for backends whose values have no room for one (etcd, Consul KV):
 * the marker of `<path>/<name>/<id>` is `/.registrator<path>/<name>/<id>`, outside `<path>`. Earlier
 * versions kept it at `<path>/.registrator/<name>/<id>`, which adapters still read and move.
 */
export const MARKERS = ".registrator";

/** Where an entry has named fields of its own (Consul Meta, Eureka metadata, discoverd meta, SkyDNS records), the owner's. */
export const OWNER_FIELDS = { hostId: "registrator_host", container: "registrator_container" } as const;
export const OWNER_FIELD_NAMES: readonly string[] = Object.values(OWNER_FIELDS);

/** Why the service cannot be stored where earlier versions kept the markers, or undefined. */
export function markersNameProblem(service: Service): string | undefined {
  return service.name === MARKERS ? `service name ${MARKERS} is where registrator keeps its owner markers` : undefined;
}

/** Why an attribute of that name is left out: no attribute may set an owner field. */
export function ownerFieldDropped(key: string): string {
  return `metadata ${key} dropped: the key holds registrator's owner marker`;
}

/** `owner` as OWNER_FIELDS. */
export function ownerAsFields(owner: Owner): Record<string, string> {
  return { [OWNER_FIELDS.hostId]: owner.hostId, [OWNER_FIELDS.container]: owner.container };
}

/** The owner that OWNER_FIELDS name in `value`, or undefined. */
export function ownerInFields(value: unknown): Owner | undefined {
  return ownerFields(value, OWNER_FIELDS.hostId, OWNER_FIELDS.container);
}

/**
 * An entry as an adapter found it at a service's key, or undefined when there is none: the owner its
 * marker names; the address (`ip:port`) it holds, which decides whether an unmarked one is ours; and,
 * where keys are addresses (ZooKeeper, discoverd), the id of the service it holds.
 */
export type Found = { owner?: Owner; address?: string; id?: string } | undefined;

export type WriteVerdict =
  /** `tookOver`: the entry was held under our host id by another container that the key no longer serves. */
  | { write: true; tookOver?: Owner }
  /** `holder`: undefined when the entry carries no marker (another tool wrote it). */
  | { write: false; holder?: Owner };

const DEFAULT_ID_REST = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+:[0-9]+(?::udp)?$/;

/** True when `id` has the form registrator gives by default on host `host`: `<host>:<container name>:<port>[:udp]`. */
export function isDefaultIdOf(host: string, id: string): boolean {
  return host !== "" && id.startsWith(`${host}:`) && DEFAULT_ID_REST.test(id.slice(host.length + 1));
}

/** The id registrator gives by default to the container port `origin` describes, on host `host`. */
export function defaultIdOf(host: string, origin: ServiceOrigin): string {
  return `${host}:${origin.containerName}:${origin.exposedPort}${origin.protocol === "udp" ? ":udp" : ""}`;
}

export function sameOwner(a: Owner, b: Owner): boolean {
  return a.hostId === b.hostId && a.container === b.container;
}

/**
 * May `owner` write `service` over what is there? Creates what does not exist and updates what this
 * owner holds. The same service id held by another container of our host id is taken over (the
 * container was recreated, or an earlier registrator process wrote it). Where two services meet at one
 * key (an address), the first holder keeps it, even against another service of its own container
 * (53/tcp and 53/udp), as mayRemove never lets one remove the other's. Everything else is left alone.
 */
export function judgeWrite(found: Found, service: Service, owner: Owner): WriteVerdict {
  if (!found) return { write: true };
  const held = found.owner;
  if (!held) return isUnmarkedOurs(found, service, owner.hostId) ? { write: true } : { write: false };
  if (sharesKey(found, service)) return { write: false, holder: held };
  if (sameOwner(held, owner)) return { write: true };
  if (held.hostId !== owner.hostId) return { write: false, holder: held };
  return { write: true, tookOver: held };
}

/** judgeWrite for an adapter about to write: throws ownedElsewhere's refusal, or returns what the write reports. */
export function checkWrite(found: Found, service: Service, owner: Owner): Written {
  const verdict = judgeWrite(found, service, owner);
  if (!verdict.write) throw ownedElsewhere(found, service, verdict.holder);
  return { tookOver: verdict.tookOver };
}

/** The refusal of a write that judgeWrite did not allow, saying what is held and by whom. */
export function ownedElsewhere(found: Found, service: Service, holder: Owner | undefined): OwnedElsewhereError {
  if (!sharesKey(found, service)) return new OwnedElsewhereError(service.id, holder);
  const address = hostPort(service.ip, service.port);
  return new OwnedElsewhereError(
    service.id,
    holder,
    `${service.id}: address ${address} is owned by ${holderText(holder)} for ${found!.id}`,
  );
}

/** The key holds another service: two services meet at one address. */
function sharesKey(found: Found, service: Service): boolean {
  return found?.id !== undefined && found.id !== service.id;
}

/** May `owner` remove the entry of `service`? Only its own for this service, or an unmarked one of ours (isUnmarkedOurs). */
export function mayRemove(found: Found, service: Service, owner: Owner): boolean {
  if (!found) return false;
  if (!found.owner) return isUnmarkedOurs(found, service, owner.hostId);
  return sameOwner(found.owner, owner) && !sharesKey(found, service);
}

/**
 * Where markers are kept apart from their entries (etcd, Consul KV): true when the entry is gone and
 * one of its markers (each as read, undefined where there is none) names `owner`, which may then clear
 * them; someone else removed the entry.
 */
export function isOrphanOf(entry: object | undefined, markers: ReadonlyArray<string | undefined>, owner: Owner): boolean {
  if (entry) return false;
  return markers.some((text) => {
    const marked = decodeOwner(text);
    return marked !== undefined && sameOwner(marked, owner);
  });
}

/**
 * An entry without a marker is ours (the Go registrator, or this one before markers, wrote it for this
 * host) only when both hold: its id is the default id of the container behind `service` on `host`,
 * never one set with SERVICE_ID; and it holds exactly the address this registrator writes for it.
 * A service read back for -cleanup has no container: its id's form is checked, and its address by
 * isDangling. Every other unmarked entry is another tool's.
 */
function isUnmarkedOurs(found: NonNullable<Found>, service: Service, host: string): boolean {
  if (found.address === undefined || found.address !== hostPort(service.ip, service.port)) return false;
  const origin = service.origin;
  return origin.containerName === "" ? isDefaultIdOf(host, service.id) : service.id === defaultIdOf(host, origin);
}

/** This registrator, as -cleanup judges the registry's entries. */
export interface Self {
  /** `--host-id` (the hostname by default). */
  hostId: string;
  /** The addresses this registrator writes for published ports: `-ip`, else the one the host id resolves to. */
  addresses: readonly string[];
}

/**
 * For -cleanup: an entry is dangling when this host holds it and no container of ours does. An entry
 * without a marker counts only in this host's default-id form and at one of this host's addresses
 * (the Go registrator's, adopted on upgrade); every other unmarked entry is another tool's.
 */
export function isDangling(stored: Stored, self: Self, held: (serviceId: string) => boolean): boolean {
  if (held(stored.service.id)) return false;
  if (stored.owner) return stored.owner.hostId === self.hostId;
  return isDefaultIdOf(self.hostId, stored.service.id) && self.addresses.includes(stored.service.ip);
}

/** The marker as a JSON object: `{"host":"…","container":"…"}`. */
export function encodeOwner(owner: Owner): string {
  return JSON.stringify({ host: owner.hostId, container: owner.container });
}

/** The owner in a marker written by encodeOwner, or undefined for anything else. */
export function decodeOwner(text: string | undefined): Owner | undefined {
  return text === undefined ? undefined : ownerFields(storedObject(text), "host", "container");
}

/** The owner from two string fields of an object (a record, metadata), when both are there and the host is not empty. */
export function ownerFields(value: unknown, hostKey: string, containerKey: string): Owner | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const host = (value as Record<string, unknown>)[hostKey];
  const container = (value as Record<string, unknown>)[containerKey];
  return typeof host === "string" && host !== "" && typeof container === "string" ? { hostId: host, container } : undefined;
}
