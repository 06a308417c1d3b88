import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { firstContact, RegistryWatch, UnreachableError } from "../../../src/bridge/registry-watch.js";
import { logged } from "../../support/logged.js";
import { waitFor } from "../../support/wait.js";

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("registry watch", () => {
  test("a registry that stops answering is down; when it answers again, everything is registered anew", async () => {
    const { lines, log } = logged();
    let answering = true;
    let pings = 0;
    const changes: boolean[] = [];
    let recovered = 0;
    const watch = new RegistryWatch(
      async () => {
        pings++;
        if (!answering) throw new Error("connection refused");
      },
      { upMs: 10, downMs: 10, backend: "fake", changed: (up) => changes.push(up) },
      () => recovered++,
      log,
    );
    watch.start();
    await waitFor(() => pings >= 2, { timeoutMs: 5000, intervalMs: 5, what: "two pings" });
    assert.ok(!watch.isDown);
    answering = false;
    await waitFor(() => watch.isDown, { timeoutMs: 5000, intervalMs: 5, what: "down" });
    const pingsWhileDown = pings;
    await waitFor(() => pings >= pingsWhileDown + 2, { timeoutMs: 5000, intervalMs: 5, what: "two more pings while down" });
    answering = true;
    await waitFor(() => recovered > 0, { timeoutMs: 5000, intervalMs: 5, what: "recovery" });
    watch.stop();
    assert.equal(recovered, 1);
    assert.deepEqual(changes, [false, true]);
    assert.equal(
      lines.filter((l) => l.msg === "failed: registry unreachable: connection refused").length,
      1,
      "said once, not at every ping",
    );
    assert.ok(lines.some((l) => l.msg === "registry reachable again: registering every container's services anew"));
  });

  test("a failed write makes it ping at once; one that succeeds changes nothing", async () => {
    let pings = 0;
    let recovered = 0;
    const watch = new RegistryWatch(
      async () => void pings++,
      { upMs: 60_000, downMs: 60_000, backend: "fake" },
      () => recovered++,
      logged().log,
    );
    watch.start();
    watch.suspect();
    watch.suspect();
    await waitFor(() => pings > 0, { timeoutMs: 5000, intervalMs: 1, what: "a ping" });
    await tick(20);
    watch.stop();
    assert.equal(pings, 1, "two suspicions at once make one ping");
    assert.ok(!watch.isDown);
    assert.equal(recovered, 0);
  });

  test("paces its pings: rarely while up", async () => {
    let pings = 0;
    const watch = new RegistryWatch(
      async () => void pings++,
      { upMs: 60_000, downMs: 10, backend: "fake" },
      () => undefined,
      logged().log,
    );
    watch.start();
    await tick(40);
    watch.stop();
    assert.equal(pings, 0);
  });
});

describe("first contact", () => {
  test("tries -retry-attempts more times, -retry-interval apart, then gives up with the reason", async () => {
    const { lines, log } = logged();
    let pings = 0;
    const ping = async () => {
      pings++;
      throw new Error("ECONNREFUSED");
    };
    await assert.rejects(
      firstContact(ping, { retries: 2, intervalMs: 5, registry: "etcd://127.0.0.1:1/x", backend: "etcd" }, log),
      (err: Error) =>
        err instanceof UnreachableError && err.message === "registry etcd://127.0.0.1:1/x unreachable after 3 attempt(s): ECONNREFUSED",
    );
    assert.equal(pings, 3);
    assert.equal(lines.filter((l) => l.msg === "failed: registry unreachable: ECONNREFUSED; retrying in 5ms").length, 2);
  });

  test("succeeds as soon as the registry answers", async () => {
    const { lines, log } = logged();
    let pings = 0;
    const ping = async () => {
      if (++pings < 3) throw new Error("not yet");
    };
    await firstContact(ping, { retries: -1, intervalMs: 1, registry: "consul://", backend: "consul" }, log);
    assert.equal(pings, 3);
    assert.ok(lines.some((l) => l.msg === "registry reachable"));
  });
});
