/** What the bridge reads from the container engine: Docker's API, or Podman's Docker-compatible one. */
import type { ContainerInfo, Listed, SwarmFacts } from "../service/types.js";
import type { TaskClaim } from "./swarm.js";

export interface Engine {
  listRunning(): Promise<Listed[]>;
  /** undefined when the container is gone. */
  inspect(id: string): Promise<ContainerInfo | undefined>;
  /** The node, and the task a container's labels claim to be, as the engine confirms it; engines without swarm mode leave it out. */
  swarmTask?(claim: TaskClaim): Promise<SwarmFacts>;
}
