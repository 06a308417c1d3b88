/**
 * eureka:// against the in-process Eureka double (no Eureka server can be installed here): the adapter
 * on its own, then the real CLI with real containers.
 */
import assert from "node:assert/strict";
import { hostname } from "node:os";
import { after, before, describe, test } from "node:test";
import { create } from "../../../src/registry/eureka.js";
import { RejectedError, type RegistryAdapter } from "../../../src/registry/types.js";
import { parseRegistryUri } from "../../../src/registry/uri.js";
import type { Service } from "../../../src/service/types.js";
import { ensureDocker, type DockerHarness } from "../../support/docker.js";
import { startEurekaDouble, type EurekaDouble } from "../../support/eureka-double.js";
import { runRegistrator } from "../../support/registrator.js";
import { scene } from "../../support/scene.js";
import { sleep, waitFor } from "../../support/wait.js";

const HOST = hostname();
const TAG = `${process.pid}`;
let docker: DockerHarness;
const { run, registrator, stopAll, cleanup } = scene("eu-t", () => docker);
let eureka: EurekaDouble;
const adapters: RegistryAdapter[] = [];
const OWNER = { hostId: "test-host", container: "c0ffee" };
let unique = 0;

function service(over: Partial<Service> = {}): Service {
  return {
    id: `${HOST}:eu-t-unit-${++unique}:80`,
    name: `eut${TAG}unit${unique}`,
    ip: "127.0.0.1",
    port: 8080,
    tags: [],
    attrs: {},
    ttl: 0,
    origin: { containerId: "c0ffee", containerName: "x", exposedPort: "80", hostPort: "8080", hostIp: "0.0.0.0", protocol: "tcp" },
    ...over,
  };
}

function adapter(ttl = 0, ttlRefresh = 0, uri = eureka.uri): RegistryAdapter {
  const a = create({ uri: parseRegistryUri(uri), ttl, ttlRefresh, env: {} });
  adapters.push(a);
  return a;
}

const requestsTo = (path: string, method: string) => eureka.requests.filter((r) => r.method === method && r.path === path);

before(async () => {
  docker = await ensureDocker();
  eureka = await startEurekaDouble();
});

after(async () => {
  await cleanup();
  for (const a of adapters) await a.close();
  await eureka?.stop();
});

describe("adapter against the double", () => {
  test("register posts the instance (204); services() reads it back with its real id and name", async () => {
    const a = adapter();
    const s = service({ name: `eut${TAG}MixedCase`, attrs: { zone: "a" } });
    await a.ping();
    await a.register(s, OWNER);
    const stored = eureka.instance(s.name.toUpperCase(), s.id);
    assert.equal(stored?.instance.vipAddress, s.name);
    assert.deepEqual(stored?.instance.metadata, { zone: "a", registrator_host: "test-host", registrator_container: "c0ffee" });
    assert.equal(stored?.durationMs, 90_000, "Eureka's default lease without -ttl");
    const found = (await a.services!()).map((x) => x.service).find((x) => x.id === s.id);
    assert.deepEqual([found?.name, found?.ip, found?.port], [s.name, "127.0.0.1", 8080]);
  });

  test("renew heartbeats each instance at the pace it declares, and sends nothing on its own", async () => {
    const a = create({ uri: parseRegistryUri(eureka.uri), ttl: 3, ttlRefresh: 1, env: {} });
    assert.deepEqual(a.capabilities?.renewal?.schedule, { everyMs: 1000, retryMs: 1000 });
    const s = service();
    const path = `/eureka/apps/${s.name.toUpperCase()}/${encodeURIComponent(s.id)}`;
    await a.register(s, OWNER);
    await sleep(1500);
    assert.equal(requestsTo(path, "PUT").length, 0, "an adapter keeps no timer");
    assert.deepEqual(await a.capabilities!.renewal!.renew([{ service: s, owner: OWNER }]), []);
    assert.deepEqual(
      requestsTo(path, "PUT").map((r) => r.status),
      [200],
    );
  });

  test("an instance whose heartbeat gets 404 is reported lost, to be registered again", async () => {
    const a = adapter(3, 1);
    const s = service();
    await a.register(s, OWNER);
    eureka.forget(s.name, s.id);
    const lost = await a.capabilities!.renewal!.renew([{ service: s, owner: OWNER }]);
    assert.deepEqual(
      lost.map((x) => x.id),
      [s.id],
    );
    const path = `/eureka/apps/${s.name.toUpperCase()}/${encodeURIComponent(s.id)}`;
    assert.ok(requestsTo(path, "PUT").some((r) => r.status === 404));
  });

  test("deregister deletes (200) and is idempotent (nothing left to delete); no heartbeat afterwards", async () => {
    const a = adapter(3, 1);
    const s = service();
    await a.register(s, OWNER);
    await a.deregister(s, OWNER);
    assert.equal(eureka.instance(s.name, s.id), undefined);
    await a.deregister(s, OWNER);
    const path = `/eureka/apps/${s.name.toUpperCase()}/${encodeURIComponent(s.id)}`;
    assert.deepEqual(
      requestsTo(path, "DELETE").map((r) => r.status),
      [200],
      "the second finds no instance of its owner",
    );
    await sleep(1500);
    assert.equal(requestsTo(path, "PUT").length, 0);
  });

  test("an instance Eureka refuses (400) is rejected for good, with Eureka's reason", async () => {
    const a = adapter();
    await assert.rejects(
      a.register(service({ ip: "" }), OWNER),
      (err: Error) => err instanceof RejectedError && /HTTP 400: Missing hostname/.test(err.message),
    );
  });

  test("a wrong REST base fails ping with a hint", async () => {
    const a = adapter(0, 0, eureka.uri.replace(/\/eureka$/, "/nope"));
    await assert.rejects(a.ping(), /is \/nope Eureka's REST base\? Spring Cloud's is \/eureka/);
  });
});

describe("eureka:// with the CLI", () => {
  test("registers each service as an instance of its upper-cased app on start and deletes it on die", async () => {
    const name = `eut${TAG}web`;
    const c = await run(name, ["SERVICE_REGION=eu"]);
    const reg = registrator([eureka.uri]);
    await reg.waitForLog("synced");
    const id = `${HOST}:${c.name}:6379`;
    const stored = eureka.instance(name.toUpperCase(), id);
    assert.deepEqual(
      { ...stored?.instance, leaseInfo: undefined },
      {
        instanceId: id,
        hostName: "127.0.0.1",
        app: name.toUpperCase(),
        ipAddr: "127.0.0.1",
        vipAddress: name,
        status: "UP",
        port: { $: c.port, "@enabled": "true" },
        dataCenterInfo: { "@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo", name: "MyOwn" },
        metadata: { region: "eu", registrator_host: HOST, registrator_container: c.id },
        leaseInfo: undefined,
      },
    );
    assert.ok(eureka.requests.some((r) => r.method === "POST" && r.path === `/eureka/apps/${name.toUpperCase()}` && r.status === 204));

    await docker.docker(["kill", c.id]);
    await waitFor(() => !eureka.instance(name, id), { what: "the instance deleted on die" });
    await stopAll();
  });

  test("-ttl sets the lease; heartbeats keep it past the TTL; once registrator is killed the lease expires", async () => {
    const name = `eut${TAG}ttl`;
    const c = await run(name);
    const reg = registrator(["-ttl", "3", "-ttl-refresh", "1", eureka.uri]);
    await reg.waitForLog("synced");
    const id = `${HOST}:${c.name}:6379`;
    assert.equal(eureka.instance(name, id)?.durationMs, 3000);
    assert.deepEqual(eureka.instance(name, id)?.instance.leaseInfo, { renewalIntervalInSecs: 1, durationInSecs: 3 });

    const path = `/eureka/apps/${name.toUpperCase()}/${encodeURIComponent(id)}`;
    const start = requestsTo(path, "PUT").length;
    await sleep(5000);
    assert.ok(eureka.instance(name, id), "alive after more than the TTL");
    const beats = requestsTo(path, "PUT").length - start;
    // One per -ttl-refresh: the bridge's refresh and the adapter's timer do not both send one.
    assert.ok(beats >= 3 && beats <= 7, `${beats} heartbeats in 5 s`);

    await reg.stop("SIGKILL");
    await waitFor(() => !eureka.instance(name, id), { timeoutMs: 6000, what: "the lease to expire" });
  });

  test("-cleanup deletes this host's dangling instances and keeps other hosts' and unmarked ones, whatever their id", async () => {
    const name = `eut${TAG}clean`;
    const owned = (host: string) => ({ registrator_host: host, registrator_container: "0123456789abcdef" });
    const instance = (instanceId: string, metadata = {}) => ({
      metadata,
      instanceId,
      app: name.toUpperCase(),
      hostName: "127.0.0.1",
      ipAddr: "127.0.0.1",
      vipAddress: name,
      port: { $: 1, "@enabled": "true" },
      dataCenterInfo: { "@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo", name: "MyOwn" },
    });
    const dangling = `${HOST}:eu-t-gone-${TAG}:80`;
    const spring = `${HOST}:eu-t-spring-${TAG}:8080`;
    eureka.add(instance(dangling, owned(HOST)));
    eureka.add(instance("otherhost:eu-t-gone:80", owned("otherhost")));
    eureka.add(instance(spring));
    eureka.add(instance("i-0abc"));
    const live = await run(name);

    const reg = registrator(["-cleanup", eureka.uri]);
    await reg.waitForLog((l) => l.msg.startsWith("removed: dangling") && l.service === dangling);
    assert.equal(eureka.instance(name, dangling), undefined);
    assert.ok(eureka.instance(name, "otherhost:eu-t-gone:80"));
    assert.ok(eureka.instance(name, spring), "an application's own instance, with an id of our form");
    assert.ok(eureka.instance(name, "i-0abc"));
    assert.ok(eureka.instance(name, `${HOST}:${live.name}:6379`));
    const listed = eureka.requests.filter((r) => r.method === "GET" && r.path === "/eureka/apps");
    assert.ok(listed.length > 0 && listed.every((r) => r.accept === "application/json"));
    await stopAll();
  });

  test("a URI whose path is not Eureka's REST base exits 1 with a hint", async () => {
    const res = await runRegistrator(["-retry-attempts", "0", eureka.uri.replace(/\/eureka$/, "/eureka/v2")], { DOCKER_HOST: docker.host });
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /unreachable.*HTTP 404.*REST base/);
  });
});
