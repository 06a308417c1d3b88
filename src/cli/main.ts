#!/usr/bin/env node
/** Entry point: options → logger, registry, engine watcher and bridge, wired together; exit codes. */
import { lookup } from "node:dns/promises";
import { readFileSync } from "node:fs";
import { hostname as osHostname } from "node:os";
import { Bridge, type Engine } from "../bridge/bridge.js";
import { engineEndpoint } from "../engine/docker.js";
import { EngineWatcher } from "../engine/events.js";
import { createLogger, type Logger } from "../log.js";
import { createAdapter } from "../registry/index.js";
import { InvalidUriError, type RegistryAdapter } from "../registry/types.js";
import { parseRegistryUri } from "../registry/uri.js";
import { parseArgs, usage, UsageError, type Options } from "./args.js";

const EXIT_UNREACHABLE = 1;
const EXIT_USAGE = 2;
const ENGINE_BACKOFF = { initialMs: 250, maxMs: 10_000 };
const REGISTRY_BACKOFF = { initialMs: 500, maxMs: 30_000 };
const CONCURRENCY = 8;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  let options: Options;
  let adapter: RegistryAdapter;
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
    options = command.options;
    const uri = parseRegistryUri(options.uri);
    adapter = await createAdapter({ uri, ttl: options.ttl, ttlRefresh: options.ttlRefresh, env: process.env });
  } catch (err) {
    if (err instanceof UsageError || err instanceof InvalidUriError) {
      process.stderr.write(`registrator: ${err.message}\n`);
      process.stderr.write(err instanceof UsageError && err.showUsage ? `\n${usage()}` : "Run 'registrator --help' for usage.\n");
      return EXIT_USAGE;
    }
    throw err;
  }

  const log = createLogger(options.logFormat, options.logLevel);
  const backend = parseRegistryUri(options.uri).scheme;
  process.on("unhandledRejection", (err) => log.error({ err }, "unhandled rejection"));

  if (!(await connectRegistry(adapter, options, log, backend))) return EXIT_UNREACHABLE;

  const hostname = osHostname();
  const hostIp = await resolveHost(hostname, log);
  let endpoint;
  try {
    endpoint = engineEndpoint(process.env);
  } catch (err) {
    process.stderr.write(`registrator: ${(err as Error).message}\n`);
    return EXIT_USAGE;
  }

  let watcher: EngineWatcher | undefined;
  const engine: Engine = {
    listRunning: async () => (await connectedClient(watcher).listRunning()).map((c) => c.Id),
    inspect: (id) => connectedClient(watcher).inspect(id),
  };
  const bridge = new Bridge(
    engine,
    adapter,
    {
      build: {
        hostname,
        hostIp,
        ip: options.ip,
        internal: options.internal,
        explicit: options.explicit,
        useIpFromLabel: options.useIpFromLabel,
        tags: options.tags,
        ttl: options.ttl,
        network: options.network,
      },
      deregister: options.deregister,
      concurrency: CONCURRENCY,
      retry: REGISTRY_BACKOFF,
      backend,
    },
    log,
  );

  const sync = serialized(async (force: boolean) => {
    await bridge.syncAll({ force });
    if (options.cleanup) await bridge.cleanup();
  });

  watcher = new EngineWatcher(
    endpoint,
    {
      connected: async (client) => {
        log.info({ engine: client.address, api: client.apiVersion }, "listening for container events");
        await sync(false);
        log.info({ services: bridge.registeredServices().length }, "synced");
      },
      event: (event) => {
        log.debug({ container: event.id.slice(0, 12), action: event.action }, "event");
        bridge.mark(event.id, { exitCode: event.exitCode, destroyed: event.action === "destroy" });
      },
      disconnected: (err, retryIn) => log.warn({ engine: endpoint.socketPath ?? endpoint.url }, `failed: engine: ${err.message}; retrying in ${retryIn}ms`),
    },
    ENGINE_BACKOFF,
  );
  watcher.start();

  const timers: NodeJS.Timeout[] = [];
  if (options.resync > 0) {
    timers.push(setInterval(() => void sync(true).catch((err) => log.warn(`failed: resync: ${(err as Error).message}`)), options.resync * 1000));
  }
  if (options.ttlRefresh > 0) {
    timers.push(setInterval(() => void bridge.refreshAll(), options.ttlRefresh * 1000));
  }

  await new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      log.info({ signal }, "stopping");
      resolve();
    };
    process.once("SIGTERM", () => shutdown("SIGTERM"));
    process.once("SIGINT", () => shutdown("SIGINT"));
  });
  // A second signal means "now".
  process.once("SIGTERM", () => process.exit(0));
  process.once("SIGINT", () => process.exit(0));
  for (const timer of timers) clearInterval(timer);
  await watcher.stop();
  await bridge.stop();
  await adapter.close();
  log.info("stopped");
  return 0;
}

function connectedClient(watcher: EngineWatcher | undefined) {
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

/** Runs one at a time; a call made while one runs waits for it, then runs once for all such callers. */
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
