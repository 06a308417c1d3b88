/** A registry in a Map, and one sync of some containers through the real bridge into it: for unit tests. */
import { Bridge } from "../../src/bridge/bridge.js";
import type { Logger } from "../../src/log.js";
import type { RegistryAdapter } from "../../src/registry/types.js";
import type { BuildOptions, ContainerInfo, Service } from "../../src/service/types.js";

export class MemoryRegistry implements RegistryAdapter {
  readonly stored = new Map<string, Service>();

  /** `rules`: what a real backend would say of a service (e.g. the Consul adapter's validate). */
  constructor(rules: Pick<RegistryAdapter, "validate" | "dropped"> = {}) {
    if (rules.validate) this.validate = rules.validate;
    if (rules.dropped) this.dropped = rules.dropped;
  }

  validate?(service: Service): string | undefined;
  dropped?(service: Service): string[];

  async ping(): Promise<void> {}

  async register(service: Service): Promise<void> {
    this.stored.set(service.id, service);
  }

  async deregister(service: Service): Promise<void> {
    this.stored.delete(service.id);
  }

  async close(): Promise<void> {}
}

/** Lists and reconciles every container once, one at a time, as a start-up sync does. */
export async function syncInto(registry: RegistryAdapter, containers: readonly ContainerInfo[], build: BuildOptions, log: Logger): Promise<void> {
  const byId = new Map(containers.map((c) => [c.Id, c]));
  const engine = { listRunning: async () => [...byId.keys()].map((id) => ({ id })), inspect: async (id: string) => byId.get(id) };
  const options = { build, deregister: "always" as const, concurrency: 1, retry: { initialMs: 5, maxMs: 5 }, backend: "test", registryCheck: { upMs: 60_000, downMs: 60_000 } };
  await new Bridge(engine, registry, options, log).sync();
}
