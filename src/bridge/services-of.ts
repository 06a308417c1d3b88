/**
 * A running container's services, built from its inspect with what else the build needs: the
 * containers it relates to, and the operator's `-tags` template rendered for it.
 */
import type { Engine } from "../engine/types.js";
import type { Logger } from "../log.js";
import { buildServices, type RelatedContainers } from "../service/build.js";
import type { BuildOptions, BuildResult, ContainerInfo } from "../service/types.js";
import { RelatedLookup } from "./related.js";
import { usesTemplates, withTemplates } from "./templates.js";

export class ServicesOf {
  private readonly related: RelatedLookup;

  constructor(
    engine: Engine,
    private readonly options: BuildOptions,
    log: Logger,
  ) {
    this.related = new RelatedLookup(engine, log);
  }

  /** A template that fails ignores the container, with the reason. */
  async build(info: ContainerInfo): Promise<BuildResult> {
    return (await this.buildWithRelated(info)).built;
  }

  /** The same, with the containers it was built against (explain names the one whose network it shares). */
  async buildWithRelated(info: ContainerInfo): Promise<{ built: BuildResult; related: RelatedContainers }> {
    const related = await this.related.of(info);
    const options = usesTemplates(info, this.options) ? withTemplates(info, this.options) : Promise.resolve(this.options);
    const build = await options.catch((err: Error) => err);
    if (build instanceof Error) return { built: { services: [], skipped: [{ reason: `-tags: ${build.message}` }] }, related };
    return { built: buildServices(info, build, related), related };
  }
}
