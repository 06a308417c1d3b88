/**
 * discoverd:// against the in-process discoverd double (Flynn is no longer developed; discoverd has no
 * package): the adapter on its own, driven as the bridge drives it.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { HttpStatusError } from "../../../src/http-client.js";
import { create, instanceId } from "../../../src/registry/discoverd.js";
import { OwnedElsewhereError, RejectedError, type Owner, type RegistryAdapter } from "../../../src/registry/types.js";
import { parseRegistryUri } from "../../../src/registry/uri.js";
import type { Service } from "../../../src/service/types.js";
import { startDiscoverdDouble, type DiscoverdDouble } from "../../support/discoverd-double.js";
import { freePort } from "../../support/ports.js";
import { sleep } from "../../support/wait.js";

/** Short enough to watch instances expire; the double's default is discoverd's 10 s. */
const TTL_MS = 400;
const owner: Owner = { host: "host-a", container: "c0ffee" };
const doubles: DiscoverdDouble[] = [];
const adapters: RegistryAdapter[] = [];
let discoverd: DiscoverdDouble;
let unique = 0;

function service(over: Partial<Service> = {}): Service {
  unique++;
  return {
    id: `host-a:dd-${unique}:80`,
    name: `dd-${process.pid}-${unique}`,
    ip: "127.0.0.1",
    port: 20_000 + unique,
    tags: ["blue"],
    attrs: { zone: "a" },
    ttl: 0,
    origin: { containerId: "c0ffee", containerName: "x", exposedPort: "80", hostPort: "", hostIp: "0.0.0.0", protocol: "tcp" },
    ...over,
  };
}

function adapter(uri = discoverd.uri): RegistryAdapter {
  const a = create({ uri: parseRegistryUri(uri), ttl: 0, ttlRefresh: 0, env: {} });
  adapters.push(a);
  return a;
}

async function double(opts: Parameters<typeof startDiscoverdDouble>[0] = {}): Promise<DiscoverdDouble> {
  const d = await startDiscoverdDouble({ instanceTtlMs: TTL_MS, ...opts });
  doubles.push(d);
  return d;
}

const idOf = (s: Service) => instanceId(s.origin.protocol, `${s.ip}:${s.port}`);
const stored = (d: DiscoverdDouble, s: Service) => d.instances(s.name)?.find((i) => i.id === idOf(s));
const since = (d: DiscoverdDouble, mark: number) => d.requests.slice(mark).map((r) => `${r.method} ${r.path} ${r.status}`);

before(async () => {
  discoverd = await double();
});

after(async () => {
  for (const a of adapters) await a.close();
  for (const d of doubles) await d.stop();
});

describe("adapter against the double", () => {
  test("register reads who holds the address, creates the service, then PUTs the instance under discoverd's id with our meta", async () => {
    const a = adapter();
    const s = service();
    await a.ping();
    const mark = discoverd.requests.length;
    await a.register(s, owner);
    const path = `/services/${s.name}/instances/${idOf(s)}`;
    assert.deepEqual(since(discoverd, mark), [`GET /services/${s.name}/instances 404`, `PUT /services/${s.name} 200`, `PUT ${path} 200`]);
    assert.deepEqual(discoverd.requests.at(-2)?.body, { leader_type: "oldest" });
    assert.deepEqual(stored(discoverd, s), {
      id: idOf(s),
      addr: `127.0.0.1:${s.port}`,
      proto: "tcp",
      meta: { service_id: s.id, tags: "blue", registrator_host: "host-a", registrator_container: "c0ffee", attr_zone: "a" },
      index: stored(discoverd, s)?.index,
    });
  });

  test("registering again accepts discoverd's 409 for the existing service and keeps the instance's index", async () => {
    const a = adapter();
    const s = service();
    await a.register(s, owner);
    const index = stored(discoverd, s)?.index;
    const mark = discoverd.requests.length;
    await a.register(s, owner);
    assert.deepEqual(since(discoverd, mark).slice(0, 2), [`GET /services/${s.name}/instances 200`, `PUT /services/${s.name} 409`]);
    assert.equal(stored(discoverd, s)?.index, index);
  });

  test("refresh keeps an instance alive past discoverd's expiry; one not refreshed expires", async () => {
    const a = adapter();
    const kept = service();
    const dropped = service({ name: kept.name });
    await a.register(kept, owner);
    await a.register(dropped, owner);
    for (let elapsed = 0; elapsed < TTL_MS * 2.5; elapsed += TTL_MS / 4) {
      assert.deepEqual(await a.refresh!([{ service: kept, owner }]), []);
      await sleep(TTL_MS / 4);
    }
    assert.ok(stored(discoverd, kept), "the refreshed instance is there");
    assert.equal(stored(discoverd, dropped), undefined, "the other one expired");
  });

  test("refresh reports what a restarted discoverd lost; register writes it again", async () => {
    const a = adapter();
    const s = service();
    const alive = service();
    await a.register(s, owner);
    await a.register(alive, owner);
    discoverd.restart();
    await a.register(alive, owner);
    assert.deepEqual(await a.refresh!([{ service: s, owner }, { service: alive, owner }]), [s]);
    await a.register(s, owner);
    assert.ok(stored(discoverd, s));
    assert.deepEqual(await a.refresh!([{ service: s, owner }]), []);
  });

  test("refresh tries every instance, then throws when discoverd fails them (503 while shutting down)", async () => {
    const d = await double();
    const a = adapter(d.uri);
    const [s1, s2] = [service(), service()];
    await a.register(s1, owner);
    await a.register(s2, owner);
    const mark = d.requests.length;
    d.shutDown();
    await assert.rejects(a.refresh!([{ service: s1, owner }, { service: s2, owner }]), (err: unknown) => {
      assert.ok(err instanceof HttpStatusError && !(err instanceof RejectedError));
      assert.equal(err.status, 503);
      return true;
    });
    assert.equal(since(d, mark).length, 2, "both heartbeats were sent");
  });

  test("deregister deletes the instance; a missing one, or one of a forgotten service, is no error", async () => {
    const a = adapter();
    const s = service();
    await a.register(s, owner);
    await a.deregister(s, owner);
    assert.equal(stored(discoverd, s), undefined);
    await a.deregister(s, owner);
    const mark = discoverd.requests.length;
    await a.deregister(service(), owner);
    assert.deepEqual(since(discoverd, mark).map((line) => line.split(" ").at(-1)), ["404"]);
  });

  test("services() lists ours in the named services, with their owner; another client's is never written over nor listed", async () => {
    const s = service({ tags: ["x", "y"] });
    const empty = service();
    const a = adapter(`${discoverd.uri}?services=${s.name},${empty.name}`);
    await a.register(s, owner);
    const other = discoverd.add(s.name, { addr: "10.9.9.9:5432", proto: "http", meta: { FLYNN_APP_ID: "app" } });
    const found = await a.services!();
    assert.equal(found.length, 1);
    const ours = found[0];
    assert.deepEqual(ours?.owner, owner);
    assert.deepEqual([ours?.service.id, ours?.service.name, ours?.service.port, ours?.service.tags, ours?.service.attrs], [
      s.id,
      s.name,
      s.port,
      ["x", "y"],
      { zone: "a" },
    ]);
    const theirs = service({ name: s.name, ip: "10.9.9.9", port: 5432 });
    theirs.origin.protocol = "http" as Service["origin"]["protocol"];
    await assert.rejects(a.register(theirs, owner), (err: Error) => err instanceof OwnedElsewhereError && err.message === `${theirs.id} is owned by another tool`);
    await a.deregister(theirs, owner);
    assert.ok(discoverd.instances(s.name)?.some((i) => i.id === other.id), "another client's instance stays");
  });

  test("an instance of another host at the address is left alone; our host's other container is taken over", async () => {
    const a = adapter();
    const s = service();
    await a.register(s, { host: "host-b", container: "b1" });
    await assert.rejects(a.register(s, owner), (err: Error) => err instanceof OwnedElsewhereError && err.message === `${s.id} is owned by host-b/b1`);
    await a.deregister(s, owner);
    assert.equal(stored(discoverd, s)?.meta?.registrator_host, "host-b");
    assert.deepEqual(await a.register(s, { host: "host-b", container: "b2" }), { tookOver: { host: "host-b", container: "b1" } });
  });

  test("services() without names says how to give them", async () => {
    await assert.rejects(adapter().services!(), /\?services=web,api/);
  });

  test("a follower's 307 is followed to the raft leader; reads are served by the follower", async () => {
    const follower = await double({ leader: discoverd });
    const a = adapter(follower.uri);
    const s = service();
    await a.register(s, owner);
    assert.deepEqual(
      follower.requests.map((r) => [r.method, r.status, r.location]),
      [
        ["GET", 404, undefined],
        ["PUT", 307, `http://${discoverd.hostPort}/services/${s.name}`],
        ["PUT", 307, `http://${discoverd.hostPort}/services/${s.name}/instances/${idOf(s)}`],
      ],
    );
    assert.ok(stored(discoverd, s), "the leader holds the instance");
    const listed = await adapter(`${follower.uri}?services=${s.name}`).services!();
    assert.deepEqual(listed.map((f) => f.service.id), [s.id]);
    assert.deepEqual(follower.requests.at(-1)?.status, 200, "the follower answered the read itself");
    assert.deepEqual(await a.refresh!([{ service: s, owner }]), []);
    await a.deregister(s, owner);
    assert.equal(stored(discoverd, s), undefined);
  });

  test("a server that refuses connections is skipped for the next in the URI", async () => {
    const a = adapter(`discoverd://127.0.0.1:${await freePort()},${discoverd.hostPort}`);
    await a.ping();
    const s = service();
    await a.register(s, owner);
    assert.ok(stored(discoverd, s));
  });

  test("every server down: the connection error comes through", async () => {
    const a = adapter(`discoverd://127.0.0.1:${await freePort()}`);
    await assert.rejects(a.ping(), /ECONNREFUSED/);
  });

  test("a name discoverd refuses: validate says why, register throws RejectedError without a request", async () => {
    const a = adapter();
    const s = service({ name: "My_Web" });
    assert.match(a.validate!(s) ?? "", /cannot be a discoverd service/);
    const mark = discoverd.requests.length;
    await assert.rejects(a.register(s, owner), RejectedError);
    await a.deregister(s, owner);
    assert.deepEqual(since(discoverd, mark), []);
    const res = await fetch(`http://${discoverd.hostPort}/services/My_Web`, { method: "PUT", body: "{}" });
    assert.equal(res.status, 400, "the double refuses the name as discoverd does");
    assert.match(await res.text(), /lowercase alphanumeric plus dash/);
  });
});

describe("the double, as discoverd answers", () => {
  const put = (path: string, body?: string) => fetch(`http://${discoverd.hostPort}${path}`, { method: "PUT", body });

  test("an instance whose id is not md5(proto-addr) is a 400 validation_error naming the right one", async () => {
    const name = service().name;
    await put(`/services/${name}`, "{}");
    const res = await put(`/services/${name}/instances/x`, JSON.stringify({ id: "x", addr: "10.0.0.1:80", proto: "tcp" }));
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), {
      code: "validation_error",
      message: `discoverd: instance id is incorrect, expected ${instanceId("tcp", "10.0.0.1:80")}`,
      retry: false,
    });
  });

  test("an unbracketed IPv6 addr, an upper-case proto, an empty service body, an unknown service", async () => {
    const name = service().name;
    const instance = (addr: string, proto: string) => JSON.stringify({ id: instanceId(proto, addr), addr, proto });
    assert.equal((await put(`/services/${name}`)).status, 500, "Go's io.EOF from an empty body");
    assert.equal((await put(`/services/${name}/instances/x`, instance("10.0.0.1:80", "tcp"))).status, 404);
    await put(`/services/${name}`, "{}");
    const unbracketed = await put(`/services/${name}/instances/x`, instance("fd00::1:80", "tcp"));
    assert.equal(unbracketed.status, 400);
    assert.match(await unbracketed.text(), /too many colons/);
    assert.equal((await put(`/services/${name}/instances/x`, instance("10.0.0.1:80", "TCP"))).status, 400);
    assert.equal((await put(`/services/${name}/instances/x`, instance("[fd00::1]:80", "tcp"))).status, 200);
  });
});
