/**
 * The one logger: JSON lines in pino's format ({"level":30,"time":…,…fields,"msg":…}), or one readable
 * line per entry for people, formatted by pino-pretty. Not pino itself: loading it brings worker
 * threads and streams for transports this daemon never uses, at a cost in start-up and memory
 * (bench/README.md) that a small host should not pay.
 */

export type LogFormat = "json" | "text";
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** pino's numbers, so tools that read pino's lines read these. */
const LEVEL_VALUES: Record<LogLevel, number> = { fatal: 60, error: 50, warn: 40, info: 30, debug: 20, trace: 10, silent: Infinity };

type Fields = Record<string, unknown>;
type LogMethod = {
  (message: string): void;
  (fields: Fields, message: string): void;
};

export interface Logger {
  fatal: LogMethod;
  error: LogMethod;
  warn: LogMethod;
  info: LogMethod;
  debug: LogMethod;
  trace: LogMethod;
}

/** Where lines go: `fd` 2 keeps stdout free for output that is data (`--dry-run`); `write` for tests. */
export type Sink = 1 | 2 | ((line: string) => void);

export function createLogger(format: LogFormat, level: LogLevel, sink: Sink = 1): Logger {
  const write = typeof sink === "function" ? sink : writerFor(sink === 1 ? process.stdout : process.stderr);
  const render = format === "json" ? jsonLine : prettyRenderer(sink);
  const threshold = LEVEL_VALUES[level];
  const method = (name: Exclude<LogLevel, "silent">): LogMethod => {
    const value = LEVEL_VALUES[name];
    return ((first: Fields | string, message?: string) => {
      if (value < threshold) return;
      const fields = typeof first === "string" ? {} : first;
      write(render({ level: value, time: Date.now(), ...fields, msg: typeof first === "string" ? first : message }));
    }) as LogMethod;
  };
  return {
    fatal: method("fatal"),
    error: method("error"),
    warn: method("warn"),
    info: method("info"),
    debug: method("debug"),
    trace: method("trace"),
  };
}

/** Writes to stdout and stderr are synchronous on Linux for files, pipes and terminals alike. */
function writerFor(stream: NodeJS.WriteStream): (line: string) => void {
  // A reader that went away (`| head`) must not take the daemon down with it.
  stream.on("error", () => undefined);
  return (line) => void stream.write(line);
}

/**
 * C0 controls (newline, carriage return, escape…), DEL, C1 controls (0x9b starts a terminal command
 * too) and the Unicode line separators: what could end a line or drive a terminal from inside a value
 * a container chose, such as `SERVICE_NETWORK=x\n16:20:00.000 INFO: added`.
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
/** The ones JSON.stringify leaves as they are. */
const CONTROL_JSON_KEEPS = /[\u007f-\u009f\u2028\u2029]/g;
const SHORT_ESCAPES: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

const unicodeEscape = (char: string) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`;

/** `a\nb` → `a\\nb`: the text shows what was there, on one line, inert in a terminal. */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (char) => SHORT_ESCAPES[char] ?? unicodeEscape(char));
}

/** One JSON line; the escapes added to what JSON.stringify leaves raw still parse back to the same value. */
function jsonLine(entry: Fields): string {
  return `${JSON.stringify(entry, errorsAsObjects).replace(CONTROL_JSON_KEEPS, unicodeEscape)}\n`;
}

/** Every string and key escaped: pino-pretty prints some fields (msg, name, hostname, stacks) as they are. */
function escapeAll(value: unknown): unknown {
  if (typeof value === "string") return escapeControl(value);
  if (Array.isArray(value)) return value.map(escapeAll);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [escapeControl(key), escapeAll(inner)]));
}

/** Errors as pino shows them: type, message and stack rather than `{}`. */
function errorsAsObjects(_key: string, value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  return { type: value.name, message: value.message, stack: value.stack };
}

/** Loaded only when asked for: the JSON form is the daemon's default and needs none of it. */
function prettyRenderer(sink: Sink): (entry: Fields) => string {
  const { prettyFactory } = require("pino-pretty") as {
    prettyFactory: (options: object) => (entry: Fields) => string;
  };
  const colorize = typeof sink !== "function" && Boolean((sink === 2 ? process.stderr : process.stdout).isTTY);
  const pretty = prettyFactory({ colorize, singleLine: true, translateTime: "SYS:HH:MM:ss.l" });
  return (entry) => pretty(escapeAll(JSON.parse(JSON.stringify(entry, errorsAsObjects))) as Fields);
}
