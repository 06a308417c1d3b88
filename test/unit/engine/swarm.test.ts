import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseEvent, parseServiceUpdate } from "../../../src/engine/events.js";
import {
  ingressNetworkNames,
  parseSwarmNode,
  parseSwarmService,
  SwarmReader,
  taskMismatch,
  type TaskClaim,
} from "../../../src/engine/swarm.js";
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
/** `GET /tasks/{id}` as dockerd 20.10 answers for a running task (trimmed). */
const TASK = {
  ID: "task1",
  ServiceID: "svc1",
  NodeID: "node1",
  DesiredState: "running",
  Status: { State: "running", ContainerStatus: { ContainerID: "c1", PID: 4242, ExitCode: 0 } },
};
const CLAIM: TaskClaim = { containerId: "c1", taskId: "task1", serviceId: "svc1" };
const claim = (serviceId: string): TaskClaim => ({ containerId: "c1", taskId: `task-${serviceId}`, serviceId });
const taskOf = (serviceId: string) => ({ ...TASK, ID: `task-${serviceId}`, ServiceID: serviceId });

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
    assert.deepEqual(
      parseSwarmService({
        Endpoint: {
          Ports: [
            { TargetPort: 0, PublishedPort: 80 },
            { TargetPort: 80, PublishedPort: 70000 },
          ],
        },
      }).ports,
      [],
    );
  });

  test("the node: its id only while active in a swarm; a manager can read the cluster", () => {
    assert.deepEqual(parseSwarmNode(INFO_MANAGER), { nodeId: "node1", manager: true });
    assert.deepEqual(parseSwarmNode(INFO_WORKER), { nodeId: "node2", manager: false });
    assert.deepEqual(parseSwarmNode({ Swarm: { NodeID: "", LocalNodeState: "inactive" } }), { nodeId: "", manager: false });
    assert.deepEqual(parseSwarmNode({ Swarm: { NodeID: "x", LocalNodeState: "pending", ControlAvailable: true } }), {
      nodeId: "",
      manager: false,
    });
    // Podman's /info has no Swarm section.
    assert.deepEqual(parseSwarmNode({ host: {} }), { nodeId: "", manager: false });
  });

  test("the routing mesh's networks are those marked Ingress, whatever their name", () => {
    assert.deepEqual(ingressNetworkNames([...NETWORKS, { Name: "mesh2", Ingress: true }]), ["ingress", "mesh2"]);
    assert.deepEqual(ingressNetworkNames(null), []);
  });

  test("a service's update event names the service; container events stay what they were", () => {
    const update = JSON.stringify({
      Type: "service",
      Action: "update",
      Actor: { ID: "zg5m", Attributes: { name: "web" } },
      scope: "swarm",
    });
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
    const tasks = Object.fromEntries(
      [1, 2, 3].map((n) => [
        `/tasks/t${n}`,
        { body: { ...TASK, ID: `t${n}`, Status: { State: "running", ContainerStatus: { ContainerID: `c${n}` } } } },
      ]),
    );
    const engine = fakeEngine({
      "/info": { body: INFO_MANAGER },
      "/networks": { body: NETWORKS },
      "/services/svc1": { body: SERVICE },
      ...tasks,
    });
    const reader = new SwarmReader(engine.get);
    const answers = await Promise.all([1, 2, 3].map((n) => reader.task({ containerId: `c${n}`, taskId: `t${n}`, serviceId: "svc1" })));
    assert.deepEqual(answers[2], { nodeId: "node1", manager: true, ingressNetworks: ["ingress"], service: parseSwarmService(SERVICE) });
    assert.deepEqual(
      engine.asked.filter((p) => !p.startsWith("/tasks/")),
      ["/info", "/networks", "/services/svc1"],
    );
    assert.deepEqual(
      engine.asked.filter((p) => p.startsWith("/tasks/")).sort(),
      ["/tasks/t1", "/tasks/t2", "/tasks/t3"],
      "each task's own record, every time",
    );
  });

  test("a worker never asks for services, which it cannot read", async () => {
    const engine = fakeEngine({ "/info": { body: INFO_WORKER }, "/networks": { body: NETWORKS } });
    const facts = await new SwarmReader(engine.get).task(CLAIM);
    assert.deepEqual(facts, { nodeId: "node2", manager: false, ingressNetworks: ["ingress"] });
    assert.deepEqual(engine.asked, ["/info", "/networks"]);
  });

  test("a removed service is no service; a node demoted meanwhile is a worker, and /info is read again", async () => {
    const engine = fakeEngine({
      "/info": { body: INFO_MANAGER },
      "/networks": { body: NETWORKS },
      "/tasks/task-gone": { body: taskOf("gone") },
      "/tasks/task-demoted": { body: taskOf("demoted") },
      "/services/demoted": { status: 503, body: {} },
    });
    const reader = new SwarmReader(engine.get);
    assert.deepEqual(await reader.task(claim("gone")), { nodeId: "node1", manager: true, ingressNetworks: ["ingress"] });
    assert.deepEqual(await reader.task(claim("demoted")), { nodeId: "node1", manager: false, ingressNetworks: ["ingress"] });
    await reader.task(claim("gone"));
    assert.equal(engine.asked.filter((p) => p === "/info").length, 2);
  });

  test("demoted before the task is read: the task API answers 503, and the node is a worker", async () => {
    const engine = fakeEngine({
      "/info": { body: INFO_MANAGER },
      "/networks": { body: NETWORKS },
      "/tasks/task1": { status: 503, body: { message: "This node is not a swarm manager." } },
    });
    assert.deepEqual(await new SwarmReader(engine.get).task(CLAIM), { nodeId: "node1", manager: false, ingressNetworks: ["ingress"] });
    assert.equal(engine.asked.includes("/services/svc1"), false);
  });

  test("a manager that does not confirm the task says why, and reads no service for it", async () => {
    const engine = fakeEngine({
      "/info": { body: INFO_MANAGER },
      "/networks": { body: NETWORKS },
      "/tasks/task1": { body: TASK },
      "/services/svc1": { body: SERVICE },
    });
    const reader = new SwarmReader(engine.get);
    const forged = await reader.task({ ...CLAIM, containerId: "forged0123456789" });
    assert.deepEqual(forged, {
      nodeId: "node1",
      manager: true,
      ingressNetworks: ["ingress"],
      unconfirmed: "task task1 is container c1, not this one",
    });
    assert.equal((await reader.task({ ...CLAIM, taskId: "" })).unconfirmed, "no com.docker.swarm.task.id label");
    assert.equal((await reader.task({ ...CLAIM, taskId: "nosuch" })).unconfirmed, "the engine knows no task nosuch");
    assert.equal(engine.asked.includes("/services/svc1"), false);
  });

  test("an update event forgets the service; the cache ends after its time; a failed read is not kept", async () => {
    let now = 0;
    const engine = fakeEngine({
      "/info": { body: INFO_MANAGER },
      "/networks": { body: NETWORKS },
      "/services/svc1": { body: SERVICE },
      "/tasks/task1": { body: TASK },
    });
    const reader = new SwarmReader(engine.get, 10_000, () => now);
    const kept = () => engine.asked.filter((p) => !p.startsWith("/tasks/"));
    await reader.task(CLAIM);
    reader.forget("svc1");
    await reader.task(CLAIM);
    assert.deepEqual(kept(), ["/info", "/networks", "/services/svc1", "/services/svc1"]);
    now = 10_000;
    await reader.task(CLAIM);
    assert.deepEqual(kept().slice(4), ["/info", "/networks", "/services/svc1"]);

    const failing = fakeEngine({ "/info": new Error("socket hang up") });
    const flaky = new SwarmReader(failing.get);
    await assert.rejects(flaky.task(CLAIM), /socket hang up/);
    await assert.rejects(flaky.task(CLAIM), /socket hang up/);
    assert.deepEqual(failing.asked, ["/info", "/info"]);
  });

  test("an engine in no swarm is asked nothing more than /info", async () => {
    const engine = fakeEngine({ "/info": { body: { Swarm: { NodeID: "", LocalNodeState: "inactive" } } } });
    assert.deepEqual(await new SwarmReader(engine.get).task(CLAIM), { nodeId: "", manager: false, ingressNetworks: [] });
    assert.deepEqual(engine.asked, ["/info"]);
  });
});

describe("taskMismatch: the engine's task record against a container's labels", () => {
  test("confirmed only when it names this container, this node and the labelled service", () => {
    assert.equal(taskMismatch(TASK, CLAIM, "node1"), undefined);
    assert.equal(taskMismatch(TASK, { ...CLAIM, serviceId: "svc2" }, "node1"), "task task1 is of service svc1, not svc2");
    assert.equal(taskMismatch(TASK, CLAIM, "node9"), "task task1 is on node node1, not this node (node9)");
    assert.equal(taskMismatch(TASK, { ...CLAIM, containerId: "c2" }, "node1"), "task task1 is container c1, not this one");
    assert.equal(taskMismatch(null, CLAIM, "node1"), "task task1 is of service (none), not svc1");
  });

  test("a task whose container the managers have not heard of yet is asked again; one past that never names it", () => {
    const starting = { ...TASK, Status: { State: "starting" } };
    assert.throws(() => taskMismatch(starting, CLAIM, "node1"), /swarm task task1 names no container yet/);
    const failed = { ...TASK, Status: { State: "rejected" } };
    assert.equal(taskMismatch(failed, CLAIM, "node1"), "task task1 is container (none), not this one");
  });
});
