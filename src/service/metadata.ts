/**
 * SERVICE_* metadata: how a container's env and labels configure its services.
 * Pure: no I/O.
 */

const PREFIX = "SERVICE_";
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** One `SERVICE_*` key with a value, and the ports it is for. */
export interface MetadataEntry {
  rawKey: string;
  /** Lower-cased, without the prefix and the port. */
  key: string;
  value: string;
  /** `SERVICE_<port>_<key>`: the port as written, compared with the exposed port as a string, as v7 does. */
  port?: string;
}

/** Metadata for one container port: the generic keys overlaid by that port's own keys. */
export interface PortMetadata {
  values: Map<string, string>;
  /** Keys whose value came from a port-specific entry. */
  fromPort: Set<string>;
}

export interface ContainerMetadata {
  /** In the order read: env vars, then labels. */
  entries: MetadataEntry[];
  /** The keys for every port: what container-wide settings read. */
  generic: Map<string, string>;
  /** Keys that were dropped, with why. */
  problems: string[];
}

/**
 * Env (`K=V`) then labels; a label overrides an env var of the same key. Labels come after every
 * env var, so where two keys end up meaning the same thing, the label is the later one and wins.
 */
export function mergeEnvAndLabels(
  env: readonly string[] | null | undefined,
  labels: Readonly<Record<string, string>> | null | undefined,
): Map<string, string> {
  const merged = new Map<string, string>();
  for (const entry of env ?? []) {
    const eq = entry.indexOf("=");
    if (eq > 0) merged.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  for (const [key, value] of Object.entries(labels ?? {})) {
    merged.delete(key);
    merged.set(key, value);
  }
  return merged;
}

/** Reads every `SERVICE_*` key. Empty values count as unset. */
export function parseContainerMetadata(merged: ReadonlyMap<string, string>): ContainerMetadata {
  const entries: MetadataEntry[] = [];
  const problems: string[] = [];
  for (const [rawKey, value] of merged) {
    if (!rawKey.startsWith(PREFIX) || value === "") continue;
    const parsed = parseKey(rawKey, rawKey.slice(PREFIX.length).toLowerCase());
    if (typeof parsed === "string") problems.push(parsed);
    else if (parsed) entries.push({ ...parsed, rawKey, value });
  }
  const generic = new Map(entries.filter((e) => e.port === undefined).map((e) => [e.key, e.value]));
  return { entries, generic, problems };
}

/**
 * v7 (bridge/util.go, serviceMetaData) takes a key as port-specific when the part before its first
 * `_` is a Go int (strconv.Atoi), and keeps it only for the port whose string equals that part:
 * `SERVICE_080_NAME`, `SERVICE_+80_NAME` and `SERVICE_-1_FOO` name no port Docker writes, and are dropped.
 */
function parseKey(rawKey: string, key: string): Omit<MetadataEntry, "rawKey" | "value"> | string | undefined {
  const underscore = key.indexOf("_");
  const head = key.slice(0, underscore);
  if (underscore < 0 || !isGoInt(head)) return key === "" ? undefined : { key };
  const rest = key.slice(underscore + 1);
  if (rest === "") return `${rawKey}: no key after the port`;
  return { key: rest, port: head };
}

/**
 * Port keys that can match no port of this container because Docker never writes a port that way
 * (`080`, `+80`, `99999`): most likely a typo, so say so. A valid port the container lacks is normal.
 */
export function unmatchedPortProblems(meta: ContainerMetadata, exposedPorts: readonly string[]): string[] {
  return meta.entries
    .filter((e) => e.port !== undefined && !isDockerPort(e.port) && !exposedPorts.includes(e.port))
    .map((e) => `${e.rawKey}: ${e.port} is not a port number as Docker writes it (1 to 65535, no sign or leading zero)`);
}

/** The metadata that applies to one exposed port: its own keys beat generic ones whatever their order. */
export function metadataForPort(meta: ContainerMetadata, exposedPort: string): PortMetadata {
  const values = new Map(meta.generic);
  const fromPort = new Set<string>();
  for (const entry of meta.entries) {
    if (entry.port !== exposedPort) continue;
    values.set(entry.key, entry.value);
    fromPort.add(entry.key);
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

/** What Go's strconv.Atoi accepts on 64-bit: an optional sign, decimal digits, in int64 range. */
export function isGoInt(text: string): boolean {
  if (!/^[+-]?\d+$/.test(text)) return false;
  const n = BigInt(text);
  return n >= INT64_MIN && n <= INT64_MAX;
}

function isDockerPort(text: string): boolean {
  return /^[1-9]\d{0,4}$/.test(text) && Number(text) <= 65535;
}
