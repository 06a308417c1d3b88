/**
 * Swarm nodes for the tests: private dockerds, never the shared one (other test runs use it, and a
 * swarm would change what its containers look like). Each has its own socket, data and exec roots,
 * pid file, bridge and engine key (a 20.10 daemon otherwise shares /etc/docker/key.json). A worker
 * runs in a network namespace of its own: two nodes in one namespace would both create the same
 * overlay's vxlan device there, which the kernel refuses ("file exists").
 */
import { execFile, spawnSync } from "node:child_process";
import { join } from "node:path";
import { dockerCli, harness, ownDaemonArgs, type DockerHarness } from "./docker.js";
import { freePort } from "./ports.js";
import { findExecutable, httpRequest, removeDir, spawnServer, tempDir, undoable, waitUntilReady, type ServerProcess } from "./process.js";
import { waitFor } from "./wait.js";

export interface SwarmNode extends DockerHarness {
  nodeId: string;
  /** The address the node advertises to the swarm. */
  address: string;
  /** This node's running tasks of a service. */
  tasks(service: string): Promise<Array<{ id: string; name: string }>>;
  /** Leaves the swarm, removes docker_gwbridge, stops the daemon, deletes its links and directories. */
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 30_000;
// Far from the shared daemon's 172.17/16, the private daemons' 10.213/16 and the network tests' 10.231/16.
const OVERLAY_POOL = "10.218.0.0/16";
const base = process.pid % 200;
let started = 0;

interface Daemon {
  proc: ServerProcess;
  dir: string;
  socketPath: string;
}

/**
 * A one-node swarm. `loopback` advertises 127.0.0.1, as on a single host; `bridge` advertises the
 * address of the daemon's own bridge, which a worker in its own network namespace can reach.
 */
export async function startSwarmManager(advertise: "loopback" | "bridge"): Promise<SwarmNode> {
  const ip = tool("ip", "iproute2");
  const index = (base + started++) % 250;
  const bridge = `rsw${index}`;
  const gateway = `10.217.${index}.1`;
  await run(ip, ["link", "add", bridge, "type", "bridge"]);
  const undo = undoable(() => {
    for (const link of [bridge, `rswgw${index}`]) spawnSync(ip, ["link", "del", link]);
  });
  let daemon: Daemon | undefined;
  try {
    await run(ip, ["addr", "add", `${gateway}/24`, "dev", bridge]);
    await run(ip, ["link", "set", bridge, "up"]);
    daemon = await startDaemon("swarm-manager", bridge);
    const node = harness(dockerCli(), `unix://${daemon.socketPath}`, daemon.socketPath);
    // Its own name for docker_gwbridge's Linux bridge: the default one could be another daemon's.
    await node.docker([
      "network",
      "create",
      "--subnet",
      `10.219.${index}.0/24`,
      "--opt",
      `com.docker.network.bridge.name=rswgw${index}`,
      "--opt",
      "com.docker.network.bridge.enable_icc=false",
      "--opt",
      "com.docker.network.bridge.enable_ip_masquerade=false",
      "docker_gwbridge",
    ]);
    const address = advertise === "loopback" ? "127.0.0.1" : gateway;
    const port = await freePort();
    await node.docker([
      "swarm",
      "init",
      "--advertise-addr",
      address,
      "--listen-addr",
      `${address}:${port}`,
      "--data-path-port",
      String(20_000 + (process.pid % 20_000)),
      "--default-addr-pool",
      OVERLAY_POOL,
    ]);
    return await swarmNode(node, daemon, address, undo);
  } catch (err) {
    if (daemon) await stopDaemon(daemon);
    undo();
    throw err;
  }
}

/** A worker of `manager`'s swarm, in a network namespace of its own joined to the manager's bridge. */
export async function joinSwarmWorker(manager: SwarmNode): Promise<SwarmNode> {
  if (manager.address === "127.0.0.1") throw new Error("a worker in its own network namespace cannot reach a manager on 127.0.0.1");
  const ip = tool("ip", "iproute2");
  const index = (base + started++) % 250;
  const netns = `rswns${index}`;
  const address = manager.address.replace(/\.1$/, `.${100 + (index % 100)}`);
  await run(ip, ["netns", "add", netns]);
  // Deleting the namespace deletes the veth pair and the bridge inside it.
  const undo = undoable(() => spawnSync(ip, ["netns", "del", netns]));
  let daemon: Daemon | undefined;
  try {
    const managerBridge = (await run(ip, ["-o", "addr", "show", "to", `${manager.address}/32`])).split(/\s+/)[1] ?? "";
    await run(ip, ["link", "add", `rswv${index}`, "type", "veth", "peer", "name", "eth0", "netns", netns]);
    await run(ip, ["link", "set", `rswv${index}`, "master", managerBridge, "up"]);
    for (const args of [
      ["addr", "add", `${address}/24`, "dev", "eth0"],
      ["link", "set", "eth0", "up"],
      ["link", "set", "lo", "up"],
      ["link", "add", "rswb", "type", "bridge"],
      ["addr", "add", `10.220.${index}.1/24`, "dev", "rswb"],
      ["link", "set", "rswb", "up"],
    ]) {
      await run(ip, ["-n", netns, ...args]);
    }
    daemon = await startDaemon("swarm-worker", "rswb", netns);
    const node = harness(dockerCli(), `unix://${daemon.socketPath}`, daemon.socketPath);
    const token = (await manager.docker(["swarm", "join-token", "-q", "worker"])).stdout.trim();
    const managerAddr = await managerListenAddr(manager);
    await node.docker(["swarm", "join", "--token", token, "--advertise-addr", address, "--listen-addr", `${address}:2377`, managerAddr]);
    const worker = await swarmNode(node, daemon, address, undo);
    await waitFor(
      async () => (await manager.docker(["node", "inspect", "-f", "{{.Status.State}}", worker.nodeId])).stdout.trim() === "ready",
      {
        timeoutMs: 30_000,
        what: "the worker to be ready",
      },
    );
    return worker;
  } catch (err) {
    if (daemon) await stopDaemon(daemon);
    undo();
    throw err;
  }
}

async function managerListenAddr(manager: SwarmNode): Promise<string> {
  const { stdout } = await manager.docker(["info", "-f", "{{range .Swarm.RemoteManagers}}{{.Addr}}{{end}}"]);
  return stdout.trim();
}

async function swarmNode(node: DockerHarness, daemon: Daemon, address: string, undo: () => void): Promise<SwarmNode> {
  const nodeId = (await node.docker(["info", "-f", "{{.Swarm.NodeID}}"])).stdout.trim();
  return {
    ...node,
    nodeId,
    address,
    tasks: async (service) => {
      const { stdout } = await node.docker([
        "ps",
        "--no-trunc",
        "--filter",
        `label=com.docker.swarm.service.name=${service}`,
        "--format",
        "{{.ID}} {{.Names}}",
      ]);
      return stdout
        .split("\n")
        .filter(Boolean)
        .map((line) => {
          const [id = "", name = ""] = line.split(" ");
          return { id, name };
        });
    },
    stop: async () => {
      try {
        await node.docker(["swarm", "leave", "--force"], { allowFail: true });
        await node.docker(["network", "rm", "docker_gwbridge"], { allowFail: true });
      } finally {
        await stopDaemon(daemon);
        undo();
      }
    },
  };
}

async function stopDaemon(daemon: Daemon): Promise<void> {
  if (daemon.proc.running()) await daemon.proc.stop(STOP_GRACE_MS);
  removeDir(daemon.dir);
}

async function startDaemon(name: string, bridge: string, netns?: string): Promise<Daemon> {
  const dockerd = tool("dockerd", "docker.io", ["/usr/sbin/dockerd", "/usr/bin/dockerd"]);
  const dir = tempDir(name);
  const { socketPath, args } = ownDaemonArgs(dir, bridge);
  // nsenter execs dockerd in place, so signals reach dockerd itself; `ip netns exec` would also remount /sys and hide the cgroups.
  const [command, commandArgs] = netns
    ? [tool("nsenter", "util-linux"), [`--net=/var/run/netns/${netns}`, dockerd, ...args]]
    : [dockerd, args];
  const proc = spawnServer({ name, command, args: commandArgs, logFile: join(dir, "dockerd.log"), exitSignal: "SIGTERM" });
  try {
    await waitUntilReady(proc, `${name} on ${socketPath}`, () => answers(socketPath), START_TIMEOUT_MS);
  } catch (err) {
    if (proc.running()) await proc.stop(STOP_GRACE_MS);
    removeDir(dir);
    throw err;
  }
  return { proc, dir, socketPath };
}

async function answers(socketPath: string): Promise<boolean> {
  try {
    return (await httpRequest({ url: "http://docker/_ping", socketPath, timeoutMs: 3_000 })).status === 200;
  } catch {
    return false;
  }
}

function tool(name: string, pkg: string, preferred: string[] = [`/usr/sbin/${name}`, `/usr/bin/${name}`, `/sbin/${name}`]): string {
  const path = findExecutable(name, preferred);
  if (!path) throw new Error(`${name} not found: apt-get install ${pkg}`);
  return path;
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(command, args, (err, stdout, stderr) =>
      err ? reject(new Error(`${command} ${args.join(" ")}: ${stderr || err.message}`)) : resolve(stdout),
    ),
  );
}
