import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { afterEvent, fromEngine, mayBeNew, type ContainerEvent, type Lifecycle } from "../../../src/bridge/lifecycle.js";

const running: Lifecycle = { is: "running", view: "v1" };

describe("a container's lifecycle", () => {
  test("a start or a change means: read it again", () => {
    assert.deepEqual(afterEvent(running, { kind: "started" }), { lifecycle: { is: "unread" }, rewrite: false });
    assert.deepEqual(afterEvent({ is: "stopped", exitCode: 1 }, { kind: "changed", view: "v2" }), {
      lifecycle: { is: "unread", view: "v2" },
      rewrite: false,
    });
  });

  test("a death with its exit code needs no read; without one, the engine is asked", () => {
    assert.deepEqual(afterEvent(running, { kind: "died", exitCode: 3 }).lifecycle, { is: "stopped", exitCode: 3 });
    assert.deepEqual(afterEvent(running, { kind: "died" }).lifecycle, { is: "unread" });
  });

  test("removed is final: nothing moves it, nothing is written again for it", () => {
    const removed = afterEvent(running, { kind: "destroyed" }).lifecycle;
    assert.deepEqual(removed, { is: "removed" });
    const events: ContainerEvent[] = [
      { kind: "started" },
      { kind: "changed" },
      { kind: "died", exitCode: 0 },
      { kind: "resync", view: "v1" },
      { kind: "lost" },
    ];
    for (const event of events) assert.deepEqual(afterEvent(removed, event), { lifecycle: removed, rewrite: false });
  });

  test("a -resync pass writes everything again, and reads again only what the list shows changed or has a health check", () => {
    assert.deepEqual(afterEvent(running, { kind: "resync", view: "v1" }), { lifecycle: running, rewrite: true });
    assert.deepEqual(afterEvent(running, { kind: "resync", view: "v2" }), { lifecycle: { is: "unread", view: "v2" }, rewrite: true });
    assert.deepEqual(afterEvent(running, { kind: "resync" }).lifecycle, { is: "unread", view: undefined });
    const healthy: Lifecycle = { ...running, health: { status: "healthy", output: "" } };
    assert.equal(afterEvent(healthy, { kind: "resync", view: "v1" }).lifecycle.is, "unread");
  });

  test("a registry that may have lost its entries: everything is written again, the container is not read", () => {
    assert.deepEqual(afterEvent(running, { kind: "lost" }), { lifecycle: running, rewrite: true });
  });

  test("only a start, a change or a pass can be about a container not known yet", () => {
    assert.deepEqual(
      (["started", "changed", "resync", "died", "destroyed", "lost"] as const).filter((kind) => mayBeNew({ kind } as ContainerEvent)),
      ["started", "changed", "resync"],
    );
  });

  test("the engine's actions, as events: Docker's and Podman's names", () => {
    assert.deepEqual(fromEngine("start", undefined), { kind: "started" });
    assert.deepEqual(fromEngine("die", 137), { kind: "died", exitCode: 137 });
    assert.deepEqual(fromEngine("died", undefined), { kind: "died", exitCode: undefined });
    assert.deepEqual(fromEngine("destroy", undefined), { kind: "destroyed" });
    assert.deepEqual(fromEngine("remove", undefined), { kind: "destroyed" });
    assert.deepEqual(fromEngine("health_status", undefined), { kind: "changed" });
  });
});
