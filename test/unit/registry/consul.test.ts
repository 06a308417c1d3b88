import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  ConsulAdapter,
  consulEndpoint,
  create,
  isKvUri,
  isUnknownService,
  kvPrefix,
  storedFromAgent,
  TTL_NOTICE,
} from "../../../src/registry/consul.js";
import { ConsulKvAdapter, KV_TTL_NOTICE, kvPath, markerKeyOf, ownerFlags, parseKvListing } from "../../../src/registry/consulkv.js";
import { encodeOwner } from "../../../src/registry/owner.js";
import { InvalidUriError, RejectedError, type RegistryAdapter } from "../../../src/registry/types.js";
import { freePort } from "../../support/ports.js";
import { webService } from "./fixtures.js";
import { parseRegistryUri } from "../../../src/registry/uri.js";

const uri = parseRegistryUri;

/** A file reader that knows only these paths. */
function files(contents: Record<string, string>) {
  return (path: string): Buffer => {
    const text = contents[path];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
    return Buffer.from(text);
  };
}

async function created(raw: string, ttl = 0): Promise<RegistryAdapter> {
  const adapter = create({ uri: uri(raw), ttl, ttlRefresh: ttl ? 1 : 0, env: {} });
  await adapter.close();
  return adapter;
}

describe("endpoint", () => {
  test("consul: defaults to 127.0.0.1:8500; `consul:` alone works", () => {
    assert.equal(consulEndpoint(uri("consul:"), {}).url, "http://127.0.0.1:8500");
    assert.equal(consulEndpoint(uri("consul://"), {}).url, "http://127.0.0.1:8500");
    assert.equal(consulEndpoint(uri("consul://10.0.0.1"), {}).url, "http://10.0.0.1:8500");
    assert.equal(consulEndpoint(uri("consul://10.0.0.1:8600"), {}).url, "http://10.0.0.1:8600");
    assert.equal(consulEndpoint(uri("consul://[fd00::1]:8500"), {}).url, "http://[fd00::1]:8500");
  });

  test("no token header without CONSUL_HTTP_TOKEN; X-Consul-Token with it, on every scheme", () => {
    assert.deepEqual(consulEndpoint(uri("consul://h:1"), {}).headers, {});
    for (const raw of ["consul://h:1", "consulkv://h:1/p", "consul-unix:///run/consul.sock"]) {
      assert.deepEqual(consulEndpoint(uri(raw), { CONSUL_HTTP_TOKEN: "s3cret" }).headers, { "X-Consul-Token": "s3cret" }, raw);
    }
  });

  test("consul-tls: https, default port 8501, CA and client certificate from Consul's variables", () => {
    const read = files({ "/ca.pem": "CA", "/client.pem": "CERT", "/client.key": "KEY" });
    const env = { CONSUL_CACERT: "/ca.pem", CONSUL_CLIENT_CERT: "/client.pem", CONSUL_CLIENT_KEY: "/client.key" };
    const endpoint = consulEndpoint(uri("consul-tls://consul.local"), env, read);
    assert.equal(endpoint.url, "https://consul.local:8501");
    assert.deepEqual(Object.fromEntries(Object.entries(endpoint.tls ?? {}).map(([k, v]) => [k, String(v)])), {
      ca: "CA",
      cert: "CERT",
      key: "KEY",
    });
  });

  test("consul-tls: upstream's CONSUL_TLSCERT/CONSUL_TLSKEY work too; no files means the system CAs", () => {
    const read = files({ "/c": "CERT", "/k": "KEY" });
    const tls = consulEndpoint(uri("consul-tls://h:8501"), { CONSUL_TLSCERT: "/c", CONSUL_TLSKEY: "/k" }, read).tls;
    assert.equal(String(tls?.cert), "CERT");
    assert.equal(String(tls?.key), "KEY");
    assert.deepEqual(consulEndpoint(uri("consul-tls://h:8501"), {}, read).tls, {});
  });

  test("consul-tls: TLS files are ignored by plain consul://", () => {
    const endpoint = consulEndpoint(uri("consul://h:8500"), { CONSUL_CACERT: "/missing" }, files({}));
    assert.equal(endpoint.tls, undefined);
    assert.equal(endpoint.url, "http://h:8500");
  });

  test("consul-tls: unreadable files and a certificate without its key are refused at start-up", () => {
    assert.throws(() => consulEndpoint(uri("consul-tls://h"), { CONSUL_CACERT: "/missing.pem" }, files({})), {
      name: "InvalidUriError",
      message: "CONSUL_CACERT=/missing.pem: cannot read it: ENOENT",
    });
    assert.throws(() => consulEndpoint(uri("consul-tls://h"), { CONSUL_CLIENT_CERT: "/c" }, files({ "/c": "x" })), InvalidUriError);
  });

  test("consul-unix: the path is the socket", () => {
    const endpoint = consulEndpoint(uri("consul-unix:///var/run/consul/consul.sock"), {});
    assert.equal(endpoint.socketPath, "/var/run/consul/consul.sock");
    assert.equal(endpoint.url, "http://localhost");
  });

  test("consul-unix: a host or a relative path is refused with an example", () => {
    for (const raw of ["consul-unix://var/run/consul.sock", "consul-unix:", "consul-unix://"]) {
      assert.throws(
        () => consulEndpoint(uri(raw), {}),
        { name: "InvalidUriError", message: /consul-unix:\/\/\/var\/run\/consul.sock/ },
        raw,
      );
    }
  });
});

describe("catalog or KV", () => {
  test("a path means KV, except for consul-unix where it is the socket", () => {
    assert.equal(isKvUri(uri("consul://127.0.0.1:8500")), false);
    assert.equal(isKvUri(uri("consul://127.0.0.1:8500/")), false);
    assert.equal(isKvUri(uri("consul:")), false);
    assert.equal(isKvUri(uri("consul://192.168.1.100/services")), true);
    assert.equal(isKvUri(uri("consul:///path/to/services")), true);
    assert.equal(isKvUri(uri("consul-tls://h:8501/services")), true);
    assert.equal(isKvUri(uri("consul-unix:///run/consul.sock")), false);
    assert.equal(isKvUri(uri("consulkv://h:8500/services")), true);
  });

  test("the factory picks the adapter; -ttl gives a notice", async () => {
    assert.ok((await created("consul://127.0.0.1:8500")) instanceof ConsulAdapter);
    assert.ok((await created("consul:///path/to/services")) instanceof ConsulKvAdapter);
    assert.ok((await created("consulkv://127.0.0.1:8500/services")) instanceof ConsulKvAdapter);
    const notice = async (raw: string, ttl = 0) => (await created(raw, ttl)).capabilities?.rules?.notice;
    assert.equal(await notice("consul:"), undefined);
    assert.equal(await notice("consul:", 30), TTL_NOTICE);
    assert.match(TTL_NOTICE, /SERVICE_CHECK_TTL/);
    assert.equal(await notice("consulkv://h/services", 30), KV_TTL_NOTICE);
  });

  test("KV needs a path", () => {
    assert.throws(() => kvPrefix(uri("consulkv://127.0.0.1:8500")), { name: "InvalidUriError", message: /needs a key path/ });
    assert.throws(() => create({ uri: uri("consulkv://h:1/"), ttl: 0, ttlRefresh: 0, env: {} }), InvalidUriError);
    assert.equal(kvPrefix(uri("consul:///path/to/services/")), "path/to/services");
  });
});

describe("KV keys", () => {
  test("each segment is URL-encoded", () => {
    assert.equal(kvPath("services", "web", "host:web.0:80"), "/v1/kv/services/web/host%3Aweb.0%3A80");
    assert.equal(kvPath("path/to/services", "a b", "x?y#z%"), "/v1/kv/path/to/services/a%20b/x%3Fy%23z%25");
    assert.equal(kvPath("services"), "/v1/kv/services");
  });

  test("a listing gives the services exactly two levels below the prefix", () => {
    const b64 = (text: string) => Buffer.from(text).toString("base64");
    const listed = parseKvListing("services", [
      { Key: "services/web/host:web.0:80", Value: b64("10.0.0.1:8000") },
      { Key: "services/db/host:db:5432", Value: b64("[fd00::1]:5432") },
      { Key: "services/web", Value: null },
      { Key: "services/web/x/deeper", Value: b64("1.2.3.4:1") },
      { Key: "servicesX/web/id", Value: b64("1.2.3.4:1") },
    ]);
    assert.deepEqual(
      listed.map(({ service: s }) => [s.name, s.id, s.ip, s.port]),
      [
        ["web", "host:web.0:80", "10.0.0.1", 8000],
        ["db", "host:db:5432", "fd00::1", 5432],
      ],
    );
  });

  test("the owner: the marker outside the path, believed only while the value carries its hash in Flags", () => {
    const b64 = (text: string) => Buffer.from(text).toString("base64");
    const owner = { hostId: "hostA", container: "c1" };
    const marker = { Key: markerKeyOf("services", "web", "a"), Value: b64(encodeOwner(owner)) };
    const listed = parseKvListing(
      "services",
      [
        { Key: "services/web/a", Value: b64("10.0.0.1:80"), Flags: ownerFlags(owner) },
        { Key: "services/web/b", Value: b64("10.0.0.1:81"), Flags: 0 },
        { Key: "services/web/c", Value: b64("10.0.0.1:82") },
        { Key: "services/web/d", Value: b64("10.0.0.1:83"), Flags: ownerFlags(owner) },
        // Where earlier versions kept it: still read, until the entry is written again.
        { Key: "services/.registrator/web/d", Value: b64(encodeOwner(owner)) },
      ],
      [marker, { ...marker, Key: markerKeyOf("services", "web", "b") }],
    );
    assert.equal(marker.Key, ".registrator/services/web/a");
    assert.deepEqual(
      listed.map((s) => [s.service.id, s.owner]),
      [
        ["a", owner],
        ["b", undefined],
        ["c", undefined],
        ["d", owner],
      ],
    );
  });

  test("Flags: a 48-bit hash of the owner, never 0, that tells owners apart", () => {
    const a = ownerFlags({ hostId: "hostA", container: "c1" });
    assert.ok(Number.isSafeInteger(a) && a > 0 && a < 2 ** 48);
    assert.equal(a, ownerFlags({ hostId: "hostA", container: "c1" }));
    assert.notEqual(a, ownerFlags({ hostId: "hostA", container: "c2" }));
    assert.notEqual(a, ownerFlags({ hostId: "hostB", container: "c1" }));
  });
});

describe("agent services", () => {
  test("read back: the owner from Meta, which is not an attribute", () => {
    const agent = {
      ID: "hostA:web:80",
      Service: "web",
      Address: "10.0.0.1",
      Port: 80,
      Tags: ["t"],
      Meta: { region: "eu", registrator_host: "hostA", registrator_container: "c1" },
    };
    const stored = storedFromAgent(agent);
    assert.deepEqual(stored.owner, { hostId: "hostA", container: "c1" });
    assert.deepEqual(stored.service.attrs, { region: "eu" });
    assert.deepEqual(
      [stored.service.id, stored.service.name, stored.service.ip, stored.service.port],
      ["hostA:web:80", "web", "10.0.0.1", 80],
    );
    assert.equal(storedFromAgent({ ID: "redis-1", Service: "redis", Meta: null }).owner, undefined);
    assert.equal(
      storedFromAgent({ ID: "x", Service: "x", Meta: { registrator_host: "h" } }).owner,
      undefined,
      "half a marker names nobody",
    );
  });
});

test("a write that cannot reach the agent to read its owners fails as a failure that passes", async () => {
  const adapter = create({ uri: uri(`consul://127.0.0.1:${await freePort()}`), ttl: 0, ttlRefresh: 0, env: {} });
  try {
    const err = await adapter.register(webService(), { hostId: "myhost", container: "c1" }).then(
      () => assert.fail("registered without reading"),
      (e: Error) => e,
    );
    assert.match(err.message, /cannot connect to http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
    assert.ok(!(err instanceof RejectedError), "retried, not given up");
  } finally {
    await adapter.close();
  }
});

test("deregistering what Consul no longer knows is not an error (1.0: 500 Unknown service; later: 404)", () => {
  assert.equal(isUnknownService(500, 'Unknown service "nonexist"'), true);
  assert.equal(isUnknownService(404, "Unknown service ID"), true);
  assert.equal(isUnknownService(500, "No cluster leader"), false);
  assert.equal(isUnknownService(403, "Permission denied"), false);
});
