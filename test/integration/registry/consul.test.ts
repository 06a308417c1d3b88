/**
 * The Consul catalog backend against a real Consul agent (1.0.8 from CONSUL_BIN, PATH or ../shared/bin),
 * a real dockerd and the real CLI. Health checks are read back from the agent and, where the agent
 * runs them, from what they did: Consul 1.0.8 reports no check definition in /v1/agent/checks.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { Resolver } from "node:dns/promises";
import { hostname } from "node:os";
import { delimiter, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { create } from "../../../src/registry/consul.js";
import { OwnedElsewhereError, type RegistryAdapter } from "../../../src/registry/types.js";
import { parseRegistryUri } from "../../../src/registry/uri.js";
import { webService } from "../../unit/registry/fixtures.js";
import { startConsul, type ConsulServer } from "../../support/consul.js";
import { ensureDocker, type DockerHarness } from "../../support/docker.js";
import { freePort } from "../../support/ports.js";
import { tempDir } from "../../support/process.js";
import { runRegistrator, startRegistrator, type LogLine, type RegistratorProcess } from "../../support/registrator.js";
import { makeCerts, type TestCerts } from "../../support/tls.js";
import { waitFor } from "../../support/wait.js";

const HOST = hostname();
const TTL_NOTICE = "-ttl and -ttl-refresh are not used with Consul: give services a TTL health check with SERVICE_CHECK_TTL instead";

let docker: DockerHarness;
let consul: ConsulServer;
let reg: RegistratorProcess;
let image: string;
const containers: string[] = [];
const processes: RegistratorProcess[] = [];
const servers: Array<{ stop(): Promise<void> }> = [];
const probes: Server[] = [];
let unique = 0;

interface AgentService {
  ID: string;
  Service: string;
  Tags: string[];
  Address: string;
  Port: number;
  Meta: Record<string, string>;
}

interface AgentCheck {
  CheckID: string;
  Status: string;
  Notes: string;
  Output: string;
  ServiceID: string;
}

/** A container of this file's own, with a unique name; removed at the end. */
async function run(args: string[], command = ["sleep", "3600"]): Promise<{ id: string; name: string }> {
  const name = `consul-t-${process.pid}-${++unique}`;
  const id = await docker.run(["--name", name, ...args, image, ...command]);
  containers.push(id);
  return { id, name };
}

/**
 * A container whose service port is served by a test server of ours on 127.0.0.1: with the host's
 * network and `-p P:P` the service is 127.0.0.1:P, which the agent's HTTP and TCP checks reach
 * without Docker's port forwarding (dockerd may run with --userland-proxy=false).
 */
function runOnHostPort(port: number, env: Record<string, string>) {
  const envArgs = Object.entries(env).flatMap(([key, value]) => ["-e", `${key}=${value}`]);
  return run(["--net=host", "-p", `${port}:${port}`, ...envArgs]);
}

function registrator(args: string[], env: Record<string, string> = {}): RegistratorProcess {
  const p = startRegistrator(["-ip", "127.0.0.1", "-retry-interval", "200", ...args], { DOCKER_HOST: docker.host, ...env });
  processes.push(p);
  return p;
}

const serviceId = (container: string, port: number | string) => `${HOST}:${container}:${port}`;
const added = (id: string) => (line: LogLine) => line.msg === "added" && line.service === id;

async function agentServices(server: ConsulServer, token?: string): Promise<Record<string, AgentService>> {
  const res = await server.api<Record<string, AgentService>>("GET", "/v1/agent/services", undefined, token);
  assert.equal(res.status, 200);
  return res.body;
}

async function agentCheck(id: string): Promise<AgentCheck | undefined> {
  const res = await consul.api<Record<string, AgentCheck>>("GET", "/v1/agent/checks");
  return res.body[`service:${id}`];
}

/** Waits until the service's check satisfies `ok`; the last check seen is in the timeout message. */
async function checkUntil(id: string, ok: (check: AgentCheck) => boolean, timeoutMs = 15_000): Promise<AgentCheck> {
  let last: AgentCheck | undefined;
  return waitFor(
    async () => {
      last = await agentCheck(id);
      return last && ok(last) ? last : undefined;
    },
    { timeoutMs, what: `the check of ${id}` },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last check: ${JSON.stringify(last)}`);
  });
}

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  at: number;
  /** ms from arrival until the client hung up, for requests left unanswered. */
  closedAfterMs?: number;
}

/** An HTTP(S) server on 127.0.0.1 that records what the agent's checks send; `/slow` never answers. */
async function probeServer(certs?: TestCerts): Promise<{ port: number; seen: Seen[] }> {
  const port = await freePort();
  const seen: Seen[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const entry: Seen = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, at: Date.now() };
    seen.push(entry);
    if (req.url === "/slow") {
      req.socket.once("close", () => (entry.closedAfterMs = Date.now() - entry.at));
      return;
    }
    res.end("ok");
  };
  const server = certs
    ? createHttpsServer({ cert: readFileSync(certs.certFile), key: readFileSync(certs.keyFile) }, handler)
    : createHttpServer(handler);
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(port, "127.0.0.1", resolve));
  probes.push(server);
  return { port, seen };
}

before(async () => {
  docker = await ensureDocker();
  image = await docker.image("consul-t/app");
  // A stand-in for progrium/consul's check-cmd, so the agent's output shows the arguments it got.
  const bin = join(tempDir("consul-t-bin"), "bin");
  mkdirSync(bin);
  writeFileSync(join(bin, "check-cmd"), '#!/bin/sh\necho "check-cmd $1|$2|$3"\n');
  chmodSync(join(bin, "check-cmd"), 0o755);
  process.env.PATH = `${bin}${delimiter}${process.env.PATH ?? ""}`;
  consul = await startConsul({ enableScriptChecks: true });
  servers.push(consul);
  reg = registrator([`consul://${consul.address}`]);
  await reg.waitForLog("synced");
});

after(async () => {
  for (const p of processes) await p.stop("SIGKILL");
  if (containers.length) await docker?.docker(["rm", "-f", ...containers], { allowFail: true });
  for (const server of probes) {
    server.closeAllConnections();
    server.close();
  }
  for (const server of servers) await server.stop();
  await docker?.stop();
});

describe("agent services", () => {
  test("registers ID, Name, Address, Port, Tags and Meta; shows in the catalog and DNS; die deregisters", async () => {
    const port = await freePort();
    const name = `consul-t-db-${process.pid}`;
    const c = await run([
      "-p",
      `${port}:6379`,
      "-e",
      `SERVICE_NAME=${name}`,
      "-e",
      "SERVICE_TAGS=master,backups",
      "-e",
      "SERVICE_REGION=us2",
    ]);
    const id = serviceId(c.name, 6379);
    await reg.waitForLog(added(id));

    const service = (await agentServices(consul))[id];
    assert.deepEqual(
      service && {
        ID: service.ID,
        Service: service.Service,
        Tags: service.Tags,
        Address: service.Address,
        Port: service.Port,
        Meta: service.Meta,
      },
      {
        ID: id,
        Service: name,
        Tags: ["master", "backups"],
        Address: "127.0.0.1",
        Port: port,
        Meta: { region: "us2", registrator_host: HOST, registrator_container: c.id },
      },
    );
    const catalog = await waitFor(
      async () => {
        const res = await consul.api<Array<{ ServiceID: string; ServicePort: number }>>("GET", `/v1/catalog/service/${name}`);
        return res.body.find((entry) => entry.ServiceID === id);
      },
      { what: `${id} in /v1/catalog/service/${name}` },
    );
    assert.equal(catalog.ServicePort, port);

    const resolver = new Resolver();
    resolver.setServers([`127.0.0.1:${consul.dnsPort}`]);
    const srv = await waitFor(() => resolver.resolveSrv(`${name}.service.consul`), { what: "the SRV record" });
    assert.deepEqual(
      srv.map((record) => record.port),
      [port],
    );

    await docker.docker(["rm", "-f", c.id]);
    await reg.waitForLog((line) => line.msg === "removed" && line.service === id);
    assert.equal((await agentServices(consul))[id], undefined);
  });

  test("-ttl and -ttl-refresh: one notice at start, services register as usual", async () => {
    const p = registrator(["-ttl", "30", "-ttl-refresh", "10", `consul://${consul.address}`]);
    const notice = await p.waitForLog(TTL_NOTICE);
    assert.equal(notice.backend, "consul");
    await p.waitForLog("synced");
    assert.equal(p.logs.filter((line) => line.msg === TTL_NOTICE).length, 1);
    await p.stop();
  });

  test("-cleanup removes this host's dangling entries and leaves other hosts' and foreign ones", async () => {
    // As the Go registrator left it, at the address registrator writes (-ip).
    const gone = serviceId(`consul-t-gone-${process.pid}`, 80);
    const other = "otherhost:web:80";
    const foreign = `consul-t-foreign-${process.pid}`;
    // This host's default-id form, at an address that is not this registrator's: another tool's.
    const ghost = serviceId(`consul-t-ghost-${process.pid}`, 80);
    for (const [id, address] of [
      [gone, "127.0.0.1"],
      [other, "127.0.0.1"],
      [foreign, "127.0.0.1"],
      [ghost, "10.0.0.9"],
    ]) {
      const res = await consul.api("PUT", "/v1/agent/service/register", { ID: id, Name: "consul-t-cleanup", Address: address, Port: 80 });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    const live = await run(["-p", `${await freePort()}:80`]);
    const p = registrator(["-cleanup", `consul://${consul.address}`]);
    await p.waitForLog((line) => line.msg.startsWith("removed: dangling") && line.service === gone);
    await p.waitForLog("synced");
    const services = await agentServices(consul);
    assert.equal(services[gone], undefined);
    assert.ok(services[other], "another host's entry stays");
    assert.ok(services[foreign], "an entry not in registrator's id pattern stays");
    assert.ok(services[ghost], "an entry at an address registrator does not write stays");
    assert.ok(services[serviceId(live.name, 80)], "a running container's entry stays");
    await p.stop();
  });

  test("metadata Consul would refuse: a bad check ignores its service; a bad Meta key is dropped with the reason", async () => {
    const badInterval = await run(["-p", `${await freePort()}:80`, "-e", "SERVICE_CHECK_HTTP=/health", "-e", "SERVICE_CHECK_INTERVAL=abc"]);
    const badMeta = await run(["-p", `${await freePort()}:80`, "-e", "SERVICE_FOO.BAR=1", "-e", "SERVICE_ZONE=a"]);
    const good = await run(["-p", `${await freePort()}:80`, "-e", "SERVICE_REGION=ok"]);
    await reg.waitForLog(added(serviceId(good.name, 80)));
    const ignored = (containerId: string) => (line: LogLine) =>
      line.container === containerId.slice(0, 12) && line.msg.startsWith("ignored:");
    const interval = await reg.waitForLog(ignored(badInterval.id));
    assert.equal(interval.msg, "ignored: check_interval=abc: not a positive duration (use e.g. 10s, 1m30s, 500ms)");
    const meta = await reg.waitForLog(ignored(badMeta.id));
    assert.equal(
      meta.msg,
      "ignored: metadata foo.bar dropped: key may only contain letters, digits, _ and - (Consul's rule for service Meta)",
    );
    await reg.waitForLog(added(serviceId(badMeta.name, 80)));
    const services = await agentServices(consul);
    assert.equal(services[serviceId(badInterval.name, 80)], undefined);
    assert.deepEqual(services[serviceId(badMeta.name, 80)]?.Meta, { zone: "a", registrator_host: HOST, registrator_container: badMeta.id });
  });
});

describe("who holds an id", () => {
  test("another host's service stays; a service registered by hand is never re-pointed through SERVICE_ID nor removed; a free id is written", async () => {
    const adapter: RegistryAdapter = create({ uri: parseRegistryUri(`consul://${consul.address}`), ttl: 0, ttlRefresh: 0, env: {} });
    const taken = `consul-t-held-taken-${process.pid}`;
    const byHand = `${HOST}:billing:5432`;
    const free = `consul-t-held-free-${process.pid}`;
    const theirs = { registrator_host: "otherhost", registrator_container: "c-other" };
    for (const body of [
      { ID: taken, Name: "consul-t-held", Port: 80, Meta: theirs },
      { ID: byHand, Name: "billing", Address: "10.1.1.1", Port: 5432 },
    ]) {
      const res = await consul.api("PUT", "/v1/agent/service/register", body);
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    try {
      const owner = { hostId: HOST, container: "c-ours" };
      await assert.rejects(adapter.register(webService({ id: taken, name: "consul-t-held" }), owner), OwnedElsewhereError);
      // A container `web` that asks for the hand-made entry's id, even at the very address it holds.
      const claimant = webService({ id: byHand, name: "billing", ip: "10.1.1.1", port: 5432, attrs: {} });
      await assert.rejects(adapter.register(claimant, owner), /is owned by another tool/);
      await adapter.deregister(claimant, owner);
      await adapter.register(webService({ id: free, name: "consul-t-held", attrs: {} }), owner);
      const services = await agentServices(consul);
      assert.deepEqual(services[taken]?.Meta, theirs, "the other host's service is as it wrote it");
      assert.deepEqual(
        [services[byHand]?.Address, services[byHand]?.Port, services[byHand]?.Meta ?? {}],
        ["10.1.1.1", 5432, {}],
        "the hand-made service is as written",
      );
      assert.deepEqual(services[free]?.Meta, { registrator_host: HOST, registrator_container: "c-ours" });
    } finally {
      for (const id of [taken, byHand, free]) await consul.api("PUT", `/v1/agent/service/deregister/${encodeURIComponent(id)}`);
      await adapter.close();
    }
  });
});

describe("health checks, as the agent runs them", () => {
  test("http: URL, method, headers, 1s interval, notes; check settings are not Meta", async () => {
    const probe = await probeServer();
    const c = await runOnHostPort(probe.port, {
      SERVICE_CHECK_HTTP: "/health",
      SERVICE_CHECK_HTTP_METHOD: "POST",
      SERVICE_CHECK_HEADER: '{"X-Probe":["yes"]}',
      SERVICE_CHECK_INTERVAL: "1s",
      SERVICE_CHECK_NOTES: "served by the test",
      SERVICE_REGION: "us2",
    });
    const id = serviceId(c.name, probe.port);
    await reg.waitForLog(added(id));
    assert.deepEqual((await agentServices(consul))[id]?.Meta, { region: "us2", registrator_host: HOST, registrator_container: c.id });

    const check = await checkUntil(id, (ch) => ch.Status === "passing");
    assert.equal(check.Output, `HTTP POST http://127.0.0.1:${probe.port}/health: 200 OK Output: ok`);
    assert.equal(check.Notes, "served by the test");

    await waitFor(() => probe.seen.length >= 3, { timeoutMs: 8_000, what: "three check requests" });
    for (const request of probe.seen) {
      assert.equal(request.method, "POST");
      assert.equal(request.url, "/health");
      assert.equal(request.headers["x-probe"], "yes");
    }
    const gaps = probe.seen.slice(1).map((request, i) => request.at - probe.seen[i]!.at);
    assert.ok(
      gaps.every((gap) => gap > 500 && gap < 2_500),
      `about 1s apart: ${gaps.join(", ")} ms`,
    );
  });

  test("http: check_timeout ends a request that gets no answer", async () => {
    const probe = await probeServer();
    const c = await runOnHostPort(probe.port, { SERVICE_CHECK_HTTP: "/slow", SERVICE_CHECK_TIMEOUT: "1s", SERVICE_CHECK_INTERVAL: "1s" });
    const id = serviceId(c.name, probe.port);
    await reg.waitForLog(added(id));
    const first = await waitFor(() => probe.seen.find((request) => request.closedAfterMs !== undefined), {
      what: "the agent to give up on /slow",
    });
    // Consul's default timeout is 10s.
    assert.ok(first.closedAfterMs! >= 700 && first.closedAfterMs! < 3_000, `gave up after ${first.closedAfterMs} ms`);
    const check = await checkUntil(id, (ch) => ch.Output !== "");
    assert.equal(check.Status, "critical");
    assert.match(check.Output, /Timeout|deadline exceeded|canceled/);
  });

  test("https: method, tls_skip_verify; without it the agent refuses the test certificate", async () => {
    const certs = await makeCerts(tempDir("consul-t-https"));
    const probe = await probeServer(certs);
    const skip = await runOnHostPort(probe.port, {
      SERVICE_CHECK_HTTPS: "/secure",
      SERVICE_CHECK_HTTPS_METHOD: "PUT",
      SERVICE_CHECK_TLS_SKIP_VERIFY: "true",
      SERVICE_CHECK_INTERVAL: "1s",
    });
    const verify = await runOnHostPort(probe.port, { SERVICE_CHECK_HTTPS: "/secure", SERVICE_CHECK_INTERVAL: "1s" });
    const skipId = serviceId(skip.name, probe.port);
    const verifyId = serviceId(verify.name, probe.port);
    await reg.waitForLog(added(skipId));
    await reg.waitForLog(added(verifyId));
    const passing = await checkUntil(skipId, (ch) => ch.Status === "passing");
    assert.equal(passing.Output, `HTTP PUT https://127.0.0.1:${probe.port}/secure: 200 OK Output: ok`);
    const refused = await checkUntil(verifyId, (ch) => ch.Output !== "");
    assert.equal(refused.Status, "critical");
    assert.match(refused.Output, /x509|certificate/);
    assert.ok(probe.seen.some((request) => request.method === "PUT" && request.url === "/secure"));
  });

  test("tcp: connects to ip:port; failures_before_critical, success_before_passing and deregister_after are accepted", async () => {
    const probe = await probeServer();
    const c = await runOnHostPort(probe.port, {
      SERVICE_CHECK_TCP: "true",
      SERVICE_CHECK_TIMEOUT: "2s",
      SERVICE_CHECK_INTERVAL: "1s",
      SERVICE_CHECK_FAILURES_BEFORE_CRITICAL: "3",
      SERVICE_CHECK_SUCCESS_BEFORE_PASSING: "1",
      SERVICE_CHECK_DEREGISTER_AFTER: "10m",
    });
    const id = serviceId(c.name, probe.port);
    await reg.waitForLog(added(id));
    const check = await checkUntil(id, (ch) => ch.Status === "passing");
    assert.equal(check.Output, `TCP connect 127.0.0.1:${probe.port}: Success`);
  });

  test("grpc: the agent runs a gRPC health check against ip:port", async () => {
    // The probe speaks HTTP/1.1, not gRPC, so the check fails, with gRPC's own words.
    const probe = await probeServer();
    const c = await runOnHostPort(probe.port, { SERVICE_CHECK_GRPC: "true", SERVICE_CHECK_INTERVAL: "1s" });
    const id = serviceId(c.name, probe.port);
    await reg.waitForLog(added(id));
    const check = await checkUntil(id, (ch) => ch.Output !== "");
    assert.equal(check.Status, "critical");
    assert.match(check.Output, /^rpc error/);
  });

  test("ttl: initial status, and the service can report passing itself", async () => {
    const warning = await run([
      "-p",
      `${await freePort()}:80`,
      "-e",
      "SERVICE_CHECK_TTL=30s",
      "-e",
      "SERVICE_CHECK_INITIAL_STATUS=warning",
    ]);
    const plain = await run(["-p", `${await freePort()}:80`, "-e", "SERVICE_CHECK_TTL=30s"]);
    const warningId = serviceId(warning.name, 80);
    const plainId = serviceId(plain.name, 80);
    await reg.waitForLog(added(warningId));
    await reg.waitForLog(added(plainId));
    assert.equal((await agentCheck(warningId))?.Status, "warning");
    assert.equal((await agentCheck(plainId))?.Status, "critical");
    const pass = await consul.api("PUT", `/v1/agent/check/pass/${encodeURIComponent(`service:${plainId}`)}?note=alive`);
    assert.equal(pass.status, 200, JSON.stringify(pass.body));
    const check = await agentCheck(plainId);
    assert.deepEqual([check?.Status, check?.Output], ["passing", "alive"]);
  });

  test("script: run through a shell by the agent, $SERVICE_IP and $SERVICE_PORT filled in", async () => {
    const port = await freePort();
    const c = await run([
      "-p",
      `${port}:80`,
      "-e",
      "SERVICE_CHECK_SCRIPT=echo ip=$SERVICE_IP port=$SERVICE_PORT | cat",
      "-e",
      "SERVICE_CHECK_INTERVAL=1s",
    ]);
    const id = serviceId(c.name, 80);
    await reg.waitForLog(added(id));
    const check = await checkUntil(id, (ch) => ch.Status === "passing");
    assert.equal(check.Output, `ip=127.0.0.1 port=${port}\n`);
  });

  test("cmd: check-cmd gets the short container id, the exposed port and the command", async () => {
    const c = await run(["-p", `${await freePort()}:80`, "-e", "SERVICE_CHECK_CMD=/bin/check --fast", "-e", "SERVICE_CHECK_INTERVAL=1s"]);
    const id = serviceId(c.name, 80);
    await reg.waitForLog(added(id));
    const check = await checkUntil(id, (ch) => ch.Status === "passing");
    assert.equal(check.Output, `check-cmd ${c.id.slice(0, 12)}|80|/bin/check --fast\n`);
  });

  test("docker: the agent runs the command inside the container", async () => {
    const c = await run([
      "-p",
      `${await freePort()}:80`,
      "-e",
      "SERVICE_CHECK_DOCKER=echo in $(hostname)",
      "-e",
      "SERVICE_CHECK_INTERVAL=1s",
    ]);
    const id = serviceId(c.name, 80);
    await reg.waitForLog(added(id));
    const check = await checkUntil(id, (ch) => ch.Status === "passing");
    // A container's hostname is its short id.
    assert.equal(check.Output, `in ${c.id.slice(0, 12)}\n`);
  });

  test("docker health: a TTL check mirrors the container's HEALTHCHECK, with the probe's output", async () => {
    const c = await run([
      "-p",
      `${await freePort()}:80`,
      "-e",
      "SERVICE_CHECK_DOCKER_HEALTH=true",
      "--health-cmd",
      "cat /tmp/state",
      "--health-interval",
      "1s",
      "--health-retries",
      "1",
      "--health-timeout",
      "1s",
    ]);
    const id = serviceId(c.name, 80);
    await reg.waitForLog(added(id));
    await docker.docker(["exec", c.id, "sh", "-c", "echo all good > /tmp/state"]);
    const passing = await checkUntil(id, (ch) => ch.Status === "passing");
    assert.equal(passing.Output, "all good");
    await docker.docker(["exec", c.id, "rm", "/tmp/state"]);
    const critical = await checkUntil(id, (ch) => ch.Status === "critical");
    assert.match(critical.Output, /No such file/);
  });
});

describe("transports and ACLs", () => {
  test("ACL token: refused without CONSUL_HTTP_TOKEN (logged failed with Consul's words), registered with it", async () => {
    const token = `consul-t-root-${process.pid}`;
    const secured = await startConsul({ aclMasterToken: token });
    servers.push(secured);
    const c = await run(["-p", `${await freePort()}:80`]);
    const scripted = await run(["-p", `${await freePort()}:80`, "-e", "SERVICE_CHECK_SCRIPT=true"]);
    const id = serviceId(c.name, 80);
    const scriptedId = serviceId(scripted.name, 80);

    const denied = registrator([`consul://${secured.address}`]);
    const failure = await denied.waitForLog((line) => line.service === id && line.msg.startsWith("failed"));
    assert.equal(failure.msg, "failed: Consul refused it (HTTP 403): Permission denied");
    await denied.waitForLog("synced");
    await denied.stop();
    assert.equal((await agentServices(secured, token))[id], undefined);

    const metricsPort = await freePort();
    const allowed = registrator([`--metrics-addr=127.0.0.1:${metricsPort}`, `consul://${secured.address}`], { CONSUL_HTTP_TOKEN: token });
    await allowed.waitForLog(added(id));
    assert.equal((await agentServices(secured, token))[id]?.Port !== undefined, true);
    // This agent does not run scripts: Consul's refusal is logged, not retried.
    const scriptFailure = await allowed.waitForLog((line) => line.service === scriptedId && line.msg.startsWith("failed"));
    assert.match(scriptFailure.msg, /^failed: Consul refused it \(HTTP 500\): Scripts are disabled on this agent/);
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    await allowed.stop();

    // The token is a secret: it is never printed, exposed or echoed, whatever the mode.
    const dryRun = await runRegistrator(["--dry-run", "-ip", "127.0.0.1", `consul://${secured.address}`], {
      DOCKER_HOST: docker.host,
      CONSUL_HTTP_TOKEN: token,
    });
    const unreachable = await runRegistrator(["-retry-attempts", "0", "consul://127.0.0.1:1"], {
      DOCKER_HOST: docker.host,
      CONSUL_HTTP_TOKEN: token,
    });
    const said = [
      JSON.stringify(allowed.logs),
      allowed.stderr(),
      metrics,
      dryRun.stdout,
      dryRun.stderr,
      unreachable.stdout,
      unreachable.stderr,
    ];
    assert.equal(dryRun.code, 0);
    assert.equal(unreachable.code, 1);
    for (const text of said) assert.ok(!text.includes(token), `the token appears in: ${text.slice(0, 200)}`);
  });

  test("consul-tls: CA and client certificate from CONSUL_CACERT, CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY", async () => {
    const certs = await makeCerts(tempDir("consul-t-tls"));
    const secured = await startConsul({ tls: { caFile: certs.caFile, certFile: certs.certFile, keyFile: certs.keyFile } });
    servers.push(secured);
    const c = await run(["-p", `${await freePort()}:80`]);
    const id = serviceId(c.name, 80);
    const uri = `consul-tls://127.0.0.1:${secured.httpsPort}`;

    const untrusted = registrator(["-retry-attempts", "0", uri]);
    assert.equal(await untrusted.exited, 1);
    assert.match(untrusted.stderr(), /unreachable.*(certificate|self.signed)/i);

    const p = registrator([uri], {
      CONSUL_CACERT: certs.caFile,
      CONSUL_CLIENT_CERT: certs.clientCertFile,
      CONSUL_CLIENT_KEY: certs.clientKeyFile,
    });
    await p.waitForLog(added(id));
    assert.ok((await agentServices(secured))[id]);
    await p.stop();
  });

  test("consul-unix: the agent's unix socket", async () => {
    const socket = join(tempDir("consul-t-sock"), "consul.sock");
    const local = await startConsul({ unixSocket: socket });
    servers.push(local);
    const c = await run(["-p", `${await freePort()}:80`]);
    const id = serviceId(c.name, 80);
    const p = registrator([`consul-unix://${socket}`]);
    await p.waitForLog(added(id));
    assert.ok((await agentServices(local))[id]);
    await p.stop();
  });
});
