#!/usr/bin/env node
/** Entry point: options → logger, registry, engine and bridge, wired together; exit codes. */
import { readFileSync } from "node:fs";
import { hostname as osHostname } from "node:os";
import { join } from "node:path";
import { Bridge, type BridgeOptions } from "../bridge/bridge.js";
import { firstContact, UnreachableError } from "../bridge/registry-watch.js";
import { DockerClient, EngineConfigError, engineEndpoint, type EngineEndpoint } from "../engine/docker.js";
import { EngineWatcher, type WatchHandlers } from "../engine/events.js";
import { hostAddress, warnAtStartup } from "../explain/host.js";
import type { TaskClaim } from "../engine/swarm.js";
import type { Engine } from "../engine/types.js";
import { createLogger, type Logger } from "../log.js";
import type { Monitor } from "../monitor/metrics.js";
import { createAdapter } from "../registry/index.js";
import { RecordingAdapter } from "../registry/recording.js";
import { InvalidUriError, type RegistryAdapter, type RegistryUri } from "../registry/types.js";
import { parseRegistryUri } from "../registry/uri.js";
import type { ContainerInfo, Listed, SwarmFacts } from "../service/types.js";
import { adapterContext, buildOptions, parseArgs, usage, UsageError, type Command, type Options } from "./args.js";

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
/**
 * Containers reconciled at once. Each waits for its registry write, so this is also how many
 * registrations can meet in one request (etcd takes them as one transaction of up to 64): twice that,
 * and the next transaction is already gathering while one is out (docs/performance.md).
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
  uri: RegistryUri;
  endpoint: EngineEndpoint;
  log: Logger;
  /** The address services bound to 0.0.0.0 get, resolved once at start-up. */
  hostIp: Promise<string>;
}

async function main(argv: string[]): Promise<number> {
  const command = parseCommand(argv);
  if (command.kind === "help") process.stdout.write(usage());
  if (command.kind === "version") process.stdout.write(`registrator ${version()}\n`);
  // Its own command: the daemon never loads it (docs/performance.md).
  if (command.kind === "explain") return (require("../explain/command.js") as typeof import("../explain/command.js")).explain(command);
  if (command.kind !== "run") return 0;
  const setup = await prepare(command.options);
  warnAtStartup(setup.options, setup.uri, setup.endpoint, setup.hostIp, setup.log);
  const notice = setup.adapter.capabilities?.rules?.notice;
  if (notice) setup.log.info({ backend: setup.uri.scheme }, notice);
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
    const adapter = await createAdapter(adapterContext(options, uri, process.env));
    const log = createLogger(options.logFormat, options.logLevel, options.dryRun ? 2 : 1);
    const hostIp = resolveHostIp(options, log);
    return { options, adapter: options.dryRun ? new RecordingAdapter(adapter) : adapter, uri, endpoint, log, hostIp };
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
  const { adapter, log } = setup;
  await reachRegistry(setup);
  const client = await DockerClient.connect(setup.endpoint).catch((err: Error) => {
    log.fatal(`failed: engine: ${err.message}`);
    throw new ExitError(EXIT_FAILED);
  });
  const bridge = new Bridge(client, adapter, bridgeOptions(setup, await setup.hostIp), log);
  await bridge.sync();
  const converged = bridge.converged();
  await bridge.stop(0);
  client.close();
  if (adapter instanceof RecordingAdapter) process.stdout.write(`${JSON.stringify(adapter.written(), null, 2)}\n`);
  await adapter.close();
  log.info({ services: bridge.registeredCount(), converged }, "synced once");
  return converged ? 0 : EXIT_FAILED;
}

/**
 * The daemon: the monitor, the engine's connection, the bridge, the watcher that feeds it and the
 * resync timer, started in that order and stopped in reverse.
 */
async function runDaemon(setup: Setup): Promise<number> {
  const { options, adapter, log } = setup;
  const monitor = await startMonitor(setup);
  const registryReady = reachRegistry(setup).then(() => monitor?.metrics.registryUp(true));
  const engine = new EngineConnection();
  const bridge = new Bridge(engine, adapter, bridgeOptions(setup, await setup.hostIp, monitor), log);
  monitor?.showStatus(() => bridge.snapshot());
  const watcher = new EngineWatcher(setup.endpoint, engineHandlers(setup, engine, bridge, registryReady, monitor), {
    initialMs: 250,
    maxMs: Math.min(10_000, options.retryBackoffMax),
  });
  watcher.start();
  await registryReady.catch(async (err: unknown) => {
    await watcher.stop();
    await monitor?.close();
    throw err;
  });
  bridge.start();
  const resync = options.resync > 0 ? setInterval(() => void resyncPass(bridge, log), options.resync * 1000) : undefined;
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

/** A -resync pass; an engine that fails it is the watcher's to reconnect to. */
async function resyncPass(bridge: Bridge, log: Logger): Promise<void> {
  await bridge.sync(true).catch((err: Error) => log.warn(`failed: resync: ${err.message}`));
}

/**
 * The engine as the bridge reads it: through the connection the watcher made last. The watcher
 * reports each connection before it passes on any event that came through it.
 */
class EngineConnection implements Engine {
  private client?: DockerClient;

  use(client: DockerClient): void {
    this.client = client;
  }

  listRunning(): Promise<Listed[]> {
    return this.connected().listRunning();
  }

  inspect(id: string): Promise<ContainerInfo | undefined> {
    return this.connected().inspect(id);
  }

  swarmTask(claim: TaskClaim): Promise<SwarmFacts> {
    return this.connected().swarmTask(claim);
  }

  private connected(): DockerClient {
    if (!this.client) throw new Error("not connected to the engine");
    return this.client;
  }
}

/** The engine's connection drives the syncs: every (re)subscription lists everything again. */
function engineHandlers(
  setup: Setup,
  engine: EngineConnection,
  bridge: Bridge,
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
      engine.use(client);
      monitor?.metrics.engineConnected();
      log.info({ engine: client.address, api: client.apiVersion }, "listening for container events");
      if (!(await registryConfirmed)) return;
      await bridge.sync();
      log.info({ services: bridge.registeredCount() }, "synced");
    },
    event: (event) => {
      if (event.warning) log.warn({ container: event.id.slice(0, 12) }, event.warning);
      // Until the registry is confirmed, the sync that follows lists whatever these events changed.
      if (confirmed) bridge.engineEvent(event);
    },
    serviceChanged: (serviceId) => {
      if (!confirmed) return;
      log.debug({ service: serviceId, action: "update" }, "swarm service event");
      bridge.serviceChanged(serviceId);
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
    backend: setup.uri.scheme,
    registryCheck: REGISTRY_CHECK,
    cleanup: options.cleanup && !options.dryRun,
    observer: monitor?.metrics,
  };
}

/** Rejects with ExitError (exit 1) when the registry stays unreachable through -retry-attempts. */
async function reachRegistry({ adapter, options, uri, log }: Setup): Promise<void> {
  const contact = { retries: options.retryAttempts, intervalMs: options.retryInterval, registry: options.uri, backend: uri.scheme };
  await firstContact(() => adapter.ping(), contact, log).catch((err: unknown) => {
    throw err instanceof UnreachableError ? new ExitError(EXIT_FAILED, err.message) : err;
  });
}

/**
 * Before the registry is first reached, so /health answers (503) during start-up retries. Loaded
 * only when asked for: prom-client costs start-up time and memory that small hosts may not spare.
 */
async function startMonitor({ options, uri, log }: Setup): Promise<Monitor | undefined> {
  if (!options.metricsAddr) return undefined;
  try {
    const { serveMetrics } = require("../monitor/metrics.js") as typeof import("../monitor/metrics.js");
    const monitor = await serveMetrics(options.metricsAddr, uri.scheme);
    log.info({ address: monitor.address }, "serving /metrics and /health");
    if (monitor.warning) log.warn({ address: monitor.address }, monitor.warning);
    return monitor;
  } catch (err) {
    log.fatal(`failed: ${(err as Error).message}`);
    throw new ExitError(EXIT_FAILED, (err as Error).message);
  }
}

/** The address services bound to 0.0.0.0 get; said once when the hostname does not resolve. */
async function resolveHostIp(options: Options, log: Logger): Promise<string> {
  const { ip, warning } = await hostAddress(options);
  if (warning) log.warn(warning);
  return ip;
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
