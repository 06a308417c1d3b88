/**
 * `registrator explain` as users run it (bin/registrator), against a dockerd of this file's own and
 * a real etcd: each common reason a container is not registered, or registered at the wrong address,
 * is one case that asserts what explain prints and its exit code.
 */
import assert from "node:assert/strict";
import { readFileSync, realpathSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { startPrivateDocker, type PrivateDocker } from "../support/docker.js";
import { startConsul } from "../support/consul.js";
import { startEtcd, type EtcdServer } from "../support/etcd.js";
import { freePort } from "../support/ports.js";
import { removeDir, tempDir } from "../support/process.js";
import { BIN, runRegistrator, startRegistrator } from "../support/registrator.js";

const HOST = hostname();
let docker: PrivateDocker;
let etcd: EtcdServer;
let image: string;
let unique = 0;

before(async () => {
  docker = await startPrivateDocker();
  etcd = await startEtcd();
  image = await docker.image("explain/app");
});

after(async () => {
  await etcd?.stop();
  await docker?.stop();
});

/** A registry path of the test's own, so that what one test registered is no other's orphan. */
const registry = (scheme = "etcd") => `${scheme}://${etcd.host}/x${++unique}`;

async function container(args: string[]): Promise<{ id: string; name: string }> {
  const name = `explain-${process.pid}-${++unique}`;
  const id = await docker.run(["--name", name, ...args, image]);
  return { id, name };
}

async function remove(...containers: { id: string }[]): Promise<void> {
  await docker.docker(["rm", "-f", ...containers.map((c) => c.id)]);
}

async function explain(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runRegistrator(["explain", ...args], { DOCKER_HOST: docker.host, NO_COLOR: "1" });
}

/** The daemon, once: what it registers is what explain compares against. */
async function registerOnce(args: string[]): Promise<void> {
  const { code, stderr } = await runRegistrator(["--once", "-retry-interval", "200", ...args], { DOCKER_HOST: docker.host });
  assert.equal(code, 0, stderr);
}

/** No line of the text report is wider than 100 columns. */
function assertFits(stdout: string): void {
  for (const line of stdout.split("\n")) assert.ok(line.length <= 100, `wider than 100 columns: ${JSON.stringify(line)}`);
}

describe("registrator explain: why a container is not registered", () => {
  test("in step: what the daemon registered, with where its address came from; --json says the same", async () => {
    const uri = registry();
    const app = await container(["-p", "127.0.0.1:18301:6379", "-e", "SERVICE_NAME=web", "-e", "SERVICE_TAGS=blue,v2"]);
    await registerOnce(["-ip", "127.0.0.1", uri]);
    const text = await explain(["-ip", "127.0.0.1", app.name, uri]);
    assert.equal(text.code, 0, text.stdout + text.stderr);
    assert.match(text.stdout, new RegExp(`container ${app.name} \\(${app.id.slice(0, 12)}\\)`));
    assert.match(text.stdout, new RegExp(`port 6379/tcp → service web, id ${HOST}:${app.name}:6379`));
    assert.match(text.stdout, /address +127\.0\.0\.1:18301, from -ip/);
    assert.match(text.stdout, /tags +blue, v2/);
    assert.match(text.stdout, /registry in step/);
    assert.match(text.stdout, /^in step: the registry holds what registrator registers$/m);
    assertFits(text.stdout);

    const json = await explain(["--json", "-ip", "127.0.0.1", app.name, uri]);
    assert.equal(json.code, 0, `${json.stdout}${json.stderr}`);
    const report = JSON.parse(json.stdout);
    assert.equal(report.inStep, true);
    assert.equal(report.hostId, HOST);
    assert.deepEqual(report.containers[0].services[0].address, { source: "ip-flag", detail: "-ip" });
    assert.deepEqual(report.containers[0].services[0].registry, { state: "in-step" });
    await remove(app);
  });

  test("Consul: tags, attributes and the check compared field by field", async () => {
    const consul = await startConsul();
    try {
      const uri = `consul://${consul.address}`;
      const env = ["SERVICE_NAME=api", "SERVICE_TAGS=v1", "SERVICE_REGION=eu", "SERVICE_CHECK_TCP=true", "SERVICE_CHECK_INTERVAL=15s"];
      const app = await container(["-p", "18309:6379", ...env.flatMap((e) => ["-e", e])]);
      await registerOnce(["-ip", "127.0.0.1", uri]);
      const inStep = await explain(["-ip", "127.0.0.1", app.name, uri]);
      assert.equal(inStep.code, 0, `${inStep.stdout}${inStep.stderr}`);
      assert.match(inStep.stdout, /check +tcp 127\.0\.0\.1:18309, every 15s/);
      assert.match(inStep.stdout, /registry in step/);

      const changed = await explain(["-ip", "127.0.0.1", "-tags", "extra", app.name, uri]);
      assert.equal(changed.code, 1, `${changed.stdout}${changed.stderr}`);
      assert.match(changed.stdout, /registry different\n +tags: v1 in the registry, v1,extra wanted/);
      await remove(app);
    } finally {
      await consul.stop();
    }
  });

  test("the container publishes no port and -internal is not set", async () => {
    const uri = registry();
    const app = await container(["--expose", "6379", "-e", "SERVICE_NAME=web"]);
    const res = await explain(["-ip", "127.0.0.1", app.name, uri]);
    assert.equal(res.code, 0, `${res.stdout}${res.stderr}`);
    assert.match(res.stdout, /port 6379\/tcp ignored: port not published on host/);
    assert.match(res.stdout, /fix: publish it \(docker run -p 6379\), or pass -internal/);

    const internal = await explain(["-internal", app.name, uri]);
    assert.equal(internal.code, 1, `${internal.stdout}${internal.stderr}`);
    assert.match(internal.stdout, /address +10\.213\.\d+\.\d+:6379, from -internal: the container's own address on network bridge/);
    assert.match(internal.stdout, /registry missing/);
    assert.match(internal.stdout, /^not in step: 1 service$/m);
    await remove(app);
  });

  test("-explicit is set and the container has no SERVICE_NAME", async () => {
    const uri = registry();
    const app = await container(["-p", "18302:6379"]);
    const res = await explain(["-ip", "127.0.0.1", "-explicit", app.name, uri]);
    assert.equal(res.code, 0, `${res.stdout}${res.stderr}`);
    assert.match(res.stdout, /port 6379\/tcp ignored: no SERVICE_NAME and -explicit is set/);
    assert.match(res.stdout, /fix: set SERVICE_NAME \(or SERVICE_6379_NAME\), as env or label, or drop -explicit/);
    await remove(app);
  });

  test("the backend refuses the name (SkyDNS: not a DNS label)", async () => {
    const uri = `skydns2://${etcd.host}/skydns.local`;
    const app = await container(["-p", "18303:6379", "-e", "SERVICE_NAME=web.app"]);
    const res = await explain(["-ip", "127.0.0.1", app.name, uri]);
    assert.equal(res.code, 0, `${res.stdout}${res.stderr}`);
    assert.match(res.stdout, /port 6379\/tcp ignored: service name "web\.app" is not a valid DNS label/);
    assert.match(res.stdout, /fix: set SERVICE_NAME \(or SERVICE_6379_NAME\) to a DNS label/);
    await remove(app);
  });

  test("a health gate holds it back", async () => {
    const uri = registry();
    const app = await container(["-p", "18304:6379", "-e", "SERVICE_NAME=web", "--health-cmd", "true", "--health-interval", "1h"]);
    const res = await explain(["-ip", "127.0.0.1", "--require-healthy", app.name, uri]);
    assert.equal(res.code, 0, `${res.stdout}${res.stderr}`);
    assert.match(res.stdout, /ignored: not healthy \(health: starting\)/);
    assert.match(
      res.stdout,
      /fix: it is registered once its HEALTHCHECK passes; to register it regardless, set\s+SERVICE_REQUIRE_HEALTHY=false/,
    );
    await remove(app);
  });

  test("another host holds the id", async () => {
    const uri = registry();
    const app = await container(["-p", "18305:6379", "-e", "SERVICE_NAME=web", "-e", "SERVICE_ID=web-shared"]);
    await registerOnce(["-ip", "127.0.0.1", "--host-id", "other-host", uri]);
    const res = await explain(["-ip", "127.0.0.1", app.name, uri]);
    assert.equal(res.code, 1, `${res.stdout}${res.stderr}`);
    assert.match(res.stdout, new RegExp(`registry held by host other-host, container ${app.id.slice(0, 12)}`));
    assert.match(res.stdout, /fix: written for this container under host id other-host: run every registrator of this/);
    await remove(app);
  });

  test("two containers here want one id: the loser is named, with the fix", async () => {
    const uri = registry();
    const id = `SERVICE_ID=shared-${unique}`;
    const first = await container(["-p", "18310:6379", "-e", "SERVICE_NAME=web", "-e", id]);
    const second = await container(["-p", "18311:6379", "-e", "SERVICE_NAME=web", "-e", id]);
    const res = await explain(["-ip", "127.0.0.1", first.name, second.name, uri]);
    assert.equal(res.code, 1, `${res.stdout}${res.stderr}`);
    assert.match(res.stdout, /is claimed by container [0-9a-f]{12}/);
    assert.match(res.stdout, /fix: two containers want one id: set SERVICE_ID \(or SERVICE_6379_ID\) on one of them, or stop\s+container/);
    await remove(first, second);
  });

  test("-h is missing: the daemon wrote the ids under its container's hostname", async () => {
    const uri = registry();
    const app = await container(["-p", "18306:6379", "-e", "SERVICE_NAME=web"]);
    await registerOnce(["-ip", "127.0.0.1", "--host-id", "0123456789ab", uri]);
    const res = await explain(["-ip", "127.0.0.1", app.name, uri]);
    assert.equal(res.code, 1, `${res.stdout}${res.stderr}`);
    assert.match(res.stdout, /registry missing/);
    assert.match(
      res.stdout,
      new RegExp(`also held:\\s+0123456789ab:${app.name}:6379 \\(web at 127\\.0\\.0\\.1:18306\\), held by host 0123456789ab`),
    );
    assert.match(res.stdout, /--hostname=\$\(hostname\) in docker run, or --host-id/);
    await remove(app);
  });

  test("-ip differs from the daemon's: the registry's address is shown field by field", async () => {
    const uri = registry();
    const app = await container(["-p", "18307:6379", "-e", "SERVICE_NAME=web"]);
    await registerOnce(["-ip", "127.0.0.1", uri]);
    const res = await explain(["-ip", "10.9.8.7", app.name, uri]);
    assert.equal(res.code, 1, `${res.stdout}${res.stderr}`);
    assert.match(res.stdout, /registry different\n +ip: 127\.0\.0\.1 in the registry, 10\.9\.8\.7 wanted/);

    const noIp = await explain([app.name, uri]);
    assert.match(noIp.stdout, new RegExp(`from the hostname ${HOST} resolves to it \\(no -ip\\)`));
    await remove(app);
  });

  test("entries of this host for containers that no longer run", async () => {
    const uri = registry();
    const app = await container(["-p", "18308:6379", "-e", "SERVICE_NAME=gone"]);
    await registerOnce(["-ip", "127.0.0.1", uri]);
    await remove(app);
    const res = await explain(["-ip", "127.0.0.1", uri]);
    assert.equal(res.code, 1, `${res.stdout}${res.stderr}`);
    assert.match(res.stdout, /entries of this host id for containers that no longer run/);
    assert.match(res.stdout, new RegExp(`${HOST}:${app.name}:6379 \\(gone at 127\\.0\\.0\\.1:18308\\), held by host ${HOST}`));
    assert.match(res.stdout, /fix: no container runs behind it: pass -cleanup/);
  });

  test("the file backend: read as the daemon left it, and left as it was", async () => {
    const dir = tempDir("explain-file");
    const uri = `file://${join(dir, "services.json")}`;
    const app = await container(["-p", "18309:6379", "-e", "SERVICE_NAME=filed"]);
    await registerOnce(["-ip", "127.0.0.1", uri]);
    const written = readFileSync(join(dir, "services.json"), "utf8");
    assert.match(written, /"name": "filed"/);
    const res = await explain(["-ip", "127.0.0.1", app.name, uri]);
    assert.equal(res.code, 0, `${res.stdout}${res.stderr}`);
    assert.match(res.stdout, /registry in step/);
    assert.equal(readFileSync(join(dir, "services.json"), "utf8"), written);
    await remove(app);
    removeDir(dir);
  });

  test("a URI without //", async () => {
    const port = await freePort();
    const res = await explain(["-ip", "127.0.0.1", `etcd:127.0.0.1:${port}/services`]);
    assert.equal(res.code, 1, `${res.stdout}${res.stderr}`);
    assert.match(res.stdout, new RegExp(`warning: registry URI "etcd:127\\.0\\.0\\.1:${port}/services" has no "//"`));
    assert.match(res.stdout, new RegExp(`write\\s+"etcd://127\\.0\\.0\\.1:${port}/services"`));
  });

  test("the daemon logs the same warning at start-up, one line with the fix", async () => {
    const port = await freePort();
    const daemon = startRegistrator(
      ["-ip", "127.0.0.1", "-retry-attempts", "-1", "-retry-interval", "200", `etcd:127.0.0.1:${port}/services`],
      {
        DOCKER_HOST: docker.host,
      },
    );
    try {
      const line = await daemon.waitForLog(/has no "\/\/"/);
      assert.equal(line.level, 40);
      assert.match(line.msg, new RegExp(`write "etcd://127\\.0\\.0\\.1:${port}/services"$`));
    } finally {
      await daemon.stop("SIGKILL");
    }
  });

  test("bad arguments exit 2; a container that is not there is named", async () => {
    assert.equal((await explain([])).code, 2);
    assert.equal((await explain(["-nope", registry()])).code, 2);
    assert.equal((await explain(["nosuch://x"])).code, 2);
    const noEngine = await runRegistrator(["explain", registry()], { DOCKER_HOST: "unix:///nonexistent/docker.sock" });
    assert.equal(noEngine.code, 1);
    assert.match(noEngine.stderr, /^registrator explain: engine: /);
    const res = await explain(["-ip", "127.0.0.1", `no-such-container-${process.pid}`, registry()]);
    assert.equal(res.code, 1, `${res.stdout}${res.stderr}`);
    assert.match(res.stdout, /not found: no container no-such-container/);
  });
});

describe("registrator explain, run in a container as the README's docker run does, but without -h, -ip and a reachable URI", () => {
  test("warns of the loopback registry, the container's hostname and the bridge address", async () => {
    const name = `explain-in-${process.pid}`;
    const args = ["run", "--rm", "--name", name, "--label", "registrator-test=1"];
    // The host's node and this checkout, read-only, wherever they are: the test image has only busybox.
    for (const dir of new Set(["/usr", nodePrefix(), checkoutRoot()])) args.push("-v", `${dir}:${dir}:ro`);
    args.push("-v", "/usr/lib:/lib:ro", "-v", "/usr/lib64:/lib64:ro", "-v", `${docker.socketPath}:/var/run/docker.sock`);
    args.push("-e", `PATH=${dirname(realpathSync(process.execPath))}:/usr/bin:/bin`);
    args.push("--entrypoint", BIN, image, "explain", `etcd://127.0.0.1:${etcd.port}/services`);
    const res = await docker.docker(args, { allowFail: true });
    assert.equal(res.code, 1, res.stdout + res.stderr);
    assert.match(res.stdout, /warning: the registry URI points at 127\.0\.0\.1, which inside registrator's container is the/);
    assert.match(res.stdout, /warning: no -ip, and the hostname [0-9a-f]{12} resolves to 10\.213\.\d+\.\d+, registrator's own container/);
    assert.match(res.stdout, /warning: the hostname [0-9a-f]{12} is registrator's container id, not the host's/);
    assert.match(res.stdout, /registry not read/);
  });
});

/** The checkout bin/registrator runs from (its dist/ and node_modules/). */
function checkoutRoot(): string {
  return realpathSync(resolve(dirname(BIN), ".."));
}

/** The prefix node is installed under (/usr for Debian's, elsewhere for a tarball or nvm). */
function nodePrefix(): string {
  return resolve(dirname(realpathSync(process.execPath)), "..");
}
