import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { acceptServices, dockerHealth, keepsServices } from "../../../src/bridge/desired.js";
import { buildServices } from "../../../src/service/build.js";
import { container, options } from "../service/fixtures.js";

const NO_RULES = { validate: () => undefined, dropped: () => [] };

describe("which services a container should have", () => {
  const built = buildServices(container({ id: "c1", name: "web", publish: ["8080:80", "8443:443"] }), options());

  test("every built service the backend can hold, by id", () => {
    const accepted = acceptServices("c1", built, NO_RULES, () => undefined);
    assert.deepEqual([...accepted.services.keys()], ["hostname:web:80", "hostname:web:443"]);
    assert.deepEqual(accepted.skipped, []);
  });

  test("one the backend cannot hold, or that another container holds, is skipped with the reason", () => {
    const accepted = acceptServices(
      "c1",
      built,
      { validate: (service) => (service.port === 8443 ? "no TLS here" : undefined), dropped: () => [] },
      (id) => (id === "hostname:web:80" ? "0123456789abcdef" : undefined),
    );
    assert.equal(accepted.services.size, 0);
    assert.deepEqual(accepted.skipped, [
      { port: "80/tcp", reason: "service id hostname:web:80 is already registered for container 0123456789ab" },
      { port: "443/tcp", reason: "no TLS here" },
    ]);
  });

  test("a service id this container already holds is its own", () => {
    const accepted = acceptServices("c1", built, NO_RULES, () => "c1");
    assert.equal(accepted.services.size, 2);
  });

  test("what the backend leaves out of a service is said, and the service is kept", () => {
    const accepted = acceptServices("c1", built, { validate: () => undefined, dropped: (s) => (s.port === 8080 ? ["metadata x dropped: no"] : []) }, () => undefined);
    assert.equal(accepted.services.size, 2);
    assert.deepEqual(accepted.skipped, [{ port: "80/tcp", reason: "metadata x dropped: no" }]);
  });

  test("two ports of one container with one id: the second is skipped", () => {
    const same = buildServices(container({ id: "c1", name: "web", publish: ["8080:80", "8443:443"], env: ["SERVICE_ID=one"] }), options());
    const accepted = acceptServices("c1", same, NO_RULES, () => undefined);
    assert.deepEqual([...accepted.services.keys()], ["one"]);
    assert.match(accepted.skipped[0]!.reason, /service id one is used by another port of this container/);
  });
});

describe("a stopped container keeps its services", () => {
  test("only under -deregister on-success, after a non-zero exit, while the container exists", () => {
    assert.equal(keepsServices("on-success", false, 3), true);
    assert.equal(keepsServices("on-success", false, 0), false);
    assert.equal(keepsServices("on-success", true, 3), false);
    assert.equal(keepsServices("on-success", false, undefined), false);
    assert.equal(keepsServices("always", false, 3), false);
  });

  test("a container stopped by a signal (docker stop: 137, 143) is removed, as v7's shouldRemove does", () => {
    assert.equal(keepsServices("on-success", false, 137), false);
    assert.equal(keepsServices("on-success", false, 143), false);
    assert.equal(keepsServices("on-success", false, 1), true);
    assert.equal(keepsServices("on-success", false, 127), true);
  });
});

describe("Docker health", () => {
  test("status and the last probe's output, trimmed; none without a health check", () => {
    const healthy = container();
    healthy.State = { Running: true, Health: { Status: "healthy", Log: [{ Output: "old" }, { Output: " ok\n" }] } };
    assert.deepEqual(dockerHealth(healthy), { status: "healthy", output: "ok" });
    assert.equal(dockerHealth(container()), undefined);
  });
});
