/**
 * Consul KV: `<path>/<name>/<id>` = `<ip>:<port>`, as upstream registrator's consulkv backend writes it.
 * The owner goes in `.registrator/<path>/<name>/<id>`, outside `<path>`, so a consumer listing `<path>/`
 * sees only entries; a hash of it goes in the value's Flags, so that a value another tool rewrote
 * (Flags 0) is no longer taken for ours. Both keys are written in one transaction with check-and-set,
 * which also deletes the marker where earlier versions kept it (`<path>/.registrator/<name>/<id>`).
 */
import { createHash } from "node:crypto";
import type { HttpClient } from "../http-client.js";
import { hostPort } from "../address.js";
import type { Service } from "../service/types.js";
import { consulRefusal } from "./consul-check.js";
import { checkWrite, decodeOwner, encodeOwner, isOrphanOf, MARKERS, markersNameProblem, mayRemove, type Found } from "./owner.js";
import { storedService } from "./stored.js";
import type { Capabilities, Owner, RegistryAdapter, Stored, Written } from "./types.js";

export const KV_TTL_NOTICE = "-ttl and -ttl-refresh are not used with Consul KV: its entries do not expire";

export interface KvEntry {
  Key: string;
  Value: string | null;
  Flags?: number;
  ModifyIndex?: number;
}

/** One key of a service as read: the value, its markers (where they are and where they were), and the owner they name. */
interface Entry {
  key: string;
  markerKey: string;
  value?: KvEntry;
  marker?: KvEntry;
  legacy?: KvEntry;
  found: Found;
}

export class ConsulKvAdapter implements RegistryAdapter {
  readonly capabilities: Capabilities;

  /** `prefix` has no leading or trailing slash. */
  constructor(
    private readonly http: HttpClient,
    private readonly prefix: string,
    ttl = 0,
  ) {
    this.capabilities = { rules: { validate: markersNameProblem, ...(ttl > 0 && { notice: KV_TTL_NOTICE }) } };
  }

  async ping(): Promise<void> {
    await this.http.json("GET", "/v1/status/leader");
  }

  async register(service: Service, owner: Owner): Promise<Written> {
    const entry = await this.read(service);
    const written = checkWrite(entry.found, service, owner);
    await this.transact(entry.key, "written", [
      setOp(entry.key, hostPort(service.ip, service.port), ownerFlags(owner), entry.value),
      setOp(entry.markerKey, encodeOwner(owner), 0, entry.marker),
      ...deleteOps([entry.legacy]),
    ]);
    return written;
  }

  async deregister(service: Service, owner: Owner): Promise<void> {
    const entry = await this.read(service);
    const orphan = isOrphanOf(entry.value, [kvText(entry.marker), kvText(entry.legacy)], owner);
    if (!mayRemove(entry.found, service, owner) && !orphan) return;
    await this.transact(entry.key, "removed", deleteOps([entry.value, entry.marker, entry.legacy]));
  }

  async services(): Promise<Stored[]> {
    const [entries, markers] = await Promise.all([this.list(this.prefix), this.list(`${MARKERS}/${this.prefix}`)]);
    return parseKvListing(this.prefix, entries, markers);
  }

  async close(): Promise<void> {
    this.http.close();
  }

  private async read(service: Service): Promise<Entry> {
    const key = `${this.prefix}/${service.name}/${service.id}`;
    const markerKey = markerKeyOf(this.prefix, service.name, service.id);
    const [value, marker, legacy] = await Promise.all([
      this.get(kvPath(this.prefix, service.name, service.id)),
      this.get(kvPath(MARKERS, this.prefix, service.name, service.id)),
      this.get(legacyMarkerOf(this.prefix, service.name, service.id).path),
    ]);
    const found = value && { owner: ownerOf(value, marker, legacy), address: kvText(value) };
    return { key, markerKey, value, marker, legacy, found };
  }

  private async get(path: string): Promise<KvEntry | undefined> {
    const res = await this.http.call("GET", path, { accept: [404] });
    return res.status === 404 ? undefined : (JSON.parse(res.text) as KvEntry[])[0];
  }

  /** Every key under `<folder>/`; Consul answers 404 for a folder with no keys. */
  private async list(folder: string): Promise<KvEntry[]> {
    const res = await this.http.call("GET", `${kvPath(folder)}/?recurse`, { accept: [404] });
    return res.status === 404 ? [] : (JSON.parse(res.text) as KvEntry[]);
  }

  /** One transaction; 409: a key changed since it was read (Consul rolled it all back), so it is tried again. */
  private async transact(key: string, what: string, ops: unknown[]): Promise<void> {
    const res = await this.http.call("PUT", "/v1/txn", { body: ops, accept: [409], refusal: consulRefusal });
    if (res.status === 409) throw new Error(`consul kv: ${key} changed while it was being ${what}; trying again`);
  }
}

/** Check-and-set: index 0 creates only what does not exist; otherwise only if unchanged since read. */
function setOp(key: string, value: string, flags: number, seen: KvEntry | undefined) {
  return {
    KV: { Verb: "cas", Key: key, Value: Buffer.from(value, "utf8").toString("base64"), Flags: flags, Index: seen?.ModifyIndex ?? 0 },
  };
}

/** Deletes each key read, only if unchanged since. */
function deleteOps(read: ReadonlyArray<KvEntry | undefined>) {
  return read.flatMap((kv) => (kv ? [{ KV: { Verb: "delete-cas", Key: kv.Key, Index: kv.ModifyIndex ?? 0 } }] : []));
}

/** Where the marker of `<prefix>/<name>/<id>` lives: `.registrator/<prefix>/<name>/<id>`. */
export function markerKeyOf(prefix: string, name: string, id: string): string {
  return `${MARKERS}/${prefix}/${name}/${id}`;
}

/** Where earlier versions kept the marker of `<prefix>/<name>/<id>`: its key, `<prefix>/.registrator/<name>/<id>`, and its URL path. */
function legacyMarkerOf(prefix: string, name: string, id: string): { key: string; path: string } {
  return { key: `${prefix}/${MARKERS}/${name}/${id}`, path: kvPath(prefix, MARKERS, name, id) };
}

function kvText(entry: KvEntry | undefined): string | undefined {
  return entry ? Buffer.from(entry.Value ?? "", "base64").toString("utf8") : undefined;
}

/** A 48-bit hash of the owner, never 0 (what other writers leave): exact in JSON numbers, which Consul's Flags are read as. */
export function ownerFlags(owner: Owner): number {
  return createHash("sha256").update(encodeOwner(owner)).digest().readUIntBE(0, 6) || 1;
}

/** The owner a marker names while the value still carries its hash: the marker's, else that of the one where earlier versions kept it. */
export function ownerOf(value: KvEntry, marker: KvEntry | undefined, legacy: KvEntry | undefined): Owner | undefined {
  for (const kv of [marker, legacy]) {
    const owner = decodeOwner(kvText(kv));
    if (owner && value.Flags === ownerFlags(owner)) return owner;
  }
  return undefined;
}

/** `/v1/kv/<segments>`, each segment URL-encoded so that `:`, `?`, `#` or spaces in an id stay in the key. */
export function kvPath(prefix: string, ...rest: string[]): string {
  const segments = [...prefix.split("/"), ...rest].map(encodeURIComponent);
  return `/v1/kv/${segments.join("/")}`;
}

/**
 * The services in a recursive listing of `<prefix>/`: keys exactly `<prefix>/<name>/<id>`, each with the
 * owner its marker (from the listing of the markers' folder, or where earlier versions kept it) names.
 */
export function parseKvListing(prefix: string, entries: readonly KvEntry[], markers: readonly KvEntry[] = []): Stored[] {
  const byKey = new Map([...entries, ...markers].map((entry) => [entry.Key, entry]));
  return entries.flatMap((entry) => {
    if (!entry.Key.startsWith(`${prefix}/`)) return [];
    const [name, id, ...deeper] = entry.Key.slice(prefix.length + 1).split("/");
    if (!name || name === MARKERS || !id || deeper.length > 0) return [];
    const service = storedService(id, name, kvText(entry) ?? "");
    const owner = ownerOf(entry, byKey.get(markerKeyOf(prefix, name, id)), byKey.get(legacyMarkerOf(prefix, name, id).key));
    return [owner ? { service, owner } : { service }];
  });
}
