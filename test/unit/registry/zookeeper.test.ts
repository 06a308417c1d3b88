import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InvalidUriError } from "../../../src/registry/types.js";
import { parseRegistryUri } from "../../../src/registry/uri.js";
import { judgeWrite } from "../../../src/registry/owner.js";
import {
  connectString,
  nameProblem,
  nodePath,
  parseZnode,
  znodeBody,
  znodeFound,
  znodeId,
  znodeOwner,
  zkTarget,
} from "../../../src/registry/zookeeper.js";
import type { Service } from "../../../src/service/types.js";
import { webService } from "./fixtures.js";

const target = (raw: string) => zkTarget(parseRegistryUri(raw));

const service = (over: Partial<Service> = {}): Service => webService({ tags: ["blue", "v2"], ...over });
const OWNER = { hostId: "myhost", container: "0123456789abcdef0123" };

describe("URI", () => {
  test("authority is the connect string, path the base path", () => {
    assert.deepEqual(target("zookeeper://127.0.0.1:2181/services"), { connectString: "127.0.0.1:2181", root: "/services" });
    assert.deepEqual(target("zookeeper://zk1:2181,zk2:2182,zk3/a/b"), { connectString: "zk1:2181,zk2:2182,zk3:2181", root: "/a/b" });
    assert.equal(target("zookeeper:///services").connectString, "127.0.0.1:2181");
    assert.equal(target("zookeeper://h/services/").root, "/services");
  });

  test("default ports are added where a host has none", () => {
    assert.equal(connectString("h"), "h:2181");
    assert.equal(connectString("[fd00::1]:2182,[fd00::2]"), "[fd00::1]:2182,[fd00::2]:2181");
    assert.equal(connectString(""), "127.0.0.1:2181");
  });

  test("an empty path, . or .. segments, or /zookeeper are refused with a correct example", () => {
    for (const raw of [
      "zookeeper://127.0.0.1:2181",
      "zookeeper://127.0.0.1:2181/",
      "zookeeper://h/services/../x",
      "zookeeper://h/..",
      "zookeeper://h/a/./b",
      "zookeeper://h/a//b",
      "zookeeper://h/zookeeper/x",
      "zookeeper://h/a%01b",
    ]) {
      assert.throws(
        () => target(raw),
        (err: Error) => {
          assert.ok(err instanceof InvalidUriError, raw);
          assert.match(err.message, /zookeeper:\/\/127\.0\.0\.1:2181\/services/, raw);
          return true;
        },
      );
    }
  });
});

describe("znodes", () => {
  test("path: <base>/<name>/<ip>:<port>, IPv6 in brackets", () => {
    assert.equal(nodePath("/services", service()), "/services/web/10.0.0.5:32768");
    assert.equal(nodePath("/services", service({ ip: "fd00::5" })), "/services/web/[fd00::5]:32768");
  });

  test("body: the Go registrator's fields plus the service id and the owner", () => {
    assert.deepEqual(znodeBody(service(), OWNER), {
      Name: "web",
      IP: "10.0.0.5",
      PublicPort: 32768,
      PrivatePort: 80,
      ContainerID: "0123456789ab",
      Tags: ["blue", "v2"],
      Attrs: { region: "eu" },
      ID: "myhost:web:80",
      Owner: { Host: "myhost", Container: "0123456789abcdef0123" },
    });
  });

  test("who holds a znode: its Owner; an unmarked one written for this very container is the writer's own", () => {
    const other = { hostId: "hostB", container: "b1" };
    const body = (over: object) => Buffer.from(JSON.stringify({ ...znodeBody(service()), ...over }));
    assert.deepEqual(znodeOwner(body({ Owner: { Host: "hostB", Container: "b1" } }), service(), OWNER), other);
    const goBody = body({ ID: undefined, Owner: undefined });
    assert.deepEqual(znodeOwner(goBody, service(), OWNER), OWNER, "the Go registrator's znode of the same container");
    assert.equal(znodeOwner(body({ ContainerID: "ffffffffffff" }), service(), OWNER), undefined, "another container's");
    assert.equal(znodeOwner(Buffer.from("not json"), service(), OWNER), undefined);
    assert.equal(znodeOwner(goBody, service({ origin: { ...service().origin, containerId: "" } }), OWNER), undefined);
  });

  test("the rules' view of a znode: an unmarked one counts as ours only for this very service id or container", () => {
    const body = (over: object) => Buffer.from(JSON.stringify({ ...znodeBody(service()), ContainerID: "ffffffffffff", ...over }));
    const neighbour = service({ id: "myhost:neighbour:8080" });
    assert.deepEqual(znodeFound(body({ Owner: { Host: "myhost", Container: "c2" } }), neighbour, OWNER), {
      owner: { hostId: "myhost", container: "c2" },
      id: "myhost:web:80",
    });
    assert.deepEqual(judgeWrite(znodeFound(body({ Owner: { Host: "myhost", Container: "c2" } }), neighbour, OWNER), neighbour, OWNER), {
      write: false,
      holder: { hostId: "myhost", container: "c2" },
    });
    assert.deepEqual(
      znodeFound(body({}), service(), OWNER),
      { id: "myhost:web:80", address: "10.0.0.5:32768" },
      "an earlier version's, for this id",
    );
    assert.deepEqual(znodeFound(body({}), neighbour, OWNER), { id: "myhost:web:80" }, "another service's: not ours");
    assert.deepEqual(znodeFound(body({ ID: undefined }), service(), OWNER), {}, "the Go registrator's, of another container");
  });

  test("names that cannot be a znode name are refused", () => {
    assert.equal(nameProblem("web"), undefined);
    assert.equal(nameProblem("web.api:v1"), undefined);
    for (const name of ["", ".", "..", "a/b", "a\u0000b"]) assert.ok(nameProblem(name), JSON.stringify(name));
  });

  test("read back: the id and owner from the body, the address from the znode name; foreign znodes skipped", () => {
    const data = Buffer.from(JSON.stringify(znodeBody(service(), OWNER)));
    const found = parseZnode("web", "10.0.0.5:32768", data);
    assert.deepEqual(
      [found?.service.id, found?.service.name, found?.service.ip, found?.service.port],
      ["myhost:web:80", "web", "10.0.0.5", 32768],
    );
    assert.deepEqual(found?.owner, OWNER);
    assert.equal(parseZnode("web", "[fd00::5]:80", data)?.service.ip, "fd00::5");
    assert.equal(parseZnode("web", "10.0.0.5:32768", Buffer.from(JSON.stringify(znodeBody(service()))))?.owner, undefined);
    const goBody = Buffer.from(JSON.stringify({ ...znodeBody(service()), ID: undefined }));
    assert.equal(parseZnode("web", "10.0.0.5:32768", goBody), undefined);
    assert.equal(parseZnode("web", "not-an-address", data), undefined);
    assert.equal(znodeId(Buffer.from("garbage")), undefined);
    assert.equal(znodeId(undefined), undefined);
  });
});
