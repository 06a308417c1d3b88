/**
 * Consul KV: `<path>/<name>/<id>` = `<ip>:<port>`, as upstream registrator's consulkv backend writes it.
 * The owner goes in `<path>/.registrator/<name>/<id>` (which a consumer listing `<path>/<name>/` does
 * not see), and a hash of it in the value's Flags, so that a value another tool rewrote (Flags 0) is
 * no longer taken for ours. Both keys are written in one transaction with check-and-set.
 */
import { createHash } from "node:crypto";
import type { HttpClient } from "../http-client.js";
import { hostPort } from "../address.js";
import type { Service } from "../service/types.js";
import { consulRefusal } from "./consul-check.js";
import { decodeOwner, encodeOwner, judgeWrite, MARKERS, markersNameProblem, mayRemove, sameOwner, type Found } from "./owner.js";
import { storedService } from "./stored.js";
import { OwnedElsewhereError, type Owner, type RegistryAdapter, type Stored, type Written } from "./types.js";

export const KV_TTL_NOTICE = "-ttl and -ttl-refresh are not used with Consul KV: its entries do not expire";

export interface KvEntry {
  Key: string;
  Value: string | null;
  Flags?: number;
  ModifyIndex?: number;
}

/** One key of a service as read: the value, its marker, and the owner they name together. */
interface Entry {
  key: string;
  markerKey: string;
  value?: KvEntry;
  marker?: KvEntry;
  found: Found;
}

export class ConsulKvAdapter implements RegistryAdapter {
  readonly notice?: string;

  /** `prefix` has no leading or trailing slash. */
  constructor(
    private readonly http: HttpClient,
    private readonly prefix: string,
    ttl = 0,
  ) {
    if (ttl > 0) this.notice = KV_TTL_NOTICE;
  }

  async ping(): Promise<void> {
    await this.http.json("GET", "/v1/status/leader");
  }

  validate(service: Service): string | undefined {
    return markersNameProblem(service);
  }

  async register(service: Service, owner: Owner): Promise<Written> {
    const entry = await this.read(service);
    const verdict = judgeWrite(entry.found, service.id, owner, "adopt");
    if (!verdict.write) throw new OwnedElsewhereError(service.id, verdict.holder);
    await this.transact(entry.key, "written", [
      setOp(entry.key, hostPort(service.ip, service.port), ownerFlags(owner), entry.value),
      setOp(entry.markerKey, encodeOwner(owner), 0, entry.marker),
    ]);
    return { tookOver: verdict.tookOver };
  }

  async deregister(service: Service, owner: Owner): Promise<void> {
    const entry = await this.read(service);
    const marked = decodeOwner(kvText(entry.marker));
    // A marker whose value someone else removed is ours to clear.
    const orphan = !entry.value && marked !== undefined && sameOwner(marked, owner);
    if (!mayRemove(entry.found, service.id, owner, "adopt") && !orphan) return;
    const ops = [entry.value, entry.marker].flatMap((kv) => (kv ? [{ KV: { Verb: "delete-cas", Key: kv.Key, Index: kv.ModifyIndex ?? 0 } }] : []));
    await this.transact(entry.key, "removed", ops);
  }

  async services(): Promise<Stored[]> {
    // Consul answers 404 for a folder with no keys.
    const res = await this.http.call("GET", `${kvPath(this.prefix)}/?recurse`, { accept: [404] });
    if (res.status === 404) return [];
    return parseKvListing(this.prefix, JSON.parse(res.text) as KvEntry[]);
  }

  async close(): Promise<void> {
    this.http.close();
  }

  private async read(service: Service): Promise<Entry> {
    const key = `${this.prefix}/${service.name}/${service.id}`;
    const markerKey = `${this.prefix}/${MARKERS}/${service.name}/${service.id}`;
    const [value, marker] = await Promise.all([
      this.get(kvPath(this.prefix, service.name, service.id)),
      this.get(kvPath(this.prefix, MARKERS, service.name, service.id)),
    ]);
    return { key, markerKey, value, marker, found: value && { owner: ownerOf(value, marker) } };
  }

  private async get(path: string): Promise<KvEntry | undefined> {
    const res = await this.http.call("GET", path, { accept: [404] });
    return res.status === 404 ? undefined : (JSON.parse(res.text) as KvEntry[])[0];
  }

  /** One transaction; 409: a key changed since it was read (Consul rolled it all back), so it is tried again. */
  private async transact(key: string, what: string, ops: unknown[]): Promise<void> {
    const res = await this.http.call("PUT", "/v1/txn", { body: ops, accept: [409], refusal: consulRefusal });
    if (res.status === 409) throw new Error(`consul kv: ${key} changed while it was being ${what}; trying again`);
  }
}

/** Check-and-set: index 0 creates only what does not exist; otherwise only if unchanged since read. */
function setOp(key: string, value: string, flags: number, seen: KvEntry | undefined) {
  return { KV: { Verb: "cas", Key: key, Value: Buffer.from(value, "utf8").toString("base64"), Flags: flags, Index: seen?.ModifyIndex ?? 0 } };
}

function kvText(entry: KvEntry | undefined): string | undefined {
  return entry ? Buffer.from(entry.Value ?? "", "base64").toString("utf8") : undefined;
}

/** A 48-bit hash of the owner, never 0 (what other writers leave): exact in JSON numbers, which Consul's Flags are read as. */
export function ownerFlags(owner: Owner): number {
  return createHash("sha256").update(encodeOwner(owner)).digest().readUIntBE(0, 6) || 1;
}

/** The marker's owner, when the value still carries its hash. */
export function ownerOf(value: KvEntry, marker: KvEntry | undefined): Owner | undefined {
  const owner = decodeOwner(kvText(marker));
  return owner && value.Flags === ownerFlags(owner) ? owner : undefined;
}

/** `/v1/kv/<segments>`, each segment URL-encoded so that `:`, `?`, `#` or spaces in an id stay in the key. */
export function kvPath(prefix: string, ...rest: string[]): string {
  const segments = [...prefix.split("/"), ...rest].map(encodeURIComponent);
  return `/v1/kv/${segments.join("/")}`;
}

/** The services in a recursive listing of `<prefix>/`: keys exactly `<prefix>/<name>/<id>`, each with its owner. */
export function parseKvListing(prefix: string, entries: readonly KvEntry[]): Stored[] {
  const byKey = new Map(entries.map((entry) => [entry.Key, entry]));
  return entries.flatMap((entry) => {
    if (!entry.Key.startsWith(`${prefix}/`)) return [];
    const [name, id, ...deeper] = entry.Key.slice(prefix.length + 1).split("/");
    if (!name || name === MARKERS || !id || deeper.length > 0) return [];
    const service = storedService(id, name, kvText(entry) ?? "");
    const owner = ownerOf(entry, byKey.get(`${prefix}/${MARKERS}/${name}/${id}`));
    return [owner ? { service, owner } : { service }];
  });
}
