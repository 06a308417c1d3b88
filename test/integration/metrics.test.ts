/**
 * --metrics-addr end to end: the real CLI against a real etcd and a dockerd of this file's own (so
 * the registered-services gauge can be asserted exactly), scraped over HTTP.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { hostname } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startPrivateDocker, type PrivateDocker } from "../support/docker.js";
import { startEtcd, type EtcdServer } from "../support/etcd.js";
import { freePort } from "../support/ports.js";
import { httpRequest, tempDir, type HttpResponse } from "../support/process.js";
import { runRegistrator, startRegistrator, type RegistratorProcess } from "../support/registrator.js";
import { waitFor } from "../support/wait.js";

const HOST = hostname();
let docker: PrivateDocker;
let etcd: EtcdServer;
let image: string;
let probe: string;
const processes: RegistratorProcess[] = [];

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text format 0.0.4: `name{a="b",...} value`, comments skipped. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim() || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    assert.ok(match, `not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, raw] of (match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key!] = raw!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

function sampleValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

before(async () => {
  docker = await startPrivateDocker();
  etcd = await startEtcd();
  image = await docker.image("ops/metrics");
  // Tells, as the process exits, whether prom-client was ever loaded (ESM imports of CommonJS fill require.cache).
  probe = join(tempDir("metrics-probe"), "probe.cjs");
  writeFileSync(
    probe,
    `process.on("exit", () => process.stderr.write("prom-client loaded: " + Object.keys(require.cache).some((k) => k.includes("/prom-client/")) + "\\n"));\n`,
  );
});

after(async () => {
  for (const p of processes) await p.stop("SIGKILL");
  await etcd?.stop();
  await docker?.stop();
});

function registrator(args: string[]): RegistratorProcess {
  const p = startRegistrator(["-ip", "127.0.0.1", "--retry-backoff-max", "500", "-retry-interval", "200", ...args], {
    DOCKER_HOST: docker.host,
    NODE_OPTIONS: `--require ${probe}`,
  });
  processes.push(p);
  return p;
}

const get = (port: number, path: string): Promise<HttpResponse> =>
  httpRequest({ url: `http://127.0.0.1:${port}${path}`, timeoutMs: 3_000 });

async function scrape(port: number): Promise<Sample[]> {
  const res = await get(port, "/metrics");
  assert.equal(res.status, 200);
  assert.match(String(res.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
  return parseExposition(res.body);
}

async function health(port: number): Promise<{ status: number; body: unknown }> {
  const res = await get(port, "/health");
  return { status: res.status, body: JSON.parse(res.body) };
}

async function waitForHealth(port: number, status: number, body: object, timeoutMs: number): Promise<void> {
  let last: unknown;
  await waitFor(
    async () => {
      last = await health(port);
      return JSON.stringify(last) === JSON.stringify({ status, body });
    },
    { timeoutMs, intervalMs: 200, what: `/health ${status} ${JSON.stringify(body)}` },
  ).catch(() => undefined);
  assert.deepEqual(last, { status, body });
}

describe("--metrics-addr", () => {
  test("serves the registry's view as metrics, and /health follows etcd and dockerd going away and back", async () => {
    const prefix = `/ops-metrics-${process.pid}`;
    const port = await freePort();
    const reg = registrator(["--metrics-addr", `127.0.0.1:${port}`, `etcd://${etcd.host}${prefix}`]);
    await reg.waitForLog("synced");
    assert.equal((await reg.waitForLog("serving /metrics and /health")).address, `127.0.0.1:${port}`);
    await waitForHealth(port, 200, { engine: "up", registry: "up" }, 5_000);

    let samples = await scrape(port);
    assert.equal(sampleValue(samples, "registrator_services_registered", { backend: "etcd" }), 0);
    assert.equal(sampleValue(samples, "registrator_registration_latency_seconds_count"), 0);
    assert.ok(sampleValue(samples, "process_resident_memory_bytes")! > 0, "prom-client's default metrics are there");

    const name = `ops-t-${process.pid}-metrics`;
    const key = `${prefix}/svc/${HOST}:${name}:80`;
    const id = await docker.run(["--name", name, "-p", "20080:80", "-e", "SERVICE_NAME=svc", image]);
    await waitFor(() => etcd.get(key), { what: `${key} in etcd` });
    samples = await waitFor(
      async () => {
        const s = await scrape(port);
        return sampleValue(s, "registrator_services_registered", { backend: "etcd" }) === 1 && s;
      },
      { what: "the registered gauge at 1" },
    );
    assert.equal(sampleValue(samples, "registrator_operations_total", { backend: "etcd", kind: "register", result: "ok" }), 1);
    assert.equal(sampleValue(samples, "registrator_registration_latency_seconds_count"), 1);
    const latency = sampleValue(samples, "registrator_registration_latency_seconds_sum")!;
    assert.ok(latency > 0 && latency < 5, `latency ${latency}s`);
    assert.equal(sampleValue(samples, "registrator_retries_queued"), 0);

    await docker.docker(["rm", "-f", id]);
    await waitFor(async () => (await etcd.get(key)) === undefined, { what: `${key} gone` });
    samples = await waitFor(
      async () => {
        const s = await scrape(port);
        return sampleValue(s, "registrator_services_registered", { backend: "etcd" }) === 0 && s;
      },
      { what: "the registered gauge back at 0" },
    );
    assert.equal(sampleValue(samples, "registrator_operations_total", { backend: "etcd", kind: "deregister", result: "ok" }), 1);

    // The bridge pings the registry every 5 s while it answers.
    await etcd.kill();
    await waitForHealth(port, 503, { engine: "up", registry: "down" }, 10_000);
    assert.equal(sampleValue(await scrape(port), "registrator_registry_up", { backend: "etcd" }), 0);
    await etcd.restart();
    await waitForHealth(port, 200, { engine: "up", registry: "up" }, 5_000);

    await docker.stopDaemon();
    await waitForHealth(port, 503, { engine: "down", registry: "up" }, 15_000);
    assert.ok(sampleValue(await scrape(port), "registrator_docker_reconnects_total")! >= 1);
    await docker.startDaemon();
    await waitForHealth(port, 200, { engine: "up", registry: "up" }, 30_000);

    assert.equal(await reg.stop(), 0);
    assert.match(reg.stderr(), /prom-client loaded: true/);
  });

  test("off by default: no server, and prom-client is never loaded", async () => {
    const reg = registrator([`etcd://${etcd.host}/ops-metrics-off-${process.pid}`]);
    await reg.waitForLog("synced");
    assert.ok(!reg.logs.some((l) => l.msg.includes("/metrics")));
    assert.equal(await reg.stop(), 0);
    assert.match(reg.stderr(), /prom-client loaded: false/);
  });

  test("a port in use: a clear message and exit 1", async () => {
    const port = await freePort();
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(port, "127.0.0.1", resolve));
    try {
      const res = await runRegistrator(["--metrics-addr", `127.0.0.1:${port}`, `etcd://${etcd.host}/ops-metrics-busy`], {
        DOCKER_HOST: docker.host,
      });
      assert.equal(res.code, 1);
      assert.match(res.stderr, new RegExp(`--metrics-addr 127\\.0\\.0\\.1:${port}: the port is already in use`));
    } finally {
      blocker.close();
    }
  });

  test("not HOST:PORT: a usage error, exit 2", async () => {
    const res = await runRegistrator([`etcd://${etcd.host}/x`], { REGISTRATOR_METRICS_ADDR: "9335", DOCKER_HOST: docker.host });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /--metrics-addr "9335" is not HOST:PORT/);
  });
});
