/** An engine and a registry for the bridge's unit tests: the registry judges owners as the adapters do. */
import type { BridgeOptions } from "../../../src/bridge/bridge.js";
import type { BridgeObserver, OperationResult } from "../../../src/bridge/observer.js";
import type { Engine } from "../../../src/engine/types.js";
import { checkWrite, mayRemove } from "../../../src/registry/owner.js";
import { RejectedError, type Owner, type RegistryAdapter } from "../../../src/registry/types.js";
import type { ContainerInfo, Service } from "../../../src/service/types.js";
import { container, options } from "../service/fixtures.js";

/** A registry that records writes and owners, and can be switched off. */
export class FakeRegistry implements RegistryAdapter {
  stored = new Map<string, Service>();
  owners = new Map<string, Owner>();
  writes: string[] = [];
  down = false;
  refuse = new Set<string>();
  /** Service ids whose writes fail with a plain error, as a flaky proxy or a bug would. */
  failing = new Set<string>();
  pings = 0;
  async ping() {
    this.pings++;
    if (this.down) throw new Error("connection refused");
  }
  async register(s: Service, owner: Owner) {
    if (this.down) throw new Error("connection refused");
    if (this.refuse.has(s.id)) throw new RejectedError(`refused ${s.id}`);
    if (this.failing.has(s.id)) throw new Error(`socket hang up on ${s.id}`);
    const written = checkWrite(this.found(s.id), s, owner);
    this.writes.push(`+${s.id}`);
    this.stored.set(s.id, s);
    this.owners.set(s.id, owner);
    return written;
  }
  async deregister(s: Service, owner: Owner) {
    if (this.down) throw new Error("connection refused");
    if (!mayRemove(this.found(s.id), s, owner)) return;
    this.writes.push(`-${s.id}`);
    this.stored.delete(s.id);
    this.owners.delete(s.id);
  }
  async services() {
    return [...this.stored.values()].map((service) => {
      const owner = this.owners.get(service.id);
      return owner ? { service, owner } : { service };
    });
  }
  async close() {}
  capabilities?: RegistryAdapter["capabilities"];
  /** An entry another host (or, without a host, another tool) holds. */
  holdElsewhere(id: string, host?: string) {
    this.stored.set(id, { id, name: id.split(":")[1] ?? id } as Service);
    if (host) this.owners.set(id, { hostId: host, container: "elsewhere" });
    else this.owners.delete(id);
  }
  /** Who holds each entry: `id → container` for this host's entries, `id → host/…` for others'. */
  holders(): Record<string, string> {
    return Object.fromEntries([...this.stored.keys()].sort().map((id) => [id, this.owners.get(id)?.container ?? "unmarked"]));
  }
  private found(id: string) {
    const stored = this.stored.get(id);
    return stored ? { owner: this.owners.get(id), address: `${stored.ip}:${stored.port}` } : undefined;
  }
}

/** A container engine in a Map: it lists newest first, as Docker does. */
export class FakeEngine implements Engine {
  containers = new Map<string, ContainerInfo>();
  inspected = 0;
  private clock = Date.parse("2026-01-01T00:00:00Z");
  async listRunning() {
    // Any change to the fake container changes what the list shows.
    return [...this.containers.values()]
      .filter((c) => c.State?.Running)
      .reverse()
      .map((c) => ({ id: c.Id, view: JSON.stringify(c) }));
  }
  async inspect(id: string) {
    this.inspected++;
    return structuredClone(this.containers.get(id));
  }
  /** Starts a container (again): it gets a later StartedAt than every container started before. */
  start(id: string, name: string, env: string[] = [], publish = ["8080:80"]) {
    const started = container({ id, name, publish, env });
    Object.assign(started.State!, { StartedAt: new Date(this.clock).toISOString() });
    this.clock += 1000;
    this.containers.delete(id);
    this.containers.set(id, started);
  }
  exit(id: string, code: number) {
    this.containers.get(id)!.State = { Running: false, ExitCode: code };
  }
}

/** An observer that counts what the metrics would show. */
export function recordingObserver() {
  const seen = { operations: [] as string[], reconciles: 0, last: { services: 0, retrying: 0 }, latencies: 0 };
  const observer: BridgeObserver = {
    operation: (kind: string, result: OperationResult) => void seen.operations.push(`${kind} ${result}`),
    registered: () => void seen.latencies++,
    // Every reconcile reports the state once; a reconcile that queues itself again and again must not hang the tests.
    state: (services, retrying) => {
      if (++seen.reconciles > 2000) throw new Error("reconciled over 2000 times");
      seen.last = { services, retrying };
    },
    registryUp: () => undefined,
  };
  return { observer, seen };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The bridge's options in these tests: quick retries, and no registry pings while a test runs. */
export function bridgeOptions(overrides: Partial<BridgeOptions> = {}): BridgeOptions {
  return {
    build: options(),
    deregister: "always",
    concurrency: 4,
    retry: { initialMs: 5, maxMs: 20 },
    backend: "fake",
    registryCheck: { upMs: 60_000, downMs: 60_000 },
    ...overrides,
  };
}

/** Waits until a bridge or reconciler has nothing left to do. */
export async function settle(target: { converged(): boolean; idle(): Promise<void> }): Promise<void> {
  for (let i = 0; i < 200 && !target.converged(); i++) await sleep(5);
  await target.idle();
}
