/** What the bridge reports as it works: the metrics hook. */
export interface BridgeObserver {
  /** `owned_elsewhere`: the entry is held by another host or tool, and was left alone. */
  operation(kind: "register" | "deregister" | "refresh", result: OperationResult): void;
  /** Seconds from the engine event that marked a container to its service being acknowledged. */
  registered(seconds: number): void;
  /** Services acknowledged by the registry, and containers waiting for a retry. */
  state(services: number, retrying: number): void;
  registryUp(up: boolean): void;
}

export type OperationResult = "ok" | "error" | "rejected" | "owned_elsewhere";
