/** The spine end to end: a real dockerd, a real etcd, the real CLI. */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ensureDocker, type DockerHarness } from "../support/docker.js";
import { startEtcd, type EtcdServer } from "../support/etcd.js";
import { tempDir } from "../support/process.js";
import { startRegistrator, type RegistratorProcess } from "../support/registrator.js";
import { sleep, waitFor } from "../support/wait.js";

const HOST = hostname();
let docker: DockerHarness;
let etcd: EtcdServer;
const containers: string[] = [];
const processes: RegistratorProcess[] = [];
let unique = 0;

/** A container of this file's own: a unique name, removed at the end. */
async function run(args: string[], command = ["sleep", "3600"]): Promise<{ id: string; name: string }> {
  const name = `core-t-${process.pid}-${++unique}`;
  const id = await docker.run(["--name", name, ...args, await docker.image("dockerfile/redis"), ...command]);
  containers.push(id);
  return { id, name };
}

/** Exits with the given code once released with `release()`. */
async function runUntilReleased(args: string[], exitCode: number) {
  const c = await run(args, ["sh", "-c", `while [ ! -f /tmp/go ]; do sleep 0.2; done; exit ${exitCode}`]);
  return { ...c, release: () => docker.docker(["exec", c.id, "touch", "/tmp/go"]) };
}

function registrator(args: string[], env: Record<string, string> = {}): RegistratorProcess {
  const p = startRegistrator(["-ip", "127.0.0.1", "-retry-interval", "200", ...args], { DOCKER_HOST: docker.host, ...env });
  processes.push(p);
  return p;
}

const key = (prefix: string, name: string, container: string, port: number) => `${prefix}/${name}/${HOST}:${container}:${port}`;

before(async () => {
  docker = await ensureDocker();
  etcd = await startEtcd();
});

after(async () => {
  for (const p of processes) await p.stop("SIGKILL");
  if (containers.length) await docker.docker(["rm", "-f", ...containers], { allowFail: true });
  await etcd?.stop();
  await docker?.stop();
});

describe("etcd backend", () => {
  test("registers running containers at start-up, new ones on start, and removes them on die", async () => {
    const prefix = "/lifecycle";
    const early = await run(["-p", "10000:6379", "-e", "SERVICE_NAME=db", "-e", "SERVICE_TAGS=master,backups"]);
    const reg = registrator([`etcd://${etcd.host}${prefix}`]);
    await reg.waitForLog("synced");
    assert.equal(await etcd.get(key(prefix, "db", early.name, 6379)), "127.0.0.1:10000");

    const late = await run(["-p", "10001:80", "-p", "10002:443"]);
    await waitFor(() => etcd.get(key(prefix, "redis-443", late.name, 443)), { what: "the new container's second port" });
    assert.equal(await etcd.get(key(prefix, "redis-80", late.name, 80)), "127.0.0.1:10001");
    assert.equal(await etcd.get(key(prefix, "redis-443", late.name, 443)), "127.0.0.1:10002");

    await docker.docker(["rm", "-f", late.id]);
    await waitFor(async () => (await etcd.get(key(prefix, "redis-80", late.name, 80))) === undefined, { what: "removal on die" });
    assert.equal(await etcd.get(key(prefix, "redis-443", late.name, 443)), undefined);
    const removed = await reg.waitForLog((l) => l.msg === "removed" && l.service === `${HOST}:${late.name}:80`);
    assert.equal(removed.container, late.id.slice(0, 12));
    assert.equal(await etcd.get(key(prefix, "db", early.name, 6379)), "127.0.0.1:10000");
  });

  test("-deregister on-success keeps a container that exited non-zero and removes one that exited 0", async () => {
    const prefix = "/onsuccess";
    const failing = await runUntilReleased(["-p", "10010:80", "-e", "SERVICE_NAME=failing"], 3);
    const passing = await runUntilReleased(["-p", "10011:80", "-e", "SERVICE_NAME=passing"], 0);
    const reg = registrator(["-deregister", "on-success", `etcd://${etcd.host}${prefix}`]);
    await reg.waitForLog("synced");
    assert.ok(await etcd.get(key(prefix, "failing", failing.name, 80)));
    assert.ok(await etcd.get(key(prefix, "passing", passing.name, 80)));

    await failing.release();
    await passing.release();
    await waitFor(async () => (await etcd.get(key(prefix, "passing", passing.name, 80))) === undefined, { what: "exit 0 removed" });
    await reg.waitForLog((l) => l.msg.startsWith("kept:") && l.container === failing.id.slice(0, 12));
    assert.equal(await etcd.get(key(prefix, "failing", failing.name, 80)), "127.0.0.1:10010");
  });

  test("-ttl: keys carry a lease that is renewed while running and expire after kill -9", async () => {
    const prefix = "/ttl";
    const c = await run(["-p", "10020:80", "-e", "SERVICE_NAME=leased"]);
    const reg = registrator(["-ttl", "3", "-ttl-refresh", "1", `etcd://${etcd.host}${prefix}`]);
    const k = key(prefix, "leased", c.name, 80);
    await waitFor(() => etcd.get(k), { what: "leased key" });
    assert.notEqual(await etcd.leaseOf(k), "0");
    await sleep(5000);
    assert.equal(await etcd.get(k), "127.0.0.1:10020", "renewed past the TTL");
    await reg.stop("SIGKILL");
    await waitFor(async () => (await etcd.get(k)) === undefined, { timeoutMs: 8000, what: "expiry after kill -9" });
  });

  test("-cleanup removes this host's dangling entries and keeps other hosts' and foreign ones", async () => {
    const prefix = "/cleanup";
    const c = await run(["-p", "10030:80", "-e", "SERVICE_NAME=web"]);
    await etcd.put(`${prefix}/web/${HOST}:core-t-ghost:80`, "127.0.0.1:1");
    await etcd.put(`${prefix}/web/otherhost:core-t-ghost:80`, "10.9.9.9:1");
    await etcd.put(`${prefix}/web/hand-written`, "10.9.9.9:2");
    const reg = registrator(["-cleanup", `etcd://${etcd.host}${prefix}`]);
    await reg.waitForLog((l) => l.msg.startsWith("removed: dangling") && l.service === `${HOST}:core-t-ghost:80`);
    // Other containers of this run are registered under the prefix too: look at the web entries only.
    const left = Object.keys(await etcd.list(`${prefix}/web/`)).sort();
    assert.deepEqual(
      left,
      [`${prefix}/web/${HOST}:${c.name}:80`, `${prefix}/web/hand-written`, `${prefix}/web/otherhost:core-t-ghost:80`].sort(),
    );
  });

  test("-resync writes back an entry removed from etcd, and leaves one another tool rewrote", async () => {
    const prefix = "/resync";
    const lost = await run(["-p", "10060:80", "-e", "SERVICE_NAME=lost"]);
    // Not this host's default id form, which an unmarked entry would be adopted in (an upgrade from v7).
    const taken = await run(["-p", "10061:80", "-e", "SERVICE_NAME=taken", "-e", `SERVICE_ID=core-t-taken-${process.pid}`]);
    const reg = registrator(["-resync", "1", `etcd://${etcd.host}${prefix}`]);
    await reg.waitForLog("synced");
    const lostKey = key(prefix, "lost", lost.name, 80);
    const takenKey = `${prefix}/taken/core-t-taken-${process.pid}`;
    await etcd.put(takenKey, "10.9.9.9:1");
    await etcd.deletePrefix(lostKey);
    await etcd.deletePrefix(`${prefix}/.registrator/lost/`);
    await waitFor(() => etcd.get(lostKey), { what: "the removed entry written back by -resync" });
    assert.equal(await etcd.get(lostKey), "127.0.0.1:10060");
    const ignored = await reg.waitForLog((l) => l.msg.startsWith("ignored:") && l.container === taken.id.slice(0, 12));
    assert.match(ignored.msg, /is owned by another tool/);
    await sleep(1500);
    assert.equal(await etcd.get(takenKey), "10.9.9.9:1", "still the other tool's after another pass");
  });

  test("-resync with -ttl writes nothing over an entry still as written, and takes back one put outside its lease", async () => {
    const prefix = "/resync-kept";
    const c = await run(["-p", "10062:80", "-e", "SERVICE_NAME=kept"]);
    const reg = registrator(["-resync", "1", "-ttl", "30", "-ttl-refresh", "10", `etcd://${etcd.host}${prefix}`], {
      REGISTRATOR_LOG_LEVEL: "debug",
    });
    const k = key(prefix, "kept", c.name, 80);
    await reg.waitForLog("synced");
    const written = { revision: await etcd.modRevisionOf(k), lease: await etcd.leaseOf(k) };
    const passes = () => reg.logs.filter((l) => l.msg === "registered again" && l.service === `${HOST}:${c.name}:80`).length;
    await waitFor(() => passes() >= 2 || undefined, { what: "two -resync passes" });
    assert.deepEqual({ revision: await etcd.modRevisionOf(k), lease: await etcd.leaseOf(k) }, written, "checked, not rewritten");

    await etcd.put(k, "127.0.0.1:10062");
    assert.equal(await etcd.leaseOf(k), "0");
    await waitFor(async () => (await etcd.leaseOf(k)) === written.lease || undefined, {
      what: "the entry put back under registrator's lease",
    });
    assert.equal(await etcd.get(k), "127.0.0.1:10062");
  });

  test("a container with bad metadata is logged as ignored with its reason while the others register", async () => {
    const prefix = "/badmeta";
    const bad = await run(["-p", "10040:80", "-e", "SERVICE_NAME=../../escape"]);
    const good = await run(["-p", "10041:80", "-e", "SERVICE_NAME=fine"]);
    const reg = registrator([`etcd://${etcd.host}${prefix}`]);
    const ignored = await reg.waitForLog((l) => l.msg.startsWith("ignored:") && l.container === bad.id.slice(0, 12));
    assert.equal(ignored.msg, 'ignored: service name "../../escape" contains "/"');
    await waitFor(() => etcd.get(key(prefix, "fine", good.name, 80)), { what: "the good container" });
    assert.deepEqual(
      Object.keys(await etcd.list("/")).filter((k) => k.includes("escape")),
      [],
    );
  });
});

describe("file backend", () => {
  test("the file holds the current services, sorted by id, and follows starts and dies", async () => {
    const path = join(tempDir("core-file"), "services.json");
    const reg = registrator([`file://${path}`]);
    await reg.waitForLog("synced");
    const a = await run(["-p", "10050:80", "-e", "SERVICE_NAME=file-a"]);
    const b = await run(["-p", "10051:80", "-e", "SERVICE_NAME=file-b", "-e", "SERVICE_REGION=eu"]);
    const read = async () => JSON.parse(await readFile(path, "utf8")) as Array<{ id: string; name: string; attrs: object; port: number }>;
    const ours = async () => (await read()).filter((s) => s.name.startsWith("file-"));
    await waitFor(async () => (await ours()).length === 2, { what: "two services in the file" });
    const all = await read();
    assert.deepEqual(
      all.map((s) => s.id),
      [...all.map((s) => s.id)].sort(),
    );
    const services = await ours();
    assert.deepEqual(
      services.map((s) => ({ id: s.id, name: s.name, port: s.port, attrs: s.attrs })),
      [
        { id: `${HOST}:${a.name}:80`, name: "file-a", port: 10050, attrs: {} },
        { id: `${HOST}:${b.name}:80`, name: "file-b", port: 10051, attrs: { region: "eu" } },
      ].sort((x, y) => x.id.localeCompare(y.id)),
    );
    await docker.docker(["rm", "-f", a.id]);
    await waitFor(async () => (await ours()).length === 1, { what: "removal from the file" });
    assert.equal((await ours())[0]?.name, "file-b");
    assert.equal(await reg.stop(), 0);
  });
});
