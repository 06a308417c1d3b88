/** Health-aware registration against a container whose HEALTHCHECK flips with a file. */
import assert from "node:assert/strict";
import { hostname } from "node:os";
import { after, test } from "node:test";
import { ensureDocker, type DockerHarness } from "../support/docker.js";
import { startEtcd, type EtcdServer } from "../support/etcd.js";
import { startRegistrator, type RegistratorProcess } from "../support/registrator.js";
import { waitFor } from "../support/wait.js";

let docker: DockerHarness | undefined;
let etcd: EtcdServer | undefined;
let reg: RegistratorProcess | undefined;
after(async () => {
  await reg?.stop("SIGKILL");
  await etcd?.stop();
  await docker?.stop();
});

test("--require-healthy registers once healthy, removes when unhealthy, registers again on recovery", async () => {
  docker = await ensureDocker();
  etcd = await startEtcd();
  const prefix = "/health";
  reg = startRegistrator(["-ip", "127.0.0.1", "--require-healthy", `etcd://${etcd.host}${prefix}`], { DOCKER_HOST: docker.host });
  await reg.waitForLog("synced");

  const name = `health-t-${process.pid}`;
  const id = await docker.run([
    "--name",
    name,
    "-p",
    "10080:80",
    "-e",
    "SERVICE_NAME=checked",
    "--health-cmd",
    "test -f /tmp/healthy",
    "--health-interval",
    "1s",
    "--health-retries",
    "1",
    "--health-timeout",
    "1s",
    await docker.image("dockerfile/redis"),
  ]);
  await docker.run(["--name", `${name}-plain`, "-p", "10081:80", "-e", "SERVICE_NAME=plain", await docker.image("dockerfile/redis")]);
  const key = `${prefix}/checked/${hostname()}:${name}:80`;
  const present = async () => (await etcd!.get(key)) !== undefined;

  await waitFor(() => etcd!.get(`${prefix}/plain/${hostname()}:${name}-plain:80`), {
    what: "a container without a health check registers at once",
  });
  await reg.waitForLog((l) => l.container === id.slice(0, 12) && /^ignored: not healthy \(health: (starting|unhealthy)\)$/.test(l.msg));
  assert.equal(await present(), false, "not registered while starting");

  await docker.docker(["exec", id, "touch", "/tmp/healthy"]);
  await waitFor(present, { what: "registration once healthy" });

  await docker.docker(["exec", id, "rm", "/tmp/healthy"]);
  await waitFor(async () => !(await present()), { what: "removal once unhealthy" });

  await docker.docker(["exec", id, "touch", "/tmp/healthy"]);
  await waitFor(present, { what: "registration after recovery" });
});
