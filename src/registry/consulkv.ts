/** Consul KV: `<path>/<name>/<id>` = `<ip>:<port>`, as upstream registrator's consulkv backend writes it. */
import type { HttpClient } from "../http-client.js";
import { hostPort } from "../address.js";
import type { Service } from "../service/types.js";
import { consulRefusal } from "./consul-check.js";
import { storedService } from "./stored.js";
import type { RegistryAdapter, Stored } from "./types.js";

export const KV_TTL_NOTICE = "-ttl and -ttl-refresh are not used with Consul KV: its entries do not expire";

interface KvEntry {
  Key: string;
  Value: string | null;
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

  async register(service: Service): Promise<void> {
    await this.http.call("PUT", kvPath(this.prefix, service.name, service.id), {
      body: hostPort(service.ip, service.port),
      headers: { "content-type": "text/plain" },
      refusal: consulRefusal,
    });
  }

  async deregister(service: Service): Promise<void> {
    await this.http.call("DELETE", kvPath(this.prefix, service.name, service.id));
  }

  async services(): Promise<Stored[]> {
    // Consul answers 404 for a folder with no keys.
    const res = await this.http.call("GET", `${kvPath(this.prefix)}/?recurse`, { accept: [404] });
    if (res.status === 404) return [];
    return parseKvListing(this.prefix, JSON.parse(res.text) as KvEntry[]).map((service) => ({ service }));
  }

  async close(): Promise<void> {
    this.http.close();
  }
}

/** `/v1/kv/<segments>`, each segment URL-encoded so that `:`, `?`, `#` or spaces in an id stay in the key. */
export function kvPath(prefix: string, ...rest: string[]): string {
  const segments = [...prefix.split("/"), ...rest].map(encodeURIComponent);
  return `/v1/kv/${segments.join("/")}`;
}

/** The services in a recursive listing of `<prefix>/`: keys exactly `<prefix>/<name>/<id>`. */
export function parseKvListing(prefix: string, entries: readonly KvEntry[]): Service[] {
  return entries.flatMap(({ Key, Value }) => {
    if (!Key.startsWith(`${prefix}/`)) return [];
    const [name, id, ...deeper] = Key.slice(prefix.length + 1).split("/");
    if (!name || !id || deeper.length > 0) return [];
    return [storedService(id, name, Buffer.from(Value ?? "", "base64").toString("utf8"))];
  });
}
