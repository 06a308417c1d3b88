/** The one logger: pino JSON lines, or a readable form for people. */
import { createRequire } from "node:module";
import { pino, type Logger } from "pino";

export type LogFormat = "json" | "text";
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type { Logger };

export function createLogger(format: LogFormat, level: LogLevel): Logger {
  const options = { level, base: undefined };
  if (format === "json") return pino(options, pino.destination({ fd: 1, sync: true }));
  // Loaded only when asked for: the JSON form is the daemon's default and needs none of it.
  const pretty = createRequire(import.meta.url)("pino-pretty") as (opts: object) => NodeJS.WritableStream;
  return pino(
    options,
    pretty({ sync: true, colorize: Boolean(process.stdout.isTTY), ignore: "pid,hostname", translateTime: "SYS:HH:MM:ss.l" }),
  );
}
