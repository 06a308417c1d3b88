import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { engineEndpoint, listedView, negotiateVersion } from "../../../src/engine/docker.js";
import { parseEvent } from "../../../src/engine/events.js";
import { tempDir } from "../../support/process.js";

test("socket fallback: /tmp/docker.sock when it exists, else /var/run/docker.sock", () => {
  assert.equal(engineEndpoint({}, (p) => p === "/tmp/docker.sock").socketPath, "/tmp/docker.sock");
  assert.equal(engineEndpoint({}, () => false).socketPath, "/var/run/docker.sock");
});

test("DOCKER_HOST unix:// and tcp://", () => {
  assert.equal(engineEndpoint({ DOCKER_HOST: "unix:///run/podman/podman.sock" }).socketPath, "/run/podman/podman.sock");
  assert.deepEqual(engineEndpoint({ DOCKER_HOST: "tcp://10.0.0.1:2375" }), { url: "http://10.0.0.1:2375" });
});

test("DOCKER_TLS_VERIFY with DOCKER_CERT_PATH reads ca.pem, cert.pem, key.pem", () => {
  const dir = tempDir("certs");
  for (const name of ["ca.pem", "cert.pem", "key.pem"]) writeFileSync(join(dir, name), name);
  const endpoint = engineEndpoint({ DOCKER_HOST: "tcp://10.0.0.1:2376", DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: dir });
  assert.equal(endpoint.url, "https://10.0.0.1:2376");
  assert.equal(String(endpoint.tls?.ca), "ca.pem");
  assert.equal(String(endpoint.tls?.key), "key.pem");
  assert.equal(endpoint.tls?.rejectUnauthorized, true);
});

describe("TLS to the engine is verified unless DOCKER_TLS alone asks otherwise", () => {
  const certDir = (...names: string[]) => {
    const dir = tempDir("certs");
    for (const name of names) writeFileSync(join(dir, name), name);
    return dir;
  };
  const endpoint = (env: NodeJS.ProcessEnv, dir = certDir()) => engineEndpoint({ DOCKER_CERT_PATH: dir, ...env });

  test("tcp:// alone, or with DOCKER_TLS_VERIFY or DOCKER_TLS empty or 0: plain HTTP, no warning", () => {
    for (const extra of [{}, { DOCKER_TLS_VERIFY: "" }, { DOCKER_TLS_VERIFY: "0" }, { DOCKER_TLS: "" }, { DOCKER_TLS: "0" }]) {
      const e = endpoint({ DOCKER_HOST: "tcp://10.0.0.1:2375", ...extra });
      assert.deepEqual(
        { url: e.url, tls: e.tls, warning: e.warning },
        { url: "http://10.0.0.1:2375", tls: undefined, warning: undefined },
        JSON.stringify(extra),
      );
    }
  });

  test("DOCKER_TLS_VERIFY: verified, with or without DOCKER_TLS, whatever the scheme", () => {
    const dir = certDir("ca.pem", "cert.pem", "key.pem");
    for (const host of ["tcp://10.0.0.1:2376", "https://10.0.0.1:2376"]) {
      for (const extra of [{}, { DOCKER_TLS: "1" }]) {
        const e = endpoint({ DOCKER_HOST: host, DOCKER_TLS_VERIFY: "1", ...extra }, dir);
        assert.equal(e.url, "https://10.0.0.1:2376");
        assert.equal(e.tls?.rejectUnauthorized, true, `${host} ${JSON.stringify(extra)}`);
        assert.equal(String(e.tls?.ca), "ca.pem");
        assert.equal(e.warning, undefined);
      }
    }
  });

  test("DOCKER_TLS_VERIFY names a missing certificate file", () => {
    assert.throws(
      () => endpoint({ DOCKER_HOST: "tcp://10.0.0.1:2376", DOCKER_TLS_VERIFY: "1" }, certDir("cert.pem", "key.pem")),
      /cannot read ca\.pem in .* \(DOCKER_CERT_PATH\): ENOENT/,
    );
  });

  test("https:// without either variable: verified, against ca.pem when there is one, else the system's CAs", () => {
    const bare = endpoint({ DOCKER_HOST: "https://docker.example:2376" });
    assert.deepEqual(bare, { url: "https://docker.example:2376", tls: { rejectUnauthorized: true } });
    const withCa = endpoint({ DOCKER_HOST: "https://docker.example:2376" }, certDir("ca.pem", "cert.pem", "key.pem"));
    assert.equal(withCa.tls?.rejectUnauthorized, true);
    assert.deepEqual([String(withCa.tls?.ca), String(withCa.tls?.cert), String(withCa.tls?.key)], ["ca.pem", "cert.pem", "key.pem"]);
    assert.equal(withCa.warning, undefined);
  });

  test("a client certificate without its key, or the reverse, is a configuration error", () => {
    assert.throws(() => endpoint({ DOCKER_HOST: "https://h:2376" }, certDir("cert.pem")), /cannot read key\.pem/);
    assert.throws(() => endpoint({ DOCKER_HOST: "tcp://h:2376", DOCKER_TLS: "1" }, certDir("key.pem")), /cannot read cert\.pem/);
  });

  test("DOCKER_TLS without DOCKER_TLS_VERIFY: TLS without verification, and one warning to log", () => {
    for (const host of ["tcp://10.0.0.1:2376", "https://10.0.0.1:2376"]) {
      for (const verify of [undefined, "", "0"]) {
        const e = endpoint({ DOCKER_HOST: host, DOCKER_TLS: "1", DOCKER_TLS_VERIFY: verify });
        assert.equal(e.url, "https://10.0.0.1:2376");
        assert.equal(e.tls?.rejectUnauthorized, false, `${host} DOCKER_TLS_VERIFY=${verify}`);
        assert.equal(typeof e.warning, "string");
        assert.match(
          e.warning!,
          /^DOCKER_TLS is set without DOCKER_TLS_VERIFY: the engine's TLS certificate at 10\.0\.0\.1:2376 is not verified/,
        );
        assert.ok(!e.warning!.includes("\n"), "one line");
      }
    }
  });

  test("sockets ignore the TLS variables", () => {
    const e = endpoint({ DOCKER_HOST: "unix:///run/docker.sock", DOCKER_TLS: "1" });
    assert.deepEqual(e, { url: "http://docker", socketPath: "/run/docker.sock" });
  });
});

test("an unsupported DOCKER_HOST is refused with the reason", () => {
  assert.throws(() => engineEndpoint({ DOCKER_HOST: "ssh://me@host" }), /DOCKER_HOST "ssh:\/\/me@host" is not supported/);
});

test("API version: the daemon's own, capped at what we know", () => {
  assert.equal(negotiateVersion("1.41"), "1.41"); // Debian's Docker 20.10
  assert.equal(negotiateVersion("1.52", "1.44"), "1.47"); // Docker 29 refuses anything older than 1.44
  assert.throws(() => negotiateVersion("1.12"), /needs 1.24 or newer/);
  assert.throws(() => negotiateVersion("1.60", "1.50"), /needs API 1.50 or newer/);
});

test("event lines: start, die with exit code, health, and others ignored", () => {
  const line = (action: string, attrs: Record<string, string> = {}) =>
    JSON.stringify({ Type: "container", Action: action, Actor: { ID: "abc", Attributes: attrs } });
  assert.deepEqual(parseEvent(line("start")), { id: "abc", action: "start" });
  assert.deepEqual(parseEvent(line("die", { exitCode: "3" })), { id: "abc", action: "die", exitCode: 3 });
  assert.deepEqual(parseEvent(line("health_status: unhealthy")), { id: "abc", action: "health_status" });
  assert.equal(parseEvent(JSON.stringify({ Type: "network", Action: "connect", Actor: { ID: "n" } })), undefined);
  assert.equal(parseEvent("not json"), undefined);
});

test("what the container list shows: a new port or network endpoint changes it, the status line does not", () => {
  const listed = (port: number, endpoint: string, status: string) => ({
    Id: "c1",
    Status: status,
    Ports: [{ IP: "0.0.0.0", PrivatePort: 80, PublicPort: port, Type: "tcp" }],
    NetworkSettings: { Networks: { bridge: { EndpointID: endpoint, IPAddress: "172.17.0.2", GlobalIPv6Address: "" } } },
  });
  const before = listedView(listed(32768, "e1", "Up 5 seconds"));
  assert.equal(listedView(listed(32768, "e1", "Up 10 minutes")), before);
  assert.notEqual(listedView(listed(32769, "e1", "Up 5 seconds")), before, "a restart that moved the published port");
  assert.notEqual(listedView(listed(32768, "e2", "Up 5 seconds")), before, "a restart, or a network reconnected");
});
