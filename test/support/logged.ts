import { createLogger, type Logger } from "../../src/log.js";

/** A logged line as a test reads it: the message and the fields beside it. */
export interface LoggedLine {
  msg: string;
  level: number;
  [field: string]: unknown;
}

/** A logger at info level whose JSON lines a test reads back from `lines`. */
export function logged(): { lines: LoggedLine[]; log: Logger } {
  const lines: LoggedLine[] = [];
  return { lines, log: createLogger("json", "info", (line) => void lines.push(JSON.parse(line) as LoggedLine)) };
}
