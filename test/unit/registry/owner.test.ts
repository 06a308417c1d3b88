import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { holderText, OwnedElsewhereError, RejectedError } from "../../../src/errors.js";
import {
  checkWrite,
  decodeOwner,
  encodeOwner,
  isDangling,
  isDefaultIdOf,
  isOrphanOf,
  judgeWrite,
  mayRemove,
  ownedElsewhere,
  ownerFields,
} from "../../../src/registry/owner.js";
import { storedService } from "../../../src/registry/stored.js";
import type { Service } from "../../../src/service/types.js";
import { webService } from "./fixtures.js";

const A1 = { hostId: "hostA", container: "a1" };
const A2 = { hostId: "hostA", container: "a2" };
const B1 = { hostId: "hostB", container: "b1" };

describe("default ids", () => {
  test("<host>:<container name>:<port>[:udp] of exactly this host", () => {
    assert.ok(isDefaultIdOf("hostA", "hostA:web:80"));
    assert.ok(isDefaultIdOf("hostA", "hostA:web.1_x-y:53:udp"));
    assert.ok(isDefaultIdOf("host.example.com", "host.example.com:web:80"));
    for (const id of [
      "hostB:web:80",
      "hostAB:web:80",
      "hostA:web",
      "hostA:web:http",
      "hostA::80",
      "hostA:web:80:tcp",
      "redis-1",
      "hostA:job:42/x",
    ]) {
      assert.ok(!isDefaultIdOf("hostA", id), id);
    }
    assert.ok(!isDefaultIdOf("", ":web:80"));
  });
});

/** `web` of container a1 on hostA, published as 10.0.0.1:8080: its default id is hostA:web:80. */
function web(over: Partial<Service> = {}): Service {
  return { ...webService({ id: "hostA:web:80", ip: "10.0.0.1", port: 8080 }), ...over };
}
const OURS = "10.0.0.1:8080";

describe("writes", () => {
  test("nothing there: create", () => {
    assert.deepEqual(judgeWrite(undefined, web(), A1), { write: true });
  });

  test("ours: update; our host's entry of another container for this service id: taken over, and named", () => {
    assert.deepEqual(judgeWrite({ owner: A1 }, web(), A1), { write: true });
    assert.deepEqual(judgeWrite({ owner: A2 }, web(), A1), { write: true, tookOver: A2 });
  });

  test("another host's: refused, naming it", () => {
    assert.deepEqual(judgeWrite({ owner: B1, address: OURS }, web(), A1), { write: false, holder: B1 });
  });

  test("unmarked: adopted only in this container's default id at the address we write", () => {
    assert.deepEqual(judgeWrite({ address: OURS }, web(), A1), { write: true });
    assert.deepEqual(judgeWrite({ address: "10.0.0.9:8080" }, web(), A1), { write: false }, "another address: another tool's");
    assert.deepEqual(judgeWrite({}, web(), A1), { write: false }, "no address read: another tool's");
    assert.deepEqual(judgeWrite({ address: OURS }, web({ id: "hostB:web:80" }), A1), { write: false });
    assert.deepEqual(judgeWrite({ address: OURS }, web({ id: "redis-1" }), A1), { write: false });
  });

  test("unmarked: never through SERVICE_ID, even when it names a default id of this host", () => {
    // A container `api` asks for the id of `billing`, which another tool (or the Go registrator for a
    // container no longer here) wrote at this very address.
    const claimant = web({ id: "hostA:billing:5432" });
    assert.deepEqual(judgeWrite({ address: OURS }, claimant, A1), { write: false });
    assert.ok(!mayRemove({ address: OURS }, claimant, A1));
    const udp = web({ id: "hostA:dns:53:udp", origin: { ...web().origin, containerName: "dns", exposedPort: "53", protocol: "udp" } });
    assert.deepEqual(judgeWrite({ address: OURS }, udp, A1), { write: true });
  });

  test("where two services meet at one key (an address), the first holder keeps it, even on our host", () => {
    assert.deepEqual(judgeWrite({ owner: A2, id: "hostA:other:8080" }, web(), A1), { write: false, holder: A2 });
    assert.deepEqual(judgeWrite({ owner: A2, id: "hostA:web:80" }, web(), A1), { write: true, tookOver: A2 });
    assert.equal(
      ownedElsewhere({ owner: A2, id: "hostA:other:8080" }, web(), A2).message,
      "hostA:web:80: address 10.0.0.1:8080 is owned by hostA/a2 for hostA:other:8080",
    );
    assert.equal(ownedElsewhere({ owner: B1 }, web(), B1).message, "hostA:web:80 is owned by hostB/b1");
  });

  test("two services of one container at one key (53/tcp and 53/udp): the first keeps it; each writes its own again", () => {
    const dns = { ...web().origin, containerName: "dns", exposedPort: "53" };
    const tcp = web({ id: "hostA:dns:53", origin: dns });
    const udp = web({ id: "hostA:dns:53:udp", origin: { ...dns, protocol: "udp" } });
    const heldByTcp = { owner: A1, id: tcp.id, address: OURS };
    assert.deepEqual(judgeWrite(heldByTcp, udp, A1), { write: false, holder: A1 });
    assert.throws(() => checkWrite(heldByTcp, udp, A1), {
      name: "OwnedElsewhereError",
      message: "hostA:dns:53:udp: address 10.0.0.1:8080 is owned by hostA/a1 for hostA:dns:53",
    });
    assert.ok(!mayRemove(heldByTcp, udp, A1), "nor removed by it");
    assert.deepEqual(judgeWrite(heldByTcp, tcp, A1), { write: true }, "the holder's own id, written again");
    assert.deepEqual(judgeWrite({ owner: A1, id: udp.id }, udp, A1), { write: true });
    assert.deepEqual(judgeWrite({ owner: A1 }, udp, A1), { write: true }, "a key that names no service id: ours");
  });

  test("checkWrite: what the write reports, or the refusal thrown as ownedElsewhere words it", () => {
    assert.deepEqual(checkWrite(undefined, web(), A1), { tookOver: undefined });
    assert.deepEqual(checkWrite({ owner: A2 }, web(), A1), { tookOver: A2 });
    assert.throws(
      () => checkWrite({ owner: B1, address: OURS }, web(), A1),
      (err) => err instanceof OwnedElsewhereError && err.holder === B1 && err.message === "hostA:web:80 is owned by hostB/b1",
    );
    assert.throws(() => checkWrite({ address: "10.0.0.9:8080" }, web(), A1), { message: "hostA:web:80 is owned by another tool" });
    assert.throws(() => checkWrite({ owner: A2, id: "hostA:other:8080" }, web(), A1), {
      message: "hostA:web:80: address 10.0.0.1:8080 is owned by hostA/a2 for hostA:other:8080",
    });
  });
});

describe("removals", () => {
  test("only the exact owner removes a marked entry, and only for its own service", () => {
    assert.ok(mayRemove({ owner: A1 }, web(), A1));
    assert.ok(!mayRemove({ owner: A2 }, web(), A1), "another container of the same host id");
    assert.ok(!mayRemove({ owner: B1 }, web(), A1));
    assert.ok(!mayRemove(undefined, web(), A1));
    assert.ok(!mayRemove({ owner: A1, id: "hostA:other:8080" }, web(), A1), "another service of ours at the same address");
  });

  test("an unmarked entry only in this container's default id at the address we write", () => {
    assert.ok(mayRemove({ address: OURS }, web(), A1));
    assert.ok(!mayRemove({ address: "10.0.0.9:8080" }, web(), A1));
    assert.ok(!mayRemove({ address: OURS }, web({ id: "redis-1" }), A1));
  });

  test("a service read back for -cleanup (no container): its id's form; its address is isDangling's", () => {
    const stored = storedService("hostA:ghost:80", "ghost", "10.0.0.1:8080");
    assert.ok(mayRemove({ address: "10.0.0.1:8080" }, stored, { hostId: "hostA", container: "" }));
    assert.ok(
      !mayRemove({ address: "10.0.0.1:8080" }, storedService("vm:billing:5432", "billing", "10.0.0.1:8080"), {
        hostId: "hostA",
        container: "",
      }),
    );
  });
});

describe("markers whose entry is gone", () => {
  test("cleared by the owner one of them names, and only once the entry is gone", () => {
    assert.ok(isOrphanOf(undefined, [encodeOwner(A1), undefined], A1));
    assert.ok(isOrphanOf(undefined, [undefined, encodeOwner(A1)], A1), "the marker where earlier versions kept it");
    assert.ok(!isOrphanOf({}, [encodeOwner(A1)], A1), "the entry is still there: mayRemove decides");
    assert.ok(!isOrphanOf(undefined, [encodeOwner(A2), "not a marker"], A1));
    assert.ok(!isOrphanOf(undefined, [undefined, undefined], A1));
  });
});

describe("-cleanup", () => {
  const stored = (id: string, owner?: typeof A1, address = "10.0.0.1:80") => ({
    service: storedService(id, "web", address),
    ...(owner && { owner }),
  });
  const self = { hostId: "hostA", addresses: ["10.0.0.1"] };
  const none = () => false;

  test("dangling: held by our host id, and no container of ours holds the id", () => {
    assert.ok(isDangling(stored("anything", A1), self, none));
    assert.ok(isDangling(stored("anything", A2), self, none));
    assert.ok(!isDangling(stored("anything", A1), self, (id) => id === "anything"));
  });

  test("never another host's, whatever its id says", () => {
    assert.ok(!isDangling(stored("hostA:web:80", B1), self, none));
  });

  test("unmarked: only this host's default-id form at an address of this host (the Go registrator's)", () => {
    assert.ok(isDangling(stored("hostA:web:80"), self, none));
    assert.ok(!isDangling(stored("hostA:ghost:80", undefined, "10.0.0.9:8080"), self, none), "another tool's key that looks like ours");
    assert.ok(!isDangling(stored("hostB:web:80"), self, none));
    assert.ok(!isDangling(stored("redis-1"), self, none));
    assert.ok(!isDangling(stored("hostA:web:80"), { hostId: "hostA", addresses: [] }, none), "no address known: nothing unmarked is ours");
  });
});

describe("markers", () => {
  test("JSON with host and container, read back; anything else is no marker", () => {
    assert.equal(encodeOwner(A1), '{"host":"hostA","container":"a1"}');
    assert.deepEqual(decodeOwner(encodeOwner(A1)), A1);
    for (const text of [
      undefined,
      "",
      "x",
      "null",
      "[]",
      '{"host":""}',
      '{"host":"h"}',
      '{"host":1,"container":"c"}',
      '{"host":"","container":"c"}',
    ]) {
      assert.equal(decodeOwner(text), undefined, String(text));
    }
  });

  test("owner from two fields of a record or metadata", () => {
    assert.deepEqual(
      ownerFields({ registrator_host: "h", registrator_container: "c", x: 1 }, "registrator_host", "registrator_container"),
      { hostId: "h", container: "c" },
    );
    assert.equal(ownerFields({ registrator_host: "h" }, "registrator_host", "registrator_container"), undefined);
    assert.equal(ownerFields(undefined, "a", "b"), undefined);
  });
});

describe("OwnedElsewhereError", () => {
  test("a RejectedError whose message names the holder", () => {
    const err = new OwnedElsewhereError("hostA:web:80", { hostId: "hostB", container: "0123456789abcdef" });
    assert.ok(err instanceof RejectedError);
    assert.equal(err.message, "hostA:web:80 is owned by hostB/0123456789ab");
    assert.equal(new OwnedElsewhereError("redis-1").message, "redis-1 is owned by another tool");
    assert.equal(holderText({ hostId: "hostB", container: "" }), "hostB");
    assert.equal(new OwnedElsewhereError("x", undefined, "why it is held").message, "why it is held");
  });
});
