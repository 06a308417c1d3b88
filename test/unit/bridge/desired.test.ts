import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  acceptServices,
  dockerHealth,
  isDefaultOwner,
  keepsServices,
  outranks,
  startedAt,
  type Claim,
} from "../../../src/bridge/desired.js";
import { buildServices } from "../../../src/service/build.js";
import { container, options } from "../service/fixtures.js";

const NO_RULES = { validate: () => undefined, dropped: () => [] };
const C1 = { container: "c1", startedAt: "2026-01-01T00:00:00Z", hostId: "hostname" };
const claim = (container: string, more: Partial<Claim> = {}): Claim => ({
  container,
  defaultOwner: false,
  startedAt: "2026-01-01T00:00:00Z",
  registered: true,
  ...more,
});

describe("which services a container should have", () => {
  const built = buildServices(container({ id: "c1", name: "web", publish: ["8080:80", "8443:443"] }), options());

  test("every built service the backend can hold, by id", () => {
    const accepted = acceptServices(C1, built, NO_RULES, () => undefined);
    assert.deepEqual([...accepted.services.keys()], ["hostname:web:80", "hostname:web:443"]);
    assert.deepEqual(accepted.skipped, []);
  });

  test("one the backend cannot hold, or that another container holds, is skipped with the reason", () => {
    const accepted = acceptServices(
      C1,
      built,
      { validate: (service) => (service.port === 8443 ? "no TLS here" : undefined), dropped: () => [] },
      (id) => (id === "hostname:web:80" ? claim("0123456789abcdef", { defaultOwner: true }) : undefined),
    );
    assert.equal(accepted.services.size, 0);
    assert.deepEqual([...accepted.heldElsewhere], ["hostname:web:80"]);
    assert.deepEqual(accepted.skipped, [
      { port: "80/tcp", reason: "service id hostname:web:80 is already registered for container 0123456789ab" },
      { port: "443/tcp", reason: "no TLS here" },
    ]);
  });

  test("a service id this container already holds is its own", () => {
    const accepted = acceptServices(C1, built, NO_RULES, (id) => claim("c1", { defaultOwner: id.startsWith("hostname:web") }));
    assert.equal(accepted.services.size, 2);
  });

  test("what the backend leaves out of a service is said, and the service is kept", () => {
    const accepted = acceptServices(
      C1,
      built,
      { validate: () => undefined, dropped: (s) => (s.port === 8080 ? ["metadata x dropped: no"] : []) },
      () => undefined,
    );
    assert.equal(accepted.services.size, 2);
    assert.deepEqual(accepted.skipped, [{ port: "80/tcp", reason: "metadata x dropped: no" }]);
  });

  test("two ports of one container with one id: the second is skipped", () => {
    const same = buildServices(container({ id: "c1", name: "web", publish: ["8080:80", "8443:443"], env: ["SERVICE_ID=one"] }), options());
    const accepted = acceptServices(C1, same, NO_RULES, () => undefined);
    assert.deepEqual([...accepted.services.keys()], ["one"]);
    assert.match(accepted.skipped[0]!.reason, /service id one is used by another port of this container/);
  });
});

describe("who keeps a contested service id", () => {
  const early = "2026-01-01T00:00:00Z";
  const late = "2026-01-01T00:00:05Z";

  test("the container whose default id it is comes before a SERVICE_ID claimant, registered or not", () => {
    assert.equal(outranks({ container: "b", defaultOwner: true, startedAt: late }, claim("a")), true);
    assert.equal(
      outranks(
        { container: "b", defaultOwner: false, startedAt: early },
        claim("a", { defaultOwner: true, registered: false, startedAt: late }),
      ),
      false,
    );
  });

  test("else a registered holder keeps it; else the one that started first, then the lower container id", () => {
    assert.equal(outranks({ container: "b", defaultOwner: false, startedAt: early }, claim("a", { startedAt: late })), false);
    assert.equal(
      outranks({ container: "b", defaultOwner: false, startedAt: early }, claim("a", { startedAt: late, registered: false })),
      true,
    );
    assert.equal(
      outranks({ container: "b", defaultOwner: false, startedAt: late }, claim("a", { startedAt: early, registered: false })),
      false,
    );
    assert.equal(
      outranks({ container: "a", defaultOwner: false, startedAt: early }, claim("b", { startedAt: early, registered: false })),
      true,
    );
    assert.equal(
      outranks({ container: "b", defaultOwner: false, startedAt: early }, claim("a", { startedAt: early, registered: false })),
      false,
    );
    assert.equal(
      outranks({ container: "b", defaultOwner: false, startedAt: early }, claim("a", { startedAt: "", registered: false })),
      true,
      "a known start beats an unknown one",
    );
  });

  test("a claimant that outranks the holder takes the id, and the holder is named to let it go", () => {
    const claimant = buildServices(container({ id: "c1", name: "web", publish: ["8080:80"] }), options());
    const accepted = acceptServices(C1, claimant, NO_RULES, () => claim("other", { defaultOwner: false }));
    assert.deepEqual([...accepted.services.keys()], ["hostname:web:80"]);
    assert.deepEqual([...accepted.outranked], ["other"]);
    const forged = buildServices(container({ id: "c1", name: "x", publish: ["8080:80"], env: ["SERVICE_ID=hostname:web:80"] }), options());
    const waiting = acceptServices(C1, forged, NO_RULES, () => claim("other", { defaultOwner: true, registered: false }));
    assert.deepEqual(waiting.skipped, [{ port: "80/tcp", reason: "service id hostname:web:80 is claimed by container other" }]);
  });

  test("a default id is <host id>:<container name>:<port>, with :udp for UDP; a SERVICE_ID of that form elsewhere is not", () => {
    const [tcp] = buildServices(container({ name: "web", publish: ["8080:80"] }), options()).services;
    const [udp] = buildServices(container({ name: "dns", publish: ["53:53/udp"] }), options()).services;
    const [forged] = buildServices(container({ name: "x", publish: ["8080:80"], env: ["SERVICE_ID=hostname:web:80"] }), options()).services;
    assert.equal(isDefaultOwner("hostname", tcp!), true);
    assert.equal(isDefaultOwner("hostname", udp!), true);
    assert.equal(isDefaultOwner("hostname", forged!), false);
    assert.equal(isDefaultOwner("other", tcp!), false);
  });

  test("when a container started, as the engine says", () => {
    const info = container();
    assert.equal(startedAt(info), "");
    Object.assign(info.State!, { StartedAt: late });
    assert.equal(startedAt(info), late);
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
