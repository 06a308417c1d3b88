import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { EtcdAdapter } from "../../../src/registry/etcd.js";
import {
  dnsSafeId,
  labelProblem,
  parseRecord,
  recordKey,
  recordLayout,
  recordValue,
  serviceProblem,
  skydnsLayout,
  type SkyDnsLayout,
} from "../../../src/registry/skydns2.js";
import { InvalidUriError, OwnedElsewhereError } from "../../../src/registry/types.js";
import { parseRegistryUri } from "../../../src/registry/uri.js";
import type { Service } from "../../../src/service/types.js";
import { memoryEtcd } from "./fixtures.js";

const layoutOf = (raw: string) => skydnsLayout(parseRegistryUri(raw));
const STAGING = layoutOf("skydns2://127.0.0.1:2379/staging.skydns.local");
const COREDNS = layoutOf("coredns://127.0.0.1:2379/skydns?zone=service.local");

function service(over: Partial<Service> = {}): Service {
  return {
    id: "myhost:redis.0:6379",
    name: "redis",
    ip: "192.168.1.102",
    port: 10000,
    tags: [],
    attrs: {},
    ttl: 0,
    origin: { containerId: "c0ffee", containerName: "redis.0", exposedPort: "6379", hostPort: "10000", hostIp: "0.0.0.0", protocol: "tcp" },
    ...over,
  };
}

/** The key CoreDNS's etcd plugin reads for a DNS name: its labels reversed under the prefix. */
function corednsPath(name: string, prefix = "/skydns"): string {
  return `${prefix}/${name.replace(/\.$/, "").split(".").reverse().join("/")}`;
}

describe("URI", () => {
  test("skydns2: the path is the domain; records go under /skydns with its labels reversed", () => {
    assert.deepEqual(STAGING, { base: "/skydns/local/skydns/staging", domain: "staging.skydns.local", ids: "keep" });
    assert.equal(layoutOf("skydns2:///skydns.local").base, "/skydns/local/skydns");
    assert.equal(layoutOf("skydns2://h/Staging.SkyDNS.Local.").base, "/skydns/local/skydns/staging");
  });

  test("skydns2 without a domain is refused with a correct example", () => {
    for (const raw of ["skydns2://127.0.0.1:2379", "skydns2://host/", "skydns2://"]) {
      assert.throws(
        () => layoutOf(raw),
        (err: Error) => {
          assert.ok(err instanceof InvalidUriError, raw);
          assert.match(err.message, /needs a DNS domain/);
          assert.match(err.message, /skydns2:\/\/127\.0\.0\.1:2379\/skydns\.local/);
          return true;
        },
      );
    }
  });

  test("skydns2 with a domain that is no DNS name is refused", () => {
    for (const raw of ["skydns2://h/a/b", "skydns2://h/a..b", "skydns2://h/a b.local", `skydns2://h/${"x".repeat(64)}.local`]) {
      assert.throws(() => layoutOf(raw), InvalidUriError, raw);
    }
  });

  test("coredns: path = key prefix, zone = DNS zone, with the fork's defaults /skydns and local", () => {
    assert.deepEqual(COREDNS, { base: "/skydns/local/service", domain: "service.local", ids: "dns-safe" });
    assert.equal(layoutOf("coredns://h:2379").base, "/skydns/local");
    assert.equal(layoutOf("coredns://h:2379/dns/records?zone=corp.example.com").base, "/dns/records/com/example/corp");
  });

  test("coredns with a bad zone or prefix is refused", () => {
    for (const raw of ["coredns://h/skydns?zone=a..b", "coredns://h/skydns?zone=a_b%20c", "coredns://h/sky/../dns", "coredns://h//x"]) {
      assert.throws(() => layoutOf(raw), InvalidUriError, raw);
    }
  });
});

describe("DNS labels", () => {
  test("letters, digits, - and _ of at most 63 bytes pass", () => {
    for (const label of ["redis", "Redis-1", "_srv", "a", "x".repeat(63)]) assert.equal(labelProblem(label), undefined, label);
  });

  test("empty, too long or odd characters do not", () => {
    assert.match(labelProblem("") ?? "", /empty/);
    assert.match(labelProblem("x".repeat(64)) ?? "", /63 bytes/);
    for (const label of ["a.b", "a b", "a/b", "a:b", "café"]) assert.match(labelProblem(label) ?? "", /characters/, label);
  });

  test("a service whose name is no label is ignored with that reason", () => {
    assert.equal(serviceProblem(service(), STAGING), undefined);
    assert.match(serviceProblem(service({ name: "my.app" }), STAGING) ?? "", /service name "my\.app" is not a valid DNS label/);
    assert.match(serviceProblem(service({ name: "" }), COREDNS) ?? "", /is empty/);
    assert.match(serviceProblem(service({ name: "n".repeat(64) }), STAGING) ?? "", /63 bytes/);
  });

  test("skydns2 keeps the default id's : and . but refuses what would break the key", () => {
    assert.equal(serviceProblem(service({ id: "myhost:redis.0:6379" }), STAGING), undefined);
    assert.match(serviceProblem(service({ id: "a/b" }), STAGING) ?? "", /SERVICE_ID/);
    assert.match(serviceProblem(service({ id: "a..b" }), STAGING) ?? "", /empty/);
  });

  test("coredns makes ids DNS-safe as fayrus/registrator does, in lower case", () => {
    assert.equal(dnsSafeId("myhost:redis.0:6379"), "myhost-redis-0-6379");
    assert.equal(dnsSafeId("Web_1"), "web_1");
    assert.equal(dnsSafeId(":x/y@z."), "x-y-z");
    assert.match(serviceProblem(service({ id: ":::" }), COREDNS) ?? "", /nothing left/);
    assert.match(serviceProblem(service({ id: `h:${"c".repeat(60)}:80` }), COREDNS) ?? "", /63 bytes/);
  });
});

describe("records", () => {
  test("skydns2 keys: /skydns/<domain reversed>/<name>/<id>, lower-cased", () => {
    assert.equal(recordKey(STAGING, "redis", "redis-1"), "/skydns/local/skydns/staging/redis/redis-1");
    assert.equal(recordKey(STAGING, "Redis", "MyHost:redis.0:6379"), "/skydns/local/skydns/staging/redis/myhost:redis.0:6379");
  });

  test("CoreDNS finds a record under the key its DNS name reverses to", () => {
    assert.equal(recordKey(STAGING, "redis", "redis-1"), corednsPath("redis-1.redis.staging.skydns.local."));
    assert.equal(`${COREDNS.base}/web`, corednsPath("web.service.local"));
    assert.equal(recordKey(COREDNS, "web", "myhost:web:80"), corednsPath("myhost-web-80.web.service.local"));
  });

  test("the value holds host and port, ttl with -ttl, and the original id and name", () => {
    assert.deepEqual(JSON.parse(recordValue(service(), 0)), {
      host: "192.168.1.102",
      port: 10000,
      service_id: "myhost:redis.0:6379",
      service_name: "redis",
    });
    assert.equal(JSON.parse(recordValue(service(), 30)).ttl, 30);
  });

  test("only records with registrator's fields are read back", () => {
    assert.equal(parseRecord(recordValue(service(), 0))?.service_id, "myhost:redis.0:6379");
    assert.equal(parseRecord('{"host":"10.0.0.1","port":80}'), undefined);
    assert.equal(parseRecord("not json"), undefined);
    assert.equal(parseRecord("null"), undefined);
  });
});

describe("adapter with the record layout", () => {
  const OWNER = { hostId: "myhost", container: "c0ffee" };
  const adapter = (layout: SkyDnsLayout = STAGING, ttl = 0) => {
    const etcd = memoryEtcd();
    return { etcd, dns: new EtcdAdapter(etcd, recordLayout(layout, ttl), ttl, ttl > 0 ? 5 : 0) };
  };

  test("register writes the record with its owner, with a lease under -ttl; deregister removes it", async () => {
    const { etcd, dns } = adapter(STAGING, 20);
    await dns.register(service({ id: "redis-1" }), OWNER);
    const kv = etcd.data.get("/skydns/local/skydns/staging/redis/redis-1");
    assert.equal(kv?.lease, "7");
    assert.deepEqual(JSON.parse(kv?.value ?? ""), {
      host: "192.168.1.102",
      port: 10000,
      ttl: 20,
      service_id: "redis-1",
      service_name: "redis",
      registrator_host: "myhost",
      registrator_container: "c0ffee",
    });
    await dns.deregister(service({ id: "redis-1" }), OWNER);
    assert.equal(etcd.data.size, 0);
  });

  test("two ids that fold to one DNS name: the first holder keeps it, the second is ignored with why, and its removal leaves the first", async () => {
    const { etcd, dns } = adapter(COREDNS);
    await dns.register(service({ id: "host:web.1:80" }), OWNER);
    await assert.rejects(dns.register(service({ id: "host:web:1:80" }), OWNER), (err: Error) => {
      assert.ok(err instanceof OwnedElsewhereError, "tried again once the holder lets go");
      assert.match(err.message, /^DNS name host-web-1-80\.redis\.service\.local is already used by service host:web\.1:80$/);
      return true;
    });
    await dns.deregister(service({ id: "host:web:1:80" }), OWNER);
    assert.equal(etcd.data.size, 1);
  });

  test("a record of another host is neither overwritten nor removed", async () => {
    const { etcd, dns } = adapter(STAGING);
    await dns.register(service({ id: "redis-1" }), { hostId: "hostA", container: "a1" });
    const before = etcd.data.get("/skydns/local/skydns/staging/redis/redis-1")?.value;
    await assert.rejects(dns.register(service({ id: "redis-1", ip: "10.9.9.9" }), OWNER), (err: Error) => {
      assert.ok(err instanceof OwnedElsewhereError);
      assert.equal(err.message, "redis-1 is owned by hostA/a1");
      return true;
    });
    await dns.deregister(service({ id: "redis-1" }), OWNER);
    assert.equal(etcd.data.get("/skydns/local/skydns/staging/redis/redis-1")?.value, before);
  });

  test("services() returns the real ids and owners of its own records and skips others' records", async () => {
    const { etcd, dns } = adapter(COREDNS);
    await dns.register(service({ id: "myhost:web.1:80", name: "Web" }), OWNER);
    etcd.put("/skydns/local/service/web/other", '{"host":"10.0.0.9","port":80}');
    etcd.put("/skydns/local/service/web/moved", recordValue(service({ id: "x:y:1" }), 0));
    const found = await dns.services();
    assert.deepEqual(
      found.map(({ service: s, owner }) => [s.id, s.name, s.ip, s.port, owner]),
      [["myhost:web.1:80", "Web", "192.168.1.102", 10000, OWNER]],
    );
    await dns.deregister(found[0]!.service, OWNER);
    assert.deepEqual([...etcd.data.keys()], ["/skydns/local/service/web/other", "/skydns/local/service/web/moved"]);
  });

  test("a record an earlier version wrote for this host (no owner fields) is adopted", async () => {
    const { etcd, dns } = adapter(STAGING);
    const key = "/skydns/local/skydns/staging/redis/myhost:redis.0:6379";
    etcd.put(key, recordValue(service(), 0));
    assert.deepEqual(await dns.services(), [{ service: (await dns.services())[0]!.service }]);
    await dns.register(service(), OWNER);
    assert.equal(JSON.parse(etcd.data.get(key)?.value ?? "").registrator_container, "c0ffee");
  });

  test("a lease etcd forgot: renew reports every registered record lost", async () => {
    const { etcd, dns } = adapter(STAGING, 20);
    const s = service({ id: "redis-1" });
    await dns.register(s, OWNER);
    assert.deepEqual(await dns.capabilities.renewal!.renew([{ service: s, owner: OWNER }]), []);
    etcd.keepAlive = async () => false;
    assert.deepEqual(await dns.capabilities.renewal!.renew([{ service: s, owner: OWNER }]), [s]);
  });
});
