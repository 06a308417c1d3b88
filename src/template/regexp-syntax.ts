/** Go's regexp syntax (RE2), parsed into a small tree with Go's error messages. */

export type CharTest = (c: number) => boolean;
export type Assertion = "textStart" | "textEnd" | "lineStart" | "lineEnd" | "wordBoundary" | "notWordBoundary";
export type Re =
  | { kind: "char"; test: CharTest }
  | { kind: "assert"; at: Assertion }
  | { kind: "concat" | "alternate"; items: Re[] }
  | { kind: "repeat"; item: Re; min: number; max: number };

export interface Flags {
  i: boolean;
  m: boolean;
  s: boolean;
  U: boolean;
}

const MAX_REPEAT = 1000;
const MAX_NESTING = 1000;
const MEMO_SIZE = 4096;
export const NEWLINE = 10;
export const isWordChar = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const range =
  (lo: number, hi: number): CharTest =>
  (c) =>
    c >= lo && c <= hi;
const anyOf =
  (tests: CharTest[]): CharTest =>
  (c) =>
    tests.some((t) => t(c));
const not =
  (t: CharTest): CharTest =>
  (c) =>
    !t(c);

/** The Perl classes and the POSIX ones, all ASCII in RE2. */
const PERL: Record<string, CharTest> = {
  d: range(48, 57),
  s: (c) => c === 9 || c === 10 || c === 12 || c === 13 || c === 32,
  w: isWordChar,
};
const POSIX: Record<string, CharTest> = {
  alnum: anyOf([range(48, 57), range(65, 90), range(97, 122)]),
  alpha: anyOf([range(65, 90), range(97, 122)]),
  ascii: range(0, 127),
  blank: (c) => c === 9 || c === 32,
  cntrl: (c) => c < 32 || c === 127,
  digit: range(48, 57),
  graph: range(33, 126),
  lower: range(97, 122),
  print: range(32, 126),
  punct: anyOf([range(33, 47), range(58, 64), range(91, 96), range(123, 126)]),
  space: (c) => (c >= 9 && c <= 13) || c === 32,
  upper: range(65, 90),
  word: isWordChar,
  xdigit: anyOf([range(48, 57), range(65, 70), range(97, 102)]),
};

export class RegexpError extends Error {}
export const parseError = (reason: string, fragment: string): never => {
  throw new RegexpError(`${reason}: \`${fragment}\``);
};

/** `\pL`, `\p{Greek}`: Unicode's categories and scripts, each tested one character at a time. */
function unicodeClass(name: string, escape: string): CharTest {
  const negated = name.startsWith("^");
  const bare = negated ? name.slice(1) : name;
  for (const source of [`^\\p{${bare}}$`, `^\\p{Script=${bare}}$`]) {
    try {
      const re = new RegExp(source, "u");
      const test = memoize((c) => re.test(String.fromCodePoint(c)));
      return negated ? not(test) : test;
    } catch {
      // not this kind of name; try the next
    }
  }
  return parseError("invalid character class range", escape);
}

/** Each character also matches its other cases, as (?i) asks. */
function foldCase(test: CharTest): CharTest {
  return memoize((c) => {
    if (test(c)) return true;
    const s = String.fromCodePoint(c);
    for (const other of [s.toLowerCase(), s.toUpperCase()]) {
      const code = other.codePointAt(0)!;
      if (other.length === String.fromCodePoint(code).length && code !== c && test(code)) return true;
    }
    return false;
  });
}

/** A test that builds strings, remembered per character: matching tries it once per state and position. */
function memoize(test: CharTest): CharTest {
  const ascii = new Int8Array(128);
  const other = new Map<number, boolean>();
  return (c) => {
    if (c < 128) {
      if (ascii[c] === 0) ascii[c] = test(c) ? 1 : -1;
      return ascii[c] === 1;
    }
    let known = other.get(c);
    if (known === undefined) {
      known = test(c);
      if (other.size < MEMO_SIZE) other.set(c, known);
    }
    return known;
  };
}

export class Parser {
  private pos = 0;
  private depth = 0;
  private readonly chars: number[];

  constructor(
    private readonly pattern: string,
    private flags: Flags,
  ) {
    this.chars = [...pattern].map((c) => c.codePointAt(0)!);
  }

  parse(): Re {
    const re = this.alternation();
    if (this.pos < this.chars.length) parseError("unexpected )", this.pattern);
    return re;
  }

  private peek(offset = 0): string | undefined {
    const c = this.chars[this.pos + offset];
    return c === undefined ? undefined : String.fromCodePoint(c);
  }

  private text(from: number, to = this.pos): string {
    return String.fromCodePoint(...this.chars.slice(from, to));
  }

  /** The next n characters of the pattern, or as many as are left. */
  private ahead(n: number): string {
    return this.text(this.pos, this.pos + n);
  }

  private alternation(): Re {
    const saved = { ...this.flags };
    const items = [this.concatenation()];
    while (this.peek() === "|") {
      this.pos++;
      items.push(this.concatenation());
    }
    this.flags = saved;
    return items.length === 1 ? items[0]! : { kind: "alternate", items };
  }

  private concatenation(): Re {
    const items: Re[] = [];
    for (let c = this.peek(); c !== undefined && c !== "|" && c !== ")"; c = this.peek()) {
      const start = this.pos;
      if ("*+?".includes(c) || (c === "{" && this.repeatCount() !== undefined)) {
        this.pos = start;
        parseError("missing argument to repetition operator", this.repeatOperator());
      }
      this.pos = start;
      const atom = this.atom();
      if (atom) items.push(this.repetitions(atom));
    }
    return { kind: "concat", items };
  }

  /** The operator at pos, such as `*`, `+?` or `{2,3}`, consumed. */
  private repeatOperator(): string {
    const start = this.pos;
    if (this.peek() === "{") this.repeatCount();
    else this.pos++;
    if (this.peek() === "?") this.pos++;
    return this.text(start);
  }

  private repetitions(atom: Re): Re {
    let item = atom;
    let last: number | undefined;
    for (;;) {
      const start = this.pos;
      const c = this.peek();
      const count = c === "{" ? this.repeatCount() : undefined;
      this.pos = start;
      if (c === undefined || (!"*+?".includes(c) && count === undefined)) return item;
      const operator = this.repeatOperator();
      if (last !== undefined) parseError("invalid nested repetition operator", this.text(last));
      last = start;
      const [min, max] = count ?? (c === "*" ? [0, -1] : c === "+" ? [1, -1] : [0, 1]);
      if (min > MAX_REPEAT || max > MAX_REPEAT || (max >= 0 && max < min)) parseError("invalid repeat count", operator);
      item = { kind: "repeat", item, min, max };
    }
  }

  /** `{n}`, `{n,}` or `{n,m}` at pos, consumed; anything else is a literal `{`, and nothing is consumed. */
  private repeatCount(): [number, number] | undefined {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(this.ahead(24));
    if (!m) return undefined;
    this.pos += m[0].length;
    const min = Number(m[1]);
    return [min, m[2] === undefined ? min : m[3] === "" ? -1 : Number(m[3])];
  }

  private atom(): Re | undefined {
    const c = this.peek()!;
    this.pos++;
    switch (c) {
      case "(":
        return this.group();
      case "[":
        return this.charClass();
      case ".":
        return this.char(this.flags.s ? () => true : (x) => x !== NEWLINE);
      case "^":
        return { kind: "assert", at: this.flags.m ? "lineStart" : "textStart" };
      case "$":
        return { kind: "assert", at: this.flags.m ? "lineEnd" : "textEnd" };
      case "\\":
        return this.escape();
    }
    const code = c.codePointAt(0)!;
    return this.char((x) => x === code);
  }

  private char(test: CharTest): Re {
    return { kind: "char", test: this.flags.i ? foldCase(test) : test };
  }

  private group(): Re | undefined {
    const start = this.pos - 1;
    const outer = { ...this.flags };
    if (++this.depth > MAX_NESTING) parseError("expression nests too deeply", this.pattern);
    if (this.peek() === "?") {
      const named = /^\?P?<([A-Za-z0-9_]*)>/.exec(this.ahead(200));
      if (named) {
        if (named[1] === "") parseError("invalid named capture", this.text(start, this.pos + named[0].length));
        this.pos += named[0].length;
      } else if (this.setFlags(start)) {
        this.depth--;
        return undefined;
      }
    }
    const re = this.alternation();
    if (this.peek() !== ")") parseError("missing closing )", this.pattern);
    this.pos++;
    this.flags = outer;
    this.depth--;
    return re;
  }

  /** `(?i)` changes the flags for the rest of the group; `(?i:` opens a group with them. True for the former. */
  private setFlags(start: number): boolean {
    const m = /^\?([imsU]*)(?:-([imsU]*))?([:)])/.exec(this.ahead(20));
    if (!m || (m[2] !== undefined && m[2] === "") || m[0] === "?)") {
      parseError("invalid or unsupported Perl syntax", this.text(start, Math.min(this.pos + 2, this.chars.length)));
    }
    const flags = this.flags;
    for (const f of m![1]!) flags[f as keyof Flags] = true;
    for (const f of m![2] ?? "") flags[f as keyof Flags] = false;
    this.pos += m![0].length;
    return m![3] === ")";
  }

  private escape(): Re {
    const start = this.pos - 1;
    const c = this.peek();
    if (c === "A") return this.assertion("textStart");
    if (c === "z") return this.assertion("textEnd");
    if (c === "b") return this.assertion("wordBoundary");
    if (c === "B") return this.assertion("notWordBoundary");
    if (c === "Q") return this.quoted();
    const escaped = this.classEscape(start);
    return this.char(typeof escaped === "number" ? (x) => x === escaped : escaped);
  }

  private assertion(at: Assertion): Re {
    this.pos++;
    return { kind: "assert", at };
  }

  /** `\Q…\E`: everything between, literally. */
  private quoted(): Re {
    this.pos++;
    const items: Re[] = [];
    while (this.pos < this.chars.length && !(this.peek() === "\\" && this.peek(1) === "E")) {
      const code = this.chars[this.pos++]!;
      items.push(this.char((x) => x === code));
    }
    if (this.pos < this.chars.length) this.pos += 2;
    return { kind: "concat", items };
  }

  /** An escape that stands for one character (its code) or a class of them, inside `[…]` or out; pos is past the `\\`. */
  private classEscape(start: number): number | CharTest {
    const c = this.peek();
    if (c === undefined) return parseError("trailing backslash at end of expression", "");
    this.pos++;
    const perl = PERL[c.toLowerCase()];
    if (perl) return c === c.toLowerCase() ? perl : not(perl);
    if (c === "p" || c === "P") {
      const braced = this.peek() === "{" ? /^\{([^}]*)\}/.exec(this.ahead(64)) : null;
      const name = braced ? braced[1]! : (this.peek() ?? "");
      this.pos += braced ? braced[0].length : 1;
      const test = unicodeClass(name, this.text(start));
      return c === "p" ? test : not(test);
    }
    return this.escapedCode(c, start);
  }

  private escapedCode(c: string, start: number): number {
    const simple: Record<string, number> = { a: 7, f: 12, t: 9, n: 10, r: 13, v: 11 };
    if (simple[c] !== undefined) return simple[c]!;
    if (c >= "0" && c <= "7") {
      let digits = c;
      for (let d = this.peek(); digits.length < 3 && d !== undefined && d >= "0" && d <= "7"; d = this.peek()) {
        digits += d;
        this.pos++;
      }
      if (c !== "0" && digits.length === 1) parseError("invalid escape sequence", this.text(start));
      return parseInt(digits, 8);
    }
    if (c === "x") {
      const hex = /^(\{([0-9A-Fa-f]{1,8})\}|[0-9A-Fa-f]{2})/.exec(this.ahead(10));
      if (!hex || parseInt(hex[2] ?? hex[1]!, 16) > 0x10ffff) return parseError("invalid escape sequence", this.text(start, this.pos + 1));
      this.pos += hex[0].length;
      return parseInt(hex[2] ?? hex[1]!, 16);
    }
    const code = c.codePointAt(0)!;
    if (code < 128 && !isWordChar(code)) return code;
    return parseError("invalid escape sequence", this.text(start));
  }

  private charClass(): Re {
    const start = this.pos - 1;
    const negated = this.peek() === "^";
    if (negated) this.pos++;
    const tests: CharTest[] = [];
    for (let first = true; first || this.peek() !== "]"; first = false) {
      if (this.peek() === undefined) parseError("missing closing ]", this.text(start, this.chars.length));
      tests.push(this.classItem(first));
    }
    this.pos++;
    const test = this.flags.i ? foldCase(anyOf(tests)) : anyOf(tests);
    // A negated class matches a newline like any other character it leaves out: Go compiles with ClassNL.
    return { kind: "char", test: negated ? not(test) : test };
  }

  private classItem(first: boolean): CharTest {
    const start = this.pos;
    const posix = /^\[:(\^?)([a-z]+):\]/.exec(this.ahead(12));
    if (posix) {
      const test = POSIX[posix[2]!] ?? parseError("invalid character class range", posix[0]);
      this.pos += posix[0].length;
      return posix[1] ? not(test) : test;
    }
    const lo = this.classChar(first);
    if (typeof lo !== "number") return lo;
    if (this.peek() !== "-" || this.peek(1) === "]" || this.peek(1) === undefined) return (x) => x === lo;
    this.pos++;
    const hi = this.classChar(false);
    if (typeof hi !== "number" || hi < lo) parseError("invalid character class range", this.text(start));
    return range(lo, hi as number);
  }

  /** One character of a class, or a class escape such as `\d`. */
  private classChar(first: boolean): number | CharTest {
    const start = this.pos;
    const c = this.chars[this.pos++]!;
    if (c === 92) return this.classEscape(start);
    return c === 93 && !first ? parseError("missing closing ]", this.text(start)) : c;
  }
}
