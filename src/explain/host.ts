/**
 * What start-up warnings and explain need to know about this host: the address its hostname resolves
 * to, and whether registrator runs in a container, which one, and on what network. The I/O beside the
 * pure checks of src/cli/warnings.ts.
 */
import { lookup } from "node:dns/promises";
import { readFileSync } from "node:fs";
import { hostname as osHostname } from "node:os";
import type { Options } from "../cli/args.js";
import { containerIdentity, startupWarnings, type HostFacts } from "../cli/warnings.js";
import { DockerClient, type EngineEndpoint } from "../engine/docker.js";
import type { Logger } from "../log.js";
import type { RegistryUri } from "../registry/types.js";

/**
 * The address services bound to 0.0.0.0 get: `-ip`, else what the hostname resolves to, as the Go
 * registrator does; with a warning, worded for the log and explain alike, when it does not resolve.
 */
export async function hostAddress(options: Pick<Options, "ip">, hostname = osHostname()): Promise<{ ip: string; warning?: string }> {
  if (options.ip) return { ip: options.ip };
  try {
    return { ip: (await lookup(hostname)).address };
  } catch (err) {
    const warning = `the hostname ${hostname} does not resolve (${(err as Error).message}): services bound to all interfaces get 0.0.0.0; pass -ip`;
    return { ip: "0.0.0.0", warning };
  }
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** Its own container's network mode and addresses, when the engine can be asked; nothing otherwise. */
async function ownContainer(endpoint: EngineEndpoint, containerId: string): Promise<Pick<HostFacts, "networkMode" | "containerAddresses">> {
  let client: DockerClient | undefined;
  try {
    client = await DockerClient.connect({ ...endpoint, timeoutMs: 5_000 });
    const info = await client.inspect(containerId);
    if (!info) return { containerAddresses: [] };
    const networks = Object.values(info.NetworkSettings?.Networks ?? {});
    const addresses = [info.NetworkSettings?.IPAddress, ...networks.flatMap((n) => [n.IPAddress, n.GlobalIPv6Address])].filter(
      (ip): ip is string => Boolean(ip),
    );
    return { networkMode: info.HostConfig?.NetworkMode ?? "default", containerAddresses: addresses };
  } catch {
    return { containerAddresses: [] };
  } finally {
    client?.close();
  }
}

export async function hostFacts(options: Options, uri: RegistryUri, endpoint: EngineEndpoint, hostIp: string): Promise<HostFacts> {
  const identity = containerIdentity(readOrUndefined);
  const own =
    identity.inContainer && identity.containerId ? await ownContainer(endpoint, identity.containerId) : { containerAddresses: [] };
  return {
    uri: options.uri,
    uriHost: uri.host,
    scheme: uri.scheme,
    ipGiven: options.ip !== undefined,
    hostIdGiven: options.hostId !== undefined,
    hostname: osHostname(),
    hostIp,
    ...identity,
    ...own,
  };
}

/** Logs each start-up warning; never fails start-up, and never delays it. */
export function warnAtStartup(options: Options, uri: RegistryUri, endpoint: EngineEndpoint, hostIp: Promise<string>, log: Logger): void {
  void hostIp
    .then((ip) => hostFacts(options, uri, endpoint, ip))
    .then((facts) => {
      for (const warning of startupWarnings(facts)) log.warn(warning);
    })
    .catch(() => undefined);
}
