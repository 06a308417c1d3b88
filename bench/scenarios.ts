/**
 * The measurements. Each one starts a fresh registrator against an emptied registry, measures,
 * and stops it; nothing here throws on a slow result (a wait that runs out yields undefined).
 */
import { performance } from "node:perf_hooks";
import type { DockerHarness } from "../test/support/docker.js";
import { pool, type EngineApi } from "./engine.js";
import { startCountingProxy } from "./count-proxy.js";
import { startEngineProxy } from "./proxy.js";
import type { KeyWatch, RegistryProbe } from "./registry.js";
import { max, median, percentile, sleep } from "./stats.js";
import { launch, type RegistratorRun, type TargetSpec } from "./target.js";

export interface BenchContext {
  engine: EngineApi;
  docker: DockerHarness;
  image: string;
  dockerHost: string;
  /** The engine's unix socket (for the resync proxy); "" for tcp://. */
  socketPath: string;
  logLevel: string;
  startWith: "api" | "cli";
  /** The environment the registrators get (DOCKER_HOST and the log settings are added). */
  baseEnv: NodeJS.ProcessEnv;
  /** For the resync proxy's socket. */
  tmp: string;
  progress(message: string): void;
}

/** Name ranges per phase, so no two phases (or targets) ever share a container name or host port. */
export const NAMES = { sync: 0, latency: 100_000, burst: 200_000, cycles: 300_000 } as const;
const PORTS = { sync: 10_000, latency: 12_000, burst: 13_000, cycles: 14_000 } as const;

const SETTLE_MS = 1_000;
/**
 * Idle and after-sync memory are read once the process is steady: V8's memory reducer gives back
 * start-up's garbage (about 1.6 MB of registrator's) 8 to 14 s after start; read at 10 s, about one
 * run in four of 26 still showed it.
 */
const STEADY_MS = 20_000;

function envFor(ctx: BenchContext, dockerHost = ctx.dockerHost): NodeJS.ProcessEnv {
  return { ...ctx.baseEnv, DOCKER_HOST: dockerHost, REGISTRATOR_LOG_LEVEL: ctx.logLevel, REGISTRATOR_LOG_FORMAT: "json" };
}

/** Starts the registrator with `-ip 127.0.0.1 [extra] <uri>` and waits for its event subscription. */
async function begin(
  ctx: BenchContext,
  target: TargetSpec,
  probe: RegistryProbe,
  extra: string[] = [],
  dockerHost?: string,
): Promise<RegistratorRun> {
  const run = launch(target, ["-ip", "127.0.0.1", ...extra, probe.uri], envFor(ctx, dockerHost));
  const t = await run.subscribed;
  if (t === undefined) {
    await run.stop();
    throw new Error(`${target.label} did not subscribe to events: ${run.tail() || "(no output)"}`);
  }
  return run;
}

/** Removes the bench containers named, in parallel, ignoring ones already gone. */
async function removeAll(ctx: BenchContext, names: string[], concurrency = 8): Promise<number[]> {
  return pool(names, concurrency, (name) => ctx.engine.remove(name));
}

async function createAll(ctx: BenchContext, names: string[], port: (i: number) => number, concurrency = 8): Promise<void> {
  await pool(names, concurrency, (name, i) => ctx.engine.create(name, ctx.image, port(i)));
}

/** A count through the registry's own API, polled until it equals n; the time it first did, or undefined. */
async function countReaches(probe: RegistryProbe, n: number, timeoutMs: number): Promise<number | undefined> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    try {
      if ((await probe.count()) === n) return performance.now();
    } catch {
      // not yet
    }
    await sleep(5);
  }
  return undefined;
}

/**
 * The watch tells when; the range count confirms. If the count disagrees (the watch missed an
 * event), the time becomes when the count first agreed.
 */
async function confirmed(
  probe: RegistryProbe,
  watchTime: number | undefined,
  n: number,
  timeoutMs: number,
): Promise<{ t: number | undefined; viaCount: boolean }> {
  if (watchTime !== undefined) {
    try {
      if ((await probe.count()) === n) return { t: watchTime, viaCount: false };
    } catch {
      // fall through to polling
    }
  }
  return { t: await countReaches(probe, n, timeoutMs), viaCount: true };
}

async function rssSettled(run: RegistratorRun, settleMs = SETTLE_MS): Promise<number | undefined> {
  await sleep(settleMs);
  const samples: Array<number | undefined> = [];
  for (let i = 0; i < 3; i++) {
    samples.push(run.rssMb());
    await sleep(200);
  }
  return median(samples);
}

// ---------------------------------------------------------------------------------------------

export interface StartupResult {
  /** spawn → the subscription log line, ms, per run */
  startupMs: Array<number | undefined>;
  /** RSS 10 s after start with no bench containers, per run */
  idleRssMb: Array<number | undefined>;
  /** Private_Dirty at the same moment */
  idlePrivateMb: Array<number | undefined>;
}

export async function startup(ctx: BenchContext, target: TargetSpec, probe: RegistryProbe, result: StartupResult): Promise<void> {
  await probe.clear();
  const run = await begin(ctx, target, probe);
  try {
    const t = await run.subscribed;
    result.startupMs.push(t === undefined ? undefined : t - run.spawnedAt);
    result.idleRssMb.push(await rssSettled(run, STEADY_MS));
    result.idlePrivateMb.push(run.privateMb());
  } finally {
    await run.stop();
  }
}

export interface ColdSyncResult {
  /** process spawn → all N services in the registry, ms, per run */
  syncMs: Array<number | undefined>;
  /** spawn → subscription line in the same runs */
  subscribedMs: Array<number | undefined>;
  rssAfterSyncMb: Array<number | undefined>;
  privateAfterSyncMb: Array<number | undefined>;
  /** CPU time the process had used when the sync completed (start-up included), ms */
  cpuMs: Array<number | undefined>;
  /** runs whose time came from the polled count because the watch disagreed */
  countFallbacks: number;
}

/** Cold sync: N containers already run; a fresh registrator, an empty registry. */
export async function coldSync(
  ctx: BenchContext,
  target: TargetSpec,
  probe: RegistryProbe,
  n: number,
  result: ColdSyncResult,
): Promise<void> {
  await probe.clear();
  const watch = await probe.watch();
  const run = launch(target, ["-ip", "127.0.0.1", probe.uri], envFor(ctx));
  try {
    const all = await watch.untilAtLeast(n, 60_000);
    const { t, viaCount } = await confirmed(probe, all, n, 10_000);
    if (viaCount) result.countFallbacks++;
    result.cpuMs.push(run.cpuMs());
    result.syncMs.push(t === undefined ? undefined : t - run.spawnedAt);
    const sub = await run.subscribed;
    result.subscribedMs.push(sub === undefined ? undefined : sub - run.spawnedAt);
    if (t === undefined) ctx.progress(`  ${target.label}: cold sync did not complete; last output:\n${run.tail()}`);
    result.rssAfterSyncMb.push(await rssSettled(run, STEADY_MS));
    result.privateAfterSyncMb.push(run.privateMb());
  } finally {
    watch.close();
    await run.stop();
  }
}

export interface RestResult {
  /** HTTP requests to the registry per minute, with N services registered and nothing changing */
  requestsPerMin?: number;
  /** CPU seconds per hour over the same window */
  cpuSecondsPerHour?: number;
}

/**
 * At rest: N services registered with `-ttl 30 -ttl-refresh 10`, nothing changing; requests are counted
 * over `windowMs`. etcd counts them itself (its /metrics): the Go registrator's v2 client learns
 * etcd's advertised address and would bypass a proxy. Consul, shared by the targets, is reached through
 * a proxy that counts them. This is what a fleet's shared registry carries per host.
 */
export async function rest(ctx: BenchContext, target: TargetSpec, probe: RegistryProbe, n: number, windowMs: number): Promise<RestResult> {
  await probe.clear();
  const upstreamPort = Number(/^\w+:\/\/[^/]*:(\d+)/.exec(probe.uri)?.[1]);
  const proxy = probe.kind === "consul" ? await startCountingProxy(upstreamPort) : undefined;
  const uri = proxy ? probe.uri.replace(`:${upstreamPort}`, `:${proxy.port}`) : probe.uri;
  const requests = proxy ? async () => proxy.requests() : () => etcdRequestsServed(upstreamPort);
  const run = launch(target, ["-ip", "127.0.0.1", "-ttl", "30", "-ttl-refresh", "10", uri], envFor(ctx));
  try {
    if ((await countReaches(probe, n, 60_000)) === undefined) throw new Error(`not all ${n} registered: ${run.tail()}`);
    await sleep(3000);
    const [requests0, cpu0] = [await requests(), run.cpuMs()];
    await sleep(windowMs);
    const [requests1, cpu1] = [await requests(), run.cpuMs()];
    const cpuSecondsPerHour = cpu0 === undefined || cpu1 === undefined ? undefined : ((cpu1 - cpu0) / 1000) * (3_600_000 / windowMs);
    return { requestsPerMin: ((requests1 - requests0) * 60_000) / windowMs, cpuSecondsPerHour };
  } finally {
    await run.stop();
    await proxy?.close();
  }
}

/** Requests etcd has served: v2 HTTP ones and v3 calls (the JSON gateway's included). */
async function etcdRequestsServed(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let total = 0;
  for (const match of text.matchAll(/^(?:etcd_http_received_total|grpc_server_started_total)\{[^}]*\} (\S+)$/gm)) total += Number(match[1]);
  return total;
}

export interface ResyncResult {
  /** container list request → the last of the entries removed before that pass written back, ms, per pass */
  passMs: Array<number | undefined>;
  /** container list request → the first of them written back */
  firstWriteMs: Array<number | undefined>;
}

/** Entries removed before each measured resync pass, spread over the containers. */
export const RESYNC_LOST = 10;

/**
 * Resync pass: `-resync 1` with the engine reached through a proxy that holds back a container list
 * request (the start of a pass), so that no pass runs while the bench removes RESYNC_LOST entries
 * from the registry; the pass ends when every one of them is written back. That is what a pass is
 * for, and the one thing both registrators write: registrator checks the entries it holds and
 * rewrites only what changed, the Go registrator rewrites every entry.
 */
export async function resync(
  ctx: BenchContext,
  target: TargetSpec,
  probe: RegistryProbe,
  n: number,
  passes: number,
  result: ResyncResult,
): Promise<void> {
  if (!ctx.socketPath) throw new Error("the resync measurement needs the engine on a unix socket");
  await probe.clear();
  const proxy = await startEngineProxy(ctx.socketPath, ctx.tmp);
  const watch = await probe.watch();
  const count = Math.min(RESYNC_LOST, n);
  const lost = Array.from({ length: count }, (_, i) => `bench-${NAMES.sync + Math.floor((i * n) / count)}`);
  let run: RegistratorRun | undefined;
  try {
    run = await begin(ctx, target, probe, ["-resync", "1"], proxy.host);
    if ((await watch.untilAtLeast(n, 60_000)) === undefined)
      throw new Error(`cold sync before the resync passes did not complete: ${run.tail()}`);
    for (let pass = 0; pass < passes; pass++) {
      const release = await proxy.holdNextList();
      for (const name of lost) await probe.remove(name);
      const start = release();
      const keys = lost.map((name) => probe.keyOf(name));
      const back = await watch.until(() => {
        const times = keys.map((key) => watch.events.find((e) => e.type === "put" && e.key === key && e.t >= start)?.t);
        return times.every((t) => t !== undefined) ? (times as number[]) : undefined;
      }, 30_000);
      result.passMs.push(back === undefined ? undefined : Math.max(...back) - start);
      result.firstWriteMs.push(back === undefined ? undefined : Math.min(...back) - start);
    }
  } finally {
    watch.close();
    await run?.stop();
    await proxy.close();
  }
}

export interface LatencyResult {
  /** `docker start` returned → the service's key arrived through the watch, ms, per container */
  samplesMs: Array<number | undefined>;
  p50?: number;
  p95?: number;
  p99?: number;
  max?: number;
  /** registrator CPU time per started (and later removed) container, ms */
  cpuMsPerContainer?: number;
}

/** Event latency: containers started one at a time against a running, synced registrator. */
export async function latency(
  ctx: BenchContext,
  target: TargetSpec,
  probe: RegistryProbe,
  samples: number,
  result: LatencyResult,
): Promise<void> {
  await probe.clear();
  const watch = await probe.watch();
  const names = Array.from({ length: samples }, (_, i) => `bench-${NAMES.latency + i}`);
  let run: RegistratorRun | undefined;
  try {
    run = await begin(ctx, target, probe);
    await sleep(SETTLE_MS);
    const cpuBefore = run.cpuMs();
    for (const [i, name] of names.entries()) {
      await ctx.engine.create(name, ctx.image, PORTS.latency + i);
      await sleep(20);
      const before = performance.now();
      let returned: number;
      if (ctx.startWith === "cli") {
        await ctx.docker.docker(["start", name]);
        returned = performance.now();
      } else returned = await ctx.engine.start(name);
      const seen = await watch.untilPut(probe.keyOf(name), before, 10_000);
      result.samplesMs.push(seen === undefined ? undefined : seen - returned);
      await sleep(20);
    }
    await removeAll(ctx, names);
    await watch.untilAtMost(0, 10_000);
    const cpuAfter = run.cpuMs();
    if (cpuBefore !== undefined && cpuAfter !== undefined) result.cpuMsPerContainer = (cpuAfter - cpuBefore) / samples;
  } finally {
    await removeAll(ctx, names).catch(() => undefined);
    watch.close();
    await run?.stop();
  }
  result.p50 = percentile(result.samplesMs, 50);
  result.p95 = percentile(result.samplesMs, 95);
  result.p99 = percentile(result.samplesMs, 99);
  result.max = max(result.samplesMs);
}

export interface BurstResult {
  size: number;
  /** last `start` returned → all registered */
  registeredAfterLastStartMs?: number;
  /** first `start` issued → all registered */
  registeredAfterFirstStartMs?: number;
  /** the starts themselves, first issued → last returned */
  startSpanMs?: number;
  /** last `rm -f` returned → all gone */
  goneAfterLastRemoveMs?: number;
  goneAfterFirstRemoveMs?: number;
  removeSpanMs?: number;
  countFallbacks: number;
}

/** Burst: B created containers started at once (concurrency c), then all removed at once. */
export async function burst(
  ctx: BenchContext,
  target: TargetSpec,
  probe: RegistryProbe,
  size: number,
  concurrency: number,
): Promise<BurstResult> {
  const result: BurstResult = { size, countFallbacks: 0 };
  await probe.clear();
  const watch = await probe.watch();
  const names = Array.from({ length: size }, (_, i) => `bench-${NAMES.burst + i}`);
  let run: RegistratorRun | undefined;
  try {
    run = await begin(ctx, target, probe);
    await createAll(ctx, names, (i) => PORTS.burst + i, concurrency);
    await sleep(SETTLE_MS);

    const firstStart = performance.now();
    const started = await pool(names, concurrency, (name) => ctx.engine.start(name));
    const lastStart = max(started) as number;
    const all = await watch.untilAtLeast(size, 60_000);
    const reg = await confirmed(probe, all, size, 10_000);
    if (reg.viaCount) result.countFallbacks++;
    if (reg.t !== undefined) {
      result.registeredAfterLastStartMs = reg.t - lastStart;
      result.registeredAfterFirstStartMs = reg.t - firstStart;
    }
    result.startSpanMs = lastStart - firstStart;
    await sleep(SETTLE_MS);

    const firstRemove = performance.now();
    const removed = await removeAll(ctx, names, concurrency);
    const lastRemove = max(removed) as number;
    const none = await watch.untilAtMost(0, 60_000);
    const gone = await confirmed(probe, none, 0, 10_000);
    if (gone.viaCount) result.countFallbacks++;
    if (gone.t !== undefined) {
      result.goneAfterLastRemoveMs = gone.t - lastRemove;
      result.goneAfterFirstRemoveMs = gone.t - firstRemove;
    }
    result.removeSpanMs = lastRemove - firstRemove;
  } finally {
    await removeAll(ctx, names).catch(() => undefined);
    watch.close();
    await run?.stop();
  }
  return result;
}

export interface CyclesResult {
  cycles: number;
  concurrency: number;
  /** RSS after the registry settled at each checkpoint (cycle count → MB); cycle 0 = before the first */
  rssMb: Array<{ cycle: number; mb: number | undefined }>;
  /** RSS(last checkpoint) − RSS(first checkpoint after 0), MB */
  growthMb?: number;
  growthFrom?: number;
  /** cycles whose registration or removal was not seen within 10 s */
  missed: number;
  /** start returned → registered, under churn */
  latencyP50?: number;
  latencyP95?: number;
  wallS?: number;
  /** registrator CPU time per cycle (start, register, remove, deregister), ms */
  cpuMsPerCycle?: number;
  /** heap snapshots taken after the first and the last checkpoint (with --heap-snapshots) */
  heapSnapshots?: string[];
}

/**
 * Leak check: `cycles` create/start → registered → rm -f → removed, `concurrency` at a time; RSS is
 * read once the registry has settled at every fifth of the run.
 */
export async function cycles(
  ctx: BenchContext,
  target: TargetSpec,
  probe: RegistryProbe,
  count: number,
  concurrency: number,
): Promise<CyclesResult> {
  const result: CyclesResult = { cycles: count, concurrency, rssMb: [], missed: 0 };
  const checkpoints = [...new Set([1, 2, 3, 4, 5].map((k) => Math.max(1, Math.round((count * k) / 5))))];
  await probe.clear();
  const watch = await probe.watch();
  let run: RegistratorRun | undefined;
  const latencies: Array<number | undefined> = [];
  const began = performance.now();
  try {
    run = await begin(ctx, target, probe);
    result.rssMb.push({ cycle: 0, mb: await rssSettled(run) });
    const cpuBefore = run.cpuMs();
    let done = 0;
    for (const checkpoint of checkpoints) {
      const batch = Array.from({ length: checkpoint - done }, (_, i) => done + i);
      // Worker k always uses host port PORTS.cycles + k: its previous container is gone by then.
      let nextIndex = 0;
      await Promise.all(
        Array.from({ length: Math.min(concurrency, batch.length) }, async (_, slot) => {
          while (nextIndex < batch.length) {
            const j = batch[nextIndex++] as number;
            const seen = await oneCycle(ctx, probe, watch, `bench-${NAMES.cycles + j}`, PORTS.cycles + slot);
            if (seen.registered === undefined || seen.gone === undefined) result.missed++;
            latencies.push(seen.registered);
          }
        }),
      );
      done = checkpoint;
      await watch.untilAtMost(0, 10_000);
      result.rssMb.push({ cycle: checkpoint, mb: await rssSettled(run) });
      // After the RSS reading: writing a snapshot makes the process grow.
      if (target.heapSnapshotDir && (checkpoint === checkpoints[0] || checkpoint === checkpoints.at(-1))) {
        const file = await run.heapSnapshot();
        if (file) (result.heapSnapshots ??= []).push(file);
      }
      ctx.progress(`  ${target.label}: ${checkpoint}/${count} cycles, RSS ${result.rssMb.at(-1)?.mb?.toFixed(1)} MB`);
    }
    const cpuAfter = run.cpuMs();
    if (cpuBefore !== undefined && cpuAfter !== undefined) result.cpuMsPerCycle = (cpuAfter - cpuBefore) / count;
  } finally {
    watch.close();
    await run?.stop();
  }
  const first = result.rssMb.find((r) => r.cycle > 0);
  const last = result.rssMb.at(-1);
  if (first && last && first !== last && first.mb !== undefined && last.mb !== undefined) {
    result.growthMb = last.mb - first.mb;
    result.growthFrom = first.cycle;
  }
  result.latencyP50 = percentile(latencies, 50);
  result.latencyP95 = percentile(latencies, 95);
  result.wallS = (performance.now() - began) / 1000;
  return result;
}

async function oneCycle(
  ctx: BenchContext,
  probe: RegistryProbe,
  watch: KeyWatch,
  name: string,
  hostPort: number,
): Promise<{ registered?: number; gone?: number }> {
  const key = probe.keyOf(name);
  try {
    await ctx.engine.create(name, ctx.image, hostPort);
    const before = performance.now();
    const started = await ctx.engine.start(name);
    const seen = await watch.untilPut(key, before, 10_000);
    const removed = await ctx.engine.remove(name);
    const gone = await watch.untilGone(key, 10_000);
    return { registered: seen === undefined ? undefined : seen - started, gone: gone === undefined ? undefined : gone - removed };
  } catch (err) {
    ctx.progress(`  cycle ${name}: ${(err as Error).message}`);
    await ctx.engine.remove(name).catch(() => undefined);
    return {};
  }
}

/** Creates and starts the N cold-sync containers (not timed). */
export async function createSyncContainers(ctx: BenchContext, n: number, concurrency: number): Promise<string[]> {
  const names = Array.from({ length: n }, (_, i) => `bench-${NAMES.sync + i}`);
  await createAll(ctx, names, (i) => PORTS.sync + i, concurrency);
  await pool(names, concurrency, (name) => ctx.engine.start(name));
  return names;
}

export async function removeContainers(ctx: BenchContext, names: string[], concurrency: number): Promise<void> {
  await removeAll(ctx, names, concurrency);
}
