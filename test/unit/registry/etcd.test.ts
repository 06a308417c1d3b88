import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create, EtcdAdapter, plainLayout } from "../../../src/registry/etcd.js";
import { InvalidUriError, OwnedElsewhereError } from "../../../src/registry/types.js";
import { parseRegistryUri } from "../../../src/registry/uri.js";
import { memoryEtcd, webService } from "./fixtures.js";

const A = { host: "myhost", container: "0123456789abcdef0123" };
const A2 = { host: "myhost", container: "fedcba9876543210" };
const B = { host: "hostB", container: "b1" };
const KEY = "/services/web/myhost:web:80";
const MARKER = "/services/.registrator/web/myhost:web:80";

function setup(ttl = 0) {
  const etcd = memoryEtcd();
  return { etcd, adapter: new EtcdAdapter(etcd, plainLayout("/services"), ttl, ttl > 0 ? 5 : 0) };
}

describe("etcd plain layout: the owner beside the key", () => {
  test("register writes ip:port and the marker in one transaction, under the same lease", async () => {
    const { etcd, adapter } = setup(20);
    assert.deepEqual(await adapter.register(webService(), A), {});
    assert.equal(etcd.data.get(KEY)?.value, "10.0.0.5:32768");
    assert.deepEqual(JSON.parse(etcd.data.get(MARKER)?.value ?? ""), { host: "myhost", container: A.container });
    assert.equal(etcd.data.get(KEY)?.modRevision, etcd.data.get(MARKER)?.modRevision);
    assert.equal(etcd.data.get(MARKER)?.lease, "7");
    await adapter.deregister(webService(), A);
    assert.equal(etcd.data.size, 0);
  });

  test("a consumer listing <path>/<name>/ sees only the value", async () => {
    const { etcd, adapter } = setup();
    await adapter.register(webService(), A);
    assert.deepEqual((await etcd.list("/services/web/")).map((kv) => [kv.key, kv.value]), [[KEY, "10.0.0.5:32768"]]);
  });

  test("another host's entry is neither overwritten nor removed", async () => {
    const { etcd, adapter } = setup();
    await adapter.register(webService({ id: "shared" }), B);
    await assert.rejects(adapter.register(webService({ id: "shared", ip: "10.9.9.9" }), A), (err: Error) => {
      assert.ok(err instanceof OwnedElsewhereError);
      assert.equal(err.message, "shared is owned by hostB/b1");
      return true;
    });
    await adapter.deregister(webService({ id: "shared" }), A);
    assert.equal(etcd.data.get("/services/web/shared")?.value, "10.0.0.5:32768");
  });

  test("another tool's key (no marker) is left alone, even when the id looks like ours on another host", async () => {
    const { etcd, adapter } = setup();
    etcd.put("/services/web/redis-1", "10.1.1.1:1");
    etcd.put("/services/web/hostB:web:80", "10.1.1.2:2");
    await assert.rejects(adapter.register(webService({ id: "redis-1" }), A), /redis-1 is owned by another tool/);
    await assert.rejects(adapter.register(webService({ id: "hostB:web:80" }), A), /owned by another tool/);
    await adapter.deregister(webService({ id: "redis-1" }), A);
    assert.equal(etcd.data.get("/services/web/redis-1")?.value, "10.1.1.1:1");
  });

  test("a value another tool rewrote after us is no longer ours, though our marker lingers", async () => {
    const { etcd, adapter } = setup();
    await adapter.register(webService({ id: "x" }), A);
    etcd.put("/services/web/x", "10.7.7.7:7");
    await assert.rejects(adapter.register(webService({ id: "x" }), A), OwnedElsewhereError);
    await adapter.deregister(webService({ id: "x" }), A);
    assert.equal(etcd.data.get("/services/web/x")?.value, "10.7.7.7:7");
  });

  test("our host's entry of another container is taken over, and named", async () => {
    const { etcd, adapter } = setup();
    await adapter.register(webService(), A2);
    assert.deepEqual(await adapter.register(webService(), A), { tookOver: A2 });
    assert.equal(JSON.parse(etcd.data.get(MARKER)?.value ?? "").container, A.container);
    await adapter.deregister(webService(), A2);
    assert.ok(etcd.data.has(KEY), "the previous container does not remove what it no longer holds");
  });

  test("upgrade: this host's unmarked default-id entry is adopted, listed without owner, and removable", async () => {
    const { etcd, adapter } = setup();
    etcd.put(KEY, "10.0.0.5:1");
    etcd.put("/services/web/myhost:old:80", "10.0.0.5:2");
    await adapter.register(webService(), A);
    assert.equal(etcd.data.get(KEY)?.value, "10.0.0.5:32768");
    const listed = await adapter.services();
    assert.deepEqual(listed.map((s) => [s.service.id, s.owner]), [["myhost:web:80", A], ["myhost:old:80", undefined]]);
    await adapter.deregister(listed[1]!.service, { host: "myhost", container: "" });
    assert.deepEqual([...etcd.data.keys()].sort(), [MARKER, KEY].sort());
  });

  test("a marker left without its value is cleared by its owner", async () => {
    const { etcd, adapter } = setup();
    await adapter.register(webService(), A);
    etcd.data.delete(KEY);
    await adapter.deregister(webService(), A);
    assert.equal(etcd.data.size, 0);
  });

  test("a write that races another writer fails, to be retried", async () => {
    const { etcd, adapter } = setup();
    await adapter.register(webService(), A2);
    const claim = etcd.claim;
    etcd.claim = async (claims, lease) => {
      const seen = await claim(claims, lease);
      etcd.put(KEY, "10.3.3.3:3");
      return seen;
    };
    await assert.rejects(adapter.register(webService(), A), /changed while it was being written/);
  });

  test("a sync's registrations go out together: 100 services in two transactions, renewals in two more", async () => {
    const { etcd, adapter } = setup(20);
    const services = Array.from({ length: 100 }, (_, i) => webService({ id: `myhost:web-${i}:80`, port: 30000 + i }));
    await Promise.all(services.map((service) => adapter.register(service, A)));
    assert.equal(etcd.transactions, 2);
    assert.equal(etcd.data.size, 200, "each key with its marker");
    await Promise.all(services.map((service) => adapter.register(service, A)));
    assert.equal(etcd.transactions, 4);
  });

  test("a renewal only checks its entry, and writes it as new when it is gone", async () => {
    const { etcd, adapter } = setup();
    const service = webService({ id: "x" });
    await adapter.register(service, A);
    const written = etcd.data.get("/services/web/x")?.modRevision;
    await adapter.register(service, A, { renewal: true });
    assert.deepEqual(etcd.guessed, ["held"]);
    assert.equal(etcd.data.get("/services/web/x")?.modRevision, written, "nothing was written");
    etcd.data.clear();
    await adapter.register(service, A, { renewal: true });
    assert.equal(etcd.data.get("/services/web/x")?.value, "10.0.0.5:32768");
    assert.equal(etcd.data.get("/services/web/x")?.modRevision, etcd.data.get("/services/.registrator/web/x")?.modRevision);
    etcd.put("/services/web/x", "10.7.7.7:7");
    await assert.rejects(adapter.register(service, A, { renewal: true }), OwnedElsewhereError);
    assert.equal(etcd.data.get("/services/web/x")?.value, "10.7.7.7:7");
  });

  test("a renewal of an entry under another lease than ours puts it under ours", async () => {
    const { etcd, adapter } = setup(20);
    const service = webService({ id: "x" });
    await adapter.register(service, A);
    for (const kv of etcd.data.values()) kv.lease = "5";
    await adapter.register(service, A, { renewal: true });
    assert.deepEqual([...etcd.data.values()].map((kv) => kv.lease), ["7", "7"]);
    assert.equal(etcd.judgedWrites, 1);
  });

  test("a fresh service goes out without its renewal branch; one that exists after all is judged and written", async () => {
    const { etcd, adapter } = setup();
    await adapter.register(webService({ id: "x" }), A, { fresh: true });
    assert.equal(etcd.data.get("/services/web/x")?.value, "10.0.0.5:32768");
    await adapter.register(webService({ id: "x" }), A, { fresh: true });
    assert.deepEqual(etcd.guessed, ["absent", "absent"]);
    assert.equal(etcd.data.get("/services/web/x")?.modRevision, etcd.data.get("/services/.registrator/web/x")?.modRevision);
    await adapter.register(webService({ id: "y" }), B);
    await assert.rejects(adapter.register(webService({ id: "y", ip: "10.9.9.9" }), A, { fresh: true }), OwnedElsewhereError);
    assert.equal(etcd.data.get("/services/web/y")?.value, "10.0.0.5:32768");
  });

  test("a sync's claims guess what the claim before found: nothing on a first start, our own entries on a restart", async () => {
    const services = Array.from({ length: 10 }, (_, i) => webService({ id: `myhost:web-${i}:80`, port: 30000 + i }));
    const { etcd, adapter } = setup();
    for (const service of services) await adapter.register(service, A);
    assert.deepEqual(etcd.guessed, Array(9).fill("absent"), "the first claim sent both branches");
    const restarted = new EtcdAdapter(etcd, plainLayout("/services"), 0, 0);
    etcd.guessed.length = 0;
    for (const service of services) await restarted.register(service, A);
    assert.deepEqual(etcd.guessed, Array(9).fill("held"));
    assert.equal(etcd.judgedWrites, 0, "every claim was written by the claim itself");
    assert.equal(etcd.data.size, 20);
  });

  test("a wrong guess costs the entry one more request, and the next claims guess again", async () => {
    const { etcd, adapter } = setup();
    await adapter.register(webService({ id: "new-1" }), A);
    await adapter.register(webService({ id: "ours" }), A, { fresh: true });
    etcd.guessed.length = 0;
    await adapter.register(webService({ id: "ours" }), A);
    assert.equal(etcd.judgedWrites, 1);
    assert.equal(etcd.data.get("/services/web/ours")?.modRevision, etcd.data.get("/services/.registrator/web/ours")?.modRevision);
    await adapter.register(webService({ id: "new-3" }), A);
    assert.deepEqual(etcd.guessed, ["absent", "held"], "after finding its own entry, the next claim guesses held");
    assert.equal(etcd.judgedWrites, 2);
    assert.equal(etcd.data.get("/services/web/new-3")?.value, "10.0.0.5:32768");
  });

  test("another host's entry teaches no guess", async () => {
    const { etcd, adapter } = setup();
    await adapter.register(webService({ id: "new-1" }), A);
    await adapter.register(webService({ id: "theirs" }), B, { fresh: true });
    await assert.rejects(adapter.register(webService({ id: "theirs", ip: "10.9.9.9" }), A), OwnedElsewhereError);
    etcd.guessed.length = 0;
    await adapter.register(webService({ id: "new-2" }), A);
    assert.deepEqual(etcd.guessed, ["absent"]);
  });

  test("the service name .registrator is refused", () => {
    assert.match(plainLayout("/services").validate!(webService({ name: ".registrator" })) ?? "", /owner markers/);
  });
});

describe("etcd URI with -cleanup", () => {
  const ctx = (raw: string, cleanup: boolean) => ({ uri: parseRegistryUri(raw), ttl: 0, ttlRefresh: 0, env: {}, cleanup });

  test("no path: refused, since -cleanup would scan the whole keyspace", () => {
    assert.throws(() => create(ctx("etcd://127.0.0.1:2379", true)), (err: Error) => {
      assert.ok(err instanceof InvalidUriError);
      assert.match(err.message, /^-cleanup needs the path registrator writes under, e\.g\. etcd:\/\/127\.0\.0\.1:2379\/services/);
      return true;
    });
    assert.throws(() => create(ctx("etcd://127.0.0.1:2379/", true)), InvalidUriError);
  });

  test("with a path, or without -cleanup, it is fine", async () => {
    await create(ctx("etcd://127.0.0.1:2379/services", true)).close();
    await create(ctx("etcd://127.0.0.1:2379", false)).close();
  });
});
