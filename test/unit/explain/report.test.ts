import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { acceptServices } from "../../../src/bridge/desired.js";
import { backendView } from "../../../src/explain/backend.js";
import { entryState, explainReport, orphanEntries, type ContainerFacts, type ExplainFacts } from "../../../src/explain/report.js";
import type { Stored } from "../../../src/registry/types.js";
import { parseRegistryUri } from "../../../src/registry/uri.js";
import { buildServices } from "../../../src/service/build.js";
import type { BuildOptions, ContainerInfo, Service } from "../../../src/service/types.js";
import { container, options } from "../service/fixtures.js";

const NO_RULES = { validate: () => undefined, dropped: () => [] };
const etcd = backendView(parseRegistryUri("etcd://127.0.0.1:2379/services"));

function facts(info: ContainerInfo, build: BuildOptions = options()): ContainerFacts {
  return {
    info,
    accepted: acceptServices(
      { container: info.Id, startedAt: "", hostId: "hostname" },
      buildServices(info, build),
      NO_RULES,
      () => undefined,
    ),
    address: { hostname: "hostname" },
  };
}

function explained(
  containers: ContainerFacts[],
  stored: Stored[] | { error: string },
  build: BuildOptions = options(),
): ReturnType<typeof explainReport> {
  const input: ExplainFacts = {
    hostId: build.hostId,
    build,
    registry: { uri: "etcd://127.0.0.1:2379/services", backend: "etcd" },
    warnings: [],
    containers,
    notFound: [],
    running: {
      ids: new Set(containers.map((c) => c.info.Id)),
      claimed: new Set(containers.flatMap((c) => [...(c.accepted?.services.keys() ?? [])])),
    },
    stored,
    backend: etcd,
  };
  return explainReport(input);
}

const web = container({ name: "web", publish: ["8080:80"], env: ["SERVICE_NAME=web"] });
const built = (info: ContainerInfo, build = options()): Service => buildServices(info, build).services[0]!;
const ours = (service: Service, containerId = web.Id, host = "hostname"): Stored => ({
  service,
  owner: { hostId: host, container: containerId },
});

describe("explain's report", () => {
  test("a service the registry holds as built is in step, with where its address came from", () => {
    const report = explained([facts(web)], [ours(built(web))]);
    assert.equal(report.inStep, true);
    const service = report.containers[0]!.services[0]!;
    assert.deepEqual(
      {
        port: service.port,
        id: service.id,
        ip: service.ip,
        hostPort: service.hostPort,
        address: service.address,
        registry: service.registry,
      },
      {
        port: "80/tcp",
        id: "hostname:web:80",
        ip: "192.168.1.102",
        hostPort: 8080,
        address: { source: "hostname", detail: "the hostname hostname resolves to it (no -ip)" },
        registry: { state: "in-step" },
      },
    );
  });

  test("missing, and different field by field", () => {
    assert.equal(explained([facts(web)], []).containers[0]!.services[0]!.registry.state, "missing");
    const moved = { ...built(web), ip: "10.0.0.9", port: 9999 };
    const state = entryState(built(web), ours(moved), "hostname", web.Id, etcd.fields);
    assert.deepEqual(state.state === "different" && state.fields, [
      { field: "ip", want: "192.168.1.102", have: "10.0.0.9" },
      { field: "port", want: "8080", have: "9999" },
    ]);
    assert.equal(explained([facts(web)], [ours(moved)]).inStep, false);
  });

  test("held by another host, another tool, or another container of this host, naming the owner", () => {
    const service = built(web);
    const other = entryState(service, ours(service, "f".repeat(64), "node-2"), "hostname", web.Id, etcd.fields);
    assert.deepEqual(other.state === "owned-elsewhere" && [other.owner, other.fix], [
      `host node-2, container ffffffffffff`,
      "host node-2 holds this id: set SERVICE_ID to one of this host's own",
    ]);
    const custom = { ...service, id: "web-custom" };
    const tool = entryState(custom, { service: custom }, "hostname", web.Id, etcd.fields);
    assert.equal(tool.state === "owned-elsewhere" && tool.owner, "another tool");
    // Unmarked in this host's default form: the Go registrator's, which the daemon adopts.
    assert.deepEqual(entryState(service, { service }, "hostname", web.Id, etcd.fields), { state: "in-step" });
    const sibling = entryState(service, ours(service, "a".repeat(64)), "hostname", web.Id, etcd.fields);
    assert.match(sibling.state === "owned-elsewhere" ? sibling.fix : "", /takes it over/);
  });

  test("an entry written for this container under another host id (no -h) is named, with the fix", () => {
    const elsewhere = { ...built(web), id: "0123456789ab:web:80" };
    const report = explained([facts(web)], [ours(elsewhere, web.Id, "0123456789ab")]);
    assert.equal(report.inStep, false);
    assert.equal(report.containers[0]!.unexpected[0]!.id, "0123456789ab:web:80");
    assert.match(report.containers[0]!.unexpected[0]!.fix, /--hostname=\$\(hostname\) in docker run, or --host-id/);
  });

  test("ignored ports carry the fix; a port that is not published does not make it out of step", () => {
    const quiet = container({ name: "quiet", expose: ["6379"] });
    const report = explained([facts(quiet)], []);
    assert.equal(report.inStep, true);
    assert.deepEqual(report.containers[0]!.ignored, [
      { port: "6379/tcp", reason: "port not published on host", fix: "publish it (docker run -p 6379), or pass -internal" },
    ]);
  });

  test("a container named that does not run, and a registry that cannot be read, are not in step", () => {
    const stopped = explained([{ info: web, address: { hostname: "hostname" } }], []);
    assert.equal(stopped.inStep, false);
    assert.deepEqual(stopped.containers[0]!.ignored, [{ reason: "the container is not running", fix: "start it (docker start web)" }]);
    const unread = explained([facts(web)], { error: "ECONNREFUSED" });
    assert.equal(unread.inStep, false);
    assert.deepEqual(unread.registry, { uri: "etcd://127.0.0.1:2379/services", backend: "etcd", readable: false, error: "ECONNREFUSED" });
    assert.deepEqual(unread.containers[0]!.services[0]!.registry, { state: "unknown", reason: "registry not read: ECONNREFUSED" });
  });
});

describe("orphans: entries of this host for containers that no longer run", () => {
  const running = { ids: new Set([web.Id]), claimed: new Set([built(web).id]) };
  const self = { hostId: "hostname", addresses: [built(web).ip] };
  const service = (id: string, ip = built(web).ip): Service => ({ ...built(web), id, ip });

  test("what -cleanup removes: marked entries of this host no container claims; unmarked ones in this host's default id form at its address", () => {
    const orphans = orphanEntries(
      [
        ours(service("hostname:web:80")),
        ours(service("hostname:gone:80"), "d".repeat(64)),
        ours(service("node-2:gone:80"), "d".repeat(64), "node-2"),
        { service: service("hostname:old:80") },
        { service: service("hostname:web:81") },
        { service: service("hostname:elsewhere:80", "10.9.9.9") },
        { service: service("something-else") },
      ],
      self,
      running,
    );
    assert.deepEqual(
      orphans.map((o) => [o.id, o.owner]),
      [
        ["hostname:gone:80", "host hostname, container dddddddddddd"],
        ["hostname:old:80", "host hostname, no marker"],
        ["hostname:web:81", "host hostname, no marker"],
      ],
    );
    assert.match(orphans[0]!.fix, /pass -cleanup/);
  });

  test("an entry marked for a container that runs is listed with that container, not as an orphan", () => {
    const unwanted = ours(service("hostname:web:9999"));
    assert.deepEqual(orphanEntries([unwanted], self, running), []);
  });
});
