/**
 * Two hosts on one machine: two dockerds of the test's own (each with its socket, data and exec root,
 * bridge and engine key), each with the registrators it starts, for tests of a fleet sharing one
 * registry. Every service publishes container port 6379 and is registered at 127.0.0.1 (`-ip`); each
 * host publishes on a loopback address of its own, so both can publish one port number.
 */
import { startPrivateDocker, type PrivateDocker } from "./docker.js";
import { freePort } from "./ports.js";
import { startRegistrator, type RegistratorProcess } from "./registrator.js";

export const SERVICE_IP = "127.0.0.1";

export interface HostContainer {
  id: string;
  name: string;
  port: number;
  host: TestHost;
  /** The service id registrator gives it. */
  serviceId: string;
  service: string;
}

export interface RunOptions {
  /** SERVICE_ID; else the default id `<host id>:<name>:6379`. */
  serviceId?: string;
  /** The host id the default id starts with, when not the host's own (a registrator given another --host-id). */
  idHost?: string;
  /** The published host port; two hosts may publish the same one (nothing binds it). Default: a free one. */
  port?: number;
  /** `--net=host --expose <port>` instead of publishing 6379: the service's port is `port` itself. */
  hostNetwork?: boolean;
}

export interface TestHost {
  /** Its registrators' --host-id. */
  id: string;
  /** Where it publishes ports. */
  bindIp: string;
  docker: PrivateDocker;
  /** A container named `name` with SERVICE_NAME=`service`. */
  run(name: string, service: string, opts?: RunOptions): Promise<HostContainer>;
  /** The CLI against this host's dockerd, with its host id unless `args` give another. */
  registrator(args: string[]): RegistratorProcess;
  /** Ids of the containers `docker ps` lists. */
  running(): Promise<Set<string>>;
}

export interface TwoHosts {
  a: TestHost;
  b: TestHost;
  /** Kills every registrator started so far and removes every container of both hosts: the end of each test. */
  reset(): Promise<void>;
  /** reset, then stops both dockerds and deletes their bridges. */
  stop(): Promise<void>;
}

export async function startTwoHosts(idA: string, idB: string): Promise<TwoHosts> {
  const processes: RegistratorProcess[] = [];
  const dockers: PrivateDocker[] = [];
  try {
    dockers.push(await startPrivateDocker());
    dockers.push(await startPrivateDocker());
    const a = await testHost(idA, "127.0.0.1", dockers[0]!, processes);
    const b = await testHost(idB, "127.0.0.2", dockers[1]!, processes);
    const reset = async () => {
      for (const p of processes.splice(0)) await p.stop("SIGKILL");
      await Promise.all(dockers.map((d) => d.removeAll()));
    };
    return { a, b, reset, stop: () => stopAll(processes, dockers) };
  } catch (err) {
    await stopAll(processes, dockers);
    throw err;
  }
}

async function stopAll(processes: RegistratorProcess[], dockers: PrivateDocker[]): Promise<void> {
  for (const p of processes.splice(0)) await p.stop("SIGKILL");
  for (const d of dockers.splice(0)) await d.stop().catch(() => undefined);
}

async function testHost(id: string, bindIp: string, docker: PrivateDocker, processes: RegistratorProcess[]): Promise<TestHost> {
  const image = await docker.image("owner-test/app");
  const host: TestHost = {
    id,
    bindIp,
    docker,
    run: async (name, service, opts = {}) => {
      const port = opts.port ?? (await freePort());
      const env = [`SERVICE_NAME=${service}`, ...(opts.serviceId ? [`SERVICE_ID=${opts.serviceId}`] : [])];
      const network = opts.hostNetwork ? ["--net=host", "--expose", String(port)] : ["-p", `${bindIp}:${port}:6379`];
      const cid = await docker.run(["--name", name, ...network, ...env.flatMap((e) => ["-e", e]), image, "sleep", "3600"]);
      const serviceId = opts.serviceId ?? `${opts.idHost ?? id}:${name}:${opts.hostNetwork ? port : 6379}`;
      return { id: cid, name, port, host, serviceId, service };
    },
    registrator: (args) => {
      const own = args.includes("--host-id") ? [] : ["--host-id", id];
      const p = startRegistrator(["-ip", SERVICE_IP, "-retry-interval", "200", "--retry-backoff-max", "500", ...own, ...args], {
        DOCKER_HOST: docker.host,
      });
      processes.push(p);
      return p;
    },
    running: async () => {
      const { stdout } = await docker.docker(["ps", "-q", "--no-trunc"]);
      return new Set(stdout.split("\n").filter(Boolean));
    },
  };
  return host;
}
