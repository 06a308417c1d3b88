import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseEvent, parseServiceUpdate } from "../../../src/engine/events.js";
import { ingressNetworkNames, parseSwarmNode, parseSwarmService, SwarmReader } from "../../../src/engine/swarm.js";
import type { Response } from "../../../src/http-client.js";

/** `GET /services/{id}` as dockerd 20.10 answers for `docker service create --label SERVICE_TAGS=svc -p 18555:80 -p mode=host,published=18556,target=81`. */
const SERVICE = {
  ID: "zg5mzd7c3m6ro8ijsh675bj8d",
  Spec: { Name: "web", Labels: { SERVICE_TAGS: "svc" } },
  Endpoint: {
    Spec: { Mode: "vip", Ports: [{ Protocol: "tcp", TargetPort: 80, PublishedPort: 18555, PublishMode: "ingress" }] },
    Ports: [
      { Protocol: "tcp", TargetPort: 80, PublishedPort: 18555, PublishMode: "ingress" },
      { Protocol: "tcp", TargetPort: 81, PublishedPort: 18556, PublishMode: "host" },
      { Protocol: "udp", TargetPort: 53, PublishedPort: 30001 },
    ],
    VirtualIPs: [{ NetworkID: "8b1rjpz5a5oc", Addr: "10.215.0.3/24" }],
  },
};

const INFO_MANAGER = { Swarm: { NodeID: "node1", LocalNodeState: "active", ControlAvailable: true } };
const INFO_WORKER = { Swarm: { NodeID: "node2", LocalNodeState: "active", ControlAvailable: false } };
const NETWORKS = [
  { Name: "ingress", Ingress: true },
  { Name: "swnet", Ingress: false },
];

describe("reading swarm's answers", () => {
  test("the service's labels and every published port, with swarm's default mode and protocol", () => {
    assert.deepEqual(parseSwarmService(SERVICE), {
      labels: { SERVICE_TAGS: "svc" },
      ports: [
        { protocol: "tcp", targetPort: 80, publishedPort: 18555, mode: "ingress" },
        { protocol: "tcp", targetPort: 81, publishedPort: 18556, mode: "host" },
        { protocol: "udp", targetPort: 53, publishedPort: 30001, mode: "ingress" },
      ],
    });
    assert.deepEqual(parseSwarmService({ Spec: {}, Endpoint: {} }), { labels: {}, ports: [] });
    assert.deepEqual(parseSwarmService({ Endpoint: { Ports: [{ TargetPort: 0, PublishedPort: 80 }, { TargetPort: 80, PublishedPort: 70000 }] } }).ports, []);
  });

  test("the node: its id only while active in a swarm; a manager can read the cluster", () => {
    assert.deepEqual(parseSwarmNode(INFO_MANAGER), { nodeId: "node1", manager: true });
    assert.deepEqual(parseSwarmNode(INFO_WORKER), { nodeId: "node2", manager: false });
    assert.deepEqual(parseSwarmNode({ Swarm: { NodeID: "", LocalNodeState: "inactive" } }), { nodeId: "", manager: false });
    assert.deepEqual(parseSwarmNode({ Swarm: { NodeID: "x", LocalNodeState: "pending", ControlAvailable: true } }), { nodeId: "", manager: false });
    // Podman's /info has no Swarm section.
    assert.deepEqual(parseSwarmNode({ host: {} }), { nodeId: "", manager: false });
  });

  test("the routing mesh's networks are those marked Ingress, whatever their name", () => {
    assert.deepEqual(ingressNetworkNames([...NETWORKS, { Name: "mesh2", Ingress: true }]), ["ingress", "mesh2"]);
    assert.deepEqual(ingressNetworkNames(null), []);
  });

  test("a service's update event names the service; container events stay what they were", () => {
    const update = JSON.stringify({ Type: "service", Action: "update", Actor: { ID: "zg5m", Attributes: { name: "web" } }, scope: "swarm" });
    assert.equal(parseServiceUpdate(update), "zg5m");
    assert.equal(parseEvent(update), undefined);
    assert.equal(parseServiceUpdate(JSON.stringify({ Type: "service", Action: "remove", Actor: { ID: "zg5m" } })), undefined);
    assert.equal(parseServiceUpdate(JSON.stringify({ Type: "container", Action: "update", Actor: { ID: "c1" } })), undefined);
    assert.equal(parseServiceUpdate("null"), undefined);
  });
});

/** An engine that answers from a table and counts what it was asked. */
function fakeEngine(routes: Record<string, { status?: number; body: unknown } | Error>) {
  const asked: string[] = [];
  const get = async (path: string): Promise<Response> => {
    asked.push(path.replace(/\?.*/, ""));
    const route = routes[path.replace(/\?.*/, "")];
    if (!route) return { status: 404, text: '{"message":"no such service"}', headers: {} };
    if (route instanceof Error) throw route;
    return { status: route.status ?? 200, text: JSON.stringify(route.body), headers: {} };
  };
  return { get, asked };
}

describe("SwarmReader", () => {
  test("a manager: the node once, each service once, however many tasks ask", async () => {
    const engine = fakeEngine({ "/info": { body: INFO_MANAGER }, "/networks": { body: NETWORKS }, "/services/svc1": { body: SERVICE } });
    const reader = new SwarmReader(engine.get);
    const answers = await Promise.all([reader.task("svc1"), reader.task("svc1"), reader.task("svc1")]);
    assert.deepEqual(answers[2], { nodeId: "node1", manager: true, ingressNetworks: ["ingress"], service: parseSwarmService(SERVICE) });
    assert.deepEqual(engine.asked, ["/info", "/networks", "/services/svc1"]);
  });

  test("a worker never asks for services, which it cannot read", async () => {
    const engine = fakeEngine({ "/info": { body: INFO_WORKER }, "/networks": { body: NETWORKS } });
    const facts = await new SwarmReader(engine.get).task("svc1");
    assert.deepEqual(facts, { nodeId: "node2", manager: false, ingressNetworks: ["ingress"] });
    assert.deepEqual(engine.asked, ["/info", "/networks"]);
  });

  test("a removed service is no service; a node demoted meanwhile is a worker, and /info is read again", async () => {
    const engine = fakeEngine({ "/info": { body: INFO_MANAGER }, "/networks": { body: NETWORKS }, "/services/demoted": { status: 503, body: {} } });
    const reader = new SwarmReader(engine.get);
    assert.equal((await reader.task("gone")).service, undefined);
    assert.deepEqual(await reader.task("demoted"), { nodeId: "node1", manager: false, ingressNetworks: ["ingress"] });
    await reader.task("gone");
    assert.equal(engine.asked.filter((p) => p === "/info").length, 2);
  });

  test("an update event forgets the service; the cache ends after its time; a failed read is not kept", async () => {
    let now = 0;
    const engine = fakeEngine({ "/info": { body: INFO_MANAGER }, "/networks": { body: NETWORKS }, "/services/svc1": { body: SERVICE } });
    const reader = new SwarmReader(engine.get, 10_000, () => now);
    await reader.task("svc1");
    reader.forget("svc1");
    await reader.task("svc1");
    assert.deepEqual(engine.asked, ["/info", "/networks", "/services/svc1", "/services/svc1"]);
    now = 10_000;
    await reader.task("svc1");
    assert.deepEqual(engine.asked.slice(4), ["/info", "/networks", "/services/svc1"]);

    const failing = fakeEngine({ "/info": new Error("socket hang up") });
    const flaky = new SwarmReader(failing.get);
    await assert.rejects(flaky.task("svc1"), /socket hang up/);
    await assert.rejects(flaky.task("svc1"), /socket hang up/);
    assert.deepEqual(failing.asked, ["/info", "/info"]);
  });

  test("an engine in no swarm is asked nothing more than /info", async () => {
    const engine = fakeEngine({ "/info": { body: { Swarm: { NodeID: "", LocalNodeState: "inactive" } } } });
    assert.deepEqual(await new SwarmReader(engine.get).task("svc1"), { nodeId: "", manager: false, ingressNetworks: [] });
    assert.deepEqual(engine.asked, ["/info"]);
  });
});
