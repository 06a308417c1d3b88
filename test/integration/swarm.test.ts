/**
 * Docker Swarm mode on a one-node swarm of the test's own (a private dockerd, never the shared one):
 * replicas, ingress and host-mode ports, -internal, scale, a published port's update, rm.
 */
import assert from "node:assert/strict";
import { lookup } from "node:dns/promises";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Service } from "../../src/service/types.js";
import { BASE_IMAGE } from "../support/docker.js";
import { freePorts } from "../support/ports.js";
import { removeDir, tempDir } from "../support/process.js";
import { startRegistrator, type RegistratorProcess } from "../support/registrator.js";
import { startSwarmManager, type SwarmNode } from "../support/swarm.js";
import { waitFor } from "../support/wait.js";

const HOST = hostname();
const SWARM_WAIT = { timeoutMs: 90_000, intervalMs: 200 };
let node: SwarmNode | undefined;
let dir = "";
let hostIp = "";
let ports: number[] = [];
const processes: RegistratorProcess[] = [];

before(async () => {
  node = await startSwarmManager("loopback");
  dir = tempDir("swarm-files");
  hostIp = (await lookup(HOST)).address;
  ports = await freePorts(5);
  await node.image(BASE_IMAGE);
  await node.docker(["network", "create", "--driver", "overlay", "swnet"]);
});

after(async () => {
  for (const p of processes) await p.stop("SIGKILL");
  await node?.stop();
  if (dir) removeDir(dir);
});

function registrator(file: string, args: string[] = []): RegistratorProcess {
  const p = startRegistrator([...args, `file://${join(dir, file)}`], { DOCKER_HOST: node!.host });
  processes.push(p);
  return p;
}

/** What the registry holds, as a consumer reads it: id → ip:port, for the services named. */
function view(file: string, names: string[]): Record<string, string> {
  let services: Service[] = [];
  try {
    services = JSON.parse(readFileSync(join(dir, file), "utf8")) as Service[];
  } catch {
    // Not written yet.
  }
  return Object.fromEntries(services.filter((s) => names.includes(s.name)).map((s) => [s.id, `${s.ip}:${s.port}`]));
}

/** Waits until the registry holds exactly `expected`, and returns it. */
function held(file: string, names: string[], expected: Record<string, string>, what: string): Promise<Record<string, string>> {
  const sorted = (entries: Record<string, string>) => JSON.stringify(Object.entries(entries).sort());
  return waitFor(
    () => {
      const seen = view(file, names);
      return sorted(seen) === sorted(expected) ? seen : undefined;
    },
    { ...SWARM_WAIT, what: `${what}: ${JSON.stringify(expected)}, holding ${JSON.stringify(view(file, names))}` },
  );
}

async function service(args: string[]): Promise<void> {
  await node!.docker(["service", "create", "--detach", "--stop-signal", "KILL", "--network", "swnet", ...args, BASE_IMAGE]);
}

async function running(name: string, count: number): Promise<Array<{ id: string; name: string }>> {
  return waitFor(
    async () => {
      const tasks = await node!.tasks(name);
      return tasks.length === count ? tasks : undefined;
    },
    { ...SWARM_WAIT, what: `${count} running tasks of ${name}` },
  );
}

test("ingress: a replicated service is one entry for this node, at its address and published port, with the service's labels", async () => {
  const [published] = ports;
  const reg = registrator("mesh.json");
  await reg.waitForLog("synced");
  await service([
    "--name",
    "web",
    "--replicas",
    "2",
    "-p",
    `${published}:80`,
    "--label",
    "SERVICE_TAGS=svc",
    "--container-label",
    "SERVICE_REGION=eu",
  ]);
  await running("web", 2);
  await held("mesh.json", ["web"], { [`${HOST}:web:${published}`]: `${hostIp}:${published}` }, "the node's entry for web");
  const entry = (JSON.parse(readFileSync(join(dir, "mesh.json"), "utf8")) as Service[]).find((s) => s.name === "web")!;
  assert.deepEqual([entry.tags, entry.attrs], [["svc"], { region: "eu" }]);
});

test("host mode: each task at the node's address and its published port, under the task's name", async () => {
  const [, published] = ports;
  await service(["--name", "hostp", "--publish", `mode=host,published=${published},target=81`]);
  const [task] = await running("hostp", 1);
  await held("mesh.json", ["hostp"], { [`${HOST}:${task!.name}:81`]: `${hostIp}:${published}` }, "the host-mode task");
});

test("scale: the node's entry stays while a task runs, goes at 0, comes back at 1", async () => {
  const [published] = ports;
  const entry = { [`${HOST}:web:${published}`]: `${hostIp}:${published}` };
  await node!.docker(["service", "scale", "--detach", "web=3"]);
  await running("web", 3);
  // Every task claims the node's entry; the two that do not hold it say so.
  const reg = processes[0]!;
  const waiting = `ignored: service id ${HOST}:web:${published} is already registered for container `;
  await waitFor(() => new Set(reg.logs.filter((l) => l.msg.startsWith(waiting)).map((l) => l.container)).size === 2, {
    ...SWARM_WAIT,
    what: "two tasks that do not hold the entry",
  });
  await held("mesh.json", ["web"], entry, "one entry for three tasks");
  await node!.docker(["service", "scale", "--detach", "web=0"]);
  await held("mesh.json", ["web"], {}, "no entry without a task");
  await node!.docker(["service", "scale", "--detach", "web=1"]);
  await held("mesh.json", ["web"], entry, "the entry again");
});

test("update: a new published port replaces the old one's entry", async () => {
  const [old, , published] = ports;
  const entry = { [`${HOST}:web:${published}`]: `${hostIp}:${published}` };
  await node!.docker(["service", "update", "--detach", "--publish-rm", `${old}:80`, "--publish-add", `${published}:80`, "web"]);
  await held("mesh.json", ["web"], entry, "the entry at the new port");
  // Swarm replaces the task for its new ports: the entry is the new task's once the update is done.
  const updated = async () =>
    (await node!.docker(["service", "inspect", "-f", "{{.UpdateStatus.State}}", "web"])).stdout.trim() === "completed";
  await waitFor(updated, { ...SWARM_WAIT, what: "the rolling update to complete" });
  const [task] = await running("web", 1);
  await held("mesh.json", ["web"], entry, "the entry, held by the new task");
  const holder = (JSON.parse(readFileSync(join(dir, "mesh.json"), "utf8")) as Service[]).find((s) => s.name === "web")!;
  assert.equal(holder.origin.containerName, task!.name);
});

test("rm: a removed service's entries go", async () => {
  await node!.docker(["service", "rm", "web", "hostp"]);
  await held("mesh.json", ["web", "hostp"], {}, "nothing left of web and hostp");
});

test("-internal: each task at its overlay address and target port, never at its ingress one", async () => {
  const [, , , published] = ports;
  const reg = registrator("internal.json", ["-internal"]);
  await reg.waitForLog("synced");
  await service(["--name", "api", "--replicas", "2", "-p", `${published}:80`]);
  const tasks = await running("api", 2);
  const expected: Record<string, string> = {};
  for (const task of tasks) {
    const { stdout } = await node!.docker(["inspect", "-f", '{{(index .NetworkSettings.Networks "swnet").IPAddress}}', task.id]);
    expected[`${HOST}:${task.name}:80`] = `${stdout.trim()}:80`;
  }
  await held("internal.json", ["api"], expected, "each task at its overlay address");
});

test("a container labelled as another node's task is a plain container here: the manager knows no such task", async () => {
  const [, , , , published] = ports;
  const reg = processes[0]!;
  const labels = ["com.docker.swarm.service.name=fake", "com.docker.swarm.service.id=fake1", "com.docker.swarm.node.id=othernode"];
  const id = await node!.run([...labels.flatMap((label) => ["--label", label]), "-p", `${published}:80`, BASE_IMAGE]);
  const line = await reg.waitForLog((l) => l.container === id.slice(0, 12) && l.msg.startsWith("ignored:"));
  assert.equal(
    line.msg,
    "ignored: swarm labels ignored, the engine does not confirm the task (no com.docker.swarm.task.id label): a plain container",
  );
  const name = (await node!.docker(["inspect", "-f", "{{.Name}}", id])).stdout.trim().slice(1);
  const added = await reg.waitForLog((l) => l.container === id.slice(0, 12) && l.msg === "added");
  assert.deepEqual([added.service, added.name], [`${HOST}:${name}:80`, BASE_IMAGE.replace(/^.*\//, "").replace(/:.*$/, "")]);
  assert.deepEqual(view("mesh.json", ["fake"]), {});
});
