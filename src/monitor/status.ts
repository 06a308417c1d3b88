/**
 * `GET /status`: the bridge's snapshot as JSON, with its schema, and with secrets taken out of every
 * string (reasons quote error messages, which may quote a URI or a request). Pure.
 */
import type { BridgeSnapshot } from "../bridge/snapshot.js";
import { redactedUri } from "../registry/uri.js";

/** A subset of JSON Schema (draft 2020-12): type, required, properties, additionalProperties, items, enum, minimum. */
export interface Schema {
  type: "object" | "array" | "string" | "integer" | "boolean";
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: false;
  items?: Schema;
  enum?: string[];
  minimum?: number;
  format?: "date-time";
}

const text: Schema = { type: "string" };
const count: Schema = { type: "integer", minimum: 0 };
const time: Schema = { type: "string", format: "date-time" };

const service: Schema = {
  type: "object",
  additionalProperties: false,
  required: ["id", "name", "ip", "port", "tags", "state"],
  properties: {
    id: text,
    name: text,
    ip: text,
    port: count,
    tags: { type: "array", items: text },
    state: { type: "string", enum: ["registered", "pending", "refused", "owned-elsewhere"] },
    reason: text,
    owner: text,
    nextAttemptAt: time,
  },
};

const container: Schema = {
  type: "object",
  additionalProperties: false,
  required: ["id", "name", "services", "ignored"],
  properties: {
    id: text,
    name: text,
    services: { type: "array", items: service },
    ignored: {
      type: "array",
      items: { type: "object", additionalProperties: false, required: ["reason"], properties: { port: text, reason: text } },
    },
  },
};

/** The schema of `/status`, as docs/ or a client may take it: `GET /status` answers one BridgeSnapshot. */
export const STATUS_SCHEMA: Schema & { $schema: string; title: string } = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  title: "registrator /status",
  type: "object",
  additionalProperties: false,
  required: ["hostId", "registry", "counts", "containers"],
  properties: {
    hostId: text,
    registry: {
      type: "object",
      additionalProperties: false,
      required: ["backend", "up"],
      properties: { backend: text, up: { type: "boolean" } },
    },
    lastSync: time,
    counts: {
      type: "object",
      additionalProperties: false,
      required: ["containers", "registered", "pending", "refused", "ownedElsewhere", "ignored"],
      properties: { containers: count, registered: count, pending: count, refused: count, ownedElsewhere: count, ignored: count },
    },
    containers: { type: "array", items: container },
  },
};

/** Where `value` breaks `schema`, one line per problem (`$.containers[0].name: expected string`); empty when it fits. */
export function schemaProblems(value: unknown, schema: Schema = STATUS_SCHEMA, path = "$"): string[] {
  const typeProblem = wrongType(value, schema);
  if (typeProblem) return [`${path}: ${typeProblem}`];
  if (schema.enum && !schema.enum.includes(value as string))
    return [`${path}: ${JSON.stringify(value)} is not one of ${schema.enum.join(", ")}`];
  if (schema.minimum !== undefined && (value as number) < schema.minimum) return [`${path}: less than ${schema.minimum}`];
  if (schema.format === "date-time" && Number.isNaN(Date.parse(value as string))) return [`${path}: not a date-time`];
  if (schema.type === "array") return (value as unknown[]).flatMap((item, i) => schemaProblems(item, schema.items!, `${path}[${i}]`));
  if (schema.type !== "object") return [];
  const object = value as Record<string, unknown>;
  const problems = (schema.required ?? []).filter((key) => !(key in object)).map((key) => `${path}.${key}: missing`);
  for (const [key, item] of Object.entries(object)) {
    const inner = schema.properties?.[key];
    if (inner) problems.push(...schemaProblems(item, inner, `${path}.${key}`));
    else if (schema.additionalProperties === false) problems.push(`${path}.${key}: not expected`);
  }
  return problems;
}

function wrongType(value: unknown, schema: Schema): string | undefined {
  const ok =
    schema.type === "array"
      ? Array.isArray(value)
      : schema.type === "object"
        ? typeof value === "object" && value !== null && !Array.isArray(value)
        : schema.type === "integer"
          ? Number.isInteger(value)
          : typeof value === schema.type;
  return ok ? undefined : `expected ${schema.type}`;
}

/** Userinfo in URIs, and the values of token-like query parameters and headers, replaced by `***`. */
export function redactText(value: string): string {
  return value
    .replace(/[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]*@[^\s"'<>]*/gi, (uri) => redactedUri(uri))
    .replace(/((?:token|password|secret|authorization)[\w-]*["']?\s*[=:]\s*["']?)[^\s"'&,;]+/gi, "$1***");
}

/** The snapshot with `redactText` applied to every string in it. */
export function redactSnapshot(snapshot: BridgeSnapshot): BridgeSnapshot {
  return JSON.parse(JSON.stringify(snapshot), (_key, value: unknown) =>
    typeof value === "string" ? redactText(value) : value,
  ) as BridgeSnapshot;
}
