import assert from "node:assert/strict";
import { test } from "node:test";
import { Claims, type Claimer } from "../../../src/bridge/claims.js";
import { buildServices } from "../../../src/service/build.js";
import { container, options } from "../service/fixtures.js";

const [web] = buildServices(container({ name: "web", publish: ["8080:80"] }), options()).services;
const [forged] = buildServices(container({ name: "x", publish: ["8081:80"], env: ["SERVICE_ID=hostname:web:80"] }), options()).services;

test("a claim names its container, whether the id is that container's default one, its start, and whether it is registered", () => {
  const containers = new Map<string, Claimer>([
    ["web", { startedAt: "t1", desired: new Map([[web!.id, web!]]), registered: new Map([[web!.id, web!]]) }],
    ["x", { startedAt: "t2", desired: new Map([[forged!.id, forged!]]), registered: new Map() }],
  ]);
  const claims = new Claims("hostname", (id) => containers.get(id));
  assert.equal(claims.of(web!.id), undefined);
  claims.claim(web!.id, "web");
  assert.deepEqual(claims.of(web!.id), { container: "web", startedAt: "t1", registered: true, defaultOwner: true });
  claims.claim(web!.id, "x");
  assert.deepEqual(claims.of(web!.id), { container: "x", startedAt: "t2", registered: false, defaultOwner: false });
  assert.equal(claims.release(web!.id, "web"), false, "only its holder lets an id go");
  assert.equal(claims.holder(web!.id), "x");
  assert.equal(claims.release(web!.id, "x"), true);
  assert.equal(claims.holder(web!.id), undefined);
});
