import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { appName, eurekaTarget, flattenApps, instancePath, instancePayload, serviceProblem } from "../../../src/registry/eureka.js";
import { parseRegistryUri } from "../../../src/registry/uri.js";
import { webService } from "./fixtures.js";

const service = webService;

describe("URI", () => {
  test("host:port is the server, the path Eureka's REST base", () => {
    assert.deepEqual(eurekaTarget(parseRegistryUri("eureka://10.0.0.1:8761/eureka")), { origin: "http://10.0.0.1:8761", base: "/eureka" });
    assert.deepEqual(eurekaTarget(parseRegistryUri("eureka://10.0.0.1/eureka/v2/")), {
      origin: "http://10.0.0.1:8761",
      base: "/eureka/v2",
    });
  });

  test("without a host, the Go registrator's default eureka:8761", () => {
    assert.equal(eurekaTarget(parseRegistryUri("eureka:")).origin, "http://eureka:8761");
  });
});

describe("instances", () => {
  test("application = name in upper case; paths escape the id", () => {
    assert.equal(appName(service({ name: "my-web" })), "MY-WEB");
    assert.equal(instancePath("/eureka", service()), "/eureka/apps/WEB/myhost%3Aweb%3A80");
    assert.equal(instancePath("", service({ id: "a b" })), "/apps/WEB/a%20b");
  });

  test("payload: the fields Eureka requires, port as {$, @enabled}, MyOwn data center, attrs as metadata", () => {
    assert.deepEqual(instancePayload(service(), { ttl: 0, renewalSeconds: 30 }), {
      instance: {
        instanceId: "myhost:web:80",
        hostName: "10.0.0.5",
        app: "WEB",
        ipAddr: "10.0.0.5",
        vipAddress: "web",
        status: "UP",
        port: { $: 32768, "@enabled": "true" },
        dataCenterInfo: { "@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo", name: "MyOwn" },
        metadata: { region: "eu" },
        leaseInfo: { renewalIntervalInSecs: 30 },
      },
    });
  });

  test("the owner goes in metadata as registrator_host and registrator_container, which no attribute may set", () => {
    const owner = { hostId: "hostA", container: "c1" };
    const forged = service({ attrs: { region: "eu", registrator_host: "forged" } });
    assert.deepEqual(instancePayload(forged, { ttl: 0, renewalSeconds: 30 }, owner).instance.metadata, {
      region: "eu",
      registrator_host: "hostA",
      registrator_container: "c1",
    });
    const listed = flattenApps({
      applications: {
        application: [{ name: "WEB", instance: [instancePayload(service(), { ttl: 0, renewalSeconds: 30 }, owner).instance] }],
      },
    });
    assert.deepEqual(
      listed.map((s) => [s.service.id, s.owner]),
      [["myhost:web:80", owner]],
    );
    const halfMarked = { instanceId: "x", ipAddr: "10.0.0.1", port: { $: 80 }, metadata: { registrator_host: "h" } };
    assert.equal(
      flattenApps({ applications: { application: [{ name: "X", instance: [halfMarked] }] } })[0]?.owner,
      undefined,
      "half a marker names nobody",
    );
  });

  test("-ttl sets the lease duration; -ttl-refresh the renewal interval", () => {
    assert.deepEqual(instancePayload(service(), { ttl: 15, renewalSeconds: 5 }).instance.leaseInfo, {
      renewalIntervalInSecs: 5,
      durationInSecs: 15,
    });
  });

  test("names and ids with / are refused", () => {
    assert.equal(serviceProblem(service()), undefined);
    assert.match(serviceProblem(service({ name: "a/b" })) ?? "", /application name/);
    assert.match(serviceProblem(service({ name: "" })) ?? "", /application name/);
    assert.match(serviceProblem(service({ id: "h:a/b:80" })) ?? "", /instance id/);
  });
});

describe("GET /apps", () => {
  test("Jackson codec (Eureka 1.4+, Spring Cloud): arrays, numeric port", () => {
    const body = {
      applications: {
        versions__delta: "1",
        apps__hashcode: "UP_3_",
        application: [
          {
            name: "WEB",
            instance: [
              { instanceId: "myhost:web:80", app: "WEB", vipAddress: "web", ipAddr: "10.0.0.5", port: { $: 32768, "@enabled": "true" } },
              { instanceId: "other", app: "WEB", vipAddress: "web-vip", ipAddr: "10.0.0.6", port: { $: 80, "@enabled": "true" } },
            ],
          },
          { name: "DB", instance: [{ hostName: "db.local", app: "DB", ipAddr: "10.0.0.7", port: { $: 5432 } }] },
        ],
      },
    };
    assert.deepEqual(
      flattenApps(body).map(({ service: s }) => [s.id, s.name, s.ip, s.port]),
      [
        ["myhost:web:80", "web", "10.0.0.5", 32768],
        ["other", "WEB", "10.0.0.6", 80],
        ["db.local", "DB", "10.0.0.7", 5432],
      ],
    );
  });

  test("XStream codec (older Eureka): a list of one is an object, numbers are strings", () => {
    const body = {
      applications: {
        application: { name: "WEB", instance: { instanceId: "i-1", vipAddress: "web", ipAddr: "10.0.0.5", port: { $: "8080" } } },
      },
    };
    assert.deepEqual(
      flattenApps(body).map(({ service: s }) => [s.id, s.name, s.port]),
      [["i-1", "web", 8080]],
    );
  });

  test("empty or odd answers give no services", () => {
    for (const body of [
      {},
      { applications: {} },
      { applications: { application: [] } },
      { applications: { application: "" } },
      null,
      undefined,
    ]) {
      assert.deepEqual(flattenApps(body), [], JSON.stringify(body));
    }
  });
});
