import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { engineEndpoint, negotiateVersion } from "../../../src/engine/docker.js";
import { parseEvent } from "../../../src/engine/events.js";

test("socket fallback: /tmp/docker.sock when it exists, else /var/run/docker.sock", () => {
  assert.equal(engineEndpoint({}, (p) => p === "/tmp/docker.sock").socketPath, "/tmp/docker.sock");
  assert.equal(engineEndpoint({}, () => false).socketPath, "/var/run/docker.sock");
});

test("DOCKER_HOST unix:// and tcp://", () => {
  assert.equal(engineEndpoint({ DOCKER_HOST: "unix:///run/podman/podman.sock" }).socketPath, "/run/podman/podman.sock");
  assert.deepEqual(engineEndpoint({ DOCKER_HOST: "tcp://10.0.0.1:2375" }), { url: "http://10.0.0.1:2375" });
});

test("DOCKER_TLS_VERIFY with DOCKER_CERT_PATH reads ca.pem, cert.pem, key.pem", () => {
  const dir = mkdtempSync(join(tmpdir(), "certs-"));
  for (const name of ["ca.pem", "cert.pem", "key.pem"]) writeFileSync(join(dir, name), name);
  const endpoint = engineEndpoint({ DOCKER_HOST: "tcp://10.0.0.1:2376", DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: dir });
  assert.equal(endpoint.url, "https://10.0.0.1:2376");
  assert.equal(String(endpoint.tls?.ca), "ca.pem");
  assert.equal(String(endpoint.tls?.key), "key.pem");
  assert.equal(endpoint.tls?.rejectUnauthorized, true);
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
