/** The reconciler through its public face: events and sync passes in, registry writes and log lines out. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Reconciler, type ReconcilerOptions } from "../../../src/bridge/reconciler.js";
import { logged } from "../../support/logged.js";
import { options } from "../service/fixtures.js";
import { FakeEngine, FakeRegistry, recordingObserver, settle, sleep } from "./fakes.js";

function setup(overrides: Partial<ReconcilerOptions> = {}) {
  const engine = new FakeEngine();
  const registry = new FakeRegistry();
  const { lines, log } = logged();
  const { observer, seen } = recordingObserver();
  const base: ReconcilerOptions = {
    build: options(),
    deregister: "always",
    concurrency: 4,
    retry: { initialMs: 5, maxMs: 20 },
    backend: "fake",
    observer,
  };
  const reconciler = new Reconciler(engine, registry, { ...base, ...overrides }, log);
  const settled = () => settle(reconciler);
  const start = (id: string, name: string, env: string[] = [], publish = ["8080:80"]) => {
    engine.start(id, name, env, publish);
    reconciler.handle(id, { kind: "started" });
  };
  const remove = (id: string) => {
    engine.containers.delete(id);
    reconciler.handle(id, { kind: "destroyed" });
  };
  const messages = () => lines.map((line) => line.msg);
  return { engine, registry, reconciler, lines, messages, settled, start, remove, seen };
}

describe("reconciler: events", () => {
  test("a start registers, a removal deregisters", async () => {
    const { registry, settled, start, remove } = setup();
    start("c1", "web");
    await settled();
    assert.deepEqual(registry.holders(), { "hostname:web:80": "c1" });
    remove("c1");
    await settled();
    assert.deepEqual(registry.holders(), {});
  });

  test("a start and a removal in quick succession end with nothing registered", async () => {
    const { registry, settled, start, remove } = setup();
    start("c1", "web");
    remove("c1");
    await settled();
    assert.deepEqual(registry.holders(), {});
  });

  test("the metrics' figures follow: services registered, containers waiting for a retry", async () => {
    const { registry, reconciler, settled, start, remove, seen } = setup();
    start("c1", "web", [], ["8080:80", "8443:443"]);
    start("c2", "db");
    await settled();
    assert.deepEqual(seen.last, { services: 3, retrying: 0 });
    registry.down = true;
    start("c3", "cache");
    await reconciler.idle();
    assert.deepEqual(seen.last, { services: 3, retrying: 1 });
    registry.down = false;
    remove("c1");
    await settled();
    assert.deepEqual(seen.last, { services: 2, retrying: 0 });
    assert.equal(reconciler.registeredCount(), 2);
    assert.deepEqual(
      seen.operations.filter((op) => op !== "register ok"),
      ["register error", "deregister ok", "deregister ok"],
    );
  });

  test("a registry outage loses nothing and sends nothing stale", async () => {
    const { registry, settled, start, remove, messages } = setup();
    registry.down = true;
    start("keep", "keep");
    start("gone", "gone");
    await sleep(30);
    remove("gone");
    await sleep(30);
    registry.down = false;
    await settled();
    assert.deepEqual(registry.holders(), { "hostname:keep:80": "keep" });
    assert.ok(!registry.writes.some((w) => w.includes("gone")), `nothing sent for the container that came and went: ${registry.writes}`);
    assert.ok(messages().some((m) => /^failed: connection refused; retrying in \d+ms$/.test(m)));
  });

  test("-deregister on-success keeps a container that failed, removes one that exited 0, and removes both once removed", async () => {
    const { engine, registry, reconciler, settled, start, remove, messages } = setup({ deregister: "on-success" });
    start("bad", "bad");
    start("good", "good");
    await settled();
    engine.exit("bad", 3);
    engine.exit("good", 0);
    reconciler.handle("bad", { kind: "died" });
    reconciler.handle("good", { kind: "died" });
    await settled();
    assert.deepEqual(registry.holders(), { "hostname:bad:80": "bad" });
    assert.ok(messages().includes("kept: failed with a non-zero exit code and -deregister is on-success"));
    remove("bad");
    await settled();
    assert.deepEqual(registry.holders(), {});
  });

  test("a death the engine reported with its exit code is acted on without asking the engine", async () => {
    const { engine, registry, reconciler, settled, start } = setup({ deregister: "on-success" });
    start("bad", "bad");
    start("good", "good");
    await settled();
    const inspected = engine.inspected;
    // The engine still shows them running: only the event's word counts.
    reconciler.handle("bad", { kind: "died", exitCode: 3 });
    reconciler.handle("good", { kind: "died", exitCode: 143 });
    await settled();
    assert.deepEqual(registry.holders(), { "hostname:bad:80": "bad" });
    assert.equal(engine.inspected, inspected);
    reconciler.handle("bad", { kind: "changed" });
    await settled();
    assert.equal(engine.inspected, inspected + 1, "a change reads the engine again");
  });

  test("a container restarted after it died registers again", async () => {
    const { engine, registry, reconciler, settled, start } = setup();
    start("c1", "web");
    await settled();
    engine.exit("c1", 0);
    reconciler.handle("c1", { kind: "died", exitCode: 0 });
    await settled();
    assert.deepEqual(registry.holders(), {});
    start("c1", "web");
    await settled();
    assert.deepEqual(registry.holders(), { "hostname:web:80": "c1" });
  });

  test("events about containers it never saw change nothing", async () => {
    const { registry, reconciler, settled, engine } = setup();
    reconciler.handle("ghost", { kind: "died", exitCode: 1 });
    reconciler.handle("ghost", { kind: "destroyed" });
    reconciler.handle("ghost", { kind: "lost" });
    await settled();
    assert.equal(engine.inspected, 0);
    assert.deepEqual(registry.writes, []);
    assert.deepEqual(reconciler.records(), []);
  });

  test("services the registry lost are written again", async () => {
    const { registry, reconciler, settled, start } = setup();
    start("c1", "web");
    start("c2", "db");
    await settled();
    registry.stored.delete("hostname:web:80");
    reconciler.lost([registry.stored.get("hostname:db:80")!, { id: "hostname:web:80" } as never]);
    await settled();
    assert.deepEqual(registry.holders(), { "hostname:db:80": "c2", "hostname:web:80": "c1" });
    registry.stored.clear();
    reconciler.lost();
    await settled();
    assert.deepEqual(Object.keys(registry.holders()), ["hostname:db:80", "hostname:web:80"]);
  });

  test("one service whose write always fails is retried on its own backoff; nothing else is written again", async () => {
    let suspected = 0;
    const { engine, registry, reconciler, messages } = setup({ writeFailed: () => suspected++ });
    registry.failing.add("hostname:bad:80");
    for (let i = 0; i < 20; i++) engine.start(`c${i}`, `good${i}`);
    engine.start("bad", "bad");
    await reconciler.sync(false);
    await sleep(150);
    await reconciler.stop(0);
    assert.equal(registry.writes.length, 20, `each good service written once: ${registry.writes.length} writes`);
    assert.ok(
      messages().filter((m) => /^failed: socket hang up on hostname:bad:80; retrying in/.test(m)).length >= 2,
      "the bad one is retried",
    );
    assert.ok(suspected >= 2, "each failed write makes the registry suspect");
  });
});

describe("reconciler: sync passes", () => {
  test("a sync registers what runs and removes what stopped meanwhile", async () => {
    const { engine, registry, reconciler, settled, start } = setup();
    start("old", "old");
    await settled();
    engine.containers.delete("old");
    engine.start("new", "new");
    await reconciler.sync(false);
    assert.deepEqual(registry.holders(), { "hostname:new:80": "new" });
  });

  test("a -resync pass writes every service again, and asks the engine only about containers the list shows changed", async () => {
    const { engine, registry, reconciler } = setup();
    engine.start("c1", "a");
    engine.start("c2", "b");
    await reconciler.sync(false);
    assert.equal(engine.inspected, 2);
    engine.containers.get("c2")!.NetworkSettings!.Ports!["80/tcp"] = [{ HostIp: "0.0.0.0", HostPort: "8081" }];
    registry.writes.length = 0;
    await reconciler.sync(true);
    assert.deepEqual(registry.writes.sort(), ["+hostname:a:80", "+hostname:b:80", "-hostname:b:80"]);
    assert.equal(engine.inspected, 3, "only the changed container is inspected again");
    await reconciler.sync(false);
    assert.equal(engine.inspected, 5, "a sync after a reconnect reads every container again");
    engine.containers.get("c1")!.State!.Health = { Status: "starting" };
    await reconciler.sync(false);
    await reconciler.sync(true);
    assert.equal(engine.inspected, 8, "a container with a health check is read on every pass: not every engine's list shows health");
  });

  test("a service refused as it is is logged once as failed and never sent again, even by -resync", async () => {
    const { engine, registry, reconciler, messages } = setup();
    registry.refuse.add("hostname:bad:80");
    engine.start("bad", "bad");
    engine.start("ok", "ok");
    await reconciler.sync(false);
    await reconciler.sync(true);
    assert.deepEqual(registry.holders(), { "hostname:ok:80": "ok" });
    assert.equal(messages().filter((m) => m === "failed: refused hostname:bad:80").length, 1);
    assert.equal(registry.writes.filter((w) => w === "+hostname:ok:80").length, 2);
  });
});

describe("reconciler: ids another owner holds", () => {
  test("a service refused because another host holds its id is tried at every -resync pass, and registered once let go", async () => {
    const { engine, registry, reconciler, messages, seen } = setup();
    registry.holdElsewhere("hostname:api:80", "host-b");
    engine.start("api", "api");
    await reconciler.sync(false);
    await reconciler.sync(true);
    assert.deepEqual(registry.holders(), { "hostname:api:80": "elsewhere" });
    assert.equal(seen.operations.filter((op) => op === "register owned_elsewhere").length, 2, "tried at the -resync pass");
    assert.equal(messages().filter((m) => m === "ignored: hostname:api:80 is owned by host-b/elsewhere").length, 1, "said once");
    registry.stored.delete("hostname:api:80");
    await reconciler.sync(true);
    assert.deepEqual(registry.holders(), { "hostname:api:80": "api" });
  });

  test("without -resync it is tried again on a slow backoff, no sooner, and at most a few per round", async () => {
    let clock = Date.now();
    const { engine, registry, reconciler, seen } = setup({
      refusalBackoff: { firstMs: 60_000, maxMs: 600_000, jitter: 0.2 },
      now: () => clock,
    });
    for (const name of ["a", "b", "c"]) {
      registry.holdElsewhere(`hostname:${name}:80`, "host-b");
      engine.start(name, name);
    }
    await reconciler.sync(false);
    const refused = () => seen.operations.filter((op) => op === "register owned_elsewhere").length;
    assert.equal(refused(), 3);
    clock += 40_000;
    reconciler.retryRefused(10);
    await reconciler.idle();
    assert.equal(refused(), 3, "not before the backoff is over");
    registry.stored.delete("hostname:b:80");
    clock += 40_000;
    reconciler.retryRefused(2);
    await reconciler.idle();
    assert.equal(refused(), 4, "two tried in this round: one refused again, one registered");
    assert.equal(registry.holders()["hostname:b:80"], "b");
    reconciler.retryRefused(10);
    await reconciler.idle();
    assert.equal(refused(), 5, "the one refused again waits for its longer backoff");
    assert.deepEqual(registry.holders(), { "hostname:a:80": "elsewhere", "hostname:b:80": "b", "hostname:c:80": "elsewhere" });
  });

  test("another container of this host with the same SERVICE_ID waits, and gets the id once the first lets go", async () => {
    const { registry, settled, start, remove, messages } = setup();
    start("first", "a", ["SERVICE_ID=shared"]);
    await settled();
    start("second", "b", ["SERVICE_ID=shared"], ["8081:80"]);
    await settled();
    assert.deepEqual(registry.holders(), { shared: "first" });
    assert.ok(messages().includes("ignored: service id shared is already registered for container first"));
    remove("first");
    await settled();
    assert.deepEqual(registry.holders(), { shared: "second" });
  });

  test("after a restart, listing order never decides: the container whose default id it is keeps its entry", async () => {
    const { engine, registry, reconciler, messages } = setup();
    engine.start("victim", "victim");
    registry.stored.set("hostname:victim:80", { id: "hostname:victim:80" } as never);
    registry.owners.set("hostname:victim:80", { hostId: "hostname", container: "victim" });
    // Newer, so listed first: it claims the victim's default id with SERVICE_ID.
    engine.start("claimant", "claimant", ["SERVICE_ID=hostname:victim:80"], ["8081:80"]);
    await reconciler.sync(false);
    assert.deepEqual(registry.holders(), { "hostname:victim:80": "victim" });
    assert.ok(
      !registry.writes.some(
        (w) => w === "+hostname:victim:80" && registry.stored.get("hostname:victim:80")?.origin?.containerId === "claimant",
      ),
    );
    assert.ok(!messages().some((m) => m.startsWith("took over")), `no take-over: ${messages()}`);
    assert.ok(messages().some((m) => m.startsWith("ignored: service id hostname:victim:80 is") && m.endsWith("container victim")));
  });

  test("after a restart, of two SERVICE_ID claimants the one that started first keeps the id, whichever is listed first", async () => {
    for (const order of [
      ["one", "two"],
      ["two", "one"],
    ]) {
      const { engine, registry, reconciler } = setup();
      for (const id of order) engine.start(id, id, ["SERVICE_ID=shared"]);
      await reconciler.sync(false);
      assert.deepEqual(registry.holders(), { shared: order[0] });
    }
  });

  test("after a restart, a SERVICE_ID claimant that started first takes the id from one here that started later, and the log says why", async () => {
    const { engine, registry, reconciler, messages } = setup();
    engine.start("early", "early", ["SERVICE_ID=shared"]);
    engine.start("late", "late", ["SERVICE_ID=shared"], ["8081:80"]);
    registry.stored.set("shared", { id: "shared" } as never);
    registry.owners.set("shared", { hostId: "hostname", container: "late" });
    await reconciler.sync(false);
    assert.deepEqual(registry.holders(), { shared: "early" });
    assert.ok(messages().includes("took over shared from container late for container early: container early started first"));
  });

  test("the container whose default id it is takes it from a SERVICE_ID claimant, and the log says why", async () => {
    const { registry, settled, start, remove, messages } = setup();
    start("claimant", "claimant", ["SERVICE_ID=hostname:web:80"], ["8081:80"]);
    await settled();
    assert.deepEqual(registry.holders(), { "hostname:web:80": "claimant" });
    start("web", "web");
    await settled();
    assert.deepEqual(registry.holders(), { "hostname:web:80": "web" });
    assert.equal(registry.stored.get("hostname:web:80")?.port, 8080);
    assert.ok(
      messages().includes(
        "took over hostname:web:80 from container claimant for container web: it is the default id of container web, which comes before a SERVICE_ID",
      ),
    );
    remove("web");
    await settled();
    assert.deepEqual(registry.holders(), { "hostname:web:80": "claimant" }, "the claimant gets it back once let go");
  });

  test("an entry this host id holds for a container that no longer runs here is taken over, and the log says so", async () => {
    const { engine, registry, reconciler, messages } = setup();
    registry.stored.set("hostname:web:80", { id: "hostname:web:80" } as never);
    registry.owners.set("hostname:web:80", { hostId: "hostname", container: "clone-container" });
    engine.start("c1", "web");
    await reconciler.sync(false);
    assert.deepEqual(registry.holders(), { "hostname:web:80": "c1" });
    assert.ok(
      messages().includes(
        "took over hostname:web:80 from container clone-contai for container c1: no container clone-contai runs here under host id " +
          "hostname; if another host runs registrator with the same host id (cloned VMs share hostnames), give each host its own --host-id",
      ),
    );
  });
});

describe("reconciler: what it tells the refresh and the snapshot", () => {
  test("registered entries carry their owner and the container's health", async () => {
    const { engine, reconciler } = setup();
    engine.start("c1", "web");
    engine.containers.get("c1")!.State!.Health = { Status: "healthy", Log: [{ Output: "ok" }] };
    await reconciler.sync(false);
    const [entry] = reconciler.registeredEntries();
    assert.deepEqual(entry?.owner, { hostId: "hostname", container: "c1" });
    assert.deepEqual(entry?.health, { status: "healthy", output: "ok" });
    assert.equal(reconciler.claimed("hostname:web:80"), true);
    assert.equal(reconciler.claimed("hostname:other:80"), false);
  });

  test("each container's record: its name, services, refusals and ignored ports", async () => {
    const { engine, registry, reconciler } = setup();
    registry.holdElsewhere("hostname:web:443", "host-b");
    engine.start("c1", "web", ["SERVICE_8080_IGNORE=1"], ["8443:443", "8000:8080"]);
    await reconciler.sync(false);
    const [record] = reconciler.records();
    assert.equal(record?.name, "web");
    assert.deepEqual([...record!.desired.keys()], ["hostname:web:443"]);
    assert.equal(record?.refusals.get("hostname:web:443")?.kind, "owned-elsewhere");
    assert.deepEqual(record?.skipped, [{ port: "8080/tcp", reason: "SERVICE_IGNORE is set" }]);
  });
});
