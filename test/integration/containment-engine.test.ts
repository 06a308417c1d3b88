/**
 * One container cannot hurt the others, on a real dockerd (a swarm manager of the test's own): a
 * plain container with forged swarm labels, a container whose events are over 1 MiB, and one with
 * 100,000 metadata labels and every port exposed. Beside each, an innocent container registers within
 * a few seconds, /health answers, the event stream is never dropped, and SIGTERM ends it with exit 0.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Service } from "../../src/service/types.js";
import { BASE_IMAGE } from "../support/docker.js";
import { freePorts } from "../support/ports.js";
import { httpRequest, removeDir, tempDir } from "../support/process.js";
import { startRegistrator, type RegistratorProcess } from "../support/registrator.js";
import { startSwarmManager, type SwarmNode } from "../support/swarm.js";
import { waitFor } from "../support/wait.js";

const HOST = hostname();
/** An innocent container is registered this soon, whatever its neighbour does. */
const INNOCENT_MS = 8_000;
const SWARM_WAIT = { timeoutMs: 90_000, intervalMs: 200 };
let node: SwarmNode | undefined;
let dir = "";
let ports: number[] = [];
let metricsPort = 0;
let reg: RegistratorProcess | undefined;
let innocents = 0;

before(async () => {
  node = await startSwarmManager("loopback");
  dir = tempDir("containment-engine");
  [metricsPort = 0, ...ports] = await freePorts(8);
  await node.image(BASE_IMAGE);
  await node.docker(["network", "create", "--driver", "overlay", "shopnet"]);
  reg = startRegistrator(["--metrics-addr", `127.0.0.1:${metricsPort}`, `file://${join(dir, "services.json")}`], {
    DOCKER_HOST: node.host,
  });
  await reg.waitForLog("synced", 30_000);
});

after(async () => {
  await reg?.stop("SIGKILL");
  await node?.stop();
  if (dir) removeDir(dir);
});

function registered(): Service[] {
  try {
    return JSON.parse(readFileSync(join(dir, "services.json"), "utf8")) as Service[];
  } catch {
    return [];
  }
}

function entry(id: string): Service | undefined {
  return registered().find((s) => s.id === id);
}

/** Starts an innocent container and waits, briefly, for its entry. */
async function innocentRegisters(): Promise<void> {
  const name = `innocent-${process.pid}-${++innocents}`;
  const port = ports[innocents]!;
  await node!.run(["--name", name, "-p", `${port}:80`, "-e", `SERVICE_NAME=${name}`, BASE_IMAGE]);
  await waitFor(() => entry(`${HOST}:${name}:80`), { timeoutMs: INNOCENT_MS, intervalMs: 100, what: `${name} registered` });
}

async function healthAnswers(): Promise<void> {
  const res = await httpRequest({ url: `http://127.0.0.1:${metricsPort}/health`, timeoutMs: 3_000 });
  assert.equal(res.status, 200, `/health: ${res.status}`);
}

/** The engine's event stream was subscribed once, and never dropped or synced again. */
function streamNeverDropped(): void {
  const logs = reg!.logs;
  assert.deepEqual(
    logs.filter((l) => l.msg.startsWith("failed: engine")),
    [],
  );
  assert.equal(logs.filter((l) => l.msg === "listening for container events").length, 1);
  assert.equal(logs.filter((l) => l.msg === "synced").length, 1);
}

test("a plain container with a real task's swarm labels never takes the service's ingress entry", async () => {
  const published = ports[0]!;
  const ingressId = `${HOST}:shop_web:${published}`;
  await node!.docker([
    "service",
    "create",
    "--detach",
    "--name",
    "shop_web",
    "--stop-signal",
    "KILL",
    "--network",
    "shopnet",
    "-p",
    `${published}:80`,
    BASE_IMAGE,
  ]);
  const realTask = await waitFor(async () => (await node!.tasks("shop_web"))[0], { ...SWARM_WAIT, what: "the task of shop_web" });
  await waitFor(() => entry(ingressId), { ...SWARM_WAIT, what: "the real task's ingress entry" });

  const inspect = async (format: string, id: string) => (await node!.docker(["inspect", "-f", format, id])).stdout.trim();
  const labels = {
    "com.docker.swarm.service.name": "shop_web",
    "com.docker.swarm.service.id": await inspect("{{.ID}}", "shop_web"),
    "com.docker.swarm.node.id": node!.nodeId,
    "com.docker.swarm.task.id": await inspect('{{index .Config.Labels "com.docker.swarm.task.id"}}', realTask.id),
    SERVICE_TAGS: "forged",
    SERVICE_CHECK_TTL: "1s",
  };
  const forged = await node!.run([...Object.entries(labels).flatMap(([k, v]) => ["--label", `${k}=${v}`]), BASE_IMAGE]);
  await innocentRegisters();
  const line = await reg!.waitForLog((l) => l.container === forged.slice(0, 12) && l.msg.startsWith("ignored: swarm labels ignored"));
  assert.match(line.msg, /the engine does not confirm the task \(task \w+ is container \w+, not this one\): a plain container$/);
  assert.equal(entry(ingressId)?.origin.containerId, realTask.id);
  assert.deepEqual(entry(ingressId)?.tags, []);

  // The task's next restart is a new task: the entry goes to it, never to the forged container.
  await node!.docker(["kill", realTask.id]);
  // Listed by its labels, the forged container looks like a task too.
  const replacement = async () => (await node!.tasks("shop_web")).find((t) => t.id !== realTask.id && t.id !== forged);
  const next = await waitFor(replacement, { ...SWARM_WAIT, what: "the task's replacement" });
  await waitFor(() => entry(ingressId)?.origin.containerId === next.id, { ...SWARM_WAIT, what: "the entry, held by the new task" });
  assert.equal(registered().filter((s) => s.origin.containerId === forged).length, 0);
  await healthAnswers();
});

test("events over 1 MiB are skipped, each with a warning naming the container, which is read again; the stream stays up", async () => {
  const labelFile = join(dir, "padding.labels");
  writeFileSync(labelFile, Array.from({ length: 48 }, (_, i) => `pad${i}=${"p".repeat(30_000)}\n`).join(""));
  const name = `bigevents-${process.pid}`;
  const port = ports[6]!;
  const big = await node!.run([
    "--name",
    name,
    "--label-file",
    labelFile,
    "-p",
    `${port}:80`,
    "-e",
    "SERVICE_NAME=bigevents",
    "--health-cmd",
    "true",
    "--health-interval",
    "1s",
    BASE_IMAGE,
  ]);
  await innocentRegisters();
  const warning = await reg!.waitForLog(
    (l) => l.container === big.slice(0, 12) && l.msg.startsWith("ignored: an engine event line over 1048576 characters"),
  );
  assert.equal(warning.level, 40, "a warning");
  await waitFor(() => entry(`${HOST}:${name}:80`), {
    timeoutMs: INNOCENT_MS,
    what: "the container of the skipped events, read again and registered",
  });
  await healthAnswers();
  streamNeverDropped();
});

test("100,000 metadata labels with every port exposed: refused by --max-services, the others go on", async () => {
  const labelFile = join(dir, "many.labels");
  writeFileSync(labelFile, Array.from({ length: 100_000 }, (_, i) => `SERVICE_0${i}_X=v\n`).join(""));
  const wide = await node!.run(["--label-file", labelFile, "--expose", "1-65535", "--net", "host", BASE_IMAGE]);
  await innocentRegisters();
  const line = await reg!.waitForLog((l) => l.container === wide.slice(0, 12) && l.msg.startsWith("ignored: 65535 ports"), 60_000);
  assert.equal(line.msg, "ignored: 65535 ports would become services, more than --max-services 256");
  await innocentRegisters();
  await healthAnswers();
  streamNeverDropped();
});

test("SIGTERM ends it cleanly", async () => {
  assert.equal(await reg!.stop("SIGTERM"), 0);
});
