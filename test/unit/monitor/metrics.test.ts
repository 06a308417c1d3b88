/** The pure parts of --metrics-addr: address parsing, routing, the health answer, and what the observer records. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseArgs, usage, UsageError, type Options } from "../../../src/cli/args.js";
import { formatListenAddress, parseListenAddress, route, type Reply } from "../../../src/monitor/server.js";
import { healthReply, LATENCY_BUCKETS, Metrics } from "../../../src/monitor/metrics.js";

describe("--metrics-addr", () => {
  test("accepts host:port, [v6]:port and :port", () => {
    assert.deepEqual(parseListenAddress("127.0.0.1:9335"), { host: "127.0.0.1", port: 9335 });
    assert.deepEqual(parseListenAddress("localhost:9335"), { host: "localhost", port: 9335 });
    assert.deepEqual(parseListenAddress("[::1]:9335"), { host: "::1", port: 9335 });
    assert.deepEqual(parseListenAddress(":9335"), { host: "", port: 9335 });
    assert.deepEqual(parseListenAddress("0.0.0.0:65535"), { host: "0.0.0.0", port: 65535 });
  });

  test("refuses what is not host:port", () => {
    for (const bad of [
      "9335",
      "127.0.0.1",
      "127.0.0.1:",
      "127.0.0.1:0",
      "127.0.0.1:65536",
      "::1:9335",
      "[::1]",
      "[nothost]:1",
      "a b:1",
      "http://127.0.0.1:9335",
      "host:port",
      "-x:1",
      "",
    ]) {
      assert.equal(parseListenAddress(bad), undefined, bad);
    }
  });

  test("formats addresses back, with brackets around IPv6", () => {
    assert.equal(formatListenAddress({ host: "::1", port: 80 }), "[::1]:80");
    assert.equal(formatListenAddress({ host: "127.0.0.1", port: 80 }), "127.0.0.1:80");
    assert.equal(formatListenAddress({ host: "", port: 80 }), ":80");
  });

  const options = (argv: string[], env: NodeJS.ProcessEnv = {}): Options => {
    const command = parseArgs([...argv, "file:///tmp/s.json"], env);
    assert.equal(command.kind, "run");
    return (command as { options: Options }).options;
  };

  test("is off by default and set by the flag or REGISTRATOR_METRICS_ADDR; the flag wins", () => {
    assert.equal(options([]).metricsAddr, undefined);
    assert.deepEqual(options(["--metrics-addr", "127.0.0.1:9335"]).metricsAddr, { host: "127.0.0.1", port: 9335 });
    assert.deepEqual(options(["-metrics-addr=:9000"]).metricsAddr, { host: "", port: 9000 });
    assert.deepEqual(options([], { REGISTRATOR_METRICS_ADDR: "127.0.0.1:1234" }).metricsAddr, { host: "127.0.0.1", port: 1234 });
    assert.deepEqual(options(["--metrics-addr", "127.0.0.1:1"], { REGISTRATOR_METRICS_ADDR: "127.0.0.1:2" }).metricsAddr, {
      host: "127.0.0.1",
      port: 1,
    });
  });

  test("an invalid value is a usage error that names the option", () => {
    for (const [argv, env] of [
      [["--metrics-addr", "9335"], {}],
      [[], { REGISTRATOR_METRICS_ADDR: "localhost" }],
    ] as const) {
      assert.throws(
        () => parseArgs([...argv, "file:///tmp/s.json"], env),
        (err: unknown) => err instanceof UsageError && /--metrics-addr "(9335|localhost)" is not HOST:PORT/.test(err.message),
      );
    }
  });

  test("is in the usage text with its environment twin", () => {
    assert.match(usage(), /--metrics-addr HOST:PORT .*env REGISTRATOR_METRICS_ADDR/);
  });
});

describe("routing", () => {
  const ok: Reply = { status: 200, contentType: "text/plain", body: "ok" };
  const routes = { "/metrics": () => ok, "/health": () => ok };

  test("a known path with GET or HEAD gets its handler; a query string is ignored", () => {
    for (const [method, url] of [
      ["GET", "/metrics"],
      ["HEAD", "/health"],
      ["GET", "/metrics?name[]=x"],
    ]) {
      const picked = route(method, url, routes);
      assert.equal(typeof picked, "function", `${method} ${url}`);
    }
  });

  test("an unknown path is 404 listing the known ones; another method is 405", () => {
    const missing = route("GET", "/", routes) as Reply;
    assert.equal(missing.status, 404);
    assert.match(missing.body, /\/metrics or \/health/);
    assert.equal((route("GET", "/constructor", routes) as Reply).status, 404);
    assert.equal((route("POST", "/metrics", routes) as Reply).status, 405);
  });
});

describe("health", () => {
  test("200 when the engine and the registry are up", () => {
    const reply = healthReply({ engine: "up", registry: "up" });
    assert.equal(reply.status, 200);
    assert.deepEqual(JSON.parse(reply.body), { engine: "up", registry: "up" });
  });

  test("503 naming what is down", () => {
    for (const health of [
      { engine: "up", registry: "down" },
      { engine: "down", registry: "up" },
      { engine: "down", registry: "down" },
    ] as const) {
      const reply = healthReply(health);
      assert.equal(reply.status, 503);
      assert.deepEqual(JSON.parse(reply.body), health);
      assert.equal(reply.contentType, "application/json");
    }
  });

  test("follows the engine connection and the registry's state; both start down", () => {
    const metrics = new Metrics("etcd", { processMetrics: false });
    assert.deepEqual(metrics.health(), { engine: "down", registry: "down" });
    metrics.registryUp(true);
    metrics.engineConnected();
    assert.deepEqual(metrics.health(), { engine: "up", registry: "up" });
    metrics.registryUp(false);
    assert.deepEqual(metrics.health(), { engine: "up", registry: "down" });
    metrics.engineDisconnected();
    assert.deepEqual(metrics.health(), { engine: "down", registry: "down" });
  });
});

type Sample = { labels: Record<string, string | number>; value: number; metricName?: string };

async function samples(metrics: Metrics, name: string): Promise<Sample[]> {
  const metric = metrics.registry.getSingleMetric(name);
  assert.ok(metric, `metric ${name} exists`);
  return (await metric.get()).values as Sample[];
}

async function value(metrics: Metrics, name: string, labels: Record<string, string> = {}, metricName = name): Promise<number | undefined> {
  const found = (await samples(metrics, name)).find(
    (s) => (s.metricName ?? name) === metricName && Object.entries(labels).every(([k, v]) => String(s.labels[k]) === v),
  );
  return found?.value;
}

describe("the bridge observer", () => {
  test("operations are counted by backend, kind and result", async () => {
    const metrics = new Metrics("consul", { processMetrics: false });
    metrics.operation("register", "ok");
    metrics.operation("register", "ok");
    metrics.operation("register", "error");
    metrics.operation("deregister", "rejected");
    metrics.operation("register", "owned_elsewhere");
    const ops = "registrator_operations_total";
    assert.equal(await value(metrics, ops, { backend: "consul", kind: "register", result: "ok" }), 2);
    assert.equal(await value(metrics, ops, { backend: "consul", kind: "register", result: "error" }), 1);
    assert.equal(await value(metrics, ops, { backend: "consul", kind: "deregister", result: "rejected" }), 1);
    assert.equal(await value(metrics, ops, { backend: "consul", kind: "register", result: "owned_elsewhere" }), 1);
    assert.equal(await value(metrics, ops, { kind: "refresh" }), undefined);
  });

  test("state sets the registered-services gauge (by backend) and the retry queue", async () => {
    const metrics = new Metrics("etcd", { processMetrics: false });
    assert.equal(await value(metrics, "registrator_services_registered", { backend: "etcd" }), 0);
    metrics.state(7, 2);
    assert.equal(await value(metrics, "registrator_services_registered", { backend: "etcd" }), 7);
    assert.equal(await value(metrics, "registrator_retries_queued"), 2);
    metrics.state(3, 0);
    assert.equal(await value(metrics, "registrator_services_registered", { backend: "etcd" }), 3);
    assert.equal(await value(metrics, "registrator_retries_queued"), 0);
  });

  test("a lost engine connection counts a reconnect; up gauges follow", async () => {
    const metrics = new Metrics("file", { processMetrics: false });
    metrics.engineConnected();
    assert.equal(await value(metrics, "registrator_engine_up"), 1);
    metrics.engineDisconnected();
    metrics.engineDisconnected();
    assert.equal(await value(metrics, "registrator_docker_reconnects_total"), 2);
    assert.equal(await value(metrics, "registrator_engine_up"), 0);
    metrics.registryUp(true);
    assert.equal(await value(metrics, "registrator_registry_up", { backend: "file" }), 1);
  });

  test("latencies land in millisecond-scale buckets", async () => {
    const metrics = new Metrics("etcd", { processMetrics: false });
    metrics.registered(0.003);
    metrics.registered(0.04);
    metrics.registered(12);
    const h = "registrator_registration_latency_seconds";
    const bucket = (le: string) => value(metrics, h, { le }, `${h}_bucket`);
    assert.equal(await bucket("0.0025"), 0);
    assert.equal(await bucket("0.005"), 1);
    assert.equal(await bucket("0.05"), 2);
    assert.equal(await bucket("10"), 2);
    assert.equal(await bucket("30"), 3);
    assert.equal(await value(metrics, h, {}, `${h}_count`), 3);
    assert.ok(Math.abs((await value(metrics, h, {}, `${h}_sum`))! - 12.043) < 1e-9);
  });

  test("buckets start at a millisecond and rise", () => {
    assert.equal(LATENCY_BUCKETS[0], 0.001);
    assert.ok(LATENCY_BUCKETS.every((b, i) => i === 0 || b > LATENCY_BUCKETS[i - 1]!));
  });

  test("the exposition is Prometheus text, with registrator_ names and the process metrics", async () => {
    const metrics = new Metrics("etcd");
    const reply = await metrics.exposition();
    assert.equal(reply.status, 200);
    assert.match(reply.contentType, /^text\/plain; version=0\.0\.4/);
    assert.match(reply.body, /^# TYPE registrator_operations_total counter$/m);
    assert.match(reply.body, /^# TYPE registrator_registration_latency_seconds histogram$/m);
    assert.match(reply.body, /^registrator_services_registered\{backend="etcd"\} 0$/m);
    assert.match(reply.body, /^process_resident_memory_bytes \d+/m);
    assert.match(reply.body, /^nodejs_eventloop_lag_seconds /m);
  });
});
