import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { buildServices } from "../../../src/service/build.js";
import { readContainer } from "../../../src/service/record.js";
import type { SwarmFacts } from "../../../src/service/types.js";
import { container, options } from "./fixtures.js";

const taskLabels = {
  "com.docker.swarm.service.name": "web",
  "com.docker.swarm.service.id": "svc1",
  "com.docker.swarm.node.id": "node1",
  "com.docker.swarm.task.id": "t1",
};
const confirmed: SwarmFacts = {
  nodeId: "node1",
  manager: true,
  ingressNetworks: ["ingress"],
  service: { labels: { SERVICE_REGION: "eu" }, ports: [{ protocol: "tcp", targetPort: 80, publishedPort: 18555, mode: "ingress" }] },
};

describe("the container record", () => {
  test("a confirmed task: swarm's name, ingress port and labels are in the record, and nowhere else to look", () => {
    const task = container({
      name: "web.1.abc",
      ip: "",
      labels: taskLabels,
      networks: { ingress: { IPAddress: "10.0.0.5" }, back: { IPAddress: "10.0.1.5" } },
    });
    const record = readContainer(task, options(), { swarm: confirmed });
    assert.ok(typeof record === "object");
    assert.deepEqual([record.name, record.defaultName, record.swarmService, record.unreachable], ["web.1.abc", "web", "web", ["ingress"]]);
    assert.deepEqual(record.ports, [
      { key: "80/tcp", exposedPort: "80", protocol: "tcp", hostPort: "18555", hostIp: "0.0.0.0", ingress: true },
    ]);
    assert.deepEqual([...record.metadata.generic], [["region", "eu"]]);
  });

  test("an unconfirmed one: none of it, and a note why", () => {
    const forged = container({ name: "forged", publish: ["8080:80"], labels: taskLabels });
    const record = readContainer(forged, options(), {
      swarm: { ...confirmed, service: undefined, unconfirmed: "the engine knows no task t1" },
    });
    assert.ok(typeof record === "object");
    assert.deepEqual(
      [record.defaultName, record.swarmService, record.unreachable, record.metadata.generic.size],
      ["redis", undefined, [], 0],
    );
    assert.deepEqual(record.notes, [
      "swarm labels ignored, the engine does not confirm the task (the engine knows no task t1): a plain container",
    ]);
  });

  test("--net container:<id> takes the other container's address; -useIpFromLabel is checked once", () => {
    const shared = container({ id: "other", ip: "172.17.0.9" });
    const joined = container({
      name: "sidecar",
      networkMode: "container:other",
      ip: "",
      publish: ["8080:80"],
      labels: { addr: "10.1.2.3/24" },
    });
    const record = readContainer(joined, options({ useIpFromLabel: "addr" }), { networkContainer: shared });
    assert.ok(typeof record === "object");
    assert.deepEqual([record.sharedIp, record.labelled], ["172.17.0.9", { ip: "10.1.2.3" }]);
  });
});

describe("templates are applied once", () => {
  test("one SERVICE_TAGS template renders once for every port that reads it; a port's own template once more", () => {
    const sources: string[] = [];
    const renderTemplate = (source: string) => {
      sources.push(source);
      return source === "{{all}}" ? "a,b" : "own";
    };
    const many = container({ publish: ["8080:80", "8081:81", "8082:82"], env: ["SERVICE_TAGS={{all}}", "SERVICE_82_TAGS={{own}}"] });
    const built = buildServices(many, options({ renderTemplate }));
    assert.deepEqual(
      built.services.map((s) => s.tags),
      [["a", "b"], ["a", "b"], ["own"]],
    );
    assert.deepEqual(sources, ["{{all}}", "{{own}}"]);
  });
});
