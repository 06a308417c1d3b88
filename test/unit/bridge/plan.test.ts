import assert from "node:assert/strict";
import { test } from "node:test";
import { planChanges, fingerprint } from "../../../src/bridge/plan.js";
import type { Service } from "../../../src/service/types.js";

const svc = (id: string, port = 80): Service => ({
  id,
  name: "web",
  ip: "10.0.0.1",
  port,
  tags: [],
  attrs: {},
  ttl: 0,
  origin: { containerId: "c", containerName: "web", exposedPort: "80", hostPort: String(port), hostIp: "", protocol: "tcp" },
});
const map = (...services: Service[]) => new Map(services.map((s) => [s.id, s]));
const ids = (plan: ReturnType<typeof planChanges>) => ({
  remove: plan.remove.map((s) => s.id),
  add: plan.add.map((s) => `${s.id}@${s.port}`),
});

test("adds what is missing and removes what is no longer wanted", () => {
  assert.deepEqual(ids(planChanges(map(svc("a"), svc("b")), map(svc("b"), svc("c")), false)), { remove: ["a"], add: ["c@80"] });
});

test("nothing to do when they agree", () => {
  assert.deepEqual(ids(planChanges(map(svc("a")), map(svc("a")), false)), { remove: [], add: [] });
});

test("a changed service is removed, then added again", () => {
  assert.deepEqual(ids(planChanges(map(svc("a", 80)), map(svc("a", 81)), false)), { remove: ["a"], add: ["a@81"] });
});

test("force re-registers what is already there", () => {
  assert.deepEqual(ids(planChanges(map(svc("a")), map(svc("a")), true)), { remove: [], add: ["a@80"] });
});

test("a service that may not be tried now is left out; what is registered of it is still removed when it changed", () => {
  const refusedAt80 = (s: Service) => fingerprint(s) !== fingerprint(svc("a", 80));
  assert.deepEqual(ids(planChanges(map(), map(svc("a", 80)), true, refusedAt80)), { remove: [], add: [] });
  assert.deepEqual(ids(planChanges(map(), map(svc("a", 81)), false, refusedAt80)), { remove: [], add: ["a@81"] });
  assert.deepEqual(ids(planChanges(map(svc("a", 81)), map(svc("a", 80)), false, refusedAt80)), { remove: ["a"], add: [] });
});
