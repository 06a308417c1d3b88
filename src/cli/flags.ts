/** The command line's flags, their defaults and the usage text built from them. */
import { LOG_LEVELS } from "../log.js";
import { URI_EXAMPLES } from "../registry/index.js";

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

export const DEFAULTS: Readonly<Record<string, string>> = {
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
