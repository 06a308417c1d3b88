/**
 * discoverd:// against the real Flynn discoverd (one node; ../shared/bin/README.md says how it behaves):
 * the adapter on its own, driven as the bridge drives it. The in-process double serves only what one
 * real node cannot show: a follower's 307 to the raft leader.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { create, instanceId } from "../../../src/registry/discoverd.js";
import { OwnedElsewhereError, RejectedError, type Owner, type RegistryAdapter } from "../../../src/registry/types.js";
import { parseRegistryUri } from "../../../src/registry/uri.js";
import type { Service } from "../../../src/service/types.js";
import { startDiscoverdDouble, type DiscoverdDouble } from "../../support/discoverd-double.js";
import { startDiscoverd, type DiscoverdServer } from "../../support/discoverd.js";
import { freePort } from "../../support/ports.js";
import { waitFor } from "../../support/wait.js";

const owner: Owner = { hostId: "host-a", container: "c0ffee" };
const doubles: DiscoverdDouble[] = [];
const servers: DiscoverdServer[] = [];
const adapters: RegistryAdapter[] = [];
let discoverd: DiscoverdServer;
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
    origin: { containerId: "c0ffee", containerName: `dd-${unique}`, exposedPort: "80", hostPort: "", hostIp: "0.0.0.0", protocol: "tcp" },
    ...over,
  };
}

/** `--net=host --expose` on the same port: another container, another service id, the same address. */
function neighbourOf(first: Service): Service {
  return service({ name: first.name, port: first.port, origin: { ...first.origin, containerId: "beef", containerName: "neighbour" } });
}

function adapter(uri = discoverd.uri): RegistryAdapter {
  const a = create({ uri: parseRegistryUri(uri), ttl: 0, ttlRefresh: 0, env: {} });
  adapters.push(a);
  return a;
}

async function server(): Promise<DiscoverdServer> {
  const d = await startDiscoverd();
  servers.push(d);
  return d;
}

const idOf = (s: Service) => instanceId(s.origin.protocol, `${s.ip}:${s.port}`);
const stored = async (d: DiscoverdServer, s: Service) => (await d.instances(s.name))?.find((i) => i.id === idOf(s));
const renew = (a: RegistryAdapter, services: Service[], by = owner) =>
  a.capabilities!.renewal!.renew(services.map((s) => ({ service: s, owner: by })));

before(async () => {
  discoverd = await server();
});

after(async () => {
  for (const a of adapters) await a.close();
  for (const d of doubles) await d.stop();
  for (const d of servers) await d.stop();
});

describe("adapter against discoverd", () => {
  test("register creates the service, then the instance under discoverd's id with our meta", async () => {
    const a = adapter();
    const s = service();
    await a.ping();
    await a.register(s, owner);
    assert.deepEqual(await stored(discoverd, s), {
      id: idOf(s),
      addr: `127.0.0.1:${s.port}`,
      proto: "tcp",
      meta: { service_id: s.id, tags: "blue", registrator_host: "host-a", registrator_container: "c0ffee", attr_zone: "a" },
      index: (await stored(discoverd, s))?.index,
    });
  });

  test("registering again accepts discoverd's 409 for the existing service and keeps the instance as it was", async () => {
    const a = adapter();
    const s = service();
    await a.register(s, owner);
    const index = (await stored(discoverd, s))?.index;
    await a.register(s, owner);
    assert.equal((await stored(discoverd, s))?.index, index, "the same bytes: no raft write");
  });

  test("renew keeps an instance alive past discoverd's expiry; one not renewed expires", async () => {
    const a = adapter();
    const kept = service();
    const dropped = service({ name: kept.name });
    await a.register(kept, owner);
    await a.register(dropped, owner);
    // discoverd expires instances 10 s after their last PUT, once it has led for 20 s.
    await waitFor(
      async () => {
        assert.deepEqual(await renew(a, [kept]), []);
        return (await stored(discoverd, dropped)) === undefined;
      },
      { timeoutMs: 60_000, intervalMs: 2_000, what: "the instance not renewed to expire" },
    );
    assert.ok(await stored(discoverd, kept), "the renewed instance is there");
  });

  test("renew reports what a cluster started afresh lost; register writes it again", async () => {
    const d = await server();
    const a = adapter(d.uri);
    const s = service();
    const alive = service();
    await a.register(s, owner);
    await a.register(alive, owner);
    await d.restartEmpty();
    await a.register(alive, owner);
    assert.deepEqual(await renew(a, [s, alive]), [s]);
    await a.register(s, owner);
    assert.ok(await stored(d, s));
    assert.deepEqual(await renew(a, [s]), []);
  });

  test("renew tries every instance, then throws a failure that passes when discoverd is gone", async () => {
    const d = await server();
    const a = adapter(d.uri);
    const [s1, s2] = [service(), service()];
    await a.register(s1, owner);
    await a.register(s2, owner);
    await d.stop();
    await assert.rejects(renew(a, [s1, s2]), (err: unknown) => {
      assert.ok(!(err instanceof RejectedError));
      assert.match((err as Error).message, /ECONNREFUSED/);
      return true;
    });
  });

  test("deregister deletes the instance; a missing one, or one of a service never created, is no error", async () => {
    const a = adapter();
    const s = service();
    await a.register(s, owner);
    await a.deregister(s, owner);
    assert.equal(await stored(discoverd, s), undefined);
    await a.deregister(s, owner);
    await a.deregister(service(), owner);
  });

  test("services() lists ours in the named services, with their owner; another client's is never written over nor listed", async () => {
    const s = service({ tags: ["x", "y"] });
    const empty = service();
    const a = adapter(`${discoverd.uri}?services=${s.name},${empty.name}`);
    await a.register(s, owner);
    const otherAddr = "10.9.9.9:5432";
    const other = { id: instanceId("http", otherAddr), addr: otherAddr, proto: "http", meta: { FLYNN_APP_ID: "app" } };
    assert.equal((await discoverd.api("PUT", `/services/${s.name}/instances/${other.id}`, other)).status, 200);
    const found = await a.services();
    assert.equal(found.length, 1);
    const ours = found[0];
    assert.deepEqual(ours?.owner, owner);
    assert.deepEqual(
      [ours?.service.id, ours?.service.name, ours?.service.port, ours?.service.tags, ours?.service.attrs],
      [s.id, s.name, s.port, ["x", "y"], { zone: "a" }],
    );
    const theirs = service({ name: s.name, ip: "10.9.9.9", port: 5432 });
    theirs.origin.protocol = "http" as Service["origin"]["protocol"];
    await assert.rejects(
      a.register(theirs, owner),
      (err: Error) => err instanceof OwnedElsewhereError && err.message === `${theirs.id} is owned by another tool`,
    );
    await a.deregister(theirs, owner);
    assert.deepEqual(
      (await discoverd.instances(s.name))?.find((i) => i.id === other.id)?.meta,
      other.meta,
      "another client's instance stays as written",
    );
  });

  test("an instance of another host at the address is left alone; our host's other container of the same service is taken over", async () => {
    const a = adapter();
    const s = service();
    await a.register(s, { hostId: "host-b", container: "b1" });
    await assert.rejects(
      a.register(s, owner),
      (err: Error) => err instanceof OwnedElsewhereError && err.message === `${s.id} is owned by host-b/b1`,
    );
    await a.deregister(s, owner);
    assert.equal((await stored(discoverd, s))?.meta?.registrator_host, "host-b");
    assert.deepEqual(await a.register(s, { hostId: "host-b", container: "b2" }), { tookOver: { hostId: "host-b", container: "b1" } });
  });

  test("two services of our host at one address: the first holder keeps the instance, and heartbeats never change it", async () => {
    const a = adapter();
    const first = service();
    const second = neighbourOf(first);
    const neighbour = { hostId: "host-a", container: "beef" };
    await a.register(first, owner);
    await assert.rejects(a.register(second, neighbour), (err: Error) => {
      assert.ok(err instanceof OwnedElsewhereError);
      assert.equal(err.message, `${second.id}: address 127.0.0.1:${first.port} is owned by host-a/c0ffee for ${first.id}`);
      return true;
    });
    await a.deregister(second, neighbour);
    assert.deepEqual(await renew(a, [first]), []);
    const held = await stored(discoverd, first);
    assert.deepEqual([held?.meta?.service_id, held?.meta?.registrator_container], [first.id, "c0ffee"]);
  });

  test("two services of one container at one address: the first keeps the instance, and writes it again", async () => {
    const a = adapter();
    const first = service();
    const second = service({ name: first.name, port: first.port, origin: first.origin });
    await a.register(first, owner);
    await assert.rejects(a.register(second, owner), (err: Error) => {
      assert.ok(err instanceof OwnedElsewhereError);
      assert.equal(err.message, `${second.id}: address 127.0.0.1:${first.port} is owned by host-a/c0ffee for ${first.id}`);
      return true;
    });
    assert.deepEqual(await a.register(first, owner), { tookOver: undefined });
    await a.deregister(second, owner);
    assert.equal((await stored(discoverd, first))?.meta?.service_id, first.id);
  });

  test("two containers racing for one address in one process: exactly one holds it", async () => {
    const a = adapter();
    const first = service();
    const second = neighbourOf(first);
    const results = await Promise.allSettled([a.register(first, owner), a.register(second, { hostId: "host-a", container: "beef" })]);
    assert.deepEqual(
      results.map((r) => r.status),
      ["fulfilled", "rejected"],
    );
    assert.equal((await stored(discoverd, first))?.meta?.service_id, first.id);
  });

  test("services() without names says how to give them", async () => {
    await assert.rejects(adapter().services(), /\?services=web,api/);
  });

  test("a server that refuses connections is skipped for the next in the URI", async () => {
    const a = adapter(`discoverd://127.0.0.1:${await freePort()},${discoverd.hostPort}`);
    await a.ping();
    const s = service();
    await a.register(s, owner);
    assert.ok(await stored(discoverd, s));
  });

  test("every server down: the connection error comes through", async () => {
    const a = adapter(`discoverd://127.0.0.1:${await freePort()}`);
    await assert.rejects(a.ping(), /ECONNREFUSED/);
  });

  test("a name discoverd refuses: validate says why, register throws RejectedError and nothing is created", async () => {
    const a = adapter();
    const s = service({ name: "My_Web" });
    assert.match(a.capabilities?.rules?.validate(s) ?? "", /cannot be a discoverd service/);
    await assert.rejects(a.register(s, owner), RejectedError);
    await a.deregister(s, owner);
    const res = await discoverd.api("PUT", "/services/My_Web", { leader_type: "oldest" });
    assert.equal(res.status, 400, "discoverd itself refuses the name");
  });
});

describe("a follower (the double: one real node has none)", () => {
  test("a follower's 307 is followed to the raft leader; reads are served by the follower", async () => {
    const leader = await startDiscoverdDouble();
    doubles.push(leader);
    const follower = await startDiscoverdDouble({ leader });
    doubles.push(follower);
    const a = adapter(follower.uri);
    const s = service();
    const doubleId = idOf(s);
    await a.register(s, owner);
    assert.deepEqual(
      follower.requests.map((r) => [r.method, r.status, r.location]),
      [
        ["GET", 404, undefined],
        ["PUT", 307, `http://${leader.hostPort}/services/${s.name}`],
        ["PUT", 307, `http://${leader.hostPort}/services/${s.name}/instances/${doubleId}`],
      ],
    );
    assert.ok(
      leader.instances(s.name)?.some((i) => i.id === doubleId),
      "the leader holds the instance",
    );
    const listed = await adapter(`${follower.uri}?services=${s.name}`).services();
    assert.deepEqual(
      listed.map((f) => f.service.id),
      [s.id],
    );
    assert.deepEqual(follower.requests.at(-1)?.status, 200, "the follower answered the read itself");
    assert.deepEqual(await renew(a, [s]), []);
    await a.deregister(s, owner);
    assert.equal(leader.instances(s.name), undefined);
  });
});

describe("the double, as discoverd answers", () => {
  let double: DiscoverdDouble;
  before(async () => {
    double = await startDiscoverdDouble();
    doubles.push(double);
  });
  const put = (path: string, body?: string) => fetch(`http://${double.hostPort}${path}`, { method: "PUT", body });

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
