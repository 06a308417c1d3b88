import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Bridge } from "../../../src/bridge/bridge.js";
import type { TaskClaim } from "../../../src/engine/swarm.js";
import type { Engine } from "../../../src/engine/types.js";
import { WORKER_NOTICE } from "../../../src/bridge/related.js";
import type { RegistryAdapter } from "../../../src/registry/types.js";
import type { ContainerInfo, Service, SwarmFacts } from "../../../src/service/types.js";
import { container, options } from "../service/fixtures.js";
import { logged } from "../../support/logged.js";
import { bridgeOptions, settle } from "./fakes.js";

class FakeRegistry implements RegistryAdapter {
  stored = new Map<string, Service>();
  async ping() {}
  async register(s: Service) {
    this.stored.set(s.id, s);
  }
  async deregister(s: Service) {
    this.stored.delete(s.id);
  }
  async services() {
    return [...this.stored.values()].map((service) => ({ service }));
  }
  async close() {}
  /** What a consumer of the registry sees: id → address. */
  view(): Record<string, string> {
    return Object.fromEntries([...this.stored.values()].map((s) => [s.id, `${s.ip}:${s.port}`]));
  }
}

/** A swarm node's engine: task containers, and the services a manager can read. */
class SwarmEngine implements Engine {
  containers = new Map<string, ContainerInfo>();
  published = new Map<string, number>();
  asked = 0;
  constructor(private readonly manager = true) {}
  async listRunning() {
    return [...this.containers.keys()].map((id) => ({ id }));
  }
  async inspect(id: string) {
    return this.containers.get(id);
  }
  /** The containers swarm made: the only ones a manager confirms as tasks. */
  tasks = new Set<string>();
  async swarmTask({ containerId, serviceId }: TaskClaim): Promise<SwarmFacts> {
    this.asked++;
    const facts: SwarmFacts = { nodeId: "node1", manager: this.manager, ingressNetworks: ["ingress"] };
    const port = this.published.get(serviceId);
    if (!this.manager) return facts;
    if (!this.tasks.has(containerId)) return { ...facts, unconfirmed: `task of ${containerId} is another container` };
    if (port === undefined) return facts;
    return { ...facts, service: { labels: {}, ports: [{ protocol: "tcp", targetPort: 80, publishedPort: port, mode: "ingress" }] } };
  }
  task(id: string, service: string, slot: number, made = true) {
    const name = `${service}.${slot}.x${id}`;
    const labels = {
      "com.docker.swarm.service.name": service,
      "com.docker.swarm.service.id": `id-${service}`,
      "com.docker.swarm.node.id": "node1",
      "com.docker.swarm.task.id": `task-${id}`,
    };
    this.containers.set(
      id,
      container({ id, name, ip: "", labels, networks: { ingress: { IPAddress: "10.0.0.9" }, back: { IPAddress: `10.0.1.${slot}` } } }),
    );
    if (made) this.tasks.add(id);
  }
}

function setup(manager = true, build = options()) {
  const engine = new SwarmEngine(manager);
  const registry = new FakeRegistry();
  const { lines, log } = logged();
  const bridge = new Bridge(engine, registry, bridgeOptions({ build }), log);
  const settled = () => settle(bridge);
  const remove = (id: string) => {
    engine.containers.delete(id);
    bridge.handle(id, { kind: "destroyed" });
  };
  return { engine, registry, bridge, lines, settled, remove };
}

describe("swarm tasks in the bridge", () => {
  test("two tasks on one node: one entry for the node; it stays while either runs, and goes with the last", async () => {
    const { engine, registry, bridge, settled, remove } = setup();
    engine.published.set("id-web", 18555);
    engine.task("t1", "web", 1);
    engine.task("t2", "web", 2);
    await bridge.sync();
    await settled();
    assert.deepEqual(registry.view(), { "hostname:web:18555": "192.168.1.102:18555" });
    const holder = registry.stored.get("hostname:web:18555")!.origin.containerId;
    remove(holder);
    await settled();
    assert.deepEqual(registry.view(), { "hostname:web:18555": "192.168.1.102:18555" }, "the other task took the entry over");
    assert.notEqual(registry.stored.get("hostname:web:18555")!.origin.containerId, holder);
    remove(holder === "t1" ? "t2" : "t1");
    await settled();
    assert.deepEqual(registry.view(), {});
  });

  test("a container that only says it is a task never takes the service's entry, before or after the real task", async () => {
    const { engine, registry, bridge, settled, remove, lines } = setup();
    engine.published.set("id-web", 18555);
    engine.task("forged1", "web", 7, false);
    await bridge.sync();
    await settled();
    assert.deepEqual(registry.view(), {}, "a plain container that publishes nothing");
    assert.ok(
      lines.some(
        (l) => l.container === "forged1" && l.msg.startsWith("ignored: swarm labels ignored, the engine does not confirm the task"),
      ),
    );
    engine.task("t1", "web", 1);
    bridge.handle("t1", { kind: "started" });
    await settled();
    assert.deepEqual(registry.view(), { "hostname:web:18555": "192.168.1.102:18555" });
    assert.equal(registry.stored.get("hostname:web:18555")!.origin.containerId, "t1");
    remove("t1");
    engine.task("t2", "web", 2);
    bridge.handle("t2", { kind: "started" });
    await settled();
    assert.equal(
      registry.stored.get("hostname:web:18555")!.origin.containerId,
      "t2",
      "the task's replacement takes it, not the forged container",
    );
  });

  test("a service update that changes the published port re-reads its tasks", async () => {
    const { engine, registry, bridge, settled } = setup();
    engine.published.set("id-web", 18555);
    engine.task("t1", "web", 1);
    engine.task("other", "api", 1);
    await bridge.sync();
    await settled();
    const asked = engine.asked;
    engine.published.set("id-web", 18600);
    bridge.serviceChanged("id-web");
    await settled();
    assert.deepEqual(registry.view(), { "hostname:web:18600": "192.168.1.102:18600" });
    assert.equal(engine.asked - asked, 1, "only the updated service's task was read again");
  });

  test("-internal: each task at its overlay address", async () => {
    const { engine, registry, bridge, settled } = setup(true, options({ internal: true }));
    engine.published.set("id-web", 18555);
    engine.task("t1", "web", 1);
    engine.task("t2", "web", 2);
    await bridge.sync();
    await settled();
    assert.deepEqual(registry.view(), { "hostname:web.1.xt1:80": "10.0.1.1:80", "hostname:web.2.xt2:80": "10.0.1.2:80" });
  });

  test("a worker says once that it cannot read services", async () => {
    const { engine, bridge, settled, lines } = setup(false);
    engine.task("t1", "web", 1);
    engine.task("t2", "web", 2);
    await bridge.sync();
    await settled();
    await bridge.sync(true);
    await settled();
    assert.equal(lines.filter((l) => l.msg === WORKER_NOTICE).length, 1);
    assert.equal(lines.filter((l) => l.msg === "ignored: no published ports").length, 2);
  });

  test("any container refused an id another holds gets it when that one lets go", async () => {
    const { engine, registry, bridge, settled, remove } = setup();
    engine.containers.set("first", container({ id: "first", name: "a", publish: ["8080:80"], env: ["SERVICE_ID=shared"] }));
    bridge.handle("first", { kind: "started" });
    await settled();
    engine.containers.set("second", container({ id: "second", name: "b", publish: ["8081:80"], env: ["SERVICE_ID=shared"] }));
    bridge.handle("second", { kind: "started" });
    await settled();
    assert.deepEqual(registry.view(), { shared: "192.168.1.102:8080" });
    remove("first");
    await settled();
    assert.deepEqual(registry.view(), { shared: "192.168.1.102:8081" });
  });
});
