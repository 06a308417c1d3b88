import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  consulStatus,
  mirrorsDockerHealth,
  buildCheck,
  checkUrl,
  consulProblem,
  consulRefusal,
  consulRegistration,
  interpolate,
  isPositiveDuration,
  serviceMeta,
  type ConsulCheck,
  type ConsulRegistration,
} from "../../../src/registry/consul-check.js";
import type { Service } from "../../../src/service/types.js";

const CONTAINER_ID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

function service(attrs: Record<string, string> = {}, overrides: Partial<Service> = {}): Service {
  return {
    id: "hostname:web.0:80",
    name: "web",
    ip: "192.168.1.102",
    port: 8000,
    tags: ["www"],
    attrs,
    ttl: 0,
    origin: {
      containerId: CONTAINER_ID,
      containerName: "web.0",
      exposedPort: "80",
      hostPort: "8000",
      hostIp: "0.0.0.0",
      protocol: "tcp",
    },
    ...overrides,
  };
}

function registration(attrs: Record<string, string>, overrides: Partial<Service> = {}): ConsulRegistration {
  const result = consulRegistration(service(attrs, overrides));
  assert.ok(result.ok, result.ok ? "" : result.reason);
  return result.registration;
}

const check = (attrs: Record<string, string>, overrides: Partial<Service> = {}): ConsulCheck | undefined =>
  registration(attrs, overrides).Check;

describe("registration", () => {
  test("ID, Name, Address, Port, Tags and Meta = attrs; no Check without check attrs", () => {
    assert.deepEqual(registration({ region: "us2", sni: "enabled" }), {
      ID: "hostname:web.0:80",
      Name: "web",
      Address: "192.168.1.102",
      Port: 8000,
      Tags: ["www"],
      Meta: { region: "us2", sni: "enabled" },
    });
  });

  test("check settings become the Check, not Meta; unknown check_ keys stay visible in Meta", () => {
    const reg = registration({ region: "us2", check_http: "/health", check_interval: "15s", check_htp: "/typo" });
    assert.deepEqual(reg.Meta, { region: "us2", check_htp: "/typo" });
    assert.equal(reg.Check?.HTTP, "http://192.168.1.102:8000/health");
  });

  test("the JSON body has exactly the fields Consul's Go client sends", () => {
    const body = JSON.parse(JSON.stringify(registration({ check_ttl: "30s" })));
    assert.deepEqual(Object.keys(body).sort(), ["Address", "Check", "ID", "Meta", "Name", "Port", "Tags"]);
    assert.deepEqual(body.Check, { TTL: "30s" });
  });
});

describe("check kinds (first match wins: http, https, cmd, script, docker, ttl, tcp, grpc)", () => {
  test("http: URL from ip, port and path, default interval 10s", () => {
    assert.deepEqual(check({ check_http: "/health/endpoint/path" }), {
      HTTP: "http://192.168.1.102:8000/health/endpoint/path",
      Interval: "10s",
    });
  });

  test("http with interval, timeout, method and headers", () => {
    assert.deepEqual(
      check({
        check_http: "/h",
        check_interval: "15s",
        check_timeout: "2s",
        check_http_method: "HEAD",
        check_header: '{"X-Token":["a","b"],"Accept":"text/plain"}',
      }),
      {
        HTTP: "http://192.168.1.102:8000/h",
        Method: "HEAD",
        Header: { "X-Token": ["a", "b"], Accept: ["text/plain"] },
        Interval: "15s",
        Timeout: "2s",
      },
    );
  });

  test("http to an IPv6 address puts it in brackets", () => {
    assert.equal(check({ check_http: "/h" }, { ip: "fd00::1" })?.HTTP, "http://[fd00::1]:8000/h");
    assert.equal(check({ check_tcp: "true" }, { ip: "fd00::1" })?.TCP, "[fd00::1]:8000");
  });

  test("https with its method, tls_skip_verify and timeout", () => {
    assert.deepEqual(check({ check_https: "/secure", check_https_method: "PUT", check_tls_skip_verify: "true", check_timeout: "3s" }), {
      HTTP: "https://192.168.1.102:8000/secure",
      Method: "PUT",
      TLSSkipVerify: true,
      Interval: "10s",
      Timeout: "3s",
    });
  });

  test("https takes no method from check_http_method, as v7; tls_skip_verify=false is sent as false", () => {
    assert.deepEqual(check({ check_https: "/s", check_http_method: "HEAD", check_tls_skip_verify: "false" }), {
      HTTP: "https://192.168.1.102:8000/s",
      TLSSkipVerify: false,
      Interval: "10s",
    });
    assert.equal(check({ check_https: "/s", check_https_method: "HEAD" })?.Method, "HEAD");
  });

  test("tls_skip_verify does not apply to plain http", () => {
    assert.equal(check({ check_http: "/h", check_tls_skip_verify: "true" })?.TLSSkipVerify, undefined);
  });

  test("cmd: check-cmd with the short container id, exposed port and command; no timeout", () => {
    assert.deepEqual(check({ check_cmd: "/path/to/check/script --fast", check_timeout: "5s" }), {
      ScriptArgs: ["check-cmd", "0123456789ab", "80", "/path/to/check/script --fast"],
      Interval: "10s",
    });
  });

  test("script: run by a shell, with $SERVICE_IP and $SERVICE_PORT replaced", () => {
    assert.deepEqual(check({ check_script: "nc $SERVICE_IP $SERVICE_PORT | grep OK", check_interval: "5s" }), {
      ScriptArgs: ["/bin/sh", "-c", "nc 192.168.1.102 8000 | grep OK"],
      Interval: "5s",
    });
  });

  test("docker: DockerContainerID, Shell (default /bin/sh) and the command through that shell", () => {
    assert.deepEqual(check({ check_docker: "curl -f localhost/health" }), {
      DockerContainerID: CONTAINER_ID,
      Shell: "/bin/sh",
      ScriptArgs: ["/bin/sh", "-c", "curl -f localhost/health"],
      Interval: "10s",
    });
    assert.deepEqual(check({ check_docker: "true", check_docker_shell: "/bin/bash", check_interval: "30s" }), {
      DockerContainerID: CONTAINER_ID,
      Shell: "/bin/bash",
      ScriptArgs: ["/bin/bash", "-c", "true"],
      Interval: "30s",
    });
  });

  test("ttl: no interval and no timeout", () => {
    assert.deepEqual(check({ check_ttl: "30s", check_interval: "5s", check_timeout: "1s" }), { TTL: "30s" });
  });

  test("tcp: ip:port, any value switches it on", () => {
    assert.deepEqual(check({ check_tcp: "true", check_timeout: "1s" }), {
      TCP: "192.168.1.102:8000",
      Interval: "10s",
      Timeout: "1s",
    });
  });

  test("grpc: ip:port, use_tls with tls_skip_verify", () => {
    assert.deepEqual(check({ check_grpc: "true" }), { GRPC: "192.168.1.102:8000", Interval: "10s" });
    assert.deepEqual(check({ check_grpc: "true", check_grpc_use_tls: "true", check_tls_skip_verify: "1", check_timeout: "2s" }), {
      GRPC: "192.168.1.102:8000",
      GRPCUseTLS: true,
      TLSSkipVerify: true,
      Interval: "10s",
      Timeout: "2s",
    });
  });

  test("grpc without TLS ignores tls_skip_verify", () => {
    assert.deepEqual(check({ check_grpc: "true", check_tls_skip_verify: "true" }), { GRPC: "192.168.1.102:8000", Interval: "10s" });
  });

  test("the first kind in the documented order wins", () => {
    const all = {
      check_http: "/h",
      check_https: "/s",
      check_cmd: "c",
      check_script: "s",
      check_docker: "d",
      check_ttl: "9s",
      check_tcp: "true",
      check_grpc: "true",
    };
    const order = ["check_http", "check_https", "check_cmd", "check_script", "check_docker", "check_ttl", "check_tcp", "check_grpc"];
    const expected: Array<(c: ConsulCheck) => boolean> = [
      (c) => c.HTTP?.startsWith("http:") === true,
      (c) => c.HTTP?.startsWith("https:") === true,
      (c) => c.ScriptArgs?.[0] === "check-cmd",
      (c) => c.ScriptArgs?.[0] === "/bin/sh" && c.DockerContainerID === undefined,
      (c) => c.DockerContainerID === CONTAINER_ID,
      (c) => c.TTL === "9s",
      (c) => c.TCP !== undefined,
      (c) => c.GRPC !== undefined,
    ];
    order.forEach((kind, i) => {
      const attrs = Object.fromEntries(Object.entries(all).filter(([key]) => order.indexOf(key) >= i));
      const built = check(attrs);
      assert.ok(built && expected[i]!(built), `${kind} should win: ${JSON.stringify(built)}`);
    });
  });

  test("no kind, no check", () => {
    assert.equal(buildCheck(service({ check_interval: "5s", check_notes: "n" })), undefined);
  });
});

describe("settings that apply to every kind", () => {
  test("initial status, notes, deregister after, failures before critical, success before passing", () => {
    const common = {
      check_initial_status: "warning",
      check_notes: "see the runbook",
      check_deregister_after: "90m",
      check_failures_before_critical: "3",
      check_success_before_passing: "2",
    };
    const expected = {
      Status: "warning",
      Notes: "see the runbook",
      DeregisterCriticalServiceAfter: "90m",
      FailuresBeforeCritical: 3,
      SuccessBeforePassing: 2,
    };
    assert.deepEqual(check({ check_ttl: "30s", ...common }), { TTL: "30s", ...expected });
    assert.deepEqual(check({ check_tcp: "1", ...common }), { TCP: "192.168.1.102:8000", Interval: "10s", ...expected });
    assert.deepEqual(check({ check_script: "true", ...common }), { ScriptArgs: ["/bin/sh", "-c", "true"], Interval: "10s", ...expected });
  });

  test("header applies to http and https only", () => {
    assert.deepEqual(check({ check_https: "/s", check_header: '{"A":["1"]}' })?.Header, { A: ["1"] });
    assert.equal(check({ check_tcp: "1", check_header: '{"A":["1"]}' })?.Header, undefined);
  });
});

describe("values Consul would refuse are reasons, not requests", () => {
  const reason = (attrs: Record<string, string>) => consulProblem(service(attrs));

  test("bad durations", () => {
    assert.equal(
      reason({ check_http: "/h", check_interval: "abc" }),
      "check_interval=abc: not a positive duration (use e.g. 10s, 1m30s, 500ms)",
    );
    assert.match(reason({ check_http: "/h", check_timeout: "5" }) ?? "", /^check_timeout=5: not a positive duration/);
    assert.match(reason({ check_ttl: "0s" }) ?? "", /^check_ttl=0s: not a positive duration/);
    assert.match(reason({ check_tcp: "1", check_interval: "-5s" }) ?? "", /^check_interval=-5s/);
    assert.match(reason({ check_tcp: "1", check_deregister_after: "soon" }) ?? "", /^check_deregister_after=soon/);
  });

  test("a bad setting is reported even when no check kind is set", () => {
    assert.match(reason({ check_interval: "abc" }) ?? "", /^check_interval=abc/);
  });

  test("bad status, booleans, counts, methods and headers", () => {
    assert.equal(
      reason({ check_ttl: "5s", check_initial_status: "ok" }),
      "check_initial_status=ok: must be one of passing, warning, critical",
    );
    assert.equal(
      reason({ check_https: "/", check_tls_skip_verify: "yes" }),
      "check_tls_skip_verify=yes: not a boolean (use true or false)",
    );
    assert.match(reason({ check_grpc: "1", check_grpc_use_tls: "on" }) ?? "", /^check_grpc_use_tls=on: not a boolean/);
    assert.equal(reason({ check_tcp: "1", check_failures_before_critical: "-1" }), "check_failures_before_critical=-1: not a whole number");
    assert.match(reason({ check_tcp: "1", check_success_before_passing: "two" }) ?? "", /not a whole number/);
    assert.equal(reason({ check_http: "/", check_http_method: "GE T" }), 'check method "GE T" is not an HTTP method');
    assert.match(reason({ check_http: "/", check_header: "X-Token: a" }) ?? "", /^check_header is not JSON/);
    assert.match(reason({ check_http: "/", check_header: '["a"]' }) ?? "", /^check_header must be a JSON object/);
    assert.match(reason({ check_http: "/", check_header: '{"X":[1]}' }) ?? "", /^check_header "X": expected a header name/);
  });

  test("an attribute Consul's Meta cannot hold is dropped with the reason; the service still registers", () => {
    const dropped = (attrs: Record<string, string>) => serviceMeta(attrs).dropped;
    for (const attrs of <Array<Record<string, string>>>[
      { "foo.bar": "1" },
      { ["k".repeat(129)]: "1" },
      { "consul-version": "1" },
      { region: "v".repeat(513) },
      { region: "é".repeat(257) },
    ]) {
      assert.equal(reason(attrs), undefined, `${Object.keys(attrs)[0]}: the service is not refused`);
    }
    assert.deepEqual(dropped({ "foo.bar": "1", ok: "2" }), [
      "metadata foo.bar dropped: key may only contain letters, digits, _ and - (Consul's rule for service Meta)",
    ]);
    assert.deepEqual(serviceMeta({ "foo.bar": "1", ok: "2" }).meta, { ok: "2" });
    assert.match(dropped({ ["k".repeat(129)]: "1" })[0] ?? "", /key is longer than 128 characters/);
    assert.deepEqual(dropped({ ["k".repeat(128)]: "1" }), []);
    assert.match(dropped({ "consul-version": "1" })[0] ?? "", /key prefix consul- is reserved by Consul/);
    assert.match(dropped({ region: "v".repeat(513) })[0] ?? "", /value is longer than 512 bytes/);
    assert.deepEqual(dropped({ region: "v".repeat(512) }), []);
    assert.match(dropped({ region: "é".repeat(257) })[0] ?? "", /value is longer than 512 bytes/, "bytes, not characters");
    const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, "v"]));
    assert.deepEqual(dropped(many(62)), []);
    assert.deepEqual(dropped(many(63)), [
      "metadata k62 dropped: Consul allows at most 64 pairs in service Meta, 2 of them registrator's owner marker (Consul's rule for service Meta)",
    ]);
    assert.deepEqual(dropped({ ...many(62), check_http: "/h", check_interval: "5s" }), [], "check settings do not count");
  });

  test("the owner goes in Meta as registrator_host and registrator_container, which no attribute may set", () => {
    const built = consulRegistration(service({ region: "eu", registrator_host: "forged" }), { hostId: "hostA", container: "c1" });
    assert.ok(built.ok);
    assert.deepEqual(built.registration.Meta, { region: "eu", registrator_host: "hostA", registrator_container: "c1" });
    assert.deepEqual(serviceMeta({ registrator_host: "x", registrator_container: "y" }).dropped, [
      "metadata registrator_host dropped: the key holds registrator's owner marker",
      "metadata registrator_container dropped: the key holds registrator's owner marker",
    ]);
  });

  test("SERVICE_ENABLE_TAG_OVERRIDE=true sets EnableTagOverride, not a Meta pair", () => {
    const built = consulRegistration(service({ enable_tag_override: "true", region: "eu" }));
    assert.ok(built.ok);
    assert.equal(built.registration.EnableTagOverride, true);
    assert.deepEqual(built.registration.Meta, { region: "eu" });
  });

  test("a valid service has no problem", () => {
    assert.equal(reason({ check_http: "/h", check_interval: "1m30s", check_timeout: "500ms", region: "us-2_a" }), undefined);
  });

  test("serviceMeta leaves out the check settings", () => {
    assert.deepEqual(serviceMeta({ check_ttl: "5s", check_notes: "n", a: "1" }).meta, { a: "1" });
  });
});

describe("helpers", () => {
  test("Go durations", () => {
    for (const ok of ["10s", "1m30s", "500ms", "1.5h", "1h2m3s4ms5us6ns", "+5s", "2µs", ".5s"]) assert.ok(isPositiveDuration(ok), ok);
    for (const bad of ["", "abc", "10", "0", "0s", "-1s", "10 s", "1d", "s", "1.s.5"]) assert.ok(!isPositiveDuration(bad), bad);
  });

  test("interpolation replaces every placeholder", () => {
    assert.equal(interpolate("$SERVICE_IP:$SERVICE_PORT $SERVICE_IP", { ip: "1.2.3.4", port: 80 }), "1.2.3.4:80 1.2.3.4");
  });

  test("Consul's refusals: 400, 403 and disabled scripts; other failures are retried", () => {
    assert.equal(consulRefusal(403, "Permission denied"), "Consul refused it (HTTP 403): Permission denied");
    assert.equal(
      consulRefusal(400, 'Request decode failed: invalid "Interval": time: invalid duration "abc"\n'),
      'Consul refused it (HTTP 400): Request decode failed: invalid "Interval": time: invalid duration "abc"',
    );
    assert.match(
      consulRefusal(500, "Scripts are disabled on this agent; to enable, configure 'enable_script_checks' to true") ?? "",
      /HTTP 500/,
    );
    assert.equal(consulRefusal(403, ""), "Consul refused it (HTTP 403): HTTP 403");
    assert.equal(consulRefusal(500, "No cluster leader"), undefined);
    assert.equal(consulRefusal(503, ""), undefined);
  });
});

describe("a check probes its own service and nothing else", () => {
  const reason = (attrs: Record<string, string>, overrides: Partial<Service> = {}) => consulProblem(service(attrs, overrides));

  test("userinfo tricks and other hosts in the path are refused, so the service is ignored", () => {
    const aimed = [
      "@169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token",
      "@127.0.0.1:8500/v1/agent/leave",
      ":1@127.0.0.1:8500/v1/agent/leave",
      "/x@169.254.169.254/",
      "\\169.254.169.254/latest/meta-data/",
      "/\\169.254.169.254/",
      "169.254.169.254/latest",
      "health",
      ".evil.example/",
      ":8500/v1/agent/leave",
      "?x=1",
      "#/",
    ];
    for (const path of aimed) {
      for (const key of ["check_http", "check_https"]) {
        const why = reason({ [key]: path, check_http_method: "PUT" });
        assert.match(why ?? "", new RegExp(`^${key}=.*the check must probe the service's own address$`), `${key}=${JSON.stringify(path)}`);
      }
    }
  });

  test("control characters are refused rather than silently dropped by the URL parser", () => {
    for (const path of ["/a\tb", "/a\nb", "/a\rb", "/\u0000", "/\u001b[31m", "/\u007f", "/\u0085"]) {
      assert.match(reason({ check_http: path }) ?? "", /must not contain @, \\ or control characters/, JSON.stringify(path));
    }
  });

  test("a path that looks like a second authority stays a path on the service", () => {
    assert.equal(check({ check_http: "//169.254.169.254/x" })?.HTTP, "http://192.168.1.102:8000//169.254.169.254/x");
    assert.equal(check({ check_http: "/a/../../b?c=1#frag" })?.HTTP, "http://192.168.1.102:8000/b?c=1");
    assert.equal(check({ check_http: "/a b/%40" })?.HTTP, "http://192.168.1.102:8000/a%20b/%40");
  });

  test("the port stays written out, even the scheme's default", () => {
    assert.equal(checkUrl("http", { ip: "10.0.0.5", port: 80 }, "check_http", "/h"), "http://10.0.0.5:80/h");
    assert.equal(checkUrl("https", { ip: "fd00::1", port: 443 }, "check_https", "/h"), "https://[fd00::1]:443/h");
  });

  test("an address that is no IP or host name (e.g. from a label) gets no check of any kind", () => {
    for (const ip of ["10.0.0.5@169.254.169.254", "10.0.0.5:9000", "10.0.0.5/x", "a b", "", "-x"]) {
      const kinds: Array<Record<string, string>> = [
        { check_http: "/h" },
        { check_https: "/h" },
        { check_tcp: "true" },
        { check_grpc: "true" },
      ];
      for (const attrs of kinds) {
        assert.match(
          reason(attrs, { ip }) ?? "",
          /neither an IP address nor a host name|not a valid URL/,
          `${ip} ${JSON.stringify(attrs)}`,
        );
      }
    }
    assert.equal(check({ check_tcp: "true" }, { ip: "web.internal" })?.TCP, "web.internal:8000");
    assert.match(reason({ check_grpc: "true" }, { port: 0 }) ?? "", /port 0 is not a port number/);
  });

  test("tcp and grpc targets are the service's ip:port whatever the value says", () => {
    assert.equal(check({ check_tcp: "169.254.169.254:80" })?.TCP, "192.168.1.102:8000");
    assert.equal(check({ check_grpc: "127.0.0.1:8502/evil" })?.GRPC, "192.168.1.102:8000");
  });

  test("checks that do not name a target keep working with any address", () => {
    assert.deepEqual(check({ check_ttl: "5s" }, { ip: "not an address" }), { TTL: "5s" });
  });
});

describe("SERVICE_CHECK_DOCKER_HEALTH", () => {
  test("a 30s TTL check that registrator keeps up to date, and no Meta", () => {
    assert.deepEqual(check({ check_docker_health: "true" }), { TTL: "30s" });
    assert.deepEqual(registration({ check_docker_health: "true", region: "eu" }).Meta, { region: "eu" });
    assert.equal(mirrorsDockerHealth(service({ check_docker_health: "true" })), true);
    assert.equal(mirrorsDockerHealth(service({ check_docker_health: "false" })), false);
    assert.equal(mirrorsDockerHealth(service({ check_docker_health: "maybe" })), false);
  });

  test("it wins over other check kinds, since the operator asked for Docker's own check", () => {
    assert.deepEqual(check({ check_docker_health: "true", check_http: "/health" }), { TTL: "30s" });
  });

  test("healthy is passing; starting and unhealthy are critical", () => {
    assert.deepEqual(["healthy", "starting", "unhealthy"].map(consulStatus), ["passing", "critical", "critical"]);
  });
});
