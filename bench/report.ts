/** The readable table and the JSON object. */
import { CONSUL_POLL_MS } from "./registry.js";
import {
  RESYNC_LOST,
  type BurstResult,
  type ColdSyncResult,
  type CyclesResult,
  type LatencyResult,
  type ResyncResult,
  type RestResult,
  type StartupResult,
} from "./scenarios.js";
import { max, median, min, round } from "./stats.js";

export interface TargetResults {
  label: string;
  command: string;
  etcdApi: "v2" | "v3";
  startup?: StartupResult;
  coldSync?: ColdSyncResult;
  resync?: ResyncResult;
  latency?: LatencyResult;
  burst?: BurstResult;
  cycles?: CyclesResult;
  consulSync?: ColdSyncResult;
  consulLatency?: LatencyResult;
  rest?: RestResult;
  consulRest?: RestResult;
  /** phase → what went wrong */
  errors: Record<string, string>;
}

export interface Machine {
  date: string;
  cpus: number;
  cpuModel: string;
  arch: string;
  kernel: string;
  node: string;
  memTotalMb: number;
  docker?: string;
  etcd?: string;
  consul?: string;
  /** os.loadavg() before the first and after the last measurement */
  loadBefore: number[];
  loadAfter?: number[];
  /** load samples (1-min) taken between phases */
  loadDuring: Array<{ phase: string; load1: number }>;
  /** git commit of the tree measured */
  commit?: string;
  /** NODE_OPTIONS / NODE_EXTRA_CA_CERTS the registrators inherit: they change node's start-up */
  inheritedEnv: string[];
}

export interface Config {
  containers: number;
  cycles: number;
  cycleConcurrency: number;
  latencySamples: number;
  burst: number;
  concurrency: number;
  repeat: number;
  resyncPasses: number;
  restSeconds: number;
  logLevel: string;
  startWith: "api" | "cli";
  phases: string[];
  oursCommand: string;
  compareCommands: string[];
  unsetEnv: string[];
}

export interface Row {
  id: string;
  label: string;
  unit: "ms" | "MB" | "/min" | "s/h";
  /** Ours must be at or below this. */
  target?: number;
  values: Array<number | undefined>;
  /** per target: a note such as "1 of 3 timed out" */
  notes?: Array<string | undefined>;
}

function timeouts(values: ReadonlyArray<number | undefined>): string | undefined {
  const missing = values.filter((v) => v === undefined).length;
  return missing ? `${missing}/${values.length} timed out` : undefined;
}

/** The summary rows, one value per target (same order as `results`). */
export function rows(config: Config, results: TargetResults[]): Row[] {
  const out: Row[] = [];
  const add = (
    id: string,
    label: string,
    unit: Row["unit"],
    target: number | undefined,
    pick: (r: TargetResults) => number | undefined,
    note?: (r: TargetResults) => string | undefined,
  ) => {
    const values = results.map(pick);
    const notes = results.map((r) => (r.errors[id.split(".")[0] as string] ? "error" : note?.(r)));
    if (values.every((v) => v === undefined) && notes.every((n) => n === undefined)) return;
    out.push({ id, label, unit, target, values, notes });
  };
  const n = config.containers;
  const rep = (xs: unknown[] | undefined) => (xs && xs.length > 1 ? `, median of ${xs.length}` : "");
  const first = results[0];
  add(
    "startup.ms",
    `start-up: spawn → event subscription${rep(first?.startup?.startupMs)}`,
    "ms",
    150,
    (r) => median(r.startup?.startupMs ?? []),
    (r) => timeouts(r.startup?.startupMs ?? []),
  );
  add("startup.rss", "RSS idle, no bench containers", "MB", 41, (r) => median(r.startup?.idleRssMb ?? []));
  add("startup.private", "  of which private (Private_Dirty)", "MB", undefined, (r) => median(r.startup?.idlePrivateMb ?? []));
  add(
    "coldSync.ms",
    `cold sync of ${n}: spawn → all in registry${rep(first?.coldSync?.syncMs)}`,
    "ms",
    400,
    (r) => median(r.coldSync?.syncMs ?? []),
    (r) => timeouts(r.coldSync?.syncMs ?? []),
  );
  add("coldSync.min", `cold sync of ${n}: best run`, "ms", undefined, (r) => min(r.coldSync?.syncMs ?? []));
  add("coldSync.cpu", `  CPU time used by then (start-up included)`, "ms", undefined, (r) => median(r.coldSync?.cpuMs ?? []));
  add("coldSync.rss", `RSS after cold sync of ${n}`, "MB", 50, (r) => median(r.coldSync?.rssAfterSyncMb ?? []));
  add("coldSync.private", "  of which private (Private_Dirty)", "MB", 12, (r) => median(r.coldSync?.privateAfterSyncMb ?? []));
  add(
    "resync.ms",
    `one -resync pass over ${n}, ${Math.min(RESYNC_LOST, n)} lost: list → all back${rep(first?.resync?.passMs)}`,
    "ms",
    300,
    (r) => median(r.resync?.passMs ?? []),
    (r) => timeouts(r.resync?.passMs ?? []),
  );
  add("resync.first", "  of which list → first back", "ms", undefined, (r) => median(r.resync?.firstWriteMs ?? []));
  add(
    "rest.requests",
    `at rest, ${n} services, -ttl 30 -ttl-refresh 10: etcd requests per minute`,
    "/min",
    undefined,
    (r) => r.rest?.requestsPerMin,
  );
  add("rest.cpu", "  CPU seconds per hour at rest", "s/h", undefined, (r) => r.rest?.cpuSecondsPerHour);
  add("consulRest.requests", `  Consul requests per minute at rest`, "/min", undefined, (r) => r.consulRest?.requestsPerMin);
  add("consulRest.cpu", "  CPU seconds per hour at rest, Consul", "s/h", undefined, (r) => r.consulRest?.cpuSecondsPerHour);
  const k = first?.latency?.samplesMs.length ?? config.latencySamples;
  add(
    "latency.p50",
    `event latency (${k} starts one at a time) p50`,
    "ms",
    3,
    (r) => r.latency?.p50,
    (r) => timeouts(r.latency?.samplesMs ?? []),
  );
  add("latency.p95", "  p95", "ms", 8, (r) => r.latency?.p95);
  add("latency.p99", "  p99", "ms", undefined, (r) => r.latency?.p99);
  add("latency.max", "  max", "ms", undefined, (r) => r.latency?.max);
  add("latency.cpu", "  CPU time per container (start + remove)", "ms", undefined, (r) => r.latency?.cpuMsPerContainer);
  add(
    "burst.registered",
    `burst of ${config.burst} (concurrency ${config.concurrency}): all registered after last start`,
    "ms",
    1000,
    (r) => r.burst?.registeredAfterLastStartMs,
  );
  add("burst.startSpan", "  (the starts took, first issued → last returned)", "ms", undefined, (r) => r.burst?.startSpanMs);
  add("burst.gone", `  all gone after last rm -f`, "ms", 1000, (r) => r.burst?.goneAfterLastRemoveMs);
  add("burst.removeSpan", "  (the removals took)", "ms", undefined, (r) => r.burst?.removeSpanMs);
  const c = first?.cycles;
  if (c) {
    const from = c.growthFrom ?? Math.round(c.cycles / 5);
    add("cycles.rssFrom", `RSS after cycle ${from}`, "MB", undefined, (r) => r.cycles?.rssMb.find((x) => x.cycle === from)?.mb);
    add("cycles.rssTo", `RSS after cycle ${c.cycles}`, "MB", undefined, (r) => r.cycles?.rssMb.at(-1)?.mb);
    add(
      "cycles.growth",
      `RSS growth, cycle ${from} → ${c.cycles}`,
      "MB",
      3,
      (r) => r.cycles?.growthMb,
      (r) =>
        r.cycles?.heapSnapshots
          ? "heap snapshots taken: RSS not comparable"
          : r.cycles?.missed
            ? `${r.cycles.missed} cycles not seen`
            : undefined,
    );
    add("cycles.cpu", "  CPU time per cycle", "ms", undefined, (r) => r.cycles?.cpuMsPerCycle);
    add(
      "cycles.latency",
      `  (start → registered under churn, p50 / wall time)`,
      "ms",
      undefined,
      (r) => r.cycles?.latencyP50,
      (r) => (r.cycles?.wallS === undefined ? undefined : `${r.cycles.wallS.toFixed(0)} s`),
    );
  }
  add(
    "consulSync.ms",
    `Consul: cold sync of ${n}${rep(first?.consulSync?.syncMs)} (agent polled every ${CONSUL_POLL_MS.sync} ms)`,
    "ms",
    undefined,
    (r) => median(r.consulSync?.syncMs ?? []),
    (r) => timeouts(r.consulSync?.syncMs ?? []),
  );
  add("consulSync.rss", `Consul: RSS after cold sync of ${n}`, "MB", undefined, (r) => median(r.consulSync?.rssAfterSyncMb ?? []));
  add(
    "consulLatency.p50",
    `Consul: event latency p50 (agent polled every ${CONSUL_POLL_MS.latency} ms)`,
    "ms",
    undefined,
    (r) => r.consulLatency?.p50,
    (r) => timeouts(r.consulLatency?.samplesMs ?? []),
  );
  add("consulLatency.p95", "  p95", "ms", undefined, (r) => r.consulLatency?.p95);
  return out;
}

function fmt(value: number | undefined, unit: Row["unit"]): string {
  if (value === undefined) return "—";
  if (unit === "MB") return `${value.toFixed(1)} MB`;
  if (unit === "/min") return `${value.toFixed(0)} /min`;
  if (unit === "s/h") return `${value.toFixed(1)} s/h`;
  if (unit === "ms") return Math.abs(value) >= 100 ? `${value.toFixed(0)} ms` : `${value.toFixed(1)} ms`;
  return String(value);
}

export function table(machine: Machine, config: Config, results: TargetResults[]): string {
  const rs = rows(config, results);
  const header = ["", "target (ours)", ...results.map((r) => r.label)];
  const body = rs.map((row) => {
    const cells = row.values.map((v, i) => {
      let cell = fmt(v, row.unit);
      if (i === 0 && row.target !== undefined && v !== undefined) cell += v <= row.target ? "  ok" : "  MISS";
      const note = row.notes?.[i];
      return note ? `${cell} (${note})` : cell;
    });
    return [row.label, row.target === undefined ? "" : `≤ ${fmt(row.target, row.unit)}`, ...cells];
  });
  const widths = header.map((_, col) => Math.max(...[header, ...body].map((line) => (line[col] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("   ");
  const load = (l: number[] | undefined) => (l ? l.map((x) => x.toFixed(2)).join(" ") : "?");
  const during = machine.loadDuring.map((x) => x.load1);
  const lines = [
    `registrator bench, ${machine.date}`,
    `machine: ${machine.cpus} × ${machine.arch} (${machine.cpuModel}), Linux ${machine.kernel}, ${Math.round(machine.memTotalMb / 1024)} GB, node ${machine.node}`,
    `servers: docker ${machine.docker ?? "?"}, etcd ${machine.etcd ?? "?"}${machine.consul ? `, consul ${machine.consul}` : ""}`,
    `load average: before ${load(machine.loadBefore)}, after ${load(machine.loadAfter)}, 1-min between phases ${round(min(during), 2) ?? "?"}–${round(max(during), 2) ?? "?"}`,
    `ours: ${config.oursCommand} (commit ${machine.commit ?? "?"})${machine.inheritedEnv.length ? `; inherits ${machine.inheritedEnv.join(" ")}` : ""}${config.unsetEnv.length ? `; not inherited: ${config.unsetEnv.join(", ")}` : ""}`,
    `N=${config.containers}, latency samples=${config.latencySamples}, burst=${config.burst} (concurrency ${config.concurrency}), cycles=${config.cycles} (concurrency ${config.cycleConcurrency}), log level ${config.logLevel}, starts via ${config.startWith === "api" ? "the engine API" : "the docker CLI"}`,
    "",
    line(header),
    line(header.map((_, i) => "-".repeat(widths[i] ?? 0))),
    ...body.map(line),
  ];
  for (const r of results) {
    for (const [phase, message] of Object.entries(r.errors)) lines.push(`! ${r.label} ${phase}: ${message}`);
  }
  if (results.some((r) => r.coldSync?.countFallbacks || r.burst?.countFallbacks)) {
    lines.push("note: some times came from the polled range count because the watch and the count disagreed");
  }
  return lines.join("\n") + "\n";
}

export function jsonReport(machine: Machine, config: Config, results: TargetResults[]): unknown {
  const summary = rows(config, results).map((row) => ({
    id: row.id,
    label: row.label.trim(),
    unit: row.unit,
    target: row.target,
    values: Object.fromEntries(results.map((r, i) => [r.label, round(row.values[i], 2) ?? null])),
    ok: row.target === undefined || row.values[0] === undefined ? undefined : (row.values[0] as number) <= row.target,
  }));
  return { machine, config, summary, results };
}
