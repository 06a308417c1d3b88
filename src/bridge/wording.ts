/** How the bridge words its decisions in the log. Pure. */
import { hostPort } from "../address.js";
import type { Owner } from "../registry/types.js";
import type { Service, Skipped } from "../service/types.js";

/** A container cannot flood the log: its reasons beyond these are counted in one line. */
const MAX_IGNORED_LINES = 16;

export interface LogLine {
  fields: Record<string, unknown>;
  msg: string;
}

/** How a service is named in every log line about it. */
export function serviceFields(containerId: string, service: Service, backend: string): Record<string, unknown> {
  return { container: short(containerId), service: service.id, name: service.name, address: hostPort(service.ip, service.port), backend };
}

export function short(containerId: string): string {
  return containerId.slice(0, 12);
}

export function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function formatDelay(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(1)}s`;
}

/** One `ignored:` line per port or key that produced no service, at most 16, then one that counts the rest. */
export function ignoredLines(containerId: string, skipped: readonly Skipped[], backend: string): LogLine[] {
  const container = short(containerId);
  const lines = skipped
    .slice(0, MAX_IGNORED_LINES)
    .map((item) => ({ fields: { container, port: item.port, backend }, msg: `ignored: ${item.reason}` }));
  if (skipped.length > MAX_IGNORED_LINES) {
    lines.push({
      fields: { container, port: undefined, backend },
      msg: `ignored: ${skipped.length - MAX_IGNORED_LINES} more ports or keys of this container`,
    });
  }
  return lines;
}

/**
 * The entry was held under our host id by a container this process does not run: a container of ours
 * that died while we were away, or another host with the same host id.
 */
export function takeOverMessage(containerId: string, service: Service, from: Owner): string {
  return (
    `took over ${service.id} from container ${short(from.container)} for container ${short(containerId)}: ` +
    `no container ${short(from.container)} runs here under host id ${from.hostId}; if another host runs registrator ` +
    `with the same host id (cloned VMs share hostnames), give each host its own --host-id`
  );
}

/** The entry was held by a container that runs here, which this one comes before (see desired.ts, outranks). */
export function yieldedMessage(containerId: string, service: Service, from: Owner, defaultOwner: boolean): string {
  const why = defaultOwner
    ? `it is the default id of container ${short(containerId)}, which comes before a SERVICE_ID`
    : `container ${short(containerId)} started first`;
  return `took over ${service.id} from container ${short(from.container)} for container ${short(containerId)}: ${why}`;
}

export const KEPT_MESSAGE = "kept: failed with a non-zero exit code and -deregister is on-success";
