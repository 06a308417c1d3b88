/**
 * What building a container's services needs beyond its own inspect: the container whose network it
 * shares, and for a swarm task, its node and service. The builder stays pure: this is its I/O.
 */
import type { Logger } from "../log.js";
import type { RelatedContainers } from "../service/build.js";
import { swarmTask } from "../service/swarm.js";
import type { ContainerInfo, SwarmFacts } from "../service/types.js";
import type { Engine } from "../engine/types.js";

export const WORKER_NOTICE =
  "this swarm node is a worker, which cannot read services: ports published in ingress mode and the services' own labels " +
  "are unknown here, so only host-mode ports are registered (with -internal, the ports the tasks' images expose)";

export class RelatedLookup {
  private workerNoticed = false;

  constructor(
    private readonly engine: Engine,
    private readonly log: Logger,
  ) {}

  async of(info: ContainerInfo): Promise<RelatedContainers> {
    const related: RelatedContainers = {};
    const networkMode = info.HostConfig?.NetworkMode ?? "";
    if (networkMode.startsWith("container:")) {
      related.networkContainer = await this.engine.inspect(networkMode.slice("container:".length));
    }
    const task = swarmTask(info);
    if (task && this.engine.swarmTask) {
      related.swarm = await this.engine.swarmTask({ containerId: info.Id, taskId: task.taskId, serviceId: task.serviceId });
      this.noticeWorker(related.swarm);
    }
    return related;
  }

  /** Said once: every task on a worker would otherwise repeat it. */
  private noticeWorker(facts: SwarmFacts): void {
    if (this.workerNoticed || facts.manager || facts.nodeId === "") return;
    this.workerNoticed = true;
    this.log.warn({ node: facts.nodeId }, WORKER_NOTICE);
  }
}
