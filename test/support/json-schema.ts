/**
 * The subset of JSON Schema (draft 2020-12) that docs/status.schema.json uses, checked: type,
 * required, properties, additionalProperties, items, enum, minimum and the date-time format.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

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

/** The schema of `/status`, as users read it in docs/. */
export const STATUS_SCHEMA = JSON.parse(readFileSync(join(__dirname, "../../../docs/status.schema.json"), "utf8")) as Schema & {
  $schema: string;
  title: string;
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
