import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { freePort } from "./ports.js";
import { findExecutable, removeDir, spawnServer, tempDir, waitUntilReady, type ServerProcess } from "./process.js";

export interface ZkServer {
  /** "127.0.0.1:PORT". */
  connectString: string;
  port: number;
  /** Stops ZooKeeper and removes its data dir. */
  stop(): Promise<void>;
  /** SIGKILL, keeping the data dir; restart() brings it back with its data. */
  kill(): Promise<void>;
  /** Stops and starts again on the same port and data dir. */
  restart(): Promise<void>;
}

const JAVA_DIR = "/usr/share/java";
const MAIN_CLASS = "org.apache.zookeeper.server.quorum.QuorumPeerMain";
// The logging binding is ours to choose: Debian's zookeeper.jar manifest only
// brings slf4j-api, and without a binding ZooKeeper logs nothing at all.
const LOGGING_JARS = ["slf4j-log4j12.jar", "log4j-1.2.jar"];
const START_TIMEOUT_MS = 60_000;
const INSTALL_HINT = "install ZooKeeper: apt-get install zookeeper";

export async function startZookeeper(): Promise<ZkServer> {
  const java = findExecutable("java", ["/usr/bin/java"]);
  const jar = join(JAVA_DIR, "zookeeper.jar");
  if (!java || !existsSync(jar)) throw new Error(`java or ${jar} not found: ${INSTALL_HINT}`);
  const port = await freePort();
  const dir = tempDir("zookeeper");
  writeConfig(dir, port);
  const args = javaArgs(dir);

  let proc: ServerProcess | undefined;
  const start = async (): Promise<void> => {
    proc = spawnServer({ name: "zookeeper", command: java, args, logFile: join(dir, "zookeeper.log") });
    await waitUntilServing(proc, port);
  };
  const halt = async (): Promise<void> => {
    if (proc?.running()) await proc.stop();
  };

  try {
    await start();
  } catch (err) {
    await halt();
    removeDir(dir);
    throw err;
  }
  return {
    connectString: `127.0.0.1:${port}`,
    port,
    stop: async () => {
      await halt();
      removeDir(dir);
    },
    kill: async () => {
      if (proc?.running()) await proc.kill();
    },
    restart: async () => {
      await halt();
      await start();
    },
  };
}

function writeConfig(dir: string, port: number): void {
  mkdirSync(join(dir, "data"), { recursive: true });
  writeFileSync(
    join(dir, "zoo.cfg"),
    [
      // Short ticks give short minimum session timeouts (2 ticks), so tests of
      // ephemeral nodes vanishing do not wait long.
      "tickTime=500",
      `dataDir=${join(dir, "data")}`,
      `clientPort=${port}`,
      "clientPortAddress=127.0.0.1",
      "admin.enableServer=false",
      "4lw.commands.whitelist=ruok,stat,srvr",
      "maxClientCnxns=0",
      "",
    ].join("\n"),
  );
  writeFileSync(
    join(dir, "log4j.properties"),
    [
      "log4j.rootLogger=INFO, CONSOLE",
      "log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender",
      "log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout",
      "log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n",
      "",
    ].join("\n"),
  );
}

function javaArgs(dir: string): string[] {
  const logging = LOGGING_JARS.map((jar) => join(JAVA_DIR, jar)).filter((jar) => existsSync(jar));
  return [
    // Small, quick-starting JVM: the machines have 2 cores and a test ZooKeeper holds a few nodes.
    "-Xmx256m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Xshare:auto",
    `-Dlog4j.configuration=file:${join(dir, "log4j.properties")}`,
    "-Dzookeeper.jmx.log4j.disable=true",
    "-cp",
    [dir, join(JAVA_DIR, "zookeeper.jar"), ...logging].join(":"),
    MAIN_CLASS,
    join(dir, "zoo.cfg"),
  ];
}

async function waitUntilServing(proc: ServerProcess, port: number): Promise<void> {
  // "ruok" says imok as soon as the port is open, before the database is
  // loaded; "srvr" reports a Mode only once requests are served.
  await waitUntilReady(
    proc,
    `ZooKeeper to serve on port ${port}`,
    async () => (await fourLetterWord(port, "ruok")) === "imok" && (await fourLetterWord(port, "srvr")).includes("Mode:"),
    START_TIMEOUT_MS,
  );
}

/** Sends one of ZooKeeper's four-letter admin commands and returns the answer. */
export function fourLetterWord(port: number, word: string, host = "127.0.0.1"): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host });
    const chunks: Buffer[] = [];
    socket.setTimeout(3_000, () => socket.destroy(new Error(`no answer to ${word}`)));
    socket.on("connect", () => socket.write(word));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}
