/**
 * A preload for looking inside one registrator process (not used by run.ts):
 *
 *   node --import ./dist/bench/startup-trace.js dist/src/cli/main.js -ip 127.0.0.1 etcd://…/bench
 *
 * It notes when each log line is written (to stdout, synchronously) relative to the process's
 * time origin, and prints to stderr, as JSON: Node's own start-up milestones and the time of the
 * first lines ("registry reachable", "listening for container events", "synced"), then a memory
 * breakdown (V8 heap spaces, RssAnon / RssFile from /proc) at "synced" and on SIGUSR2. With
 * REGISTRATOR_TRACE_FILE set, the JSON lines are appended to that file instead (handy under
 * `npm run bench -- --node-flags "--import=./dist/bench/startup-trace.js"`, which drops stderr).
 */
import fs from "node:fs";
import { performance } from "node:perf_hooks";
import v8 from "node:v8";

const preloadAt = performance.now();
const marks: Array<{ msg: string; ms: number }> = [];
const WATCHED = ["registry reachable", "listening for container events", "synced"];

const original = process.stdout.write.bind(process.stdout) as (...args: unknown[]) => boolean;
(process.stdout as unknown as { write: (...args: unknown[]) => boolean }).write = function (...args: unknown[]): boolean {
  const data = args[0];
  if (typeof data === "string") {
    for (const msg of WATCHED) {
      if (data.includes(`"msg":"${msg}"`) && !marks.some((m) => m.msg === msg)) {
        marks.push({ msg, ms: round(performance.now()) });
        if (msg === "listening for container events") report("subscribed");
        if (msg === "synced") setTimeout(() => memory("synced + 1 s"), 1000);
      }
    }
  }
  return original(...args);
};

function emit(record: unknown): void {
  const line = `${JSON.stringify({ pid: process.pid, flags: process.execArgv.filter((a) => !a.includes("startup-trace")).join(" "), ...(record as object) })}\n`;
  const file = process.env.REGISTRATOR_TRACE_FILE;
  if (file) fs.appendFileSync(file, line);
  else process.stderr.write(line);
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function report(what: string): void {
  const t = performance.nodeTiming;
  emit({
    trace: what,
    // ms since the process's time origin
    node: {
      v8Start: round(t.v8Start),
      environment: round(t.environment),
      bootstrapComplete: round(t.bootstrapComplete),
      preload: round(preloadAt),
    },
    marks,
  });
}

function procStatus(): Record<string, number> {
  const status = fs.readFileSync("/proc/self/status", "utf8");
  const out: Record<string, number> = {};
  for (const key of ["VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM"]) {
    const kb = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1];
    if (kb) out[key] = round(Number(kb) / 1024);
  }
  return out;
}

function memory(what: string): void {
  const mu = process.memoryUsage();
  const mb = (n: number) => round(n / 2 ** 20);
  const spaces = Object.fromEntries(
    v8.getHeapSpaceStatistics().map((s) => [s.space_name, { size: mb(s.space_size), used: mb(s.space_used_size) }]),
  );
  const heap = v8.getHeapStatistics();
  emit({
    trace: what,
    proc: procStatus(),
    memoryUsage: {
      rss: mb(mu.rss),
      heapTotal: mb(mu.heapTotal),
      heapUsed: mb(mu.heapUsed),
      external: mb(mu.external),
      arrayBuffers: mb(mu.arrayBuffers),
    },
    heap: {
      totalPhysical: mb(heap.total_physical_size),
      malloced: mb(heap.malloced_memory),
      peakMalloced: mb(heap.peak_malloced_memory),
      codeAndMetadata: mb(v8.getHeapCodeStatistics?.().code_and_metadata_size ?? 0),
    },
    spaces,
  });
}

process.on("SIGUSR2", () => memory("SIGUSR2"));
