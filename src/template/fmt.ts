/** Go's fmt over Go values (see template-values.ts): what a template prints and what printf makes. */
import { exponentDigits, fixedDigits, goExponent } from "./decimal.js";
import { goQuote } from "./lex.js";
import { LimitExceeded } from "./limits.js";
import { kindOf, sortedKeys, toNumber, typeName } from "./values.js";

export interface Flags {
  plus?: boolean;
  minus?: boolean;
  sharp?: boolean;
  space?: boolean;
  zero?: boolean;
  /** %+v: field names in structs, and no sign on numbers (the + belongs to the v). */
  plusV?: boolean;
  width?: number;
  precision?: number;
}
const NONE: Flags = {};

/** fmt.Sprint: a space between operands when neither is a string. */
export function sprint(args: readonly unknown[]): string {
  const spaced = (i: number) => i > 0 && typeof args[i] !== "string" && typeof args[i - 1] !== "string";
  return args.map((a, i) => (spaced(i) ? " " : "") + printArg(a, "v", NONE)).join("");
}

export function sprintln(args: readonly unknown[]): string {
  return `${args.map((a) => printArg(a, "v", NONE)).join(" ")}\n`;
}

/** fmt.Sprintf; past `limit` characters of output it stops with LimitExceeded, before padding that would cross it. */
export function sprintf(format: string, args: readonly unknown[], limit = Infinity): string {
  let out = "";
  let argNum = 0;
  let i = 0;
  const intArg = (): number | undefined => {
    const a = args[argNum++];
    return kindOf(a) === "int" && !tooLarge(a as number) ? (a as number) : undefined;
  };
  const within = (size: number) => {
    if (size > limit) throw new LimitExceeded(`printf output over ${limit} characters, the most a value may hold`);
  };
  while (i < format.length) {
    const percent = format.indexOf("%", i);
    if (percent < 0) return out + format.slice(i) + extra(args.slice(argNum));
    out += format.slice(i, percent);
    const flags: Flags = {};
    for (i = percent + 1; "+-# 0".includes(format[i] ?? "x"); i++) setFlag(flags, format[i]!);
    if (format[i] === "*") {
      i++;
      const width = intArg();
      if (width === undefined) out += "%!(BADWIDTH)";
      else [flags.width, flags.minus, flags.zero] = [Math.abs(width), flags.minus || width < 0, flags.zero && width >= 0];
    } else i = readNumber(format, i, (n) => (flags.width = n));
    if (format[i] === "." && i + 1 < format.length) {
      if (format[++i] === "*") {
        i++;
        const precision = intArg();
        if (precision === undefined || precision < 0) out += "%!(BADPREC)";
        else flags.precision = precision;
      } else i = readNumber(format, i, (n) => (flags.precision = n), 0);
    }
    if (i >= format.length) return `${out}%!(NOVERB)${extra(args.slice(argNum))}`;
    const verb = String.fromCodePoint(format.codePointAt(i)!);
    i += verb.length;
    // A precision pads a number with digits, but only shortens a string.
    const text = typeof args[argNum] === "string" || args[argNum] instanceof Uint8Array;
    within(out.length + Math.max(flags.width ?? 0, text ? 0 : (flags.precision ?? 0)));
    if (verb === "%") out += "%";
    else if (argNum >= args.length) out += `%!${verb}(MISSING)`;
    else out += printArg(args[argNum++], verb, flags);
    within(out.length);
  }
  return out + extra(args.slice(argNum));
}

function setFlag(flags: Flags, c: string): void {
  if (c === "+") flags.plus = true;
  else if (c === "-") [flags.minus, flags.zero] = [true, false];
  else if (c === "#") flags.sharp = true;
  else if (c === " ") flags.space = true;
  else flags.zero = !flags.minus;
}

/** fmt's limit on a width or precision, from an argument or (as a digit is about to be added) from the format. */
const tooLarge = (n: number) => n > 1e6 || n < -1e6;

/**
 * fmt's parsenum: a number too large to be a width or precision ends the format there, so that Go prints
 * `%!(NOVERB)` where v7.4 met `%0200000000d`.
 */
function readNumber(format: string, i: number, set: (n: number) => void, fallback?: number): number {
  let n = 0;
  let end = i;
  for (; end < format.length && format[end]! >= "0" && format[end]! <= "9"; end++) {
    if (tooLarge(n)) return format.length;
    n = n * 10 + Number(format[end]);
  }
  if (end > i) set(n);
  else if (fallback !== undefined) set(fallback);
  return end;
}

function extra(args: readonly unknown[]): string {
  if (args.length === 0) return "";
  const shown = args.map((a) => (a === null || a === undefined ? "<nil>" : `${typeName(a)}=${printArg(a, "v", NONE)}`));
  return `%!(EXTRA ${shown.join(", ")})`;
}

/** One operand of Sprint or Sprintf. */
export function printArg(arg: unknown, verb: string, flags: Flags): string {
  if (arg === null || arg === undefined) return verb === "T" || verb === "v" ? pad("<nil>", flags) : badVerb(verb, arg, flags);
  if (verb === "T") return pad(typeName(arg), flags);
  return printValue(arg, verb, verb === "v" && flags.plus ? { ...flags, plus: false, plusV: true } : flags, 0);
}

/** What a template action prints: fmt's %v, except that a pointer prints what it points to. */
export function printForTemplate(v: unknown): string {
  if (v === undefined) return "<no value>";
  return kindOf(v) === "struct" ? printStruct(v as Record<string, unknown>, "v", NONE, 0, true) : printArg(v, "v", NONE);
}

function printValue(v: unknown, verb: string, flags: Flags, depth: number): string {
  const kind = kindOf(v);
  switch (kind) {
    case "invalid":
    case "nil":
      return "<nil>";
    case "bool":
      return verb === "t" || verb === "v" ? pad(String(v), flags) : badVerb(verb, v, flags);
    case "int":
      return formatInteger(v as number, verb, flags) ?? badVerb(verb, v, flags);
    case "float":
      return formatFloat(toNumber(v), verb, flags) ?? badVerb(verb, v, flags);
    case "string":
      return formatString(v as string, verb, flags) ?? badVerb(verb, v, flags);
    case "time":
      return formatString(String(v), verb, flags) ?? badVerb(verb, v, flags);
    case "bytes":
      return formatBytes(v as Uint8Array, verb, flags, depth);
    case "slice":
      return `[${(v as unknown[]).map((e) => printValue(e, verb, flags, depth + 1)).join(" ")}]`;
    case "map": {
      const m = v as Record<string, unknown>;
      const entries = sortedKeys(m).map((k) => `${printValue(k, verb, flags, depth + 1)}:${printValue(m[k], verb, flags, depth + 1)}`);
      return `map[${entries.join(" ")}]`;
    }
    case "struct":
      return printStruct(v as Record<string, unknown>, verb, flags, depth);
    case "ptr":
      return verb === "v" ? pad("<nil>", flags) : badVerb(verb, v, flags);
    case "func":
      return verb === "v" ? pad("0x0", flags) : badVerb(verb, v, flags);
  }
}

/** `{a b}`, `{Name:a Port:b}` with %+v; a pointer to a struct is `&{…}` on top and an address inside another value. */
function printStruct(v: Record<string, unknown>, verb: string, flags: Flags, depth: number, deref = false): string {
  const pointer = typeName(v).startsWith("*") && !deref;
  // Go prints a nested pointer's address, which varies from run to run; any address is as faithful as another.
  if (pointer && depth > 0) return pad("0xc000010000", flags);
  const fields = Object.keys(v).map((k) => (flags.plusV ? `${k}:` : "") + printValue(v[k], verb, flags, depth + 1));
  return `${pointer ? "&" : ""}{${fields.join(" ")}}`;
}

function badVerb(verb: string, v: unknown, flags: Flags): string {
  if (v === null || v === undefined) return `%!${verb}(<nil>)`;
  return `%!${verb}(${typeName(v)}=${printValue(v, "v", flags, 0)})`;
}

/** Pads to the width in characters, with zeros where the 0 flag asks (Go 1.19 zero-pads strings too). */
function pad(s: string, flags: Flags): string {
  const missing = (flags.width ?? 0) - [...s].length;
  if (missing <= 0) return s;
  return flags.minus ? s + " ".repeat(missing) : (flags.zero ? "0" : " ").repeat(missing) + s;
}

const sign = (negative: boolean, flags: Flags) => (negative ? "-" : flags.plus ? "+" : flags.space ? " " : "");

function formatInteger(n: number, verb: string, flags: Flags): string | undefined {
  const abs = Math.abs(n);
  switch (verb) {
    case "c":
      return pad(String.fromCodePoint(abs), flags);
    case "q":
      return pad(`'${goQuote(String.fromCodePoint(abs)).slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'")}'`, flags);
    case "U":
      return pad(`U+${abs.toString(16).toUpperCase().padStart(4, "0")}`, flags);
  }
  const radix = { v: 10, d: 10, b: 2, o: 8, O: 8, x: 16, X: 16 }[verb];
  if (radix === undefined) return undefined;
  let digits = abs.toString(radix);
  if (verb === "X") digits = digits.toUpperCase();
  const prefix = verb === "O" ? "0o" : flags.sharp ? ({ b: "0b", o: "0", x: "0x", X: "0X" }[verb] ?? "") : "";
  const s = sign(n < 0, flags);
  if (flags.precision !== undefined) digits = flags.precision === 0 && n === 0 ? "" : digits.padStart(flags.precision, "0");
  else if (flags.zero && flags.width !== undefined && !flags.minus) digits = digits.padStart(flags.width - s.length, "0");
  return pad(s + prefix + digits, flags);
}

/** strconv's float formats: %v is the shortest %g, with an exponent from 1e+06 up and below 1e-04. */
function formatFloat(x: number, verb: string, flags: Flags): string | undefined {
  if (!"vgGeEfF".includes(verb)) return undefined;
  // Infinities and NaN are never zero-padded.
  if (!Number.isFinite(x)) {
    return pad(Number.isNaN(x) ? "NaN" : x > 0 ? (flags.space ? " Inf" : "+Inf") : "-Inf", { ...flags, zero: false });
  }
  const negative = x < 0 || Object.is(x, -0);
  const abs = Math.abs(x);
  let body: string;
  if (verb === "f" || verb === "F") body = fixedDigits(abs, flags.precision ?? 6);
  else if (verb === "e" || verb === "E") body = exponentDigits(abs, flags.precision ?? 6);
  else body = formatG(abs, verb === "v" ? undefined : flags.precision);
  if (verb === "E" || verb === "G") body = body.toUpperCase();
  const s = sign(negative, flags);
  if (flags.zero && flags.width !== undefined && !flags.minus) body = body.padStart(flags.width - s.length, "0");
  return pad(s + body, flags);
}

/** %g: the shortest digits, or `precision` significant ones, in %e form when the exponent is < -4 or ≥ the precision. */
function formatG(abs: number, precision: number | undefined): string {
  const exp = precision === undefined ? abs.toExponential() : exponentDigits(abs, Math.max(precision, 1) - 1);
  const [mantissa, e] = exp.split("e") as [string, string];
  const digits = mantissa.replace(".", "").replace(/(?<=.)0+$/, "");
  const exponent = Number(e);
  let limit = precision === undefined ? 6 : Math.max(precision, 1);
  if (precision !== undefined && limit > digits.length && digits.length >= exponent + 1) limit = digits.length;
  if (exponent < -4 || exponent >= limit) {
    return `${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ""}${goExponent(exponent)}`;
  }
  if (exponent < 0) return `0.${"0".repeat(-exponent - 1)}${digits}`;
  const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, "0");
  const fraction = digits.slice(exponent + 1);
  return fraction ? `${whole}.${fraction}` : whole;
}

function formatString(s: string, verb: string, flags: Flags): string | undefined {
  const text = flags.precision === undefined ? s : [...s].slice(0, flags.precision).join("");
  switch (verb) {
    case "v":
    case "s":
      return pad(text, flags);
    case "q":
      return pad(flags.sharp && !/[`\p{Cc}]/u.test(text) ? `\`${text}\`` : goQuote(text), flags);
    case "x":
    case "X":
      return pad(hexBytes(Buffer.from(text), verb, flags), flags);
  }
  return undefined;
}

function formatBytes(b: Uint8Array, verb: string, flags: Flags, depth: number): string {
  if ("sqxX".includes(verb)) return formatString(Buffer.from(b).toString("utf8"), verb, flags)!;
  return `[${[...b].map((n) => printValue(n, verb, flags, depth + 1)).join(" ")}]`;
}

function hexBytes(bytes: Uint8Array, verb: string, flags: Flags): string {
  const parts = [...bytes].map((n) => n.toString(16).padStart(2, "0"));
  const prefix = flags.sharp ? "0x" : "";
  const s = flags.space ? parts.map((p) => prefix + p).join(" ") : prefix + parts.join("");
  return verb === "X" ? s.toUpperCase() : s;
}
