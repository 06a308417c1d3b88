/**
 * What each backend stores of a service and can read back, so that explain compares only those
 * fields, and the health checks Consul gets. Pure.
 */
import { consulRegistration, serviceMeta, type ConsulCheck } from "../registry/consul-check.js";
import { isKvUri } from "../registry/consul.js";
import type { Stored } from "../registry/types.js";
import type { RegistryUri } from "../registry/types.js";
import type { Service } from "../service/types.js";
import type { ExplainFacts, Field } from "./report.js";

/** Consul's agent services hold every field; the others hold a name and an address. */
export function backendView(uri: RegistryUri): ExplainFacts["backend"] {
  if (isConsulAgent(uri)) {
    return {
      fields: ["name", "ip", "port", "tags", "attrs"] satisfies Field[],
      stored: (service) => ({ ...service, attrs: serviceMeta(service.attrs).meta }),
      checks: (service) => consulChecks(service),
    };
  }
  return { fields: ["name", "ip", "port"], stored: (service) => service, checks: () => [] };
}

function isConsulAgent(uri: RegistryUri): boolean {
  return ["consul", "consul-tls", "consul-unix"].includes(uri.scheme) && !isKvUri(uri);
}

/**
 * The file backend keeps no owner markers: one file belongs to one host, so each entry counts as
 * held by this host for the container it was built from.
 */
export function withOwners(uri: RegistryUri, stored: Stored[], hostId: string): Stored[] {
  if (uri.scheme !== "file") return stored;
  return stored.map((entry) =>
    entry.owner ? entry : { ...entry, owner: { hostId: hostId, container: entry.service.origin.containerId } },
  );
}

function consulChecks(service: Service): string[] {
  const result = consulRegistration(service);
  if (!result.ok) return [`refused: ${result.reason}`];
  const check = result.registration.Check;
  return check ? [describeCheck(check)] : [];
}

/** `http GET http://10.0.0.5:8080/health every 10s, timeout 2s`. */
export function describeCheck(check: ConsulCheck): string {
  const kind = checkKind(check);
  const extras = [
    check.Interval ? `every ${check.Interval}` : "",
    check.Timeout ? `timeout ${check.Timeout}` : "",
    check.Status ? `starts ${check.Status}` : "",
    check.DeregisterCriticalServiceAfter ? `removed after ${check.DeregisterCriticalServiceAfter} critical` : "",
  ].filter(Boolean);
  return [kind, ...extras].join(", ");
}

function checkKind(check: ConsulCheck): string {
  if (check.HTTP) return `http ${check.Method ?? "GET"} ${check.HTTP}`;
  if (check.TCP) return `tcp ${check.TCP}`;
  if (check.GRPC) return `grpc ${check.GRPC}`;
  if (check.DockerContainerID) return `docker exec in ${check.DockerContainerID.slice(0, 12)}: ${(check.ScriptArgs ?? []).join(" ")}`;
  if (check.ScriptArgs) return `script ${check.ScriptArgs.join(" ")}`;
  if (check.TTL) return `ttl ${check.TTL}`;
  return "check";
}
