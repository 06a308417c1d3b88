import assert from "node:assert/strict";
import { test } from "node:test";
import { refusalOf, REFUSAL_BACKOFF } from "../../../src/bridge/refusals.js";
import { bridgeSnapshot, containerSnapshot, type ContainerStatus } from "../../../src/bridge/status.js";
import { OwnedElsewhereError, RejectedError } from "../../../src/registry/types.js";
import { buildServices } from "../../../src/service/build.js";
import type { Service } from "../../../src/service/types.js";
import { container, options } from "../service/fixtures.js";

const services = buildServices(container({ name: "web", publish: ["8001:1", "8002:2", "8003:3", "8004:4", "8005:5"] }), options()).services;
const [registered, pending, refused, elsewhere, leaving] = services as [Service, Service, Service, Service, Service];
const byId = (...list: Service[]) => new Map(list.map((s) => [s.id, s]));

test("each service's state: registered, pending with its next attempt, refused, owned elsewhere; and the ignored ports", () => {
  const record: ContainerStatus = {
    id: "c1",
    name: "web",
    desired: byId(registered, pending, refused, elsewhere),
    registered: byId(registered, leaving),
    refusals: new Map([
      [refused.id, refusalOf(refused, new RejectedError("bad"), undefined, 0, REFUSAL_BACKOFF)],
      [elsewhere.id, refusalOf(elsewhere, new OwnedElsewhereError(elsewhere.id), undefined, 0, REFUSAL_BACKOFF, () => 0.5)],
    ]),
    skipped: [{ port: "9/tcp", reason: "SERVICE_IGNORE is set" }, { reason: "no published ports" }],
    retryAt: Date.parse("2026-01-01T00:00:05Z"),
    lastError: "connection refused",
  };
  const snapshot = containerSnapshot(record);
  assert.deepEqual(
    snapshot.services.map((s) => [s.id, s.state, s.reason, s.owner, s.nextAttemptAt]),
    [
      [registered.id, "registered", undefined, undefined, undefined],
      [pending.id, "pending", "connection refused", undefined, "2026-01-01T00:00:05.000Z"],
      [refused.id, "refused", "bad", undefined, undefined],
      [elsewhere.id, "owned-elsewhere", `${elsewhere.id} is owned by another tool`, "another tool", "1970-01-01T00:01:00.000Z"],
      [leaving.id, "pending", "connection refused", undefined, "2026-01-01T00:00:05.000Z"],
    ],
  );
  assert.deepEqual(snapshot.ignored, [{ port: "9/tcp", reason: "SERVICE_IGNORE is set" }, { reason: "no published ports" }]);
  const whole = bridgeSnapshot({ hostId: "h", backend: "etcd", up: true, lastSync: 0 }, [snapshot]);
  assert.deepEqual(whole.counts, { containers: 1, registered: 1, pending: 2, refused: 1, ownedElsewhere: 1, ignored: 2 });
  assert.deepEqual(whole.registry, { backend: "etcd", up: true });
  assert.equal(whole.lastSync, "1970-01-01T00:00:00.000Z");
  assert.equal(bridgeSnapshot({ hostId: "h", backend: "etcd", up: false }, []).lastSync, undefined);
});
