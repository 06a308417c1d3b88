// Spawning test servers (dockerd, etcd, Consul, ZooKeeper) so that none of them
// outlives the test process, and so that a failed start can show its log.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { accessSync, closeSync, constants, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from "node:fs";
import { request as httpPlainRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { waitFor } from "./wait.js";

export interface SpawnOptions {
  /** Short name used in temp dir names and error messages. */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Where stdout and stderr go; defaults to a new temp file. */
  logFile?: string;
  /** Signal sent if the test process exits while this server still runs. */
  exitSignal?: NodeJS.Signals;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

export interface ServerProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Settles when the process has exited (or failed to spawn). */
  readonly exited: Promise<ExitStatus>;
  running(): boolean;
  /** SIGTERM, then SIGKILL after graceMs (default 10 s); resolves on exit. */
  stop(graceMs?: number): Promise<ExitStatus>;
  /** SIGKILL; resolves on exit. */
  kill(): Promise<ExitStatus>;
  /** The last lines of the captured output, for error messages. */
  logTail(lines?: number): string;
}

const live = new Set<{ child: ChildProcess; exitSignal: NodeJS.Signals }>();
const cleanupDirs = new Set<string>();
const pendingUndos = new Set<() => void>();
let hooksInstalled = false;

/** Set KEEP_TEST_DIRS=1 to keep data dirs and logs for a post-mortem. */
const keepDirs = process.env.KEEP_TEST_DIRS === "1";

/** A new directory under the system's temp dir, deleted when the test process exits. */
export function tempDir(name: string): string {
  installExitHooks();
  const dir = mkdtempSync(join(tmpdir(), `registrator-${name}-`));
  cleanupDirs.add(dir);
  return dir;
}

export function removeDir(dir: string): void {
  cleanupDirs.delete(dir);
  deleteDir(dir);
}

/**
 * For what a harness makes outside its directories (network links and namespaces): the returned
 * function undoes it, once; the exit hook runs it if the test process ends first.
 */
export function undoable(undo: () => void): () => void {
  installExitHooks();
  const once = (): void => {
    if (pendingUndos.delete(once)) undo();
  };
  pendingUndos.add(once);
  return once;
}

/**
 * Whatever a server left mounted below dir (a stopped dockerd's netns bind mount, a killed one's
 * container overlays, a Podman storage) is detached first, deepest first, even when the files are
 * kept: rm fails on a mount point, and would delete through one.
 */
function deleteDir(dir: string): void {
  for (const point of mountPointsUnder(dir)) spawnSync("umount", ["-l", point]);
  if (!keepDirs) rmSync(dir, { recursive: true, force: true });
}

function mountPointsUnder(dir: string): string[] {
  let table: string;
  try {
    table = readFileSync("/proc/self/mounts", "utf8");
  } catch {
    return [];
  }
  return table
    .split("\n")
    .map((line) => line.split(" ")[1] ?? "")
    .filter((point) => point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/**
 * Waits for every one of several starts to settle, then rejects with the first failure: a test that
 * stops what did start (in its `after`) must not be told of a failure while another start still runs.
 */
export async function allSettledOrThrow<T extends readonly unknown[]>(starts: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const results = await Promise.allSettled(starts);
  const failed = results.find((result) => result.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return results.map((result) => (result as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/**
 * A reference binary: `$<envVar>` when set, else `name` on the PATH, else the copy in `shared/bin`
 * beside the repository. Throws with `hint` when there is none.
 */
export function findReferenceBinary(name: string, envVar: string, hint: string): string {
  const fromEnv = process.env[envVar];
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`${envVar}=${fromEnv} does not exist`);
    return fromEnv;
  }
  const shared = join(repoRoot(), "..", "shared", "bin", name);
  const found = findExecutable(name) ?? (existsSync(shared) ? shared : undefined);
  if (!found) throw new Error(hint);
  return found;
}

// This file runs from dist/test/support, so the repository is found by walking up to package.json
// rather than by a fixed number of "..".
function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${__filename}`);
    dir = parent;
  }
  return dir;
}

/** Absolute path of an executable: the first candidate that exists, else a PATH lookup. */
export function findExecutable(name: string, preferred: string[] = []): string | undefined {
  const candidates = [
    ...preferred,
    ...(process.env.PATH ?? "")
      .split(delimiter)
      .filter(Boolean)
      .map((d) => join(d, name)),
  ];
  return candidates.find(isExecutable);
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function spawnServer(opts: SpawnOptions): ServerProcess {
  installExitHooks();
  const logFile = opts.logFile ?? join(tempDir(`${opts.name}-log`), `${opts.name}.log`);
  // The child writes straight to the file, so its output does not depend on
  // our event loop and survives us for a post-mortem.
  const fd = openSync(logFile, "a");
  let child: ChildProcess;
  try {
    child = spawn(opts.command, opts.args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ["ignore", fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  const entry = { child, exitSignal: opts.exitSignal ?? "SIGKILL" };
  live.add(entry);
  // Unref'd so a test that forgets stop() does not hang the run; the exit
  // hook then kills the server.
  child.unref();
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    child.once("error", (error) => resolve({ code: null, signal: null, error }));
  }).finally(() => live.delete(entry));
  let done = false;
  void exited.then(() => (done = true));

  const terminate = async (signal: NodeJS.Signals, graceMs: number): Promise<ExitStatus> => {
    if (done) return exited;
    child.ref();
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    name: opts.name,
    pid: child.pid ?? -1,
    logFile,
    exited,
    running: () => !done,
    stop: (graceMs = 10_000) => terminate("SIGTERM", graceMs),
    kill: () => terminate("SIGKILL", 10_000),
    logTail: (lines = 40) => tailOf(logFile, lines),
  };
}

export function tailOf(file: string, lines = 40): string {
  if (!existsSync(file)) return "(no log)";
  const text = readFileSync(file, "utf8").trimEnd();
  return text.split("\n").slice(-lines).join("\n") || "(empty log)";
}

/** Describes an unexpected exit, for start-up errors. */
export function describeExit(status: ExitStatus): string {
  if (status.error) return `failed to spawn: ${status.error.message}`;
  return status.signal ? `killed by ${status.signal}` : `exited with code ${status.code}`;
}

function killAll(): void {
  for (const { child, exitSignal } of live) {
    try {
      child.kill(exitSignal);
    } catch {
      // already gone
    }
  }
  live.clear();
  for (const undo of [...pendingUndos]) undo();
  for (const dir of cleanupDirs) deleteDir(dir);
}

// 'exit' covers normal ends and uncaught errors; the signal handlers cover
// the runner cancelling us (Ctrl-C, --test-timeout), after which we re-raise
// so the process still dies of that signal. SIGKILL cannot be caught.
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", killAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = (): void => {
      killAll();
      process.off(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

export interface HttpOptions {
  method?: string;
  /** "http://127.0.0.1:2379/path" or "https://..."; ignored host part with socketPath. */
  url: string;
  /** Talk HTTP over a unix socket instead (the Docker API). */
  socketPath?: string;
  body?: string;
  headers?: Record<string, string>;
  /** PEM contents, for https to servers with a test CA and client certificates. */
  ca?: string;
  cert?: string;
  key?: string;
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * One HTTP(S) request with node:http(s): unlike global fetch it can use a unix
 * socket and a custom CA with client certificates, without undici.
 */
export function httpRequest(opts: HttpOptions): Promise<HttpResponse> {
  const url = new URL(opts.url);
  const send = url.protocol === "https:" ? httpsRequest : httpPlainRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      {
        method: opts.method ?? "GET",
        ...(opts.socketPath ? { socketPath: opts.socketPath } : { hostname: url.hostname, port: url.port }),
        path: `${url.pathname}${url.search}`,
        headers: { ...(opts.body === undefined ? {} : { "content-type": "application/json" }), ...opts.headers },
        ca: opts.ca,
        cert: opts.cert,
        key: opts.key,
        agent: false,
        timeout: opts.timeoutMs ?? 5_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${opts.method ?? "GET"} ${opts.url}: no answer in ${opts.timeoutMs ?? 5_000}ms`)));
    req.on("error", reject);
    req.end(opts.body);
  });
}

/**
 * Polls probe until the server answers; gives up at once if the process
 * exits, and puts the tail of its log in the error either way. With
 * `quietMs`, it also gives up once the log has said nothing for that long:
 * a server that is still busy logging (recovering its data) is given up to
 * timeoutMs, one that is silent is not waited for.
 */
export async function waitUntilReady(
  proc: ServerProcess,
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  opts: { quietMs?: number } = {},
): Promise<void> {
  let exit: ExitStatus | undefined;
  void proc.exited.then((status) => (exit = status));
  const quiet = opts.quietMs === undefined ? () => false : silentFor(proc.logFile, opts.quietMs);
  let wentQuiet = false;
  // The log's last line first: it usually says why, and a long tail may be cut short where it is shown.
  const fail = (reason: string): Error =>
    new Error(`${proc.name} did not start: ${reason}; its log ends: ${proc.logTail(1)}\n--- ${proc.logFile} ---\n${proc.logTail()}`);
  try {
    await waitFor(async () => exit !== undefined || (wentQuiet = quiet()) || (await probe()), { timeoutMs, intervalMs: 100, what });
  } catch (err) {
    throw fail((err as Error).message);
  }
  if (exit) throw fail(describeExit(exit));
  if (wentQuiet) throw fail(`its log said nothing for ${opts.quietMs} ms, waiting for ${what}`);
}

/** A check that is true once `file` has not grown for `ms`. */
function silentFor(file: string, ms: number): () => boolean {
  let size = -1;
  let grewAt = Date.now();
  return () => {
    const now = existsSync(file) ? statSync(file).size : 0;
    if (now !== size) {
      size = now;
      grewAt = Date.now();
    }
    return Date.now() - grewAt >= ms;
  };
}
