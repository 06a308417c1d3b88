/** What the bridge reports as it works: the metrics hook. */
export interface BridgeObserver {
  operation(kind: "register" | "deregister" | "refresh", result: "ok" | "error" | "rejected"): void;
  /** Seconds from the engine event that marked a container to its service being acknowledged. */
  registered(seconds: number): void;
  /** Services acknowledged by the registry, and containers waiting for a retry. */
  state(services: number, retrying: number): void;
  registryUp(up: boolean): void;
}
