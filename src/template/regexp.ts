/**
 * Go's regexp (RE2 syntax) for matchFirstElement and matchAllElements, matched in time linear in the text:
 * the pattern becomes a Thompson NFA whose states are followed all at once, so no pattern can backtrack
 * the way a JavaScript RegExp can. These functions only ask whether a pattern matches, so no submatch is kept.
 */
import { goQuote } from "./lex.js";
import { TEMPLATE_LIMITS, chargeWork } from "./limits.js";
import { NEWLINE, Parser, RegexpError, parseError, isWordChar, type Assertion, type CharTest, type Re } from "./regexp-syntax.js";

type State =
  | { kind: "char"; test: CharTest; next: number }
  | { kind: "split"; next: number; other: number }
  | { kind: "assert"; at: Assertion; next: number }
  | { kind: "match" };

/** Thompson's construction, built back to front: each piece is compiled knowing the state that follows it. */
class Compiler {
  readonly states: State[] = [{ kind: "match" }];

  constructor(private readonly tooLarge: () => never) {}

  private add(state: State): number {
    if (this.states.length >= TEMPLATE_LIMITS.regexpStates) this.tooLarge();
    return this.states.push(state) - 1;
  }

  compile(re: Re, next: number): number {
    switch (re.kind) {
      case "char":
        return this.add({ kind: "char", test: re.test, next });
      case "assert":
        return this.add({ kind: "assert", at: re.at, next });
      case "concat":
        return re.items.reduceRight((after, item) => this.compile(item, after), next);
      case "alternate": {
        const starts = re.items.map((item) => this.compile(item, next));
        return starts.slice(1).reduce((other, start) => this.add({ kind: "split", next: start, other }), starts[0]!);
      }
      case "repeat":
        return this.repeat(re.item, re.min, re.max, next);
    }
  }

  private repeat(item: Re, min: number, max: number, next: number): number {
    let after = next;
    if (max < 0) {
      const loop = this.add({ kind: "split", next: -1, other: next });
      (this.states[loop] as { next: number }).next = this.compile(item, loop);
      after = loop;
    } else {
      for (let k = min; k < max; k++) after = this.add({ kind: "split", next: this.compile(item, after), other: next });
    }
    for (let k = 0; k < min; k++) after = this.compile(item, after);
    return after;
  }
}

/** The states reachable from a set without reading a character: a sparse set, marked per position. */
class StateList {
  readonly ids: Int32Array;
  length = 0;
  private readonly mark: Int32Array;
  private generation = 0;

  constructor(size: number) {
    this.ids = new Int32Array(size);
    this.mark = new Int32Array(size);
  }

  clear(): void {
    this.length = 0;
    this.generation++;
  }

  add(id: number): boolean {
    if (this.mark[id] === this.generation) return false;
    this.mark[id] = this.generation;
    this.ids[this.length++] = id;
    return true;
  }
}

class Program {
  /** Reused from string to string: a list is cleared by a new mark, not by allocating it again. */
  private readonly lists: [StateList, StateList];

  constructor(
    private readonly states: State[],
    private readonly start: number,
  ) {
    this.lists = [new StateList(states.length), new StateList(states.length)];
  }

  get size(): number {
    return this.states.length;
  }

  /** Whether the pattern matches anywhere in `text`; each state followed costs one unit of the render's work. */
  matches(text: string): boolean {
    const chars = [...text].map((c) => c.codePointAt(0)!);
    let [current, next] = this.lists;
    current.clear();
    for (let at = 0; ; at++) {
      if (this.follow(current, this.start, chars, at)) return true;
      chargeWork(current.length + 1);
      if (at === chars.length) return false;
      next.clear();
      for (let k = 0; k < current.length; k++) {
        const state = this.states[current.ids[k]!]!;
        if (state.kind === "char" && state.test(chars[at]!) && this.follow(next, state.next, chars, at + 1)) return true;
      }
      [current, next] = [next, current];
    }
  }

  /** Adds `id` and every state reachable from it at position `at` without reading; true when that reaches the match. */
  private follow(list: StateList, id: number, chars: readonly number[], at: number): boolean {
    const stack = [id];
    while (stack.length > 0) {
      const top = stack.pop()!;
      if (!list.add(top)) continue;
      const state = this.states[top]!;
      if (state.kind === "match") return true;
      if (state.kind === "split") stack.push(state.other, state.next);
      else if (state.kind === "assert" && holds(state.at, chars, at)) stack.push(state.next);
    }
    return false;
  }
}

function holds(at: Assertion, chars: readonly number[], i: number): boolean {
  const before = chars[i - 1];
  const after = chars[i];
  switch (at) {
    case "textStart":
      return i === 0;
    case "textEnd":
      return i === chars.length;
    case "lineStart":
      return i === 0 || before === NEWLINE;
    case "lineEnd":
      return i === chars.length || after === NEWLINE;
    case "wordBoundary":
    case "notWordBoundary": {
      const boundary = isWordChar(before ?? -1) !== isWordChar(after ?? -1);
      return at === "wordBoundary" ? boundary : !boundary;
    }
  }
}

/** Small patterns compiled lately, so that one called in a loop is compiled once. */
const compiled = new Map<string, Program>();
const COMPILED_KEPT = 16;
const COMPILED_KEPT_STATES = 1000;
/** Compiling costs this many matching steps per state. */
const COMPILE_COST = 20;

/** regexp.MatchString's pattern, compiled once: a test per string, or Go's message for a pattern it refuses. */
export function matcher(pattern: string): (s: string) => boolean {
  let program = compiled.get(pattern);
  if (!program) {
    program = compile(pattern);
    if (compiled.size >= COMPILED_KEPT) compiled.delete(compiled.keys().next().value!);
    if (program.size <= COMPILED_KEPT_STATES) compiled.set(pattern, program);
  }
  const found = program;
  return (s) => found.matches(s);
}

function compile(pattern: string): Program {
  const shown = /[`\p{Cc}]/u.test(pattern) ? goQuote(pattern) : `\`${pattern}\``;
  const refuse = (reason: string): never => {
    throw new Error(`regexp: Compile(${shown}): error parsing regexp: ${reason}`);
  };
  // Refused before parsing: no tag needs a pattern this long.
  if (pattern.length > TEMPLATE_LIMITS.regexpStates) refuse(`expression too large: \`${pattern}\``);
  let program: Program;
  try {
    const re = new Parser(pattern, { i: false, m: false, s: false, U: false }).parse();
    const compiler = new Compiler(() => parseError("expression too large", pattern));
    program = new Program(compiler.states, compiler.compile(re, 0));
  } catch (e) {
    if (e instanceof RegexpError) return refuse(e.message);
    throw e;
  }
  chargeWork(program.size * COMPILE_COST);
  return program;
}
