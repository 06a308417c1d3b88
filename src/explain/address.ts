/**
 * Where a built service's address came from, told from the container, the options and the address
 * itself, in the order src/service/build.ts (serviceAddress) decides it. Pure.
 */
import { swarmTask } from "../service/swarm.js";
import type { BuildOptions, ContainerInfo, Service } from "../service/types.js";

export type AddressSource =
  "container-network" | "label" | "internal" | "ip-from-container" | "swarm-ingress" | "ip-flag" | "network" | "binding" | "hostname";

export interface AddressOrigin {
  source: AddressSource;
  /** One line for people: what set it, and how to change it. */
  detail: string;
}

const PLAIN_NETWORK_MODES = new Set(["", "bridge", "default", "host", "none"]);

export interface AddressFacts {
  /** The OS hostname that was resolved where no -ip is given. */
  hostname: string;
  /** The container whose network this one shares (`--net container:X`), as the builder was given it. */
  networkContainer?: ContainerInfo;
}

export function addressOrigin(info: ContainerInfo, service: Service, options: BuildOptions, facts: AddressFacts): AddressOrigin {
  const mode = info.HostConfig?.NetworkMode ?? "";
  if (mode.startsWith("container:") && facts.networkContainer && networkOf(facts.networkContainer, service.ip) !== undefined) {
    return {
      source: "container-network",
      detail: `the address of container ${name(facts.networkContainer)}, whose network it shares (--net ${mode})`,
    };
  }
  const label = options.useIpFromLabel;
  if (label && info.Config.Labels?.[label]) return { source: "label", detail: `label ${label} (-useIpFromLabel)` };
  const ingress = isIngress(info, service, options);
  if (options.internal) return { source: "internal", detail: `-internal: the container's own address ${where(info, service.ip)}` };
  if (options.ipFromContainer && !ingress)
    return { source: "ip-from-container", detail: `--ip-from-container: the container's own address ${where(info, service.ip)}` };
  const by = options.ip ? "-ip" : `the hostname ${facts.hostname} resolves to it (no -ip)`;
  if (ingress) return { source: "swarm-ingress", detail: `Swarm ingress: the routing mesh answers on this node's address; ${by}` };
  if (options.ip) return { source: "ip-flag", detail: "-ip" };
  if (
    !PLAIN_NETWORK_MODES.has(mode) &&
    !mode.startsWith("container:") &&
    info.NetworkSettings?.Networks?.[mode]?.IPAddress === service.ip
  ) {
    return {
      source: "network",
      detail: `the container's address on its user-defined network ${mode}, as v7 does; pass -ip for the host's`,
    };
  }
  const bound = boundHostIp(info, service);
  if (bound) return { source: "binding", detail: `the port's binding to ${bound} (docker run -p ${bound}:…)` };
  return { source: "hostname", detail: by };
}

/** `on network X`, `on the default bridge`, or nothing when no network of the container has that address. */
function where(info: ContainerInfo, ip: string): string {
  const network = networkOf(info, ip);
  if (network === undefined) return info.HostConfig?.NetworkMode === "host" ? "(host network: the host's address)" : "";
  return network === "" ? "on the default bridge" : `on network ${network}`;
}

/** The network on which the container has `ip` ("" for NetworkSettings.IPAddress alone), or undefined. */
function networkOf(info: ContainerInfo, ip: string): string | undefined {
  const networks = info.NetworkSettings?.Networks ?? {};
  for (const networkName of Object.keys(networks).sort()) {
    const network = networks[networkName];
    if (network && ip !== "" && (network.IPAddress === ip || network.GlobalIPv6Address === ip)) return networkName;
  }
  const settings = info.NetworkSettings;
  return ip !== "" && (settings?.IPAddress === ip || settings?.GlobalIPv6Address === ip) ? "" : undefined;
}

/** A swarm task's port that the routing mesh publishes: the container itself binds no host port for it. */
function isIngress(info: ContainerInfo, service: Service, options: BuildOptions): boolean {
  if (!swarmTask(info) || options.internal) return false;
  const key = `${service.origin.exposedPort}/${service.origin.protocol}`;
  return !info.NetworkSettings?.Ports?.[key]?.[0]?.HostPort;
}

function boundHostIp(info: ContainerInfo, service: Service): string | undefined {
  const key = `${service.origin.exposedPort}/${service.origin.protocol}`;
  const hostIp = info.NetworkSettings?.Ports?.[key]?.[0]?.HostIp;
  return hostIp && hostIp !== "0.0.0.0" && hostIp !== "::" && hostIp === service.ip ? hostIp : undefined;
}

function name(info: ContainerInfo): string {
  return info.Name.replace(/^\//, "");
}
