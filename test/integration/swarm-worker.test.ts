/**
 * A two-node swarm of the test's own: a manager, and a worker in a network namespace of its own
 * (see test/support/swarm.ts). Each node's registrator registers its own node's tasks.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { WORKER_NOTICE } from "../../src/bridge/related.js";
import type { Service } from "../../src/service/types.js";
import { BASE_IMAGE } from "../support/docker.js";
import { freePorts } from "../support/ports.js";
import { removeDir, tempDir } from "../support/process.js";
import { startRegistrator, type RegistratorProcess } from "../support/registrator.js";
import { joinSwarmWorker, startSwarmManager, type SwarmNode } from "../support/swarm.js";
import { waitFor } from "../support/wait.js";

const HOST = hostname();
const SWARM_WAIT = { timeoutMs: 120_000, intervalMs: 200 };
const nodes: SwarmNode[] = [];
const processes: RegistratorProcess[] = [];
let dir = "";

after(async () => {
  for (const p of processes) await p.stop("SIGKILL");
  // The worker leaves first: a manager that left cannot be told.
  for (const node of [...nodes].reverse()) await node.stop();
  if (dir) removeDir(dir);
});

function services(file: string): Service[] {
  try {
    return JSON.parse(readFileSync(join(dir, file), "utf8")) as Service[];
  } catch {
    return [];
  }
}

/** Waits until the registry holds exactly `expected` (id → ip:port). */
async function held(file: string, expected: Record<string, string>, what: string): Promise<void> {
  const seen = () =>
    JSON.stringify(
      services(file)
        .map((s) => [s.id, `${s.ip}:${s.port}`])
        .sort(),
    );
  const want = JSON.stringify(Object.entries(expected).sort());
  await waitFor(() => seen() === want, { ...SWARM_WAIT, what: `${what}: ${want}, holding ${seen()}` });
}

async function task(node: SwarmNode, service: string): Promise<string> {
  const tasks = await waitFor(
    async () => {
      const found = await node.tasks(service);
      return found.length === 1 ? found : undefined;
    },
    { ...SWARM_WAIT, what: `the task of ${service} on ${node.address}` },
  );
  return tasks[0]!.name;
}

test("a manager registers its task's ingress and host-mode ports; a worker its host-mode ports, and says once why only those", async () => {
  const manager = await startSwarmManager("bridge");
  nodes.push(manager);
  const worker = await joinSwarmWorker(manager);
  nodes.push(worker);
  dir = tempDir("swarm-worker-files");
  const [ingress = 0, host = 0, other = 0] = await freePorts(3);
  for (const node of nodes) await node.image(BASE_IMAGE);
  await manager.docker(["network", "create", "--driver", "overlay", "swnet"]);

  const regs = nodes.map((node, i) => {
    const file = i === 0 ? "manager.json" : "worker.json";
    const reg = startRegistrator(["-ip", node.address, `file://${join(dir, file)}`], { DOCKER_HOST: node.host });
    processes.push(reg);
    return reg;
  });
  for (const reg of regs) await reg.waitForLog("synced");

  const create = (args: string[]) =>
    manager.docker([
      "service",
      "create",
      "--detach",
      "--mode",
      "global",
      "--stop-signal",
      "KILL",
      "--network",
      "swnet",
      ...args,
      BASE_IMAGE,
    ]);
  await create([
    "--name",
    "web",
    "-p",
    `${ingress}:80`,
    "--publish",
    `mode=host,published=${host},target=81`,
    "--label",
    "SERVICE_TAGS=svc",
  ]);
  await create(["--name", "api", "-p", `${other}:80`]);
  const [onManager, onWorker] = [await task(manager, "web"), await task(worker, "web")];
  await task(worker, "api");

  await held(
    "manager.json",
    {
      [`${HOST}:web:${ingress}`]: `${manager.address}:${ingress}`,
      [`${HOST}:${onManager}:81`]: `${manager.address}:${host}`,
      [`${HOST}:api:${other}`]: `${manager.address}:${other}`,
    },
    "the manager's entries",
  );
  await held("worker.json", { [`${HOST}:${onWorker}:81`]: `${worker.address}:${host}` }, "the worker's entry");

  const [managerLog, workerLog] = regs.map((reg) => reg!.logs);
  assert.equal(workerLog!.filter((l) => l.msg === WORKER_NOTICE).length, 1, "said once, though two tasks asked");
  assert.equal(managerLog!.filter((l) => l.msg === WORKER_NOTICE).length, 0);
  const tags = (file: string) => services(file).find((s) => s.id.endsWith(":81"))?.tags;
  assert.deepEqual([tags("manager.json"), tags("worker.json")], [["svc"], []], "only a manager reads the service's labels");
});
