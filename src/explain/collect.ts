/**
 * Reads the engine once and builds every running container's services with the daemon's own code
 * (RelatedLookup, the tag templates, buildServices, acceptServices), in the order a cold sync meets
 * them, so that explain cannot disagree with the daemon. Reads only.
 */
import { acceptServices, type Accepted, type BackendRules } from "../bridge/desired.js";
import type { Engine } from "../bridge/reconciler.js";
import { RelatedLookup } from "../bridge/related.js";
import { usesTemplates, withTemplates } from "../bridge/templates.js";
import type { Logger } from "../log.js";
import type { RegistryAdapter } from "../registry/types.js";
import { buildServices } from "../service/build.js";
import type { BuildOptions, BuildResult, ContainerInfo } from "../service/types.js";
import type { ContainerFacts } from "./report.js";

const INSPECTS_AT_ONCE = 64;

export interface ReadContainers {
  /** The containers to explain: the named ones in the order given, else every running one by name. */
  explained: ContainerFacts[];
  notFound: string[];
  running: { ids: Set<string>; names: Set<string> };
}

export async function readContainers(
  engine: Engine,
  named: readonly string[],
  build: BuildOptions,
  registry: RegistryAdapter,
  log: Logger,
  hostname: string,
): Promise<ReadContainers> {
  const listed = await engine.listRunning();
  const inspected: (ContainerInfo | undefined)[] = [];
  // As many inspects at once as the daemon reconciles containers at once.
  for (let i = 0; i < listed.length; i += INSPECTS_AT_ONCE) {
    inspected.push(...(await Promise.all(listed.slice(i, i + INSPECTS_AT_ONCE).map((entry) => engine.inspect(entry.id)))));
  }
  const running = inspected.filter((info): info is ContainerInfo => info?.State?.Running === true).sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
  const rules: BackendRules = {
    validate: (service) => registry.capabilities?.rules?.validate(service),
    dropped: (service) => registry.capabilities?.rules?.dropped?.(service) ?? [],
  };
  const related = new RelatedLookup(engine, log);
  const holders = new Map<string, string>();
  const facts = new Map<string, ContainerFacts>();
  // Every running container is built, named or not: the first to claim an id holds it, as in the daemon.
  for (const info of running) facts.set(info.Id, await containerFacts(info, { build, hostname }, related, rules, holders));
  const explained: ContainerFacts[] = [];
  const notFound: string[] = [];
  for (const name of named) {
    const found = findRunning(running, name);
    const info = found ?? (await engine.inspect(name));
    if (!info) notFound.push(name);
    else explained.push(facts.get(info.Id) ?? { info, address: { hostname } });
  }
  const ids = new Set(running.map((info) => info.Id));
  const names = new Set(running.map((info) => info.Name.replace(/^\//, "")));
  return { explained: named.length > 0 ? explained : [...facts.values()], notFound, running: { ids, names } };
}

/** A full id, a unique id prefix, or a name (with or without its slash), as docker's CLI takes them. */
function findRunning(running: readonly ContainerInfo[], name: string): ContainerInfo | undefined {
  const byName = running.find((info) => info.Name === name || info.Name === `/${name}` || info.Id === name);
  if (byName) return byName;
  const byPrefix = running.filter((info) => /^[0-9a-f]+$/.test(name) && info.Id.startsWith(name));
  return byPrefix.length === 1 ? byPrefix[0] : undefined;
}

async function containerFacts(
  info: ContainerInfo,
  { build, hostname }: { build: BuildOptions; hostname: string },
  related: RelatedLookup,
  rules: BackendRules,
  holders: Map<string, string>,
): Promise<ContainerFacts> {
  const relatedInfo = await related.of(info);
  const built = await builtWithTemplates(info, build, relatedInfo);
  const accepted: Accepted = acceptServices(info.Id, built, rules, (id) => holders.get(id));
  for (const id of accepted.services.keys()) holders.set(id, info.Id);
  return { info, accepted, address: { hostname, networkContainer: relatedInfo.networkContainer } };
}

/** As the reconciler builds: the `-tags` template rendered first, its failure ignoring the container. */
async function builtWithTemplates(info: ContainerInfo, build: BuildOptions, related: Awaited<ReturnType<RelatedLookup["of"]>>): Promise<BuildResult> {
  try {
    const options = usesTemplates(info, build) ? await withTemplates(info, build) : build;
    return buildServices(info, options, related);
  } catch (err) {
    return { services: [], skipped: [{ reason: `-tags: ${(err as Error).message}` }] };
  }
}
