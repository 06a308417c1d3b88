/**
 * Ours against the Go registrator (gliderlabs v7.4.0) on the same generated containers: both sync a
 * private dockerd into a Consul agent each, in default, -internal, -explicit, -tags and
 * -useIpFromLabel modes, and what each asked its agent to register is compared field by field.
 * Consul 1.0.8 does not report check definitions back, so a recording proxy in front of each agent
 * keeps the registration requests. Every difference must be on the allow-list (allow-list.ts), which
 * quotes the README sentence documenting it; anything else fails with container, mode, field and
 * both values. The scene is seeded: DIFFTEST_SEED=<seed> builds the same containers again.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { after, before, test } from "node:test";
import { startConsul, type ConsulServer } from "../../support/consul.js";
import { BASE_IMAGE, startPrivateDocker, type PrivateDocker } from "../../support/docker.js";
import { allSettledOrThrow } from "../../support/process.js";
import { startRecordingProxy, type RecordingProxy } from "../../support/recording-proxy.js";
import { startRegistratorGo, type GoRegistrator } from "../../support/registrator-go.js";
import { startRegistrator, type RegistratorProcess } from "../../support/registrator.js";
import { sleep, waitFor } from "../../support/wait.js";
import { ALLOW_LIST } from "./allow-list.js";
import { acceptedRegistrations, differences, isRegistration, judge, report, type Registration, type Verdict } from "./compare.js";
import {
  containerOfServiceId,
  describe as describeSpec,
  generateContainers,
  IMAGE_TAGS,
  IP_LABEL,
  runArgs,
  sentinelSpec,
  type ContainerSpec,
} from "./generate.js";
import { chooseSeed, Prng } from "./prng.js";

const SEED = chooseSeed();
const COUNT = Number(process.env.DIFFTEST_CONTAINERS ?? 50);
const PREFIX = "dt";
const USER_NETWORK = "difftest-net";
/** Starting a container takes about a second on a busy machine. */
const SETUP_TIMEOUT_MS = 60_000 + COUNT * 3_000;
const MODE_TIMEOUT_MS = 120_000;
/** No new registration for this long after both say they are done: nothing is still on its way. */
const QUIET_MS = 1_000;

interface Mode {
  name: string;
  args: string[];
}

const MODES: readonly Mode[] = [
  { name: "default", args: [] },
  { name: "-internal", args: ["-internal"] },
  { name: "-explicit", args: ["-explicit"] },
  // A template, as v7.4 allows in -tags, with spaces and an empty part around it.
  { name: "-tags", args: ["-tags", "ops, blue,,{{.Config.Hostname}}"] },
  { name: "-useIpFromLabel", args: ["-useIpFromLabel", IP_LABEL] },
];

let docker: PrivateDocker | undefined;
let networkCreated = false;
const consuls: ConsulServer[] = [];
const proxies: RecordingProxy[] = [];
let specs: ContainerSpec[] = [];
/** Ids of the containers run with `--net container:`. */
const dependents: string[] = [];
const used = new Set<string>();
/** DIFFTEST_DUMP=<file>: the scene and both sides' registrations, for looking into a failure offline. */
const dump: { seed: number; specs: ContainerSpec[]; modes: Record<string, { ours: Registration[]; go: Registration[] }> } = {
  seed: SEED,
  specs: [],
  modes: {},
};

console.log(`differential test: DIFFTEST_SEED=${SEED}, ${COUNT} containers`);

before(
  async () => {
    const began = Date.now();
    docker = await startPrivateDocker();
    const imageId = await prepareImages(docker);
    await docker.docker(["network", "create", "--subnet", freeSubnet(), USER_NETWORK]);
    networkCreated = true;
    specs = [sentinelSpec(PREFIX), ...generateContainers(new Prng(SEED), PREFIX, COUNT)];
    await runContainers(docker, specs, imageId);
    console.log(`${specs.length} containers running after ${((Date.now() - began) / 1000).toFixed(1)} s`);
    // Each agent is kept as soon as it is up, so that `after` stops it even when the other failed.
    const agents = [0, 1].map(() => startConsul({ enableScriptChecks: true }).then((agent) => (consuls.push(agent), agent)));
    await allSettledOrThrow(agents);
    for (const agent of consuls) proxies.push(await startRecordingProxy(agent.httpPort, isRegistration));
  },
  { timeout: SETUP_TIMEOUT_MS },
);

after(async () => {
  if (process.env.DIFFTEST_DUMP) writeFileSync(process.env.DIFFTEST_DUMP, JSON.stringify({ ...dump, specs }, null, 1));
  const unused = ALLOW_LIST.filter((entry) => !used.has(entry.id)).map((entry) => entry.id);
  if (unused.length) console.log(`allow-list entries this scene did not need: ${unused.join(", ")}`);
  try {
    for (const proxy of proxies) await proxy.close();
    await Promise.all(consuls.map((agent) => agent.stop()));
  } finally {
    await stopDocker();
  }
});

async function stopDocker(): Promise<void> {
  if (!docker) return;
  try {
    // Containers that share another's network go first, so none is left holding an endpoint.
    if (dependents.length) await docker.docker(["rm", "-f", ...dependents], { allowFail: true });
    await docker.removeAll();
    // A user network's Linux bridge outlives its daemon: remove it while the daemon runs.
    if (networkCreated) await removeNetwork(docker, USER_NETWORK);
  } finally {
    await docker.stop();
  }
}

/**
 * A /24 of 10.215.0.0/16 that no interface of this host is in: the shared daemon and other tests'
 * daemons make networks too, and two bridges with one subnet break each other's routes.
 */
function freeSubnet(): string {
  const taken = new Set(
    Object.values(networkInterfaces())
      .flatMap((addresses) => addresses ?? [])
      .map((a) => /^10\.215\.(\d+)\./.exec(a.address)?.[1])
      .filter((octet) => octet !== undefined),
  );
  const start = Math.floor(Math.random() * 250);
  for (let i = 0; i < 250; i++) {
    const octet = String((start + i) % 250);
    if (!taken.has(octet)) return `10.215.${octet}.0/24`;
  }
  throw new Error("no free /24 in 10.215.0.0/16 for the test's network");
}

/**
 * A `docker run` that failed on a taken host port can leave its endpoint on the network after the
 * container is gone (a dockerd 20.10 bug), which keeps `network rm` from working: those endpoints
 * are disconnected first.
 */
async function removeNetwork(d: PrivateDocker, network: string): Promise<void> {
  if ((await d.docker(["network", "rm", network], { allowFail: true })).code === 0) return;
  const { stdout } = await d.docker(["network", "inspect", "--format", "{{range .Containers}}{{.Name}} {{end}}", network]);
  for (const endpoint of stdout.split(" ").filter(Boolean))
    await d.docker(["network", "disconnect", "-f", network, endpoint], { allowFail: true });
  await d.docker(["network", "rm", network]);
}

for (const mode of MODES) {
  test(
    `${mode.name}: ours registers what the Go registrator registers, but for the documented differences`,
    { timeout: MODE_TIMEOUT_MS },
    async (t) => {
      const { ours, go } = await syncBoth(mode);
      dump.modes[mode.name] = { ours: [...ours.values()], go: [...go.values()] };
      assert.ok(go.size > 1 && ours.size > 1, `too few services to compare: Go ${go.size}, ours ${ours.size}`);
      const verdicts = compare(mode, ours, go);
      const unexplained = verdicts.filter((v) => v.allowedBy.length === 0);
      for (const v of verdicts) v.allowedBy.forEach((id) => used.add(id));
      t.diagnostic(
        `Go ${go.size} services, ours ${ours.size}; ${verdicts.length - unexplained.length} documented difference(s): ${tally(verdicts)}`,
      );
      assert.equal(unexplained.length, 0, report(unexplained, SEED, describeSpec));
    },
  );
}

/** The test image under the generated containers' tags, and one that exposes ports of its own. Returns the image id. */
async function prepareImages(d: PrivateDocker): Promise<string> {
  for (const tag of [IMAGE_TAGS.web, IMAGE_TAGS.api, IMAGE_TAGS.cache]) await d.image(tag);
  const source = "difftest-exposing-source";
  await d.docker(["create", "--name", source, BASE_IMAGE]);
  try {
    await d.docker(["commit", "--change", "EXPOSE 8080/tcp", "--change", "EXPOSE 5353/udp", source, IMAGE_TAGS.exposing]);
  } finally {
    await d.docker(["rm", "-f", source], { allowFail: true });
  }
  const { stdout } = await d.docker(["image", "inspect", "--format", "{{.Id}}", BASE_IMAGE]);
  return stdout.trim();
}

/**
 * The sentinel first (the Go registrator syncs it last), then the rest, a few at a time; containers
 * that share another's network after that one runs.
 */
async function runContainers(d: PrivateDocker, all: readonly ContainerSpec[], imageId: string): Promise<void> {
  const ids = new Map<number, string>();
  const start = async (spec: ContainerSpec) => {
    const args = runArgs(spec, { userNetwork: USER_NETWORK, containerIds: ids, imageId });
    const id = await runRetryingPortClash(d, spec.name, args);
    ids.set(spec.index, id);
    if (spec.network.kind === "container") dependents.push(id);
  };
  const [sentinel, ...rest] = all;
  await start(sentinel!);
  const independent = rest.filter((s) => s.network.kind !== "container");
  const dependent = rest.filter((s) => s.network.kind === "container");
  for (const batch of [...chunks(independent, 8), ...chunks(dependent, 8)]) await Promise.all(batch.map(start));
}

/**
 * Other daemons on this host hand out host ports from the same range, and this daemon binds each one
 * it hands out, so an ephemeral port may be taken already; the next attempt gets the next port.
 */
async function runRetryingPortClash(d: PrivateDocker, name: string, args: string[]): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await d.run(args);
    } catch (err) {
      if (attempt === 5 || !/address already in use/.test((err as Error).message)) throw err;
      await d.docker(["rm", "-f", name], { allowFail: true });
    }
  }
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Both registrators, from empty agents, until both have synced; returns each one's accepted registrations. */
async function syncBoth(mode: Mode): Promise<{ ours: Map<string, Registration>; go: Map<string, Registration> }> {
  const [goAgent, oursAgent] = consuls as [ConsulServer, ConsulServer];
  const [goProxy, oursProxy] = proxies as [RecordingProxy, RecordingProxy];
  await Promise.all([emptyAgent(goAgent), emptyAgent(oursAgent)]);
  goProxy.recorded.length = 0;
  oursProxy.recorded.length = 0;
  const args = ["-ip", "127.0.0.1", ...mode.args];
  let go: GoRegistrator | undefined;
  let ours: RegistratorProcess | undefined;
  try {
    go = startRegistratorGo([...args, `consul://${goProxy.address}`], docker!.host);
    ours = startRegistrator([...args, `consul://${oursProxy.address}`], { DOCKER_HOST: docker!.host });
    await ours.waitForLog("synced", MODE_TIMEOUT_MS / 2);
    const sentinel = `:${sentinelSpec(PREFIX).name}:`;
    await waitFor(() => goProxy.recorded.some((r) => r.body.includes(sentinel)), {
      timeoutMs: MODE_TIMEOUT_MS / 2,
      what: `the Go registrator to register the sentinel; its log:\n${go.log()}`,
    });
    await quiet([goProxy, oursProxy]);
  } finally {
    await ours?.stop();
    await go?.stop();
  }
  return { ours: acceptedRegistrations(oursProxy.recorded), go: acceptedRegistrations(goProxy.recorded) };
}

async function emptyAgent(agent: ConsulServer): Promise<void> {
  const { body } = await agent.api<Record<string, unknown>>("GET", "/v1/agent/services");
  for (const id of Object.keys(body).filter((id) => id !== "consul")) {
    await agent.api("PUT", `/v1/agent/service/deregister/${encodeURIComponent(id)}`);
  }
}

async function quiet(watched: readonly RecordingProxy[]): Promise<void> {
  const count = () => watched.reduce((n, p) => n + p.recorded.length, 0);
  for (let seen = count(); ;) {
    await sleep(QUIET_MS);
    if (count() === seen) return;
    seen = count();
  }
}

function compare(mode: Mode, ours: Map<string, Registration>, go: Map<string, Registration>): Verdict[] {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const verdicts: Verdict[] = [];
  for (const id of [...new Set([...ours.keys(), ...go.keys()])].sort()) {
    const name = containerOfServiceId(PREFIX, id);
    const container = name ? byName.get(name) : undefined;
    const ctx = { mode: mode.name, container, ours: ours.get(id), go: go.get(id) };
    for (const d of differences(mode.name, id, ctx.ours, ctx.go)) verdicts.push(judge({ ...d, container }, ctx, ALLOW_LIST));
  }
  return verdicts;
}

function tally(verdicts: readonly Verdict[]): string {
  const counts = new Map<string, number>();
  for (const v of verdicts) for (const id of v.allowedBy) counts.set(id, (counts.get(id) ?? 0) + 1);
  return [...counts].map(([id, n]) => `${id} ×${n}`).join(", ") || "none";
}
