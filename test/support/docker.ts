import { execFile, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { findExecutable, httpRequest, removeDir, spawnServer, tempDir, undoable, waitUntilReady, type ServerProcess } from "./process.js";

export interface DockerResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface DockerHarness {
  /** The daemon's address, to pass as DOCKER_HOST: "unix:///var/run/docker.sock". */
  host: string;
  /** The daemon's unix socket; "" when DOCKER_HOST points at a tcp:// daemon. */
  socketPath: string;
  /** Runs the docker CLI against this daemon; throws with stderr on a non-zero exit unless allowFail. */
  docker(args: string[], opts?: { allowFail?: boolean }): Promise<DockerResult>;
  /** Tags the local busybox test image as name (e.g. "dockerfile/redis") and returns name. */
  image(name: string): Promise<string>;
  /** `docker run -d --label registrator-test=1 ...args`; returns the full container id. */
  run(args: string[]): Promise<string>;
  /** `docker rm -f` every container labelled registrator-test=1. */
  removeAll(): Promise<void>;
  /** `docker rm -f` the containers this harness ran, and only those: other test runs may share the daemon. */
  removeStarted(): Promise<void>;
  /** removeStarted(), then stops dockerd if this harness started it. */
  stop(): Promise<void>;
}

export const TEST_LABEL = "registrator-test=1";
export const BASE_IMAGE = "registrator-test/busybox:latest";

const INSTALL_HINT = "apt-get install docker.io busybox-static";
const DEFAULT_SOCKET = "/var/run/docker.sock";
/** How long a starting dockerd is waited for; the shared one, for as long as it keeps logging (below). */
const DOCKERD_START_TIMEOUT_MS = 60_000;
const DOCKERD_STOP_GRACE_MS = 30_000;
/** How long a dockerd may take to start while it cleans up after a killed one, restarts included. */
const DOCKERD_RECOVERY_MS = 10 * 60_000;
/** What dockerd 20.10 says when it gives up on its containerd. */
const CONTAINERD_TIMEOUT = "timeout waiting for containerd to start";
// The applets the tests' commands use: the brief's basics, plus nc/httpd/wget
// for TCP and HTTP health-check targets.
const APPLETS = [
  "sh",
  "sleep",
  "true",
  "false",
  "cat",
  "ls",
  "echo",
  "touch",
  "rm",
  "test",
  "[",
  "env",
  "hostname",
  "kill",
  "mkdir",
  "ps",
  "grep",
  "nc",
  "httpd",
  "wget",
];

let current: Promise<DockerHarness> | undefined;

/**
 * A Docker daemon for the tests: DOCKER_HOST's, else the one on
 * /var/run/docker.sock, else a dockerd started here. Repeated calls in one
 * process share the same harness.
 */
export function ensureDocker(): Promise<DockerHarness> {
  current ??= connect().catch((err: unknown) => {
    current = undefined;
    throw err;
  });
  return current;
}

async function connect(): Promise<DockerHarness> {
  const cli = dockerCli();
  const envHost = process.env.DOCKER_HOST;
  if (envHost) {
    const socketPath = envHost.startsWith("unix://") ? envHost.slice("unix://".length) : "";
    const answer = await pingDaemon(cli, envHost, socketPath);
    if (answer !== true) throw new Error(`DOCKER_HOST=${envHost} does not answer: ${answer}`);
    return harness(cli, envHost, socketPath);
  }
  const host = `unix://${DEFAULT_SOCKET}`;
  if (existsSync(DEFAULT_SOCKET) && (await pingDaemon(cli, host, DEFAULT_SOCKET)) === true) {
    return harness(cli, host, DEFAULT_SOCKET);
  }
  return harness(cli, host, DEFAULT_SOCKET, await startDockerd());
}

// Debian's docker.io client first: another `docker` on the PATH may be a
// newer client that refuses this daemon's API version.
export function dockerCli(): string {
  const cli = findExecutable("docker", ["/usr/bin/docker"]);
  if (!cli) throw new Error(`docker client not found: ${INSTALL_HINT}`);
  return cli;
}

/** true, or why not. */
async function pingDaemon(cli: string, host: string, socketPath: string): Promise<true | string> {
  try {
    if (socketPath) {
      const res = await httpRequest({ url: "http://docker/_ping", socketPath, timeoutMs: 3_000 });
      return res.status === 200 ? true : `GET /_ping: HTTP ${res.status}`;
    }
    // tcp:// (maybe with TLS): the CLI knows DOCKER_TLS_VERIFY and DOCKER_CERT_PATH.
    const res = await runCli(cli, host, ["version", "--format", "{{.Server.Version}}"]);
    return res.code === 0 ? true : res.stderr.trim();
  } catch (err) {
    return (err as Error).message;
  }
}

async function startDockerd(): Promise<ServerProcess> {
  const dockerd = findExecutable("dockerd", ["/usr/sbin/dockerd", "/usr/bin/dockerd"]);
  if (!dockerd) throw new Error(`dockerd not found and no daemon on ${DEFAULT_SOCKET}: ${INSTALL_HINT}`);
  await awaitPreviousDockerd();
  // A dockerd killed with containers running leaves their tasks behind, and its next containerd
  // cleans them up one by one before it answers: with a few hundred, longer than the 15 s dockerd
  // waits for it. dockerd then exits, but what containerd cleared stays cleared, so each new start
  // gets further.
  const deadline = Date.now() + DOCKERD_RECOVERY_MS;
  for (;;) {
    try {
      return await startDockerdOnce(dockerd, deadline - Date.now());
    } catch (err) {
      if (!(err instanceof ContainerdStillCleaning) || Date.now() > deadline) throw err;
      process.stderr.write("dockerd gave up waiting for containerd, still cleaning up after a killed daemon: starting it again\n");
    }
  }
}

class ContainerdStillCleaning extends Error {}

/** Waits while dockerd keeps logging (restoring after a killed daemon), up to timeoutMs. */
async function startDockerdOnce(dockerd: string, timeoutMs: number): Promise<ServerProcess> {
  const logDir = tempDir("dockerd");
  // No iptables or proxies: tests only read port bindings back, and this
  // keeps dockerd from touching the host's firewall.
  const proc = spawnServer({
    name: "dockerd",
    command: dockerd,
    args: ["--iptables=false", "--ip-masq=false", "--userland-proxy=false"],
    logFile: join(logDir, "dockerd.log"),
    // SIGKILL would leave containerd, shims and mounts behind.
    exitSignal: "SIGTERM",
  });
  try {
    await waitUntilReady(
      proc,
      `dockerd to answer /_ping on ${DEFAULT_SOCKET}`,
      async () => (await pingDaemon("", "", DEFAULT_SOCKET)) === true,
      timeoutMs,
      { quietMs: DOCKERD_START_TIMEOUT_MS },
    );
  } catch (err) {
    if (proc.running()) await proc.stop(DOCKERD_STOP_GRACE_MS);
    const message = `could not start dockerd (needs root and: ${INSTALL_HINT}): ${(err as Error).message}`;
    throw proc.logTail().includes(CONTAINERD_TIMEOUT) ? new ContainerdStillCleaning(message) : new Error(message);
  }
  void proc.exited.then(() => removeDir(logDir));
  return proc;
}

/**
 * A dockerd that an earlier test file started may still be shutting down (its pid file is there
 * until it exits), or may have been killed and left the pid file behind: wait for the one, remove
 * the other, or dockerd refuses to start. The pid of a killed one may since be another process's,
 * which dockerd would take for itself still running.
 */
async function awaitPreviousDockerd(): Promise<void> {
  const pidFile = "/var/run/docker.pid";
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  const alive = () => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      // "pid (comm) state …": a zombie has exited, whatever its name.
      return /^\d+ \(dockerd\) [^Z]/.test(stat);
    } catch {
      return false;
    }
  };
  for (let waited = 0; pid > 0 && alive() && waited < DOCKERD_STOP_GRACE_MS; waited += 200) {
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  if (pid > 0 && alive()) throw new Error(`dockerd (pid ${pid}) is running but does not answer on ${DEFAULT_SOCKET}`);
  rmSync(pidFile, { force: true });
}

export function harness(cli: string, host: string, socketPath: string, daemon?: ServerProcess): DockerHarness {
  const docker = async (args: string[], opts: { allowFail?: boolean } = {}): Promise<DockerResult> => {
    const res = await runCli(cli, host, args);
    if (res.code !== 0 && !opts.allowFail) {
      throw new Error(`docker ${args.join(" ")} exited with ${res.code}: ${res.stderr.trim()}`);
    }
    return res;
  };
  let baseImage: Promise<void> | undefined;
  const ensureBaseImage = (): Promise<void> => {
    baseImage ??= buildBaseImage(docker).catch((err: unknown) => {
      baseImage = undefined;
      throw err;
    });
    return baseImage;
  };
  const removeAll = async (): Promise<void> => {
    const { stdout } = await docker(["ps", "-aq", "--no-trunc", "--filter", `label=${TEST_LABEL}`]);
    const ids = stdout.split("\n").filter(Boolean);
    if (ids.length === 0) return;
    const res = await docker(["rm", "-f", "-v", ...ids], { allowFail: true });
    // A container that removed itself meanwhile (--rm) is fine.
    const errors = res.stderr.split("\n").filter((line) => line.trim() && !/No such container/i.test(line));
    if (res.code !== 0 && errors.length > 0) throw new Error(`docker rm -f failed: ${errors.join("; ")}`);
  };

  const started = new Set<string>();
  const removeStarted = async (): Promise<void> => {
    if (started.size === 0) return;
    await docker(["rm", "-f", "-v", ...started], { allowFail: true });
    started.clear();
  };

  return {
    host,
    socketPath,
    docker,
    image: async (name) => {
      await ensureBaseImage();
      if (name !== BASE_IMAGE) await docker(["tag", BASE_IMAGE, name]);
      return name;
    },
    run: async (args) => {
      const { stdout } = await docker(["run", "-d", "--label", TEST_LABEL, ...args]);
      const id = stdout.trim().split("\n").pop() ?? "";
      if (!/^[0-9a-f]{64}$/.test(id)) throw new Error(`docker run printed no container id: ${stdout}`);
      started.add(id);
      return id;
    },
    removeAll,
    removeStarted,
    stop: async () => {
      current = undefined;
      try {
        await removeStarted();
      } finally {
        if (daemon?.running()) await daemon.stop(DOCKERD_STOP_GRACE_MS);
      }
    },
  };
}

function runCli(cli: string, host: string, args: string[]): Promise<DockerResult> {
  return new Promise((resolve, reject) => {
    execFile(cli, args, { env: { ...process.env, DOCKER_HOST: host }, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (err as NodeJS.ErrnoException).code : 0;
      if (typeof code === "string") reject(new Error(`cannot run ${cli}: ${code}`));
      else resolve({ stdout, stderr, code: code ?? 1 });
    });
  });
}

// A one-binary image made from the host's static busybox, so tests need no
// registry (there is no network) and the image is built in about a second.
async function buildBaseImage(docker: DockerHarness["docker"]): Promise<void> {
  const existing = await docker(["image", "inspect", "--format", "{{.Id}}", BASE_IMAGE], { allowFail: true });
  if (existing.code === 0) return;
  const busybox = ["/bin/busybox", "/usr/bin/busybox"].find((path) => existsSync(path));
  if (!busybox) throw new Error(`no /bin/busybox for the test image: apt-get install busybox-static`);
  const dir = tempDir("docker-image");
  try {
    const rootfs = join(dir, "rootfs");
    makeRootfs(rootfs, busybox);
    const tarball = join(dir, "rootfs.tar");
    await tar(rootfs, tarball);
    await docker(["import", "--change", 'CMD ["sleep", "3600"]', tarball, BASE_IMAGE]);
  } finally {
    removeDir(dir);
  }
}

function makeRootfs(rootfs: string, busybox: string): void {
  for (const sub of ["bin", "etc", "tmp"]) mkdirSync(join(rootfs, sub), { recursive: true });
  chmodSync(join(rootfs, "tmp"), 0o1777);
  copyFileSync(busybox, join(rootfs, "bin", "busybox"));
  chmodSync(join(rootfs, "bin", "busybox"), 0o755);
  for (const applet of APPLETS) symlinkSync("busybox", join(rootfs, "bin", applet));
  writeFileSync(join(rootfs, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n");
  writeFileSync(join(rootfs, "etc", "group"), "root:x:0:\nnogroup:x:65534:\n");
}

function tar(dir: string, out: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile("tar", ["-C", dir, "-cf", out, "."], (err, _stdout, stderr) =>
      err ? reject(new Error(`tar failed: ${stderr || err.message}`)) : resolve(),
    );
  });
}

/** A dockerd of the test's own, that the test may stop and start again (never the shared one). */
export interface PrivateDocker extends DockerHarness {
  stopDaemon(): Promise<void>;
  startDaemon(): Promise<void>;
}

let privateCount = 0;

/**
 * Its own socket, --data-root, --exec-root, pidfile and bridge: a second daemon beside the shared
 * one. (`--bridge=none` is no option: it deletes the shared daemon's docker0.)
 */
export interface PrivateDockerOptions {
  /** Also listen on tcp://127.0.0.1:<port> with TLS, requiring client certificates signed by `ca`. */
  tls?: { port: number; ca: string; cert: string; key: string };
}

export async function startPrivateDocker(opts: PrivateDockerOptions = {}): Promise<PrivateDocker> {
  const dockerd = findExecutable("dockerd", ["/usr/sbin/dockerd", "/usr/bin/dockerd"]);
  if (!dockerd) throw new Error(`dockerd not found: ${INSTALL_HINT}`);
  const ip = findExecutable("ip", ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"]);
  if (!ip) throw new Error("ip not found: apt-get install iproute2");
  const index = (process.pid % 200) + privateCount++;
  const bridge = `rtest${index}`;
  const dir = tempDir("dockerd-own");
  await run(ip, ["link", "add", bridge, "type", "bridge"]);
  // The bridge outlives its daemon.
  const removeBridge = undoable(() => spawnSync(ip, ["link", "del", bridge]));
  const removeLeftovers = (): void => {
    removeBridge();
    removeDir(dir);
  };
  const { socketPath, args } = ownDaemonArgs(dir, bridge);
  if (opts.tls) {
    const { port, ca, cert, key } = opts.tls;
    args.push("-H", `tcp://127.0.0.1:${port}`, "--tlsverify", "--tlscacert", ca, "--tlscert", cert, "--tlskey", key);
  }
  let proc: ServerProcess | undefined;
  const startDaemon = async (): Promise<void> => {
    proc = spawnServer({ name: "dockerd-own", command: dockerd, args, logFile: join(dir, "dockerd.log"), exitSignal: "SIGTERM" });
    await waitUntilReady(
      proc,
      `private dockerd on ${socketPath}`,
      async () => (await pingDaemon("", "", socketPath)) === true,
      DOCKERD_START_TIMEOUT_MS,
    );
  };
  const stopDaemon = async (): Promise<void> => {
    if (proc?.running()) await proc.stop(DOCKERD_STOP_GRACE_MS);
  };
  try {
    await run(ip, ["addr", "add", `10.213.${index % 250}.1/24`, "dev", bridge]);
    await run(ip, ["link", "set", bridge, "up"]);
    await startDaemon();
  } catch (err) {
    await stopDaemon();
    removeLeftovers();
    throw err;
  }
  const inner = harness(dockerCli(), `unix://${socketPath}`, socketPath);
  return {
    ...inner,
    stopDaemon,
    startDaemon,
    stop: async () => {
      try {
        if (proc?.running()) await inner.removeAll();
      } finally {
        await stopDaemon();
        removeLeftovers();
      }
    },
  };
}

/**
 * The command line of a dockerd that keeps everything in dir: its socket, data and exec roots, pid
 * file, and engine key (a 20.10 daemon otherwise reads /etc/docker/key.json, and two daemons sharing
 * it report one engine ID).
 */
export function ownDaemonArgs(dir: string, bridge: string): { socketPath: string; args: string[] } {
  const socketPath = join(dir, "docker.sock");
  const config = join(dir, "daemon.json");
  writeFileSync(config, JSON.stringify({ "deprecated-key-path": join(dir, "key.json") }));
  const args = [
    "--config-file",
    config,
    "--iptables=false",
    "--ip-masq=false",
    "--userland-proxy=false",
    `--bridge=${bridge}`,
    "-H",
    `unix://${socketPath}`,
    "--data-root",
    join(dir, "data"),
    "--exec-root",
    join(dir, "exec"),
    "--pidfile",
    join(dir, "docker.pid"),
  ];
  return { socketPath, args };
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile(command, args, (err, _stdout, stderr) =>
      err ? reject(new Error(`${command} ${args.join(" ")}: ${stderr || err.message}`)) : resolve(),
    ),
  );
}
