/**
 * A Podman API service of the test's own: `podman system service` on a socket in a temp dir, with
 * its own storage (vfs under a temp --root/--runroot), so it never touches the host's containers
 * or images, and a busybox test image imported into it.
 */
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeBusyboxRootfs, tarDirectory } from "./node-base.js";
import { findExecutable, httpRequest, removeDir, spawnServer, tempDir, waitUntilReady, type ServerProcess } from "./process.js";

export interface PodmanResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface PodmanHarness {
  /** For DOCKER_HOST: "unix:///tmp/registrator-podman-…/podman.sock". */
  host: string;
  socketPath: string;
  /** The busybox image imported into this Podman. */
  image: string;
  /** The podman CLI as a client of this service; throws with stderr on a non-zero exit unless allowFail. */
  podman(args: string[], opts?: { allowFail?: boolean }): Promise<PodmanResult>;
  /** `podman run -d` with the ulimits this machine needs; returns the full container id. */
  run(args: string[]): Promise<string>;
  /** Removes every container, stops the service and deletes its storage. */
  stop(): Promise<void>;
}

const INSTALL_HINT = "apt-get install podman busybox-static";
const APPLETS = ["sh", "sleep", "true", "false", "cat", "echo", "touch", "test", "[", "nc", "httpd"];
/**
 * Podman's default (the host's hard limits, 1048576 open files for root) is more than a sandboxed
 * root may set: runc fails with "error setting rlimit type 7: operation not permitted".
 */
export const PODMAN_ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];

export async function startPodman(): Promise<PodmanHarness> {
  const binary = findExecutable("podman", ["/usr/bin/podman"]);
  if (!binary) throw new Error(`podman not found: ${INSTALL_HINT}`);
  if (process.getuid?.() !== 0) throw new Error("the Podman tests run rootful Podman: run them as root");
  const dir = tempDir("podman");
  const socketPath = join(dir, "podman.sock");
  // Everything Podman keeps goes under dir: images, containers, state, network configs, events.
  const global = [
    "--root",
    join(dir, "root"),
    "--runroot",
    join(dir, "run"),
    "--storage-driver",
    "vfs",
    "--tmpdir",
    join(dir, "tmp"),
    "--network-config-dir",
    join(dir, "networks"),
    "--events-backend",
    "file",
    "--cgroup-manager",
    "cgroupfs",
  ];
  const local = (args: string[], opts: { allowFail?: boolean } = {}) => runPodman(binary, [...global, ...args], opts);

  let service: ServerProcess | undefined;
  try {
    const image = await importBusybox(local, dir);
    service = spawnServer({
      name: "podman",
      command: binary,
      args: [...global, "system", "service", "--time=0", `unix://${socketPath}`],
      logFile: join(dir, "podman.log"),
      exitSignal: "SIGTERM",
    });
    await waitUntilReady(service, `podman to answer /_ping on ${socketPath}`, () => pinged(socketPath), 30_000);
    const remote = (args: string[], opts: { allowFail?: boolean } = {}) =>
      runPodman(binary, ["--remote", "--url", `unix://${socketPath}`, ...args], opts);
    return {
      host: `unix://${socketPath}`,
      socketPath,
      image,
      podman: remote,
      run: async (args) => {
        const { stdout } = await remote(["run", "-d", ...PODMAN_ULIMITS, ...args]);
        const id = stdout.trim().split("\n").pop() ?? "";
        if (!/^[0-9a-f]{64}$/.test(id)) throw new Error(`podman run printed no container id: ${stdout}`);
        return id;
      },
      stop: async () => {
        try {
          // The containers' network namespaces, iptables rules and mounts go with them.
          await remote(["rm", "--all", "--force", "--time", "0"], { allowFail: true });
        } finally {
          await service?.stop(15_000);
          killLeftInside(dir);
          await local(["system", "reset", "--force"], { allowFail: true });
          removeDir(dir);
        }
      },
    };
  } catch (err) {
    await service?.stop(15_000);
    removeDir(dir);
    throw new Error(`could not start podman (${INSTALL_HINT}): ${(err as Error).message}`);
  }
}

/**
 * A conmon of an exec session (`podman healthcheck run`) can outlive its container's removal and
 * the service. Left alone it lives on, and when it ends its cleanup command writes a new storage
 * under dir after dir was deleted. Every process that names dir is this Podman's.
 */
function killLeftInside(dir: string): void {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(dir)) process.kill(Number(entry), "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
}

async function pinged(socketPath: string): Promise<boolean> {
  try {
    return (await httpRequest({ url: "http://podman/_ping", socketPath, timeoutMs: 2_000 })).status === 200;
  } catch {
    return false;
  }
}

async function importBusybox(local: (args: string[]) => Promise<PodmanResult>, dir: string): Promise<string> {
  const image = "localhost/registrator-test/busybox:latest";
  const rootfs = join(dir, "rootfs");
  writeBusyboxRootfs(rootfs, APPLETS);
  const tarball = join(dir, "rootfs.tar");
  await tarDirectory(rootfs, tarball);
  await local(["import", "--quiet", "--change", 'CMD ["sleep", "3600"]', tarball, image]);
  removeDir(rootfs);
  return image;
}

function runPodman(binary: string, args: string[], opts: { allowFail?: boolean } = {}): Promise<PodmanResult> {
  return new Promise((resolve, reject) => {
    execFile(binary, args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (err as NodeJS.ErrnoException).code : 0;
      if (typeof code === "string") return reject(new Error(`cannot run ${binary}: ${code}`));
      const result = { stdout, stderr, code: code ?? 1 };
      if (result.code !== 0 && !opts.allowFail) {
        return reject(new Error(`podman ${args.join(" ")} exited with ${result.code}: ${stderr.trim()}`));
      }
      resolve(result);
    });
  });
}
