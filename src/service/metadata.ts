/**
 * SERVICE_* metadata: how a container's env and labels configure its services.
 * Pure: no I/O.
 */
import type { Protocol } from "./types.js";

const PREFIX = "SERVICE_";
/**
 * Port-range keys one container may have: each is checked against every port that becomes a service,
 * so this bounds that work. A few cover any real use.
 */
export const MAX_RANGE_KEYS = 64;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
// fayrus v9 knows tcp and udp; sctp is a port protocol Docker has too, so it is one here as well.
const PROTOCOLS: readonly string[] = ["tcp", "udp", "sctp"] satisfies Protocol[];

/** One `SERVICE_*` key with a value, and the ports it is for. */
export interface MetadataEntry {
  rawKey: string;
  /** Lower-cased, without the prefix and the port. */
  key: string;
  value: string;
  /** `SERVICE_<port>_<key>`: the port as written, compared with the exposed port as a string, as v7 does. */
  port?: string;
  /** `SERVICE_<lo>-<hi>_<key>` (fayrus v9): every port from lo to hi. */
  range?: { lo: number; hi: number };
  /** `SERVICE_<port>_<protocol>_<key>` (fayrus v9, also after a range): only ports of that protocol. */
  protocol?: Protocol;
}

/** Metadata for one container port: the generic keys overlaid by those meant for that port. */
export interface PortMetadata {
  values: Map<string, string>;
  /** Keys whose value came from a port or range entry. */
  fromPort: Set<string>;
}

export interface ContainerMetadata {
  /** The keys for every port: what container-wide settings read. */
  generic: Map<string, string>;
  /** `SERVICE_<port>_*` entries by the port as written, each list in the order read (env vars, then labels). */
  byPort: Map<string, MetadataEntry[]>;
  /** `SERVICE_<lo>-<hi>_*` entries, in the order read. */
  ranges: MetadataEntry[];
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
    if (merged.has(key)) merged.delete(key);
    merged.set(key, value);
  }
  return merged;
}

/**
 * Reads every `SERVICE_*` key once, and files each where the ports will look for it, so that what
 * one port reads costs its own keys, not every key of the container. Empty values count as unset.
 */
export function parseContainerMetadata(merged: ReadonlyMap<string, string>): ContainerMetadata {
  const meta: ContainerMetadata = { generic: new Map(), byPort: new Map(), ranges: [], problems: [] };
  for (const [rawKey, value] of merged) {
    if (!rawKey.startsWith(PREFIX) || value === "") continue;
    const parsed = parseKey(rawKey, rawKey.slice(PREFIX.length).toLowerCase());
    if (typeof parsed === "string") meta.problems.push(parsed);
    else if (parsed) file(meta, { ...parsed, rawKey, value });
  }
  return meta;
}

function file(meta: ContainerMetadata, entry: MetadataEntry): void {
  if (entry.port !== undefined) {
    const list = meta.byPort.get(entry.port);
    if (list) list.push(entry);
    else meta.byPort.set(entry.port, [entry]);
  } else if (entry.range) {
    if (meta.ranges.length < MAX_RANGE_KEYS) meta.ranges.push(entry);
    else meta.problems.push(`${entry.rawKey}: more than ${MAX_RANGE_KEYS} port-range keys`);
  } else meta.generic.set(entry.key, entry.value);
}

type ParsedKey = Omit<MetadataEntry, "rawKey" | "value">;

/**
 * v7 (bridge/util.go, serviceMetaData) takes a key as port-specific when the part before its first
 * `_` is a Go int (strconv.Atoi), and keeps it only for the port whose string equals that part:
 * `SERVICE_080_NAME`, `SERVICE_+80_NAME` and `SERVICE_-1_FOO` name no port Docker writes, and are dropped.
 * fayrus v9 (internal/bridge/util.go) adds `<lo>-<hi>` ranges of two such ints, and a protocol
 * after the port or range.
 */
function parseKey(rawKey: string, key: string): ParsedKey | string | undefined {
  const underscore = key.indexOf("_");
  const selector = underscore < 0 ? undefined : portSelector(key.slice(0, underscore));
  if (!selector) return key === "" ? undefined : { key };
  if (typeof selector === "string") return `${rawKey}: ${selector}`;
  const { protocol, rest } = splitProtocol(key.slice(underscore + 1));
  if (rest === "") return `${rawKey}: no key after the ${protocol ? "protocol" : "port"}`;
  return protocol ? { ...selector, protocol, key: rest } : { ...selector, key: rest };
}

function portSelector(head: string): Pick<MetadataEntry, "port" | "range"> | string | undefined {
  if (isGoInt(head)) return { port: head };
  const dash = head.indexOf("-");
  const [lo, hi] = [head.slice(0, dash), head.slice(dash + 1)];
  // Anything else, like fayrus's failed range parse, is a generic key.
  if (dash < 0 || !isGoInt(lo) || !isGoInt(hi)) return undefined;
  // fayrus turns a range that matches nothing into a generic attribute; a key meant for no port is dropped here.
  if (Number(lo) > Number(hi)) return `the port range ${head} is empty`;
  return { range: { lo: Number(lo), hi: Number(hi) } };
}

function splitProtocol(rest: string): { protocol?: Protocol; rest: string } {
  const underscore = rest.indexOf("_");
  const head = rest.slice(0, underscore);
  if (underscore < 0 || !PROTOCOLS.includes(head)) return { rest };
  return { protocol: head as Protocol, rest: rest.slice(underscore + 1) };
}

/**
 * Port keys that can match no port of this container because Docker never writes a port that way
 * (`080`, `+80`, `99999`): most likely a typo, so say so. A valid port the container lacks is normal.
 */
export function unmatchedPortProblems(meta: ContainerMetadata, exposedPorts: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  for (const [port, entries] of meta.byPort) {
    if (isDockerPort(port) || exposedPorts.has(port)) continue;
    for (const e of entries)
      problems.push(`${e.rawKey}: ${port} is not a port number as Docker writes it (1 to 65535, no sign or leading zero)`);
  }
  return problems;
}

/** How closely an entry targets a port, compared element by element; the higher wins. */
type Rank = readonly [level: number, narrowness: number, withProtocol: number];
const GENERIC = 0;
const RANGE = 1;
const PORT = 2;
const GENERIC_RANK: Rank = [GENERIC, 0, 0];

/**
 * The metadata that applies to one exposed port, whatever the order of the keys: port and protocol,
 * then port, then the narrowest range (with a protocol before without), then generic keys. Between
 * keys of the same rank the later wins, and labels come after env vars.
 */
export function metadataForPort(meta: ContainerMetadata, exposedPort: string, protocol: Protocol): PortMetadata {
  const winners = new Map<string, { value: string; rank: Rank }>();
  for (const [key, value] of meta.generic) winners.set(key, { value, rank: GENERIC_RANK });
  // Generic keys, then ranges, then the port's own: each level in the order read, so the later wins within one.
  for (const entry of [...meta.ranges, ...(meta.byPort.get(exposedPort) ?? [])]) {
    const rank = rankFor(entry, exposedPort, protocol);
    const current = winners.get(entry.key);
    if (rank && (!current || compareRanks(rank, current.rank) >= 0)) winners.set(entry.key, { value: entry.value, rank });
  }
  const values = new Map<string, string>();
  const fromPort = new Set<string>();
  for (const [key, { value, rank }] of winners) {
    values.set(key, value);
    // As in v7 and fayrus: a name meant for the port (or its range) gets no `-<port>` suffix.
    if (rank[0] > GENERIC) fromPort.add(key);
  }
  return { values, fromPort };
}

function rankFor(entry: MetadataEntry, exposedPort: string, protocol: Protocol): Rank | undefined {
  if (entry.protocol && entry.protocol !== protocol) return undefined;
  const withProtocol = entry.protocol ? 1 : 0;
  if (entry.port !== undefined) return entry.port === exposedPort ? [PORT, 0, withProtocol] : undefined;
  if (entry.range) {
    const port = Number(exposedPort);
    const { lo, hi } = entry.range;
    return port >= lo && port <= hi ? [RANGE, lo - hi, withProtocol] : undefined;
  }
  return GENERIC_RANK;
}

function compareRanks(a: Rank, b: Rank): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
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
function isGoInt(text: string): boolean {
  if (!/^[+-]?\d+$/.test(text)) return false;
  const n = BigInt(text);
  return n >= INT64_MIN && n <= INT64_MAX;
}

function isDockerPort(text: string): boolean {
  return /^[1-9]\d{0,4}$/.test(text) && Number(text) <= 65535;
}
