/**
 * Command line → Options, as the Go registrator reads it: single or double dash, `-x v` or `-x=v`,
 * booleans as `-x` or `-x=false`. Pure: argv and env in, options or a UsageError out.
 */
import { isIP } from "node:net";
import { parseListenAddress, type ListenAddress } from "../monitor/server.js";
import { LOG_LEVELS, type LogFormat, type LogLevel } from "../log.js";
import { redactedUri } from "../registry/uri.js";
import { splitOptionTags } from "../bridge/templates.js";
import type { AdapterContext, RegistryUri } from "../registry/types.js";
import type { BuildOptions } from "../service/types.js";
import { DEFAULTS, FLAGS } from "./flags.js";

export { usage } from "./flags.js";

export interface Options {
  uri: string;
  ip?: string;
  internal: boolean;
  explicit: boolean;
  useIpFromLabel?: string;
  /** fayrus v9's `-ip-from-container`: the container's own IP with the host port. */
  ipFromContainer: boolean;
  tags: string[];
  /** `-tags` holding a Go template, rendered per container. */
  tagsTemplate?: string;
  resync: number;
  ttl: number;
  ttlRefresh: number;
  deregister: "always" | "on-success";
  retryAttempts: number;
  retryInterval: number;
  cleanup: boolean;
  logFormat: LogFormat;
  logLevel: LogLevel;
  network?: string;
  /** `--host-id`: this registrator's identity in service ids and entry markers; default: the hostname. */
  hostId?: string;
  /** Cap of the backoff between retries of registry writes and engine reconnects. */
  retryBackoffMax: number;
  /** A container with more ports to register than this is ignored. */
  maxServices: number;
  deregisterOnExit: boolean;
  requireHealthy: boolean;
  once: boolean;
  dryRun: boolean;
  /** Serve /metrics and /health here; unset: no server, and prom-client is never loaded. */
  metricsAddr?: ListenAddress;
}

export type Command =
  | { kind: "run"; options: Options }
  | { kind: "explain"; options: Options; containers: string[]; json: boolean }
  | { kind: "help" }
  | { kind: "version" };

/** `registrator explain …`: the first argument that is not an option. */
const EXPLAIN = "explain";

/** Wrong command line: print the message (and usage when asked), exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
  constructor(
    message: string,
    readonly showUsage = false,
  ) {
    super(message);
  }
}

export function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv = {}, stdoutIsTty = false): Command {
  const { values, positional } = scan(argv);
  if (values.get("help") === "true") return { kind: "help" };
  if (values.get("version") === "true") return { kind: "version" };
  if (positional[0] === EXPLAIN) {
    if (positional.length < 2) throw new UsageError("explain: missing registry URI", true);
    const options = parseOptions(values, positional.at(-1)!, env, stdoutIsTty);
    return { kind: "explain", options, containers: positional.slice(1, -1), json: values.get("json") === "true" };
  }
  if (positional.length === 0) throw new UsageError("missing registry URI", true);
  // An extra argument may well be the registry URI, put after a stray one.
  if (positional.length > 1) throw new UsageError(`extra arguments: ${positional.slice(1).map(redactedUri).join(" ")}`, true);
  if (values.has("json")) throw new UsageError("--json applies to registrator explain only", true);
  return { kind: "run", options: parseOptions(values, positional[0]!, env, stdoutIsTty) };
}

function parseOptions(values: Map<string, string>, uri: string, env: NodeJS.ProcessEnv, stdoutIsTty: boolean): Options {
  for (const flag of FLAGS) {
    const fromEnv = flag.env ? env[flag.env] : undefined;
    if (fromEnv !== undefined && fromEnv !== "" && !values.has(flag.name)) {
      values.set(flag.name, flag.kind === "bool" ? parseBool(flag.name, fromEnv) : fromEnv);
    }
  }
  const text = (name: string) => values.get(name) ?? DEFAULTS[name];
  const int = (name: string) => parseInteger(name, text(name) ?? "0");
  const bool = (name: string) => values.get(name) === "true";

  const options: Options = {
    uri,
    internal: bool("internal"),
    explicit: bool("explicit"),
    ipFromContainer: bool("ip-from-container"),
    ...optionTags(text("tags") ?? ""),
    resync: int("resync"),
    ttl: int("ttl"),
    ttlRefresh: int("ttl-refresh"),
    deregister: oneOf("deregister", text("deregister")!, ["always", "on-success"] as const),
    retryAttempts: int("retry-attempts"),
    retryInterval: int("retry-interval"),
    cleanup: bool("cleanup"),
    logFormat: oneOf("log-format", text("log-format") ?? (stdoutIsTty ? "text" : "json"), ["json", "text"] as const),
    logLevel: oneOf("log-level", text("log-level")!, LOG_LEVELS),
    retryBackoffMax: int("retry-backoff-max"),
    maxServices: int("max-services"),
    deregisterOnExit: bool("deregister-on-exit"),
    requireHealthy: bool("require-healthy"),
    once: bool("once"),
    dryRun: bool("dry-run"),
  };
  addOptionalValues(options, text);
  validate(options);
  return options;
}

/** The options that stay unset unless given, each checked as it is read. */
function addOptionalValues(options: Options, text: (name: string) => string | undefined): void {
  const ip = text("ip");
  if (ip !== undefined) {
    if (!isIP(ip)) throw new UsageError(`-ip ${JSON.stringify(ip)} is not an IP address`);
    options.ip = ip;
  }
  if (text("useIpFromLabel")) options.useIpFromLabel = text("useIpFromLabel");
  if (text("network")) options.network = text("network");
  const hostId = text("host-id");
  if (hostId !== undefined) options.hostId = checkedHostId(hostId);
  const metricsAddr = text("metrics-addr");
  if (metricsAddr) {
    options.metricsAddr = parseListenAddress(metricsAddr);
    if (!options.metricsAddr)
      throw new UsageError(`--metrics-addr ${JSON.stringify(metricsAddr)} is not HOST:PORT (e.g. 127.0.0.1:9335, [::1]:9335 or :9335)`);
  }
}

/** A host id goes into service ids and keys: the characters a service id may hold, no `:` (which separates an id's parts). */
function checkedHostId(id: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(id) || id.length > 200) {
    throw new UsageError(
      `--host-id ${JSON.stringify(id)}: use letters, digits, "-", "_" and "." (at most 200, starting with a letter or digit)`,
    );
  }
  return id;
}

/** Plain tags are split once; a Go template is kept whole, since its output is what gets split. */
function optionTags(text: string): { tags: string[]; tagsTemplate?: string } {
  if (text.includes("{{")) return { tags: [], tagsTemplate: text };
  return { tags: splitOptionTags(text) };
}

function validate(o: Options): void {
  for (const [name, value] of [
    ["resync", o.resync],
    ["ttl", o.ttl],
    ["ttl-refresh", o.ttlRefresh],
  ] as const) {
    if (value < 0) throw new UsageError(`-${name} must not be negative`);
  }
  if (o.ttl > 0 !== o.ttlRefresh > 0) throw new UsageError("-ttl and -ttl-refresh must be specified together or not at all");
  if (o.ttl > 0 && o.ttl <= o.ttlRefresh) throw new UsageError("-ttl must be greater than -ttl-refresh");
  if (o.retryInterval <= 0) throw new UsageError("-retry-interval must be greater than 0");
  if (o.retryAttempts < -1) throw new UsageError("-retry-attempts must be -1 (forever) or more");
  if (o.retryBackoffMax < 100) throw new UsageError("--retry-backoff-max must be at least 100 (milliseconds)");
  if (o.maxServices < 1) throw new UsageError("--max-services must be at least 1");
}

/** Splits argv into flag values (booleans as "true"/"false") and positional arguments. */
function scan(argv: readonly string[]): { values: Map<string, string>; positional: string[] } {
  const values = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positional.push(arg);
      continue;
    }
    const body = arg.replace(/^--?/, "");
    const eq = body.indexOf("=");
    const rawName = eq >= 0 ? body.slice(0, eq) : body;
    const name = rawName === "h" ? "help" : rawName;
    const flag = FLAGS.find((f) => f.name === name);
    if (!flag) throw new UsageError(`unknown option ${arg.split("=")[0]}`, true);
    if (flag.kind === "bool") {
      values.set(name, eq >= 0 ? parseBool(name, body.slice(eq + 1)) : "true");
    } else if (eq >= 0) {
      values.set(name, body.slice(eq + 1));
    } else {
      const value = argv[++i];
      if (value === undefined) throw new UsageError(`option -${name} needs a value`);
      values.set(name, value);
    }
  }
  return { values, positional };
}

function parseBool(name: string, text: string): string {
  if (["1", "t", "T", "true", "TRUE", "True"].includes(text)) return "true";
  if (["0", "f", "F", "false", "FALSE", "False"].includes(text)) return "false";
  throw new UsageError(`invalid boolean value ${JSON.stringify(text)} for -${name}`);
}

function parseInteger(name: string, text: string): number {
  if (!/^-?\d+$/.test(text.trim())) throw new UsageError(`invalid value ${JSON.stringify(text)} for -${name}: expected a whole number`);
  return Number(text);
}

function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`-${name} must be ${allowed.map((a) => JSON.stringify(a)).join(" or ")}, not ${JSON.stringify(value)}`);
}

/** What the registry adapter is made from: its URI, and the options that shape what it writes. */
export function adapterContext(options: Options, uri: RegistryUri, env: NodeJS.ProcessEnv): AdapterContext {
  return { uri, ttl: options.ttl, ttlRefresh: options.ttlRefresh, env, cleanup: options.cleanup };
}

/** How services are built, from the options and what start-up found out about this host. */
export function buildOptions(options: Options, host: { hostname: string; hostIp: string }): BuildOptions {
  return {
    // The host id stands where v7 puts the hostname: default service ids stay as they were.
    hostId: options.hostId ?? host.hostname,
    hostIp: host.hostIp,
    ip: options.ip,
    internal: options.internal,
    explicit: options.explicit,
    useIpFromLabel: options.useIpFromLabel,
    ipFromContainer: options.ipFromContainer,
    tags: options.tags,
    tagsTemplate: options.tagsTemplate,
    maxServices: options.maxServices,
    ttl: options.ttl,
    network: options.network,
    requireHealthy: options.requireHealthy,
  };
}
