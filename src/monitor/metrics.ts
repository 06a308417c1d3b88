/**
 * Prometheus metrics and the health answer behind `--metrics-addr`. This module loads prom-client,
 * so main.ts imports it only when the option is set: its start-up time and memory (bench/README.md)
 * are what small hosts that nobody scrapes should not pay.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { BridgeObserver, OperationResult } from "../bridge/observer.js";
import type { BridgeSnapshot } from "../bridge/snapshot.js";
import { renderStatusPage } from "./page.js";
import { serveHttp, type ListenAddress, type Reply } from "./server.js";
import { redactSnapshot } from "./status.js";

/**
 * From an event to the registry's acknowledgement is an inspect plus one write: milliseconds on a
 * healthy host. The long tail (seconds to a minute) is retries while the registry is down.
 */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export interface Health {
  engine: "up" | "down";
  registry: "up" | "down";
}

/** 200 when both are up, else 503; the body names each, so a probe's log says which one failed. Pure. */
export function healthReply(health: Health): Reply {
  const ok = health.engine === "up" && health.registry === "up";
  return { status: ok ? 200 : 503, contentType: "application/json", body: `${JSON.stringify(health)}\n` };
}

/** The bridge's observer, plus what main.ts knows about the engine connection. */
export class Metrics implements BridgeObserver {
  readonly registry = new Registry();
  private engineIsUp = false;
  // Down until the start-up ping succeeds: a readiness probe should not pass before that.
  private registryIsUp = false;
  private readonly servicesGauge: Gauge<"backend">;
  private readonly operations: Counter<"backend" | "kind" | "result">;
  private readonly retries: Gauge;
  private readonly reconnects: Counter;
  private readonly latency: Histogram;
  private readonly registryUpGauge: Gauge<"backend">;
  private readonly engineUpGauge: Gauge;

  constructor(
    private readonly backend: string,
    opts: { processMetrics?: boolean } = {},
  ) {
    const registers = [this.registry];
    this.servicesGauge = new Gauge({
      name: "registrator_services_registered",
      help: "Services the registry has acknowledged",
      labelNames: ["backend"],
      registers,
    });
    this.operations = new Counter({
      name: "registrator_operations_total",
      help: "Registry calls by kind (register, deregister, refresh) and result (ok, error, rejected, owned_elsewhere)",
      labelNames: ["backend", "kind", "result"],
      registers,
    });
    this.retries = new Gauge({
      name: "registrator_retries_queued",
      help: "Containers waiting to retry a failed registry write",
      registers,
    });
    this.reconnects = new Counter({
      name: "registrator_docker_reconnects_total",
      help: "Times the engine (Docker or Podman) connection was lost or refused and retried",
      registers,
    });
    this.latency = new Histogram({
      name: "registrator_registration_latency_seconds",
      help: "From the engine event that marked a container to the registry acknowledging its service",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.registryUpGauge = new Gauge({
      name: "registrator_registry_up",
      help: "1 while the registry answers",
      labelNames: ["backend"],
      registers,
    });
    this.engineUpGauge = new Gauge({ name: "registrator_engine_up", help: "1 while subscribed to the engine's events", registers });
    // Zeros from the start, so a dashboard shows 0 rather than "no data" before the first event.
    this.servicesGauge.set({ backend }, 0);
    this.registryUpGauge.set({ backend }, 0);
    this.engineUpGauge.set(0);
    this.retries.set(0);
    // Default metrics keep their standard names (process_*, nodejs_*) so stock dashboards work.
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  operation(kind: "register" | "deregister" | "refresh", result: OperationResult): void {
    this.operations.inc({ backend: this.backend, kind, result });
  }

  registered(seconds: number): void {
    this.latency.observe(seconds);
  }

  state(services: number, retrying: number): void {
    this.servicesGauge.set({ backend: this.backend }, services);
    this.retries.set(retrying);
  }

  registryUp(up: boolean): void {
    this.registryIsUp = up;
    this.registryUpGauge.set({ backend: this.backend }, up ? 1 : 0);
  }

  engineConnected(): void {
    this.engineIsUp = true;
    this.engineUpGauge.set(1);
  }

  engineDisconnected(): void {
    this.engineIsUp = false;
    this.engineUpGauge.set(0);
    this.reconnects.inc();
  }

  health(): Health {
    return { engine: this.engineIsUp ? "up" : "down", registry: this.registryIsUp ? "up" : "down" };
  }

  async exposition(): Promise<Reply> {
    return { status: 200, contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

export interface Monitor {
  metrics: Metrics;
  /** Where the server listens, `host:port`. */
  address: string;
  /** Said at start-up when it listens on every interface. */
  warning?: string;
  /** Where `/status` and the page at `/` read the bridge's state, once there is a bridge. */
  showStatus(source: () => BridgeSnapshot): void;
  close(): Promise<void>;
}

const STARTING: Reply = { status: 503, contentType: "text/plain; charset=utf-8", body: "starting: no status yet\n" };

/** `/status`: the snapshot as JSON, secrets redacted; 503 while start-up has no bridge yet. */
export function statusReply(source: (() => BridgeSnapshot) | undefined): Reply {
  if (!source) return STARTING;
  return { status: 200, contentType: "application/json", body: `${JSON.stringify(redactSnapshot(source()))}\n` };
}

/** `/`: the status page; 503 while start-up has no bridge yet. */
export function pageReply(source: (() => BridgeSnapshot) | undefined): Reply {
  if (!source) return STARTING;
  return { status: 200, contentType: "text/html; charset=utf-8", body: renderStatusPage(source()) };
}

/** Creates the metrics and serves them; rejects with a clear message when it cannot listen. */
export async function serveMetrics(addr: ListenAddress, backend: string): Promise<Monitor> {
  const metrics = new Metrics(backend);
  let source: (() => BridgeSnapshot) | undefined;
  const server = await serveHttp(addr, {
    "/metrics": () => metrics.exposition(),
    "/health": () => healthReply(metrics.health()),
    "/status": () => statusReply(source),
    "/": () => pageReply(source),
  });
  return {
    metrics,
    address: server.address,
    warning: server.warning,
    showStatus: (next) => (source = next),
    close: () => server.close(),
  };
}
