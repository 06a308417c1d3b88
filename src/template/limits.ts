/**
 * The bounds every render runs within, whoever wrote the template: a container's own SERVICE_TAGS is
 * as untrusted as its other labels. Go's text/template has none of these; each is far above what any
 * documented template needs, and low enough that a render over it fails quickly and in little memory.
 */
import { kindOf } from "./values.js";

export const TEMPLATE_LIMITS = {
  /** Template text, in UTF-8 bytes: the size of the metadata a service may carry. */
  sourceBytes: 64 * 1024,
  /** What a render prints, in UTF-8 bytes: no tag list larger than a service's metadata can be registered. */
  outputBytes: 64 * 1024,
  /** Actions, function calls, {{template}} calls and range iterations, together. */
  steps: 100_000,
  /** Characters any one function may return (a string, or a slice's elements together). */
  valueChars: 1024 * 1024,
  /** Characters all function calls together read and return, plus regexp matching steps. */
  work: 10_000_000,
  /** Nested {{template}} calls; Go allows 100000, a JavaScript stack holds fewer. */
  templateDepth: 1000,
  /** Nested parentheses, {{if}}, {{range}} and {{with}} in the source. */
  nesting: 1000,
  /** States of a compiled regular expression. */
  regexpStates: 10_000,
} as const;

/** A render that went over one of the limits: the executor adds where in the template it was. */
export class LimitExceeded extends Error {
  override name = "LimitExceeded";
}

/** What one render has used so far. */
export class Budget {
  private steps = 0;
  private work = 0;

  step(): void {
    if (++this.steps > TEMPLATE_LIMITS.steps) {
      throw new LimitExceeded(`stopped after ${TEMPLATE_LIMITS.steps} steps, the most a template may take`);
    }
  }

  charge(units: number): void {
    this.work += units;
    if (this.work > TEMPLATE_LIMITS.work) {
      throw new LimitExceeded(`stopped after ${TEMPLATE_LIMITS.work} characters of work, the most a template may do`);
    }
  }
}

/** The budget of the render now running; renders are synchronous, so there is at most one. */
let active: Budget | undefined;

export function withBudget<T>(budget: Budget, run: () => T): T {
  const outer = active;
  active = budget;
  try {
    return run();
  } finally {
    active = outer;
  }
}

/** Counts work done outside the executor's sight, such as a regexp's matching steps. */
export function chargeWork(units: number): void {
  active?.charge(units);
}

/** Fails before a function builds a value longer than any one value may be. */
export function checkValueSize(chars: number, what = "result"): void {
  if (chars > TEMPLATE_LIMITS.valueChars) {
    throw new LimitExceeded(`${what} of ${chars} characters, more than the ${TEMPLATE_LIMITS.valueChars} a value may hold`);
  }
}

/** Refuses a template longer than any a service may carry; renderTemplate names the template in the message. */
export function checkSource(source: string): void {
  const bytes = Buffer.byteLength(source);
  if (bytes > TEMPLATE_LIMITS.sourceBytes) {
    throw new LimitExceeded(`${bytes} bytes of template, more than the ${TEMPLATE_LIMITS.sourceBytes} allowed`);
  }
}

/** A value's size as limits count it: characters of a string, elements of a slice plus their characters, keys of a map. */
export function measure(value: unknown): number {
  if (typeof value === "string" || value instanceof Uint8Array) return value.length;
  if (Array.isArray(value)) {
    let size = value.length;
    for (const element of value) if (typeof element === "string" || element instanceof Uint8Array) size += element.length;
    return size;
  }
  if (typeof value === "object" && value !== null && kindOf(value) === "map") return Object.keys(value).length;
  return 1;
}
