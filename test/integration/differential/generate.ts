/**
 * Generated containers for the differential test: every network mode the Go registrator knows,
 * published, exposed and UDP ports, and the SERVICE_* metadata users write (names, ids, tags,
 * attributes, ignores, checks), in env and labels, valid and not. Seeded: a seed gives the same scene.
 */
import type { Prng } from "./prng.js";

export type Proto = "tcp" | "udp";
/** ephemeral: `-p P`; loopback: `-p 127.0.0.1::P`; expose: `--expose P`; host: `-p P:P` (host network). */
export type Publish = "ephemeral" | "loopback" | "expose" | "host";

export interface PortSpec {
  port: number;
  proto: Proto;
  publish: Publish;
}

export type Network =
  | { kind: "bridge" }
  | { kind: "user" }
  | { kind: "host" }
  | { kind: "none" }
  /** `--net container:<id>` of an earlier container, which must be on the bridge or the user network. */
  | { kind: "container"; of: number; targetOnUserNetwork: boolean };

/** The image a container runs: one of the tags of the test image, or its id (as compose-built images run). */
export type ImageRef = keyof typeof IMAGE_TAGS | "by-id";

export const IMAGE_TAGS = {
  web: "difftest/web:1.0",
  api: "localhost:5000/team/api:latest",
  cache: "cache",
  /** Built with EXPOSE 8080 and 5353/udp: the only ports a `--net container:` container can have. */
  exposing: "difftest/exposing",
} as const;
export const EXPOSING_IMAGE_PORTS: readonly PortSpec[] = [
  { port: 8080, proto: "tcp", publish: "expose" },
  { port: 5353, proto: "udp", publish: "expose" },
];

export interface ContainerSpec {
  index: number;
  name: string;
  image: ImageRef;
  network: Network;
  /** Ports given on the command line (a container of the exposing image has those too). */
  ports: PortSpec[];
  env: Array<[string, string]>;
  labels: Array<[string, string]>;
}

/** A SERVICE_TAGS template (fayrus v9) with a v7.4 function, and what it renders to. */
export const TAG_TEMPLATE = 't-{{ toUpper "x" }}';
export const TAG_TEMPLATE_RENDERED = "t-X";

/** Compose's label, which names services of images run by id. */
export const COMPOSE_SERVICE_LABEL = "com.docker.compose.service";

/** The label -useIpFromLabel reads in the test's mode for it. */
export const IP_LABEL = "ip.addr";

const PORT_POOL: ReadonlyArray<[number, Proto]> = [
  [80, "tcp"],
  [443, "tcp"],
  [6379, "tcp"],
  [9000, "tcp"],
  [53, "udp"],
  [53, "tcp"],
  [514, "udp"],
];

export function containerName(prefix: string, index: number): string {
  return `${prefix}-c${String(index).padStart(3, "0")}`;
}

/** The name of the container a service id belongs to, when the id names one (default ids and the generated custom ones do). */
export function containerOfServiceId(prefix: string, serviceId: string): string | undefined {
  const match = new RegExp(`${prefix}-c\\d{3}`).exec(serviceId);
  return match?.[0];
}

/**
 * The sentinel is created first, so the Go registrator, which syncs the newest container first
 * and one at a time, registers it last: once it is seen, the Go sync is over.
 */
export function sentinelSpec(prefix: string): ContainerSpec {
  return {
    index: 0,
    name: containerName(prefix, 0),
    image: "web",
    network: { kind: "bridge" },
    ports: [{ port: 7, proto: "tcp", publish: "ephemeral" }],
    env: [["SERVICE_NAME", `sentinel`]],
    labels: [],
  };
}

export function generateContainers(prng: Prng, prefix: string, count: number): ContainerSpec[] {
  const specs: ContainerSpec[] = [];
  for (let index = 1; index <= count; index++) specs.push(generateOne(prng, prefix, index, specs));
  return specs;
}

function generateOne(prng: Prng, prefix: string, index: number, earlier: readonly ContainerSpec[]): ContainerSpec {
  const network = chooseNetwork(prng, earlier);
  const image: ImageRef =
    network.kind === "container" ? "exposing" : prng.pick(["web", "web", "api", "cache", "exposing", "by-id"] as const);
  const spec: ContainerSpec = {
    index,
    name: containerName(prefix, index),
    image,
    network,
    ports: choosePorts(prng, network),
    env: [],
    labels: [],
  };
  const gen = new Metadata(prng, spec);
  for (const [probability, feature] of FEATURES) if (prng.chance(probability)) feature(gen);
  return spec;
}

function chooseNetwork(prng: Prng, earlier: readonly ContainerSpec[]): Network {
  const targets = earlier.filter((c) => c.network.kind === "bridge" || c.network.kind === "user");
  const roll = prng.next();
  if (roll < 0.5) return { kind: "bridge" };
  if (roll < 0.68) return { kind: "user" };
  if (roll < 0.8) return { kind: "host" };
  if (roll < 0.86) return { kind: "none" };
  if (targets.length === 0) return { kind: "bridge" };
  const target = prng.pick(targets);
  return { kind: "container", of: target.index, targetOnUserNetwork: target.network.kind === "user" };
}

function choosePorts(prng: Prng, network: Network): PortSpec[] {
  if (network.kind === "container") return []; // Docker refuses -p and --expose here; the image exposes its ports.
  const n = prng.pick([0, 1, 1, 1, 2, 2, 3]);
  return prng.some(PORT_POOL, n).map(([port, proto]) => ({ port, proto, publish: choosePublish(prng, network) }));
}

function choosePublish(prng: Prng, network: Network): Publish {
  switch (network.kind) {
    case "host":
      return prng.pick(["host", "expose"]);
    case "none":
      return "expose";
    default:
      return prng.pick(["ephemeral", "ephemeral", "loopback", "expose"]);
  }
}

/** Writes SERVICE_* keys into a spec, as an env var or a label. */
class Metadata {
  constructor(
    readonly prng: Prng,
    readonly spec: ContainerSpec,
  ) {}

  /** The container ports metadata may name: the command line's and the image's. */
  get ports(): PortSpec[] {
    return this.spec.image === "exposing" ? [...this.spec.ports, ...EXPOSING_IMAGE_PORTS] : this.spec.ports;
  }

  anyPort(): PortSpec | undefined {
    return this.ports.length ? this.prng.pick(this.ports) : undefined;
  }

  /** A key set twice keeps its last value, as Docker keeps it. */
  env(key: string, value: string): void {
    set(this.spec.env, key, value);
  }

  label(key: string, value: string): void {
    set(this.spec.labels, key, value);
  }

  /** Mostly env, as most users write it; labels a third of the time. */
  either(key: string, value: string): void {
    if (this.prng.chance(1 / 3)) this.label(key, value);
    else this.env(key, value);
  }

  has(key: string): boolean {
    return [...this.spec.env, ...this.spec.labels].some(([k]) => k === key);
  }
}

function set(pairs: Array<[string, string]>, key: string, value: string): void {
  const at = pairs.findIndex(([k]) => k === key);
  if (at >= 0) pairs[at] = [key, value];
  else pairs.push([key, value]);
}

const NAMES = ["web", "db", "api-v2", "cache.eu", "Mixed_Case"];
const TAGS = ["a,b", "master, backups", "x\\,y,z", "one", ",lead,,trail,", "dup,dup", " padded "];
const ATTRS: ReadonlyArray<[string, string]> = [
  ["SERVICE_REGION", "us2"],
  ["SERVICE_Weight", "5"],
  ["SERVICE_VERSION", "1.2.3"],
  ["SERVICE_OWNER", "team a"],
];
const LABEL_IPS = ["10.9.8.7", "10.9.8.7/24", "127.0.0.22/abc", "fd00::5/64", "a/b/c", "evil.example.com"];

type Feature = (m: Metadata) => void;

const FEATURES: ReadonlyArray<[number, Feature]> = [
  [0.3, (m) => m.either("SERVICE_NAME", m.prng.pick(NAMES))],
  [0.15, (m) => portKey(m, "NAME", m.prng.pick(NAMES))],
  [
    0.1,
    (m) => {
      // Port-independent ids only on one-port containers: two services with one id overwrite each other.
      if (m.ports.length === 1) m.either("SERVICE_ID", `svc.${m.spec.name}.custom`);
    },
  ],
  [
    0.1,
    (m) => {
      // Not on a port number with both protocols: both services would get the id, and which one v7
      // keeps depends on Go's map order.
      const port = m.anyPort();
      if (port && m.ports.filter((p) => p.port === port.port).length === 1) m.either(`SERVICE_${port.port}_ID`, `svc.${m.spec.name}.p`);
    },
  ],
  [0.35, (m) => m.either("SERVICE_TAGS", m.prng.pick(TAGS))],
  [0.1, (m) => portKey(m, "TAGS", m.prng.pick(TAGS))],
  [0.07, (m) => m.either("SERVICE_IGNORE", m.prng.pick(["true", "1", "yes"]))],
  [0.07, (m) => portKey(m, "IGNORE", "true")],
  [
    0.4,
    (m) => {
      for (const [key, value] of m.prng.some(ATTRS, m.prng.int(1, 3))) m.either(key, value);
    },
  ],
  [0.1, (m) => portKey(m, "REGION", "eu")],
  [0.05, (m) => m.env(m.prng.pick(["SERVICE_EMPTY", "SERVICE_NAME", "SERVICE_TAGS"]), "")],
  [
    0.08,
    (m) => {
      // The same key in both places, as a compose file's labels and an env file may say.
      const port = m.anyPort();
      const key = m.prng.pick(["SERVICE_NAME", "SERVICE_REGION", ...(port ? [`SERVICE_${port.port}_NAME`] : [])]);
      if (m.has(key)) return;
      m.env(key, "from-env");
      m.label(key, "from-label");
    },
  ],
  [
    0.05,
    (m) => {
      const port = m.anyPort();
      if (port) m.env(`SERVICE_${port.port}_${port.proto}_NAME`, "by-proto");
    },
  ],
  [
    0.05,
    (m) => {
      const port = m.anyPort();
      if (port) m.env(`SERVICE_${port.port - 1}-${port.port + 1}_IGNORE`, "true");
    },
  ],
  [
    0.05,
    (m) => {
      const port = m.anyPort();
      if (port) m.env(m.prng.pick([`SERVICE_0${port.port}_NAME`, `SERVICE_+${port.port}_NAME`]), "odd-port");
    },
  ],
  [0.03, (m) => m.env("SERVICE_FOO.BAR", "1")],
  [0.04, (m) => m.either("SERVICE_ENABLE_TAG_OVERRIDE", "true")],
  [0.04, (m) => m.either("SERVICE_TAGS", TAG_TEMPLATE)],
  [0.2, (m) => m.label(IP_LABEL, m.prng.pick(LABEL_IPS))],
  [
    0.5,
    (m) => {
      if (m.spec.image === "by-id") m.label(COMPOSE_SERVICE_LABEL, "compose-svc");
    },
  ],
  [0.45, (m) => addCheck(m)],
];

/** `SERVICE_<port>_<key>` for one of the container's ports. */
function portKey(m: Metadata, key: string, value: string): void {
  const port = m.anyPort();
  if (port) m.either(`SERVICE_${port.port}_${key}`, value);
}

type CheckKind = "HTTP" | "HTTPS" | "TCP" | "TTL" | "SCRIPT" | "CMD" | "DOCKER";
const CHECK_VALUES: Record<CheckKind, readonly string[]> = {
  HTTP: ["/health", "/status?full=1"],
  HTTPS: ["/health"],
  TCP: ["true"],
  TTL: ["30s", "1m"],
  SCRIPT: ["echo $SERVICE_IP:$SERVICE_PORT"],
  CMD: ["/bin/true"],
  DOCKER: ["true"],
};

/**
 * One check, sometimes two kinds at once (which one wins is part of the contract), with settings.
 * Intervals are long so the agents rarely probe anything during the run: the checks' targets are
 * not served, and only the registration is compared.
 */
function addCheck(m: Metadata): void {
  const kinds = Object.keys(CHECK_VALUES) as CheckKind[];
  const kind = m.prng.pick(kinds);
  const port = m.prng.chance(0.15) ? m.anyPort() : undefined;
  const prefix = port ? `SERVICE_${port.port}_CHECK_` : "SERVICE_CHECK_";
  m.env(`${prefix}${kind}`, m.prng.pick(CHECK_VALUES[kind]));
  if (m.prng.chance(0.1)) {
    const other = m.prng.pick(kinds.filter((k) => k !== kind));
    m.env(`SERVICE_CHECK_${other}`, m.prng.pick(CHECK_VALUES[other]));
  }
  const settings: ReadonlyArray<[number, string, string]> = [
    [0.85, "SERVICE_CHECK_INTERVAL", "1h"],
    [0.3, "SERVICE_CHECK_TIMEOUT", "3s"],
    [0.25, "SERVICE_CHECK_HTTP_METHOD", "HEAD"],
    [0.25, "SERVICE_CHECK_HTTPS_METHOD", "POST"],
    [0.2, "SERVICE_CHECK_INITIAL_STATUS", m.prng.pick(["passing", "critical"])],
    [0.2, "SERVICE_CHECK_DEREGISTER_AFTER", "90m"],
    [0.15, "SERVICE_CHECK_TLS_SKIP_VERIFY", "true"],
    [0.1, "SERVICE_CHECK_HEADER", '{"X-Token":["t"]}'],
    [0.1, "SERVICE_CHECK_NOTES", "generated"],
  ];
  // Settings for the check's port alone now and then: a port's key beats the general one.
  const settingPrefix = prefix !== "SERVICE_CHECK_" && m.prng.chance(0.3) ? prefix : "SERVICE_CHECK_";
  for (const [probability, key, value] of settings)
    if (m.prng.chance(probability)) m.env(key.replace("SERVICE_CHECK_", settingPrefix), value);
  // Values v7 passes on and Consul may or may not take.
  if (m.prng.chance(0.05)) m.env("SERVICE_CHECK_INTERVAL", "abc");
  if (m.prng.chance(0.05) && (kind === "HTTP" || kind === "HTTPS")) m.env(`SERVICE_CHECK_${kind}`, "health");
}

/** `docker run` arguments, without `-d` and the label the harness adds. */
export function runArgs(
  spec: ContainerSpec,
  ctx: { userNetwork: string; containerIds: ReadonlyMap<number, string>; imageId: string },
): string[] {
  const args = ["--name", spec.name, ...networkArgs(spec.network, ctx)];
  for (const p of spec.ports) args.push(...portArgs(p));
  for (const [key, value] of spec.env) args.push("-e", `${key}=${value}`);
  for (const [key, value] of spec.labels) args.push("--label", `${key}=${value}`);
  args.push(spec.image === "by-id" ? ctx.imageId : IMAGE_TAGS[spec.image], "sleep", "3600");
  return args;
}

function networkArgs(network: Network, ctx: { userNetwork: string; containerIds: ReadonlyMap<number, string> }): string[] {
  switch (network.kind) {
    case "bridge":
      return [];
    case "user":
      return ["--net", ctx.userNetwork];
    case "host":
    case "none":
      return ["--net", network.kind];
    case "container": {
      const id = ctx.containerIds.get(network.of);
      if (!id) throw new Error(`container ${network.of} must run before the one that shares its network`);
      return ["--net", `container:${id}`];
    }
  }
}

function portArgs(p: PortSpec): string[] {
  const port = `${p.port}/${p.proto}`;
  switch (p.publish) {
    case "ephemeral":
      return ["-p", port];
    case "loopback":
      return ["-p", `127.0.0.1::${port}`];
    case "expose":
      return ["--expose", port];
    case "host":
      return ["-p", `${p.port}:${port}`];
  }
}

/** One line saying how the container was run, for the failure report. */
export function describe(spec: ContainerSpec): string {
  const net = spec.network.kind === "container" ? `container:${containerName("", spec.network.of).slice(1)}` : spec.network.kind;
  const ports = spec.ports.map((p) => `${p.publish} ${p.port}/${p.proto}`);
  const env = spec.env.map(([k, v]) => `-e ${k}=${JSON.stringify(v)}`);
  const labels = spec.labels.map(([k, v]) => `--label ${k}=${JSON.stringify(v)}`);
  return [`net=${net}`, `image=${spec.image}`, ...ports, ...env, ...labels].join(" ");
}
