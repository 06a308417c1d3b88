/** The containers and registrator processes of one test file, named apart from other files' and removed at the end. */
import type { DockerHarness } from "./docker.js";
import { freePort } from "./ports.js";
import { startRegistrator, type RegistratorProcess } from "./registrator.js";

export interface SceneContainer {
  id: string;
  name: string;
  /** The host port its container port 6379 is published on. */
  port: number;
}

export interface Scene {
  /** A container `<prefix>-<pid>-<n>` with SERVICE_NAME and one published port. */
  run(serviceName: string, env?: string[]): Promise<SceneContainer>;
  /** The CLI with `-ip 127.0.0.1`, against the test dockerd. */
  registrator(args: string[], env?: Record<string, string>): RegistratorProcess;
  /** Kills every registrator started so far (resuming stopped ones first). */
  stopAll(): Promise<void>;
  /** stopAll, then removes this scene's containers and stops a dockerd the harness started. */
  cleanup(): Promise<void>;
}

/** `docker` gives the file's harness, which its `before` hook sets up. */
export function scene(prefix: string, docker: () => DockerHarness): Scene {
  const containers: string[] = [];
  const processes: RegistratorProcess[] = [];
  let unique = 0;
  const stopAll = async () => {
    for (const p of processes.splice(0)) {
      p.child.kill("SIGCONT");
      await p.stop("SIGKILL");
    }
  };
  return {
    run: async (serviceName, env = []) => {
      const name = `${prefix}-${process.pid}-${++unique}`;
      const port = await freePort();
      const envArgs = [`SERVICE_NAME=${serviceName}`, ...env].flatMap((e) => ["-e", e]);
      const harness = docker();
      const id = await harness.run([
        "--name",
        name,
        "-p",
        `${port}:6379`,
        ...envArgs,
        await harness.image("dockerfile/redis"),
        "sleep",
        "3600",
      ]);
      containers.push(id);
      return { id, name, port };
    },
    registrator: (args, env = {}) => {
      const p = startRegistrator(["-ip", "127.0.0.1", "-retry-interval", "200", ...args], { DOCKER_HOST: docker().host, ...env });
      processes.push(p);
      return p;
    },
    stopAll,
    cleanup: async () => {
      await stopAll();
      const harness = docker() as DockerHarness | undefined;
      if (containers.length) await harness?.docker(["rm", "-f", ...containers.splice(0)], { allowFail: true });
      await harness?.stop();
    },
  };
}
