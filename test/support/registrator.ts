/** Runs the real CLI as a child process and reads its JSON log lines. */
import { join } from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { waitFor } from "./wait.js";

/** The command users run: bin/registrator, which execs node with the shipped flags. */
export const BIN = join(__dirname, "../../../bin/registrator");

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export interface RegistratorProcess {
  child: ChildProcess;
  logs: LogLine[];
  stderr(): string;
  /** Resolves with the first log line (already seen or still to come) that matches. */
  waitForLog(match: string | RegExp | ((line: LogLine) => boolean), timeoutMs?: number): Promise<LogLine>;
  /** SIGTERM (or the given signal); resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export function startRegistrator(args: string[], env: Record<string, string | undefined> = {}): RegistratorProcess {
  const child = spawn(BIN, args, {
    env: { ...process.env, REGISTRATOR_LOG_FORMAT: "json", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  const logs: LogLine[] = [];
  let stderr = "";
  let pending = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        logs.push({ level: 0, msg: line });
      }
    }
  });
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  const matches = (match: string | RegExp | ((line: LogLine) => boolean)) => (line: LogLine) =>
    typeof match === "function" ? match(line) : typeof match === "string" ? line.msg.includes(match) : match.test(line.msg);
  return {
    child,
    logs,
    stderr: () => stderr,
    waitForLog: (match, timeoutMs = 15_000) =>
      waitFor(() => logs.find(matches(match)), {
        timeoutMs,
        what: `log line ${String(match)}; stderr: ${stderr}; log: ${JSON.stringify(logs.slice(-5))}`,
      }),
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    exited,
  };
}

/** Runs the CLI to completion (for option checks). */
export async function runRegistrator(
  args: string[],
  env: Record<string, string | undefined> = {},
  timeoutMs = 15_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(BIN, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  clearTimeout(timer);
  return { code, stdout, stderr };
}
