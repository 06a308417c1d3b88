// The test servers start for real: a starter that cannot start its server
// fails every test that needs it (not a skip, not just a cancelled hook), so
// a broken machine setup shows up by name.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { startConsul } from "../support/consul.js";
import { ensureDocker } from "../support/docker.js";
import { startEtcd } from "../support/etcd.js";
import { freePorts } from "../support/ports.js";
import { httpRequest, removeDir, tempDir } from "../support/process.js";
import { makeCerts, type TestCerts } from "../support/tls.js";
import { waitFor } from "../support/wait.js";
import { fourLetterWord, startZookeeper } from "../support/zookeeper.js";

/**
 * Starts the server on first use and stops it (then runs cleanUp) after the
 * suite; a failed start fails each test that uses it.
 */
function lazyServer<T extends { stop(): Promise<void> }>(start: () => Promise<T>, cleanUp = (): void => {}): () => Promise<T> {
  let started: Promise<T> | undefined;
  after(async () => {
    const server = await started?.catch(() => undefined);
    await server?.stop();
    cleanUp();
  });
  return () => (started ??= start());
}

/** Makes the certificates in dir on first use. */
function lazyCerts(dir: string): () => Promise<TestCerts> {
  let made: Promise<TestCerts> | undefined;
  return () => (made ??= makeCerts(dir));
}

describe("waitFor and ports", () => {
  test("waitFor returns the first truthy value", async () => {
    let calls = 0;
    assert.equal(await waitFor(() => (++calls >= 3 ? "ready" : undefined), { intervalMs: 1 }), "ready");
  });

  test("waitFor reports what it waited for and the last error", async () => {
    const probe = (): never => {
      throw new Error("connection refused");
    };
    await assert.rejects(waitFor(probe, { timeoutMs: 100, what: "the moon" }), {
      message: /^timed out after 100ms waiting for the moon; last error: connection refused/,
    });
  });

  test("freePorts hands out distinct ports", async () => {
    const ports = await freePorts(20);
    assert.equal(new Set(ports).size, 20);
  });
});

describe("docker", () => {
  const docker = lazyServer(ensureDocker);

  test("runs a container from a test image and reports its port binding", async () => {
    const d = await docker();
    assert.equal(await ensureDocker(), d);
    const image = await d.image("dockerfile/redis");
    const id = await d.run(["-p", "18080:80", image, "sleep", "3600"]);
    const { stdout } = await d.docker(["inspect", "--format", "{{json .NetworkSettings.Ports}}", id]);
    assert.deepEqual(JSON.parse(stdout), { "80/tcp": [{ HostIp: "0.0.0.0", HostPort: "18080" }] });
  });

  test("tags images with registry hosts and reports exit codes", async () => {
    const d = await docker();
    const image = await d.image("registry.example.com:5000/team/app:1.2");
    const id = await d.run([image, "sh", "-c", "exit 3"]);
    const state = await waitFor(
      async () => {
        const { stdout } = await d.docker(["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", id]);
        return stdout.startsWith("exited") && stdout.trim();
      },
      { what: "the container to exit" },
    );
    assert.equal(state, "exited 3");
  });

  test("removeAll removes every test container", async () => {
    const d = await docker();
    await d.run([await d.image("progrium/nginx:latest"), "sleep", "3600"]);
    await d.removeAll();
    const { stdout } = await d.docker(["ps", "-aq", "--filter", "label=registrator-test=1"]);
    assert.equal(stdout.trim(), "");
  });
});

describe("etcd", () => {
  const server = lazyServer(() => startEtcd({ v2: true }));

  test("put, get, list and leases", async () => {
    const etcd = await server();
    await etcd.put("/services/web/a", "127.0.0.1:80");
    await etcd.put("/services/web/b", "127.0.0.1:81", { ttlSeconds: 30 });
    await etcd.put("/services/webx", "elsewhere");
    assert.equal(await etcd.get("/services/web/a"), "127.0.0.1:80");
    assert.equal(await etcd.get("/services/none"), undefined);
    assert.deepEqual(await etcd.list("/services/web/"), {
      "/services/web/a": "127.0.0.1:80",
      "/services/web/b": "127.0.0.1:81",
    });
    assert.equal(await etcd.leaseOf("/services/web/a"), "0");
    assert.match(await etcd.leaseOf("/services/web/b"), /^[1-9][0-9]*$/);
    await assert.rejects(etcd.leaseOf("/services/none"), /does not exist/);
  });

  test("serves the v2 API when asked", async () => {
    const etcd = await server();
    const res = await fetch(`${etcd.endpoint}/v2/keys/`);
    assert.equal(res.status, 200);
  });

  test("keeps its data across kill and restart", async () => {
    const etcd = await server();
    await etcd.put("/survives", "yes");
    await etcd.kill();
    await assert.rejects(etcd.get("/survives"));
    await etcd.restart();
    assert.equal(await etcd.get("/survives"), "yes");
  });
});

describe("etcd with TLS", () => {
  const dir = tempDir("etcd-certs");
  const certs = lazyCerts(dir);
  const server = lazyServer(
    async () => startEtcd({ tls: { ...(await certs()), clientCertAuth: true } }),
    () => removeDir(dir),
  );

  test("answers over https with a client certificate", async () => {
    const etcd = await server();
    assert.match(etcd.endpoint, /^https:\/\/127\.0\.0\.1:\d+$/);
    await etcd.put("/tls", "ok");
    assert.equal(await etcd.get("/tls"), "ok");
  });

  test("refuses a client without a certificate", async () => {
    const etcd = await server();
    const ca = readFileSync((await certs()).caFile, "utf8");
    await assert.rejects(httpRequest({ method: "POST", url: `${etcd.endpoint}/v3/kv/range`, body: '{"key":"dGxz"}', ca }));
  });
});

describe("consul", () => {
  const server = lazyServer(() => startConsul({ enableScriptChecks: true }));

  test("registers a service through the agent and shows it in the catalog", async () => {
    const consul = await server();
    const reg = await consul.api("PUT", "/v1/agent/service/register", { ID: "web-1", Name: "web", Address: "127.0.0.1", Port: 8080 });
    assert.equal(reg.status, 200);
    const entries = await waitFor(
      async () => {
        const res = await consul.api<{ ServiceID: string; ServicePort: number }[]>("GET", "/v1/catalog/service/web");
        return res.body.length > 0 && res.body;
      },
      { what: "web in the catalog" },
    );
    assert.deepEqual(
      entries.map((e) => [e.ServiceID, e.ServicePort]),
      [["web-1", 8080]],
    );
  });

  test("accepts script checks when enabled", async () => {
    const consul = await server();
    const reg = await consul.api("PUT", "/v1/agent/check/register", { Name: "script", Args: ["/bin/true"], Interval: "10s" });
    assert.equal(reg.status, 200);
  });
});

describe("consul with TLS, ACLs and a unix socket", () => {
  const token = "registrator-test-master-token";
  const dir = tempDir("consul-certs");
  const certs = lazyCerts(dir);
  const server = lazyServer(
    async () => startConsul({ tls: await certs(), aclMasterToken: token, unixSocket: join(dir, "consul.sock") }),
    () => removeDir(dir),
  );

  test("answers on its https port to a client that trusts the CA", async () => {
    const consul = await server();
    assert.ok(consul.httpsPort);
    const url = `https://127.0.0.1:${consul.httpsPort}/v1/status/leader`;
    const res = await httpRequest({ url, ca: readFileSync((await certs()).caFile, "utf8") });
    assert.equal(res.status, 200);
    await assert.rejects(httpRequest({ url }), /self[- ]signed|unable to verify/i);
  });

  test("answers on the unix socket", async () => {
    await server();
    const res = await httpRequest({ url: "http://consul/v1/status/leader", socketPath: join(dir, "consul.sock") });
    assert.equal(res.status, 200);
  });

  test("hides services from anonymous requests and shows them with the token", async () => {
    const consul = await server();
    const service = { ID: "db-1", Name: "db", Port: 5432 };
    const anonymous = await consul.api("PUT", "/v1/agent/service/register", service);
    assert.equal(anonymous.status, 403);
    assert.equal((await consul.api("PUT", "/v1/agent/service/register", service, token)).status, 200);

    const hidden = await consul.api<Record<string, unknown>>("GET", "/v1/agent/services");
    assert.ok(hidden.status === 403 || Object.keys(hidden.body).length === 0, `anonymous saw ${JSON.stringify(hidden.body)}`);
    const visible = await consul.api<Record<string, unknown>>("GET", "/v1/agent/services", undefined, token);
    assert.deepEqual(Object.keys(visible.body), ["db-1"]);
  });
});

describe("zookeeper", () => {
  const server = lazyServer(startZookeeper);

  test("serves on its port and comes back after a restart", async () => {
    const zk = await server();
    assert.equal(zk.connectString, `127.0.0.1:${zk.port}`);
    assert.equal(await fourLetterWord(zk.port, "ruok"), "imok");
    await zk.restart();
    assert.match(await fourLetterWord(zk.port, "srvr"), /Mode: standalone/);
  });
});
