import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { startedView } from "../../../src/bridge/started.js";
import { buildServices } from "../../../src/service/build.js";
import type { BuildOptions } from "../../../src/service/types.js";
import { container, created, options } from "../service/fixtures.js";

type Spec = Parameters<typeof container>[0];

describe("startedView", () => {
  const foreseeable: Array<[string, Spec, Partial<BuildOptions>?]> = [
    ["one published port", { publish: ["8080:80"] }],
    ["tcp and udp, one bound to an address, one only exposed", { publish: ["10000:6379", "127.0.0.1:53:53/udp"], expose: ["9000"] }],
    ["SERVICE_ variables and labels", { publish: ["8080:80", "8443:443"], env: ["SERVICE_NAME=web", "SERVICE_443_TAGS=tls"], labels: { SERVICE_80_ID: "web-plain" } }],
    ["a user-defined network, with -ip", { publish: ["8080:80"], networkMode: "app_default", networks: { app_default: { IPAddress: "10.0.1.5" } } }, { ip: "10.9.9.9" }],
    ["plain -tags, -explicit, --max-services", { publish: ["8080:80", "8081:81"], env: ["SERVICE_81_NAME=admin"] }, { tags: ["a", "b"], explicit: true, maxServices: 4 }],
    ["-useIpFromLabel", { publish: ["8080:80"], labels: { "ip.label": "10.1.2.3/24" } }, { useIpFromLabel: "ip.label" }],
    ["no published port", { expose: ["80"] }],
  ];
  for (const [name, spec, overrides] of foreseeable) {
    test(`builds what the started container's inspect builds: ${name}`, () => {
      const build = options(overrides);
      const view = startedView(created(spec), build);
      assert.ok(view, "foreseeable");
      assert.deepEqual(buildServices(view, build), buildServices(container(spec), build));
    });
  }

  const decidedAtStart: Array<[string, Spec, Partial<BuildOptions>?]> = [
    ["-P: the engine chooses the host ports", { publish: ["8080:80"], publishAll: true }],
    ["-p 80: the engine chooses the host port", { publish: ["80"] }],
    ["a range of host ports", { publish: ["8000-8010:80"] }],
    ["-internal: the container's own address", { publish: ["8080:80"] }, { internal: true }],
    ["--ip-from-container", { publish: ["8080:80"] }, { ipFromContainer: true }],
    ["a user-defined network without -ip: its address there", { publish: ["8080:80"], networkMode: "app_default", networks: { app_default: {} } }],
    ["--net=host", { expose: ["80"], networkMode: "host" }, { ip: "10.9.9.9" }],
    ["--net=container:", { publish: ["8080:80"], networkMode: "container:abc" }, { ip: "10.9.9.9" }],
    ["a health check", { publish: ["8080:80"], healthCmd: "true" }],
    ["a template in SERVICE_TAGS", { publish: ["8080:80"], env: ["SERVICE_TAGS={{.Name}}"] }],
    ["a template in -tags", { publish: ["8080:80"] }, { tagsTemplate: "{{.Name}}" }],
    ["a swarm task", { publish: ["8080:80"], labels: { "com.docker.swarm.service.name": "web", "com.docker.swarm.service.id": "s1" } }],
  ];
  for (const [name, spec, overrides] of decidedAtStart) {
    test(`leaves it to the start's inspect: ${name}`, () => {
      assert.equal(startedView(created(spec), options(overrides)), undefined);
    });
  }

  test("leaves it to the start's inspect: two bindings of one port, whose order the engine decides", () => {
    const info = created({ publish: ["8080:80"] });
    info.HostConfig!.PortBindings!["80/tcp"]!.push({ HostIp: "", HostPort: "8081" });
    assert.equal(startedView(info, options()), undefined);
  });

  test("a health check turned off (NONE) does not hold the container back", () => {
    const info = created({ publish: ["8080:80"] });
    info.Config.Healthcheck = { Test: ["NONE"] };
    assert.ok(startedView(info, options()));
  });

  test("a container already running is not a creation", () => {
    assert.equal(startedView(container({ publish: ["8080:80"] }), options()), undefined);
  });
});
