import assert from "node:assert/strict";
import { test } from "node:test";
import { httpOrigin, parseRegistryUri, redactedUri } from "../../../src/registry/uri.js";
import { InvalidUriError } from "../../../src/registry/types.js";

const parts = (raw: string) => {
  const { scheme, authority, host, port, path } = parseRegistryUri(raw);
  return { scheme, authority, host, port, path };
};

test("host, port and path", () => {
  assert.deepEqual(parts("etcd://192.168.1.100:4001/services"), {
    scheme: "etcd",
    authority: "192.168.1.100:4001",
    host: "192.168.1.100",
    port: 4001,
    path: "/services",
  });
});

test("no host, no path, and `consul:` alone", () => {
  assert.deepEqual(parts("etcd:///path/to/services"), {
    scheme: "etcd",
    authority: "",
    host: "",
    port: undefined,
    path: "/path/to/services",
  });
  assert.deepEqual(parts("consul:"), { scheme: "consul", authority: "", host: "", port: undefined, path: "" });
});

test("a trailing slash is dropped; a lone slash is no path", () => {
  assert.equal(parts("etcd://h/services/").path, "/services");
  assert.equal(parts("skydns2://h/").path, "");
});

test("IPv6 hosts in brackets; ZooKeeper host lists stay whole in the authority", () => {
  assert.deepEqual(parts("etcd://[fd00::1]:2379/x"), {
    scheme: "etcd",
    authority: "[fd00::1]:2379",
    host: "fd00::1",
    port: 2379,
    path: "/x",
  });
  assert.equal(parts("zookeeper://a:2181,b:2181/services").authority, "a:2181,b:2181");
});

test("query parameters", () => {
  assert.equal(parseRegistryUri("coredns://h:2379/skydns?zone=service.local").query.get("zone"), "service.local");
});

test("malformed URIs are refused with the reason", () => {
  for (const raw of ["not a uri", "/just/a/path", "etcd://h:99999/x", "etcd://h:port/x"]) {
    assert.throws(() => parseRegistryUri(raw), InvalidUriError, raw);
  }
});

test("http origin with defaults", () => {
  assert.equal(httpOrigin(parseRegistryUri("etcd:///x"), "127.0.0.1", 2379), "http://127.0.0.1:2379");
  assert.equal(httpOrigin(parseRegistryUri("etcd://[::1]/x"), "127.0.0.1", 2379, true), "https://[::1]:2379");
});

test("userinfo is redacted: the user stays, the password or lone token does not", () => {
  assert.equal(redactedUri("consul://admin:hunter2@host:8500"), "consul://admin:***@host:8500");
  assert.equal(redactedUri("consul://s3cr3t-token@host"), "consul://***@host");
  assert.equal(redactedUri("etcd://:hunter2@h/x"), "etcd://***@h/x");
  assert.equal(redactedUri("consul://admin:p#ss/w@rd@host"), "consul://admin:***@host", "unencoded #, / and @ in a password");
  assert.equal(redactedUri("consul://127.0.0.1:8500"), "consul://127.0.0.1:8500");
  assert.equal(redactedUri("zookeeper://a:2181,b:2181/services"), "zookeeper://a:2181,b:2181/services");
  assert.equal(redactedUri("consul:"), "consul:");
});

test("credentials in a registry URI are refused, and no message repeats them", () => {
  for (const raw of [
    "consul://admin:hunter2@host",
    "consul://hunter2@host:8500",
    "etcd://admin:hunter2@h:2379/x",
    "zookeeper://a:2181,u:hunter2@b:2181/x",
  ]) {
    assert.throws(
      () => parseRegistryUri(raw),
      (err: unknown) =>
        err instanceof InvalidUriError && /credentials in the URI are not supported/.test(err.message) && !err.message.includes("hunter2"),
      raw,
    );
  }
  for (const raw of [
    "consul://admin:hun#ter2@host",
    "consul://admin:hun/ter2@host",
    "consul://admin:hunter2@host:99999",
    "consul ://admin:hunter2@h",
  ]) {
    assert.throws(
      () => parseRegistryUri(raw),
      (err: unknown) => err instanceof InvalidUriError && !/hun.?ter2|ter2/.test(err.message),
      raw,
    );
  }
});

test("raw comes back redacted, since adapters quote it in messages", () => {
  assert.equal(parseRegistryUri("etcd://h/a@b").raw, "etcd://***@b");
  assert.equal(parseRegistryUri("etcd://h:2379/services").raw, "etcd://h:2379/services");
});
