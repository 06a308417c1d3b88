/**
 * Who holds a registry entry, and what that allows: pure, so every rule is a unit test. Every adapter
 * records the owner (host identity + container id) with its entries and asks these functions before it
 * writes or removes one. See README, "Running on many hosts".
 */
import type { Service } from "../service/types.js";
import type { Owner, Stored } from "./types.js";

/** Under a registry path, the folder of owner markers beside the entries (etcd, Consul KV): `<path>/.registrator/<name>/<id>`. */
export const MARKERS = ".registrator";

/** Where an entry has named fields of its own (Consul Meta, Eureka metadata, discoverd meta, SkyDNS records), the owner's. */
export const OWNER_FIELDS = { host: "registrator_host", container: "registrator_container" } as const;
export const OWNER_FIELD_NAMES: readonly string[] = Object.values(OWNER_FIELDS);

/** Why the service cannot be stored where the markers' folder is, or undefined. */
export function markersNameProblem(service: Service): string | undefined {
  return service.name === MARKERS ? `service name ${MARKERS} is where registrator keeps its owner markers` : undefined;
}

/** Why an attribute of that name is left out: no attribute may set an owner field. */
export function ownerFieldDropped(key: string): string {
  return `metadata ${key} dropped: the key holds registrator's owner marker`;
}

/** `owner` as OWNER_FIELDS. */
export function ownerAsFields(owner: Owner): Record<string, string> {
  return { [OWNER_FIELDS.host]: owner.host, [OWNER_FIELDS.container]: owner.container };
}

/** The owner that OWNER_FIELDS name in `value`, or undefined. */
export function ownerInFields(value: unknown): Owner | undefined {
  return ownerFields(value, OWNER_FIELDS.host, OWNER_FIELDS.container);
}

/**
 * How an adapter treats an entry without our marker at a key its own service would take, when the
 * service id has the default form of this host (`<host id>:<container>:<port>`): the Go registrator and
 * earlier versions of this one wrote it for this host.
 * - `adopt`: overwrite it with our marker, and let -cleanup remove it when no container is behind it.
 * - `overwrite`: overwrite it, never remove it (it expires by itself, and other tools write ids of that form).
 * - `never`: unmarked entries belong to another tool.
 */
export type Legacy = "adopt" | "overwrite" | "never";

/** An entry as an adapter found it (its owner read from its marker), or undefined when there is none. */
export type Found = { owner?: Owner } | undefined;

export type WriteVerdict =
  /** `tookOver`: the entry was held under our host id by another container. */
  | { write: true; tookOver?: Owner }
  /** `holder`: undefined when the entry carries no marker (another tool wrote it). */
  | { write: false; holder?: Owner };

const DEFAULT_ID_REST = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+:[0-9]+(?::udp)?$/;

/** True when `id` is the id registrator gives by default on host `host`: `<host>:<container name>:<port>[:udp]`. */
export function isDefaultIdOf(host: string, id: string): boolean {
  return host !== "" && id.startsWith(`${host}:`) && DEFAULT_ID_REST.test(id.slice(host.length + 1));
}

export function sameOwner(a: Owner, b: Owner): boolean {
  return a.host === b.host && a.container === b.container;
}

/**
 * May `owner` write service `serviceId` over what is there? Creates what does not exist and updates
 * what our host id holds; an entry of another host, or of another tool, is left alone.
 */
export function judgeWrite(found: Found, serviceId: string, owner: Owner, legacy: Legacy): WriteVerdict {
  if (!found) return { write: true };
  const held = found.owner;
  if (!held) return legacy !== "never" && isDefaultIdOf(owner.host, serviceId) ? { write: true } : { write: false };
  if (held.host !== owner.host) return { write: false, holder: held };
  return held.container === owner.container ? { write: true } : { write: true, tookOver: held };
}

/** May `owner` remove the entry of `serviceId`? Only its own, or an adopted one of this host. */
export function mayRemove(found: Found, serviceId: string, owner: Owner, legacy: Legacy): boolean {
  if (!found) return false;
  if (!found.owner) return legacy === "adopt" && isDefaultIdOf(owner.host, serviceId);
  return sameOwner(found.owner, owner);
}

/**
 * For -cleanup: an entry is dangling when this host holds it and no container of ours does. Entries
 * without a marker count only in their default-id form (the Go registrator's, adopted on upgrade);
 * adapters list those only where they may remove them.
 */
export function isDangling(stored: Stored, host: string, held: (serviceId: string) => boolean): boolean {
  if (held(stored.service.id)) return false;
  return stored.owner ? stored.owner.host === host : isDefaultIdOf(host, stored.service.id);
}

/** The marker as a JSON object: `{"host":"…","container":"…"}`. */
export function encodeOwner(owner: Owner): string {
  return JSON.stringify({ host: owner.host, container: owner.container });
}

/** The owner in a marker written by encodeOwner, or undefined for anything else. */
export function decodeOwner(text: string | undefined): Owner | undefined {
  if (text === undefined) return undefined;
  try {
    return ownerFields(JSON.parse(text), "host", "container");
  } catch {
    return undefined;
  }
}

/** The owner from two string fields of an object (a record, metadata), when both are there and the host is not empty. */
export function ownerFields(value: unknown, hostKey: string, containerKey: string): Owner | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const host = (value as Record<string, unknown>)[hostKey];
  const container = (value as Record<string, unknown>)[containerKey];
  return typeof host === "string" && host !== "" && typeof container === "string" ? { host, container } : undefined;
}
