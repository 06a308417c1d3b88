/**
 * The Go registrator (gliderlabs v7.4.0), the reference our behaviour is compared with. It reads
 * /tmp/docker.sock unless DOCKER_HOST is set, so DOCKER_HOST is always given here; it exits when
 * the engine's event stream ends and does not deregister on SIGTERM.
 */
import { findReferenceBinary, spawnServer, tailOf, type ServerProcess } from "./process.js";

/** REGISTRATOR_GO_BIN, else registrator-go on the PATH, else ../shared/bin/registrator-go beside the repository. */
export function findRegistratorGo(): string {
  return findReferenceBinary(
    "registrator-go",
    "REGISTRATOR_GO_BIN",
    "the Go registrator was not found: set REGISTRATOR_GO_BIN or put registrator-go on the PATH",
  );
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
