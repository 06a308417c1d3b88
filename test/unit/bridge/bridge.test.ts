import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Bridge, type Engine } from "../../../src/bridge/bridge.js";
import { judgeWrite, mayRemove } from "../../../src/registry/owner.js";
import { OwnedElsewhereError, RejectedError, type Owner, type RegistryAdapter } from "../../../src/registry/types.js";
import type { BridgeObserver, OperationResult } from "../../../src/bridge/observer.js";
import type { ContainerInfo, Service } from "../../../src/service/types.js";
import { container, created, options } from "../service/fixtures.js";
import { logged } from "../../support/logged.js";

/** A registry that records writes and owners, and can be switched off; it judges owners as the adapters do. */
class FakeRegistry implements RegistryAdapter {
  stored = new Map<string, Service>();
  owners = new Map<string, Owner>();
  writes: string[] = [];
  down = false;
  refuse = new Set<string>();
  /** Service ids whose writes fail with a plain error, as a flaky proxy or a bug would. */
  failing = new Set<string>();
  pings = 0;
  async ping() {
    this.pings++;
  }
  async register(s: Service, owner: Owner) {
    if (this.down) throw new Error("connection refused");
    if (this.refuse.has(s.id)) throw new RejectedError(`refused ${s.id}`);
    if (this.failing.has(s.id)) throw new Error(`socket hang up on ${s.id}`);
    const verdict = judgeWrite(this.found(s.id), s, owner);
    if (!verdict.write) throw new OwnedElsewhereError(s.id, verdict.holder);
    this.writes.push(`+${s.id}`);
    this.stored.set(s.id, s);
    this.owners.set(s.id, owner);
    return { tookOver: verdict.tookOver };
  }
  async deregister(s: Service, owner: Owner) {
    if (this.down) throw new Error("connection refused");
    if (!mayRemove(this.found(s.id), s, owner)) return;
    this.writes.push(`-${s.id}`);
    this.stored.delete(s.id);
    this.owners.delete(s.id);
  }
  async services() {
    return [...this.stored.values()].map((service) => {
      const owner = this.owners.get(service.id);
      return owner ? { service, owner } : { service };
    });
  }
  async close() {}
  private found(id: string) {
    const stored = this.stored.get(id);
    return stored && { owner: this.owners.get(id), address: `${stored.ip}:${stored.port}` };
  }
}

class FakeEngine implements Engine {
  containers = new Map<string, ContainerInfo>();
  inspected = 0;
  /** While set, inspects wait for it, as an engine busy starting a container answers late. */
  busy?: Promise<void>;
  async listRunning() {
    // Any change to the fake container changes what the list shows.
    return [...this.containers.values()].filter((c) => c.State?.Running).map((c) => ({ id: c.Id, view: JSON.stringify(c) }));
  }
  async inspect(id: string) {
    this.inspected++;
    const answer = structuredClone(this.containers.get(id));
    await this.busy;
    return answer;
  }
  create(id: string, name: string, publish = ["8080:80"]) {
    this.containers.set(id, created({ id, name, publish }));
  }
  start(id: string, name: string, env: string[] = [], publish = ["8080:80"]) {
    this.containers.set(id, container({ id, name, publish, env }));
  }
  exit(id: string, code: number) {
    const c = this.containers.get(id)!;
    c.State = { Running: false, ExitCode: code };
  }
}

function setup(overrides: { deregister?: "always" | "on-success"; registryCheck?: { upMs: number; downMs: number }; creationServesMs?: number } = {}) {
  const operations: string[] = [];
  let states = 0;
  let lastState = { services: 0, retrying: 0 };
  const observer: BridgeObserver = {
    operation: (kind: string, result: OperationResult) => void operations.push(`${kind} ${result}`),
    registered: () => undefined,
    // Every reconcile reports the state once; a reconcile that marks itself again and again must not hang the tests.
    state: (services, retrying) => {
      if (++states > 1000) throw new Error("reconciled over 1000 times");
      lastState = { services, retrying };
    },
    registryUp: () => undefined,
  };
  const engine = new FakeEngine();
  const registry = new FakeRegistry();
  const { lines, log } = logged();
  const bridge = new Bridge(
    engine,
    registry,
    {
      build: options(),
      deregister: overrides.deregister ?? "always",
      concurrency: 4,
      retry: { initialMs: 5, maxMs: 20 },
      backend: "fake",
      registryCheck: overrides.registryCheck ?? { upMs: 60_000, downMs: 60_000 },
      observer,
      creationServesMs: overrides.creationServesMs,
    },
    log,
  );
  const settled = async () => {
    for (let i = 0; i < 200 && !bridge.reconciler.converged(); i++) await new Promise((r) => setTimeout(r, 5));
    await bridge.reconciler.idle();
  };
  return { engine, registry, bridge, lines, settled, operations, reconciles: () => states, lastState: () => lastState };
}

/** Two containers registered under -deregister on-success, about to stop: "bad" will fail, "good" will not. */
async function badAndGoodRunning() {
  const scene = setup({ deregister: "on-success" });
  scene.engine.start("bad", "bad");
  scene.engine.start("good", "good");
  scene.bridge.reconciler.mark("bad");
  scene.bridge.reconciler.mark("good");
  await scene.settled();
  return scene;
}

describe("bridge", () => {
  test("start registers, die deregisters", async () => {
    const { engine, registry, bridge, settled } = setup();
    engine.start("c1", "web");
    bridge.reconciler.mark("c1");
    await settled();
    assert.deepEqual([...registry.stored.keys()], ["hostname:web:80"]);
    engine.containers.delete("c1");
    bridge.reconciler.mark("c1", { destroyed: true });
    await settled();
    assert.deepEqual([...registry.stored.keys()], []);
  });

  test("the metrics' figures follow: services registered, containers waiting for a retry", async () => {
    const { engine, registry, bridge, settled, lastState } = setup();
    engine.start("c1", "web", [], ["8080:80", "8443:443"]);
    engine.start("c2", "db");
    bridge.reconciler.mark("c1");
    bridge.reconciler.mark("c2");
    await settled();
    assert.deepEqual(lastState(), { services: 3, retrying: 0 });
    registry.down = true;
    engine.start("c3", "cache");
    bridge.reconciler.mark("c3");
    await bridge.reconciler.idle();
    assert.deepEqual(lastState(), { services: 3, retrying: 1 });
    registry.down = false;
    engine.containers.delete("c1");
    bridge.reconciler.mark("c1", { destroyed: true });
    await settled();
    assert.deepEqual(lastState(), { services: 2, retrying: 0 });
    assert.equal(bridge.reconciler.registeredServices().length, 2);
  });

  test("a registry outage loses nothing and sends nothing stale", async () => {
    const { engine, registry, bridge, settled, lines } = setup();
    registry.down = true;
    engine.start("keep", "keep");
    engine.start("gone", "gone");
    bridge.reconciler.mark("keep");
    bridge.reconciler.mark("gone");
    await new Promise((r) => setTimeout(r, 30));
    engine.containers.delete("gone");
    bridge.reconciler.mark("gone", { destroyed: true });
    await new Promise((r) => setTimeout(r, 30));
    registry.down = false;
    await settled();
    assert.deepEqual([...registry.stored.keys()], ["hostname:keep:80"]);
    assert.ok(!registry.writes.some((w) => w.includes("gone")), `nothing sent for the container that came and went: ${registry.writes}`);
    assert.ok(lines.some((l) => /^failed: connection refused; retrying in \d+ms$/.test(l.msg)));
  });

  test("-deregister on-success keeps a container that exited non-zero, removes one that exited 0", async () => {
    const { engine, registry, bridge, settled } = await badAndGoodRunning();
    engine.exit("bad", 3);
    engine.exit("good", 0);
    bridge.reconciler.mark("bad", { exitCode: 3 });
    bridge.reconciler.mark("good", { exitCode: 0 });
    await settled();
    assert.deepEqual([...registry.stored.keys()], ["hostname:bad:80"]);
    engine.containers.delete("bad");
    bridge.reconciler.mark("bad", { destroyed: true });
    await settled();
    assert.deepEqual([...registry.stored.keys()], []);
  });

  test("a stop the engine reported with its exit code is acted on without asking the engine", async () => {
    const { engine, registry, bridge, settled } = await badAndGoodRunning();
    const inspected = engine.inspected;
    // The engine still shows them running: only the event's word counts.
    bridge.reconciler.mark("bad", { exitCode: 3, stopped: true });
    bridge.reconciler.mark("good", { exitCode: 0, stopped: true });
    await settled();
    assert.deepEqual([...registry.stored.keys()], ["hostname:bad:80"]);
    assert.equal(engine.inspected, inspected);
    bridge.reconciler.mark("bad");
    await settled();
    assert.equal(engine.inspected, inspected + 1, "a mark without the stop reads the engine again");
  });

  test("a service id already used by another container is ignored, not overwritten", async () => {
    const { engine, registry, bridge, settled, lines } = setup();
    engine.start("first", "a", ["SERVICE_ID=shared"]);
    bridge.reconciler.mark("first");
    await settled();
    engine.start("second", "b", ["SERVICE_ID=shared"]);
    bridge.reconciler.mark("second");
    await settled();
    assert.equal(registry.stored.get("shared")?.origin.containerId, "first");
    assert.ok(lines.some((l) => l.msg === "ignored: service id shared is already registered for container first"));
  });

  test("a refused service is logged as failed once and not retried; others register", async () => {
    const { engine, registry, bridge, settled, lines } = setup();
    registry.refuse.add("hostname:bad:80");
    engine.start("bad", "bad");
    engine.start("ok", "ok");
    bridge.reconciler.mark("bad");
    bridge.reconciler.mark("ok");
    await settled();
    await bridge.reconciler.syncAll();
    await settled();
    assert.deepEqual([...registry.stored.keys()], ["hostname:ok:80"]);
    assert.equal(lines.filter((l) => l.msg === "failed: refused hostname:bad:80").length, 1);
  });

  test("cleanup removes what this host id holds without a container, and this host's unmarked default ids at its address", async () => {
    const { engine, registry, bridge, settled, lines } = setup();
    engine.start("c1", "web");
    const entries: Array<[string, Owner | undefined, string?]> = [
      ["hostname:old:80", undefined],
      ["hostname:ghost:80", undefined, "10.0.0.9"],
      ["otherhost:old:80", undefined],
      ["custom-id", undefined],
      ["custom-ours", { host: "hostname", container: "dead" }],
      ["hostname:theirs:80", { host: "otherhost", container: "x" }],
    ];
    for (const [id, owner, ip = "192.168.1.102"] of entries) {
      registry.stored.set(id, { id, name: "x", ip, port: 8080, origin: { containerName: "" } } as Service);
      if (owner) registry.owners.set(id, owner);
    }
    await bridge.reconciler.syncAll();
    await settled();
    await bridge.cleanup();
    assert.deepEqual([...registry.stored.keys()].sort(), ["custom-id", "hostname:ghost:80", "hostname:theirs:80", "hostname:web:80", "otherhost:old:80"]);
    assert.ok(lines.some((l) => l.msg === "removed: dangling, no container behind it" && l.service === "custom-ours" && l.container === "dead"));
  });

  test("an id another host holds is ignored, not retried, and counted", async () => {
    const { engine, registry, bridge, settled, lines, operations } = setup();
    registry.stored.set("hostname:web:80", { id: "hostname:web:80", name: "web" } as Service);
    registry.owners.set("hostname:web:80", { host: "hostB", container: "0123456789abcdef" });
    engine.start("c1", "web");
    bridge.reconciler.mark("c1");
    await settled();
    await bridge.reconciler.syncAll();
    await settled();
    const ignored = lines.filter((l) => l.msg === "ignored: hostname:web:80 is owned by hostB/0123456789ab");
    assert.equal(ignored.length, 1);
    assert.equal(ignored[0]!.container, "c1");
    assert.deepEqual(operations, ["register owned_elsewhere"]);
    assert.equal(registry.stored.get("hostname:web:80")?.origin, undefined, "left as it was");
  });

  test("an entry of our host id held by a container we do not run: taken over, with a warning naming both", async () => {
    const { engine, registry, bridge, settled, lines } = setup();
    registry.stored.set("hostname:web:80", { id: "hostname:web:80", name: "web" } as Service);
    registry.owners.set("hostname:web:80", { host: "hostname", container: "clone-container" });
    engine.start("c1", "web");
    bridge.reconciler.mark("c1");
    await settled();
    assert.deepEqual(registry.owners.get("hostname:web:80"), { host: "hostname", container: "c1" });
    const warning = lines.find((l) => l.msg.startsWith("took over"));
    assert.equal(
      warning?.msg,
      "took over hostname:web:80 from container clone-contai for container c1: no container clone-contai runs here under host id " +
        "hostname; if another host runs registrator with the same host id (cloned VMs share hostnames), give each host its own --host-id",
    );
  });

  test("a start and a die in quick succession end deregistered", async () => {
    const { engine, registry, bridge, settled } = setup();
    engine.start("c1", "web");
    bridge.reconciler.mark("c1");
    engine.containers.delete("c1");
    bridge.reconciler.mark("c1", { destroyed: true });
    await settled();
    assert.deepEqual([...registry.stored.keys()], []);
  });

  test("a registry that comes back after an outage gets every service again, even ones it lost", async () => {
    const { engine, registry, bridge, settled, lines } = setup({ registryCheck: { upMs: 10, downMs: 10 } });
    engine.start("c1", "web");
    bridge.reconciler.mark("c1");
    await settled();
    bridge.start();
    registry.down = true;
    registry.ping = async () => {
      if (registry.down) throw new Error("connection refused");
    };
    await new Promise((r) => setTimeout(r, 50));
    registry.stored.clear(); // it restarted empty
    registry.down = false;
    for (let i = 0; i < 100 && !registry.stored.size; i++) await new Promise((r) => setTimeout(r, 10));
    await settled();
    await bridge.stop();
    assert.deepEqual([...registry.stored.keys()], ["hostname:web:80"]);
    assert.ok(lines.some((l) => l.msg.startsWith("registry reachable again")));
  });

  test("one service whose write always fails is retried on its own backoff; nothing else is written again", async () => {
    const { engine, registry, bridge, lines } = setup({ registryCheck: { upMs: 60_000, downMs: 10 } });
    bridge.start();
    registry.failing.add("hostname:bad:80");
    for (let i = 0; i < 50; i++) engine.start(`c${i}`, `good${i}`);
    engine.start("bad", "bad");
    await bridge.reconciler.syncAll();
    await new Promise((r) => setTimeout(r, 300));
    await bridge.stop();
    const writes = registry.writes.filter((w) => w.startsWith("+"));
    assert.equal(writes.length, 50, `each good service written once: ${writes.length} writes`);
    assert.equal(registry.stored.size, 50);
    assert.ok(lines.filter((l) => /^failed: socket hang up on hostname:bad:80; retrying in/.test(l.msg)).length >= 2, "the bad one is retried");
    assert.ok(!lines.some((l) => l.msg.startsWith("registry reachable again")), "the registry was never taken for down");
    assert.ok(registry.pings >= 1, "a failed write makes the watch ping");
  });

  test("a -resync pass writes every service again, and asks the engine only about containers the list shows changed", async () => {
    const { engine, registry, bridge } = setup();
    engine.start("c1", "a");
    engine.start("c2", "b");
    await bridge.reconciler.syncAll();
    assert.equal(engine.inspected, 2);
    engine.containers.get("c2")!.NetworkSettings!.Ports!["80/tcp"] = [{ HostIp: "0.0.0.0", HostPort: "8081" }];
    registry.writes.length = 0;
    await bridge.reconciler.syncAll({ force: true });
    assert.deepEqual(registry.writes.filter((w) => w.startsWith("+")).sort(), ["+hostname:a:80", "+hostname:b:80"]);
    assert.equal(engine.inspected, 3, "only the changed container is inspected again");
    await bridge.reconciler.syncAll();
    assert.equal(engine.inspected, 5, "a sync after a reconnect reads every container again");
    engine.containers.get("c1")!.State!.Health = { Status: "starting" };
    await bridge.reconciler.syncAll();
    await bridge.reconciler.syncAll({ force: true });
    assert.equal(engine.inspected, 8, "a container with a health check is read on every pass: not every engine's list shows health");
  });

  test("a created container's start is registered as the creation's inspect foresaw, then confirmed by an inspect", async () => {
    const { engine, registry, bridge, settled } = setup();
    engine.create("c1", "web");
    bridge.reconciler.created("c1");
    await settled();
    assert.equal(engine.inspected, 1);
    let answer!: () => void;
    engine.busy = new Promise((resolve) => (answer = resolve));
    engine.start("c1", "web");
    bridge.reconciler.mark("c1", { started: true });
    for (let i = 0; i < 100 && registry.writes.length === 0; i++) await new Promise((r) => setTimeout(r, 2));
    assert.deepEqual(registry.writes, ["+hostname:web:80"], "registered while the engine has not answered the start's inspect");
    assert.equal(registry.stored.get("hostname:web:80")?.port, 8080);
    answer();
    await settled();
    assert.equal(engine.inspected, 2, "the start's inspect confirms it");
    assert.deepEqual(registry.writes, ["+hostname:web:80"], "and nothing is written again");
  });

  test("what the start shows otherwise than foreseen (a rename in between) is put right by the confirming inspect", async () => {
    const { engine, registry, bridge, settled } = setup();
    engine.create("c1", "web");
    bridge.reconciler.created("c1");
    await settled();
    engine.start("c1", "web-renamed");
    bridge.reconciler.mark("c1", { started: true });
    await settled();
    assert.deepEqual(registry.writes, ["+hostname:web:80", "-hostname:web:80", "+hostname:web-renamed:80"]);
    assert.deepEqual([...registry.stored.keys()], ["hostname:web-renamed:80"]);
  });

  test("a start the creation could not foresee (-P) waits for its inspect, and is inspected once", async () => {
    const { engine, registry, bridge, settled } = setup();
    engine.create("c1", "web", ["80"]);
    bridge.reconciler.created("c1");
    await settled();
    engine.start("c1", "web", [], ["32768:80"]);
    bridge.reconciler.mark("c1", { started: true });
    await settled();
    assert.deepEqual(registry.writes, ["+hostname:web:80"]);
    assert.equal(registry.stored.get("hostname:web:80")?.port, 32768);
    assert.equal(engine.inspected, 2, "one at the creation, one at the start");
  });

  test("a foreseen write that fails is retried from an inspect", async () => {
    const { engine, registry, bridge, settled } = setup();
    engine.create("c1", "web");
    bridge.reconciler.created("c1");
    await settled();
    registry.down = true;
    engine.start("c1", "web", [], ["9090:80"]);
    bridge.reconciler.mark("c1", { started: true });
    await new Promise((r) => setTimeout(r, 10));
    registry.down = false;
    await settled();
    assert.deepEqual([...registry.stored.values()].map((s) => [s.id, s.port]), [["hostname:web:80", 9090]], "as the engine shows it, not as foreseen");
  });

  test("a foreseen start whose write failed, then removed before the registry came back: nothing is written and the container is let go", async () => {
    const { engine, registry, bridge, settled, reconciles } = setup();
    engine.create("c1", "flash");
    bridge.reconciler.created("c1");
    await settled();
    registry.down = true;
    engine.start("c1", "flash");
    bridge.reconciler.mark("c1", { started: true });
    await new Promise((r) => setTimeout(r, 10));
    engine.containers.delete("c1");
    bridge.reconciler.mark("c1", { destroyed: true });
    registry.down = false;
    await settled();
    assert.ok(reconciles() < 20, `reconciled ${reconciles()} times: a removed container must not be read again and again`);
    assert.deepEqual(registry.writes, []);
    assert.ok(bridge.reconciler.converged());
  });

  test("deregisterAll removes every registered service", async () => {
    const { engine, registry, bridge, settled } = setup();
    engine.start("c1", "a");
    engine.start("c2", "b");
    bridge.reconciler.mark("c1");
    bridge.reconciler.mark("c2");
    await settled();
    await bridge.deregisterAll();
    assert.deepEqual([...registry.stored.keys()], []);
  });
});
