import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { buildServices, imageBaseName } from "../../../src/service/build.js";
import type { Service } from "../../../src/service/types.js";
import { container, options } from "./fixtures.js";

/** The fields the seed README shows for a service. */
const shown = (s: Service) => ({ ID: s.id, Name: s.name, Port: s.port, IP: s.ip, Tags: s.tags, Attrs: s.attrs });
const build = (...args: Parameters<typeof buildServices>) => buildServices(...args).services;
const byId = (services: Service[]) => [...services].sort((a, b) => a.id.localeCompare(b.id));

describe("the seed README's examples, verbatim", () => {
  test("single service with defaults", () => {
    const services = build(container({ name: "redis.0", publish: ["10000:6379"] }), options());
    assert.deepEqual(services.map(shown), [
      { ID: "hostname:redis.0:6379", Name: "redis", Port: 10000, IP: "192.168.1.102", Tags: [], Attrs: {} },
    ]);
  });

  test("single service with metadata", () => {
    const c = container({
      name: "redis.0",
      publish: ["10000:6379"],
      env: ["SERVICE_NAME=db", "SERVICE_TAGS=master,backups", "SERVICE_REGION=us2"],
    });
    assert.deepEqual(build(c, options()).map(shown), [
      { ID: "hostname:redis.0:6379", Name: "db", Port: 10000, IP: "192.168.1.102", Tags: ["master", "backups"], Attrs: { region: "us2" } },
    ]);
  });

  test("multiple services with defaults", () => {
    const c = container({ name: "nginx.0", image: "progrium/nginx", publish: ["4443:443", "8000:80"] });
    assert.deepEqual(byId(build(c, options())).map(shown), [
      { ID: "hostname:nginx.0:443", Name: "nginx-443", Port: 4443, IP: "192.168.1.102", Tags: [], Attrs: {} },
      { ID: "hostname:nginx.0:80", Name: "nginx-80", Port: 8000, IP: "192.168.1.102", Tags: [], Attrs: {} },
    ]);
  });

  test("multiple services with metadata", () => {
    const c = container({
      name: "nginx.0",
      image: "progrium/nginx",
      publish: ["4443:443", "8000:80"],
      env: ["SERVICE_443_NAME=https", "SERVICE_443_ID=https.12345", "SERVICE_443_SNI=enabled", "SERVICE_80_NAME=http", "SERVICE_TAGS=www"],
    });
    assert.deepEqual(byId(build(c, options())).map(shown), [
      { ID: "hostname:nginx.0:80", Name: "http", Port: 8000, IP: "192.168.1.102", Tags: ["www"], Attrs: {} },
      { ID: "https.12345", Name: "https", Port: 4443, IP: "192.168.1.102", Tags: ["www"], Attrs: { sni: "enabled" } },
    ]);
  });
});

describe("1. ports", () => {
  test("an exposed port counts as published on the same host port (--net=host -p 8080:8080)", () => {
    const c = container({ networkMode: "host", publish: ["8080:8080"], ip: "" });
    assert.deepEqual(
      build(c, options()).map((s) => [s.port, s.ip]),
      [[8080, "192.168.1.102"]],
    );
  });

  test("a binding's empty HostIp means all interfaces, so the host's address is used", () => {
    const c = container({ publish: ["10000:6379"] });
    c.NetworkSettings!.Ports!["6379/tcp"] = [{ HostIp: "", HostPort: "10000" }];
    assert.equal(build(c, options())[0]?.ip, "192.168.1.102");
  });

  test("a port bound to one host address is registered at that address", () => {
    assert.equal(build(container({ publish: ["10.0.0.5:10000:6379"] }), options())[0]?.ip, "10.0.0.5");
  });

  test("only the first binding of a port counts (Docker lists 0.0.0.0 and :: for one -p)", () => {
    const c = container({ publish: ["10000:6379"] });
    c.NetworkSettings!.Ports!["6379/tcp"] = [
      { HostIp: "0.0.0.0", HostPort: "10000" },
      { HostIp: "::", HostPort: "10001" },
    ];
    assert.deepEqual(
      build(c, options()).map((s) => s.port),
      [10000],
    );
  });

  test("an exposed, unpublished port is ignored with a reason", () => {
    const result = buildServices(container({ expose: ["6379"] }), options());
    assert.deepEqual(result.services, []);
    assert.deepEqual(result.skipped, [{ port: "6379/tcp", reason: "port not published on host" }]);
  });

  test("no ports at all: ignored, no published ports", () => {
    const result = buildServices(container(), options());
    assert.deepEqual(result, { services: [], skipped: [{ reason: "no published ports" }] });
  });

  test("-internal registers unpublished ports too, at the container's address and exposed port", () => {
    const services = build(container({ expose: ["6379"] }), options({ internal: true }));
    assert.deepEqual(
      services.map((s) => [s.ip, s.port]),
      [["172.17.0.2", 6379]],
    );
  });
});

describe("1a. -internal and the container's network mode", () => {
  test("--net=host --expose 6379 registers at the host's address and the exposed port", () => {
    const c = container({ name: "cache", networkMode: "host", expose: ["6379"], ip: "", networks: { host: { IPAddress: "" } } });
    const result = buildServices(c, options({ internal: true }));
    assert.deepEqual(result.skipped, []);
    assert.deepEqual(
      result.services.map((s) => [s.id, s.ip, s.port]),
      [["hostname:cache:6379", "192.168.1.102", 6379]],
    );
  });

  test("--net=host with -internal takes -ip where it is set", () => {
    const c = container({ networkMode: "host", expose: ["6379"], ip: "", networks: { host: { IPAddress: "" } } });
    assert.deepEqual(
      build(c, options({ internal: true, ip: "10.9.8.7" })).map((s) => s.ip),
      ["10.9.8.7"],
    );
  });

  test("--net=none stays ignored, with its reason", () => {
    const c = container({ networkMode: "none", expose: ["6379"], ip: "", networks: { none: { IPAddress: "" } } });
    assert.deepEqual(buildServices(c, options({ internal: true })), {
      services: [],
      skipped: [{ port: "6379/tcp", reason: "no IP address for the service" }],
    });
  });
});

describe("2. metadata", () => {
  test("labels are read as well as env, and a label beats an env var of the same key", () => {
    const c = container({
      publish: ["80:80"],
      env: ["SERVICE_NAME=from-env", "SERVICE_REGION=eu"],
      labels: { SERVICE_NAME: "from-label" },
    });
    const [s] = build(c, options());
    assert.equal(s?.name, "from-label");
    assert.deepEqual(s?.attrs, { region: "eu" });
  });

  test("SERVICE_<port>_<key> beats SERVICE_<key> whichever comes first", () => {
    for (const env of [
      ["SERVICE_80_NAME=port", "SERVICE_NAME=generic"],
      ["SERVICE_NAME=generic", "SERVICE_80_NAME=port"],
    ]) {
      assert.equal(build(container({ publish: ["80:80"], env }), options())[0]?.name, "port");
    }
  });

  test("another port's keys do not apply", () => {
    const c = container({ publish: ["80:80"], env: ["SERVICE_443_NAME=https"] });
    assert.equal(build(c, options())[0]?.name, "redis");
  });

  test("an empty value counts as unset", () => {
    const c = container({ publish: ["80:80"], env: ["SERVICE_NAME=", "SERVICE_TAGS=", "SERVICE_REGION="] });
    assert.deepEqual(shown(build(c, options())[0]!), {
      ID: "hostname:redis.0:80",
      Name: "redis",
      Port: 80,
      IP: "192.168.1.102",
      Tags: [],
      Attrs: {},
    });
  });

  test("keys are case-sensitive in their prefix and lower-cased after it", () => {
    const c = container({ publish: ["80:80"], env: ["service_name=nope", "SERVICE_Weight=5"] });
    const [s] = build(c, options());
    assert.equal(s?.name, "redis");
    assert.deepEqual(s?.attrs, { weight: "5" });
  });

  test("a port key that is no port is ignored with a reason; the service still registers", () => {
    const result = buildServices(container({ publish: ["80:80"], env: ["SERVICE_99999_NAME=x"] }), options());
    assert.equal(result.services.length, 1);
    assert.match(result.skipped[0]?.reason ?? "", /SERVICE_99999_NAME: 99999 is not a port number/);
  });
});

describe("2a. port keys exactly as v7 parses them (bridge/util.go serviceMetaData)", () => {
  const busybox = (env: string[]) => container({ name: "bb", image: "busybox", publish: ["80:80", "443:443"], env });

  test("SERVICE_080_NAME names no port: the default name stays, and -explicit skips the port", () => {
    assert.deepEqual(
      byId(build(busybox(["SERVICE_080_NAME=web"]), options())).map((s) => [s.name, s.attrs]),
      [
        ["busybox-443", {}],
        ["busybox-80", {}],
      ],
    );
    const explicit = buildServices(busybox(["SERVICE_080_NAME=web"]), options({ explicit: true }));
    assert.deepEqual(explicit.services, []);
    assert.deepEqual(explicit.skipped, [
      {
        reason:
          "metadata key ignored: SERVICE_080_NAME: 080 is not a port number as Docker writes it (1 to 65535, no sign or leading zero)",
      },
      { port: "80/tcp", reason: "no SERVICE_NAME and -explicit is set" },
      { port: "443/tcp", reason: "no SERVICE_NAME and -explicit is set" },
    ]);
  });

  test("SERVICE_+80_NAME and SERVICE_-1_FOO are port keys of no port: dropped, not attributes", () => {
    const result = buildServices(busybox(["SERVICE_+80_NAME=web", "SERVICE_-1_FOO=bar"]), options());
    assert.deepEqual(
      byId(result.services).map((s) => [s.name, s.attrs]),
      [
        ["busybox-443", {}],
        ["busybox-80", {}],
      ],
    );
    assert.deepEqual(
      result.skipped.map((s) => s.reason),
      [
        "metadata key ignored: SERVICE_+80_NAME: +80 is not a port number as Docker writes it (1 to 65535, no sign or leading zero)",
        "metadata key ignored: SERVICE_-1_FOO: -1 is not a port number as Docker writes it (1 to 65535, no sign or leading zero)",
      ],
    );
  });

  test("a valid port the container lacks is dropped without a word", () => {
    const result = buildServices(busybox(["SERVICE_8080_NAME=alt"]), options());
    assert.deepEqual(result.skipped, []);
    assert.deepEqual(
      byId(result.services).map((s) => s.name),
      ["busybox-443", "busybox-80"],
    );
  });

  test("what Go's Atoi refuses is no port key but a generic attribute, as in v7", () => {
    const env = ["SERVICE_80=a", "SERVICE_8o_X=b", "SERVICE_99999999999999999999_Y=c"];
    const [s] = build(container({ publish: ["80:80"], env }), options());
    assert.deepEqual(s?.attrs, { "80": "a", "8o_x": "b", "99999999999999999999_y": "c" });
  });

  test("SERVICE_<port>_ with no key is dropped with a reason", () => {
    const result = buildServices(container({ publish: ["80:80"], env: ["SERVICE_80_=x"] }), options());
    assert.deepEqual(result.services[0]?.attrs, {});
    assert.deepEqual(result.skipped, [{ reason: "metadata key ignored: SERVICE_80_: no key after the port" }]);
  });

  test("a label beats an env var that differs only in case, as it is read last", () => {
    const c = container({ publish: ["80:80"], env: ["SERVICE_80_Name=env"], labels: { SERVICE_80_NAME: "label" } });
    assert.equal(build(c, options())[0]?.name, "label");
  });
});

describe("2b. fayrus v9 keys: port and protocol, port ranges", () => {
  const names = (services: Service[]) => byId(services).map((s) => `${s.origin.exposedPort}/${s.origin.protocol} ${s.name}`);

  test("SERVICE_<port>_<proto>_<key> applies to that port and protocol only", () => {
    const c = container({
      name: "app",
      publish: ["8080:8080", "8080:8080/udp"],
      env: ["SERVICE_8080_tcp_NAME=web", "SERVICE_8080_UDP_PROBE=x"],
    });
    const services = build(c, options());
    assert.deepEqual(names(services), ["8080/tcp web", "8080/udp redis-8080"]);
    assert.deepEqual(
      byId(services).map((s) => s.attrs),
      [{}, { probe: "x" }],
    );
  });

  test("a protocol key also works for sctp; a word that is no protocol stays part of the key", () => {
    const c = container({
      publish: ["9000:9000/sctp"],
      env: ["SERVICE_9000_sctp_NAME=sig", "SERVICE_9000_tcpx_Y=1", "SERVICE_9000_tcp=2"],
    });
    const [s] = build(c, options());
    assert.equal(s?.name, "sig");
    assert.deepEqual(s?.attrs, { tcpx_y: "1", tcp: "2" });
  });

  test("SERVICE_<lo>-<hi>_IGNORE skips every port in the range, bounds included", () => {
    const c = container({
      publish: ["80:80", "10000:10000", "15000:15000", "20000:20000", "20001:20001"],
      env: ["SERVICE_10000-20000_IGNORE=true"],
    });
    const result = buildServices(c, options());
    assert.deepEqual(
      result.services.map((s) => s.origin.exposedPort),
      ["80", "20001"],
    );
    assert.deepEqual(
      result.skipped,
      ["10000", "15000", "20000"].map((port) => ({ port: `${port}/tcp`, reason: "SERVICE_IGNORE is set" })),
    );
  });

  test("a range takes any key; its name gets no port suffix, as fayrus; a range that misses the port is no attribute", () => {
    const c = container({
      name: "sip",
      publish: ["5060:5060/udp", "10000:10000/udp", "10001:10001/udp"],
      env: ["SERVICE_10000-10999_NAME=rtp", "SERVICE_10000-10999_MEDIA=audio"],
    });
    const services = build(c, options());
    assert.deepEqual(names(services), ["10000/udp rtp", "10001/udp rtp", "5060/udp redis-5060"]);
    assert.deepEqual(
      byId(services).map((s) => s.attrs),
      [{ media: "audio" }, { media: "audio" }, {}],
    );
    assert.deepEqual(
      byId(services).map((s) => s.id),
      ["hostname:sip:10000:udp", "hostname:sip:10001:udp", "hostname:sip:5060:udp"],
    );
  });

  test("a range with a protocol applies to that protocol only", () => {
    const c = container({ publish: ["7000:7000", "7000:7000/udp"], env: ["SERVICE_7000-7100_udp_IGNORE=1"] });
    assert.deepEqual(names(build(c, options())), ["7000/tcp redis-7000"]);
  });

  test("an empty range is dropped with a reason; what is no range is a generic key, as in v7 and fayrus", () => {
    const result = buildServices(
      container({ publish: ["80:80"], env: ["SERVICE_90-10_IGNORE=1", "SERVICE_1-2-3_X=a", "SERVICE_-1-5_Y=b"] }),
      options(),
    );
    assert.equal(result.services.length, 1);
    assert.deepEqual(result.services[0]?.attrs, { "1-2-3_x": "a", "-1-5_y": "b" });
    assert.deepEqual(result.skipped, [{ reason: "metadata key ignored: SERVICE_90-10_IGNORE: the port range 90-10 is empty" }]);
  });

  test("SERVICE_ENABLE_TAG_OVERRIDE reaches the attributes as enable_tag_override, per port too", () => {
    const c = container({
      publish: ["80:80", "443:443"],
      env: ["SERVICE_ENABLE_TAG_OVERRIDE=true", "SERVICE_443_ENABLE_TAG_OVERRIDE=false"],
    });
    assert.deepEqual(
      byId(build(c, options())).map((s) => s.attrs),
      [{ enable_tag_override: "false" }, { enable_tag_override: "true" }],
    );
  });
});

describe("2c. precedence: port+protocol, port, range, generic; labels beat env at each level", () => {
  const levels = {
    portProtocol: "SERVICE_8080_tcp_NAME",
    port: "SERVICE_8080_NAME",
    range: "SERVICE_8000-8999_NAME",
    generic: "SERVICE_NAME",
  };
  const nameWith = (env: string[], labels: Record<string, string> = {}) =>
    build(container({ publish: ["8080:8080"], env, labels }), options())[0]?.name;
  const order = Object.entries(levels);

  test("the most specific level wins, whatever the order of the keys", () => {
    for (let top = 0; top < order.length; top++) {
      const present = order.slice(top);
      for (const env of [present.map(([level, key]) => `${key}=${level}`), present.map(([level, key]) => `${key}=${level}`).reverse()]) {
        assert.equal(nameWith(env), order[top]![0], env.join(" "));
      }
    }
  });

  test("at each level a label beats an env var; an env var of a higher level beats a label of a lower one", () => {
    for (const [level, key] of order) {
      assert.equal(nameWith([`${key}=env`], { [key]: `label-${level}` }), `label-${level}`, level);
    }
    for (let i = 0; i + 1 < order.length; i++) {
      const [level, higher] = order[i]!;
      const [, lower] = order[i + 1]!;
      assert.equal(nameWith([`${higher}=env-${level}`], { [lower]: "label" }), `env-${level}`, level);
    }
  });

  test("among ranges the narrowest wins, and of equal ranges the one with the protocol", () => {
    const narrow = ["SERVICE_8080-8081_NAME=narrow", "SERVICE_1-65535_NAME=wide"];
    assert.equal(nameWith(narrow), "narrow");
    assert.equal(nameWith([...narrow].reverse()), "narrow");
    const proto = ["SERVICE_8000-8999_tcp_NAME=tcp", "SERVICE_8000-8999_NAME=any"];
    assert.equal(nameWith(proto), "tcp");
    assert.equal(nameWith([...proto].reverse()), "tcp");
  });
});

describe("3. skipping", () => {
  test("SERVICE_IGNORE (any value) skips the port", () => {
    const result = buildServices(container({ publish: ["80:80"], env: ["SERVICE_IGNORE=yes"] }), options());
    assert.deepEqual(result.services, []);
    assert.deepEqual(result.skipped, [{ port: "80/tcp", reason: "SERVICE_IGNORE is set" }]);
  });

  test("SERVICE_<port>_IGNORE skips only that port", () => {
    const c = container({ publish: ["80:80", "443:443"], env: ["SERVICE_443_IGNORE=1"] });
    assert.deepEqual(
      build(c, options()).map((s) => s.origin.exposedPort),
      ["80"],
    );
  });

  test("-explicit skips containers without SERVICE_NAME", () => {
    assert.deepEqual(build(container({ publish: ["80:80"] }), options({ explicit: true })), []);
    assert.equal(build(container({ publish: ["80:80"], env: ["SERVICE_NAME=web"] }), options({ explicit: true })).length, 1);
  });
});

describe("4. name", () => {
  test("image base name without registry, tag or digest", () => {
    assert.equal(imageBaseName("dockerfile/redis"), "redis");
    assert.equal(imageBaseName("registry.example.com:5000/team/app:1.2"), "app");
    assert.equal(imageBaseName("redis@sha256:0123abcd"), "redis");
    assert.equal(imageBaseName("team/app:1.2@sha256:0123abcd"), "app");
  });

  const hex = "4e9f2cdf438714c2c4533e28c6c41a89cc6c1b46cf77e54c488db30ca4f5b6ba";

  test("an image referenced by id is named after its compose service, not sha256 as in v7", () => {
    const c = container({
      name: "shop-web-1",
      image: `sha256:${hex}`,
      publish: ["8080:80"],
      labels: { "com.docker.compose.service": "web" },
    });
    assert.deepEqual(
      build(c, options()).map((s) => [s.id, s.name]),
      [["hostname:shop-web-1:80", "web"]],
    );
  });

  test("an image referenced by id, outside compose, is named after the container", () => {
    for (const image of [`sha256:${hex}`, hex]) {
      assert.equal(build(container({ name: "worker.1", image, publish: ["80:80"] }), options())[0]?.name, "worker.1", image);
    }
  });

  test("the stand-in name takes the port suffix like any default name, and SERVICE_NAME still wins", () => {
    const c = container({ name: "api", image: `sha256:${hex}`, publish: ["80:80", "443:443"] });
    assert.deepEqual(
      byId(build(c, options())).map((s) => s.name),
      ["api-443", "api-80"],
    );
    const named = container({ name: "api", image: hex, publish: ["80:80"], env: ["SERVICE_NAME=public"] });
    assert.equal(build(named, options())[0]?.name, "public");
  });

  test("ordinary images keep v7's names, the compose label notwithstanding", () => {
    for (const [image, name] of [
      ["shop-web", "shop-web"],
      ["redis:7", "redis"],
      [`redis@sha256:${hex}`, "redis"],
      ["abc123", "abc123"],
    ]) {
      const c = container({ image: image!, publish: ["80:80"], labels: { "com.docker.compose.service": "web" } });
      assert.equal(build(c, options())[0]?.name, name, image);
    }
  });

  test("a name set per port gets no port suffix; a generic one does", () => {
    const c = container({ publish: ["80:80", "443:443"], env: ["SERVICE_NAME=web", "SERVICE_443_NAME=secure"] });
    assert.deepEqual(
      byId(build(c, options())).map((s) => s.name),
      ["secure", "web-80"],
    );
  });

  test("an ignored port still counts towards the group suffix, as upstream", () => {
    const c = container({ publish: ["80:80", "443:443"], env: ["SERVICE_443_IGNORE=1"] });
    assert.deepEqual(
      build(c, options()).map((s) => s.name),
      ["redis-80"],
    );
  });
});

describe("5. id", () => {
  test("udp ports get :udp", () => {
    const [s] = build(container({ name: "dns", publish: ["53:53/udp"] }), options());
    assert.equal(s?.id, "hostname:dns:53:udp");
  });

  test("SERVICE_ID replaces the whole id", () => {
    assert.equal(build(container({ publish: ["80:80"], env: ["SERVICE_ID=web-1"] }), options())[0]?.id, "web-1");
  });

  test("names and ids that would escape a key path are ignored with a reason", () => {
    for (const env of ["SERVICE_NAME=../../x", "SERVICE_ID=a/b", "SERVICE_NAME=a\nb", `SERVICE_ID=${"x".repeat(256)}`, "SERVICE_NAME=.."]) {
      const result = buildServices(container({ publish: ["80:80"], env: [env] }), options());
      assert.deepEqual(result.services, [], env);
      assert.equal(result.skipped.length, 1, env);
    }
  });
});

describe("6. IP and port", () => {
  test("-ip overrides the host address", () => {
    assert.equal(build(container({ publish: ["10000:6379"] }), options({ ip: "127.0.0.1" }))[0]?.ip, "127.0.0.1");
  });

  test("-useIpFromLabel takes the label's address, cutting a CIDR suffix", () => {
    const c = container({ publish: ["80:80"], labels: { "com.example.ip": "10.1.2.3/24" } });
    assert.equal(build(c, options({ useIpFromLabel: "com.example.ip" }))[0]?.ip, "10.1.2.3");
  });

  test("-useIpFromLabel cuts the value at its last /, as v7 does", () => {
    for (const [value, ip] of [
      ["127.0.0.22/abc", "127.0.0.22"],
      ["10.1.2.3", "10.1.2.3"],
      ["fd00::5/64", "fd00::5"],
      ["::1", "::1"],
    ]) {
      const c = container({ publish: ["80:80"], labels: { "com.example.ip": value! } });
      assert.equal(build(c, options({ useIpFromLabel: "com.example.ip" }))[0]?.ip, ip, value);
    }
  });

  test("-useIpFromLabel: a value that is no IP address skips the container's services, saying why", () => {
    for (const value of ["evil.example.com", "a/b/c/x", "10.0.0.1/24/x", "[::1]", "10.0.0.256"]) {
      const c = container({ publish: ["80:80", "443:443"], labels: { "com.example.ip": value } });
      assert.deepEqual(buildServices(c, options({ useIpFromLabel: "com.example.ip" })), {
        services: [],
        skipped: [{ reason: `label com.example.ip value ${JSON.stringify(value)} is not an IP address` }],
      });
    }
  });

  test("-useIpFromLabel with the label empty keeps the usual address, as v7", () => {
    const c = container({ publish: ["80:80"], labels: { "com.example.ip": "" } });
    assert.equal(build(c, options({ useIpFromLabel: "com.example.ip" }))[0]?.ip, "192.168.1.102");
  });

  test("-useIpFromLabel with the label missing keeps the usual address", () => {
    assert.equal(build(container({ publish: ["80:80"] }), options({ useIpFromLabel: "nope" }))[0]?.ip, "192.168.1.102");
  });

  test("--net container:<id> takes the other container's address", () => {
    const c = container({ publish: ["80:80"], networkMode: "container:abc" });
    const pod = container({ ip: "172.17.0.9" });
    assert.equal(build(c, options(), { networkContainer: pod })[0]?.ip, "172.17.0.9");
  });

  test("a port bound to :: is registered at the host's address", () => {
    const c = container({ publish: ["80:80"] });
    c.NetworkSettings!.Ports!["80/tcp"] = [{ HostIp: "::", HostPort: "80" }];
    assert.equal(build(c, options())[0]?.ip, "192.168.1.102");
  });
});

describe("6a. -ip-from-container (fayrus v9)", () => {
  const fromContainer = (overrides: Parameters<typeof options>[0] = {}) => options({ ipFromContainer: true, ...overrides });

  test("registers the container's own address with the published host port", () => {
    const [s] = build(container({ name: "redis.0", publish: ["10000:6379"] }), fromContainer());
    assert.deepEqual([s?.id, s?.ip, s?.port, s?.origin.hostIp], ["hostname:redis.0:6379", "172.17.0.2", 10000, "192.168.1.102"]);
  });

  test("beats -ip; unpublished ports stay ignored, as without -internal", () => {
    const result = buildServices(container({ publish: ["10000:6379"], expose: ["9121"] }), fromContainer({ ip: "10.0.0.1" }));
    assert.deepEqual(
      result.services.map((s) => [s.ip, s.port]),
      [["172.17.0.2", 10000]],
    );
    assert.deepEqual(result.skipped, [{ port: "9121/tcp", reason: "port not published on host" }]);
  });

  test("picks the address as -internal does: SERVICE_NETWORK, --network, then the first network by name", () => {
    const multi = (env: string[] = []) =>
      container({
        publish: ["80:80"],
        networkMode: "zeta",
        ip: "",
        env,
        networks: { zeta: { IPAddress: "10.0.2.5" }, alpha: { IPAddress: "10.0.1.5" } },
      });
    assert.equal(build(multi(), fromContainer())[0]?.ip, "10.0.1.5");
    assert.equal(build(multi(), fromContainer({ network: "zeta" }))[0]?.ip, "10.0.2.5");
    assert.equal(build(multi(["SERVICE_NETWORK=zeta"]), fromContainer())[0]?.ip, "10.0.2.5");
  });

  test("a host-network container has the host's address; -useIpFromLabel still wins", () => {
    const host = container({ networkMode: "host", publish: ["8080:8080"], ip: "", networks: { host: { IPAddress: "" } } });
    assert.deepEqual(
      build(host, fromContainer()).map((s) => [s.ip, s.port]),
      [["192.168.1.102", 8080]],
    );
    const labelled = container({ publish: ["80:80"], labels: { ip: "10.7.7.7" } });
    assert.equal(build(labelled, fromContainer({ useIpFromLabel: "ip" }))[0]?.ip, "10.7.7.7");
  });
});

describe("7. networks", () => {
  const multi = () =>
    container({
      publish: ["80:80"],
      networkMode: "zeta",
      ip: "",
      networks: { zeta: { IPAddress: "10.0.2.5" }, alpha: { IPAddress: "10.0.1.5" } },
    });

  test("a user-defined network's address is the host address, as upstream", () => {
    assert.equal(build(multi(), options())[0]?.ip, "10.0.2.5");
  });

  test("-internal with several networks picks the first by name, not map order", () => {
    assert.equal(build(multi(), options({ internal: true }))[0]?.ip, "10.0.1.5");
  });

  test("--network picks that network where attached and falls back where not", () => {
    assert.equal(build(multi(), options({ internal: true, network: "zeta" }))[0]?.ip, "10.0.2.5");
    assert.equal(build(multi(), options({ internal: true, network: "elsewhere" }))[0]?.ip, "10.0.1.5");
  });

  test("SERVICE_NETWORK picks per container; an unknown one is ignored naming the networks it has", () => {
    const chosen = multi();
    chosen.Config.Env = ["SERVICE_NETWORK=zeta"];
    assert.equal(build(chosen, options({ internal: true }))[0]?.ip, "10.0.2.5");
    const wrong = multi();
    wrong.Config.Env = ["SERVICE_NETWORK=nope"];
    assert.deepEqual(buildServices(wrong, options({ internal: true })).skipped, [
      { port: "80/tcp", reason: "not attached to network nope (attached: alpha, zeta)" },
    ]);
  });
});

describe("8. tags", () => {
  test("\\, keeps a literal comma; blanks are dropped; -tags then udp follow", () => {
    const c = container({ publish: ["53:53/udp"], env: ["SERVICE_TAGS=a\\,b, c,,"] });
    assert.deepEqual(build(c, options({ tags: ["x", "y"] }))[0]?.tags, ["a,b", "c", "x", "y", "udp"]);
  });
});

describe("9-10. attrs and ttl", () => {
  test("attrs hold every other key, not id, name, tags; ttl is the option", () => {
    const c = container({
      publish: ["80:80"],
      env: ["SERVICE_ID=i", "SERVICE_NAME=n", "SERVICE_TAGS=t", "SERVICE_CHECK_HTTP=/health", "SERVICE_80_WEIGHT=3"],
    });
    const [s] = build(c, options({ ttl: 30 }));
    assert.deepEqual(s?.attrs, { check_http: "/health", weight: "3" });
    assert.equal(s?.ttl, 30);
  });

  test("origin records where the service came from", () => {
    const [s] = build(container({ name: "redis.0", publish: ["10000:6379"] }), options());
    assert.deepEqual(s?.origin, {
      containerId: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
      containerName: "redis.0",
      exposedPort: "6379",
      hostPort: "10000",
      hostIp: "192.168.1.102",
      protocol: "tcp",
    });
  });
});

describe("health-aware registration", () => {
  const withHealth = (status: string, env: string[] = []) => {
    const c = container({ publish: ["80:80"], env });
    c.State = { Running: true, Health: { Status: status } };
    return c;
  };

  test("--require-healthy: a container with a health check registers only while healthy", () => {
    assert.equal(build(withHealth("healthy"), options({ requireHealthy: true })).length, 1);
    assert.deepEqual(buildServices(withHealth("starting"), options({ requireHealthy: true })).skipped, [
      { reason: "not healthy (health: starting)" },
    ]);
    assert.equal(build(withHealth("unhealthy"), options({ requireHealthy: true })).length, 0);
  });

  test("containers without a health check are unaffected", () => {
    assert.equal(build(container({ publish: ["80:80"] }), options({ requireHealthy: true })).length, 1);
  });

  test("SERVICE_REQUIRE_HEALTHY turns it on or off per container, and is no attribute", () => {
    assert.equal(build(withHealth("starting", ["SERVICE_REQUIRE_HEALTHY=true"]), options()).length, 0);
    const [s] = build(withHealth("starting", ["SERVICE_REQUIRE_HEALTHY=false"]), options({ requireHealthy: true }));
    assert.deepEqual(s?.attrs, {});
  });
});

describe("bounded input", () => {
  const manyPorts = (n: number) => Array.from({ length: n }, (_, i) => String(10000 + i));

  test("EXPOSE of thousands of ports with --net=host: the container is ignored with one reason", () => {
    const huge = container({ name: "huge", networkMode: "host", expose: manyPorts(3000) });
    const built = buildServices(huge, options());
    assert.equal(built.services.length, 0);
    assert.deepEqual(built.skipped, [{ reason: "3000 ports would become services, more than --max-services 256" }]);
  });

  test("100,000 keys for ports Docker never writes, with EXPOSE 1-65535 on the host network: refused by --max-services alone", () => {
    const labels = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`SERVICE_0${i}_X`, "v"]));
    const everyPort = Array.from({ length: 65535 }, (_, i) => String(i + 1));
    const built = buildServices(container({ name: "wide", networkMode: "host", expose: everyPort, labels }), options());
    assert.deepEqual(built, { services: [], skipped: [{ reason: "65535 ports would become services, more than --max-services 256" }] });
  });

  test("the same keys beside a published port: a few lines about them, one that counts the rest, and the service", () => {
    const labels = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`SERVICE_0${i}_X`, "v"]));
    const built = buildServices(container({ name: "keys", publish: ["8080:80"], labels, env: ["SERVICE_80_NAME=web"] }), options());
    assert.deepEqual(
      built.services.map((s) => [s.id, s.name]),
      [["hostname:keys:80", "web"]],
    );
    assert.equal(built.skipped.length, 9);
    assert.deepEqual(built.skipped[0], {
      reason: "metadata key ignored: SERVICE_00_X: 00 is not a port number as Docker writes it (1 to 65535, no sign or leading zero)",
    });
    assert.deepEqual(built.skipped[8], { reason: "metadata key ignored: 99992 more keys" });
  });

  test("more than 64 port-range keys: the rest are dropped with a reason, each kept one still applies", () => {
    const labels = Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`SERVICE_1-65535_K${String(i).padStart(2, "0")}`, "v"]));
    const built = buildServices(container({ name: "ranges", publish: ["8080:80"], labels }), options());
    assert.equal(Object.keys(built.services[0]!.attrs).length, 64);
    assert.deepEqual(built.skipped.slice(0, 2), [
      { reason: "metadata key ignored: SERVICE_1-65535_K64: more than 64 port-range keys" },
      { reason: "metadata key ignored: SERVICE_1-65535_K65: more than 64 port-range keys" },
    ]);
  });

  test("attributes every port would carry, over the cap per service or for all together: refused once, before any port", () => {
    const perService = Object.fromEntries(Array.from({ length: 30_000 }, (_, i) => [`SERVICE_K${i}`, "v"]));
    const wide = container({ name: "wide", networkMode: "host", expose: manyPorts(256), labels: perService });
    assert.deepEqual(buildServices(wide, options()), {
      services: [],
      skipped: [{ reason: "198890 bytes of tags and attributes, more than 65536 per service" }],
    });
    const together = container({ name: "wide", networkMode: "host", expose: manyPorts(256), env: [`SERVICE_NOTE=${"n".repeat(5000)}`] });
    assert.deepEqual(buildServices(together, options()).skipped, [
      { reason: "256 services of at least 5004 bytes of tags and attributes each, more than 1048576 for one container" },
    ]);
    const fewer = container({ name: "fewer", networkMode: "host", expose: manyPorts(200), env: [`SERVICE_NOTE=${"n".repeat(5000)}`] });
    assert.equal(buildServices(fewer, options()).services.length, 200);
  });

  test("a generic value a port key replaces counts one byte: the port's own value decides", () => {
    const env = [`SERVICE_BLOB=${"x".repeat(70_000)}`, "SERVICE_80_BLOB=small"];
    const built = buildServices(container({ name: "mixed", publish: ["8080:80", "8081:81"], env }), options());
    assert.deepEqual(
      built.services.map((s) => [s.origin.exposedPort, s.attrs.blob]),
      [["80", "small"]],
    );
    assert.match(built.skipped[0]!.reason, /^70004 bytes of tags and attributes, more than 65536 per service$/);
  });

  test("--max-services raises the cap", () => {
    const wide = container({ name: "wide", networkMode: "host", expose: manyPorts(300) });
    assert.equal(buildServices(wide, options({ maxServices: 300 })).services.length, 300);
  });

  test("many unpublished ports are one line, a few are one line each", () => {
    const quiet = container({ name: "quiet", publish: ["8080:80"], expose: manyPorts(20) });
    assert.deepEqual(buildServices(quiet, options()).skipped, [{ reason: "20 ports not published on host" }]);
    const few = container({ name: "few", publish: ["8080:80"], expose: ["81", "82"] });
    assert.deepEqual(
      buildServices(few, options()).skipped.map((s) => s.port),
      ["81/tcp", "82/tcp"],
    );
  });

  test("a service with more than 64 KiB of tags and attributes is ignored with the reason", () => {
    const env = Array.from({ length: 9 }, (_, i) => `SERVICE_BLOB${i}=${"x".repeat(8000)}`);
    const fat = container({ name: "fat", publish: ["8080:80"], env });
    const built = buildServices(fat, options());
    assert.equal(built.services.length, 0);
    assert.match(built.skipped[0]!.reason, /^72045 bytes of tags and attributes, more than 65536 per service$/);
    const fine = container({ name: "fine", publish: ["8080:80"], env: env.slice(0, 8) });
    assert.equal(buildServices(fine, options()).services.length, 1);
  });
});
