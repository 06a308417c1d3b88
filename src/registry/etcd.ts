/** etcd v3: `<path>/<name>/<id>` = `<ip>:<port>`, under a lease when `-ttl` is set. */
import { hostPort } from "../service/address.js";
import type { Service } from "../service/types.js";
import { EtcdClient, LeasedKeys } from "./etcd-client.js";
import { storedService } from "./stored.js";
import type { AdapterFactory, RegistryAdapter } from "./types.js";

export const create: AdapterFactory = (ctx) => new EtcdAdapter(new EtcdClient(ctx.uri, ctx.env), ctx.uri.path, ctx.ttl);

export class EtcdAdapter implements RegistryAdapter {
  private readonly keys: LeasedKeys;

  constructor(
    private readonly etcd: EtcdClient,
    private readonly prefix: string,
    ttl: number,
  ) {
    this.keys = new LeasedKeys(etcd, ttl);
  }

  ping(): Promise<void> {
    return this.etcd.status();
  }

  register(service: Service): Promise<void> {
    return this.keys.put(this.key(service), hostPort(service.ip, service.port));
  }

  deregister(service: Service): Promise<void> {
    return this.keys.delete(this.key(service));
  }

  refresh(service: Service): Promise<void> {
    return this.keys.refresh(this.key(service), hostPort(service.ip, service.port));
  }

  async services(): Promise<Service[]> {
    const listed = await this.etcd.list(`${this.prefix}/`);
    return listed.flatMap(({ key, value }) => {
      const [name, id, ...deeper] = key.slice(this.prefix.length + 1).split("/");
      return name && id && deeper.length === 0 ? [storedService(id, name, value)] : [];
    });
  }

  async close(): Promise<void> {
    this.etcd.close();
  }

  private key(service: Service): string {
    return `${this.prefix}/${service.name}/${service.id}`;
  }
}
