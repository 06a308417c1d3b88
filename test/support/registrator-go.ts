/**
 * The Go registrator (gliderlabs v7.4.0), the reference our behaviour is compared with. It reads
 * /tmp/docker.sock unless DOCKER_HOST is set, so DOCKER_HOST is always given here; it exits when
 * the engine's event stream ends and does not deregister on SIGTERM.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { findExecutable, spawnServer, tailOf, type ServerProcess } from "./process.js";

/** REGISTRATOR_GO_BIN, else registrator-go on the PATH, else ../shared/bin/registrator-go beside the repository. */
export function findRegistratorGo(): string {
  const fromEnv = process.env.REGISTRATOR_GO_BIN;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`REGISTRATOR_GO_BIN=${fromEnv} does not exist`);
    return fromEnv;
  }
  const shared = join(repoRoot(), "..", "shared", "bin", "registrator-go");
  const found = findExecutable("registrator-go") ?? (existsSync(shared) ? shared : undefined);
  if (!found) throw new Error("the Go registrator was not found: set REGISTRATOR_GO_BIN or put registrator-go on the PATH");
  return found;
}

// dist/test/support when compiled, so the repository is found by its package.json.
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
}

export interface GoRegistrator {
  process: ServerProcess;
  /** Everything it logged so far (it logs to stderr, with Go's log prefix). */
  log(): string;
  stop(): Promise<void>;
}

export function startRegistratorGo(args: string[], dockerHost: string): GoRegistrator {
  const proc = spawnServer({
    name: "registrator-go",
    command: findRegistratorGo(),
    args,
    env: { ...process.env, DOCKER_HOST: dockerHost },
  });
  return {
    process: proc,
    log: () => tailOf(proc.logFile, 100_000),
    stop: async () => {
      await proc.kill();
    },
  };
}
