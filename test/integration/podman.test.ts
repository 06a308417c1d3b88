/**
 * The real CLI against Podman's Docker-compatible API (`podman system service`), unchanged: only
 * DOCKER_HOST differs. A Podman of this file's own, with its own storage; the file backend.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import { PODMAN_ULIMITS, startPodman, type PodmanHarness } from "../support/podman.js";
import { freeForwardedPort } from "../support/ports.js";
import { tempDir } from "../support/process.js";
import { startRegistrator, type RegistratorProcess } from "../support/registrator.js";
import { waitFor } from "../support/wait.js";

const HOST = hostname();
let podman: PodmanHarness;
let dir: string;
const processes: RegistratorProcess[] = [];
/** This test's containers: removed after each test, so the next one starts from an empty engine. */
let containers: string[] = [];
let unique = 0;

interface StoredService {
  id: string;
  name: string;
  ip: string;
  port: number;
}

before(async () => {
  podman = await startPodman();
  dir = tempDir("podman-file");
});

afterEach(async () => {
  if (containers.length) await podman.podman(["rm", "--force", "--time", "0", ...containers], { allowFail: true });
  containers = [];
});

after(async () => {
  for (const p of processes) await p.stop("SIGKILL");
  await podman?.stop();
});

function registrator(file: string, extra: string[] = []): RegistratorProcess {
  const p = startRegistrator(["-ip", "127.0.0.1", ...extra, `file://${file}`], { DOCKER_HOST: podman.host });
  processes.push(p);
  return p;
}

/** A published port on a free host port (rootful Podman binds it), service name `name`. */
async function run(service: string, extra: string[] = [], command: string[] = []): Promise<{ id: string; name: string; port: number }> {
  const name = `ops-t-${process.pid}-${++unique}`;
  const port = await freeForwardedPort();
  const id = await podman.run(["--name", name, "-p", `${port}:80`, "-e", `SERVICE_NAME=${service}`, ...extra, podman.image, ...command]);
  containers.push(id);
  return { id, name, port };
}

async function services(file: string): Promise<StoredService[]> {
  try {
    return (JSON.parse(await readFile(file, "utf8")) as StoredService[]).map(({ id, name, ip, port }) => ({ id, name, ip, port }));
  } catch {
    return [];
  }
}

async function waitForServices(file: string, expected: StoredService[], what: string): Promise<void> {
  let last: StoredService[] = [];
  await waitFor(async () => JSON.stringify((last = await services(file))) === JSON.stringify(expected), { timeoutMs: 15_000, what }).catch(
    () => undefined,
  );
  assert.deepEqual(last, expected);
}

const expected = (c: { name: string; port: number }, service: string): StoredService => ({
  id: `${HOST}:${c.name}:80`,
  name: service,
  ip: "127.0.0.1",
  port: c.port,
});

describe("Podman", () => {
  test("registers running and newly started containers' published ports, and removes them on rm and stop", async () => {
    const file = join(dir, "lifecycle.json");
    const early = await run("pod-early");
    const reg = registrator(file);
    const listening = await reg.waitForLog("listening for container events");
    assert.equal(listening.api, "1.41", "Podman 4 speaks Docker API 1.41");
    await reg.waitForLog("synced");
    await waitForServices(file, [expected(early, "pod-early")], "the running container at start-up");

    const late = await run("pod-late");
    await waitForServices(
      file,
      [expected(early, "pod-early"), expected(late, "pod-late")].sort((a, b) => a.id.localeCompare(b.id)),
      "the new container",
    );

    await podman.podman(["rm", "--force", "--time", "0", late.id]);
    await waitForServices(file, [expected(early, "pod-early")], "removal on rm -f");

    await podman.podman(["stop", "--time", "0", early.id]);
    await waitForServices(file, [], "removal on stop");
    assert.equal(await reg.stop(), 0);
  });

  test("a container created, then started, is registered at its start and removed with it, once each", async () => {
    const file = join(dir, "created.json");
    const reg = registrator(file, ["--log-level", "debug"]);
    await reg.waitForLog("synced");
    const name = `ops-t-${process.pid}-${++unique}`;
    const port = await freeForwardedPort();
    const id = (
      await podman.podman(["create", ...PODMAN_ULIMITS, "--name", name, "-p", `${port}:80`, "-e", "SERVICE_NAME=pod-created", podman.image])
    ).stdout.trim();
    containers.push(id);
    await podman.podman(["start", id]);
    await waitForServices(file, [expected({ name, port }, "pod-created")], "the started container");
    await podman.podman(["rm", "--force", "--time", "0", id]);
    await reg.waitForLog((line) => line.msg === "removed" && line.container === id.slice(0, 12));
    const lines = reg.logs.filter((line) => line.container === id.slice(0, 12) && line.msg !== "event").map((line) => line.msg);
    assert.deepEqual(lines, ["added", "removed"]);
  });

  test("-deregister on-success keeps a failed container's service until the container is removed; a killed one goes", async () => {
    const file = join(dir, "on-success.json");
    const reg = registrator(file, ["-deregister", "on-success"]);
    await reg.waitForLog("synced");
    // It fails when told to, once registered: a fixed sleep would race registration on a busy host.
    const c = await run("pod-kept", [], ["sh", "-c", "while [ ! -e /tmp/fail ]; do sleep 0.2; done; exit 3"]);
    const k = await run("pod-killed");
    await waitForServices(file, [expected(c, "pod-kept"), expected(k, "pod-killed")], "the containers");

    // A signal is not a failure (v7's shouldRemove): exit code 137 deregisters.
    await podman.podman(["kill", k.id]);
    await waitForServices(file, [expected(c, "pod-kept")], "the killed container's removal");
    await podman.podman(["exec", c.id, "touch", "/tmp/fail"]);
    await reg.waitForLog((l) => l.msg.startsWith("kept:") && l.container === c.id.slice(0, 12), 20_000);
    assert.deepEqual(await services(file), [expected(c, "pod-kept")]);

    // Podman reports removal as "remove" (Docker: "destroy").
    await podman.podman(["rm", c.id]);
    await waitForServices(file, [], "removal once the container is gone");
    assert.equal(await reg.stop(), 0);
  });

  test("SERVICE_REQUIRE_HEALTHY: registered once a health check passes (Podman runs checks only when asked, without systemd)", async () => {
    const file = join(dir, "health.json");
    // Podman's health_status event can arrive late on a busy host (once in five runs, after more than
    // 15 s); -resync bounds the wait, as README tells Podman users.
    const reg = registrator(file, ["-resync", "5"]);
    await reg.waitForLog("synced");
    const c = await run("pod-health", ["--health-cmd", "true", "-e", "SERVICE_REQUIRE_HEALTHY=true"]);
    const ignored = await reg.waitForLog((l) => l.msg.startsWith("ignored:") && l.container === c.id.slice(0, 12));
    assert.equal(ignored.msg, "ignored: not healthy (health: starting)");
    assert.deepEqual(await services(file), []);

    await podman.podman(["healthcheck", "run", c.id]);
    await waitForServices(file, [expected(c, "pod-health")], "registration once healthy");
    assert.equal(await reg.stop(), 0);
  });
});
