/**
 * `npm run bench`: start-up, cold sync, resync, event latency, burst and memory of registrator
 * against a real engine and etcd (and Consul, when its binary is found), optionally side by side
 * with another registrator binary (`--compare ../shared/bin/registrator-go`).
 *
 * It prints numbers and never fails on a timing. Everything it starts is stopped at the end, and
 * the only containers it touches are its own (`bench-<n>`, label registrator-bench=1).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { ensureDocker, type DockerHarness } from "../test/support/docker.js";
import { findConsul, startConsul, type ConsulServer } from "../test/support/consul.js";
import { startEtcd, type EtcdServer } from "../test/support/etcd.js";
import { httpRequest } from "../test/support/process.js";
import { EngineApi, pool } from "./engine.js";
import { CONSUL_POLL_MS, consulProbe, etcdProbe, type RegistryProbe } from "./registry.js";
import { jsonReport, table, type Config, type Machine, type TargetResults } from "./report.js";
import * as s from "./scenarios.js";
import { stopAllRegistrators, type TargetSpec } from "./target.js";

const MAIN = join(__dirname, "../src/cli/main.js");
/** The command users run (node with the shipped flags); it execs node, so its pid is node's. */
const BIN = join(__dirname, "../../bin/registrator");
const PHASES = ["startup", "sync", "resync", "rest", "latency", "burst", "cycles", "consul"] as const;
type Phase = (typeof PHASES)[number];
const SERVICE_NAME = "benchapp";
const IMAGE = `bench/${SERVICE_NAME}`;

const USAGE = `usage: npm run bench -- [options]

  --containers N        containers for the cold sync and resync (default 200)
  --cycles N            start/stop cycles for the leak check (default 1000)
  --cycle-concurrency N cycles in flight at once (default 6)
  --latency-samples N   containers started one at a time for the event latency (default 100)
  --burst N             containers started at once (default 100)
  --concurrency N       parallel engine calls for the burst and set-up (default 8)
  --repeat N            runs of the start-up and cold-sync measurements (default 3; start-up: at least 5)
  --resync-passes N     resync passes measured (default 3)
  --rest-seconds N      how long registry requests and CPU are counted at rest, per target and registry (default 60)
  --compare CMD         also measure this registrator (split on spaces), e.g. ../shared/bin/registrator-go;
                        repeatable
  --compare-etcd v2|v3  the etcd API the --compare ones write (default v2: the Go registrator speaks only v2)
  --compare-v3 CMD      also measure this registrator, which writes etcd's v3 API whatever --compare-etcd
                        says (another build of this one, beside the Go one); repeatable
  --node-flags FLAGS    run ours as node FLAGS dist/src/cli/main.js instead of bin/registrator (which
                        adds the launcher's flags), e.g. "" for Node's defaults
  --log-level LEVEL     REGISTRATOR_LOG_LEVEL for ours (default info)
  --start-with api|cli  start containers through the engine API (default) or \`docker start\`
  --only a,b,…          phases: ${PHASES.join(", ")} (default all; consul only when a consul binary is found)
  --no-consul           skip Consul even if found
  --unset-env A,B       environment variables the registrators do not inherit (e.g. NODE_EXTRA_CA_CERTS,
                        which costs every node process ~40 ms of start-up where a host sets it globally)
  --heap-snapshots DIR  ours runs with --heapsnapshot-signal; the cycles phase writes a heap snapshot of it
                        to DIR after the first and the last checkpoint (compare: node dist/bench/heap-diff.js A B)
  --json                print one JSON object instead of the table
  --out FILE            also write that JSON object to FILE
`;

/** The run's sizes and settings are the report's Config; the rest is how to run it. */
interface Args extends Pick<
  Config,
  | "containers"
  | "cycles"
  | "cycleConcurrency"
  | "latencySamples"
  | "burst"
  | "concurrency"
  | "repeat"
  | "resyncPasses"
  | "restSeconds"
  | "logLevel"
  | "startWith"
> {
  /** etcdApi unset: --compare-etcd's. */
  compare: Array<{ command: string; etcdApi?: "v2" | "v3" }>;
  compareEtcd: "v2" | "v3";
  /** Unset: ours is bin/registrator. */
  nodeFlags?: string[];
  phases: Set<Phase>;
  consul: boolean;
  json: boolean;
  unsetEnv: string[];
  heapSnapshots?: string;
  out?: string;
}

function parse(argv: string[]): Args {
  const args: Args = {
    containers: 200,
    cycles: 1000,
    cycleConcurrency: 6,
    latencySamples: 100,
    burst: 100,
    concurrency: 8,
    repeat: 3,
    resyncPasses: 3,
    restSeconds: 60,
    compare: [],
    compareEtcd: "v2",
    logLevel: "info",
    startWith: "api",
    phases: new Set(PHASES),
    consul: true,
    json: false,
    unsetEnv: [],
  };
  const ints: Record<string, keyof Args> = {
    containers: "containers",
    cycles: "cycles",
    "cycle-concurrency": "cycleConcurrency",
    "latency-samples": "latencySamples",
    burst: "burst",
    concurrency: "concurrency",
    repeat: "repeat",
    "resync-passes": "resyncPasses",
    "rest-seconds": "restSeconds",
  };
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i] as string;
    const [flag, inline] = raw.replace(/^--?/, "").split(/=(.*)/s, 2) as [string, string | undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${raw} needs a value`);
      return v;
    };
    if (flag in ints) {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) throw new Error(`${raw}: a positive integer, please`);
      (args as unknown as Record<string, number>)[ints[flag] as string] = n;
    } else if (flag === "compare") args.compare.push({ command: value() });
    else if (flag === "compare-v3") args.compare.push({ command: value(), etcdApi: "v3" });
    else if (flag === "compare-etcd") {
      const v = value();
      if (v !== "v2" && v !== "v3") throw new Error("--compare-etcd: v2 or v3");
      args.compareEtcd = v;
    } else if (flag === "node-flags") args.nodeFlags = value().split(/\s+/).filter(Boolean);
    else if (flag === "log-level") args.logLevel = value();
    else if (flag === "start-with") {
      const v = value();
      if (v !== "api" && v !== "cli") throw new Error("--start-with: api or cli");
      args.startWith = v;
    } else if (flag === "only") {
      const wanted = value()
        .split(",")
        .map((p) => p.trim())
        .filter(Boolean);
      for (const p of wanted) if (!(PHASES as readonly string[]).includes(p)) throw new Error(`--only: unknown phase ${p}`);
      args.phases = new Set(wanted as Phase[]);
    } else if (flag === "no-consul") args.consul = false;
    else if (flag === "json") args.json = true;
    else if (flag === "out") args.out = value();
    else if (flag === "heap-snapshots") args.heapSnapshots = value();
    else if (flag === "unset-env")
      args.unsetEnv = value()
        .split(",")
        .map((v) => v.trim())
        .filter(Boolean);
    else if (flag === "help" || flag === "h") {
      process.stdout.write(USAGE);
      process.exit(0);
    } else throw new Error(`unknown option ${raw}`);
  }
  return args;
}

function progress(message: string): void {
  process.stderr.write(`${message}\n`);
}

interface Target {
  spec: TargetSpec;
  results: TargetResults;
  etcd: EtcdServer;
  probe: RegistryProbe;
  /** Polled every CONSUL_POLL_MS.latency: single events and the requests at rest. */
  consul?: RegistryProbe;
  /** Polled every CONSUL_POLL_MS.sync: the cold sync. */
  consulForSync?: RegistryProbe;
}

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parse(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const machine: Machine = {
    date: new Date().toISOString(),
    cpus: os.availableParallelism?.() ?? os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? "?",
    arch: os.machine(),
    kernel: os.release(),
    node: process.version,
    memTotalMb: Math.round(os.totalmem() / 2 ** 20),
    loadBefore: os.loadavg(),
    loadDuring: [],
    commit: gitCommit(),
    inheritedEnv: ["NODE_OPTIONS", "NODE_EXTRA_CA_CERTS"]
      .filter((k) => process.env[k] && !args.unsetEnv.includes(k))
      .map((k) => `${k}=${process.env[k]}`),
  };
  const hostname = os.hostname();
  const snapshotFlags = args.heapSnapshots ? ["--heapsnapshot-signal=SIGUSR2", `--diagnostic-dir=${args.heapSnapshots}`] : [];
  if (args.heapSnapshots) mkdirSync(args.heapSnapshots, { recursive: true });
  const ours: TargetSpec = {
    label: "ours",
    command: args.nodeFlags || snapshotFlags.length ? [process.execPath, ...(args.nodeFlags ?? []), ...snapshotFlags, MAIN] : [BIN],
    etcdApi: "v3",
    heapSnapshotDir: args.heapSnapshots,
  };
  const specs: TargetSpec[] = [ours];
  for (const compare of args.compare) {
    const command = compare.command.split(/\s+/).filter(Boolean);
    // "registrator-go"; for a node command, "node" and its flags.
    const base = (command[0] ?? "compare").split("/").pop() ?? "compare";
    let label = base === "node" ? ["node", ...command.slice(1).filter((a) => a.startsWith("-"))].join(" ") : base;
    while (specs.some((spec) => spec.label === label)) label += "'";
    specs.push({ label, command, etcdApi: compare.etcdApi ?? args.compareEtcd });
  }
  const config: Config = {
    containers: args.containers,
    cycles: args.cycles,
    cycleConcurrency: args.cycleConcurrency,
    latencySamples: args.latencySamples,
    burst: args.burst,
    concurrency: args.concurrency,
    repeat: args.repeat,
    resyncPasses: args.resyncPasses,
    restSeconds: args.restSeconds,
    logLevel: args.logLevel,
    startWith: args.startWith,
    phases: [...args.phases],
    oursCommand: ours.command.join(" "),
    compareCommands: args.compare.map((compare) => compare.command),
    unsetEnv: args.unsetEnv,
  };

  const tmp = mkdtempSync(join(os.tmpdir(), "registrator-bench-"));
  const targets: Target[] = [];
  let consulServer: ConsulServer | undefined;
  let docker: DockerHarness | undefined;
  let engine: EngineApi | undefined;
  let startedDaemon = false;
  let syncNames: string[] = [];
  let cleaning: Promise<void> | undefined;

  const cleanUp = (): Promise<void> => {
    cleaning ??= (async () => {
      await stopAllRegistrators();
      if (engine) {
        try {
          const mine = await engine.benchContainers();
          if (mine.length) progress(`removing ${mine.length} bench container(s)`);
          await pool(mine, 8, (id) => engine!.remove(id));
        } catch (err) {
          progress(`clean-up: ${(err as Error).message}`);
        }
        engine.close();
      }
      for (const t of targets) await t.etcd.stop().catch(() => undefined);
      await consulServer?.stop().catch(() => undefined);
      if (docker) {
        await docker.docker(["rmi", IMAGE], { allowFail: true }).catch(() => undefined);
        // Only a daemon this bench started is stopped (its stop() also removes labelled test containers).
        if (startedDaemon) await docker.stop().catch(() => undefined);
      }
      rmSync(tmp, { recursive: true, force: true });
    })();
    return cleaning;
  };
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    progress(`${signal}: cleaning up`);
    void cleanUp().finally(() => process.exit(130));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    startedDaemon = !process.env.DOCKER_HOST && !(await daemonAnswers("/var/run/docker.sock"));
    progress(startedDaemon ? "starting dockerd" : `engine: ${process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock"}`);
    docker = await ensureDocker();
    engine = new EngineApi(docker.host);
    const image = await docker.image(IMAGE);
    machine.docker = await serverVersion(engine);
    const leftovers = await engine.benchContainers();
    if (leftovers.length) {
      progress(`removing ${leftovers.length} bench container(s) left by an earlier run`);
      await pool(leftovers, 8, (id) => engine!.remove(id));
    }

    for (const spec of specs) {
      progress(`starting etcd for ${spec.label} (${spec.etcdApi})`);
      const etcd = await startEtcd({ v2: spec.etcdApi === "v2" });
      machine.etcd ??= await etcdVersion(etcd.port);
      const probe = etcdProbe({ port: etcd.port, api: spec.etcdApi, root: "/bench", name: SERVICE_NAME, hostname });
      targets.push({
        spec,
        etcd,
        probe,
        results: { label: spec.label, command: spec.command.join(" "), etcdApi: spec.etcdApi, errors: {} },
      });
    }
    if (args.consul && args.phases.has("consul")) {
      let found: string | undefined;
      try {
        found = findConsul();
      } catch {
        progress("no consul binary: skipping the Consul measurements");
      }
      if (found) {
        progress("starting consul");
        consulServer = await startConsul();
        machine.consul = await consulVersion(consulServer.httpPort);
        for (const t of targets) {
          const probe = (pollMs: number) => consulProbe({ port: consulServer!.httpPort, name: SERVICE_NAME, hostname, pollMs });
          t.consul = probe(CONSUL_POLL_MS.latency);
          t.consulForSync = probe(CONSUL_POLL_MS.sync);
        }
      }
    }

    const ctx: s.BenchContext = {
      engine,
      docker,
      image,
      dockerHost: docker.host,
      socketPath: docker.socketPath,
      logLevel: args.logLevel,
      startWith: args.startWith,
      baseEnv: Object.fromEntries(Object.entries(process.env).filter(([k]) => !args.unsetEnv.includes(k))),
      tmp,
      progress,
    };
    const phase = async (name: Phase, key: string, fn: (t: Target) => Promise<void>) => {
      for (const t of targets) {
        if (interrupted) return;
        try {
          await fn(t);
        } catch (err) {
          t.results.errors[key] = (err as Error).message.split("\n")[0] ?? String(err);
          progress(`  ${t.spec.label} ${name}: ${(err as Error).message}`);
        }
      }
      machine.loadDuring.push({ phase: name, load1: os.loadavg()[0] ?? 0 });
    };

    if (args.phases.has("startup")) {
      progress("start-up and idle RSS");
      for (const t of targets) t.results.startup = { startupMs: [], idleRssMb: [], idlePrivateMb: [] };
      for (let i = 0; i < Math.max(5, args.repeat); i++)
        await phase("startup", "startup", (t) => s.startup(ctx, t.spec, t.probe, t.results.startup!));
    }

    const needSync = ["sync", "resync", "rest", "consul"].some((p) => args.phases.has(p as Phase));
    if (needSync) {
      progress(`creating and starting ${args.containers} containers`);
      syncNames = await s.createSyncContainers(ctx, args.containers, args.concurrency);
      if (args.phases.has("sync")) {
        progress(`cold sync of ${args.containers}`);
        for (const t of targets)
          t.results.coldSync = { syncMs: [], subscribedMs: [], rssAfterSyncMb: [], privateAfterSyncMb: [], cpuMs: [], countFallbacks: 0 };
        for (let i = 0; i < args.repeat; i++)
          await phase("sync", "coldSync", (t) => s.coldSync(ctx, t.spec, t.probe, args.containers, t.results.coldSync!));
      }
      if (args.phases.has("resync")) {
        progress(`resync passes over ${args.containers}`);
        await phase("resync", "resync", async (t) => {
          t.results.resync = { passMs: [], firstWriteMs: [] };
          await s.resync(ctx, t.spec, t.probe, args.containers, args.resyncPasses, t.results.resync);
        });
      }
      if (args.phases.has("rest")) {
        progress(`at rest with ${args.containers} services, ${args.restSeconds} s per target and registry`);
        await phase("rest", "rest", async (t) => {
          t.results.rest = await s.rest(ctx, t.spec, t.probe, args.containers, args.restSeconds * 1000);
          if (t.consul) t.results.consulRest = await s.rest(ctx, t.spec, t.consul, args.containers, args.restSeconds * 1000);
        });
      }
      if (args.phases.has("consul") && consulServer) {
        progress(`Consul: cold sync of ${args.containers}`);
        for (const t of targets)
          t.results.consulSync = { syncMs: [], subscribedMs: [], rssAfterSyncMb: [], privateAfterSyncMb: [], cpuMs: [], countFallbacks: 0 };
        await phase("consul", "consulSync", (t) => s.coldSync(ctx, t.spec, t.consulForSync!, args.containers, t.results.consulSync!));
      }
      progress(`removing the ${args.containers} containers`);
      await s.removeContainers(ctx, syncNames, args.concurrency);
      syncNames = [];
    }

    if (args.phases.has("latency")) {
      progress(`event latency, ${args.latencySamples} starts`);
      await phase("latency", "latency", async (t) => {
        t.results.latency = { samplesMs: [] };
        await s.latency(ctx, t.spec, t.probe, args.latencySamples, t.results.latency);
      });
    }
    if (args.phases.has("consul") && consulServer) {
      const k = Math.min(args.latencySamples, 50);
      progress(`Consul: event latency, ${k} starts`);
      await phase("consul", "consulLatency", async (t) => {
        t.results.consulLatency = { samplesMs: [] };
        await s.latency(ctx, t.spec, t.consul!, k, t.results.consulLatency);
      });
    }
    if (args.phases.has("burst")) {
      progress(`burst of ${args.burst}`);
      await phase("burst", "burst", async (t) => {
        t.results.burst = await s.burst(ctx, t.spec, t.probe, args.burst, args.concurrency);
      });
    }
    if (args.phases.has("cycles")) {
      progress(`${args.cycles} start/stop cycles`);
      await phase("cycles", "cycles", async (t) => {
        t.results.cycles = await s.cycles(ctx, t.spec, t.probe, args.cycles, args.cycleConcurrency);
      });
    }
  } catch (err) {
    progress(`bench: ${(err as Error).stack ?? err}`);
  } finally {
    machine.loadAfter = os.loadavg();
    await cleanUp();
  }

  const results = targets.map((t) => t.results);
  const json = `${JSON.stringify(jsonReport(machine, config, results), null, 2)}\n`;
  if (args.out) writeFileSync(args.out, json);
  if (args.json) process.stdout.write(json);
  else process.stdout.write(table(machine, config, results));
  return 0;
}

/** The checked-out commit, with "+dirty" when src/ has changes not committed (other people's work in progress). */
function gitCommit(): string | undefined {
  try {
    const root = join(__dirname, "../..");
    const head = execFileSync("git", ["-C", root, "rev-parse", "--short", "HEAD"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
    const dirty = execFileSync("git", ["-C", root, "status", "--porcelain", "--", "src", "package.json"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    return undefined;
  }
}

async function daemonAnswers(socketPath: string): Promise<boolean> {
  try {
    return (await httpRequest({ url: "http://docker/_ping", socketPath, timeoutMs: 3_000 })).status === 200;
  } catch {
    return false;
  }
}

async function serverVersion(engine: EngineApi): Promise<string | undefined> {
  try {
    const v = JSON.parse((await engine.request("GET", "/version")).body) as { Version?: string; ApiVersion?: string };
    return `${v.Version} (API ${v.ApiVersion})`;
  } catch {
    return undefined;
  }
}

async function etcdVersion(port: number): Promise<string | undefined> {
  try {
    return (JSON.parse((await httpRequest({ url: `http://127.0.0.1:${port}/version` })).body) as { etcdserver?: string }).etcdserver;
  } catch {
    return undefined;
  }
}

async function consulVersion(port: number): Promise<string | undefined> {
  try {
    const self = JSON.parse((await httpRequest({ url: `http://127.0.0.1:${port}/v1/agent/self` })).body) as {
      Config?: { Version?: string };
    };
    return self.Config?.Version;
  } catch {
    return undefined;
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
