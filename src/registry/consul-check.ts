/**
 * Service → the body of Consul's `PUT /v1/agent/service/register`, health check included.
 * Pure: every rule here is a unit test. Values Consul would refuse are caught here, so a bad
 * `SERVICE_CHECK_INTERVAL` is logged as that service's reason instead of costing a round trip.
 */
import { isIP } from "node:net";
import { hostPort } from "../address.js";
import type { Service } from "../service/types.js";
import { OWNER_FIELD_NAMES, ownerAsFields, ownerFieldDropped } from "./owner.js";
import type { Owner } from "./types.js";

/** The check fields of Consul's agent API, under the names its Go client sends. */
export interface ConsulCheck {
  HTTP?: string;
  Method?: string;
  Header?: Record<string, string[]>;
  TLSSkipVerify?: boolean;
  TCP?: string;
  GRPC?: string;
  GRPCUseTLS?: boolean;
  ScriptArgs?: string[];
  DockerContainerID?: string;
  Shell?: string;
  TTL?: string;
  Interval?: string;
  Timeout?: string;
  Status?: string;
  Notes?: string;
  DeregisterCriticalServiceAfter?: string;
  FailuresBeforeCritical?: number;
  SuccessBeforePassing?: number;
}

export interface ConsulRegistration {
  ID: string;
  Name: string;
  Address: string;
  Port: number;
  Tags: string[];
  Meta: Record<string, string>;
  Check?: ConsulCheck;
  /** SERVICE_ENABLE_TAG_OVERRIDE=true (fayrus v9): tags changed through Consul's API are kept. */
  EnableTagOverride?: boolean;
}

export type RegistrationResult = { ok: true; registration: ConsulRegistration } | { ok: false; reason: string };

export const DEFAULT_INTERVAL = "10s";
/** The TTL of a check that mirrors Docker's health; registrator renews it well within that. */
export const DOCKER_HEALTH_TTL_SECONDS = 30;
export const DEFAULT_DOCKER_SHELL = "/bin/sh";
/** Attrs that set a registration field rather than Meta. */
const DIRECTIVES: readonly string[] = ["enable_tag_override"];

/** The attrs that configure the check; they are not sent as Meta. */
export const CHECK_KEYS: readonly string[] = [
  "check_http",
  "check_https",
  "check_cmd",
  "check_script",
  "check_docker",
  "check_docker_health",
  "check_ttl",
  "check_tcp",
  "check_grpc",
  "check_interval",
  "check_timeout",
  "check_http_method",
  "check_https_method",
  "check_header",
  "check_tls_skip_verify",
  "check_grpc_use_tls",
  "check_docker_shell",
  "check_initial_status",
  "check_deregister_after",
  "check_notes",
  "check_failures_before_critical",
  "check_success_before_passing",
];

// Consul's own limits (structs.ValidateMetadata), so a refusal is known before the request.
const META_MAX_PAIRS = 64;
const META_KEY_MAX = 128;
const META_VALUE_MAX = 512;
const META_KEY_FORMAT = /^[A-Za-z0-9_-]+$/;
const META_RESERVED_PREFIX = "consul-";

const STATUSES = ["passing", "warning", "critical"];
const GO_DURATION = /^[+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/;
const HTTP_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const GO_TRUE = ["1", "t", "T", "TRUE", "true", "True"];
const GO_FALSE = ["0", "f", "F", "FALSE", "false", "False"];
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
// `@` would turn the service's address into userinfo and `\` is a slash to WHATWG parsers but not to
// Go's; the URL parser silently drops tabs and newlines, so they must be refused before it sees them.
const UNSAFE_IN_CHECK_PATH = /[@\\\u0000-\u001f\u007f-\u009f]/;

class Invalid extends Error {}

/** The registration for this service, with its owner in Meta, or why Consul would refuse it. */
export function consulRegistration(service: Service, owner?: Owner): RegistrationResult {
  try {
    const { meta } = serviceMeta(service.attrs);
    if (owner) Object.assign(meta, ownerAsFields(owner));
    const check = buildCheck(service);
    const registration: ConsulRegistration = {
      ID: service.id,
      Name: service.name,
      Address: service.ip,
      Port: service.port,
      Tags: service.tags,
      Meta: meta,
    };
    if (check) registration.Check = check;
    if (service.attrs.enable_tag_override?.toLowerCase() === "true") registration.EnableTagOverride = true;
    return { ok: true, registration };
  } catch (err) {
    if (err instanceof Invalid) return { ok: false, reason: err.message };
    throw err;
  }
}

/** Why Consul would refuse this service's metadata, or undefined. */
export function consulProblem(service: Service): string | undefined {
  const result = consulRegistration(service);
  return result.ok ? undefined : result.reason;
}

/**
 * Every attr that does not configure the check and that Consul's Meta rules allow; each one left out is
 * in `dropped` with why. A bad attribute never costs the service its registration.
 */
export function serviceMeta(attrs: Readonly<Record<string, string>>): { meta: Record<string, string>; dropped: string[] } {
  const meta: Record<string, string> = {};
  const dropped: string[] = [];
  let count = 0;
  for (const [key, value] of Object.entries(attrs)) {
    if (CHECK_KEYS.includes(key) || DIRECTIVES.includes(key)) continue;
    if (OWNER_FIELD_NAMES.includes(key)) {
      dropped.push(ownerFieldDropped(key));
      continue;
    }
    const problem =
      metaPairProblem(key, value) ??
      (count === META_MAX_PAIRS - OWNER_FIELD_NAMES.length
        ? `Consul allows at most ${META_MAX_PAIRS} pairs in service Meta, ${OWNER_FIELD_NAMES.length} of them registrator's owner marker`
        : undefined);
    if (problem) {
      dropped.push(`metadata ${key} dropped: ${problem} (Consul's rule for service Meta)`);
      continue;
    }
    meta[key] = value;
    count++;
  }
  return { meta, dropped };
}

/** What Consul's Meta cannot hold of this service's attributes, each with why. */
export function consulDropped(service: Service): string[] {
  return serviceMeta(service.attrs).dropped;
}

function metaPairProblem(key: string, value: string): string | undefined {
  if (!META_KEY_FORMAT.test(key)) return "key may only contain letters, digits, _ and -";
  if (key.length > META_KEY_MAX) return `key is longer than ${META_KEY_MAX} characters`;
  if (key.toLowerCase().startsWith(META_RESERVED_PREFIX)) return `key prefix ${META_RESERVED_PREFIX} is reserved by Consul`;
  if (Buffer.byteLength(value, "utf8") > META_VALUE_MAX) return `value is longer than ${META_VALUE_MAX} bytes`;
  return undefined;
}

/** The check from attrs, first kind set wins; undefined when no check is asked for. */
export function buildCheck(service: Service): ConsulCheck | undefined {
  const attrs = service.attrs;
  // Settings are validated even without a check kind: a typo in the kind must not hide a bad value.
  const common = commonFields(attrs);
  const kind = checkKind(service);
  if (!kind) return undefined;
  const check: ConsulCheck = { ...kind.fields };
  if (kind.interval) check.Interval = duration(attrs, "check_interval") ?? DEFAULT_INTERVAL;
  if (kind.timeout) setIf(check, "Timeout", duration(attrs, "check_timeout"));
  return { ...check, ...common };
}

interface Kind {
  fields: ConsulCheck;
  interval: boolean;
  timeout: boolean;
}

function checkKind(service: Service): Kind | undefined {
  const attrs = service.attrs;
  if (mirrorsDockerHealth(service)) {
    // A TTL check that registrator itself keeps passing or critical from Docker's own health check.
    return { fields: { TTL: `${DOCKER_HEALTH_TTL_SECONDS}s` }, interval: false, timeout: false };
  }
  if (attrs.check_http) {
    const url = checkUrl("http", service, "check_http", attrs.check_http);
    return { fields: httpFields(attrs, url, attrs.check_http_method), interval: true, timeout: true };
  }
  if (attrs.check_https) {
    // As v7: an https check takes its own method only; SERVICE_CHECK_HTTP_METHOD is for http.
    const method = attrs.check_https_method;
    const fields = httpFields(attrs, checkUrl("https", service, "check_https", attrs.check_https), method);
    setIf(fields, "TLSSkipVerify", bool(attrs, "check_tls_skip_verify"));
    return { fields, interval: true, timeout: true };
  }
  if (attrs.check_cmd) {
    const { containerId, exposedPort } = service.origin;
    return {
      fields: { ScriptArgs: ["check-cmd", containerId.slice(0, 12), exposedPort, attrs.check_cmd] },
      interval: true,
      timeout: false,
    };
  }
  if (attrs.check_script) {
    // Through a shell: the documented examples use pipes (`nc $SERVICE_IP $SERVICE_PORT | grep OK`).
    return { fields: { ScriptArgs: ["/bin/sh", "-c", interpolate(attrs.check_script, service)] }, interval: true, timeout: false };
  }
  if (attrs.check_docker) {
    const shell = attrs.check_docker_shell ?? DEFAULT_DOCKER_SHELL;
    // Consul ignores Shell once Args are given, so the shell is also the first argument.
    const fields = { DockerContainerID: service.origin.containerId, Shell: shell, ScriptArgs: [shell, "-c", attrs.check_docker] };
    return { fields, interval: true, timeout: false };
  }
  if (attrs.check_ttl) {
    return { fields: { TTL: duration(attrs, "check_ttl") }, interval: false, timeout: false };
  }
  if (attrs.check_tcp) return { fields: { TCP: ownAddress(service) }, interval: true, timeout: true };
  if (attrs.check_grpc) {
    const fields: ConsulCheck = { GRPC: ownAddress(service) };
    const useTls = bool(attrs, "check_grpc_use_tls");
    setIf(fields, "GRPCUseTLS", useTls);
    if (useTls) setIf(fields, "TLSSkipVerify", bool(attrs, "check_tls_skip_verify"));
    return { fields, interval: true, timeout: true };
  }
  return undefined;
}

/**
 * `ip:port` of the service itself: the only place the agent is asked to probe. The address may come
 * from a container label (-useIpFromLabel), so it must be a bare IP or host name, nothing a URL
 * parser could read as userinfo, a second port or a path.
 */
export function ownAddress(service: Pick<Service, "ip" | "port">): string {
  const { ip, port } = service;
  if (isIP(ip) === 0 && !HOST_NAME.test(ip)) {
    throw new Invalid(`address ${JSON.stringify(ip)} is neither an IP address nor a host name, so no check can target it`);
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new Invalid(`port ${port} is not a port number, so no check can target it`);
  return hostPort(ip, port);
}

/**
 * The URL of an http or https check: the service's own address and the given path, parsed as WHATWG
 * URL and refused unless it still points at that address. Without this, `SERVICE_CHECK_HTTP=@169.254.169.254/…`
 * became `http://<ip>:<port>@169.254.169.254/…` and the agent probed the cloud metadata service.
 */
export function checkUrl(scheme: "http" | "https", service: Pick<Service, "ip" | "port">, key: string, path: string): string {
  const refuse = (why: string) => new Invalid(`${key}=${JSON.stringify(path)}: ${why}; the check must probe the service's own address`);
  if (!path.startsWith("/")) throw refuse("the path must start with /");
  if (UNSAFE_IN_CHECK_PATH.test(path)) throw refuse("the path must not contain @, \\ or control characters");
  const origin = `${scheme}://${ownAddress(service)}`;
  let url: URL;
  let own: URL;
  try {
    url = new URL(`${origin}${path}`);
    own = new URL(origin);
  } catch {
    throw refuse("not a valid URL");
  }
  if (url.hostname !== own.hostname || url.port !== own.port || url.username !== "" || url.password !== "") {
    throw refuse(`it would probe ${url.host}`);
  }
  // The port stays written out, as in the documented `<ip>:<port><path>`; a fragment is never sent.
  return `${origin}${url.pathname}${url.search}`;
}

/** SERVICE_CHECK_DOCKER_HEALTH=true: the service's check follows the container's Docker HEALTHCHECK. */
export function mirrorsDockerHealth(service: Service): boolean {
  try {
    return bool(service.attrs, "check_docker_health") === true;
  } catch {
    return false;
  }
}

/** Docker's health status → the status of the mirroring TTL check. */
export function consulStatus(dockerStatus: string): "passing" | "critical" {
  return dockerStatus === "healthy" ? "passing" : "critical";
}

function httpFields(attrs: Readonly<Record<string, string>>, url: string, method: string | undefined): ConsulCheck {
  const fields: ConsulCheck = { HTTP: url };
  if (method !== undefined) {
    if (!HTTP_TOKEN.test(method)) throw new Invalid(`check method ${JSON.stringify(method)} is not an HTTP method`);
    fields.Method = method;
  }
  setIf(fields, "Header", headers(attrs.check_header));
  return fields;
}

/** The settings every kind of check takes. */
function commonFields(attrs: Readonly<Record<string, string>>): ConsulCheck {
  const fields: ConsulCheck = {};
  // Parsed here so that a bad value is reported whichever kind is chosen.
  for (const key of ["check_interval", "check_timeout", "check_ttl"]) duration(attrs, key);
  for (const key of ["check_tls_skip_verify", "check_grpc_use_tls"]) bool(attrs, key);
  headers(attrs.check_header);
  const status = attrs.check_initial_status;
  if (status !== undefined) {
    if (!STATUSES.includes(status)) {
      throw new Invalid(`check_initial_status=${status}: must be one of ${STATUSES.join(", ")}`);
    }
    fields.Status = status;
  }
  setIf(fields, "Notes", attrs.check_notes);
  setIf(fields, "DeregisterCriticalServiceAfter", duration(attrs, "check_deregister_after"));
  setIf(fields, "FailuresBeforeCritical", count(attrs, "check_failures_before_critical"));
  setIf(fields, "SuccessBeforePassing", count(attrs, "check_success_before_passing"));
  return fields;
}

/** `$SERVICE_IP` and `$SERVICE_PORT` replaced, as upstream registrator does for script checks. */
export function interpolate(script: string, service: Pick<Service, "ip" | "port">): string {
  return script.replaceAll("$SERVICE_IP", service.ip).replaceAll("$SERVICE_PORT", String(service.port));
}

/** A positive Go duration (`10s`, `1m30s`, `500ms`), the only form Consul parses. */
export function isPositiveDuration(text: string): boolean {
  return GO_DURATION.test(text) && /[1-9]/.test(text.replace(/[a-zµμ]+/g, ""));
}

function duration(attrs: Readonly<Record<string, string>>, key: string): string | undefined {
  const value = attrs[key];
  if (value === undefined) return undefined;
  if (!isPositiveDuration(value)) {
    throw new Invalid(`${key}=${value}: not a positive duration (use e.g. 10s, 1m30s, 500ms)`);
  }
  return value;
}

function bool(attrs: Readonly<Record<string, string>>, key: string): boolean | undefined {
  const value = attrs[key];
  if (value === undefined) return undefined;
  if (GO_TRUE.includes(value)) return true;
  if (GO_FALSE.includes(value)) return false;
  throw new Invalid(`${key}=${value}: not a boolean (use true or false)`);
}

function count(attrs: Readonly<Record<string, string>>, key: string): number | undefined {
  const value = attrs[key];
  if (value === undefined) return undefined;
  if (!/^\d{1,9}$/.test(value)) throw new Invalid(`${key}=${value}: not a whole number`);
  return Number(value);
}

/** `{"X-Token":["a"],"Accept":"text/plain"}`: Consul wants lists, a lone string is taken as a list of one. */
function headers(text: string | undefined): Record<string, string[]> | undefined {
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Invalid(`check_header is not JSON: use e.g. {"X-Token":["secret"]}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Invalid(`check_header must be a JSON object of header lists, e.g. {"X-Token":["secret"]}`);
  }
  const result: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(parsed)) {
    const list: unknown[] = Array.isArray(values) ? values : [values];
    if (!HTTP_TOKEN.test(name) || !list.every((v) => typeof v === "string")) {
      throw new Invalid(`check_header ${JSON.stringify(name)}: expected a header name with a list of strings`);
    }
    result[name] = list as string[];
  }
  return result;
}

function setIf<K extends keyof ConsulCheck>(target: ConsulCheck, key: K, value: ConsulCheck[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}

/**
 * Consul's answer to a write, as a refusal reason when resending would only be refused again:
 * a validation error (400), an ACL denial (403), or an agent that does not run script checks.
 * Other failures (5xx, no leader) may pass and are retried.
 */
export function consulRefusal(status: number, body: string): string | undefined {
  const words = body.trim() || `HTTP ${status}`;
  if (status === 400 || status === 403) return `Consul refused it (HTTP ${status}): ${words}`;
  if (status === 500 && /scripts are disabled/i.test(body)) return `Consul refused it (HTTP ${status}): ${words}`;
  return undefined;
}
