/** Network choice and IPv6, against real Docker networks. */
import assert from "node:assert/strict";
import { hostname } from "node:os";
import { after, test } from "node:test";
import { ensureDocker, type DockerHarness } from "../support/docker.js";
import { startEtcd, type EtcdServer } from "../support/etcd.js";
import { startRegistrator, type RegistratorProcess } from "../support/registrator.js";
import { waitFor } from "../support/wait.js";

const HOST = hostname();
const networks: string[] = [];
const processes: RegistratorProcess[] = [];
let docker: DockerHarness | undefined;
let etcd: EtcdServer | undefined;

const containers: string[] = [];

after(async () => {
  for (const p of processes) await p.stop("SIGKILL");
  // Containers first, then their networks, then the daemon (which may be ours to stop).
  if (containers.length) await docker?.docker(["rm", "-f", ...containers], { allowFail: true });
  for (const n of networks) await docker?.docker(["network", "rm", n], { allowFail: true });
  await docker?.stop();
  await etcd?.stop();
});

async function run(args: string[]): Promise<string> {
  const id = await docker!.run(args);
  containers.push(id);
  return id;
}

async function network(name: string, subnet: string): Promise<string> {
  // A run that was killed may have left its networks, which would hold the subnets.
  const { stdout } = await docker!.docker(["network", "ls", "--format", "{{.Name}}", "--filter", "name=net-t-"]);
  for (const stale of stdout.split("\n").filter((n) => n && !networks.includes(n))) {
    await docker!.docker(["network", "rm", stale], { allowFail: true });
  }
  await docker!.docker(["network", "create", "--subnet", subnet, name]);
  networks.push(name);
  return name;
}

async function containerIp(id: string, net: string): Promise<string> {
  const { stdout } = await docker!.docker(["inspect", "-f", `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, id]);
  return stdout.trim();
}

test("-internal on a container with two networks: --network and SERVICE_NETWORK choose, an unknown one is ignored", async () => {
  docker = await ensureDocker();
  etcd = await startEtcd();
  const front = await network(`net-t-front-${process.pid}`, "10.231.1.0/24");
  const back = await network(`net-t-back-${process.pid}`, "10.231.2.0/24");
  const image = await docker.image("dockerfile/redis");
  const name = `net-t-${process.pid}`;
  const multi = await run(["--name", name, "--network", front, "-e", "SERVICE_NAME=multi", "--expose", "80", image]);
  await docker.docker(["network", "connect", back, multi]);
  const pinned = await run([
    "--name",
    `${name}-pinned`,
    "--network",
    front,
    "-e",
    "SERVICE_NAME=pinned",
    "-e",
    `SERVICE_NETWORK=${front}`,
    "--expose",
    "80",
    image,
  ]);
  await docker.docker(["network", "connect", back, pinned]);
  const lost = await run([
    "--name",
    `${name}-lost`,
    "--network",
    front,
    "-e",
    "SERVICE_NAME=lost",
    "-e",
    "SERVICE_NETWORK=nowhere",
    "--expose",
    "80",
    image,
  ]);

  const prefix = "/networks";
  const reg = startRegistrator(["-internal", "--network", back, `etcd://${etcd.host}${prefix}`], { DOCKER_HOST: docker.host });
  processes.push(reg);
  await reg.waitForLog("synced");
  assert.equal(
    await etcd.get(`${prefix}/multi/${HOST}:${name}:80`),
    `${await containerIp(multi, back)}:80`,
    "--network picks the second network",
  );
  assert.equal(
    await etcd.get(`${prefix}/pinned/${HOST}:${name}-pinned:80`),
    `${await containerIp(pinned, front)}:80`,
    "SERVICE_NETWORK beats --network",
  );
  const ignored = await reg.waitForLog((l) => l.container === lost.slice(0, 12) && l.msg.startsWith("ignored:"));
  assert.equal(ignored.msg, `ignored: not attached to network nowhere (attached: ${front})`);
});

test("-ip accepts IPv6; etcd values bracket it", async () => {
  docker ??= await ensureDocker();
  etcd ??= await startEtcd();
  const name = `net-t-v6-${process.pid}`;
  await run(["--name", name, "-p", "10090:80", "-e", "SERVICE_NAME=v6", await docker.image("dockerfile/redis")]);
  const reg = startRegistrator(["-ip", "fd00::1", `etcd://${etcd.host}/v6`], { DOCKER_HOST: docker.host });
  processes.push(reg);
  const value = await waitFor(() => etcd!.get(`/v6/v6/${HOST}:${name}:80`), { what: "the IPv6 service" });
  assert.equal(value, "[fd00::1]:10090");
});
