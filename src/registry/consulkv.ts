/** Consul KV: `<path>/<name>/<id>` = `<ip>:<port>`, as upstream registrator's consulkv backend writes it. */
import { HttpClient, HttpStatusError } from "../request.js";
import { hostPort } from "../service/address.js";
import type { Service } from "../service/types.js";
import { consulRefusal } from "./consul-check.js";
import { storedService } from "./stored.js";
import { RejectedError, type RegistryAdapter } from "./types.js";

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
    const path = kvPath(this.prefix, service.name, service.id);
    const res = await this.http.request("PUT", path, {
      body: hostPort(service.ip, service.port),
      headers: { "content-type": "text/plain" },
    });
    if (res.status >= 200 && res.status < 300) return;
    const refusal = consulRefusal(res.status, res.text);
    throw refusal ? new RejectedError(refusal) : new HttpStatusError(res.status, res.text, `PUT ${path}`);
  }

  async deregister(service: Service): Promise<void> {
    await this.http.json("DELETE", kvPath(this.prefix, service.name, service.id));
  }

  async refresh(): Promise<void> {
    // Nothing expires in Consul KV.
  }

  async services(): Promise<Service[]> {
    const path = `${kvPath(this.prefix)}/?recurse`;
    const res = await this.http.request("GET", path);
    // Consul answers 404 for a folder with no keys.
    if (res.status === 404) return [];
    if (res.status < 200 || res.status >= 300) throw new HttpStatusError(res.status, res.text, `GET ${path}`);
    return parseKvListing(this.prefix, JSON.parse(res.text) as KvEntry[]);
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
