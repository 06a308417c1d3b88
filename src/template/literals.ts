/** Go's literals in a template: numbers as text/template/parse reads them, strings and runes as strconv unquotes them. */
import { goQuote, type ItemType } from "./lex.js";

/** What a number literal can stand for; Go allows `1.0` as an int argument and `1` as a float one. */
export interface NumberValue {
  isInt: boolean;
  isUint: boolean;
  isFloat: boolean;
  value: number;
}

/** Go's NumberNode rules: `1.0` and `1e3` are integers too, `'a'` is 97, a number too big for int64 is an error. */
export function parseNumber(text: string, type: ItemType): NumberValue | string {
  if (type === "charConstant") {
    const c = unquoteChar(text, 1, "'");
    if (!c) return "invalid syntax";
    if (text.slice(c.next) !== "'") return `malformed character constant: ${text}`;
    return { isInt: true, isUint: true, isFloat: true, value: c.char.codePointAt(0)! };
  }
  if (type === "complex" || text.endsWith("i")) return `complex constants are not supported: ${text}`;
  const int = parseInteger(text);
  if (int !== undefined) {
    const isInt = int >= -(2n ** 63n) && int < 2n ** 63n;
    const isUint = int >= 0n && int < 2n ** 64n && !text.startsWith("+") && (!text.startsWith("-") || int === 0n);
    if (isInt || isUint) return { isInt, isUint, isFloat: true, value: Number(int) };
  }
  const float = parseFloat(text);
  if (float === undefined) return `illegal number syntax: ${goQuote(text)}`;
  if (!/[.eEpP]/.test(text)) return `integer overflow: ${goQuote(text)}`;
  const whole = Number.isInteger(float);
  return { isInt: whole && Math.abs(float) < 2 ** 63, isUint: whole && float >= 0 && float < 2 ** 64, isFloat: true, value: float };
}

/** strconv.ParseInt with base 0: 0x, 0o, 0b, a leading 0 for octal, and underscores between digits. */
function parseInteger(text: string): bigint | undefined {
  const m = /^([+-]?)(0[xX][\da-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][\d_]*)$/.exec(text);
  if (!m || /__|_$/.test(m[2]!)) return undefined;
  let digits = m[2]!.replace(/_/g, "");
  if (/^0\d/.test(digits)) digits = `0o${digits.slice(1)}`;
  const value = BigInt(digits.replace(/^0O/, "0o").replace(/^0X/, "0x").replace(/^0B/, "0b"));
  return m[1] === "-" ? -value : value;
}

function parseFloat(text: string): number | undefined {
  const plain = text.replace(/(?<=\d)_(?=\d)/g, "");
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(plain)) return Number(plain);
  const hexFloat = /^([+-]?)0[xX]([\da-fA-F]*)\.?([\da-fA-F]*)[pP]([+-]?\d+)$/.exec(plain);
  if (!hexFloat || hexFloat[2]! + hexFloat[3]! === "") return undefined;
  const mantissa = parseInt(hexFloat[2]! + hexFloat[3]! || "0", 16) / 16 ** hexFloat[3]!.length;
  return (hexFloat[1] === "-" ? -1 : 1) * mantissa * 2 ** Number(hexFloat[4]);
}

const SIMPLE_ESCAPES: Record<string, string> = { a: "\x07", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v", "\\": "\\" };

/** strconv.Unquote for "…" and `…`; undefined where Go reports `invalid syntax`. */
export function unquote(quoted: string): string | undefined {
  if (quoted.startsWith("`")) return quoted.slice(1, -1).replace(/\r/g, "");
  let out = "";
  for (let i = 1; i < quoted.length - 1;) {
    const c = unquoteChar(quoted, i, '"');
    if (!c) return undefined;
    out += c.char;
    i = c.next;
  }
  return out;
}

/** strconv.UnquoteChar: one character or escape of a Go string or rune literal. */
function unquoteChar(s: string, i: number, quote: string): { char: string; next: number } | undefined {
  const c = s[i];
  if (c === undefined || c === quote) return undefined;
  if (c !== "\\") {
    const char = String.fromCodePoint(s.codePointAt(i)!);
    return { char, next: i + char.length };
  }
  const e = s[i + 1] ?? "";
  if (SIMPLE_ESCAPES[e]) return { char: SIMPLE_ESCAPES[e], next: i + 2 };
  if (e === quote) return { char: quote, next: i + 2 };
  const digits = { x: 2, u: 4, U: 8 }[e];
  const code = digits ? /^[\da-fA-F]+$/.exec(s.slice(i + 2, i + 2 + digits)) : /^[0-7]{3}$/.exec(s.slice(i + 1, i + 4));
  if (!code || code[0].length !== (digits ?? 3)) return undefined;
  const value = parseInt(code[0], digits ? 16 : 8);
  if (value > 0x10ffff || (value >= 0xd800 && value < 0xe000 && e !== "x") || (!digits && value > 255)) return undefined;
  return { char: String.fromCodePoint(value), next: i + 1 + (digits ? digits + 1 : 3) };
}
