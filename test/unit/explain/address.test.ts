import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { addressOrigin } from "../../../src/explain/address.js";
import { buildServices } from "../../../src/service/build.js";
import type { BuildOptions, ContainerInfo, SwarmFacts } from "../../../src/service/types.js";
import { container, options } from "../service/fixtures.js";

/** Where the first service's address came from, as the builder made it. */
function origin(info: ContainerInfo, build: BuildOptions = options(), networkContainer?: ContainerInfo, swarm?: SwarmFacts): string {
  const service = buildServices(info, build, { ...(networkContainer && { networkContainer }), ...(swarm && { swarm }) }).services[0]!;
  const { source, detail } = addressOrigin(info, service, build, { hostname: "box", networkContainer });
  return `${source}: ${service.ip} ${detail}`;
}

describe("where a service's address came from", () => {
  const web = container({ publish: ["8080:80"], ip: "172.17.0.3" });

  test("the hostname, -ip, a host binding", () => {
    assert.equal(origin(web), "hostname: 192.168.1.102 the hostname box resolves to it (no -ip)");
    assert.equal(origin(web, options({ ip: "10.0.0.1" })), "ip-flag: 10.0.0.1 -ip");
    assert.equal(
      origin(container({ publish: ["127.0.0.2:8080:80"] })),
      "binding: 127.0.0.2 the port's binding to 127.0.0.2 (docker run -p 127.0.0.2:…)",
    );
  });

  test("-internal and --ip-from-container name the network", () => {
    const onNetwork = container({ publish: ["8080:80"], ip: "", networks: { backend: { IPAddress: "10.5.0.7" } } });
    assert.equal(
      origin(onNetwork, options({ internal: true })),
      "internal: 10.5.0.7 -internal: the container's own address on network backend",
    );
    assert.equal(
      origin(onNetwork, options({ ipFromContainer: true })),
      "ip-from-container: 10.5.0.7 --ip-from-container: the container's own address on network backend",
    );
  });

  test("a user-defined network, -useIpFromLabel, a shared network", () => {
    const user = container({ publish: ["8080:80"], networkMode: "backend", networks: { backend: { IPAddress: "10.5.0.8" } } });
    assert.match(origin(user), /^network: 10\.5\.0\.8 the container's address on its user-defined network backend/);
    const labelled = container({ publish: ["8080:80"], labels: { "svc.ip": "10.9.9.9/24" } });
    assert.equal(origin(labelled, options({ useIpFromLabel: "svc.ip" })), "label: 10.9.9.9 label svc.ip (-useIpFromLabel)");
    const pod = container({ name: "pod", ip: "172.17.0.9" });
    const sidecar = container({ publish: ["8080:80"], networkMode: `container:${pod.Id}` });
    assert.equal(
      origin(sidecar, options({ internal: true }), pod),
      `container-network: 172.17.0.9 the address of container pod, whose network it shares (--net container:${pod.Id})`,
    );
  });

  test("a port swarm's routing mesh publishes: the node's address", () => {
    const labels = { "com.docker.swarm.service.name": "web", "com.docker.swarm.service.id": "svc1", "com.docker.swarm.node.id": "node1" };
    const taskContainer = container({
      name: "web.1.abc",
      ip: "",
      expose: ["80"],
      labels,
      networks: { ingress: { IPAddress: "10.0.0.5" } },
    });
    const swarm: SwarmFacts = {
      nodeId: "node1",
      manager: true,
      ingressNetworks: ["ingress"],
      service: { labels: {}, ports: [{ protocol: "tcp", targetPort: 80, publishedPort: 18555, mode: "ingress" }] },
    };
    assert.equal(
      origin(taskContainer, options({ ip: "10.0.0.1" }), undefined, swarm),
      "swarm-ingress: 10.0.0.1 Swarm ingress: the routing mesh answers on this node's address; -ip",
    );
  });
});
