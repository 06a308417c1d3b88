/** A registry in a Map, and one sync of some containers through the real bridge into it: for unit tests. */
import { Bridge } from "../../src/bridge/bridge.js";
import type { Logger } from "../../src/log.js";
import type { Capabilities, RegistryAdapter, Rules, Stored } from "../../src/registry/types.js";
import type { BuildOptions, ContainerInfo, Service } from "../../src/service/types.js";

export class MemoryRegistry implements RegistryAdapter {
  readonly stored = new Map<string, Service>();

  readonly capabilities: Capabilities;

  /** `rules`: what a real backend would say of a service (e.g. the Consul adapter's validate). */
  constructor(rules?: Rules) {
    this.capabilities = rules ? { rules } : {};
  }

  async ping(): Promise<void> {}

  async register(service: Service): Promise<void> {
    this.stored.set(service.id, service);
  }

  async deregister(service: Service): Promise<void> {
    this.stored.delete(service.id);
  }

  async services(): Promise<Stored[]> {
    return [...this.stored.values()].map((service) => ({ service }));
  }

  async close(): Promise<void> {}
}

/** Lists and reconciles every container once, one at a time, as a start-up sync does. */
export async function syncInto(
  registry: RegistryAdapter,
  containers: readonly ContainerInfo[],
  build: BuildOptions,
  log: Logger,
): Promise<void> {
  const byId = new Map(containers.map((c) => [c.Id, c]));
  const engine = { listRunning: async () => [...byId.keys()].map((id) => ({ id })), inspect: async (id: string) => byId.get(id) };
  const options = {
    build,
    deregister: "always" as const,
    concurrency: 1,
    retry: { initialMs: 5, maxMs: 5 },
    backend: "test",
    registryCheck: { upMs: 60_000, downMs: 60_000 },
  };
  await new Bridge(engine, registry, options, log).sync();
}
