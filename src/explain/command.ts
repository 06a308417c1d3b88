/**
 * `registrator explain [--json] [options] [CONTAINER...] <registry URI>`: reads the engine and the
 * registry once, writes nothing, and tells what the daemon would register and what the registry holds.
 * Exit 0 when all is in step, 1 when not (or the engine or registry cannot be read), 2 on bad arguments.
 */
import { hostname as osHostname } from "node:os";
import { adapterContext, buildOptions, type Command, type Options } from "../cli/args.js";
import { startupWarnings } from "../cli/warnings.js";
import { DockerClient, EngineConfigError, engineEndpoint, type EngineEndpoint } from "../engine/docker.js";
import { createLogger } from "../log.js";
import { readServiceFile } from "../registry/file.js";
import { createAdapter } from "../registry/index.js";
import { InvalidUriError, type RegistryAdapter, type RegistryUri, type Stored } from "../registry/types.js";
import { parseRegistryUri } from "../registry/uri.js";
import { backendView, withOwners } from "./backend.js";
import { readContainers } from "./collect.js";
import { hostAddress, hostFacts } from "./host.js";
import { explainReport, type ExplainReport } from "./report.js";
import { renderReport, wantsColour } from "./render.js";

const EXIT_NOT_IN_STEP = 1;
const EXIT_USAGE = 2;

type ExplainCommand = Extract<Command, { kind: "explain" }>;

interface Prepared {
  uri: RegistryUri;
  endpoint: EngineEndpoint;
  adapter: RegistryAdapter;
}

export async function explain(command: ExplainCommand): Promise<number> {
  const prepared = await prepare(command.options);
  if (typeof prepared === "number") return prepared;
  const { adapter } = prepared;
  try {
    const report = await explainWith(command, prepared);
    if (!report) return EXIT_NOT_IN_STEP;
    const text = command.json
      ? `${JSON.stringify(report, null, 2)}\n`
      : renderReport(report, { colour: wantsColour(Boolean(process.stdout.isTTY), process.env) });
    process.stdout.write(text);
    return report.inStep ? 0 : EXIT_NOT_IN_STEP;
  } finally {
    await adapter.close().catch(() => undefined);
  }
}

/** The registry URI, the engine's address and the adapter, or exit 2 with one line. */
async function prepare(options: Options): Promise<Prepared | number> {
  try {
    const uri = parseRegistryUri(options.uri);
    const endpoint = engineEndpoint(process.env);
    const adapter = await createAdapter(adapterContext(options, uri, process.env));
    return { uri, endpoint, adapter };
  } catch (err) {
    if (!(err instanceof InvalidUriError || err instanceof EngineConfigError)) throw err;
    process.stderr.write(`registrator explain: ${err.message}\nRun 'registrator --help' for usage.\n`);
    return EXIT_USAGE;
  }
}

async function explainWith(command: ExplainCommand, { uri, endpoint, adapter }: Prepared): Promise<ExplainReport | undefined> {
  const { options } = command;
  const hostname = osHostname();
  const hostIp = await hostAddress(options, hostname);
  const build = buildOptions(options, { hostname, hostIp: hostIp.ip });
  const client = await DockerClient.connect(endpoint).catch((err: Error) => {
    process.stderr.write(`registrator explain: engine: ${err.message}\n`);
    return undefined;
  });
  if (!client) return undefined;
  try {
    // The daemon's notices (a swarm worker's) would only repeat what the report says.
    const log = createLogger("json", "silent");
    const containers = await readContainers(client, command.containers, build, adapter, log, hostname);
    const stored = await readRegistry(uri, adapter);
    const warnings = startupWarnings(await hostFacts(options, uri, endpoint, hostIp.ip));
    if (hostIp.warning) warnings.push(hostIp.warning);
    return explainReport({
      hostId: build.hostId,
      build,
      registry: { uri: uri.raw, backend: uri.scheme },
      warnings,
      containers: containers.explained,
      notFound: containers.notFound,
      running: containers.running,
      stored: Array.isArray(stored) ? withOwners(uri, stored, build.hostId) : stored,
      backend: backendView(uri),
    });
  } finally {
    client.close();
  }
}

/** Everything the registry holds in this adapter's scope, or why it could not be read. Writes nothing. */
async function readRegistry(uri: RegistryUri, adapter: RegistryAdapter): Promise<Stored[] | { error: string }> {
  if (!adapter.services) return { error: "this backend cannot list its entries" };
  try {
    if (uri.scheme === "file") return await readServiceFile(uri.path);
    await adapter.ping();
    return await adapter.services();
  } catch (err) {
    return { error: (err as Error).message };
  }
}
