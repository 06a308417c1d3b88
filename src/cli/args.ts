/**
 * Command line → Options, as the Go registrator reads it: single or double dash, `-x v` or `-x=v`,
 * booleans as `-x` or `-x=false`. Pure: argv and env in, options or a UsageError out.
 */
import { isIP } from "node:net";
import { parseListenAddress, type ListenAddress } from "../monitor/server.js";
import { LOG_LEVELS, type LogFormat, type LogLevel } from "../log.js";
import { URI_EXAMPLES } from "../registry/index.js";
import { redactedUri } from "../registry/uri.js";
import { splitOptionTags } from "../bridge/templates.js";
import type { BuildOptions } from "../service/types.js";

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
export const EXPLAIN = "explain";

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

type Kind = "bool" | "string" | "int";

interface FlagSpec {
  name: string;
  kind: Kind;
  /** Shown in usage after the flag name. */
  value?: string;
  help: string;
  /** For options beyond the Go registrator's: the REGISTRATOR_* variable that sets it too. */
  env?: string;
  /** Only `registrator explain` takes it. */
  explainOnly?: boolean;
}

export const FLAGS: readonly FlagSpec[] = [
  {
    name: "ip",
    kind: "string",
    value: "IP",
    help: "IP for every service published on the host (default: the address the hostname resolves to)",
  },
  { name: "internal", kind: "bool", help: "register the container's own IP and exposed port instead of the host's" },
  { name: "explicit", kind: "bool", help: "only register containers that set SERVICE_NAME" },
  {
    name: "useIpFromLabel",
    kind: "string",
    value: "LABEL",
    help: "take each service's IP from this container label, cut at its last / (e.g. 10.0.0.5/24)",
  },
  {
    name: "tags",
    kind: "string",
    value: "TAGS",
    help: "comma-separated tags added to every service; may be a Go template run against each container, as in v7.4",
  },
  { name: "resync", kind: "int", value: "SECONDS", help: "re-list containers and re-register every N seconds; 0: never" },
  { name: "ttl", kind: "int", value: "SECONDS", help: "TTL of registrations in backends that expire entries; 0: none" },
  { name: "ttl-refresh", kind: "int", value: "SECONDS", help: "renew TTLs every N seconds (must be less than -ttl)" },
  {
    name: "deregister",
    kind: "string",
    value: "WHEN",
    help: '"always", or "on-success": only when the container exited with code 0 or was stopped by a signal',
  },
  { name: "retry-attempts", kind: "int", value: "N", help: "registry connection attempts at start-up after the first; -1: forever" },
  { name: "retry-interval", kind: "int", value: "MS", help: "wait between those attempts, in milliseconds" },
  { name: "cleanup", kind: "bool", help: "remove this host's registry entries that no running container accounts for" },
  {
    name: "network",
    kind: "string",
    value: "NAME",
    env: "REGISTRATOR_NETWORK",
    help: "network whose IP -internal uses when a container is on several",
  },
  {
    name: "host-id",
    kind: "string",
    value: "ID",
    env: "REGISTRATOR_HOST_ID",
    help: "this host's identity: the first part of default service ids and the owner of its registry entries (default: the hostname)",
  },
  {
    name: "ip-from-container",
    kind: "bool",
    env: "REGISTRATOR_IP_FROM_CONTAINER",
    help: "register the container's own IP (the one -internal would) with the published host port, as fayrus v9",
  },
  {
    name: "max-services",
    kind: "int",
    value: "N",
    env: "REGISTRATOR_MAX_SERVICES",
    help: "a container with more ports to register than this is ignored, with one log line",
  },
  {
    name: "retry-backoff-max",
    kind: "int",
    value: "MS",
    env: "REGISTRATOR_RETRY_BACKOFF_MAX",
    help: "longest wait between retries of a failed registry write or engine connection",
  },
  {
    name: "deregister-on-exit",
    kind: "bool",
    env: "REGISTRATOR_DEREGISTER_ON_EXIT",
    help: "on SIGTERM/SIGINT, remove this host's services first (for hosts that go away)",
  },
  {
    name: "require-healthy",
    kind: "bool",
    env: "REGISTRATOR_REQUIRE_HEALTHY",
    help: "register containers that have a HEALTHCHECK only while healthy (per container: SERVICE_REQUIRE_HEALTHY=true)",
  },
  { name: "once", kind: "bool", env: "REGISTRATOR_ONCE", help: "sync once and exit: 0 when every service is registered, 1 otherwise" },
  {
    name: "dry-run",
    kind: "bool",
    env: "REGISTRATOR_DRY_RUN",
    help: "print the services that would be registered, as JSON, and exit; writes nothing",
  },
  {
    name: "metrics-addr",
    kind: "string",
    value: "HOST:PORT",
    env: "REGISTRATOR_METRICS_ADDR",
    help: "serve Prometheus /metrics, /health, /status (JSON) and a status page at / there while running as a daemon, e.g. 127.0.0.1:9335; default: off",
  },
  {
    name: "log-format",
    kind: "string",
    value: "json|text",
    env: "REGISTRATOR_LOG_FORMAT",
    help: "log as JSON lines, or as text for people; default: text on a terminal, else json",
  },
  { name: "log-level", kind: "string", value: "LEVEL", env: "REGISTRATOR_LOG_LEVEL", help: `one of ${LOG_LEVELS.join(", ")}` },
  { name: "json", kind: "bool", explainOnly: true, help: "explain: print one JSON document instead of text" },
  { name: "version", kind: "bool", help: "print the version and exit" },
  { name: "help", kind: "bool", help: "print this help and exit" },
];

const DEFAULTS: Readonly<Record<string, string>> = {
  resync: "0",
  ttl: "0",
  "ttl-refresh": "0",
  deregister: "always",
  // Five retries two seconds apart: a registry that starts with the host gets ~10 s before we give up.
  "retry-attempts": "5",
  "retry-interval": "2000",
  "log-level": "info",
  "retry-backoff-max": "30000",
  "max-services": "256",
};

export function usage(): string {
  const lines = FLAGS.filter((flag) => !flag.explainOnly).map((flag) => {
    const dash = flag.env ? "--" : "-";
    const left = `  ${dash}${flag.name}${flag.value ? ` ${flag.value}` : ""}`;
    const fallback = DEFAULTS[flag.name];
    const extras = [fallback !== undefined ? `default ${fallback}` : "", flag.env ? `env ${flag.env}` : ""].filter(Boolean);
    return `${left.padEnd(30)} ${flag.help}${extras.length ? ` (${extras.join("; ")})` : ""}`;
  });
  return [
    "Usage: registrator [options] <registry URI>",
    "       registrator explain [--json] [options] [CONTAINER...] <registry URI>",
    "",
    "Registers every published port of every running Docker or Podman container in a service",
    "registry, and removes it when the container dies.",
    "",
    "explain tells, per container (default: every running one) and port, the service it becomes and",
    "where its address comes from, or why it is not registered and what to change; then whether the",
    "registry holds it as it should. It reads the engine and the registry and writes nothing. Give it",
    "the daemon's options. Exit 0: all in step; 1: something is not; 2: bad arguments.",
    "  --json                       print one JSON document instead of text",
    "",
    "Registry URIs:",
    ...URI_EXAMPLES.map((example) => `  ${example}`),
    "",
    "Options (one or two dashes; -flag value or -flag=value):",
    ...lines,
    "",
    "Engine: DOCKER_HOST (unix:// or tcp://, with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH);",
    "unset: /tmp/docker.sock when it exists, else /var/run/docker.sock.",
    "",
  ].join("\n");
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
  validate(options);
  return options;
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
