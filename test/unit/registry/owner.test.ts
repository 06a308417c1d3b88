import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { holderText, OwnedElsewhereError, RejectedError } from "../../../src/errors.js";
import { decodeOwner, encodeOwner, isDangling, isDefaultIdOf, judgeWrite, mayRemove, ownerFields } from "../../../src/registry/owner.js";
import { storedService } from "../../../src/registry/stored.js";

const A1 = { host: "hostA", container: "a1" };
const A2 = { host: "hostA", container: "a2" };
const B1 = { host: "hostB", container: "b1" };

describe("default ids", () => {
  test("<host>:<container name>:<port>[:udp] of exactly this host", () => {
    assert.ok(isDefaultIdOf("hostA", "hostA:web:80"));
    assert.ok(isDefaultIdOf("hostA", "hostA:web.1_x-y:53:udp"));
    assert.ok(isDefaultIdOf("host.example.com", "host.example.com:web:80"));
    for (const id of ["hostB:web:80", "hostAB:web:80", "hostA:web", "hostA:web:http", "hostA::80", "hostA:web:80:tcp", "redis-1", "hostA:job:42/x"]) {
      assert.ok(!isDefaultIdOf("hostA", id), id);
    }
    assert.ok(!isDefaultIdOf("", ":web:80"));
  });
});

describe("writes", () => {
  test("nothing there: create", () => {
    assert.deepEqual(judgeWrite(undefined, "x", A1, "never"), { write: true });
  });

  test("ours, or our host's: update; another container of our host is named as taken over", () => {
    assert.deepEqual(judgeWrite({ owner: A1 }, "x", A1, "never"), { write: true });
    assert.deepEqual(judgeWrite({ owner: A2 }, "x", A1, "never"), { write: true, tookOver: A2 });
  });

  test("another host's: refused, naming it", () => {
    assert.deepEqual(judgeWrite({ owner: B1 }, "hostA:web:80", A1, "adopt"), { write: false, holder: B1 });
  });

  test("unmarked: adopted only in this host's default-id form, and only where the adapter adopts", () => {
    assert.deepEqual(judgeWrite({}, "hostA:web:80", A1, "adopt"), { write: true });
    assert.deepEqual(judgeWrite({}, "hostA:web:80", A1, "overwrite"), { write: true });
    assert.deepEqual(judgeWrite({}, "hostA:web:80", A1, "never"), { write: false });
    assert.deepEqual(judgeWrite({}, "hostB:web:80", A1, "adopt"), { write: false });
    assert.deepEqual(judgeWrite({}, "redis-1", A1, "adopt"), { write: false });
  });
});

describe("removals", () => {
  test("only the exact owner removes a marked entry", () => {
    assert.ok(mayRemove({ owner: A1 }, "x", A1, "never"));
    assert.ok(!mayRemove({ owner: A2 }, "x", A1, "adopt"), "another container of the same host id");
    assert.ok(!mayRemove({ owner: B1 }, "x", A1, "adopt"));
    assert.ok(!mayRemove(undefined, "x", A1, "adopt"));
  });

  test("an unmarked entry only in this host's default-id form, where the adapter adopts", () => {
    assert.ok(mayRemove({}, "hostA:web:80", { host: "hostA", container: "" }, "adopt"));
    assert.ok(!mayRemove({}, "hostA:web:80", A1, "overwrite"));
    assert.ok(!mayRemove({}, "redis-1", A1, "adopt"));
  });
});

describe("-cleanup", () => {
  const stored = (id: string, owner?: typeof A1) => ({ service: storedService(id, "web", "10.0.0.1:80"), ...(owner && { owner }) });
  const none = () => false;

  test("dangling: held by our host id, and no container of ours holds the id", () => {
    assert.ok(isDangling(stored("anything", A1), "hostA", none));
    assert.ok(isDangling(stored("anything", A2), "hostA", none));
    assert.ok(!isDangling(stored("anything", A1), "hostA", (id) => id === "anything"));
  });

  test("never another host's, whatever its id says", () => {
    assert.ok(!isDangling(stored("hostA:web:80", B1), "hostA", none));
  });

  test("unmarked: only this host's default-id form (the Go registrator's)", () => {
    assert.ok(isDangling(stored("hostA:web:80"), "hostA", none));
    assert.ok(!isDangling(stored("hostB:web:80"), "hostA", none));
    assert.ok(!isDangling(stored("redis-1"), "hostA", none));
  });
});

describe("markers", () => {
  test("JSON with host and container, read back; anything else is no marker", () => {
    assert.equal(encodeOwner(A1), '{"host":"hostA","container":"a1"}');
    assert.deepEqual(decodeOwner(encodeOwner(A1)), A1);
    for (const text of [undefined, "", "x", "null", "[]", '{"host":""}', '{"host":"h"}', '{"host":1,"container":"c"}', '{"host":"","container":"c"}']) {
      assert.equal(decodeOwner(text), undefined, String(text));
    }
  });

  test("owner from two fields of a record or metadata", () => {
    assert.deepEqual(ownerFields({ registrator_host: "h", registrator_container: "c", x: 1 }, "registrator_host", "registrator_container"), { host: "h", container: "c" });
    assert.equal(ownerFields({ registrator_host: "h" }, "registrator_host", "registrator_container"), undefined);
    assert.equal(ownerFields(undefined, "a", "b"), undefined);
  });
});

describe("OwnedElsewhereError", () => {
  test("a RejectedError whose message names the holder", () => {
    const err = new OwnedElsewhereError("hostA:web:80", { host: "hostB", container: "0123456789abcdef" });
    assert.ok(err instanceof RejectedError);
    assert.equal(err.message, "hostA:web:80 is owned by hostB/0123456789ab");
    assert.equal(new OwnedElsewhereError("redis-1").message, "redis-1 is owned by another tool");
    assert.equal(holderText({ host: "hostB", container: "" }), "hostB");
  });
});
