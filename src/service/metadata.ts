/**
 * SERVICE_* metadata: how a container's env and labels configure its services.
 * Pure: no I/O.
 */

const PREFIX = "SERVICE_";

/** Metadata for one container port: the generic keys overlaid by that port's own keys. */
export interface PortMetadata {
  values: Map<string, string>;
  /** Keys whose value came from a `SERVICE_<port>_<key>` entry. */
  fromPort: Set<string>;
}

export interface ContainerMetadata {
  generic: Map<string, string>;
  /** Port number (as written) → that port's keys. */
  byPort: Map<string, Map<string, string>>;
  /** Keys that were dropped, with why. */
  problems: string[];
}

/** Env (`K=V`) then labels; a label overrides an env var of the same key. */
export function mergeEnvAndLabels(
  env: readonly string[] | null | undefined,
  labels: Readonly<Record<string, string>> | null | undefined,
): Map<string, string> {
  const merged = new Map<string, string>();
  for (const entry of env ?? []) {
    const eq = entry.indexOf("=");
    if (eq > 0) merged.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  for (const [key, value] of Object.entries(labels ?? {})) merged.set(key, value);
  return merged;
}

/** Splits every `SERVICE_*` key into generic and port-specific metadata. Empty values count as unset. */
export function parseContainerMetadata(merged: ReadonlyMap<string, string>): ContainerMetadata {
  const generic = new Map<string, string>();
  const byPort = new Map<string, Map<string, string>>();
  const problems: string[] = [];
  for (const [rawKey, value] of merged) {
    if (!rawKey.startsWith(PREFIX) || value === "") continue;
    const key = rawKey.slice(PREFIX.length).toLowerCase();
    const portKey = /^(\d+)_(.+)$/.exec(key);
    if (!portKey) {
      if (key !== "") generic.set(key, value);
      continue;
    }
    const [, port = "", rest = ""] = portKey;
    if (!isPortNumber(port)) {
      problems.push(`${rawKey}: ${port} is not a port number (1-65535)`);
      continue;
    }
    const portNumber = String(Number(port));
    let keys = byPort.get(portNumber);
    if (!keys) byPort.set(portNumber, (keys = new Map()));
    keys.set(rest, value);
  }
  return { generic, byPort, problems };
}

/** The metadata that applies to one exposed port: its own keys beat generic ones whatever their order. */
export function metadataForPort(meta: ContainerMetadata, exposedPort: string): PortMetadata {
  const values = new Map(meta.generic);
  const fromPort = new Set<string>();
  for (const [key, value] of meta.byPort.get(exposedPort) ?? []) {
    values.set(key, value);
    fromPort.add(key);
  }
  return { values, fromPort };
}

/** Splits a tag list on commas; `\,` keeps a literal comma. Blank tags are dropped. */
export function splitTags(list: string | undefined): string[] {
  if (!list) return [];
  return list
    .split(/(?<!\\),/)
    .map((tag) => tag.replace(/\\,/g, ",").trim())
    .filter((tag) => tag !== "");
}

function isPortNumber(text: string): boolean {
  const n = Number(text);
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}
