/** The Consul KV backend (`consul://host/path`, `consulkv://host/path`) against a real Consul agent, dockerd and CLI. */
import assert from "node:assert/strict";
import { hostname } from "node:os";
import { after, before, describe, test } from "node:test";
import { startConsul, type ConsulServer } from "../../support/consul.js";
import { ensureDocker, type DockerHarness } from "../../support/docker.js";
import { freePort } from "../../support/ports.js";
import { runRegistrator, startRegistrator, type LogLine, type RegistratorProcess } from "../../support/registrator.js";
import { waitFor } from "../../support/wait.js";

const HOST = hostname();

let docker: DockerHarness;
let consul: ConsulServer;
let image: string;
const containers: string[] = [];
const processes: RegistratorProcess[] = [];
let unique = 0;

async function run(args: string[]): Promise<{ id: string; name: string }> {
  const name = `consul-t-kv-${process.pid}-${++unique}`;
  const id = await docker.run(["--name", name, ...args, image, "sleep", "3600"]);
  containers.push(id);
  return { id, name };
}

function registrator(args: string[]): RegistratorProcess {
  const p = startRegistrator(["-ip", "127.0.0.1", "-retry-interval", "200", ...args], { DOCKER_HOST: docker.host });
  processes.push(p);
  return p;
}

const added = (id: string) => (line: LogLine) => line.msg === "added" && line.service === id;

/** Key → value under a folder, read with Consul's recursive listing (404 = empty folder). */
async function kvFolder(prefix: string): Promise<Map<string, string>> {
  const res = await consul.api<Array<{ Key: string; Value: string | null }> | string>("GET", `/v1/kv/${prefix}/?recurse`);
  if (res.status === 404) return new Map();
  assert.equal(res.status, 200, String(res.body));
  const entries = res.body as Array<{ Key: string; Value: string | null }>;
  return new Map(entries.map(({ Key, Value }) => [Key, Buffer.from(Value ?? "", "base64").toString("utf8")]));
}

async function putKey(key: string, value: string): Promise<void> {
  // Not consul.api: it would store the value JSON-encoded.
  const res = await fetch(`http://${consul.address}/v1/kv/${key.split("/").map(encodeURIComponent).join("/")}`, {
    method: "PUT",
    body: value,
  });
  assert.equal(res.status, 200, await res.text());
}

before(async () => {
  docker = await ensureDocker();
  image = await docker.image("consul-t/kv");
  consul = await startConsul();
});

after(async () => {
  for (const p of processes) await p.stop("SIGKILL");
  if (containers.length) await docker?.docker(["rm", "-f", ...containers], { allowFail: true });
  await consul?.stop();
  await docker?.stop();
});

describe("Consul KV", () => {
  test("consul://host/path writes <path>/<name>/<id> = <ip>:<port> and deletes it on die", async () => {
    const port = await freePort();
    const name = `consul-t-kvdb-${process.pid}`;
    const c = await run(["-p", `${port}:6379`, "-e", `SERVICE_NAME=${name}`]);
    const id = `${HOST}:${c.name}:6379`;
    const p = registrator([`consul://${consul.address}/services`]);
    await p.waitForLog(added(id));
    assert.equal((await kvFolder("services")).get(`services/${name}/${id}`), `127.0.0.1:${port}`);
    assert.equal(
      (await consul.api<Record<string, unknown>>("GET", "/v1/agent/services")).body[id],
      undefined,
      "KV mode registers no agent service",
    );

    await docker.docker(["rm", "-f", c.id]);
    await p.waitForLog((line) => line.msg === "removed" && line.service === id);
    assert.equal((await kvFolder("services")).has(`services/${name}/${id}`), false);
    await p.stop();
  });

  test("consulkv://host/deep/path, with ids that need URL encoding", async () => {
    const port = await freePort();
    const odd = `consul-t a?b#c%d:${process.pid}`;
    await run(["-p", `${port}:80`, "-e", "SERVICE_NAME=consul-t-odd", "-e", `SERVICE_ID=${odd}`]);
    const p = registrator([`consulkv://${consul.address}/deep/path`]);
    await p.waitForLog(added(odd));
    assert.equal((await kvFolder("deep/path")).get(`deep/path/consul-t-odd/${odd}`), `127.0.0.1:${port}`);
    await p.stop();
  });

  test("-cleanup removes this host's dangling keys and leaves another host's", async () => {
    const gone = `cleanup/web/${HOST}:consul-t-gone-${process.pid}:80`;
    const other = "cleanup/web/otherhost:web:80";
    await putKey(gone, "127.0.0.1:1");
    await putKey(other, "10.0.0.9:80");
    const p = registrator(["-cleanup", `consul://${consul.address}/cleanup`]);
    await p.waitForLog((line) => line.msg.startsWith("removed: dangling") && line.service === `${HOST}:consul-t-gone-${process.pid}:80`);
    await waitFor(async () => !(await kvFolder("cleanup")).has(gone), { what: `${gone} to be deleted` });
    assert.equal((await kvFolder("cleanup")).get(other), "10.0.0.9:80");
    await p.stop();
  });

  test("-ttl: a notice that KV entries do not expire", async () => {
    const p = registrator(["-ttl", "30", "-ttl-refresh", "10", `consulkv://${consul.address}/ttl`]);
    await p.waitForLog("-ttl and -ttl-refresh are not used with Consul KV: its entries do not expire");
    await p.waitForLog("synced");
    await p.stop();
  });

  test("consulkv:// without a path exits 2 with an example", async () => {
    const res = await runRegistrator([`consulkv://${consul.address}`]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /consulkv:\/\/ needs a key path, e\.g\. consulkv:\/\/127\.0\.0\.1:8500\/services/);
  });
});
