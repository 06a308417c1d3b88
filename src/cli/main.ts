#!/usr/bin/env node
/** Entry point: options → logger, registry, engine and bridge, wired together; exit codes. */
import { readFileSync } from "node:fs";
import { hostname as osHostname } from "node:os";
import { join } from "node:path";
import { Bridge, type BridgeOptions } from "../bridge/bridge.js";
import { firstContact, UnreachableError } from "../bridge/registry-watch.js";
import { DockerClient, EngineConfigError, engineEndpoint, type EngineEndpoint } from "../engine/docker.js";
import { EngineWatcher, type WatchHandlers } from "../engine/events.js";
import { warnAtStartup } from "../explain/host.js";
import { createLogger, type Logger } from "../log.js";
import type { Monitor } from "../monitor/metrics.js";
import { createAdapter } from "../registry/index.js";
import { RecordingAdapter } from "../registry/recording.js";
import { InvalidUriError, type RegistryAdapter } from "../registry/types.js";
import { parseRegistryUri } from "../registry/uri.js";
import { buildOptions, parseArgs, usage, UsageError, type Command, type Options } from "./args.js";

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
/**
 * Containers reconciled at once. Each waits for its registry write, so this is also how many
 * registrations can meet in one request (etcd takes them as one transaction of up to 64): twice that,
 * and the next transaction is already gathering while one is out, and the engine keeps answering the
 * next inspects. 32 synced 200 containers about a quarter faster than 8; 64 took a cold sync of 200
 * from 370 to 346 ms and a `-resync` pass from 146 to 124 ms (medians, side by side; README).
 */
const CONCURRENCY = 64;
/** Registry health pings: rare while it answers, frequent while it does not, so recovery is seen within a second. */
const REGISTRY_CHECK = { upMs: 5000, downMs: 1000 };

/** Ends the process with `code`, after writing `message` (when there is one) to stderr. */
class ExitError extends Error {
  override name = "ExitError";
  constructor(
    readonly code: number,
    message = "",
  ) {
    super(message);
  }
}

interface Setup {
  options: Options;
  adapter: RegistryAdapter;
  backend: string;
  endpoint: EngineEndpoint;
  log: Logger;
}

async function main(argv: string[]): Promise<number> {
  const command = parseCommand(argv);
  if (command.kind === "help") process.stdout.write(usage());
  if (command.kind === "version") process.stdout.write(`registrator ${version()}\n`);
  if (command.kind === "explain") return (require("../explain/command.js") as typeof import("../explain/command.js")).explain(command);
  if (command.kind !== "run") return 0;
  const setup = await prepare(command.options);
  warnAtStartup(setup.options, setup.endpoint, setup.log);
  const notice = setup.adapter.capabilities?.rules?.notice;
  if (notice) setup.log.info({ backend: setup.backend }, notice);
  if (setup.endpoint.warning) setup.log.warn({ engine: setup.endpoint.url }, setup.endpoint.warning);
  process.on("unhandledRejection", (err) => setup.log.error({ err }, "unhandled rejection"));
  return setup.options.once || setup.options.dryRun ? syncOnce(setup) : runDaemon(setup);
}

function parseCommand(argv: string[]): Command {
  try {
    return parseArgs(argv, process.env, Boolean(process.stdout.isTTY));
  } catch (err) {
    throw usageExit(err);
  }
}

/** Everything else that can be wrong with the command line, found before anything starts: exit 2. */
async function prepare(options: Options): Promise<Setup> {
  try {
    const uri = parseRegistryUri(options.uri);
    const endpoint = engineEndpoint(process.env);
    const adapter = await createAdapter({ uri, ttl: options.ttl, ttlRefresh: options.ttlRefresh, env: process.env, cleanup: options.cleanup });
    const log = createLogger(options.logFormat, options.logLevel, options.dryRun ? 2 : 1);
    return { options, adapter: options.dryRun ? new RecordingAdapter(adapter) : adapter, backend: uri.scheme, endpoint, log };
  } catch (err) {
    throw usageExit(err);
  }
}

function usageExit(err: unknown): unknown {
  if (!(err instanceof UsageError || err instanceof InvalidUriError || err instanceof EngineConfigError)) return err;
  const hint = err instanceof UsageError && err.showUsage ? `\n${usage()}` : "Run 'registrator --help' for usage.\n";
  process.stderr.write(`registrator: ${err.message}\n${hint}`);
  return new ExitError(EXIT_USAGE);
}

/** `--once` and `--dry-run`: one sync against the engine, then exit. */
async function syncOnce(setup: Setup): Promise<number> {
  const { options, adapter, log } = setup;
  const hostIp = resolveHostIp(options, log);
  await reachRegistry(setup);
  const client = await DockerClient.connect(setup.endpoint).catch((err: Error) => {
    log.fatal(`failed: engine: ${err.message}`);
    throw new ExitError(EXIT_FAILED);
  });
  const bridge = new Bridge(client, adapter, bridgeOptions(setup, await hostIp), log);
  await bridge.reconciler.syncAll();
  let cleaned = true;
  if (options.cleanup && !options.dryRun) {
    await bridge.cleanup().catch((err: Error) => {
      log.warn(`failed: cleanup: ${err.message}`);
      cleaned = false;
    });
  }
  const converged = bridge.reconciler.converged() && cleaned;
  await bridge.stop(0);
  client.close();
  if (adapter instanceof RecordingAdapter) process.stdout.write(`${JSON.stringify(adapter.written(), null, 2)}\n`);
  await adapter.close();
  log.info({ services: bridge.reconciler.registeredServices().length, converged }, "synced once");
  return converged ? 0 : EXIT_FAILED;
}

async function runDaemon(setup: Setup): Promise<number> {
  const { options, adapter, log } = setup;
  const monitor = await startMonitor(setup);
  const hostIp = resolveHostIp(options, log);
  const registryReady = reachRegistry(setup).then(() => monitor?.metrics.registryUp(true));
  // The watcher is the bridge's engine, and its handlers drive the bridge: they run only once started.
  let bridge!: Bridge;
  const sync = syncer(setup, () => bridge);
  const watcher = new EngineWatcher(setup.endpoint, engineHandlers(setup, () => bridge, sync, registryReady, monitor), {
    initialMs: 250,
    maxMs: Math.min(10_000, options.retryBackoffMax),
  });
  bridge = new Bridge(watcher, adapter, bridgeOptions(setup, await hostIp, monitor), log);
  monitor?.showStatus(() => bridge.snapshot());
  watcher.start();
  await registryReady.catch(async (err: unknown) => {
    await watcher.stop();
    await monitor?.close();
    throw err;
  });
  bridge.start();
  const resync = options.resync > 0 ? setInterval(() => void sync(true), options.resync * 1000) : undefined;
  log.info({ signal: await nextSignal() }, "stopping");
  clearInterval(resync);
  await watcher.stop();
  await bridge.stop();
  if (options.deregisterOnExit) await bridge.deregisterAll();
  await adapter.close();
  await monitor?.close();
  log.info("stopped");
  return 0;
}

/**
 * Lists every container and reconciles it, then cleans up when asked; `force` writes again what is
 * registered (-resync). One at a time. Only the engine's failures may escape, to make the watcher
 * reconnect: a registry that fails the cleanup is tried again at the next sync.
 */
function syncer({ options, log }: Setup, bridge: () => Bridge): (force: boolean) => Promise<void> {
  let running: Promise<void> = Promise.resolve();
  const sync = async (force: boolean) => {
    await bridge().syncAll({ force });
    if (options.cleanup) await bridge().cleanup().catch((err: Error) => log.warn(`failed: cleanup: ${err.message}`));
  };
  return (force) => {
    running = running.catch(() => undefined).then(() => sync(force));
    return running;
  };
}

/** The engine's connection drives the syncs: every (re)subscription lists everything again. */
function engineHandlers(
  setup: Setup,
  bridge: () => Bridge,
  sync: (force: boolean) => Promise<void>,
  registryReady: Promise<void>,
  monitor?: Monitor,
): WatchHandlers {
  const { log } = setup;
  let confirmed = false;
  const registryConfirmed = registryReady.then(
    () => (confirmed = true),
    () => false,
  );
  return {
    connected: async (client) => {
      monitor?.metrics.engineConnected();
      log.info({ engine: client.address, api: client.apiVersion }, "listening for container events");
      if (!(await registryConfirmed)) return;
      await sync(false);
      log.info({ services: bridge().reconciler.registeredServices().length }, "synced");
    },
    event: (event) => {
      if (event.warning) log.warn({ container: event.id.slice(0, 12) }, event.warning);
      // Until the registry is confirmed, the sync that follows lists whatever these events changed.
      if (!confirmed) return;
      log.debug({ container: event.id.slice(0, 12), action: event.action }, "event");
      const { id, action, exitCode } = event;
      const stopped = (action === "die" || action === "died") && exitCode !== undefined;
      bridge().reconciler.mark(id, { exitCode, stopped, destroyed: action === "destroy" || action === "remove", started: action === "start" });
    },
    created: (containerId) => {
      if (!confirmed) return;
      log.debug({ container: containerId.slice(0, 12), action: "create" }, "event");
      bridge().reconciler.created(containerId);
    },
    serviceChanged: (serviceId) => {
      if (!confirmed) return;
      log.debug({ service: serviceId, action: "update" }, "swarm service event");
      bridge().reconciler.markService(serviceId);
    },
    disconnected: (err, retryIn) => {
      monitor?.metrics.engineDisconnected();
      log.warn({ engine: setup.endpoint.socketPath ?? setup.endpoint.url }, `failed: engine: ${err.message}; retrying in ${retryIn}ms`);
    },
  };
}

function bridgeOptions(setup: Setup, hostIp: string, monitor?: Monitor): BridgeOptions {
  const { options } = setup;
  return {
    build: buildOptions(options, { hostname: osHostname(), hostIp }),
    deregister: options.deregister,
    concurrency: CONCURRENCY,
    retry: { initialMs: 500, maxMs: options.retryBackoffMax },
    backend: setup.backend,
    registryCheck: REGISTRY_CHECK,
    observer: monitor?.metrics,
  };
}

/** Rejects with ExitError (exit 1) when the registry stays unreachable through -retry-attempts. */
async function reachRegistry({ adapter, options, backend, log }: Setup): Promise<void> {
  const contact = { retries: options.retryAttempts, intervalMs: options.retryInterval, registry: options.uri, backend };
  await firstContact(() => adapter.ping(), contact, log).catch((err: unknown) => {
    throw err instanceof UnreachableError ? new ExitError(EXIT_FAILED, err.message) : err;
  });
}

/**
 * Before the registry is first reached, so /health answers (503) during start-up retries. Loaded
 * only when asked for: prom-client costs start-up time and memory that small hosts may not spare.
 */
async function startMonitor({ options, backend, log }: Setup): Promise<Monitor | undefined> {
  if (!options.metricsAddr) return undefined;
  try {
    const { serveMetrics } = require("../monitor/metrics.js") as typeof import("../monitor/metrics.js");
    const monitor = await serveMetrics(options.metricsAddr, backend);
    log.info({ address: monitor.address }, "serving /metrics and /health");
    if (monitor.warning) log.warn({ address: monitor.address }, monitor.warning);
    return monitor;
  } catch (err) {
    log.fatal(`failed: ${(err as Error).message}`);
    throw new ExitError(EXIT_FAILED, (err as Error).message);
  }
}

/** The address services bound to 0.0.0.0 get: `-ip`, else what the hostname resolves to, as the Go registrator does. */
async function resolveHostIp(options: Options, log: Logger): Promise<string> {
  if (options.ip) return options.ip;
  const hostname = osHostname();
  try {
    // Loaded only here: most hosts pass -ip, and the resolver's bindings cost start-up time.
    const { lookup } = require("node:dns/promises") as typeof import("node:dns/promises");
    return (await lookup(hostname)).address;
  } catch (err) {
    log.warn({ hostname }, `hostname does not resolve (${(err as Error).message}); services bound to all interfaces get 0.0.0.0: set -ip`);
    return "0.0.0.0";
  }
}

/** Resolves with the first SIGTERM or SIGINT; a second one means "now". */
async function nextSignal(): Promise<string> {
  const signal = await new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  process.once("SIGTERM", () => process.exit(0));
  process.once("SIGINT", () => process.exit(0));
  return signal;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(join(__dirname, "../../../package.json"), "utf8")) as { version: string };
  return pkg.version;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ExitError) {
      if (err.message) process.stderr.write(`registrator: ${err.message}\n`);
      process.exit(err.code);
    }
    process.stderr.write(`registrator: ${(err as Error).stack ?? err}\n`);
    process.exit(EXIT_FAILED);
  },
);
