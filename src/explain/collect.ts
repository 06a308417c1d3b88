/**
 * Reads the engine once and builds every running container's services with the daemon's own code
 * (ServicesOf, then acceptServices), in the order a cold sync meets them, so that explain cannot
 * disagree with the daemon. Reads only.
 */
import { acceptServices, isDefaultOwner, outranks, rulesOf, startedAt, type Claim } from "../bridge/desired.js";
import { ServicesOf } from "../bridge/services-of.js";
import type { Engine } from "../engine/types.js";
import type { Logger } from "../log.js";
import type { RegistryAdapter } from "../registry/types.js";
import { byCodeUnits } from "../service/record.js";
import type { BuildOptions, BuildResult, ContainerInfo } from "../service/types.js";
import type { ContainerFacts } from "./report.js";

const INSPECTS_AT_ONCE = 64;

export interface ReadContainers {
  /** The containers to explain: the named ones in the order given, else every running one by name. */
  explained: ContainerFacts[];
  notFound: string[];
  running: { ids: Set<string>; claimed: Set<string> };
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
  const running = inspected
    .filter((info): info is ContainerInfo => info?.State?.Running === true)
    .sort((a, b) => byCodeUnits(a.Name, b.Name));
  const rules = rulesOf(registry);
  const services = new ServicesOf(engine, build, log);
  // Every running container is built, named or not, and an id contested between them goes to the
  // claim the daemon ranks first (bridge/desired.ts, outranks), whatever the order they are read in.
  const builds = new Map<string, Built>();
  for (const info of running) builds.set(info.Id, await builtContainer(info, services));
  const claims = bestClaims([...builds.values()], build.hostId);
  const facts = new Map<string, ContainerFacts>();
  for (const { info, built, networkContainer } of builds.values()) {
    const claimant = { container: info.Id, startedAt: startedAt(info), hostId: build.hostId };
    const accepted = acceptServices(claimant, built, rules, (id) => claims.get(id));
    facts.set(info.Id, { info, accepted, address: { hostname, networkContainer } });
  }
  const explained: ContainerFacts[] = [];
  const notFound: string[] = [];
  for (const name of named) {
    const found = findRunning(running, name);
    const info = found ?? (await engine.inspect(name));
    if (!info) notFound.push(name);
    else explained.push(facts.get(info.Id) ?? { info, address: { hostname } });
  }
  const ids = new Set(running.map((info) => info.Id));
  return { explained: named.length > 0 ? explained : [...facts.values()], notFound, running: { ids, claimed: new Set(claims.keys()) } };
}

/** A full id, a unique id prefix, or a name (with or without its slash), as docker's CLI takes them. */
function findRunning(running: readonly ContainerInfo[], name: string): ContainerInfo | undefined {
  const byName = running.find((info) => info.Name === name || info.Name === `/${name}` || info.Id === name);
  if (byName) return byName;
  const byPrefix = running.filter((info) => /^[0-9a-f]+$/.test(name) && info.Id.startsWith(name));
  return byPrefix.length === 1 ? byPrefix[0] : undefined;
}

interface Built {
  info: ContainerInfo;
  built: BuildResult;
  networkContainer?: ContainerInfo;
}

async function builtContainer(info: ContainerInfo, services: ServicesOf): Promise<Built> {
  const { built, related } = await services.buildWithRelated(info);
  return { info, built, networkContainer: related.networkContainer };
}

/** Per service id, the claim that keeps it among all the containers that build it. */
function bestClaims(builds: readonly Built[], hostId: string): Map<string, Claim> {
  const best = new Map<string, Claim>();
  for (const { info, built } of builds) {
    for (const service of built.services) {
      const claim = { container: info.Id, startedAt: startedAt(info), defaultOwner: isDefaultOwner(hostId, service), registered: false };
      const held = best.get(service.id);
      if (!held || (held.container !== claim.container && outranks(claim, held))) best.set(service.id, claim);
    }
  }
  return best;
}
