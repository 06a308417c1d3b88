/** The registry's writes as the reconciler makes them: each counted by kind and result for the metrics. */
import {
  OwnedElsewhereError,
  RejectedError,
  type DockerHealth,
  type Owner,
  type RegistryAdapter,
  type Written,
} from "../registry/types.js";
import type { Service } from "../service/types.js";
import type { BridgeObserver } from "./observer.js";

export class RegistryWrites {
  constructor(
    private readonly registry: RegistryAdapter,
    private readonly observer?: BridgeObserver,
    /** A write failed for a reason that may pass: is the registry still there? */
    private readonly failed?: () => void,
  ) {}

  /** Resolves with the RejectedError (or OwnedElsewhereError) of a write the registry refused. */
  register(service: Service, owner: Owner): Promise<Written | void | RejectedError> {
    return this.observe("register", () => this.registry.register(service, owner)).catch((err: unknown) => {
      if (err instanceof RejectedError) return err;
      throw err;
    });
  }

  deregister(service: Service, owner: Owner): Promise<void> {
    return this.observe("deregister", () => this.registry.deregister(service, owner));
  }

  /**
   * Tells a backend that mirrors Docker health checks what changed since `sent` (everything, when
   * forced). Resolves with the state now told, or undefined when nothing was.
   */
  async health(
    services: Iterable<Service>,
    health: DockerHealth | undefined,
    sent: string | undefined,
    force: boolean,
  ): Promise<string | undefined> {
    const mirror = this.registry.capabilities?.health;
    const state = health && `${health.status}\n${health.output}`;
    if (!mirror || !health || (!force && state === sent)) return undefined;
    for (const service of services) await mirror.update(service, health);
    return state;
  }

  private async observe<T>(kind: "register" | "deregister", call: () => Promise<T>): Promise<T> {
    try {
      const result = await call();
      this.observer?.operation(kind, "ok");
      return result;
    } catch (err) {
      const rejected = err instanceof RejectedError;
      this.observer?.operation(kind, err instanceof OwnedElsewhereError ? "owned_elsewhere" : rejected ? "rejected" : "error");
      if (!rejected) this.failed?.();
      throw err;
    }
  }
}
