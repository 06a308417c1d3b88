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

after(async () => {
  for (const p of processes) await p.stop("SIGKILL");
  await docker?.stop();
  for (const n of networks) await docker?.docker(["network", "rm", n], { allowFail: true });
  await etcd?.stop();
});

async function network(name: string, subnet: string): Promise<string> {
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
  const multi = await docker.run(["--name", name, "--network", front, "-e", "SERVICE_NAME=multi", "--expose", "80", image]);
  await docker.docker(["network", "connect", back, multi]);
  const pinned = await docker.run(["--name", `${name}-pinned`, "--network", front, "-e", "SERVICE_NAME=pinned", "-e", `SERVICE_NETWORK=${front}`, "--expose", "80", image]);
  await docker.docker(["network", "connect", back, pinned]);
  const lost = await docker.run(["--name", `${name}-lost`, "--network", front, "-e", "SERVICE_NAME=lost", "-e", "SERVICE_NETWORK=nowhere", "--expose", "80", image]);

  const prefix = "/networks";
  const reg = startRegistrator(["-internal", "--network", back, `etcd://${etcd.host}${prefix}`], { DOCKER_HOST: docker.host });
  processes.push(reg);
  await reg.waitForLog("synced");
  assert.equal(await etcd.get(`${prefix}/multi/${HOST}:${name}:80`), `${await containerIp(multi, back)}:80`, "--network picks the second network");
  assert.equal(await etcd.get(`${prefix}/pinned/${HOST}:${name}-pinned:80`), `${await containerIp(pinned, front)}:80`, "SERVICE_NETWORK beats --network");
  const ignored = await reg.waitForLog((l) => l.container === lost.slice(0, 12) && l.msg.startsWith("ignored:"));
  assert.equal(ignored.msg, `ignored: not attached to network nowhere (attached: ${front})`);
});

test("-ip accepts IPv6; etcd values bracket it", async () => {
  docker ??= await ensureDocker();
  etcd ??= await startEtcd();
  const name = `net-t-v6-${process.pid}`;
  await docker.run(["--name", name, "-p", "10090:80", "-e", "SERVICE_NAME=v6", await docker.image("dockerfile/redis")]);
  const reg = startRegistrator(["-ip", "fd00::1", `etcd://${etcd.host}/v6`], { DOCKER_HOST: docker.host });
  processes.push(reg);
  const value = await waitFor(() => etcd!.get(`/v6/v6/${HOST}:${name}:80`), { what: "the IPv6 service" });
  assert.equal(value, "[fd00::1]:10090");
});
