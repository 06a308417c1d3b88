#!/usr/bin/env node
/** Entry point: options → logger, registry, engine watcher and bridge, wired together; exit codes. */
import { lookup } from "node:dns/promises";
import { readFileSync } from "node:fs";
import { hostname as osHostname } from "node:os";
import { Bridge, type Engine } from "../bridge/bridge.js";
import { DockerClient, EngineConfigError, engineEndpoint } from "../engine/docker.js";
import { EngineWatcher } from "../engine/events.js";
import { createLogger, type Logger } from "../log.js";
import type { Monitor } from "../metrics.js";
import type { EndpointOptions } from "../request.js";
import { createAdapter } from "../registry/index.js";
import { RecordingAdapter } from "../registry/recording.js";
import { InvalidUriError, type RegistryAdapter } from "../registry/types.js";
import { parseRegistryUri } from "../registry/uri.js";
import { parseArgs, usage, UsageError, type Options } from "./args.js";

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
const CONCURRENCY = 8;
/** Registry health pings: rare while it answers, frequent while it does not, so recovery is seen within a second. */
const REGISTRY_CHECK = { upMs: 5000, downMs: 1000 };

interface Setup {
  options: Options;
  adapter: RegistryAdapter;
  backend: string;
  endpoint: EndpointOptions;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

/** Everything that can be wrong with the command line, found before anything starts: exit 2. */
async function prepare(argv: string[]): Promise<Setup | number> {
  try {
    const command = parseArgs(argv, process.env, Boolean(process.stdout.isTTY));
    if (command.kind === "help") {
      process.stdout.write(usage());
      return 0;
    }
    if (command.kind === "version") {
      process.stdout.write(`registrator ${version()}\n`);
      return 0;
    }
    const options = command.options;
    const uri = parseRegistryUri(options.uri);
    const endpoint = engineEndpoint(process.env);
    const adapter = await createAdapter({ uri, ttl: options.ttl, ttlRefresh: options.ttlRefresh, env: process.env });
    return { options, adapter: options.dryRun ? new RecordingAdapter(adapter) : adapter, backend: uri.scheme, endpoint };
  } catch (err) {
    if (!(err instanceof UsageError || err instanceof InvalidUriError || err instanceof EngineConfigError)) throw err;
    process.stderr.write(`registrator: ${(err as Error).message}\n`);
    process.stderr.write(err instanceof UsageError && err.showUsage ? `\n${usage()}` : "Run 'registrator --help' for usage.\n");
    return EXIT_USAGE;
  }
}

async function main(argv: string[]): Promise<number> {
  const setup = await prepare(argv);
  if (typeof setup === "number") return setup;
  const { options, adapter, backend } = setup;

  const log = createLogger(options.logFormat, options.logLevel, options.dryRun ? 2 : 1);
  if (adapter.notice) log.info({ backend }, adapter.notice);
  process.on("unhandledRejection", (err) => log.error({ err }, "unhandled rejection"));

  const daemon = !(options.once || options.dryRun);
  const monitor = daemon ? await startMonitor(options, backend, log) : undefined;
  if (monitor === EXIT_FAILED) return EXIT_FAILED;
  // Started together: the registry check, the hostname lookup (not needed with -ip) and, for the
  // daemon, the engine subscription do not wait for each other.
  const hostname = osHostname();
  const hostIp = options.ip ? Promise.resolve(options.ip) : resolveHost(hostname, log);
  const registryReady = connectRegistry(adapter, options, log, backend).then((ok) => {
    if (ok) monitor?.metrics.registryUp(true);
    return ok;
  });

  const bridgeFor = async (engine: Engine) =>
    new Bridge(
      engine,
      adapter,
      {
        build: {
          hostname,
          hostIp: await hostIp,
          ip: options.ip,
          internal: options.internal,
          explicit: options.explicit,
          useIpFromLabel: options.useIpFromLabel,
          tags: options.tags,
          ttl: options.ttl,
          network: options.network,
          requireHealthy: options.requireHealthy,
        },
        deregister: options.deregister,
        concurrency: CONCURRENCY,
        retry: { initialMs: 500, maxMs: options.retryBackoffMax },
        backend,
        registryCheck: REGISTRY_CHECK,
        observer: monitor?.metrics,
      },
      log,
    );

  if (!daemon) return (await registryReady) ? syncOnce(setup, bridgeFor, log) : EXIT_FAILED;
  return runDaemon(setup, bridgeFor, log, registryReady, monitor);
}

/**
 * Before the registry is first reached, so /health answers (503) during start-up retries. Loaded
 * only when asked for: prom-client costs start-up time and memory that small hosts may not spare.
 */
async function startMonitor(options: Options, backend: string, log: Logger): Promise<Monitor | undefined | typeof EXIT_FAILED> {
  if (!options.metricsAddr) return undefined;
  try {
    const monitor = await (await import("../metrics.js")).serveMetrics(options.metricsAddr, backend);
    log.info({ address: monitor.address }, "serving /metrics and /health");
    return monitor;
  } catch (err) {
    log.fatal(`failed: ${(err as Error).message}`);
    process.stderr.write(`registrator: ${(err as Error).message}\n`);
    return EXIT_FAILED;
  }
}

/** `--once` and `--dry-run`: one sync against the engine, then exit. */
async function syncOnce(setup: Setup, bridgeFor: (engine: Engine) => Promise<Bridge>, log: Logger): Promise<number> {
  const { options, adapter, endpoint } = setup;
  let client: DockerClient;
  try {
    client = await DockerClient.connect(endpoint);
  } catch (err) {
    log.fatal(`failed: engine: ${(err as Error).message}`);
    return EXIT_FAILED;
  }
  const bridge = await bridgeFor({
    listRunning: async () => (await client.listRunning()).map((c) => c.Id),
    inspect: (id) => client.inspect(id),
  });
  await bridge.syncAll();
  let cleaned = true;
  if (options.cleanup && !options.dryRun) {
    await bridge.cleanup().catch((err) => {
      log.warn(`failed: cleanup: ${(err as Error).message}`);
      cleaned = false;
    });
  }
  const converged = bridge.converged() && cleaned;
  await bridge.stop(0);
  client.close();
  if (options.dryRun) process.stdout.write(`${JSON.stringify(await adapter.services!(), null, 2)}\n`);
  await adapter.close();
  log.info({ services: bridge.registeredServices().length, converged }, "synced once");
  return converged ? 0 : EXIT_FAILED;
}

async function runDaemon(
  setup: Setup,
  bridgeFor: (engine: Engine) => Promise<Bridge>,
  log: Logger,
  registryReady: Promise<boolean>,
  monitor?: Monitor,
): Promise<number> {
  const { options, adapter, endpoint } = setup;
  let watcher: EngineWatcher | undefined;
  let registryConfirmed = false;
  const bridge = await bridgeFor({
    listRunning: async () => (await connectedClient(watcher).listRunning()).map((c) => c.Id),
    inspect: (id) => connectedClient(watcher).inspect(id),
  });

  // Only the engine's failures may escape: they make the watcher reconnect. A registry that fails
  // the cleanup is retried at the next sync.
  const sync = serialized(async (force: boolean) => {
    await bridge.syncAll({ force });
    if (options.cleanup) await bridge.cleanup().catch((err) => log.warn(`failed: cleanup: ${(err as Error).message}`));
  });

  watcher = new EngineWatcher(
    endpoint,
    {
      connected: async (client) => {
        monitor?.metrics.engineConnected();
        log.info({ engine: client.address, api: client.apiVersion }, "listening for container events");
        if (!(await registryReady)) return;
        await sync(false);
        log.info({ services: bridge.registeredServices().length }, "synced");
      },
      event: (event) => {
        // Until the registry is confirmed, the sync that follows lists whatever these events changed.
        if (!registryConfirmed) return;
        log.debug({ container: event.id.slice(0, 12), action: event.action }, "event");
        bridge.mark(event.id, { exitCode: event.exitCode, destroyed: event.action === "destroy" || event.action === "remove" });
      },
      disconnected: (err, retryIn) => {
        monitor?.metrics.engineDisconnected();
        log.warn({ engine: endpoint.socketPath ?? endpoint.url }, `failed: engine: ${err.message}; retrying in ${retryIn}ms`);
      },
    },
    { initialMs: 250, maxMs: Math.min(10_000, options.retryBackoffMax) },
  );
  watcher.start();
  if (!(await registryReady)) {
    await watcher.stop();
    await monitor?.close();
    return EXIT_FAILED;
  }
  registryConfirmed = true;
  bridge.watchRegistry();

  const timers: NodeJS.Timeout[] = [];
  if (options.resync > 0) {
    const resync = () => void sync(true).catch((err) => log.warn(`failed: resync: ${(err as Error).message}`));
    timers.push(setInterval(resync, options.resync * 1000));
  }
  if (options.ttlRefresh > 0) {
    timers.push(setInterval(() => void bridge.refreshAll(), options.ttlRefresh * 1000));
  }

  const signal = await new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  log.info({ signal }, "stopping");
  // A second signal means "now".
  process.once("SIGTERM", () => process.exit(0));
  process.once("SIGINT", () => process.exit(0));
  for (const timer of timers) clearInterval(timer);
  await watcher.stop();
  await bridge.stop();
  if (options.deregisterOnExit) await bridge.deregisterAll();
  await adapter.close();
  await monitor?.close();
  log.info("stopped");
  return 0;
}

function connectedClient(watcher: EngineWatcher | undefined): DockerClient {
  const client = watcher?.client;
  if (!client) throw new Error("not connected to the engine");
  return client;
}

/** Start-up check of the registry, as the Go registrator does it: -retry-attempts more tries, -retry-interval apart. */
async function connectRegistry(adapter: RegistryAdapter, options: Options, log: Logger, backend: string): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    try {
      await adapter.ping();
      log.info({ backend, registry: options.uri }, "registry reachable");
      return true;
    } catch (err) {
      const message = (err as Error).message;
      if (options.retryAttempts !== -1 && attempt >= options.retryAttempts) {
        log.fatal({ backend, registry: options.uri }, `failed: registry unreachable: ${message}`);
        process.stderr.write(`registrator: registry ${options.uri} unreachable after ${attempt + 1} attempt(s): ${message}\n`);
        return false;
      }
      log.warn({ backend, registry: options.uri }, `failed: registry unreachable: ${message}; retrying in ${options.retryInterval}ms`);
      await new Promise((resolve) => setTimeout(resolve, options.retryInterval));
    }
  }
}

/** The address services bound to 0.0.0.0 get: what the hostname resolves to, as the Go registrator does. */
async function resolveHost(hostname: string, log: Logger): Promise<string> {
  try {
    return (await lookup(hostname)).address;
  } catch (err) {
    log.warn({ hostname }, `hostname does not resolve (${(err as Error).message}); services bound to all interfaces get 0.0.0.0: set -ip`);
    return "0.0.0.0";
  }
}

/** Runs one at a time; a call made while one runs waits for it. */
function serialized<A>(fn: (arg: A) => Promise<void>): (arg: A) => Promise<void> {
  let running: Promise<void> = Promise.resolve();
  return (arg) => {
    running = running.catch(() => undefined).then(() => fn(arg));
    return running;
  };
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`registrator: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
