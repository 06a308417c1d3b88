/**
 * Upgrading from the Go registrator (gliderlabs v7.4.0, ../shared/bin/registrator-go) on host A while
 * host B runs this one: Go's entries of running containers are adopted, those of containers that died
 * meanwhile removed by -cleanup, and nothing else is touched. Consul only (agent and KV): the Go
 * registrator speaks etcd's v2 API, whose keyspace etcd 3.4 keeps apart from v3, so there is nothing
 * in etcd v3 to adopt.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, test } from "node:test";
import { startConsul, type ConsulServer } from "../support/consul.js";
import { allSettledOrThrow, spawnServer, type ServerProcess } from "../support/process.js";
import { consulViews, type RegistryView } from "../support/registry-view.js";
import { SERVICE_IP, startTwoHosts, type HostContainer, type TestHost, type TwoHosts } from "../support/second-host.js";
import { waitFor } from "../support/wait.js";

const HOST_A = hostname();
const HOST_B = `hostb-${process.pid}`;
const GO = join(__dirname, "../../../../shared/bin/registrator-go");
let fleet: TwoHosts;
let consul: ConsulServer;
let a: TestHost;
let b: TestHost;
const goProcesses: ServerProcess[] = [];

before(async () => {
  if (!existsSync(GO)) throw new Error(`${GO} not found: the Go registrator v7.4.0 the upgrade starts from`);
  // Each is kept as soon as it is up, so that `after` stops it even when the other failed to start.
  const hosts = startTwoHosts(HOST_A, HOST_B).then((started) => (fleet = started));
  const agent = startConsul().then((started) => (consul = started));
  await allSettledOrThrow([hosts, agent]);
  ({ a, b } = fleet);
});

afterEach(async () => {
  for (const p of goProcesses.splice(0)) await p.kill();
  await fleet?.reset();
});

after(async () => {
  await fleet?.stop();
  await consul?.stop();
});

function startGo(host: TestHost, uri: string): ServerProcess {
  const p = spawnServer({ name: "registrator-go", command: GO, args: ["-ip", SERVICE_IP, uri], env: { ...process.env, DOCKER_HOST: host.docker.host } });
  goProcesses.push(p);
  return p;
}

async function assertRegistry(v: RegistryView, want: string[]): Promise<void> {
  let last: string[] = [];
  await waitFor(async () => JSON.stringify((last = await v.entries())) === JSON.stringify(want), { what: `${v.backend} to hold ${want}` }).catch(() => undefined);
  assert.deepEqual(last, want);
}

/** The running containers' lines, owned as given: "-" for the Go registrator's entries. */
async function lines(containers: HostContainer[], owner: (c: HostContainer) => string, foreign: string[]): Promise<string[]> {
  const running = new Map([[a, await a.running()], [b, await b.running()]]);
  const held = containers.filter((c) => running.get(c.host)!.has(c.id)).map((c) => `${c.serviceId} ${SERVICE_IP}:${c.port} ${owner(c)}`);
  return [...held, ...foreign].sort();
}

for (const backend of ["consul", "consulkv"] as const) {
  test(`${backend}: registrator-go's entries of this host are adopted or cleaned up; another host's and a hand-made one stay`, async () => {
    const scope = `upgrade${process.pid}${backend}`;
    const v = consulViews(consul, scope)[backend];
    const foreign = await v.plantForeign(HOST_A);
    const a1 = await a.run(`up-${scope}-a1`, scope);
    const a2 = await a.run(`up-${scope}-a2`, scope);
    const b1 = await b.run(`up-${scope}-b1`, scope);
    const go = startGo(a, v.uri);
    const regB = b.registrator(["-cleanup", v.uri]);
    await assertRegistry(v, await lines([a1, a2, b1], (c) => (c.host === a ? "-" : HOST_B), foreign));

    await go.stop();
    await a.docker.docker(["rm", "-f", a2.id]);
    const a3 = await a.run(`up-${scope}-a3`, scope);
    const regA = a.registrator(["-cleanup", v.uri]);
    const removed = await regA.waitForLog((l) => l.msg === "removed: dangling, no container behind it" && l.service === a2.serviceId);
    assert.equal(removed.container, undefined, "an entry without a marker names no container");
    await regA.waitForLog((l) => l.msg === "added" && l.service === a1.serviceId);
    await assertRegistry(v, await lines([a1, a2, a3, b1], (c) => c.host.id, foreign));
    assert.ok(!regB.logs.some((l) => l.msg.startsWith("removed")), "host B removed none of host A's entries");
  });
}
