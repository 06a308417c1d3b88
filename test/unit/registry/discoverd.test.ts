import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  addr,
  create,
  discoverdTarget,
  fromInstance,
  instanceId,
  instancePath,
  nameProblem,
  payload,
} from "../../../src/registry/discoverd.js";
import { InvalidUriError } from "../../../src/registry/types.js";
import { parseRegistryUri } from "../../../src/registry/uri.js";
import { webService } from "./fixtures.js";

const owner = { hostId: "myhost", container: "0123456789abcdef0123" };

describe("URI", () => {
  test("no host is discoverd's default 127.0.0.1:1111; a host without port gets 1111", () => {
    assert.deepEqual(discoverdTarget(parseRegistryUri("discoverd:")).origins, ["http://127.0.0.1:1111"]);
    assert.deepEqual(discoverdTarget(parseRegistryUri("discoverd://10.0.0.1")).origins, ["http://10.0.0.1:1111"]);
  });

  test("several hosts, IPv6 bracketed, in the URI's order", () => {
    assert.deepEqual(discoverdTarget(parseRegistryUri("discoverd://d1:1112,[fd00::1],d3")).origins, [
      "http://d1:1112",
      "http://[fd00::1]:1111",
      "http://d3:1111",
    ]);
  });

  test("?services= names what -cleanup lists; a name discoverd refuses, a path or a bad host is exit 2", () => {
    assert.deepEqual(discoverdTarget(parseRegistryUri("discoverd://d1?services=web, api")).names, ["web", "api"]);
    assert.deepEqual(discoverdTarget(parseRegistryUri("discoverd://d1")).names, []);
    assert.throws(() => discoverdTarget(parseRegistryUri("discoverd://d1?services=Web")), InvalidUriError);
    assert.throws(() => discoverdTarget(parseRegistryUri("discoverd://d1/services")), /takes no path/);
    assert.throws(() => discoverdTarget(parseRegistryUri("discoverd://d1,d2:99999")), /invalid host/);
  });
});

describe("instances", () => {
  test("id = hex MD5 of <proto>-<addr>, as discoverd's client/instance.go computes it", () => {
    // printf 'tcp-10.0.0.5:32768' | md5sum
    assert.equal(instanceId("tcp", "10.0.0.5:32768"), "13debdac902f7b4191582d0ee4567ca7");
    // printf 'udp-[fd00::5]:53' | md5sum
    assert.equal(instanceId("udp", addr({ ip: "fd00::5", port: 53 })), "8bf7bd190b480b91dd4dc1aa07d818a8");
  });

  test("addr is <ip>:<port>, IPv6 bracketed; the path escapes what it must", () => {
    assert.equal(addr({ ip: "10.0.0.5", port: 32768 }), "10.0.0.5:32768");
    assert.equal(addr({ ip: "fd00::5", port: 80 }), "[fd00::5]:80");
    assert.equal(instancePath("web", "abc"), "/services/web/instances/abc");
  });

  test("payload: id, addr, proto and meta with the service id, tags, owner and attr_ attributes", () => {
    assert.deepEqual(payload(webService({ tags: ["a", "b"], attrs: { region: "eu", tags: "x" } }), owner), {
      id: "13debdac902f7b4191582d0ee4567ca7",
      addr: "10.0.0.5:32768",
      proto: "tcp",
      meta: {
        service_id: "myhost:web:80",
        tags: "a,b",
        registrator_host: "myhost",
        registrator_container: "0123456789abcdef0123",
        attr_region: "eu",
        attr_tags: "x",
      },
    });
  });

  test("the proto is the port's protocol", () => {
    const udp = webService({ origin: { ...webService().origin, protocol: "udp" } });
    assert.equal(payload(udp, owner).proto, "udp");
    assert.equal(payload(udp, owner).id, instanceId("udp", "10.0.0.5:32768"));
  });

  test("read back: our instance gives the service and its owner", () => {
    const s = webService({ tags: ["a", "b"] });
    const { service, owner: found } = fromInstance("web", { ...payload(s, owner), index: 7 });
    assert.deepEqual(found, owner);
    assert.deepEqual(
      [service.id, service.name, service.ip, service.port, service.tags, service.attrs],
      [s.id, "web", "10.0.0.5", 32768, ["a", "b"], { region: "eu" }],
    );
    assert.equal(service.origin.protocol, "tcp");
  });

  test("read back: another client's instance has no owner and is known by discoverd's id", () => {
    const other = fromInstance("web", { id: "f00", addr: "[fd00::9]:8080", proto: "http", meta: { FLYNN_APP_ID: "x" } });
    assert.equal(other.owner, undefined);
    assert.deepEqual([other.service.id, other.service.ip, other.service.port, other.service.tags], ["f00", "fd00::9", 8080, []]);
  });
});

describe("names", () => {
  test("discoverd's rule: non-empty, only a-z, 0-9 and -", () => {
    assert.equal(nameProblem("web-1"), undefined);
    assert.match(nameProblem("Web") ?? "", /only a-z, 0-9 and "-"/);
    assert.match(nameProblem("my_app") ?? "", /cannot be a discoverd service/);
    assert.match(nameProblem("a.b") ?? "", /cannot be a discoverd service/);
    assert.match(nameProblem("") ?? "", /needs a service name/);
  });
});

describe("factory", () => {
  const adapterFor = (ttl: number, ttlRefresh: number) =>
    create({ uri: parseRegistryUri("discoverd://127.0.0.1:1"), ttl, ttlRefresh, env: {} });

  test("refresh every 5 s and 200 ms after a failure, as Flynn's client; -ttl-refresh sets the interval", async () => {
    const a = adapterFor(0, 0);
    assert.deepEqual(a.capabilities?.renewal?.schedule, { everyMs: 5000, retryMs: 200 });
    assert.equal(a.capabilities?.rules?.notice, undefined);
    const b = adapterFor(0, 3);
    assert.deepEqual(b.capabilities?.renewal?.schedule, { everyMs: 3000, retryMs: 200 });
    await Promise.all([a.close(), b.close()]);
  });

  test("the notice says -ttl does not apply and warns of heartbeats slower than discoverd's 10 s TTL", async () => {
    const a = adapterFor(30, 12);
    assert.match(a.capabilities?.rules?.notice ?? "", /-ttl does not apply/);
    assert.match(a.capabilities?.rules?.notice ?? "", /every 12 s let instances lapse/);
    await a.close();
  });

  test("validate says why discoverd refuses a name", async () => {
    const a = adapterFor(0, 0);
    assert.equal(a.capabilities?.rules?.validate(webService()), undefined);
    assert.match(a.capabilities?.rules?.validate(webService({ name: "My_Web" })) ?? "", /cannot be a discoverd service/);
    await a.close();
  });
});
