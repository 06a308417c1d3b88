/**
 * A JSON file holding every current service, sorted by id, replaced atomically (temp file + rename)
 * so a reader never sees half a file. The file belongs to this process: it starts out empty, and the
 * services held here are the registry itself, which the file shows.
 */
import { randomBytes } from "node:crypto";
import { open, readFile, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { byCodeUnits } from "../service/record.js";
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

  /** `suffix` names the temp file; tests choose it to plant something there first. */
  constructor(
    private readonly path: string,
    private readonly suffix: () => string = randomSuffix,
  ) {}

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
    const services = [...this.current.values()].sort((a, b) => byCodeUnits(a.id, b.id));
    await replaceFile(this.path, `${JSON.stringify(services, null, 2)}\n`, this.suffix());
  }
}

/**
 * The services a running registrator last wrote to `path`, read without writing: a new FileAdapter
 * starts empty, and its first write would empty the daemon's file.
 */
export async function readServiceFile(path: string): Promise<Stored[]> {
  const services: unknown = JSON.parse(await readFile(path, "utf8"));
  if (!Array.isArray(services)) throw new Error(`${path} does not hold a list of services`);
  return (services as Service[]).map((service) => ({ service }));
}

/** 96 bits from the CSPRNG: a name nobody can plant anything at in advance. */
export function randomSuffix(): string {
  return randomBytes(12).toString("hex");
}

/** Mode of the file: services are no secret to the host's admins, but not everyone's business. */
export const FILE_MODE = 0o640;

/**
 * Writes a temp file beside `path` and renames it over `path`. The temp file is created exclusively
 * (O_CREAT|O_EXCL, which also refuses a symlink in its place) under an unpredictable name: in a
 * directory others can write to, a symlink planted at a predictable name would otherwise have this
 * process write through it, into whatever file it points at.
 */
export async function replaceFile(path: string, content: string, suffix: string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${suffix}.tmp`);
  const handle = await open(temp, "wx", FILE_MODE);
  try {
    try {
      await handle.writeFile(content);
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (err) {
    // Only our own file: when open itself failed, what is there belongs to someone else.
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}
