/**
 * A JSON file holding every current service, sorted by id, replaced atomically (temp file + rename)
 * so a reader never sees half a file. The file belongs to this process: it starts out empty, and the
 * services held here are the registry itself, which the file shows.
 */
import { rename, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Service } from "../service/types.js";
import { InvalidUriError, type AdapterFactory, type RegistryAdapter, type Stored } from "./types.js";

export const create: AdapterFactory = (ctx) => {
  if (ctx.uri.authority !== "" || !ctx.uri.path.startsWith("/")) {
    throw new InvalidUriError(`file URI needs an absolute path, e.g. file:///var/lib/registrator/services.json (got ${ctx.uri.raw})`);
  }
  return new FileAdapter(ctx.uri.path);
};

export class FileAdapter implements RegistryAdapter {
  private readonly current = new Map<string, Service>();
  /** Writes are coalesced: while one runs, later changes wait for a single next write. */
  private writing?: Promise<void>;
  private next?: Promise<void>;

  constructor(private readonly path: string) {}

  ping(): Promise<void> {
    return this.flush();
  }

  register(service: Service): Promise<void> {
    this.current.set(service.id, service);
    return this.flush();
  }

  deregister(service: Service): Promise<void> {
    this.current.delete(service.id);
    return this.flush();
  }

  async services(): Promise<Stored[]> {
    return [...this.current.values()].map((service) => ({ service }));
  }

  async close(): Promise<void> {
    await this.next;
    await this.writing;
  }

  private flush(): Promise<void> {
    if (!this.writing) {
      this.writing = this.write().finally(() => (this.writing = undefined));
      return this.writing;
    }
    this.next ??= this.writing
      .catch(() => undefined)
      .then(() => {
        this.next = undefined;
        return this.flush();
      });
    return this.next;
  }

  private async write(): Promise<void> {
    const services = [...this.current.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const temp = join(dirname(this.path), `.${basename(this.path)}.${process.pid}.tmp`);
    await writeFile(temp, `${JSON.stringify(services, null, 2)}\n`);
    await rename(temp, this.path);
  }
}
