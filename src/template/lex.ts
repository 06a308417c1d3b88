/**
 * The lexer of Go's text/template as of Go 1.19, the Go that built registrator v7.4.
 * Messages are worded as Go words them, so an operator sees what the Go binary would have said.
 */

/** A template that does not parse or does not execute. */
export class TemplateError extends Error {
  override name = "TemplateError";
}

/** v7.4 parses every tag template as `template.New("tags")`, and Go names the template in each message. */
export const TEMPLATE_NAME = "tags";

export type Keyword = "block" | "break" | "continue" | "define" | "dot" | "else" | "end" | "if" | "nil" | "range" | "template" | "with";
export type ItemType =
  | Keyword
  | "error"
  | "bool"
  | "char"
  | "charConstant"
  | "complex"
  | "assign"
  | "declare"
  | "eof"
  | "field"
  | "identifier"
  | "leftDelim"
  | "leftParen"
  | "number"
  | "pipe"
  | "rawString"
  | "rightDelim"
  | "rightParen"
  | "space"
  | "string"
  | "text"
  | "variable";
export interface Item {
  type: ItemType;
  pos: number;
  val: string;
  line: number;
}

export const KEYWORDS = new Set(["block", "break", "continue", "define", "else", "end", "if", "nil", "range", "template", "with"]);
export const KEYWORD_ITEMS = new Set<ItemType>([...(KEYWORDS as Set<Keyword>), "dot"]);

const isSpace = (c: string | undefined) => c === " " || c === "\t" || c === "\r" || c === "\n";
const isDigit = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9";
const isAlphaNumeric = (c: string | undefined) => c !== undefined && /^[\p{L}\p{Nd}_]$/u.test(c);
/** How many spaces start at `from`; a loop, not a regexp over the rest of the input, keeps the lexer linear. */
function spacesFrom(s: string, from: number): number {
  let i = from;
  while (isSpace(s[i])) i++;
  return i - from;
}
/** How many spaces end just before `end`, not looking back past `start`. */
function spacesBefore(s: string, start: number, end: number): number {
  let i = end;
  while (i > start && isSpace(s[i - 1])) i--;
  return end - i;
}
/** `{{- ` trims the text before the action; the space after the dash is what makes it a marker, not `{{-3}}`. */
const hasLeftTrimMarker = (s: string, i: number) => s[i] === "-" && isSpace(s[i + 1]);
const hasRightTrimMarker = (s: string, i: number) => isSpace(s[i]) && s[i + 1] === "-";

type State = (() => State) | null;

export class Lexer {
  private readonly items: Item[] = [];
  private pos = 0;
  private start = 0;
  private width = 0;
  private parenDepth = 0;
  /** The line of `start`, advanced as the lexer moves on, so that finding it costs nothing per item. */
  private line = 1;
  private nextNewline: number;

  constructor(
    private readonly input: string,
    private readonly keywordOK: (word: string) => boolean,
  ) {
    this.nextNewline = input.indexOf("\n");
  }

  run(): Item[] {
    for (let state: State = this.lexText; state;) state = state();
    return this.items;
  }

  private next(): string | undefined {
    if (this.pos >= this.input.length) {
      this.width = 0;
      return undefined;
    }
    const c = String.fromCodePoint(this.input.codePointAt(this.pos)!);
    this.width = c.length;
    this.pos += c.length;
    return c;
  }
  private backup(): void {
    this.pos -= this.width;
  }
  private peek(): string | undefined {
    const c = this.next();
    this.backup();
    return c;
  }
  private accept(valid: string): boolean {
    const c = this.next();
    if (c !== undefined && valid.includes(c)) return true;
    this.backup();
    return false;
  }
  private acceptRun(valid: string): void {
    while (this.accept(valid));
  }
  private emit(type: ItemType): State {
    this.items.push({ type, pos: this.start, val: this.input.slice(this.start, this.pos), line: this.lineOfStart() });
    this.start = this.pos;
    return this.lexInsideAction;
  }
  private lineOfStart(): number {
    while (this.nextNewline >= 0 && this.nextNewline < this.start) {
      this.line++;
      this.nextNewline = this.input.indexOf("\n", this.nextNewline + 1);
    }
    return this.line;
  }
  private ignore(): void {
    this.start = this.pos;
  }
  private errorf(message: string): State {
    this.items.push({ type: "error", pos: this.start, val: message, line: this.lineOfStart() });
    return null;
  }
  private atRightDelim(): [delim: boolean, trim: boolean] {
    if (hasRightTrimMarker(this.input, this.pos) && this.input.startsWith("}}", this.pos + 2)) return [true, true];
    return [this.input.startsWith("}}", this.pos), false];
  }
  /** Whether an identifier may end here: `.X.Y` is two pieces, `$x+2` is an error. */
  private atTerminator(): boolean {
    const c = this.peek();
    return c === undefined || isSpace(c) || ".,|:)(}".includes(c);
  }

  private lexText = (): State => {
    const at = this.input.indexOf("{{", this.pos);
    if (at < 0) {
      this.pos = this.input.length;
      if (this.pos > this.start) this.emit("text");
      this.emit("eof");
      return null;
    }
    this.pos = at - (hasLeftTrimMarker(this.input, at + 2) ? spacesBefore(this.input, this.start, at) : 0);
    if (this.pos > this.start) this.emit("text");
    this.pos = at;
    this.ignore();
    return this.lexLeftDelim;
  };

  private lexLeftDelim = (): State => {
    this.pos += 2;
    const afterMarker = hasLeftTrimMarker(this.input, this.pos) ? 2 : 0;
    if (this.input.startsWith("/*", this.pos + afterMarker)) {
      this.pos += afterMarker;
      this.ignore();
      return this.lexComment;
    }
    this.emit("leftDelim");
    this.pos += afterMarker;
    this.ignore();
    this.parenDepth = 0;
    return this.lexInsideAction;
  };

  private lexComment = (): State => {
    const end = this.input.indexOf("*/", this.pos + 2);
    if (end < 0) return this.errorf("unclosed comment");
    this.pos = end + 2;
    const [delim, trim] = this.atRightDelim();
    if (!delim) return this.errorf("comment ends before closing delimiter");
    this.pos += trim ? 4 : 2;
    if (trim) this.pos += spacesFrom(this.input, this.pos);
    this.ignore();
    return this.lexText;
  };

  private lexRightDelim = (): State => {
    const trim = hasRightTrimMarker(this.input, this.pos);
    if (trim) {
      this.pos += 2;
      this.ignore();
    }
    this.pos += 2;
    this.emit("rightDelim");
    if (trim) {
      this.pos += spacesFrom(this.input, this.pos);
      this.ignore();
    }
    return this.lexText;
  };

  private lexInsideAction = (): State => {
    if (this.atRightDelim()[0]) return this.parenDepth === 0 ? this.lexRightDelim : this.errorf("unclosed left paren");
    const c = this.next();
    if (c === undefined) return this.errorf("unclosed action");
    if (isSpace(c)) {
      this.backup();
      return this.lexSpace;
    }
    switch (c) {
      case "=":
        return this.emit("assign");
      case ":":
        return this.next() === "=" ? this.emit("declare") : this.errorf("expected :=");
      case "|":
        return this.emit("pipe");
      case '"':
        return this.lexQuote("string", '"', "unterminated quoted string");
      case "'":
        return this.lexQuote("charConstant", "'", "unterminated character constant");
      case "`":
        return this.lexRawQuote;
      case "$":
        return this.lexFieldOrVariable("variable");
      case "(":
        this.parenDepth++;
        return this.emit("leftParen");
      case ")":
        this.emit("rightParen");
        return --this.parenDepth < 0 ? this.errorf(`unexpected right paren ${formatU(c)}`) : this.lexInsideAction;
    }
    // A dot followed by a digit starts a number; at the very end of input Go also lexes it as one.
    if (c === "." && this.pos < this.input.length && !isDigit(this.input[this.pos])) return this.lexFieldOrVariable("field");
    if (c === "." || c === "+" || c === "-" || isDigit(c)) {
      this.backup();
      return this.lexNumber;
    }
    if (isAlphaNumeric(c)) {
      this.backup();
      return this.lexIdentifier;
    }
    if (c >= " " && c <= "~") return this.emit("char");
    return this.errorf(`unrecognized character in action: ${formatU(c)}`);
  };

  private lexSpace = (): State => {
    const spaces = spacesFrom(this.input, this.pos);
    this.pos += spaces;
    // The last space may belong to a ` -}}` that closes the action.
    if (hasRightTrimMarker(this.input, this.pos - 1) && this.input.startsWith("}}", this.pos + 1)) {
      this.pos--;
      if (spaces === 1) return this.lexInsideAction;
    }
    return this.emit("space");
  };

  private lexIdentifier = (): State => {
    let c: string | undefined;
    while (isAlphaNumeric((c = this.next())));
    this.backup();
    if (!this.atTerminator()) return this.errorf(`bad character ${formatU(c ?? "")}`);
    const word = this.input.slice(this.start, this.pos);
    if (KEYWORDS.has(word) && this.keywordOK(word)) return this.emit(word as Keyword);
    return this.emit(word === "true" || word === "false" ? "bool" : "identifier");
  };

  private lexFieldOrVariable(type: "field" | "variable"): State {
    if (this.atTerminator()) return this.emit(type === "variable" ? "variable" : "dot");
    let c: string | undefined;
    while (isAlphaNumeric((c = this.next())));
    this.backup();
    if (!this.atTerminator()) return this.errorf(`bad character ${formatU(c ?? "")}`);
    return this.emit(type);
  }

  private lexQuote(type: "string" | "charConstant", quote: string, unterminated: string): State {
    for (;;) {
      const c = this.next();
      if (c === quote) return this.emit(type);
      const escaped = c === "\\" ? this.next() : c;
      if (escaped === undefined || escaped === "\n") return this.errorf(unterminated);
    }
  }

  private lexRawQuote = (): State => {
    const end = this.input.indexOf("`", this.pos);
    if (end < 0) return this.errorf("unterminated raw quoted string");
    this.pos = end + 1;
    return this.emit("rawString");
  };

  private lexNumber = (): State => {
    const bad = () => this.errorf(`bad number syntax: ${goQuote(this.input.slice(this.start, this.pos))}`);
    if (!this.scanNumber()) return bad();
    const sign = this.peek();
    if (sign !== "+" && sign !== "-") return this.emit("number");
    return this.scanNumber() && this.input[this.pos - 1] === "i" ? this.emit("complex") : bad();
  };

  /** Loose on purpose, like Go's: `089` and `0x1.2` lex as numbers and fail in the parser. */
  private scanNumber(): boolean {
    this.accept("+-");
    let digits = "0123456789_";
    if (this.accept("0")) {
      if (this.accept("xX")) digits = "0123456789abcdefABCDEF_";
      else if (this.accept("oO")) digits = "01234567_";
      else if (this.accept("bB")) digits = "01_";
    }
    this.acceptRun(digits);
    if (this.accept(".")) this.acceptRun(digits);
    if ((digits.length === 11 && this.accept("eE")) || (digits.length === 23 && this.accept("pP"))) {
      this.accept("+-");
      this.acceptRun("0123456789_");
    }
    this.accept("i");
    if (!isAlphaNumeric(this.peek())) return true;
    this.next();
    return false;
  }
}

export function lineOf(text: string, pos: number): number {
  let line = 1;
  for (let i = text.indexOf("\n"); i >= 0 && i < pos; i = text.indexOf("\n", i + 1)) line++;
  return line;
}

/** Where a node is, as Go reports it: `tags:LINE:COL`, COL counting bytes from 0. */
export function location(text: string, pos: number): string {
  const before = text.slice(0, pos);
  const lineStart = before.lastIndexOf("\n") + 1;
  return `${TEMPLATE_NAME}:${lineOf(text, pos)}:${Buffer.byteLength(before.slice(lineStart))}`;
}

/** Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
export const isPrint = (c: string) => /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u.test(c);

const hex = (n: number, digits: number) => n.toString(16).padStart(digits, "0");
const ESCAPES: Record<string, string> = { "\x07": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v" };

/** strconv.Quote: the form of `%q` and of every quoted name in Go's messages. */
export function goQuote(s: string): string {
  let out = "";
  for (const c of s) {
    const code = c.codePointAt(0)!;
    if (c === '"' || c === "\\") out += "\\" + c;
    else if (isPrint(c)) out += c;
    else out += ESCAPES[c] ?? (code < 0x80 ? `\\x${hex(code, 2)}` : code < 0x10000 ? `\\u${hex(code, 4)}` : `\\U${hex(code, 8)}`);
  }
  return `"${out}"`;
}

/** fmt's `%#U`: `U+0029 ')'`. */
export function formatU(c: string): string {
  const code = `U+${hex(c.codePointAt(0) ?? 0, 4).toUpperCase()}`;
  return isPrint(c) ? `${code} '${c}'` : code;
}
