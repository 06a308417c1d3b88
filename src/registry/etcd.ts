/**
 * etcd v3, in one of two layouts: plain key/value (`etcd://`: `<path>/<name>/<id>` = `<ip>:<port>`) or
 * SkyDNS records that CoreDNS reads (`skydns2://`, `coredns://`; see skydns2.ts). With `-ttl`, every
 * key is written under one shared lease, renewed by one keep-alive per refresh.
 */
import { hostPort } from "../address.js";
import type { Service } from "../service/types.js";
import { EtcdClient, SharedLease, type EtcdLayout } from "./etcd-client.js";
import { recordLayout, skydnsLayout } from "./skydns2.js";
import { storedService } from "./stored.js";
import { RejectedError, type AdapterFactory, type Registered, type RegistryAdapter, type Stored } from "./types.js";

export const create: AdapterFactory = (ctx) => {
  const layout = ctx.uri.scheme === "etcd" ? plainLayout(ctx.uri.path) : recordLayout(skydnsLayout(ctx.uri), ctx.ttl);
  return new EtcdAdapter(new EtcdClient(ctx.uri, ctx.env), layout, ctx.ttl, ctx.ttlRefresh);
};

/** `<path>/<name>/<id>` = `<ip>:<port>`, as the Go registrator's etcd backend writes it. */
function plainLayout(path: string): EtcdLayout {
  return {
    prefix: `${path}/`,
    key: (service) => `${path}/${service.name}/${service.id}`,
    value: (service) => hostPort(service.ip, service.port),
    parse(key, value) {
      const [name, id, ...deeper] = key.slice(path.length + 1).split("/");
      return name && id && deeper.length === 0 ? storedService(id, name, value) : undefined;
    },
  };
}

export class EtcdAdapter implements RegistryAdapter {
  readonly refreshSchedule?: { everyMs: number; retryMs: number };
  private readonly lease: SharedLease;

  constructor(
    private readonly etcd: EtcdClient,
    private readonly layout: EtcdLayout,
    ttl: number,
    ttlRefresh: number,
  ) {
    this.lease = new SharedLease(etcd, ttl);
    if (ttl > 0) this.refreshSchedule = { everyMs: ttlRefresh * 1000, retryMs: Math.min(1000, ttlRefresh * 1000) };
  }

  ping(): Promise<void> {
    return this.etcd.status();
  }

  validate(service: Service): string | undefined {
    return this.layout.validate?.(service);
  }

  async register(service: Service): Promise<void> {
    const key = this.layout.key(service);
    const value = this.layout.value(service);
    if (!this.layout.holder) return this.lease.write((lease) => this.etcd.put(key, value, lease));
    const seen = await this.etcd.read(key);
    const holder = seen && this.layout.holder(seen.value);
    if (holder !== undefined && holder !== service.id) throw new RejectedError(this.layout.clash!(key, holder));
    const written = await this.lease.write((lease) => this.etcd.putIf(key, value, lease, seen));
    if (!written) throw new Error(`etcd: ${key} changed while it was being written; trying again`);
  }

  async deregister(service: Service): Promise<void> {
    const key = this.layout.key(service);
    if (!this.layout.holder) return this.etcd.delete(key);
    const seen = await this.etcd.read(key);
    if (!seen || this.layout.holder(seen.value) !== service.id) return;
    if (!(await this.etcd.deleteIf(key, seen))) throw new Error(`etcd: ${key} changed while it was being removed; trying again`);
  }

  /** One keep-alive for every key; when the lease is gone, so is every key under it. */
  async refresh(registered: readonly Registered[]): Promise<Service[]> {
    return (await this.lease.renew()) ? [] : registered.map((entry) => entry.service);
  }

  async services(): Promise<Stored[]> {
    const listed = await this.etcd.list(this.layout.prefix);
    return listed.flatMap(({ key, value }) => {
      const service = this.layout.parse(key, value);
      return service ? [{ service }] : [];
    });
  }

  async close(): Promise<void> {
    this.etcd.close();
  }
}
