/** What the bridge reads from the container engine: Docker's API, or Podman's Docker-compatible one. */
import type { ContainerInfo, Listed, SwarmFacts } from "../service/types.js";

export interface Engine {
  listRunning(): Promise<Listed[]>;
  /** undefined when the container is gone. */
  inspect(id: string): Promise<ContainerInfo | undefined>;
  /** A swarm task's node and service, as the engine confirms them; engines without swarm mode leave it out. */
  swarmTask?(container: ContainerInfo): Promise<SwarmFacts>;
}
