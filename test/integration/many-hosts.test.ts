/**
 * A fleet sharing one registry: two hosts (two dockerds of this file's own), a registrator on each
 * with its own --host-id, against one etcd, one Consul (KV, and its agent as a central one), one
 * ZooKeeper and the Eureka double. Every test ends with the registry compared exactly with what both
 * daemons run, and with a consumer's prefix listing that shows only `<name>/<id>` = `ip:port`.
 */
import assert from "node:assert/strict";
import { hostname } from "node:os";
import { after, afterEach, before, describe, test } from "node:test";
import { freePort } from "../support/ports.js";
import { allSettledOrThrow } from "../support/process.js";
import { CONSUMER_LINE, startRegistries, type Registries, type RegistryView } from "../support/registry-view.js";
import { runRegistrator, type LogLine, type RegistratorProcess } from "../support/registrator.js";
import { SERVICE_IP, startTwoHosts, type HostContainer, type TestHost, type TwoHosts } from "../support/second-host.js";
import { sleep, waitFor } from "../support/wait.js";

/** Host A keeps the hostname, as v7 and the Go registrator do; host B has an id of its own. */
const HOST_A = hostname();
const HOST_B = `hostb-${process.pid}`;
const BACKENDS = ["etcd", "consulkv", "consul", "zookeeper", "eureka"];
/** Those with check-and-set writes; Consul's agent API and Eureka have none. */
const ATOMIC = ["etcd", "consulkv", "zookeeper"];
let fleet: TwoHosts;
let registries: Registries;
let a: TestHost;
let b: TestHost;
let scopes = 0;

before(async () => {
  // Each is kept as soon as it is up, so that `after` stops it even when the other failed to start.
  const hosts = startTwoHosts(HOST_A, HOST_B).then((started) => (fleet = started));
  const servers = startRegistries().then((started) => (registries = started));
  await allSettledOrThrow([hosts, servers]);
  ({ a, b } = fleet);
});

// Every registrator registers every container of its host: nothing of one test may outlive it.
afterEach(async () => {
  await fleet?.reset();
});

after(async () => {
  await fleet?.stop();
  await registries?.stop();
});

/** A scope of its own for each test: the registry path and the service name. */
function view(what: string, backend: string): RegistryView & { scope: string } {
  const scope = `${what}${process.pid}x${++scopes}`;
  return { ...registries.views(scope).find((v) => v.backend === backend)!, scope };
}

/** The lines the registry must hold: each running container's service but the losers', owned by its registrator's host id, and the foreign ones. */
async function expected(
  containers: HostContainer[],
  losers: HostContainer[],
  foreign: string[] = [],
  owner = (c: HostContainer) => c.host.id,
): Promise<string[]> {
  const running = new Map([
    [a, await a.running()],
    [b, await b.running()],
  ]);
  const lines = containers
    .filter((c) => running.get(c.host)!.has(c.id) && !losers.includes(c))
    .map((c) => `${c.serviceId} ${SERVICE_IP}:${c.port} ${owner(c)}`);
  return [...lines, ...foreign].sort();
}

/** The registry against both hosts' `docker ps`, exactly; then what a consumer listing the scope sees. */
async function assertRegistry(v: RegistryView, want: () => Promise<string[]>, timeoutMs = 20_000): Promise<void> {
  let last: [string[], string[]] = [[], []];
  await waitFor(
    async () => {
      last = [await v.entries(), await want()];
      return JSON.stringify(last[0]) === JSON.stringify(last[1]);
    },
    { timeoutMs, what: `${v.backend} to match both hosts' docker ps` },
  ).catch(() => undefined);
  assert.deepEqual(last[0], last[1]);
  await assertConsumerView(v, last[1].filter((line) => !line.startsWith("/locks/")).length);
}

/** A consumer's listing of the scope: `count` lines, each `<name>/<id>=<ip:port>` (no markers, no JSON). */
async function assertConsumerView(v: RegistryView, count: number): Promise<void> {
  const seen = await v.consumerView();
  assert.deepEqual(
    seen.filter((line) => !CONSUMER_LINE.test(line)),
    [],
    `${v.backend}: a consumer sees only ip:port entries`,
  );
  assert.equal(seen.length, count, `${v.backend}: a consumer sees every entry: ${seen.join(", ")}`);
}

const ignoredAsForeign = (c: HostContainer) => (l: LogLine) =>
  l.container === c.id.slice(0, 12) && l.msg === `ignored: ${c.serviceId} is owned by another tool`;
const added = (c: HostContainer) => (l: LogLine) => l.msg === "added" && l.service === c.serviceId && l.container === c.id.slice(0, 12);
const ignoredFor = (c: HostContainer, holder: HostContainer) => (l: LogLine) =>
  l.container === c.id.slice(0, 12) && l.msg === `ignored: ${c.serviceId} is owned by ${holder.host.id}/${holder.id.slice(0, 12)}`;

/** Both registrators started at the same moment; resolves once both synced. */
async function startBoth(uri: string, args: string[] = []): Promise<[RegistratorProcess, RegistratorProcess]> {
  const both: [RegistratorProcess, RegistratorProcess] = [a.registrator([...args, uri]), b.registrator([...args, uri])];
  await Promise.all(both.map((p) => p.waitForLog("synced")));
  return both;
}

for (const backend of BACKENDS) {
  describe(backend, () => {
    test("an id held by the other host is ignored, in both orders; restarts of either side change nothing", async () => {
      const v = view("claim", backend);
      const [xPort, yPort] = [await freePort(), await freePort()];
      const a1 = await a.run(`mh-${v.scope}-a1`, v.scope, { serviceId: `${v.scope}-x`, port: xPort });
      const a2 = await a.run(`mh-${v.scope}-a2`, v.scope);
      const b1 = await b.run(`mh-${v.scope}-b1`, v.scope, { serviceId: `${v.scope}-x`, port: xPort });
      const b2 = await b.run(`mh-${v.scope}-b2`, v.scope);
      let regA = a.registrator([v.uri]);
      await regA.waitForLog(added(a1));
      let regB = b.registrator([v.uri]);
      const ignored = await regB.waitForLog(ignoredFor(b1, a1));
      assert.equal(ignored.level, 40);
      const all = [a1, a2, b1, b2];
      const losers = [b1];
      await assertRegistry(v, () => expected(all, losers));

      const b3 = await b.run(`mh-${v.scope}-b3`, v.scope, { serviceId: `${v.scope}-y`, port: yPort });
      await regB.waitForLog(added(b3));
      const a3 = await a.run(`mh-${v.scope}-a3`, v.scope, { serviceId: `${v.scope}-y`, port: yPort });
      await regA.waitForLog(ignoredFor(a3, b3));
      all.push(a3, b3);
      losers.push(a3);
      await assertRegistry(v, () => expected(all, losers));

      await regA.stop();
      regA = a.registrator([v.uri]);
      await regA.waitForLog(ignoredFor(a3, b3));
      await regB.stop();
      regB = b.registrator([v.uri]);
      await regB.waitForLog(ignoredFor(b1, a1));
      for (const [reg, c] of [
        [regA, a1],
        [regB, b3],
      ] as const) {
        await c.host.docker.docker(["restart", "-t", "0", c.id]);
        await waitFor(() => reg.logs.filter(added(c)).length === 2, { what: `${c.name} registered again after its restart` });
      }
      await assertRegistry(v, () => expected(all, losers));
      await regA.stop();
      await regB.stop();
    });

    test("kill -9 of one registrator; both restart with -cleanup: the dead host's dangling entry goes, nothing else", async () => {
      const v = view("kill", backend);
      const foreign = await v.plantForeign(HOST_A);
      const a1 = await a.run(`mh-${v.scope}-a1`, v.scope);
      const a2 = await a.run(`mh-${v.scope}-a2`, v.scope);
      const b1 = await b.run(`mh-${v.scope}-b1`, v.scope);
      const [regA, regB] = await startBoth(v.uri, ["-cleanup"]);
      const all = [a1, a2, b1];
      await assertRegistry(v, () => expected(all, [], foreign));

      await regA.stop("SIGKILL");
      await a.docker.docker(["rm", "-f", a2.id]);
      all.push(await a.run(`mh-${v.scope}-a3`, v.scope));
      await regB.stop();
      const cleanB = b.registrator(["-cleanup", v.uri]);
      await cleanB.waitForLog("synced");
      const cleanA = a.registrator(["-cleanup", v.uri]);
      // ZooKeeper may have dropped the dead session's znodes by itself already.
      if (backend !== "zookeeper")
        await cleanA.waitForLog((l) => l.msg === "removed: dangling, no container behind it" && l.service === a2.serviceId);
      await assertRegistry(v, () => expected(all, [], foreign));
      assert.ok(!cleanB.logs.some((l) => l.msg.startsWith("removed")), "host B removed nothing");
      await cleanA.stop();
      await cleanB.stop();
    });

    test("two hosts with one host id (cloned VMs): the later write takes the entry, with a warning that names both containers", async () => {
      const v = view("clash", backend);
      const port = await freePort();
      const name = `mh-${v.scope}-twin`;
      const a1 = await a.run(name, v.scope, { idHost: "twin", port });
      const b1 = await b.run(name, v.scope, { idHost: "twin", port });
      const regA = a.registrator(["--host-id", "twin", v.uri]);
      await regA.waitForLog(added(a1));
      const regB = b.registrator(["--host-id", "twin", v.uri]);
      const warning = await regB.waitForLog((l) => l.msg.startsWith("took over"));
      assert.equal(warning.level, 40);
      assert.equal(
        warning.msg,
        `took over twin:${name}:6379 from container ${a1.id.slice(0, 12)} for container ${b1.id.slice(0, 12)}: ` +
          `no container ${a1.id.slice(0, 12)} runs here under host id twin; if another host runs registrator with the same ` +
          `host id (cloned VMs share hostnames), give each host its own --host-id`,
      );
      await assertRegistry(v, () => expected([a1, b1], [a1], [], () => "twin"));
      await regA.stop();
      await regB.stop();
    });

    test("an id the other host let go is registered at the next -resync pass", async () => {
      // Depends on the reconciler trying refused services again (issue 31).
      const v = view("retry", backend);
      const port = await freePort();
      const a1 = await a.run(`mh-${v.scope}-a1`, v.scope, { port });
      // Host B's container asks for host A's default id of a1.
      const b1 = await b.run(`mh-${v.scope}-b1`, v.scope, { serviceId: a1.serviceId, port });
      const regB = b.registrator([v.uri]);
      await regB.waitForLog(added(b1));
      const regA = a.registrator(["-resync", "2", v.uri]);
      await regA.waitForLog(ignoredFor(a1, b1));
      await assertRegistry(v, () => expected([a1, b1], [a1]));
      await b.docker.docker(["rm", "-f", b1.id]);
      await regA.waitForLog(added(a1), 15_000);
      await assertRegistry(v, () => expected([a1, b1], []));
      await regA.stop();
      await regB.stop();
    });

    test("-cleanup never removes another tool's key in this host's default-id form at an address not ours", async () => {
      const v = view("ghost", backend);
      const foreign = await v.plantForeign(HOST_A);
      const a1 = await a.run(`mh-${v.scope}-a1`, v.scope);
      const reg = a.registrator(["-cleanup", v.uri]);
      await reg.waitForLog("synced");
      await reg.waitForLog(added(a1));
      await assertRegistry(v, () => expected([a1], [], foreign));
      // A central agent or Eureka also holds what earlier tests' killed registrators left: theirs to remove.
      assert.ok(!reg.logs.some((l) => l.msg.startsWith("removed") && l.name === v.scope), "nothing of this scope removed");
      await reg.stop();
    });
  });
}

describe("entries without a marker are another tool's", () => {
  for (const backend of ["etcd", "consulkv", "consul", "eureka"]) {
    test(`${backend}: never re-pointed through SERVICE_ID, even in this host's default form at our address, nor removed`, async () => {
      const v = view("unmarked", backend);
      const port = await freePort();
      await v.plantUnmarked("vm:billing:5432", "10.1.1.1:5432");
      // As the Go registrator would have written it for a container `billing` of host A that is gone.
      const goId = `${HOST_A}:billing:6379`;
      await v.plantUnmarked(goId, `${SERVICE_IP}:${port}`);
      const foreign = [`vm:billing:5432 10.1.1.1:5432 -`, `${goId} ${SERVICE_IP}:${port} -`];
      const a1 = await a.run(`mh-${v.scope}-a1`, v.scope, { serviceId: "vm:billing:5432" });
      const a2 = await a.run(`mh-${v.scope}-a2`, v.scope, { serviceId: goId, port });
      const reg = a.registrator(["-resync", "2", v.uri]);
      await reg.waitForLog(ignoredAsForeign(a1));
      await reg.waitForLog(ignoredAsForeign(a2));
      await assertRegistry(v, () => expected([a1, a2], [a1, a2], foreign));
      await a.docker.docker(["rm", "-f", a1.id, a2.id]);
      // A -resync pass after the deaths; nothing may be removed by it.
      await sleep(3_000);
      await assertRegistry(v, () => expected([a1, a2], [], foreign));
      assert.equal(reg.logs.filter(ignoredAsForeign(a1)).length, 1, "logged once");
      await reg.stop();
    });
  }
});

describe("where two services meet at one key (ZooKeeper keys by address)", () => {
  test("zookeeper: a --net=host neighbour on the same port is ignored, never overwrites nor deletes the holder's znode", async () => {
    const v = view("addr", "zookeeper");
    const port = await freePort();
    const a1 = await a.run(`mh-${v.scope}-a1`, v.scope, { port });
    const reg = a.registrator([v.uri]);
    await reg.waitForLog(added(a1));
    const a2 = await a.run(`mh-${v.scope}-a2`, v.scope, { port, hostNetwork: true });
    const ignored = await reg.waitForLog((l) => l.container === a2.id.slice(0, 12) && l.msg.startsWith("ignored: "));
    assert.equal(
      ignored.msg,
      `ignored: ${a2.serviceId}: address ${SERVICE_IP}:${port} is owned by ${HOST_A}/${a1.id.slice(0, 12)} for ${a1.serviceId}`,
    );
    await assertRegistry(v, () => expected([a1, a2], [a2]));
    await a.docker.docker(["rm", "-f", a2.id]);
    // The neighbour's death is seen: the holder's znode must still be there after it.
    await sleep(3_000);
    await assertRegistry(v, () => expected([a1, a2], [a2]));
    await reg.stop();
  });

  test("zookeeper: the first running holder of an address keeps it against the other host", async () => {
    const v = view("addr2", "zookeeper");
    const port = await freePort();
    // Both hosts' registrators write -ip 127.0.0.1: one address, two hosts.
    const a1 = await a.run(`mh-${v.scope}-a1`, v.scope, { port });
    const b1 = await b.run(`mh-${v.scope}-b1`, v.scope, { port });
    const regA = a.registrator([v.uri]);
    await regA.waitForLog(added(a1));
    const regB = b.registrator([v.uri]);
    await regB.waitForLog((l) => l.container === b1.id.slice(0, 12) && l.msg.startsWith("ignored: "));
    await regB.stop();
    await assertRegistry(v, () => expected([a1, b1], [b1]));
    await regA.stop();
  });
});

describe("order never decides ownership", () => {
  for (const backend of ["etcd", "consul"]) {
    test(`${backend}: after a restart, the container whose default id it is keeps it over a SERVICE_ID claimant listed first`, async () => {
      // Depends on the reconciler (issue 31): the engine lists newest first.
      const v = view("order", backend);
      const victim = await a.run(`mh-${v.scope}-victim`, v.scope);
      let reg = a.registrator([v.uri]);
      await reg.waitForLog(added(victim));
      const claimant = await a.run(`mh-${v.scope}-claimant`, v.scope, { serviceId: victim.serviceId });
      await reg.stop();
      reg = a.registrator([v.uri]);
      await reg.waitForLog("synced");
      await assertRegistry(v, () => expected([victim, claimant], [claimant]));
      assert.ok(!reg.logs.some((l) => l.msg === "added" && l.container === claimant.id.slice(0, 12)), "the claimant never took it");
      assert.ok(
        !reg.logs.some((l) => l.msg.includes(`no container ${victim.id.slice(0, 12)} runs here`)),
        "no log line says the victim is not running",
      );
      await reg.stop();
    });
  }
});

describe("claims at the same moment", () => {
  for (const backend of ATOMIC) {
    test(`${backend}: of two registrators that claim one key at once, exactly one holds it`, async () => {
      const v = view("race", backend);
      const port = await freePort();
      const a1 = await a.run(`mh-${v.scope}-a1`, v.scope, { serviceId: `${v.scope}-z`, port });
      const b1 = await b.run(`mh-${v.scope}-b1`, v.scope, { serviceId: `${v.scope}-z`, port });
      const [regA, regB] = await startBoth(v.uri);
      const winners = [regA, regB].filter((reg) => reg.logs.some((l) => l.msg === "added" && l.service === `${v.scope}-z`));
      assert.equal(winners.length, 1, "exactly one added it");
      const [winner, loser] = winners[0] === regA ? [a1, b1] : [b1, a1];
      await (winner === a1 ? regB : regA).waitForLog(ignoredFor(loser, winner));
      await assertRegistry(v, () => expected([a1, b1], [loser]));
      await regA.stop();
      await regB.stop();
    });
  }
});

describe("-cleanup on a key-value root", () => {
  test("etcd:// without a path is refused at start-up with one clear line (exit 2)", async () => {
    const res = await runRegistrator(["-cleanup", `etcd://${registries.etcd.host}`], { DOCKER_HOST: a.docker.host });
    assert.equal(res.code, 2);
    assert.match(
      res.stderr.split("\n")[0] ?? "",
      /^registrator: -cleanup needs the path registrator writes under, e\.g\. etcd:\/\/127\.0\.0\.1:2379\/services: /,
    );
  });
});
