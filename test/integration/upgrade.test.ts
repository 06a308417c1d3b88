/**
 * Upgrades, with two hosts sharing one registry.
 * - From the Go registrator (gliderlabs v7.4.0, ../shared/bin/registrator-go) on host A while host B
 *   runs this one: Go's entries of running containers are adopted, those of containers that died
 *   meanwhile removed by -cleanup, and nothing else is touched. Consul only (agent and KV): the Go
 *   registrator speaks etcd's v2 API, whose keyspace etcd 3.4 keeps apart from v3, so there is nothing
 *   in etcd v3 to adopt.
 * - From this registrator's earlier layout (etcd, Consul KV), whose markers sat inside the consumer's
 *   path (`<path>/.registrator/<name>/<id>`): each host moves its own markers outside it as it writes.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, test } from "node:test";
import { startConsul, type ConsulServer } from "../support/consul.js";
import { startEtcd, type EtcdServer } from "../support/etcd.js";
import { allSettledOrThrow, spawnServer, type ServerProcess } from "../support/process.js";
import { ownerFlags } from "../../src/registry/consulkv.js";
import { encodeOwner } from "../../src/registry/owner.js";
import { CONSUMER_LINE, consulViews, etcdView, type RegistryView } from "../support/registry-view.js";
import { SERVICE_IP, startTwoHosts, type HostContainer, type TestHost, type TwoHosts } from "../support/second-host.js";
import { waitFor } from "../support/wait.js";

const HOST_A = hostname();
const HOST_B = `hostb-${process.pid}`;
const GO = join(__dirname, "../../../../shared/bin/registrator-go");
let fleet: TwoHosts;
let consul: ConsulServer;
let etcd: EtcdServer;
let a: TestHost;
let b: TestHost;
const goProcesses: ServerProcess[] = [];

before(async () => {
  if (!existsSync(GO)) throw new Error(`${GO} not found: the Go registrator v7.4.0 the upgrade starts from`);
  // Each is kept as soon as it is up, so that `after` stops it even when the other failed to start.
  const hosts = startTwoHosts(HOST_A, HOST_B).then((started) => (fleet = started));
  const agent = startConsul().then((started) => (consul = started));
  const kv = startEtcd().then((started) => (etcd = started));
  await allSettledOrThrow([hosts, agent, kv]);
  ({ a, b } = fleet);
});

afterEach(async () => {
  for (const p of goProcesses.splice(0)) await p.kill();
  await fleet?.reset();
});

after(async () => {
  await fleet?.stop();
  await consul?.stop();
  await etcd?.stop();
});

function startGo(host: TestHost, uri: string): ServerProcess {
  const p = spawnServer({
    name: "registrator-go",
    command: GO,
    args: ["-ip", SERVICE_IP, uri],
    env: { ...process.env, DOCKER_HOST: host.docker.host },
  });
  goProcesses.push(p);
  return p;
}

async function assertRegistry(v: RegistryView, want: string[]): Promise<void> {
  let last: string[] = [];
  await waitFor(async () => JSON.stringify((last = await v.entries())) === JSON.stringify(want), {
    what: `${v.backend} to hold ${want}`,
  }).catch(() => undefined);
  assert.deepEqual(last, want);
}

/** The running containers' lines, owned as given: "-" for the Go registrator's entries. */
async function lines(containers: HostContainer[], owner: (c: HostContainer) => string, foreign: string[]): Promise<string[]> {
  const running = new Map([
    [a, await a.running()],
    [b, await b.running()],
  ]);
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

/** Writes `c`'s entry as the previous version did: its value, and its marker inside the path, together. */
async function plantOldLayout(backend: "etcd" | "consulkv", scope: string, c: HostContainer): Promise<void> {
  const owner = { hostId: c.host.id, container: c.id };
  const value = `${SERVICE_IP}:${c.port}`;
  if (backend === "etcd") {
    await etcd.putTogether({
      [`/${scope}/${scope}/${c.serviceId}`]: value,
      [`/${scope}/.registrator/${scope}/${c.serviceId}`]: encodeOwner(owner),
    });
    return;
  }
  const set = (key: string, text: string, flags: number) => ({
    KV: { Verb: "set", Key: key, Value: Buffer.from(text).toString("base64"), Flags: flags },
  });
  const res = await consul.api("PUT", "/v1/txn", [
    set(`${scope}/${scope}/${c.serviceId}`, value, ownerFlags(owner)),
    set(`${scope}/.registrator/${scope}/${c.serviceId}`, encodeOwner(owner), 0),
  ]);
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

for (const backend of ["etcd", "consulkv"] as const) {
  test(`${backend}: markers inside the path move outside it as each host's registrator writes; a consumer then sees only ip:port`, async () => {
    const scope = `layout${process.pid}${backend}`;
    const v = backend === "etcd" ? etcdView(etcd, scope) : consulViews(consul, scope).consulkv;
    const a1 = await a.run(`up-${scope}-a1`, scope);
    const b1 = await b.run(`up-${scope}-b1`, scope);
    for (const c of [a1, b1]) await plantOldLayout(backend, scope, c);
    const want = await lines([a1, b1], (c) => c.host.id, []);
    await assertRegistry(v, want);
    assert.equal(
      (await v.consumerView()).filter((line) => line.startsWith(".registrator/")).length,
      2,
      "the old layout shows markers to consumers",
    );

    const regA = a.registrator([v.uri]);
    await regA.waitForLog("synced");
    await assertRegistry(v, want);
    assert.deepEqual(
      (await v.consumerView()).filter((line) => line.startsWith(".registrator/")),
      [`.registrator/${scope}/${b1.serviceId}=${encodeOwner({ hostId: HOST_B, container: b1.id })}`],
      "host A moved its own marker, and left host B's",
    );
    if (backend === "etcd") {
      const key = `/${scope}/${scope}/${a1.serviceId}`;
      assert.equal(
        await etcd.modRevisionOf(`/.registrator${key}`),
        await etcd.modRevisionOf(key),
        "the marker moved in the transaction that wrote the entry",
      );
    }

    const regB = b.registrator([v.uri]);
    await regB.waitForLog("synced");
    await assertRegistry(v, want);
    await waitFor(async () => (await v.consumerView()).length === 2, { what: "host B's marker moved" }).catch(() => undefined);
    const seen = await v.consumerView();
    assert.deepEqual(
      seen.filter((line) => !CONSUMER_LINE.test(line)),
      [],
      "a consumer sees only ip:port entries",
    );
    assert.equal(seen.length, 2);
    await regA.stop();
    await regB.stop();
  });
}
