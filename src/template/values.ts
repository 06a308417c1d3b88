/**
 * Go values as JavaScript holds them, and the container inspect as such a value.
 *
 * undefined is Go's invalid reflect.Value ("<no value>"); null a nil interface; a JS number an int unless it
 * has a fraction; GoFloat a float64 that happens to be whole; Uint8Array a []byte; an array a slice; an object a
 * map, or a struct where `typed` says so. Typed objects carry their Go type name for messages and printing.
 */
import type { ContainerInfo } from "../service/types.js";

export class GoFloat {
  constructor(readonly value: number) {}
}

/** A nil pointer to a struct, such as a container inspect without `Node`. */
export class GoNil {
  /** `fields` tells a missing field (an error worded differently) from a field of the nil struct; unknown when absent. */
  constructor(
    readonly type: string,
    readonly fields?: ReadonlySet<string>,
  ) {}
}

/** A time.Time from an RFC 3339 timestamp, printed as Go's Time.String prints it. */
export class GoTime {
  constructor(readonly rfc3339: string) {}

  toString(): string {
    const m = /^(\d{4,})-(\d\d)-(\d\d)T(\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(this.rfc3339);
    if (!m) return this.rfc3339;
    const fraction = (m[5] ?? "").replace(/0+$/, "");
    const offset = m[6]!.replace(":", "");
    // A UTC time names its zone; any other offset becomes a zone without a name, which Go prints as the offset again.
    const zone = offset === "Z" || offset === "+0000" ? "+0000 UTC" : `${offset} ${offset}`;
    return `${m[1]}-${m[2]}-${m[3]} ${m[4]}${fraction ? `.${fraction}` : ""} ${zone}`;
  }
}

export interface GoType {
  name: string;
  struct?: boolean;
  /** A map's key type, where it is not string. */
  key?: string;
  /** What `index` gives for a key the map lacks: the zero value of the element type. */
  zero?: unknown;
}
const goTypes = new WeakMap<object, GoType>();

export function typed<T extends object>(value: T, type: GoType): T {
  goTypes.set(value, type);
  return value;
}
export const goType = (v: object): GoType | undefined => goTypes.get(v);

export type Kind = "invalid" | "nil" | "bool" | "int" | "float" | "string" | "bytes" | "slice" | "map" | "struct" | "ptr" | "time" | "func";

export function kindOf(v: unknown): Kind {
  if (v === undefined) return "invalid";
  if (v === null) return "nil";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float";
  if (typeof v === "string") return "string";
  if (typeof v === "function") return "func";
  if (v instanceof GoFloat) return "float";
  if (v instanceof GoNil) return "ptr";
  if (v instanceof GoTime) return "time";
  if (v instanceof Uint8Array) return "bytes";
  if (Array.isArray(v)) return "slice";
  return goTypes.get(v as object)?.struct ? "struct" : "map";
}

const KIND_NAMES: Record<Kind, string> = {
  invalid: "<invalid reflect.Value>",
  nil: "interface {}",
  bool: "bool",
  int: "int",
  float: "float64",
  string: "string",
  bytes: "[]uint8",
  slice: "[]interface {}",
  map: "map[string]interface {}",
  struct: "struct {}",
  ptr: "",
  time: "time.Time",
  func: "func()",
};

export function typeName(v: unknown): string {
  if (v instanceof GoNil) return v.type;
  return (typeof v === "object" && v !== null && goTypes.get(v)?.name) || KIND_NAMES[kindOf(v)];
}

export const toNumber = (v: unknown): number => (v instanceof GoFloat ? v.value : (v as number));

/** Go's truth: false, 0, "", nil and empty slices and maps are false; structs are always true. */
export function isTrue(v: unknown): boolean {
  switch (kindOf(v)) {
    case "invalid":
    case "nil":
    case "ptr":
      return false;
    case "bool":
      return v as boolean;
    case "int":
    case "float":
      return toNumber(v) !== 0;
    case "string":
    case "slice":
    case "bytes":
      return (v as { length: number }).length > 0;
    case "map":
      return Object.keys(v as object).length > 0;
    default:
      return true;
  }
}

/** Go compares strings byte by byte, which differs from UTF-16 order above U+FFFF. */
export const compareStrings = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));
/** A map's keys in the order fmt prints them and range visits them. */
export const sortedKeys = (m: object): string[] => Object.keys(m).sort(compareStrings);

/**
 * go-dockerclient's structs, as `Field[=JSONName][:type]` (string by default). `~Name` is a struct this view
 * keeps as raw JSON; `*Name` a pointer, nil when the inspect lacks it.
 */
const STRUCTS: Record<string, string> = {
  Container:
    "ID=Id Created:time Path Args:[]string Config:*Config State:State Image Node:~SwarmNode NetworkSettings:*NetworkSettings " +
    "SysInitPath ResolvConfPath HostnamePath HostsPath LogPath Name Driver Mounts:[]Mount Volumes:map[string]string " +
    "VolumesRW:map[string]bool HostConfig:~HostConfig ExecIDs:[]string GraphDriver:~GraphDriver RestartCount:int " +
    "AppArmorProfile MountLabel ProcessLabel Platform SizeRw:int SizeRootFs:int",
  Config:
    "Hostname Domainname User Memory:int MemorySwap:int MemoryReservation:int KernelMemory:int CPUShares=CpuShares:int " +
    "CPUSet=Cpuset PortSpecs:[]string ExposedPorts:map[docker.Port]struct{} PublishService StopSignal StopTimeout:int " +
    "Env:[]string Cmd:[]string Shell:[]string Healthcheck:~HealthConfig DNS=Dns:[]string Image " +
    "Volumes:map[string]struct{} VolumeDriver WorkingDir MacAddress Entrypoint:[]string SecurityOpts:[]string " +
    "OnBuild:[]string Mounts:[]Mount Labels:map[string]string AttachStdin:bool AttachStdout:bool AttachStderr:bool " +
    "ArgsEscaped:bool Tty:bool OpenStdin:bool StdinOnce:bool NetworkDisabled:bool VolumesFrom",
  State:
    "Status Running:bool Paused:bool Restarting:bool OOMKilled:bool RemovalInProgress:bool Dead:bool Pid:int " +
    "ExitCode:int Error StartedAt:time FinishedAt:time Health:Health",
  Health: "Status FailingStreak:int Log:[]HealthCheck",
  HealthCheck: "Start:time End:time ExitCode:int Output",
  NetworkSettings:
    "Networks:map[string]ContainerNetwork IPAddress IPPrefixLen:int MacAddress Gateway Bridge PortMapping:map[string]map[string]string " +
    "Ports:map[docker.Port][]PortBinding NetworkID EndpointID SandboxKey GlobalIPv6Address GlobalIPv6PrefixLen:int " +
    "IPv6Gateway LinkLocalIPv6Address LinkLocalIPv6PrefixLen:int SecondaryIPAddresses:[]string SecondaryIPv6Addresses:[]string",
  ContainerNetwork:
    "Aliases:[]string MacAddress GlobalIPv6PrefixLen:int GlobalIPv6Address IPv6Gateway IPPrefixLen:int IPAddress Gateway " +
    "EndpointID NetworkID",
  PortBinding: "HostIP=HostIp HostPort",
  Mount: "Name Source Destination Driver Mode RW:bool",
};

const SCHEMA = new Map(
  Object.entries(STRUCTS).map(([name, spec]) => [
    name,
    spec.split(" ").map((field) => {
      const [names = "", type = "string"] = field.split(":");
      const [goName = "", jsonName = goName] = names.split("=");
      return { goName, jsonName, type };
    }),
  ]),
);

/** The inspect JSON as a template sees go-dockerclient's *docker.Container: Go's field names, types and zero values. */
export function goContainerView(info: ContainerInfo | Record<string, unknown>): unknown {
  return convert("*Container", info);
}

const ZERO_TIME = "0001-01-01T00:00:00Z";
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function convert(type: string, json: unknown): unknown {
  switch (type) {
    case "string":
      return typeof json === "string" ? json : "";
    case "int":
      return typeof json === "number" ? Math.trunc(json) : 0;
    case "bool":
      return json === true;
    case "time":
      return new GoTime(typeof json === "string" ? json : ZERO_TIME);
    case "struct{}":
      return typed({}, { name: "struct {}", struct: true });
  }
  if (type.startsWith("[]")) {
    return typed(Array.isArray(json) ? json.map((e) => convert(type.slice(2), e)) : [], { name: goTypeName(type) });
  }
  const map = /^map\[([^\]]+)\](.+)$/.exec(type);
  if (map) {
    const [, key = "", elem = ""] = map;
    const entries = Object.entries(isObject(json) ? json : {}).map(([k, v]) => [k, convert(elem, v)]);
    const keyType = key === "string" ? undefined : key;
    return typed(Object.fromEntries(entries), { name: goTypeName(type), key: keyType, zero: convert(elem, undefined) });
  }
  const name = type.replace(/^[~*]/, "");
  if (!isObject(json) && type[0] !== "~" && type[0] !== "*") return struct(name, {}, false);
  if (!isObject(json)) {
    const fields = type[0] === "*" ? new Set(SCHEMA.get(name)!.map((f) => f.goName)) : undefined;
    return new GoNil(`*docker.${name}`, fields);
  }
  return type[0] === "~" ? json : struct(name, json, type[0] === "*");
}

/** Go's JSON decoding matches a key exactly, else regardless of case; keys no field takes are dropped. */
function struct(name: string, json: Record<string, unknown>, pointer: boolean): object {
  const folded = new Map(Object.keys(json).map((k) => [k.toLowerCase(), k]));
  const fields = SCHEMA.get(name)!.map(({ goName, jsonName, type }) => {
    const key = Object.hasOwn(json, jsonName) ? jsonName : folded.get(jsonName.toLowerCase());
    return [goName, convert(type, key === undefined ? undefined : json[key])];
  });
  return typed(Object.fromEntries(fields), { name: `${pointer ? "*" : ""}docker.${name}`, struct: true });
}

function goTypeName(type: string): string {
  if (type.startsWith("[]")) return `[]${goTypeName(type.slice(2))}`;
  const map = /^map\[([^\]]+)\](.+)$/.exec(type);
  if (map) return `map[${map[1]}]${goTypeName(map[2]!)}`;
  if (type === "time") return "time.Time";
  if (type === "struct{}") return "struct {}";
  return SCHEMA.has(type.replace(/^\*/, "")) ? type.replace(/^(\*?)/, "$1docker.") : type;
}

/** What {{range}} visits: a slice's elements by index, a map's by key in sorted order; undefined where it cannot. */
export function rangeEntries(value: unknown): Array<[unknown, unknown]> | undefined {
  switch (kindOf(value)) {
    case "slice":
    case "bytes":
      return Array.from(value as ArrayLike<unknown>, (e, i) => [i, e]);
    case "map": {
      const m = value as Record<string, unknown>;
      return sortedKeys(m).map((k) => [k, m[k]]);
    }
    case "invalid":
      return [];
  }
  return undefined;
}
