/** The bridge as the composition root drives it: engine events, sync passes, the registry's health, the snapshot. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Bridge, type BridgeOptions } from "../../../src/bridge/bridge.js";
import type { Service } from "../../../src/service/types.js";
import { logged } from "../../support/logged.js";
import { options } from "../service/fixtures.js";
import { bridgeOptions, FakeEngine, FakeRegistry, recordingObserver, settle, sleep } from "./fakes.js";

function setup(overrides: Partial<BridgeOptions> = {}) {
  const engine = new FakeEngine();
  const registry = new FakeRegistry();
  const { lines, log } = logged();
  const { observer, seen } = recordingObserver();
  const bridge = new Bridge(engine, registry, bridgeOptions({ observer, ...overrides }), log);
  const settled = () => settle(bridge);
  const messages = () => lines.map((line) => line.msg);
  return { engine, registry, bridge, lines, messages, settled, seen };
}

describe("bridge", () => {
  test("the engine's events, as the engine words them: start registers, die with its code and destroy deregister", async () => {
    const { engine, registry, bridge, settled } = setup({ deregister: "on-success" });
    engine.start("c1", "web");
    engine.start("c2", "db");
    bridge.engineEvent({ id: "c1", action: "start" });
    bridge.engineEvent({ id: "c2", action: "start" });
    await settled();
    assert.deepEqual(registry.holders(), { "hostname:db:80": "c2", "hostname:web:80": "c1" });
    bridge.engineEvent({ id: "c1", action: "die", exitCode: 1 });
    bridge.engineEvent({ id: "c2", action: "died", exitCode: 0 });
    await settled();
    assert.deepEqual(registry.holders(), { "hostname:web:80": "c1" }, "-deregister on-success keeps the one that failed");
    engine.containers.delete("c1");
    bridge.engineEvent({ id: "c1", action: "destroy" });
    await settled();
    assert.deepEqual(registry.holders(), {});
  });

  test("a health_status event reads the container again", async () => {
    const { engine, bridge, settled } = setup();
    engine.start("c1", "web");
    await bridge.sync();
    const inspected = engine.inspected;
    bridge.engineEvent({ id: "c1", action: "health_status" });
    await settled();
    assert.equal(engine.inspected, inspected + 1);
  });

  test("a sync pass with -cleanup removes what this host id holds without a container, and this host's unmarked default ids at its own address", async () => {
    const { engine, registry, bridge, messages } = setup({ cleanup: true });
    registry.stored.set("hostname:gone:80", { id: "hostname:gone:80", name: "gone" } as Service);
    registry.owners.set("hostname:gone:80", { hostId: "hostname", container: "dead" });
    registry.holdElsewhere("hostname:old:80");
    registry.stored.set("hostname:old:80", {
      id: "hostname:old:80",
      name: "old",
      ip: "192.168.1.102",
      port: 80,
      origin: { containerName: "" },
    } as Service);
    registry.holdElsewhere("hostname:ghost:80");
    registry.stored.set("hostname:ghost:80", { id: "hostname:ghost:80", name: "ghost", ip: "10.0.0.9", port: 8080 } as Service);
    registry.holdElsewhere("hostname:theirs:80", "host-b");
    registry.holdElsewhere("vm:billing:5432");
    engine.start("c1", "web");
    await bridge.sync();
    assert.deepEqual(registry.holders(), {
      "hostname:ghost:80": "unmarked",
      "hostname:theirs:80": "elsewhere",
      "hostname:web:80": "c1",
      "vm:billing:5432": "unmarked",
    });
    assert.equal(messages().filter((m) => m === "removed: dangling, no container behind it").length, 2);
    assert.equal(bridge.converged(), true);
  });

  test("a cleanup that fails leaves the bridge unconverged, and the next pass tries again", async () => {
    const { engine, registry, bridge, messages } = setup({ cleanup: true });
    engine.start("c1", "web");
    const services = registry.services.bind(registry);
    registry.services = async () => Promise.reject(new Error("timeout"));
    await bridge.sync();
    assert.equal(bridge.converged(), false);
    assert.ok(messages().includes("failed: cleanup: timeout"));
    registry.services = services;
    await bridge.sync();
    assert.equal(bridge.converged(), true);
  });

  test("sync passes run one at a time", async () => {
    const { engine, bridge, registry } = setup();
    engine.start("c1", "web");
    let listing = 0;
    let most = 0;
    const list = engine.listRunning.bind(engine);
    engine.listRunning = async () => {
      most = Math.max(most, ++listing);
      await sleep(5);
      listing--;
      return list();
    };
    await Promise.all([bridge.sync(), bridge.sync(true), bridge.sync()]);
    assert.equal(most, 1);
    assert.deepEqual(registry.holders(), { "hostname:web:80": "c1" });
  });

  test("a registry that comes back after an outage gets every service again, even ones it lost", async () => {
    const { engine, registry, bridge, messages } = setup({ registryCheck: { upMs: 10, downMs: 10 } });
    engine.start("c1", "web");
    await bridge.sync();
    bridge.start();
    registry.down = true;
    await sleep(50);
    registry.stored.clear(); // it restarted empty
    registry.down = false;
    for (let i = 0; i < 100 && !registry.stored.size; i++) await sleep(10);
    await bridge.stop();
    assert.deepEqual(registry.holders(), { "hostname:web:80": "c1" });
    assert.ok(messages().some((m) => m.startsWith("registry reachable again")));
  });

  test("a failed write makes the watch ping the registry at once", async () => {
    const { engine, registry, bridge } = setup();
    bridge.start();
    registry.failing.add("hostname:bad:80");
    engine.start("bad", "bad");
    await bridge.sync();
    await bridge.stop();
    assert.ok(registry.pings >= 1);
  });

  test("without -resync, an id another host lets go is picked up by the slow retry", async () => {
    const { engine, registry, bridge } = setup({
      refusalBackoff: { firstMs: 20, maxMs: 20, jitter: 0 },
      refusalCheck: { everyMs: 10, max: 4 },
    });
    registry.holdElsewhere("hostname:api:80", "host-b");
    engine.start("api", "api");
    await bridge.sync();
    bridge.start();
    assert.deepEqual(registry.holders(), { "hostname:api:80": "elsewhere" });
    registry.stored.delete("hostname:api:80");
    for (let i = 0; i < 100 && !registry.stored.size; i++) await sleep(10);
    await bridge.stop();
    assert.deepEqual(registry.holders(), { "hostname:api:80": "api" });
  });

  test("the snapshot: each container's services and where they stand, its ignored ports, the registry, the last sync", async () => {
    const { engine, registry, bridge } = setup({ build: options({ hostId: "node1" }) });
    assert.equal(bridge.snapshot().lastSync, undefined);
    registry.holdElsewhere("node1:web:443", "host-b");
    registry.refuse.add("node1:bad:80");
    engine.start("c1", "web", ["SERVICE_8080_IGNORE=1"], ["8000:80", "8443:443", "8001:8080"]);
    engine.start("c2", "bad");
    const before = Date.now();
    await bridge.sync();
    const snapshot = bridge.snapshot();
    assert.equal(snapshot.hostId, "node1");
    assert.deepEqual(snapshot.registry, { backend: "fake", up: true });
    assert.ok(Date.parse(snapshot.lastSync!) >= before);
    assert.deepEqual(snapshot.counts, { containers: 2, registered: 1, pending: 0, refused: 1, ownedElsewhere: 1, ignored: 1 });
    const web = snapshot.containers.find((c) => c.id === "c1")!;
    assert.equal(web.name, "web");
    assert.deepEqual(
      web.services.map((s) => [s.id, s.state, s.owner]),
      [
        ["node1:web:80", "registered", undefined],
        ["node1:web:443", "owned-elsewhere", "host-b/elsewhere"],
      ],
    );
    assert.deepEqual(web.ignored, [{ port: "8080/tcp", reason: "SERVICE_IGNORE is set" }]);
    assert.equal(snapshot.containers.find((c) => c.id === "c2")!.services[0]?.state, "refused");
    assert.doesNotThrow(() => JSON.stringify(snapshot));
  });

  test("the snapshot shows a service waiting for a retry as pending, with the error and the next attempt", async () => {
    const { engine, registry, bridge } = setup({ retry: { initialMs: 60_000, maxMs: 60_000 } });
    registry.down = true;
    engine.start("c1", "web");
    await bridge.sync();
    const [service] = bridge.snapshot().containers[0]!.services;
    assert.equal(service?.state, "pending");
    assert.equal(service?.reason, "connection refused");
    assert.ok(Date.parse(service!.nextAttemptAt!) > Date.now());
    await bridge.stop(0);
  });

  test("deregisterAll removes every registered service", async () => {
    const { engine, registry, bridge, messages } = setup();
    engine.start("c1", "a");
    engine.start("c2", "b");
    await bridge.sync();
    assert.equal(bridge.registeredCount(), 2);
    await bridge.deregisterAll();
    assert.deepEqual(registry.holders(), {});
    assert.equal(messages().filter((m) => m === "removed: shutting down").length, 2);
  });

  test("when the registry loses every entry of this registrator at once, they are all written again", async () => {
    const engine = new FakeEngine();
    const registry = new FakeRegistry();
    let lost = () => undefined as void;
    registry.capabilities = { renewal: { renew: async () => [], onLost: (listener: () => void) => void (lost = listener) } };
    const { lines, log } = logged();
    const bridge = new Bridge(engine, registry, bridgeOptions(), log);
    engine.start("c1", "web");
    engine.start("c2", "db");
    await bridge.sync();
    registry.stored.clear();
    lost();
    await bridge.idle();
    assert.deepEqual(registry.holders(), { "hostname:db:80": "c2", "hostname:web:80": "c1" });
    assert.ok(lines.some((l) => l.msg === "lost: the registry dropped every entry of this registrator; registering them anew"));
  });
});
