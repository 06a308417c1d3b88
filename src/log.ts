/** The one logger: pino JSON lines, or a readable form for people. */
import { createRequire } from "node:module";
import { pino, type Logger } from "pino";

export type LogFormat = "json" | "text";
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type { Logger };

/** `fd` 2 keeps stdout free for output that is data (`--dry-run`). */
export function createLogger(format: LogFormat, level: LogLevel, fd: 1 | 2 = 1): Logger {
  const options = { level, base: undefined };
  if (format === "json") return pino(options, pino.destination({ fd, sync: true }));
  // Loaded only when asked for: the JSON form is the daemon's default and needs none of it.
  const pretty = createRequire(import.meta.url)("pino-pretty") as (opts: object) => NodeJS.WritableStream;
  return pino(
    options,
    pretty({ sync: true, singleLine: true, destination: fd, colorize: Boolean((fd === 1 ? process.stdout : process.stderr).isTTY), ignore: "pid,hostname", translateTime: "SYS:HH:MM:ss.l" }),
  );
}
