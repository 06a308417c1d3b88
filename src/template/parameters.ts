/** Go's rules for passing a value to a function's parameter: assignability, and the zero value nil stands for. */
import type { GoParam } from "./functions.js";
import { goType, kindOf, typed } from "./values.js";

export const canBeNil = (type: GoParam) => !["string", "int", "bool", "float64"].includes(type);

export function zeroValue(type: GoParam): unknown {
  switch (type) {
    case "[]string":
      return typed([], { name: type });
    case "map[string]string":
      return typed({}, { name: type, zero: "" });
    case "[]uint8":
      return new Uint8Array();
    case "interface {}":
      return null;
  }
  return undefined;
}

/** Go's assignability for the parameter types functions use; a plain JS array or object counts if its elements fit. */
export function assignable(value: unknown, type: GoParam): boolean {
  const declared = typeof value === "object" && value !== null ? goType(value)?.name : undefined;
  switch (type) {
    case "string":
      return typeof value === "string";
    case "bool":
      return typeof value === "boolean";
    case "int":
      return kindOf(value) === "int";
    case "float64":
      return kindOf(value) === "float";
    case "[]uint8":
      return value instanceof Uint8Array;
    case "[]string":
      return Array.isArray(value) && (declared ? declared === type : value.every((e) => typeof e === "string"));
    case "map[string]string":
      if (kindOf(value) !== "map") return false;
      return declared ? declared === type : Object.values(value as object).every((e) => typeof e === "string");
  }
  return true;
}
