import assert from "node:assert/strict";
import { test } from "node:test";
import { isDone, keptServices, newTracked, waitsForPass } from "../../../src/bridge/record.js";
import { buildServices } from "../../../src/service/build.js";
import { container, options } from "../service/fixtures.js";

const [web] = buildServices(container({ name: "web", publish: ["8080:80"] }), options()).services;

test("a stopped container keeps what is registered only under -deregister on-success after a failure; a removed one never", () => {
  const tracked = { ...newTracked(), registered: new Map([[web!.id, web!]]) };
  tracked.lifecycle = { is: "stopped", exitCode: 2 };
  assert.deepEqual([...keptServices("on-success", tracked).keys()], [web!.id]);
  assert.equal(keptServices("always", tracked).size, 0);
  tracked.lifecycle = { is: "stopped", exitCode: 143 };
  assert.equal(keptServices("on-success", tracked).size, 0, "stopped by a signal");
  tracked.lifecycle = { is: "removed" };
  assert.equal(keptServices("on-success", tracked).size, 0);
});

test("a container is forgotten once it ended with nothing desired or registered; a running one is remembered", () => {
  const tracked = newTracked();
  assert.equal(isDone(tracked), false, "not read yet");
  tracked.lifecycle = { is: "running" };
  assert.equal(isDone(tracked), false);
  tracked.lifecycle = { is: "removed" };
  assert.equal(isDone(tracked), true);
  tracked.registered.set(web!.id, web!);
  assert.equal(isDone(tracked), false, "its entry is still to be removed");
});

test("a sync pass reads a new container again only for an id other than its default one that it has not written", () => {
  const claimed = { ...web!, id: "vm:victim:80" };
  const tracked = { ...newTracked(), desired: new Map([[web!.id, web!]]) };
  assert.equal(waitsForPass(tracked, "hostname"), false, "its default id is written at once");
  tracked.desired.set(claimed.id, claimed);
  assert.equal(waitsForPass(tracked, "hostname"), true);
  tracked.registered.set(claimed.id, claimed);
  assert.equal(waitsForPass(tracked, "hostname"), false, "written already");
  assert.equal(waitsForPass(undefined, "hostname"), false, "gone");
});
