/** The CLI as a user meets it: help, version, exit codes and their one-line reasons. */
import { join } from "node:path";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { after, test } from "node:test";
import { ensureDocker, type DockerHarness } from "../../support/docker.js";
import { startEtcd, type EtcdServer } from "../../support/etcd.js";
import { freePort } from "../../support/ports.js";
import { runRegistrator, startRegistrator, type RegistratorProcess } from "../../support/registrator.js";
import { waitFor } from "../../support/wait.js";

const pkg = JSON.parse(readFileSync(join(__dirname, "../../../../package.json"), "utf8")) as { version: string };
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test("--help prints usage with every option and exits 0", async () => {
  const { code, stdout } = await runRegistrator(["--help"]);
  assert.equal(code, 0);
  for (const option of [
    "-ip",
    "-internal",
    "-explicit",
    "-useIpFromLabel",
    "-tags",
    "-resync",
    "-ttl",
    "-ttl-refresh",
    "-deregister",
    "-retry-attempts",
    "-retry-interval",
    "-cleanup",
  ]) {
    assert.match(stdout, new RegExp(`^\\s+${option}\\b`, "m"), option);
  }
});

test("--version prints the package version, and nothing else", async () => {
  const { code, stdout, stderr } = await runRegistrator(["--version"]);
  assert.equal(code, 0);
  assert.equal(stdout, `registrator ${pkg.version}\n`);
  assert.equal(stderr, "", "no warnings from node's flags");
});

test("usage errors exit 2 with one line naming the problem", async () => {
  const cases: Array<[string[], RegExp]> = [
    [[], /^registrator: missing registry URI$/m],
    [["-ttl", "10", "etcd://127.0.0.1/x"], /^registrator: -ttl and -ttl-refresh must be specified together or not at all$/m],
    [["-deregister", "sometimes", "etcd://127.0.0.1/x"], /^registrator: -deregister must be "always" or "on-success", not "sometimes"$/m],
    [["nosuch://127.0.0.1/x"], /^registrator: unknown registry scheme "nosuch": use one of .*etcd:\/\//m],
    [["etcd://127.0.0.1:99999/x"], /^registrator: invalid port 99999 in registry URI/m],
    [["file://relative/path.json"], /^registrator: file URI needs an absolute path/m],
  ];
  for (const [args, message] of cases) {
    const { code, stderr } = await runRegistrator(args);
    assert.equal(code, 2, args.join(" "));
    assert.match(stderr, message, args.join(" "));
  }
});

test("a registry that stays unreachable exits 1 after the retries", async () => {
  const port = await freePort();
  const { code, stderr } = await runRegistrator(["-retry-attempts", "2", "-retry-interval", "100", `etcd://127.0.0.1:${port}/x`]);
  assert.equal(code, 1);
  assert.match(stderr, new RegExp(`registry etcd://127.0.0.1:${port}/x unreachable after 3 attempt\\(s\\)`));
});

test("SIGTERM stops it cleanly with exit code 0", async () => {
  const docker = await ensureDocker();
  cleanups.push(() => docker.stop());
  const etcd: EtcdServer = await startEtcd();
  cleanups.push(() => etcd.stop());
  const reg: RegistratorProcess = startRegistrator([`etcd://${etcd.host}/sigterm`], { DOCKER_HOST: docker.host });
  await reg.waitForLog("synced");
  assert.equal(await reg.stop("SIGTERM"), 0);
  assert.ok(reg.logs.some((l) => l.msg === "stopped"));
});

test("a container that starts and dies at once ends deregistered", async () => {
  const docker: DockerHarness = await ensureDocker();
  const etcd = await startEtcd();
  cleanups.push(() => etcd.stop());
  const reg = startRegistrator(["-ip", "127.0.0.1", `etcd://${etcd.host}/flash`], { DOCKER_HOST: docker.host });
  cleanups.push(() => reg.stop("SIGKILL"));
  await reg.waitForLog("synced");
  const name = `cli-t-flash-${process.pid}`;
  const id = await docker.run([
    "--name",
    name,
    "-p",
    "10060:80",
    "-e",
    "SERVICE_NAME=flash",
    await docker.image("dockerfile/redis"),
    "true",
  ]);
  cleanups.push(() => docker.docker(["rm", "-f", id], { allowFail: true }));
  await waitFor(async () => (await docker.docker(["inspect", "-f", "{{.State.Running}}", id])).stdout.trim() === "false", { what: "exit" });
  // Events are handled in order: once a container started after it is registered, the flash's die has been seen.
  const sentinel = await docker.run([
    "--name",
    `${name}-sentinel`,
    "-p",
    "10061:80",
    "-e",
    "SERVICE_NAME=sentinel",
    await docker.image("dockerfile/redis"),
  ]);
  cleanups.push(() => docker.docker(["rm", "-f", sentinel], { allowFail: true }));
  await waitFor(() => etcd.get(`/flash/sentinel/${hostname()}:${name}-sentinel:80`), { what: "the sentinel" });
  await waitFor(
    () =>
      reg.logs.every((l) => l.container !== id.slice(0, 12) || l.msg !== "added") ||
      reg.logs.some((l) => l.container === id.slice(0, 12) && l.msg === "removed"),
    { what: "a removal after any add" },
  );
  assert.equal(await etcd.get(`/flash/flash/${hostname()}:${name}:80`), undefined);
});

test("--once registers what runs and exits 0; --dry-run prints the services as JSON and writes nothing", async () => {
  const docker = await ensureDocker();
  const etcd = await startEtcd();
  cleanups.push(() => etcd.stop());
  const name = `cli-t-once-${process.pid}`;
  const id = await docker.run([
    "--name",
    name,
    "-p",
    "10062:80",
    "-e",
    "SERVICE_NAME=oneshot",
    "-e",
    "SERVICE_REGION=eu",
    await docker.image("dockerfile/redis"),
  ]);
  cleanups.push(() => docker.docker(["rm", "-f", id], { allowFail: true }));
  const env = { DOCKER_HOST: docker.host, REGISTRATOR_LOG_FORMAT: "json" };

  const dry = await runRegistrator(["--dry-run", "-ip", "127.0.0.1", `etcd://${etcd.host}/once`], env);
  assert.equal(dry.code, 0, dry.stderr);
  const printed = JSON.parse(dry.stdout) as Array<{ id: string; name: string; ip: string; port: number; attrs: object }>;
  const ours = printed.find((s) => s.id === `${hostname()}:${name}:80`);
  assert.deepEqual(ours && { name: ours.name, ip: ours.ip, port: ours.port, attrs: ours.attrs }, {
    name: "oneshot",
    ip: "127.0.0.1",
    port: 10062,
    attrs: { region: "eu" },
  });
  assert.deepEqual(await etcd.list("/once/"), {}, "the dry run wrote nothing");

  const once = await runRegistrator(["--once", "-ip", "127.0.0.1", `etcd://${etcd.host}/once`], env);
  assert.equal(once.code, 0, once.stderr);
  assert.equal(await etcd.get(`/once/oneshot/${hostname()}:${name}:80`), "127.0.0.1:10062");
});
