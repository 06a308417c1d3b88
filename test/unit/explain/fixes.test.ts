import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { acceptServices } from "../../../src/bridge/desired.js";
import { fixFor, keepsService } from "../../../src/explain/fixes.js";
import { buildServices } from "../../../src/service/build.js";
import type { BuildOptions, ContainerInfo } from "../../../src/service/types.js";
import { container, options } from "../service/fixtures.js";

const context = { internal: false };

/** The builder's own reasons for the container, each with the fix explain gives. */
function fixes(info: ContainerInfo, build: BuildOptions = options()): [string, string | undefined][] {
  const accepted = acceptServices(
    { container: info.Id, startedAt: "", hostId: "hostname" },
    buildServices(info, build),
    { validate: () => undefined, dropped: () => [] },
    () => undefined,
  );
  return accepted.skipped.map((s) => [s.reason, fixFor(s.reason, { ...context, ...build, port: s.port })]);
}

describe("what to change, for each reason the builder gives", () => {
  test("no published ports, and a port not published", () => {
    assert.deepEqual(fixes(container({ name: "a" })), [
      [
        "no published ports",
        "publish a port (docker run -p HOST:CONTAINER, or -P), or pass -internal to register the container's own address",
      ],
    ]);
    assert.deepEqual(fixes(container({ expose: ["6379"] })), [
      ["port not published on host", "publish it (docker run -p 6379), or pass -internal"],
    ]);
  });

  test("-explicit without SERVICE_NAME, SERVICE_IGNORE, and the health gate", () => {
    assert.deepEqual(fixes(container({ publish: ["80:80"] }), options({ explicit: true })), [
      ["no SERVICE_NAME and -explicit is set", "set SERVICE_NAME (or SERVICE_80_NAME), as env or label, or drop -explicit"],
    ]);
    assert.deepEqual(fixes(container({ publish: ["80:80"], env: ["SERVICE_80_IGNORE=1"] })), [
      ["SERVICE_IGNORE is set", "unset SERVICE_IGNORE and SERVICE_80_IGNORE (env or label)"],
    ]);
    const starting = container({ publish: ["80:80"] });
    starting.State = { Running: true, Health: { Status: "starting" } };
    assert.match(fixes(starting, options({ requireHealthy: true }))[0]![1]!, /SERVICE_REQUIRE_HEALTHY=false or drop --require-healthy/);
  });

  test("a bad -useIpFromLabel value, a missing network, two ports with one id, a bad name", () => {
    const labelled = container({ publish: ["80:80"], labels: { ip: "not-an-ip" } });
    assert.deepEqual(fixes(labelled, options({ useIpFromLabel: "ip" })), [
      ['label ip value "not-an-ip" is not an IP address', "set label ip to an IP address (a /prefix is cut off), or drop -useIpFromLabel"],
    ]);
    const networked = container({ publish: ["80:80"], env: ["SERVICE_NETWORK=backend"], networks: { front: { IPAddress: "10.1.0.2" } } });
    assert.match(fixes(networked)[0]![1]!, /attach the container to network backend \(docker network connect\), or change SERVICE_NETWORK/);
    const twice = container({ publish: ["80:80", "81:81"], env: ["SERVICE_ID=same"] });
    assert.deepEqual(fixes(twice), [
      ["service id same is used by another port of this container", "give each port its own id: set SERVICE_ID (or SERVICE_81_ID)"],
    ]);
    assert.match(
      fixes(container({ publish: ["80:80"], env: ["SERVICE_NAME=a/b"] }))[0]![1]!,
      /^set SERVICE_NAME \(or SERVICE_80_NAME\) to a plain name/,
    );
  });

  test("another container's id, a backend's refusal, and an unknown reason", () => {
    assert.match(
      fixFor("service id x is already registered for container 0123456789ab", { ...context, port: "80/tcp" })!,
      /stop container 0123456789ab/,
    );
    // explain words a claim of a container that runs beside it, not yet registered, so.
    assert.match(
      fixFor("service id x is claimed by container 0123456789ab", { ...context, port: "80/tcp" })!,
      /^two containers want one id: set SERVICE_ID \(or SERVICE_80_ID\) on one of them, or stop container 0123456789ab$/,
    );
    assert.match(fixFor('service name "a.b" is not a valid DNS label: it has characters other than letters', context)!, /to a DNS label/);
    assert.equal(fixFor("something no rule knows", context), undefined);
  });

  test("a dropped attribute keeps the service", () => {
    assert.equal(keepsService("metadata registrator_host dropped: the key holds registrator's owner marker"), true);
    assert.equal(keepsService("port not published on host"), false);
  });
});
