/**
 * SkyDNS 2 records in etcd v3, the layout CoreDNS's etcd plugin reads:
 * `/skydns/<domain labels reversed>/<name>/<id>` = `{"host":"<ip>","port":<port>}`.
 *
 * Two URI forms share this file:
 * - `skydns2://host:port/<domain>` (gliderlabs registrator): the id is kept as given, `:` and `.` included.
 * - `coredns://host:port/<key prefix>?zone=<zone>` (fayrus/registrator v9): ids are made DNS-safe.
 *
 * The owner goes in the record itself (fields CoreDNS ignores), so no marker key sits in the tree.
 */
import { hostPort } from "../address.js";
import type { Service } from "../service/types.js";
import type { EtcdLayout } from "./etcd-client.js";
import { ownerAsFields, ownerInFields } from "./owner.js";
import { storedObject, storedService } from "./stored.js";
import { InvalidUriError, type Owner, type RegistryUri } from "./types.js";

/** Where records go and how ids become key segments. */
export interface SkyDnsLayout {
  /** `/skydns/local/skydns/staging`: every record sits two levels below it. */
  base: string;
  /** The DNS name that `base` stands for, for messages. */
  domain: string;
  ids: "keep" | "dns-safe";
}

/** The JSON value CoreDNS reads (host, port, ttl) plus the fields -cleanup needs and the owner; CoreDNS ignores the extra ones. */
export interface SkyDnsRecord {
  host: string;
  port: number;
  ttl?: number;
  service_id: string;
  service_name: string;
  registrator_host?: string;
  registrator_container?: string;
}

const MAX_LABEL_BYTES = 63;
const LABEL_CHARS = /^[A-Za-z0-9_-]+$/;
// The Go registrator's default id is `<hostname>:<container>:<port>`; `:` and `.` stay for compatibility.
const KEPT_ID_CHARS = /^[A-Za-z0-9_.:-]+$/;

/** The records as the etcd adapter writes them; a record names the service it belongs to. */
export function recordLayout(layout: SkyDnsLayout, ttl: number): EtcdLayout {
  return {
    prefix: `${layout.base}/`,
    key: (service) => recordKey(layout, service.name, service.id),
    value: (service, owner) => recordValue(service, ttl, owner),
    ownerIn: (value) => ownerInFields(parseRecord(value)),
    address: recordAddress,
    parse(key, value) {
      const record = parseRecord(value);
      // Records that other tools wrote, or that another layout would put elsewhere, are not ours to remove.
      if (!record || recordKey(layout, record.service_name, record.service_id) !== key) return undefined;
      return storedService(record.service_id, record.service_name, hostPort(record.host, record.port));
    },
    validate: (service) => serviceProblem(service, layout),
    holder: (value) => parseRecord(value)?.service_id,
    clash: (key, holder) => `DNS name ${dnsName(key, layout)} is already used by service ${holder}`,
  };
}

/** Reads the URI; throws InvalidUriError with a correct example when it cannot work. */
export function skydnsLayout(uri: RegistryUri): SkyDnsLayout {
  return uri.scheme === "coredns" ? corednsLayout(uri) : skydns2Layout(uri);
}

function skydns2Layout(uri: RegistryUri): SkyDnsLayout {
  const example = "skydns2://127.0.0.1:2379/skydns.local";
  const domain = uri.path.replace(/^\//, "");
  if (!domain) throw new InvalidUriError(`skydns2 URI needs a DNS domain as its path, e.g. ${example} (got ${uri.raw})`);
  const problem = domainProblem(domain);
  if (problem) throw new InvalidUriError(`skydns2 URI: ${problem}, e.g. ${example} (got ${uri.raw})`);
  return { base: `/skydns/${reversedLabels(domain)}`, domain: normalDomain(domain), ids: "keep" };
}

/** As fayrus/registrator does: the path is the key prefix (default /skydns), `zone` the DNS zone (default local). */
function corednsLayout(uri: RegistryUri): SkyDnsLayout {
  const example = "coredns://127.0.0.1:2379/skydns?zone=service.local";
  const prefix = uri.path || "/skydns";
  if (
    prefix
      .split("/")
      .slice(1)
      .some((segment) => segment === "" || segment === "." || segment === "..")
  ) {
    throw new InvalidUriError(
      `coredns URI: key prefix ${JSON.stringify(prefix)} has an empty, "." or ".." segment, e.g. ${example} (got ${uri.raw})`,
    );
  }
  const zone = uri.query.get("zone") || "local";
  const problem = domainProblem(zone);
  if (problem) throw new InvalidUriError(`coredns URI: zone: ${problem}, e.g. ${example} (got ${uri.raw})`);
  return { base: `${prefix}/${reversedLabels(zone)}`, domain: normalDomain(zone), ids: "dns-safe" };
}

function domainProblem(domain: string): string | undefined {
  if (domain.includes("/")) return `${JSON.stringify(domain)} is not one DNS domain`;
  for (const label of normalDomain(domain).split(".")) {
    const problem = labelProblem(label);
    if (problem) return `domain ${JSON.stringify(domain)}: label ${JSON.stringify(label)} ${problem}`;
  }
  return undefined;
}

/** Why `label` cannot be a DNS label (per the rules CoreDNS keys need), or undefined. */
export function labelProblem(label: string): string | undefined {
  if (label === "") return "is empty";
  if (Buffer.byteLength(label, "utf8") > MAX_LABEL_BYTES) return `is longer than ${MAX_LABEL_BYTES} bytes`;
  if (!LABEL_CHARS.test(label)) return `has characters other than letters, digits, "-" and "_"`;
  return undefined;
}

/** Why this service cannot become a record, or undefined. */
export function serviceProblem(service: Service, layout: SkyDnsLayout): string | undefined {
  const nameProblem = labelProblem(service.name);
  if (nameProblem) return `service name ${JSON.stringify(service.name)} is not a valid DNS label: it ${nameProblem}`;
  return layout.ids === "keep" ? keptIdProblem(service.id) : safeIdProblem(service.id);
}

function keptIdProblem(id: string): string | undefined {
  const hint = "set SERVICE_ID to a DNS label";
  if (!KEPT_ID_CHARS.test(id)) {
    return `service id ${JSON.stringify(id)} cannot be part of a DNS name: only letters, digits, "-", "_", ":" and "." are kept; ${hint}`;
  }
  const long = id.split(".").find((part) => part === "" || Buffer.byteLength(part) > MAX_LABEL_BYTES);
  if (long !== undefined) return `service id ${JSON.stringify(id)} has an empty or over-${MAX_LABEL_BYTES}-byte DNS label; ${hint}`;
  return undefined;
}

function safeIdProblem(id: string): string | undefined {
  const safe = dnsSafeId(id);
  if (safe === "") return `service id ${JSON.stringify(id)} has nothing left as a DNS label; set SERVICE_ID`;
  if (Buffer.byteLength(safe) > MAX_LABEL_BYTES) {
    return `service id ${JSON.stringify(id)} is longer than ${MAX_LABEL_BYTES} bytes as a DNS label (${safe}); set SERVICE_ID`;
  }
  return undefined;
}

/**
 * The id as fayrus/registrator's coredns backend writes it (`:` and `.` become `-`), lower-cased because
 * CoreDNS looks names up in lower case; any other character that cannot be in a label becomes `-` too.
 */
export function dnsSafeId(id: string): string {
  return id
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, "-")
    .replace(/^-+|-+$/g, "");
}

/** `/skydns/local/skydns/staging/redis/redis-1`: name and id lower-cased, since CoreDNS lower-cases queries. */
export function recordKey(layout: SkyDnsLayout, name: string, id: string): string {
  const idSegment = layout.ids === "keep" ? id.toLowerCase() : dnsSafeId(id);
  return `${layout.base}/${name.toLowerCase()}/${idSegment}`;
}

export function recordValue(service: Service, ttl: number, owner?: Owner): string {
  const record: SkyDnsRecord = {
    host: service.ip,
    port: service.port,
    ...(ttl > 0 ? { ttl } : {}),
    service_id: service.id,
    service_name: service.name,
    ...(owner ? ownerAsFields(owner) : {}),
  };
  return JSON.stringify(record);
}

/** `<host>:<port>` of any SkyDNS record, the Go registrator's (without service_id) included. */
function recordAddress(value: string): string | undefined {
  const { host, port } = storedObject(value) ?? {};
  return typeof host === "string" && typeof port === "number" ? hostPort(host, port) : undefined;
}

export function parseRecord(value: string): SkyDnsRecord | undefined {
  const record = storedObject(value) as Partial<SkyDnsRecord> | undefined;
  if (!record) return undefined;
  const valid =
    typeof record.service_id === "string" &&
    typeof record.service_name === "string" &&
    typeof record.host === "string" &&
    typeof record.port === "number";
  return valid ? (record as SkyDnsRecord) : undefined;
}

/** `staging.skydns.local` → `local/skydns/staging`. */
function reversedLabels(domain: string): string {
  return normalDomain(domain).split(".").reverse().join("/");
}

function normalDomain(domain: string): string {
  return domain.replace(/\.$/, "").toLowerCase();
}

/** The DNS name CoreDNS answers for a key: its segments below the prefix, reversed. */
function dnsName(key: string, layout: SkyDnsLayout): string {
  const [name, id] = key.slice(layout.base.length + 1).split("/");
  return `${id}.${name}.${layout.domain}`;
}
