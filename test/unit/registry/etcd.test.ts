import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create, EtcdAdapter, plainLayout } from "../../../src/registry/etcd.js";
import { InvalidUriError, OwnedElsewhereError } from "../../../src/registry/types.js";
import { encodeOwner } from "../../../src/registry/owner.js";
import { parseRegistryUri } from "../../../src/registry/uri.js";
import { memoryEtcd, webService } from "./fixtures.js";

const A = { hostId: "myhost", container: "0123456789abcdef0123" };
const A2 = { hostId: "myhost", container: "fedcba9876543210" };
const B = { hostId: "hostB", container: "b1" };
const KEY = "/services/web/myhost:web:80";
const MARKER = "/.registrator/services/web/myhost:web:80";
/** Where versions before this one kept the marker: inside the consumer's path. */
const OLD_MARKER = "/services/.registrator/web/myhost:web:80";

function setup(ttl = 0) {
  const etcd = memoryEtcd();
  return { etcd, adapter: new EtcdAdapter(etcd, plainLayout("/services"), ttl, ttl > 0 ? 5 : 0) };
}

/** What a consumer listing `<path>/` sees: key → value. */
async function consumerView(etcd: ReturnType<typeof memoryEtcd>, path = "/services/") {
  return Object.fromEntries((await etcd.list(path)).map((kv) => [kv.key, kv.value]));
}

describe("etcd plain layout: the owner in a marker outside the path", () => {
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

  test("a consumer listing <path>/ sees only <name>/<id> = ip:port", async () => {
    const { etcd, adapter } = setup();
    await adapter.register(webService(), A);
    await adapter.register(webService({ id: "myhost:web:81", port: 32769 }), A);
    assert.deepEqual(await consumerView(etcd), { [KEY]: "10.0.0.5:32768", "/services/web/myhost:web:81": "10.0.0.5:32769" });
  });

  test("without a path the markers' root is the same as before: /.registrator/<name>/<id>", () => {
    const layout = plainLayout("");
    assert.equal(layout.markerKey!("/web/x"), "/.registrator/web/x");
    assert.equal(layout.legacyMarkerKey!("/web/x"), undefined);
    assert.equal(plainLayout("/a/b").markerKey!("/a/b/web/x"), "/.registrator/a/b/web/x");
    assert.equal(plainLayout("/a/b").legacyMarkerKey!("/a/b/web/x"), "/a/b/.registrator/web/x");
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

  test("another tool's key (no marker) is left alone: another id, another host's id, or our id at another address", async () => {
    const { etcd, adapter } = setup();
    etcd.put("/services/web/redis-1", "10.1.1.1:1");
    etcd.put("/services/web/hostB:web:80", "10.0.0.5:32768");
    etcd.put(KEY, "10.0.0.9:8080");
    await assert.rejects(adapter.register(webService({ id: "redis-1" }), A), /redis-1 is owned by another tool/);
    await assert.rejects(adapter.register(webService({ id: "hostB:web:80" }), A), /owned by another tool/);
    await assert.rejects(adapter.register(webService(), A), /myhost:web:80 is owned by another tool/);
    await adapter.deregister(webService({ id: "redis-1" }), A);
    await adapter.deregister(webService(), A);
    assert.deepEqual(await consumerView(etcd), {
      "/services/web/redis-1": "10.1.1.1:1",
      "/services/web/hostB:web:80": "10.0.0.5:32768",
      [KEY]: "10.0.0.9:8080",
    });
  });

  test("an unmarked entry is not taken through SERVICE_ID, even at our address and in our host's default form", async () => {
    const { etcd, adapter } = setup();
    etcd.put("/services/web/myhost:billing:5432", "10.0.0.5:32768");
    await assert.rejects(adapter.register(webService({ id: "myhost:billing:5432" }), A), /owned by another tool/);
    await adapter.deregister(webService({ id: "myhost:billing:5432" }), A);
    assert.equal(etcd.data.get("/services/web/myhost:billing:5432")?.value, "10.0.0.5:32768");
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

  test("upgrade from the Go registrator: this container's unmarked entry at our address is adopted; others are listed without owner", async () => {
    const { etcd, adapter } = setup();
    etcd.put(KEY, "10.0.0.5:32768");
    etcd.put("/services/web/myhost:old:80", "10.0.0.5:2");
    await adapter.register(webService(), A);
    assert.equal(JSON.parse(etcd.data.get(MARKER)?.value ?? "").container, A.container);
    const listed = await adapter.services();
    assert.deepEqual(
      listed.map((s) => [s.service.id, s.owner]),
      [
        ["myhost:web:80", A],
        ["myhost:old:80", undefined],
      ],
    );
    await adapter.deregister(listed[1]!.service, { hostId: "myhost", container: "" });
    assert.deepEqual([...etcd.data.keys()].sort(), [MARKER, KEY].sort());
  });

  test("upgrade from markers inside the path: the marker moves in the transaction that writes the entry", async () => {
    const { etcd, adapter } = setup();
    // As the previous version wrote it: value and marker in one transaction.
    await etcd.writeIf([
      { key: KEY, seen: undefined, value: "10.0.0.5:32768" },
      { key: OLD_MARKER, seen: undefined, value: encodeOwner(A) },
    ]);
    assert.deepEqual(
      (await adapter.services()).map((s) => s.owner),
      [A],
      "the old marker still names the owner",
    );
    const writes = etcd.judgedWrites;
    await adapter.register(webService(), A);
    assert.equal(etcd.judgedWrites, writes + 1, "one transaction");
    assert.deepEqual([...etcd.data.keys()].sort(), [MARKER, KEY].sort());
    assert.equal(etcd.data.get(KEY)?.modRevision, etcd.data.get(MARKER)?.modRevision);
    assert.deepEqual(await consumerView(etcd), { [KEY]: "10.0.0.5:32768" });
  });

  test("upgrade: another host's entry with an old marker stays theirs, and an old-marked entry of ours is removed with its marker", async () => {
    const { etcd, adapter } = setup();
    await etcd.writeIf([
      { key: "/services/web/theirs", seen: undefined, value: "10.0.0.5:32768" },
      { key: "/services/.registrator/web/theirs", seen: undefined, value: encodeOwner(B) },
    ]);
    await assert.rejects(adapter.register(webService({ id: "theirs" }), A), /theirs is owned by hostB\/b1/);
    await etcd.writeIf([
      { key: KEY, seen: undefined, value: "10.0.0.5:32768" },
      { key: OLD_MARKER, seen: undefined, value: encodeOwner(A) },
    ]);
    await adapter.deregister(webService(), A);
    assert.ok(!etcd.data.has(KEY) && !etcd.data.has(OLD_MARKER));
    assert.deepEqual(
      await consumerView(etcd),
      { "/services/web/theirs": "10.0.0.5:32768", "/services/.registrator/web/theirs": encodeOwner(B) },
      "host B's old marker is its registrator's to move",
    );
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

  test("a sync's claims guess what the claim before found: nothing on a first start, our own entries on a restart, which are only checked", async () => {
    const services = Array.from({ length: 10 }, (_, i) => webService({ id: `myhost:web-${i}:80`, port: 30000 + i }));
    const { etcd, adapter } = setup();
    for (const service of services) await adapter.register(service, A);
    assert.deepEqual(etcd.guessed, Array(9).fill("absent"), "the first claim sent both branches");
    const restarted = new EtcdAdapter(etcd, plainLayout("/services"), 0, 0);
    etcd.guessed.length = 0;
    await restarted.register(services[0]!, A);
    const revisions = [...etcd.data.values()].map((kv) => kv.modRevision);
    for (const service of services.slice(1)) await restarted.register(service, A);
    assert.deepEqual(etcd.guessed, Array(9).fill("held"));
    assert.equal(etcd.judgedWrites, 0, "every claim was settled by the claim itself");
    assert.deepEqual(
      [...etcd.data.values()].map((kv) => kv.modRevision),
      revisions,
      "entries held as written are not written again",
    );
  });

  test("a guess of held whose entry is gone writes it as new; one under another lease puts it under ours", async () => {
    const { etcd, adapter } = setup(20);
    const service = webService({ id: "x" });
    await adapter.register(service, A);
    await adapter.register(service, A);
    for (const kv of etcd.data.values()) kv.lease = "5";
    await adapter.register(service, A);
    assert.deepEqual(
      [...etcd.data.values()].map((kv) => kv.lease),
      ["7", "7"],
    );
    etcd.data.clear();
    await adapter.register(service, A);
    assert.equal(etcd.data.get("/services/web/x")?.value, "10.0.0.5:32768");
    assert.equal(etcd.data.get("/services/web/x")?.modRevision, etcd.data.get("/.registrator/services/web/x")?.modRevision);
    etcd.put("/services/web/x", "10.7.7.7:7");
    await assert.rejects(adapter.register(service, A), OwnedElsewhereError);
    assert.equal(etcd.data.get("/services/web/x")?.value, "10.7.7.7:7");
  });

  test("a wrong guess of absent that finds our entry as written writes nothing; the next claims guess again", async () => {
    for (const ttl of [0, 20]) {
      const { etcd, adapter } = setup(ttl);
      await adapter.register(webService({ id: "new-1" }), A);
      await adapter.register(webService({ id: "new-2" }), A);
      etcd.guessed.length = 0;
      const revisions = [...etcd.data.values()].map((kv) => kv.modRevision);
      await adapter.register(webService({ id: "new-1" }), A);
      assert.equal(etcd.judgedWrites, 0, "guessed absent, found ours as written");
      assert.deepEqual(
        [...etcd.data.values()].map((kv) => kv.modRevision),
        revisions,
        "nothing written",
      );
      await adapter.register(webService({ id: "new-3" }), A);
      assert.deepEqual(etcd.guessed, ["absent", "held"], "after finding its own entry, the next claim guesses held");
      assert.equal(etcd.judgedWrites, 1, "a wrong guess of held: read, judged, written");
      assert.equal(etcd.data.get("/services/web/new-3")?.value, "10.0.0.5:32768");
    }
  });

  test("another host's entry teaches no guess", async () => {
    const { etcd, adapter } = setup();
    await adapter.register(webService({ id: "new-1" }), A);
    await adapter.register(webService({ id: "theirs" }), B);
    await assert.rejects(adapter.register(webService({ id: "theirs", ip: "10.9.9.9" }), A), OwnedElsewhereError);
    etcd.guessed.length = 0;
    await adapter.register(webService({ id: "new-2" }), A);
    assert.deepEqual(etcd.guessed, ["absent"]);
  });

  test("the service name .registrator is refused", () => {
    assert.match(plainLayout("/services").validate!(webService({ name: ".registrator" })) ?? "", /owner markers/);
    assert.equal(
      new EtcdAdapter(memoryEtcd(), plainLayout("/services"), 0, 0).capabilities.rules?.validate(webService({ name: ".registrator" })),
      plainLayout("/services").validate!(webService({ name: ".registrator" })),
    );
  });

  test("a lease is renewed only with -ttl; a lost lease hands every service back", async () => {
    assert.equal(setup().adapter.capabilities.renewal, undefined);
    const { etcd, adapter } = setup(20);
    await adapter.register(webService(), A);
    const renewal = adapter.capabilities.renewal!;
    assert.deepEqual(renewal.schedule, { everyMs: 5000, retryMs: 1000 });
    const registered = [{ service: webService(), owner: A }];
    assert.deepEqual(await renewal.renew(registered), []);
    etcd.keepAlive = async () => false;
    assert.deepEqual(
      (await renewal.renew(registered)).map((s) => s.id),
      ["myhost:web:80"],
    );
  });
});

describe("etcd URI with -cleanup", () => {
  const ctx = (raw: string, cleanup: boolean) => ({ uri: parseRegistryUri(raw), ttl: 0, ttlRefresh: 0, env: {}, cleanup });

  test("no path: refused, since -cleanup would scan the whole keyspace", () => {
    assert.throws(
      () => create(ctx("etcd://127.0.0.1:2379", true)),
      (err: Error) => {
        assert.ok(err instanceof InvalidUriError);
        assert.match(err.message, /^-cleanup needs the path registrator writes under, e\.g\. etcd:\/\/127\.0\.0\.1:2379\/services/);
        return true;
      },
    );
    assert.throws(() => create(ctx("etcd://127.0.0.1:2379/", true)), InvalidUriError);
  });

  test("with a path, or without -cleanup, it is fine", async () => {
    await create(ctx("etcd://127.0.0.1:2379/services", true)).close();
    await create(ctx("etcd://127.0.0.1:2379", false)).close();
  });
});
