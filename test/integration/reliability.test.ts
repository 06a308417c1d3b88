/**
 * Breaking real servers on purpose: registry outages, an engine restart, storms, kill -9, shutdown,
 * bad metadata. Each runs against a dockerd of this file's own, so the registry can be compared
 * with `docker ps` exactly.
 */
import assert from "node:assert/strict";
import { hostname } from "node:os";
import { after, before, describe, test } from "node:test";
import { startPrivateDocker, type PrivateDocker } from "../support/docker.js";
import zookeeper from "node-zookeeper-client";
import { startConsul } from "../support/consul.js";
import { startZookeeper } from "../support/zookeeper.js";
import { startEtcd, type EtcdServer } from "../support/etcd.js";
import { startRegistrator, type RegistratorProcess } from "../support/registrator.js";
import { sleep, waitFor } from "../support/wait.js";

const HOST = hostname();
let docker: PrivateDocker;
let etcd: EtcdServer;
let image: string;
const processes: RegistratorProcess[] = [];
let nextPort = 20000;

before(async () => {
  docker = await startPrivateDocker();
  etcd = await startEtcd();
  image = await docker.image("reliability/app");
});

after(async () => {
  for (const p of processes) await p.stop("SIGKILL");
  await etcd?.stop();
  await docker?.stop();
});

/** The CLI against this file's dockerd and `uri`, with short retry caps. */
function registratorFor(uri: string, extra: string[] = []): RegistratorProcess {
  const p = startRegistrator(["-ip", "127.0.0.1", "--retry-backoff-max", "500", "-retry-interval", "200", ...extra, uri], {
    DOCKER_HOST: docker.host,
  });
  processes.push(p);
  return p;
}

function registrator(prefix: string, extra: string[] = []): RegistratorProcess {
  return registratorFor(`etcd://${etcd.host}${prefix}`, extra);
}

/** One published port, service name `svc`: its key is `<prefix>/svc/<host>:<name>:80`. */
async function start(name: string, extra: string[] = []): Promise<string> {
  return docker.run(["--name", name, "-p", `${nextPort++}:80`, "-e", "SERVICE_NAME=svc", ...extra, image]);
}

async function removeAllContainers(): Promise<void> {
  await docker.removeAll();
}

/** The service ids the registry must hold: one per running container, from `docker ps`. */
async function expectedIds(): Promise<string[]> {
  const { stdout } = await docker.docker(["ps", "--format", "{{.Names}}"]);
  return stdout
    .split("\n")
    .filter(Boolean)
    .map((name) => `${HOST}:${name}:80`)
    .sort();
}

/** The etcd keys of those ids under `prefix` (service name `svc`). */
async function expectedKeys(prefix: string): Promise<string[]> {
  return (await expectedIds()).map((id) => `${prefix}/svc/${id}`);
}

/** The service keys under `prefix`, as a consumer sees them: without the owner markers in `<prefix>/.registrator/`. */
async function registryKeys(prefix: string): Promise<string[]> {
  return Object.keys(await etcd.list(`${prefix}/`))
    .filter((key) => !key.startsWith(`${prefix}/.registrator/`))
    .sort();
}

/** Waits until what the registry holds and what `docker ps` expects agree exactly, then asserts it. */
async function assertMatches(held: () => Promise<string[]>, expected: () => Promise<string[]>, timeoutMs = 20_000): Promise<void> {
  let last: [string[], string[]] = [[], []];
  await waitFor(
    async () => {
      last = [await held(), await expected()];
      return JSON.stringify(last[0]) === JSON.stringify(last[1]);
    },
    { timeoutMs, what: `registry to match docker ps` },
  ).catch(() => undefined);
  assert.deepEqual(last[0], last[1]);
}

async function assertConverged(prefix: string, timeoutMs = 20_000): Promise<void> {
  await assertMatches(
    () => registryKeys(prefix),
    () => expectedKeys(prefix),
    timeoutMs,
  );
}

async function pool<T>(items: T[], width: number, work: (item: T) => Promise<unknown>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
    }),
  );
}

describe("registry outage", () => {
  test("etcd down while containers start and stop: nothing lost, nothing stale once it is back", async () => {
    await removeAllContainers();
    const prefix = "/outage";
    const a = await start("outage-a");
    await start("outage-b");
    const reg = registrator(prefix);
    await assertConverged(prefix);

    await etcd.kill();
    await start("outage-c");
    await docker.docker(["rm", "-f", a]);
    const flash = await start("outage-d");
    await docker.docker(["rm", "-f", flash]);
    const failed = await reg.waitForLog((l) => /^failed: .*; retrying in \d+(ms|\.\d+s)$/.test(l.msg));
    assert.equal(failed.level, 40, "a warning, not an error with a stack trace");
    assert.equal(failed.err, undefined);
    await sleep(3000);

    await etcd.restart();
    await assertConverged(prefix, 10_000);
    assert.equal(reg.child.exitCode, null, "still running");
    assert.ok(!reg.logs.some((l) => l.msg === `added` && l.service === `${HOST}:outage-d:80`), "the flash container was never sent");
  });

  test("an etcd that lost its data gets everything back once it answers again", async () => {
    await removeAllContainers();
    const prefix = "/dataloss";
    await start("loss-a");
    await start("loss-b");
    const reg = registrator(prefix);
    await assertConverged(prefix);
    await etcd.stop(); // removes the data dir: a fresh, empty etcd comes back
    // Longer than the 5 s between health checks while the registry answers, so the outage is seen.
    await reg.waitForLog("failed: registry unreachable", 10_000);
    await etcd.restart();
    await reg.waitForLog("registry reachable again");
    await assertConverged(prefix, 10_000);
  });

  test("Consul down and back empty (dev agents keep nothing): every service is registered again", async () => {
    await removeAllContainers();
    const consul = await startConsul();
    try {
      const gone = await start("consul-outage-a");
      await start("consul-outage-b");
      const reg = registratorFor(`consul://${consul.address}`);
      const agentIds = async () =>
        Object.keys((await consul.api<Record<string, unknown>>("GET", "/v1/agent/services")).body)
          .filter((id) => id !== "consul")
          .sort();
      await waitFor(async () => (await agentIds()).length === 2, { what: "both services in Consul" });

      await consul.kill();
      await docker.docker(["rm", "-f", gone]);
      await start("consul-outage-c");
      await reg.waitForLog((l) => l.msg.startsWith("failed:"));
      await consul.restart();
      await assertMatches(agentIds, expectedIds, 15_000);
    } finally {
      await consul.stop();
    }
  });
});

/** Every service id registrator wrote under `root`, read with a ZooKeeper client of the test's own. */
async function znodeIds(connectString: string, root: string): Promise<string[]> {
  const client = zookeeper.createClient(connectString, { sessionTimeout: 5000 });
  const call = <T>(fn: (cb: (err: Error | null, value: T) => void) => void) =>
    new Promise<T>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("test client: no ZooKeeper connection")), 10_000);
      client.once("connected", () => (clearTimeout(timer), resolve()));
      client.connect();
    });
    const ids: string[] = [];
    const names = await call<string[]>((cb) => client.getChildren(root, cb)).catch(() => [] as string[]);
    for (const name of names) {
      for (const node of await call<string[]>((cb) => client.getChildren(`${root}/${name}`, cb))) {
        const data = await call<Buffer | undefined>((cb) => client.getData(`${root}/${name}/${node}`, (err, value) => cb(err, value)));
        ids.push((JSON.parse(data?.toString("utf8") ?? "{}") as { ID: string }).ID);
      }
    }
    return ids.sort();
  } finally {
    client.close();
  }
}

describe("ZooKeeper outage", () => {
  test("ZooKeeper stopped and started while containers come and go: the znodes match docker ps", async () => {
    await removeAllContainers();
    const zk = await startZookeeper();
    try {
      const gone = await start("zk-outage-a");
      await start("zk-outage-b");
      const reg = registratorFor(`zookeeper://${zk.connectString}/outage`);
      await waitFor(async () => (await znodeIds(zk.connectString, "/outage")).length === 2, { what: "both znodes" });

      await zk.kill();
      await docker.docker(["rm", "-f", gone]);
      await start("zk-outage-c");
      await reg.waitForLog((l) => l.msg.startsWith("failed:"), 20_000);
      await zk.restart();
      await assertMatches(() => znodeIds(zk.connectString, "/outage"), expectedIds, 30_000);
    } finally {
      await zk.stop();
    }
  });
});

describe("engine restart", () => {
  test("dockerd stopped and started: registrator reconnects, removes what died, adds what came up", async () => {
    await removeAllContainers();
    const prefix = "/dockerd";
    await start("engine-survivor", ["--restart", "always"]);
    await start("engine-casualty");
    const reg = registrator(prefix);
    await assertConverged(prefix);

    await docker.stopDaemon();
    await reg.waitForLog((l) => l.msg.startsWith("failed: engine:"));
    await docker.startDaemon();
    await reg.waitForLog((l) => l.msg === "synced" && reg.logs.filter((x) => x.msg === "synced").length >= 2, 30_000);
    await start("engine-newcomer");
    await assertConverged(prefix);
    const keys = await registryKeys(prefix);
    assert.deepEqual(keys, [`${prefix}/svc/${HOST}:engine-newcomer:80`, `${prefix}/svc/${HOST}:engine-survivor:80`]);
    assert.equal(reg.child.exitCode, null, "still running");
  });
});

describe("storms and crashes", () => {
  test("100 containers started concurrently, a third stopped within 200 ms: the final state is exact", async () => {
    await removeAllContainers();
    const prefix = "/storm";
    const reg = registrator(prefix);
    await reg.waitForLog("synced");
    const names = Array.from({ length: 100 }, (_, i) => `storm-${i}`);
    await pool(names, 8, async (name) => {
      const id = await start(name);
      if (Number(name.split("-")[1]) % 3 === 0) {
        await sleep(Math.floor(Math.random() * 200));
        await docker.docker(["rm", "-f", id]);
      }
    });
    await assertConverged(prefix);
    assert.equal((await registryKeys(prefix)).length, 66);
    assert.ok(!reg.logs.some((l) => l.msg.includes("unhandled")), "no unhandled rejection");
  });

  test("kill -9 during a storm, then start again with -cleanup: converges; other hosts' entries stay", async () => {
    await removeAllContainers();
    const prefix = "/crash";
    await etcd.put(`${prefix}/svc/otherhost:elsewhere:80`, "10.1.1.1:80");
    const first = registrator(prefix);
    await first.waitForLog("synced");
    const names = Array.from({ length: 30 }, (_, i) => `crash-${i}`);
    const ids = new Map<string, string>();
    await pool(names, 6, async (name) => {
      ids.set(name, await start(name));
      if (name === "crash-15") await first.stop("SIGKILL");
    });
    // Containers that die while registrator is down.
    await pool(
      names.filter((_, i) => i % 4 === 0),
      4,
      (name) => docker.docker(["rm", "-f", ids.get(name)!]),
    );
    const second = registrator(prefix, ["-cleanup"]);
    await second.waitForLog("synced");
    const ours = async () => (await registryKeys(prefix)).filter((k) => !k.includes("otherhost"));
    await assertMatches(ours, () => expectedKeys(prefix));
    assert.equal(await etcd.get(`${prefix}/svc/otherhost:elsewhere:80`), "10.1.1.1:80");
  });
});

describe("shutdown", () => {
  test("SIGTERM exits 0 within 5 s and leaves the registrations", async () => {
    await removeAllContainers();
    const prefix = "/sigterm";
    await start("term-a");
    const reg = registrator(prefix);
    await assertConverged(prefix);
    const started = Date.now();
    assert.equal(await reg.stop("SIGTERM"), 0);
    assert.ok(Date.now() - started < 5000, "stopped within 5 s");
    assert.deepEqual(await registryKeys(prefix), [`${prefix}/svc/${HOST}:term-a:80`]);
  });

  test("--deregister-on-exit removes this host's services first", async () => {
    await removeAllContainers();
    const prefix = "/leaving";
    await start("leave-a");
    const reg = registrator(prefix, ["--deregister-on-exit"]);
    await assertConverged(prefix);
    assert.equal(await reg.stop("SIGINT"), 0);
    assert.deepEqual(await registryKeys(prefix), []);
  });
});
