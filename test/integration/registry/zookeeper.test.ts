/** zookeeper:// against a real ZooKeeper, with the real CLI and real containers. */
import assert from "node:assert/strict";
import { hostname } from "node:os";
import { after, before, describe, test } from "node:test";
import zookeeper from "node-zookeeper-client";
import { create } from "../../../src/registry/zookeeper.js";
import type { RegistryAdapter } from "../../../src/registry/types.js";
import { parseRegistryUri } from "../../../src/registry/uri.js";
import type { Service } from "../../../src/service/types.js";
import { ensureDocker, type DockerHarness } from "../../support/docker.js";
import { freePort } from "../../support/ports.js";
import { runRegistrator } from "../../support/registrator.js";
import { scene } from "../../support/scene.js";
import { sleep, waitFor } from "../../support/wait.js";
import { startZookeeper, type ZkServer } from "../../support/zookeeper.js";

const HOST = hostname();
const TAG = `${process.pid}`;
let docker: DockerHarness;
const { run, registrator, stopAll, cleanup } = scene("zk-t", () => docker);
let zk: ZkServer;
let client: zookeeper.Client;
let unique = 0;

interface Znode {
  data: Record<string, unknown>;
  stat: zookeeper.Stat;
}

function connect(connectString: string): Promise<zookeeper.Client> {
  const c = zookeeper.createClient(connectString, { sessionTimeout: 10_000 });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`test client: no connection to ${connectString}`)), 15_000);
    c.once("connected", () => {
      clearTimeout(timer);
      resolve(c);
    });
    c.connect();
  });
}

function read(path: string): Promise<Znode | undefined> {
  return new Promise((resolve, reject) =>
    client.getData(path, (err, data, stat) => {
      if (err && (err as { code?: number }).code === zookeeper.Exception.NO_NODE) return resolve(undefined);
      if (err) return reject(err);
      resolve({ data: data?.length ? (JSON.parse(data.toString("utf8")) as Record<string, unknown>) : {}, stat });
    }),
  );
}

function children(path: string): Promise<string[] | undefined> {
  return new Promise((resolve, reject) =>
    client.getChildren(path, (err, list) => {
      if (err && (err as { code?: number }).code === zookeeper.Exception.NO_NODE) return resolve(undefined);
      if (err) return reject(err);
      resolve(list);
    }),
  );
}

function createPersistent(path: string, body: unknown): Promise<void> {
  return new Promise((resolve, reject) =>
    client.mkdirp(path.slice(0, path.lastIndexOf("/")), (err) => {
      if (err) return reject(err);
      client.create(path, Buffer.from(JSON.stringify(body)), zookeeper.CreateMode.PERSISTENT, (e) => (e ? reject(e) : resolve()));
    }),
  );
}

const isEphemeral = (stat: zookeeper.Stat) => stat.ephemeralOwner.some((byte) => byte !== 0);

/** Blocks this whole process, as a long GC pause or a stopped VM would: nothing answers ZooKeeper meanwhile. */
function freeze(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const serviceName = (what: string) => `zkt${TAG}${what}${++unique}`;

before(async () => {
  docker = await ensureDocker();
  zk = await startZookeeper();
  client = await connect(zk.connectString);
});

after(async () => {
  await cleanup();
  client?.close();
  await zk?.stop();
});

describe("zookeeper://", () => {
  test("registers an ephemeral znode holding the Go registrator's JSON; die removes it and the empty name node", async () => {
    const root = `/zk-t-${TAG}/services`;
    const name = serviceName("web");
    const a = await run(name, ["SERVICE_TAGS=blue,v2", "SERVICE_REGION=eu"]);
    const b = await run(name);
    const reg = registrator([`zookeeper://${zk.connectString}${root}`]);
    await reg.waitForLog("synced");

    const node = await read(`${root}/${name}/127.0.0.1:${a.port}`);
    assert.deepEqual(node?.data, {
      Name: name,
      IP: "127.0.0.1",
      PublicPort: a.port,
      PrivatePort: 6379,
      ContainerID: a.id.slice(0, 12),
      Tags: ["blue", "v2"],
      Attrs: { region: "eu" },
      ID: `${HOST}:${a.name}:6379`,
      Owner: { Host: HOST, Container: a.id },
    });
    assert.ok(node && isEphemeral(node.stat), "the service znode is ephemeral");
    const nameNode = await read(`${root}/${name}`);
    assert.ok(nameNode && !isEphemeral(nameNode.stat), "the name node is persistent");
    assert.deepEqual((await children(`${root}/${name}`))?.sort(), [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`].sort());

    await docker.docker(["kill", a.id]);
    await waitFor(async () => (await read(`${root}/${name}/127.0.0.1:${a.port}`)) === undefined, { what: "a's znode removed" });
    assert.deepEqual(await children(`${root}/${name}`), [`127.0.0.1:${b.port}`], "b stays, and so does the name node");

    await docker.docker(["kill", b.id]);
    await waitFor(async () => (await children(`${root}/${name}`)) === undefined, { what: "the empty name node removed" });
    await stopAll();
  });

  test("a name ZooKeeper refuses is ignored with the reason; others still register", async () => {
    const root = `/zk-t-${TAG}/bad`;
    // The service builder already refuses "/", "." and ".."; ZooKeeper also refuses private-use characters.
    const bad = await run("bad\ue000name");
    const goodName = serviceName("good");
    const good = await run(goodName);
    const reg = registrator([`zookeeper://${zk.connectString}${root}`]);
    const line = await reg.waitForLog((l) => l.container === bad.id.slice(0, 12) && l.msg.startsWith("ignored:"));
    assert.match(line.msg, /service name "bad\ue000name" has characters ZooKeeper does not allow/);
    await reg.waitForLog("synced");
    // Other test files' containers register here too: look at ours only.
    const names = (await children(root)) ?? [];
    assert.ok(names.includes(goodName), JSON.stringify(names));
    assert.ok(!names.some((n) => n.startsWith("bad")), JSON.stringify(names));
    assert.deepEqual(await children(`${root}/${goodName}`), [`127.0.0.1:${good.port}`]);
    await stopAll();
  });

  test("when registrator dies, its session expires and ZooKeeper removes its znodes", async () => {
    const root = `/zk-t-${TAG}/dies`;
    const name = serviceName("dies");
    const c = await run(name);
    // -ttl is the session timeout.
    const reg = registrator(["-ttl", "2", "-ttl-refresh", "1", `zookeeper://${zk.connectString}${root}`]);
    await reg.waitForLog("synced");
    const path = `${root}/${name}/127.0.0.1:${c.port}`;
    assert.ok(await read(path));
    await reg.stop("SIGKILL");
    const gone = Date.now();
    await waitFor(async () => (await read(path)) === undefined, { timeoutMs: 10_000, what: "the znode to go with the session" });
    assert.ok(Date.now() - gone < 6000, `gone after ${Date.now() - gone} ms, expected about the 2 s session timeout`);
  });

  test("a registrator restarted within the session timeout takes over its znodes from the old session", async () => {
    const root = `/zk-t-${TAG}/restart`;
    const name = serviceName("rs");
    const c = await run(name);
    const path = `${root}/${name}/127.0.0.1:${c.port}`;
    const first = registrator([`zookeeper://${zk.connectString}${root}`]);
    await first.waitForLog("synced");
    const old = await read(path);
    assert.ok(old);
    await first.stop("SIGKILL");

    // The old session lives on for its 10 s timeout; had the new one kept that znode, it would vanish then.
    const second = registrator([`zookeeper://${zk.connectString}${root}`]);
    await second.waitForLog("synced");
    const now = await read(path);
    assert.ok(now && isEphemeral(now.stat));
    assert.ok(!now.stat.ephemeralOwner.equals(old.stat.ephemeralOwner), "owned by the new session");
    await stopAll();
  });

  test("after its session expired while it ran, registrator writes its znodes again", async () => {
    const root = `/zk-t-${TAG}/expiry`;
    const name = serviceName("exp");
    const c = await run(name);
    // The adapter's memory and the bridge's re-registration after an outage may both bring it back;
    // the adapter alone is tested below.
    const reg = registrator([`zookeeper://${zk.connectString}${root}`]);
    await reg.waitForLog("synced");
    const path = `${root}/${name}/127.0.0.1:${c.port}`;
    const before = await read(path);
    assert.ok(before);

    reg.child.kill("SIGSTOP");
    try {
      await waitFor(async () => (await read(path)) === undefined, { timeoutMs: 30_000, intervalMs: 250, what: "the session to expire" });
    } finally {
      reg.child.kill("SIGCONT");
    }
    const again = await waitFor(async () => read(path), { timeoutMs: 20_000, what: "the znode written again" });
    assert.deepEqual(again.data, before.data);
    assert.ok(isEphemeral(again.stat));
    assert.ok(!again.stat.ephemeralOwner.equals(before.stat.ephemeralOwner), "owned by a new session");
    await stopAll();
  });

  test("the adapter on its own: a session that expired is reported lost, and registering again writes in a new session", async () => {
    const adapter: RegistryAdapter = create({
      uri: parseRegistryUri(`zookeeper://${zk.connectString}/zk-t-${TAG}/own`),
      ttl: 2,
      ttlRefresh: 1,
      env: {},
    });
    try {
      const name = serviceName("own");
      const s: Service = {
        id: `${HOST}:zk-t-own:80`,
        name,
        ip: "127.0.0.1",
        port: 4242,
        tags: [],
        attrs: {},
        ttl: 2,
        origin: {
          containerId: "c0ffee",
          containerName: "zk-t-own",
          exposedPort: "80",
          hostPort: "4242",
          hostIp: "0.0.0.0",
          protocol: "tcp",
        },
      };
      const path = `/zk-t-${TAG}/own/${name}/127.0.0.1:4242`;
      const owner = { hostId: HOST, container: "c0ffee" };
      let lost = 0;
      adapter.capabilities!.renewal!.onLost!(() => lost++);
      await adapter.ping();
      await adapter.register(s, owner);
      const first = await read(path);
      assert.ok(first && isEphemeral(first.stat));
      freeze(5000); // over twice the 2 s session timeout; refresh() is never called
      await waitFor(() => lost > 0, { timeoutMs: 15_000, what: "the expired session reported as lost" });
      // As the bridge does: register again, retrying while the new session connects.
      await waitFor(async () => (await adapter.register(s, owner), true), { timeoutMs: 15_000, what: "registering in the new session" });
      const again = await waitFor(
        async () => {
          const node = await read(path);
          return node && !node.stat.ephemeralOwner.equals(first.stat.ephemeralOwner) && node;
        },
        { timeoutMs: 15_000, what: "the znode written again by a new session" },
      );
      assert.equal(again.data.ID, s.id);
      await adapter.deregister(s, owner);
      assert.equal(await read(path), undefined);
    } finally {
      await adapter.close();
    }
  });

  test("two services of one container at one address (53/tcp and 53/udp): the first keeps the znode, the second is ignored, resyncs never swap them", async () => {
    const root = `/zk-t-${TAG}/both`;
    const name = serviceName("dns");
    const port = await freePort();
    const containerName = `zk-t-${TAG}-dns`;
    const published = ["-p", `${port}:53/tcp`, "-p", `${port}:53/udp`];
    const image = await docker.image("dockerfile/redis");
    const id = await docker.run(["--name", containerName, ...published, "-e", `SERVICE_NAME=${name}`, image, "sleep", "3600"]);
    // Ports register in order of number, then protocol: 53/tcp first.
    const [tcpId, udpId] = [`${HOST}:${containerName}:53`, `${HOST}:${containerName}:53:udp`];
    const reg = registrator(["-resync", "1", `zookeeper://${zk.connectString}${root}`]);
    const ignored = await reg.waitForLog((l) => l.container === id.slice(0, 12) && l.msg.startsWith("ignored: "));
    assert.equal(ignored.msg, `ignored: ${udpId}: address 127.0.0.1:${port} is owned by ${HOST}/${id.slice(0, 12)} for ${tcpId}`);
    await reg.waitForLog("synced");
    // A container with more than one port gets `-<port>` after its name; other containers register here too.
    const nameNode = `${root}/${name}-53`;
    const path = `${nameNode}/127.0.0.1:${port}`;
    assert.deepEqual(await children(nameNode), [`127.0.0.1:${port}`]);
    // Every -resync pass writes the holder again and tries the other again: the znode stays the holder's.
    for (let pass = 0; pass < 3; pass++) {
      assert.equal((await read(path))?.data.ID, tcpId, `after ${pass} resyncs`);
      await sleep(1_100);
    }
    assert.ok(!reg.logs.some((l) => l.container === id.slice(0, 12) && l.msg === "added" && l.service === udpId), "the second never added");

    await docker.docker(["kill", id]);
    await waitFor(async () => (await children(nameNode)) === undefined, { what: "the holder's znode and its name node removed" });
    await stopAll();
  });

  test("-cleanup removes this host's dangling znodes and keeps other hosts' and the Go registrator's", async () => {
    const root = `/zk-t-${TAG}/clean`;
    const name = serviceName("cl");
    const body = (id?: string) => ({
      Name: name,
      IP: "127.0.0.1",
      PublicPort: 1,
      PrivatePort: 80,
      ContainerID: "",
      Tags: [],
      Attrs: {},
      ID: id,
    });
    await createPersistent(`${root}/${name}/127.0.0.1:1`, body(`${HOST}:zk-t-gone-${TAG}:80`));
    await createPersistent(`${root}/${name}/127.0.0.1:2`, body("otherhost:zk-t-gone:80"));
    await createPersistent(`${root}/${name}/127.0.0.1:3`, body());
    const live = await run(name);

    const reg = registrator(["-cleanup", `zookeeper://${zk.connectString}${root}`]);
    await reg.waitForLog((l) => l.msg.startsWith("removed: dangling") && l.service === `${HOST}:zk-t-gone-${TAG}:80`);
    assert.deepEqual((await children(`${root}/${name}`))?.sort(), ["127.0.0.1:2", "127.0.0.1:3", `127.0.0.1:${live.port}`].sort());
    await stopAll();
  });

  test("a path with .. (or . or nothing) exits 2 with a correct example", async () => {
    for (const uri of [
      `zookeeper://${zk.connectString}/a/../b`,
      `zookeeper://${zk.connectString}/./a`,
      `zookeeper://${zk.connectString}`,
    ]) {
      const res = await runRegistrator([uri], { DOCKER_HOST: docker.host });
      assert.equal(res.code, 2, uri);
      assert.match(res.stderr, /zookeeper:\/\/127\.0\.0\.1:2181\/services/, uri);
    }
  });

  test("an unreachable ZooKeeper fails the start-up check (exit 1) instead of hanging", async () => {
    const port = await freePort();
    const res = await runRegistrator(["-retry-attempts", "0", `zookeeper://127.0.0.1:${port}/x`], { DOCKER_HOST: docker.host }, 30_000);
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /unreachable.*cannot connect to ZooKeeper/);
  });
});
