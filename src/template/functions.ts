/**
 * The functions a tag template can call: text/template's builtins (Go 1.19) and registrator v7.4's function map.
 * A function throws a plain Error with Go's wording; the executor reports it as `error calling NAME: …`.
 */
import { isPrint } from "./lex.js";
import { printForTemplate, sprint, sprintf, sprintln } from "./fmt.js";
import { LimitExceeded, TEMPLATE_LIMITS, checkValueSize } from "./limits.js";
import { matcher } from "./regexp.js";
import { GoNil, compareStrings, goType, isTrue, kindOf, toNumber, typeName, typed } from "./values.js";

/** The Go type of a parameter: the executor converts and checks each argument against it as Go's reflection does. */
export type GoParam =
  "string" | "int" | "bool" | "float64" | "[]string" | "map[string]string" | "[]uint8" | "interface {}" | "reflect.Value";

export interface TemplateFunction {
  params: readonly GoParam[];
  /** The element type of a final `...T` parameter. */
  variadic?: GoParam;
  fn: (...args: never[]) => unknown;
}
export type TemplateFunctions = Readonly<Record<string, TemplateFunction>>;

const define = (params: GoParam[], fn: (...args: never[]) => unknown, variadic?: GoParam): TemplateFunction => ({ params, variadic, fn });

const VALUE: GoParam = "reflect.Value";
const ANY: GoParam = "interface {}";

/** A nil interface counts as no value at all, as reflect's indirectInterface makes it. */
const concrete = (v: unknown): unknown => (v === null ? undefined : v);
const isNil = (v: unknown) => v === undefined || v === null || v instanceof GoNil;
const fail = (message: string): never => {
  throw new Error(message);
};

export const BUILTINS: TemplateFunctions = {
  // and/or evaluate their arguments lazily, so the executor runs them itself.
  and: define([VALUE], () => fail("unreachable"), VALUE),
  or: define([VALUE], () => fail("unreachable"), VALUE),
  call: define([VALUE], callFunction, VALUE),
  html: define([], (...args: unknown[]) => escapeHTML(evalArgs(args)), ANY),
  index: define([VALUE], index, VALUE),
  slice: define([VALUE], slice, VALUE),
  js: define([], (...args: unknown[]) => escapeJS(evalArgs(args)), ANY),
  len: define([VALUE], length),
  not: define([VALUE], (arg: unknown) => !isTrue(arg)),
  print: define([], (...args: unknown[]) => sprint(args), ANY),
  printf: define(["string"], (format: string, ...args: unknown[]) => sprintf(format, args, TEMPLATE_LIMITS.valueChars), ANY),
  println: define([], (...args: unknown[]) => sprintln(args), ANY),
  urlquery: define([], (...args: unknown[]) => queryEscape(evalArgs(args)), ANY),
  eq: define([VALUE], eq, VALUE),
  ne: define([VALUE, VALUE], (a: unknown, b: unknown) => !eq(a, b)),
  lt: define([VALUE, VALUE], lt),
  le: define([VALUE, VALUE], le),
  gt: define([VALUE, VALUE], (a: unknown, b: unknown) => !le(a, b)),
  ge: define([VALUE, VALUE], (a: unknown, b: unknown) => !lt(a, b)),
};

function callFunction(fn: unknown, ...args: unknown[]): unknown {
  const f = concrete(fn);
  if (f === undefined) fail("call of nil");
  if (typeof f !== "function") fail(`non-function of type ${typeName(f)}`);
  return (f as (...a: unknown[]) => unknown)(...args.map(concrete));
}

/** html, js and urlquery print their arguments as a template would, then escape the text. */
function evalArgs(args: unknown[]): string {
  if (args.length === 1 && typeof args[0] === "string") return args[0];
  const strings = args.map((a) => typeof a === "string" || a === null || a === undefined);
  return args
    .map((a, i) => (i > 0 && !strings[i] && !strings[i - 1] ? " " : "") + (a === null ? "<no value>" : printForTemplate(a)))
    .join("");
}

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "'": "&#39;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "\0": "\uFFFD" };
const escapeHTML = (s: string) => s.replace(/[&'<>"\0]/g, (c) => HTML_ESCAPES[c]!);

const JS_ESCAPES: Record<string, string> = {
  "\\": "\\\\",
  "'": "\\'",
  '"': '\\"',
  "<": "\\u003C",
  ">": "\\u003E",
  "&": "\\u0026",
  "=": "\\u003D",
};
const hex4 = (c: string) => `\\u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
function escapeJS(s: string): string {
  return [...s].map((c) => JS_ESCAPES[c] ?? (c < " " || (c > "\x7f" && !isPrint(c)) ? hex4(c) : c)).join("");
}

/** url.QueryEscape: only letters, digits and `-_.~` stay; a space becomes `+`. */
const queryEscape = (s: string) =>
  encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, "+");

function indexArg(index: unknown, cap: number): number {
  if (index === undefined) fail("cannot index slice/array with nil");
  if (kindOf(index) !== "int") fail(`cannot index slice/array with type ${typeName(index)}`);
  const x = index as number;
  if (x < 0 || x > cap) fail(`index out of range: ${x}`);
  return x;
}

function index(item: unknown, ...indexes: unknown[]): unknown {
  let current = concrete(item);
  if (current === undefined) fail("index of untyped nil");
  for (const raw of indexes) {
    const i = concrete(raw);
    if (isNil(current)) fail("index of nil pointer");
    const kind = kindOf(current);
    if (kind === "map") current = mapIndex(current as Record<string, unknown>, i);
    else if (kind === "slice" || kind === "bytes" || kind === "string") {
      const list = kind === "string" ? Buffer.from(current as string) : (current as ArrayLike<unknown>);
      const x = indexArg(i, list.length);
      // Go checks against the length only when the element is read, and so panics rather than erring.
      if (x === list.length) fail(`reflect: ${kind === "string" ? "string" : "slice"} index out of range`);
      current = list[x];
    } else fail(`can't index item of type ${typeName(current).replace(/^\*/, "")}`);
  }
  return current;
}

/** A missing key gives the element type's zero value: "" in map[string]string, nil in a map of interfaces. */
function mapIndex(m: Record<string, unknown>, key: unknown): unknown {
  const type = goType(m);
  const keyType = type?.key ?? "string";
  if (key === undefined) fail(`value is nil; should be of type ${keyType}`);
  if (typeof key !== "string" || keyType !== "string") fail(`value has type ${typeName(key)}; should be ${keyType}`);
  return Object.hasOwn(m, key as string) ? m[key as string] : type ? type.zero : null;
}

function slice(item: unknown, ...indexes: unknown[]): unknown {
  const value = concrete(item);
  if (value === undefined) fail("slice of untyped nil");
  if (indexes.length > 3) fail(`too many slice indexes: ${indexes.length}`);
  const kind = kindOf(value);
  if (kind === "string" && indexes.length === 3) fail("cannot 3-index slice a string");
  if (kind !== "string" && kind !== "slice" && kind !== "bytes") fail(`can't slice item of type ${typeName(value)}`);
  const list = kind === "string" ? Buffer.from(value as string) : (value as unknown[] | Uint8Array);
  const idx = [0, list.length, list.length];
  indexes.forEach((x, i) => (idx[i] = indexArg(concrete(x), list.length)));
  const [low, high, max] = idx as [number, number, number];
  if (low > high) fail(`invalid slice index: ${low} > ${high}`);
  if (indexes.length === 3 && high > max) fail(`invalid slice index: ${high} > ${max}`);
  if (kind === "string") return (list as Buffer).subarray(low, high).toString("utf8");
  if (kind === "bytes") return (list as Uint8Array).subarray(low, high);
  const type = goType(value as unknown[]);
  return type ? typed((list as unknown[]).slice(low, high), type) : (list as unknown[]).slice(low, high);
}

function length(item: unknown): number {
  if (item === null || item instanceof GoNil) fail("len of nil pointer");
  switch (kindOf(item)) {
    case "string":
      return Buffer.byteLength(item as string);
    case "slice":
    case "bytes":
      return (item as ArrayLike<unknown>).length;
    case "map":
      return Object.keys(item as object).length;
    case "invalid":
      return fail("reflect: call of reflect.Value.Type on zero Value");
  }
  return fail(`len of type ${typeName(item).replace(/^\*/, "")}`);
}

type BasicKind = "bool" | "int" | "float" | "string" | "other";
const basicKind = (v: unknown): BasicKind => {
  const kind = kindOf(v);
  return kind === "bool" || kind === "int" || kind === "float" || kind === "string" ? kind : "other";
};

/** `eq a b c` is a == b || a == c. Values of different basic kinds are an error, even 1 and 1.0. */
function eq(arg1: unknown, ...others: unknown[]): boolean {
  const a = concrete(arg1);
  if (others.length === 0) fail("missing argument for comparison");
  const k1 = basicKind(a);
  return others.some((other) => {
    const b = concrete(other);
    const k2 = basicKind(b);
    if (k1 !== k2) return a !== undefined && b !== undefined ? fail("incompatible types for comparison") : false;
    if (k1 !== "other") return k1 === "float" ? toNumber(a) === toNumber(b) : a === b;
    return equalOther(a, b);
  });
}

function equalOther(a: unknown, b: unknown): boolean {
  const [ka, kb] = [kindOf(a), kindOf(b)];
  if (ka !== kb && a !== undefined && b !== undefined) {
    fail(`non-comparable types ${sprintf("%s", [a])}: ${typeName(a)}, ${typeName(b)}: ${sprint([b])}`);
  }
  if (isNil(a) || isNil(b)) return isNil(a) === isNil(b);
  if (kb === "slice" || kb === "map" || kb === "bytes" || kb === "func") fail(`non-comparable type ${sprint([b])}: ${typeName(b)}`);
  return structEqual(a, b);
}

/** Struct values compare field by field; a pointer compares by identity; a slice or map inside is a run-time panic. */
function structEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (kindOf(a) === "time") return String(a) === String(b);
  if (kindOf(a) !== "struct" || typeName(a).startsWith("*") || typeName(a) !== typeName(b)) return false;
  const [x, y] = [a as Record<string, unknown>, b as Record<string, unknown>];
  return Object.keys(x).every((k) => {
    const kind = kindOf(x[k]);
    if (kind === "slice" || kind === "map" || kind === "bytes") fail(`runtime error: comparing uncomparable type ${typeName(a)}`);
    return kind === "struct" || kind === "time" ? structEqual(x[k], y[k]) : toNumber(x[k]) === toNumber(y[k]);
  });
}

function lt(arg1: unknown, arg2: unknown): boolean {
  const [a, b] = [concrete(arg1), concrete(arg2)];
  const [k1, k2] = [basicKind(a), basicKind(b)];
  if (k1 === "other" || k2 === "other") fail("invalid type for comparison");
  if (k1 !== k2) fail("incompatible types for comparison");
  if (k1 === "bool") fail("invalid type for comparison");
  return k1 === "string" ? compareStrings(a as string, b as string) < 0 : toNumber(a) < toNumber(b);
}

function le(a: unknown, b: unknown): boolean {
  return lt(a, b) || eq(a, b);
}

export interface TagFunctionOptions {
  /**
   * Fetches a URL's body for `httpGet`; without it the function is not defined. v7.4 logs a failed request and
   * goes on with an empty body, so a throw here gives an empty body too (log before throwing), except a LimitExceeded, which fails the render.
   */
  httpGet?: (url: string) => string;
}

const stringSlice = (values: string[]) => typed(values, { name: "[]string" });

/** registrator v7.4's function map for -tags, with its argument order: the piped value comes last. */
export function tagFunctions(options: TagFunctionOptions): TemplateFunctions {
  const functions: Record<string, TemplateFunction> = {
    strSlice: define(["string"], strSlice, "int"),
    sIndex: define(["int", "[]string"], (i: number, s: string[]) => clampedIndex(s, i)),
    mIndex: define(["string", "map[string]string"], (k: string, m: Record<string, string>) => (Object.hasOwn(m, k) ? m[k] : "")),
    toUpper: define(["string"], (v: string) => mapRunes(v, (c) => c.toUpperCase())),
    toLower: define(["string"], (v: string) => mapRunes(v, (c) => c.toLowerCase())),
    replace: define(["int", "string", "string", "string"], (n: number, old: string, by: string, v: string) => replace(v, old, by, n)),
    join: define(["string", "[]string"], join),
    split: define(["string", "string"], (sep: string, v: string) => stringSlice(split(v, sep))),
    splitIndex: define(["int", "string", "string"], (i: number, sep: string, v: string) => clampedIndex(split(v, sep), i)),
    matchFirstElement: define(["string", "[]string"], (r: string, s: string[]) => s.find(matcher(r)) ?? ""),
    matchAllElements: define(["string", "[]string"], (r: string, s: string[]) => stringSlice(s.filter(matcher(r)))),
    jsonParse: define(["[]uint8", "string"], (b: Uint8Array, k: string) => jsonGet(Buffer.from(b).toString("utf8"), k.split("::"))),
  };
  const get = options.httpGet;
  if (get) functions.httpGet = define(["string"], (url: string) => Buffer.from(tryGet(get, url)));
  return functions;
}

function tryGet(get: (url: string) => string, url: string): string {
  try {
    return get(url);
  } catch (e) {
    if (e instanceof LimitExceeded) throw e;
    return "";
  }
}

/** strSlice: v[a:] or v[a:b] in bytes, giving up (returning v) where an index is past the end. */
function strSlice(v: string, ...i: number[]): string {
  const bytes = Buffer.from(v);
  const [a, b] = i as [number, number];
  if (i.length === 1) return bytes.length >= a ? sliceBytes(bytes, a) : v;
  if (i.length !== 2 || bytes.length < a || bytes.length < b) return v;
  if (a === 0) return sliceBytes(bytes, 0, b);
  return b < a ? sliceBytes(bytes, a) : sliceBytes(bytes, a, b);
}

function sliceBytes(bytes: Buffer, low: number, high?: number): string {
  if (high !== undefined && high < 0) fail(`runtime error: slice bounds out of range [:${high}]`);
  if (low < 0) fail(`runtime error: slice bounds out of range [${low}:]`);
  return bytes.subarray(low, high).toString("utf8");
}

/** sIndex and splitIndex: a negative index counts from the end, and an index past either end takes the end. */
function clampedIndex(s: readonly string[], i: number): string {
  const at = i < 0 ? (-i >= s.length ? 0 : s.length + i) : i >= s.length ? s.length - 1 : i;
  if (at < 0) fail(`runtime error: index out of range [${at}]`);
  if (at >= s.length) fail(`runtime error: index out of range [${at}] with length ${s.length}`);
  return s[at]!;
}

/** strings.ToUpper/ToLower map each character alone, so `ß` stays `ß` rather than becoming `SS`. */
const mapRunes = (v: string, f: (c: string) => string) =>
  [...v]
    .map((c) => {
      const mapped = f(c);
      return [...mapped].length === 1 ? mapped : c;
    })
    .join("");

/** strings.Split: an empty separator splits into characters. Its size is known before it is made. */
function split(v: string, sep: string): string[] {
  checkValueSize(v.length + (sep === "" ? v.length : occurrences(v, sep) + 1));
  return sep === "" ? [...v] : v.split(sep);
}

function occurrences(s: string, part: string): number {
  let n = 0;
  for (let i = s.indexOf(part); i >= 0; i = s.indexOf(part, i + part.length)) n++;
  return n;
}

function join(sep: string, s: readonly string[]): string {
  let size = sep.length * Math.max(s.length - 1, 0);
  for (const element of s) size += element.length;
  checkValueSize(size);
  return s.join(sep);
}

/** strings.Replace: the first n occurrences, all when n < 0; an empty `old` matches before each character and at the end. */
function replace(s: string, old: string, by: string, n: number): string {
  if (old === by || n === 0) return s;
  // The pieces are no larger than s; the result, checked before it is built, may be.
  if (old === "") {
    const slots = [...s, ""];
    const count = n < 0 ? slots.length : Math.min(n, slots.length);
    checkValueSize(s.length + count * by.length);
    return slots.map((c, i) => (i < count ? by : "") + c).join("");
  }
  const pieces = s.split(old);
  const count = n < 0 ? pieces.length - 1 : Math.min(n, pieces.length - 1);
  checkValueSize(s.length + count * Math.max(by.length - old.length, 0));
  return [pieces.slice(0, count + 1).join(by), ...pieces.slice(count + 1)].join(old);
}

/** jsonparser.Get: the raw text of the value at a key path (`[n]` indexes an array); a string without its quotes. */
function jsonGet(json: string, keys: readonly string[]): string {
  let at = skipSpace(json, 0);
  for (const key of keys) {
    if (json[at] === "{") at = findKey(json, at, key);
    else if (json[at] === "[" && /^\[\d+\]$/.test(key)) at = findIndex(json, at, Number(key.slice(1, -1)));
    else return "";
    if (at < 0) return "";
  }
  const end = skipValue(json, at);
  if (end < 0) return "";
  return json[at] === '"' ? json.slice(at + 1, end - 1) : json.slice(at, end);
}

const skipSpace = (s: string, i: number) => i + (/^[ \t\r\n]*/.exec(s.slice(i))?.[0].length ?? 0);

/** The end of the JSON value starting at i, or -1 where the text is not JSON. */
function skipValue(s: string, i: number): number {
  if (s[i] === '"') {
    for (let j = i + 1; j < s.length; j++) {
      if (s[j] === "\\") j++;
      else if (s[j] === '"') return j + 1;
    }
    return -1;
  }
  if (s[i] !== "{" && s[i] !== "[") {
    const end = /^[^,}\] \t\r\n]*/.exec(s.slice(i))![0].length;
    return end > 0 ? i + end : -1;
  }
  for (let j = skipSpace(s, i + 1); j < s.length; j = skipSpace(s, j)) {
    if (s[j] === "}" || s[j] === "]") return j + 1;
    if (s[j] === "," || s[j] === ":") j++;
    else if ((j = skipValue(s, j)) < 0) return -1;
  }
  return -1;
}

/** The start of the value of `key` in the object at i, or -1. */
function findKey(s: string, i: number, key: string): number {
  for (let j = skipSpace(s, i + 1); s[j] === '"';) {
    const keyEnd = skipValue(s, j);
    if (keyEnd < 0) return -1;
    const raw = s.slice(j + 1, keyEnd - 1);
    j = skipSpace(s, keyEnd);
    if (s[j] !== ":") return -1;
    j = skipSpace(s, j + 1);
    if ((raw.includes("\\") ? (JSON.parse(`"${raw}"`) as string) : raw) === key) return j;
    j = nextElement(s, j);
  }
  return -1;
}

function findIndex(s: string, i: number, n: number): number {
  for (let j = skipSpace(s, i + 1), k = 0; j >= 0 && j < s.length && s[j] !== "]"; k++) {
    if (k === n) return j;
    j = nextElement(s, j);
  }
  return -1;
}

/** Past the value at j and the comma after it: the start of the next element, or -1. */
function nextElement(s: string, j: number): number {
  const end = skipValue(s, j);
  if (end < 0) return -1;
  const comma = skipSpace(s, end);
  return s[comma] === "," ? skipSpace(s, comma + 1) : -1;
}
