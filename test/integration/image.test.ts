/**
 * The Dockerfile, built and run as the README says to run it. No base image can be pulled here, so
 * the build uses a Node base made from this machine's own node and npm (test/support/node-base.ts):
 * what is proven is the image's layout, entrypoint and behaviour, not node:20-alpine itself.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { BASE_IMAGE, ensureDocker, type DockerHarness } from "../support/docker.js";
import { ensureNodeBase, NODE_BASE_IMAGE } from "../support/node-base.js";
import { freePort } from "../support/ports.js";
import { removeDir, tempDir } from "../support/process.js";
import { waitFor } from "../support/wait.js";

const ROOT = join(__dirname, "../../..");
const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const HOST = hostname();
const TAG = `registrator-test/registrator:ops-t-${process.pid}`;
let docker: DockerHarness;
/** The classic builder leaves each stage's image behind, untagged: ours are removed with the tag. */
let stageImages: string[] = [];
let buildLog = "";
let out: string | undefined;

/** The image ids the classic builder printed at the end of each stage but the last (`---> id` before `FROM`). */
function stageImageIds(log: string): string[] {
  const ids: string[] = [];
  let last: string | undefined;
  for (const line of log.split("\n")) {
    const id = /^\s*---> ([0-9a-f]{12})\s*$/.exec(line)?.[1];
    if (id) last = id;
    else if (/^Step \d+\/\d+ : FROM /i.test(line) && last) {
      ids.push(last);
      last = undefined;
    }
  }
  return ids;
}

before(async () => {
  docker = await ensureDocker();
  const base = await ensureNodeBase(docker.docker);
  // --network host: the build stages need the npm registry, and bridge networking has no route out here.
  const build = await docker.docker(["build", "--build-arg", `NODE_IMAGE=${base}`, "--network", "host", "-t", TAG, ROOT], {
    allowFail: true,
  });
  buildLog = build.stdout + build.stderr;
  stageImages = stageImageIds(build.stdout);
  if (build.code !== 0) throw new Error(`docker build failed:\n${buildLog.split("\n").slice(-30).join("\n")}`);
});

// The images go before the daemon: stopping a dockerd this harness started would leave them on its disk.
after(async () => {
  await docker?.removeStarted();
  await docker?.docker(["rmi", "--force", TAG], { allowFail: true });
  for (const id of stageImages) await docker?.docker(["rmi", id], { allowFail: true });
  await docker?.docker(["rmi", NODE_BASE_IMAGE], { allowFail: true });
  await docker?.stop();
  if (out) removeDir(out);
});

async function inImage(command: string): Promise<string> {
  return (await docker.docker(["run", "--rm", "--entrypoint", "sh", TAG, "-c", command])).stdout;
}

describe("the container image", () => {
  test("runs the CLI as its entrypoint, with production dependencies only", async () => {
    const config = JSON.parse((await docker.docker(["image", "inspect", "--format", "{{json .Config}}", TAG])).stdout) as {
      Entrypoint: string[];
    };
    assert.deepEqual(config.Entrypoint, ["/app/bin/registrator"]);
    const { stdout } = await docker.docker(["run", "--rm", TAG, "--version"]);
    assert.equal(stdout.trim(), `registrator ${VERSION}`);
    const usage = await docker.docker(["run", "--rm", TAG], { allowFail: true });
    assert.equal(usage.code, 2, "no registry URI: usage, exit 2");

    const modules = (await inImage("ls /app/node_modules")).split("\n");
    assert.ok(modules.includes("pino-pretty") && modules.includes("prom-client"), `runtime dependencies: ${modules.join(" ")}`);
    assert.ok(!modules.includes("typescript") && !modules.includes("@types"), "no devDependencies");
    assert.deepEqual((await inImage("ls /app")).split("\n").filter(Boolean).sort(), ["bin", "dist", "node_modules", "package.json"]);
    assert.deepEqual((await inImage("ls /app/dist")).trim(), "src", "no tests or benchmarks in the image");
    assert.equal((await inImage("find /app -name '*.node' | wc -l")).trim(), "0", "no native addons");
  });

  test("registers a container's published port from inside a container, as the README runs it", async () => {
    out = tempDir("image-out");
    const file = join(out, "services.json");
    const registrator = await docker.run([
      "--name",
      `ops-t-${process.pid}-registrator`,
      "-v",
      `${docker.socketPath}:/tmp/docker.sock`,
      "-h",
      HOST,
      "-v",
      `${out}:/out`,
      TAG,
      "-ip",
      "127.0.0.1",
      "file:///out/services.json",
    ]);
    const logs = async () => (await docker.docker(["logs", registrator])).stdout;
    await waitFor(async () => (await logs()).includes('"msg":"synced"'), {
      timeoutMs: 30_000,
      what: "the containerised registrator to sync",
    });

    const name = `ops-t-${process.pid}-service`;
    const port = await freePort();
    const id = await docker.run(["--name", name, "-p", `${port}:80`, "-e", "SERVICE_NAME=ops-image", await docker.image(BASE_IMAGE)]);
    const ours = async () =>
      (JSON.parse(await readFile(file, "utf8")) as Array<{ id: string; name: string; ip: string; port: number }>)
        .filter((s) => s.name === "ops-image")
        .map(({ id, name, ip, port }) => ({ id, name, ip, port }));
    await waitFor(async () => (await ours()).length === 1, { what: "the service in the file" });
    assert.deepEqual(await ours(), [{ id: `${HOST}:${name}:80`, name: "ops-image", ip: "127.0.0.1", port }]);

    await docker.docker(["rm", "-f", id]);
    await waitFor(async () => (await ours()).length === 0, { what: "the service gone from the file" });

    // SIGTERM as PID 1: a clean stop, not the kill that follows 10 s later.
    await docker.docker(["stop", registrator]);
    const state = (await docker.docker(["inspect", "--format", "{{.State.ExitCode}}", registrator])).stdout.trim();
    assert.equal(state, "0", await logs());
  });
});
