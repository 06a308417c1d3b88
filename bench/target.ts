/**
 * A registrator under test, run as a child process with its output on pipes: the bench notes when
 * the event-subscription line arrives and reads the process's own RSS from /proc/<pid>/status.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";

/** Ours: "listening for container events"; the Go registrator: "Listening for Docker events ...". */
const SUBSCRIBED = /listening for (?:container|docker) events/i;

export interface TargetSpec {
  /** Column header: "ours", "registrator-go". */
  label: string;
  /** argv[0] and leading arguments; the registrator's own flags and URI are appended. */
  command: string[];
  /** Which etcd API it writes (ours: v3; the Go one: v2). */
  etcdApi: "v2" | "v3";
  /** Set when it runs with --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=<this>: where snapshots land. */
  heapSnapshotDir?: string;
}

export interface RegistratorRun {
  readonly pid: number;
  /** performance.now() just before spawn(). */
  readonly spawnedAt: number;
  /** Arrival time of the subscription log line; undefined if the process exited or 20 s passed first. */
  readonly subscribed: Promise<number | undefined>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  running(): boolean;
  /** VmRSS in MB, or undefined once the process is gone. */
  rssMb(): number | undefined;
  /** Private_Dirty in MB: the memory no other process shares, what each extra host really pays. */
  privateMb(): number | undefined;
  /** User + system CPU time used so far, ms (10 ms resolution), or undefined once the process is gone. */
  cpuMs(): number | undefined;
  /** The last lines of its output, for error messages. */
  tail(lines?: number): string;
  /** SIGTERM, SIGKILL after 5 s. */
  stop(): Promise<void>;
  /** Sends SIGUSR2 and waits until the heap snapshot it writes is complete; its path, or undefined. */
  heapSnapshot(): Promise<string | undefined>;
}

const live = new Set<ChildProcess>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    for (const child of live) child.kill("SIGKILL");
  });
}

/** Every registrator still running (for the bench's own clean-up on a signal). */
export async function stopAllRegistrators(): Promise<void> {
  for (const child of [...live]) child.kill("SIGKILL");
}

export function launch(spec: TargetSpec, args: string[], env: NodeJS.ProcessEnv): RegistratorRun {
  hookExit();
  const [file, ...lead] = spec.command;
  if (!file) throw new Error(`empty command for ${spec.label}`);
  const spawnedAt = performance.now();
  const child = spawn(file, [...lead, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  live.add(child);
  const recent: string[] = [];
  let resolveSubscribed: (t: number | undefined) => void = () => undefined;
  const subscribed = new Promise<number | undefined>((resolve) => (resolveSubscribed = resolve));
  let seen = false;
  const giveUp = setTimeout(() => resolveSubscribed(undefined), 20_000);
  const watchStream = (stream: NodeJS.ReadableStream) => {
    let pending = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      const t = performance.now();
      if (!seen && SUBSCRIBED.test(chunk)) {
        seen = true;
        clearTimeout(giveUp);
        resolveSubscribed(t);
      }
      // Keep only a short tail; the rest is read and dropped, as a log collector would.
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines.slice(-20)) {
        recent.push(line);
        if (recent.length > 20) recent.shift();
      }
    });
  };
  watchStream(child.stdout!);
  watchStream(child.stderr!);
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => {
      done = true;
      live.delete(child);
      clearTimeout(giveUp);
      resolveSubscribed(undefined);
      resolve({ code, signal });
    });
    child.once("error", (err) => {
      done = true;
      live.delete(child);
      recent.push(`spawn failed: ${err.message}`);
      clearTimeout(giveUp);
      resolveSubscribed(undefined);
      resolve({ code: null, signal: null });
    });
  });
  const pid = child.pid ?? -1;
  return {
    pid,
    spawnedAt,
    subscribed,
    exited,
    running: () => !done,
    rssMb: () => (done ? undefined : readRssMb(pid)),
    privateMb: () => (done ? undefined : readPrivateMb(pid)),
    cpuMs: () => (done ? undefined : readCpuMs(pid)),
    tail: (lines = 10) => recent.slice(-lines).join("\n"),
    heapSnapshot: async () => {
      const dir = spec.heapSnapshotDir;
      if (!dir || done) return undefined;
      const before = new Set(readdirSync(dir));
      child.kill("SIGUSR2");
      const deadline = performance.now() + 60_000;
      let last = -1;
      while (performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        const file = readdirSync(dir).find((f) => f.endsWith(".heapsnapshot") && !before.has(f));
        if (!file) continue;
        const size = statSync(join(dir, file)).size;
        if (size > 0 && size === last) return join(dir, file);
        last = size;
      }
      return undefined;
    },
    stop: async () => {
      if (done) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** VmRSS of a process in MB (1 MB = 1024 kB, as /proc counts). */
export function readRssMb(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

/** Private_Dirty of a process in MB, from /proc/<pid>/smaps_rollup. */
export function readPrivateMb(pid: number): number | undefined {
  try {
    const kb = /^Private_Dirty:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

/** utime + stime of a process from /proc/<pid>/stat, in ms. */
export function readCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may contain spaces) start at state; utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** sysconf(_SC_CLK_TCK): 100 on Linux everywhere that matters. */
const CLOCK_TICKS = 100;
