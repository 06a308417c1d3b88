/**
 * The cost of one engine request, by client (not used by run.ts):
 *
 *   node dist/bench/http-client.js [--requests 200] [--rounds 5] [--node-flags "…"]
 *
 * Inspects the engine's running containers, 16 at a time, `--requests` per round, and reports the
 * CPU time and wall time of a round (median over the rounds after the first, which pays for the
 * connections and the first compile). Two clients, each in a fresh node with bin/registrator's
 * flags, alternated: registrator's own (`src/http1.ts` under `src/http-client.ts`), and node:http
 * with a kept-alive agent, which it replaced. Needs a running engine (DOCKER_HOST=unix://… or
 * /var/run/docker.sock) with at least one container running.
 */
import { spawnSync } from "node:child_process";
import http from "node:http";
import { HttpClient } from "../src/http-client.js";
import { median } from "./stats.js";

const LAUNCHER_FLAGS = ["--max-semi-space-size=1", "--jitless", "--no-expose-wasm", "--optimize-for-size"];
const CONCURRENCY = 16;
const CLIENTS = ["registrator", "node:http"] as const;
type ClientName = (typeof CLIENTS)[number];

interface Round {
  cpuMs: number;
  wallMs: number;
}

const socketPath = (process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock").replace(/^unix:\/\//, "");

function registratorGet(): (path: string) => Promise<string> {
  const client = new HttpClient({ url: "http://localhost", socketPath });
  return async (path) => (await client.call("GET", path)).text;
}

function nodeHttpGet(): (path: string) => Promise<string> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  return (path) =>
    new Promise((resolve, reject) => {
      const req = http.request({ socketPath, path, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end();
    });
}

async function child(name: ClientName, requests: number, rounds: number): Promise<void> {
  const get = name === "registrator" ? registratorGet() : nodeHttpGet();
  const ids = (JSON.parse(await get("/containers/json")) as Array<{ Id: string }>).map((c) => c.Id);
  if (ids.length === 0) throw new Error("no container runs: start at least one (the bench inspects the running ones)");
  const results: Round[] = [];
  for (let round = 0; round < rounds; round++) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < requests) JSON.parse(await get(`/containers/${ids[next++ % ids.length]}/json`));
      }),
    );
    const cpu = process.cpuUsage(cpu0);
    results.push({ cpuMs: (cpu.user + cpu.system) / 1000, wallMs: performance.now() - t0 });
  }
  process.stdout.write(JSON.stringify(results));
  process.exit(0);
}

function main(): void {
  const args = process.argv.slice(2);
  const option = (name: string, fallback: string) => {
    const at = args.indexOf(name);
    return at >= 0 && args[at + 1] !== undefined ? args[at + 1]! : fallback;
  };
  const childOf = option("--child", "");
  const requests = Number(option("--requests", "200"));
  const rounds = Number(option("--rounds", "5"));
  if (!Number.isInteger(requests) || requests < 1 || !Number.isInteger(rounds) || rounds < 2) {
    process.stderr.write('usage: node dist/bench/http-client.js [--requests N ≥ 1] [--rounds R ≥ 2] [--node-flags "…"]\n');
    process.exit(2);
  }
  if (childOf) {
    child(childOf as ClientName, requests, rounds).catch((err: Error) => {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    });
    return;
  }
  const flags = args.includes("--node-flags") ? option("--node-flags", "").split(" ").filter(Boolean) : LAUNCHER_FLAGS;
  const script = __filename;
  const collected = new Map<ClientName, Round[]>(CLIENTS.map((name) => [name, []]));
  for (let run = 0; run < 3; run++) {
    for (const name of CLIENTS) {
      const out = spawnSync(
        process.execPath,
        [...flags, script, "--child", name, "--requests", String(requests), "--rounds", String(rounds)],
        { encoding: "utf8" },
      );
      if (out.status !== 0) throw new Error(`${name}: ${out.stderr.trim() || `exit ${out.status}`}`);
      collected.get(name)!.push(...(JSON.parse(out.stdout) as Round[]).slice(1));
    }
  }
  process.stdout.write(
    `${requests} inspects, ${CONCURRENCY} at a time, node ${flags.join(" ") || "(no flags)"}; medians of ${3 * (rounds - 1)} rounds\n`,
  );
  for (const [name, results] of collected) {
    const cpu = median(results.map((r) => r.cpuMs));
    const wall = median(results.map((r) => r.wallMs));
    process.stdout.write(
      `  ${name.padEnd(12)} CPU ${cpu?.toFixed(1)} ms (${((cpu ?? 0) / requests).toFixed(3)} ms a request), wall ${wall?.toFixed(1)} ms\n`,
    );
  }
}

main();
