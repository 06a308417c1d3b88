import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { buildServices } from "../../../src/service/build.js";
import { ingressPorts, nodeProblem, swarmTask, withServiceLabels } from "../../../src/service/swarm.js";
import type { ContainerInfo, Service, SwarmFacts, SwarmPort } from "../../../src/service/types.js";
import { container, options } from "./fixtures.js";

const shown = (s: Service) => ({ ID: s.id, Name: s.name, IP: s.ip, Port: s.port, Tags: s.tags, Attrs: s.attrs });

interface TaskSpec {
  service?: string;
  slot?: number;
  node?: string;
  env?: string[];
  labels?: Record<string, string>;
  publish?: string[];
  expose?: string[];
  networks?: Record<string, { IPAddress: string }>;
}

/** A task container as dockerd 20.10 inspects it: no bridge address, attached to overlay networks. */
function task(spec: TaskSpec = {}): ContainerInfo {
  const service = spec.service ?? "web";
  const name = `${service}.${spec.slot ?? 1}.t${spec.slot ?? 1}xyz`;
  return container({
    id: `${"c".repeat(63)}${spec.slot ?? 1}`,
    name,
    image: "registrator-test/busybox:latest",
    env: spec.env,
    publish: spec.publish,
    expose: spec.expose,
    ip: "",
    labels: {
      "com.docker.swarm.service.name": service,
      "com.docker.swarm.service.id": "svc1",
      "com.docker.swarm.node.id": spec.node ?? "node1",
      "com.docker.swarm.task.name": name,
      "com.docker.swarm.task.id": `t${spec.slot ?? 1}xyz`,
      ...spec.labels,
    },
    networks: spec.networks ?? { ingress: { IPAddress: "10.0.0.5" }, backend: { IPAddress: "10.0.1.5" } },
  });
}

const ingress = (publishedPort: number, targetPort: number, protocol: SwarmPort["protocol"] = "tcp"): SwarmPort => ({
  protocol,
  targetPort,
  publishedPort,
  mode: "ingress",
});

function manager(ports: SwarmPort[] = [ingress(18555, 80)], labels: Record<string, string> = {}): SwarmFacts {
  return { nodeId: "node1", manager: true, ingressNetworks: ["ingress"], service: { labels, ports } };
}

const worker: SwarmFacts = { nodeId: "node1", manager: false, ingressNetworks: ["ingress"] };

const build = (c: ContainerInfo, facts: SwarmFacts | undefined, overrides: Parameters<typeof options>[0] = {}) =>
  buildServices(c, options(overrides), facts ? { swarm: facts } : {});

describe("swarm: ingress-published ports on a manager", () => {
  test("one entry for this node, at its address and the published port, named after the service", () => {
    assert.deepEqual(build(task(), manager()).services.map(shown), [
      { ID: "hostname:web:18555", Name: "web", IP: "192.168.1.102", Port: 18555, Tags: [], Attrs: {} },
    ]);
  });

  test("every task of the service on this node claims the same entry", () => {
    const ids = [1, 2].map((slot) => build(task({ slot }), manager()).services.map((s) => s.id));
    assert.deepEqual(ids, [["hostname:web:18555"], ["hostname:web:18555"]]);
  });

  test("a stack's prefix stays in the name", () => {
    assert.deepEqual(
      build(task({ service: "shop_web" }), manager()).services.map((s) => [s.id, s.name]),
      [["hostname:shop_web:18555", "shop_web"]],
    );
  });

  test("several ports are told apart by target port; UDP gets :udp and its tag", () => {
    const facts = manager([ingress(18555, 80), ingress(18443, 443), ingress(18553, 53, "udp")]);
    assert.deepEqual(
      build(task(), facts).services.map((s) => [s.id, s.name, s.port, s.tags]),
      [
        ["hostname:web:18553:udp", "web-53", 18553, ["udp"]],
        ["hostname:web:18555", "web-80", 18555, []],
        ["hostname:web:18443", "web-443", 18443, []],
      ],
    );
  });

  test("-ip is the node's address; --ip-from-container does not apply, the mesh answers on the node", () => {
    assert.equal(build(task(), manager(), { ip: "10.9.9.9" }).services[0]?.ip, "10.9.9.9");
    assert.equal(build(task(), manager(), { ipFromContainer: true }).services[0]?.ip, "192.168.1.102");
  });

  test("an image's exposed port that swarm publishes in ingress mode is registered", () => {
    assert.deepEqual(
      build(task({ expose: ["80"] }), manager()).services.map((s) => [s.id, s.port]),
      [["hostname:web:18555", 18555]],
    );
  });

  test("a binding of the container's own for the same port wins over the mesh", () => {
    assert.deepEqual(
      build(task({ publish: ["18600:80"] }), manager()).services.map((s) => [s.id, s.port]),
      [["hostname:web.1.t1xyz:80", 18600]],
    );
  });
});

describe("swarm: names and metadata", () => {
  test("SERVICE_NAME and a port's own name win over the service's name", () => {
    assert.equal(build(task({ env: ["SERVICE_NAME=shop"] }), manager()).services[0]?.name, "shop");
    const facts = manager([ingress(18555, 80), ingress(18443, 443)]);
    const names = build(task({ env: ["SERVICE_443_NAME=https"] }), facts).services.map((s) => s.name);
    assert.deepEqual(names, ["web-80", "https"]);
  });

  test("the service's labels are metadata, under the container's env and labels", () => {
    const facts = manager([ingress(18555, 80)], { SERVICE_TAGS: "svc", SERVICE_REGION: "eu", SERVICE_TIER: "front" });
    const c = task({ env: ["SERVICE_REGION=us"], labels: { SERVICE_TIER: "back" } });
    assert.deepEqual(shown(build(c, facts).services[0]!), {
      ID: "hostname:web:18555",
      Name: "web",
      IP: "192.168.1.102",
      Port: 18555,
      Tags: ["svc"],
      Attrs: { region: "us", tier: "back" },
    });
  });

  test("a service label meant for the port beats a container's key for every port, as ranks go", () => {
    const facts = manager([ingress(18555, 80)], { SERVICE_80_NAME: "http" });
    assert.equal(build(task({ env: ["SERVICE_NAME=shop"] }), facts).services[0]?.name, "http");
  });

  test("without the engine's facts a task is still named after its service", () => {
    assert.deepEqual(
      build(task({ publish: ["18556:81"] }), undefined).services.map((s) => [s.id, s.name]),
      [["hostname:web.1.t1xyz:81", "web"]],
    );
  });
});

describe("swarm: tasks by address (-internal)", () => {
  test("the task's overlay address and target port, under the task container's name", () => {
    assert.deepEqual(build(task(), manager(), { internal: true }).services.map(shown), [
      { ID: "hostname:web.1.t1xyz:80", Name: "web", IP: "10.0.1.5", Port: 80, Tags: [], Attrs: {} },
    ]);
  });

  test("--network and SERVICE_NETWORK choose among overlays; the ingress network only when named", () => {
    const networks = { ingress: { IPAddress: "10.0.0.5" }, a: { IPAddress: "10.0.1.5" }, b: { IPAddress: "10.0.2.5" } };
    const ip = (spec: TaskSpec, network?: string) =>
      build(task({ networks, ...spec }), manager(), { internal: true, network }).services[0]?.ip;
    assert.equal(ip({}), "10.0.1.5");
    assert.equal(ip({}, "b"), "10.0.2.5");
    assert.equal(ip({ env: ["SERVICE_NETWORK=b"] }, "a"), "10.0.2.5");
    assert.equal(ip({ env: ["SERVICE_NETWORK=ingress"] }), "10.0.0.5");
  });

  test("a task on the ingress network alone has no address to register", () => {
    const result = build(task({ networks: { ingress: { IPAddress: "10.0.0.5" } } }), manager(), { internal: true });
    assert.deepEqual(result.services, []);
    assert.deepEqual(result.skipped, [
      {
        port: "80/tcp",
        reason: "no IP address on a network other containers reach (not ingress): attach the service to an overlay network",
      },
    ]);
  });
});

describe("swarm: host-mode ports, workers and other nodes", () => {
  test("a host-mode port is on the container: registered per task at the node's address", () => {
    const facts = manager([{ protocol: "tcp", targetPort: 81, publishedPort: 18556, mode: "host" }]);
    assert.deepEqual(build(task({ service: "hostp", publish: ["18556:81"] }), facts).services.map(shown), [
      { ID: "hostname:hostp.1.t1xyz:81", Name: "hostp", IP: "192.168.1.102", Port: 18556, Tags: [], Attrs: {} },
    ]);
  });

  test("a worker cannot know ingress ports: it registers host-mode ports, and exposed ports with -internal", () => {
    assert.deepEqual(build(task(), worker).skipped, [{ reason: "no published ports" }]);
    assert.deepEqual(
      build(task({ publish: ["18556:81"] }), worker).services.map((s) => [s.id, s.port]),
      [["hostname:web.1.t1xyz:81", 18556]],
    );
    assert.deepEqual(
      build(task({ expose: ["80"] }), worker, { internal: true }).services.map((s) => [s.id, s.ip, s.port]),
      [["hostname:web.1.t1xyz:80", "10.0.1.5", 80]],
    );
  });

  test("a task of another node, or on an engine in no swarm, is not registered here", () => {
    assert.deepEqual(build(task({ node: "node2" }), manager()), {
      services: [],
      skipped: [{ reason: "swarm task of node node2, not of this node (node1)" }],
    });
    assert.deepEqual(build(task(), { nodeId: "", manager: false, ingressNetworks: [] }).skipped, [
      { reason: "swarm task of node node1, but this engine is in no swarm" },
    ]);
  });

  test("a container without swarm's labels is built as before", () => {
    const plain = container({ name: "redis.0", publish: ["10000:6379"] });
    assert.deepEqual(
      build(plain, manager()).services.map((s) => [s.id, s.name]),
      [["hostname:redis.0:6379", "redis"]],
    );
  });
});

describe("swarm: a task the manager does not confirm is a plain container", () => {
  const forged = (facts: SwarmFacts = manager([ingress(30080, 80)], { SERVICE_TAGS: "svc" })): SwarmFacts => ({
    nodeId: facts.nodeId,
    manager: true,
    ingressNetworks: facts.ingressNetworks,
    unconfirmed: "task t1xyz is container cccccccccccc, not this one",
  });
  const note = {
    reason:
      "swarm labels ignored, the engine does not confirm the task (task t1xyz is container cccccccccccc, not this one): a plain container",
  };

  test("publishing nothing, it gets no ingress entry, only the note why", () => {
    assert.deepEqual(build(task({ service: "shop_web" }), forged()), { services: [], skipped: [note, { reason: "no published ports" }] });
  });

  test("its own published ports are registered by the plain rules: its image's name, its own id", () => {
    const result = build(task({ service: "shop_web", publish: ["18600:80"] }), forged());
    assert.deepEqual(
      result.services.map((s) => [s.id, s.name, s.tags]),
      [["hostname:shop_web.1.t1xyz:80", "busybox", []]],
    );
    assert.deepEqual(result.skipped, [note]);
  });

  test("a node label naming another node does not matter: it is not a task", () => {
    const result = build(task({ node: "node2", publish: ["18600:80"] }), forged());
    assert.deepEqual(
      result.services.map((s) => s.id),
      ["hostname:web.1.t1xyz:80"],
    );
  });
});

describe("swarm: the pure parts", () => {
  test("swarmTask reads the labels swarm sets, and needs the service's name and id", () => {
    assert.deepEqual(swarmTask(task()), { serviceName: "web", serviceId: "svc1", nodeId: "node1", taskId: "t1xyz" });
    assert.equal(swarmTask(container({ labels: { "com.docker.swarm.service.name": "web" } })), undefined);
  });

  test("nodeProblem compares the task's node with this engine's", () => {
    const t = { serviceName: "web", serviceId: "svc1", nodeId: "node1", taskId: "t1" };
    assert.equal(nodeProblem(t, manager()), undefined);
    assert.equal(nodeProblem({ ...t, nodeId: "" }, manager()), "swarm task of node (none), not of this node (node1)");
  });

  test("ingressPorts leaves host-mode and unpublished ports to the container", () => {
    const ports: SwarmPort[] = [ingress(18555, 80), { ...ingress(18556, 81), mode: "host" }, ingress(0, 82)];
    assert.deepEqual(ingressPorts({ labels: {}, ports }), [ingress(18555, 80)]);
    assert.deepEqual(ingressPorts(undefined), []);
  });

  test("withServiceLabels puts the service's keys first, so the container's come later and win", () => {
    const merged = withServiceLabels(new Map([["SERVICE_NAME", "own"]]), { labels: { SERVICE_NAME: "svc", SERVICE_X: "1" }, ports: [] });
    assert.deepEqual(
      [...merged],
      [
        ["SERVICE_X", "1"],
        ["SERVICE_NAME", "own"],
      ],
    );
  });
});
