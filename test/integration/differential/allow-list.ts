/**
 * Every way ours may register a service differently from the Go registrator v7.4.0, each with the
 * sentence of README's "Differences from v7" that tells users so. An entry says as narrowly as it
 * can which difference it explains: a difference that no entry explains fails the test.
 */
import { isIP } from "node:net";
import type { AllowedDifference, Context, Difference, Registration } from "./compare.js";
import { COMPOSE_SERVICE_LABEL, IP_LABEL, TAG_TEMPLATE, TAG_TEMPLATE_RENDERED, type ContainerSpec } from "./generate.js";

export const ALLOW_LIST: readonly AllowedDifference[] = [
  {
    id: "owner-meta",
    readme: "a Consul service carries the Meta `registrator_host` and `registrator_container`, which v7 does not write.",
    field: /^Meta\.registrator_(host|container)$/,
    accepts: (d) => typeof d.ours === "string" && d.go === undefined,
  },
  {
    id: "tag-trim",
    readme: "Tags are trimmed of surrounding spaces.",
    field: /^Tags$/,
    normalise: (tags, side) => (side === "go" && Array.isArray(tags) ? tags.map((tag) => String(tag).trim()).filter(Boolean) : tags),
  },
  {
    id: "tag-order",
    readme: "v7.4 sends the tags of each of the two lists in reverse order (`SERVICE_TAGS=a,b` as `b,a`).",
    field: /^Tags$/,
    normalise: (tags) => (Array.isArray(tags) ? [...tags].sort() : tags),
  },
  {
    id: "tag-template",
    readme: "`SERVICE_TAGS` may be a Go template, as in fayrus v9; v7.4 registers its text as it is.",
    field: /^Tags$/,
    // The generated template's own rendering stands in for what ours made of it.
    normalise: (tags, side) =>
      side === "go" && Array.isArray(tags) ? tags.map((tag) => (tag === TAG_TEMPLATE ? TAG_TEMPLATE_RENDERED : tag)) : tags,
  },
  {
    id: "check-settings-not-in-meta",
    readme: "`CHECK_*` settings are not copied into Meta (v7 sends `check_http`, `check_interval` and the others as Meta too).",
    field: /^Meta\.check_/,
    accepts: (d) => d.ours === undefined,
  },
  {
    id: "empty-value-unset",
    readme: "An empty value counts as unset: `SERVICE_REGION=` adds no attribute, where v7 sends the Meta `region` with an empty value.",
    field: /^Meta\./,
    accepts: (d) => d.ours === undefined && d.go === "",
  },
  {
    id: "enable-tag-override",
    readme: "`SERVICE_ENABLE_TAG_OVERRIDE=true` sets the service's `EnableTagOverride`, where v7.4 sends the Meta `enable_tag_override`.",
    field: /^(EnableTagOverride|Meta\.enable_tag_override)$/,
    accepts: (d) => (d.field === "EnableTagOverride" ? d.ours === true && d.go === undefined : d.ours === undefined && d.go !== undefined),
  },
  {
    id: "meta-key-consul-refuses",
    readme:
      "An attribute whose key Consul's Meta cannot hold (`SERVICE_FOO.BAR=1`) is left out and logged, and the service registers; v7 sends it, and Consul refuses the whole service.",
    field: /^registered$/,
    accepts: (d, ctx) => d.ours === true && d.go === false && metadataKeys(ctx.container).some((key) => goMetaKeyConsulRefuses(key)),
  },
  {
    id: "script-check-shell",
    readme:
      "the script and docker checks run through a shell (`/bin/sh -c`); v7.4 sends the whole script as the name of the program to run, which fails unless the script is one word.",
    field: /^Check\.ScriptArgs$/,
    normalise: (args, side, ctx) => (side === "ours" && isShellCommand(args) && !isDockerCheck(ctx.ours) ? [args[2]] : args),
  },
  {
    id: "ipv6-check-target",
    readme:
      "An IPv6 service address is bracketed in check targets (`[fd00::5]:80`, `http://[fd00::5]:80/health`); v7 writes `fd00::5:80`, which is no address.",
    field: /^Check\.(HTTP|TCP)$/,
    normalise: (value, side, ctx) => {
      const ip = ctx.ours?.Address;
      return side === "ours" && typeof value === "string" && typeof ip === "string" && isIP(ip) === 6
        ? value.replace(`[${ip}]`, ip)
        : value;
    },
  },
  {
    id: "check-value-refused",
    readme:
      "An http or https check path that does not start with `/` (`SERVICE_CHECK_HTTP=health`), or a check duration that is not one (`SERVICE_CHECK_INTERVAL=abc`), gets the service logged as `ignored`, even where the check does not use it; v7 sends the value as it is, and the service gets a check that cannot pass, or goes without that setting, or is refused by Consul.",
    field: /^registered$/,
    accepts: (d, ctx) => d.ours === false && d.go === true && refusedCheckValue(ctx.container),
  },
  {
    id: "docker-check",
    readme:
      "`SERVICE_CHECK_DOCKER` registers a Consul Docker check; v7.4 has none and registers the service with the next kind of check it finds, or without one.",
    field: /^Check\./,
    accepts: (_d, ctx) => isDockerCheck(ctx.ours),
  },
  {
    id: "check-settings-v7-lacks",
    readme: "`CHECK_HEADER`, `CHECK_NOTES` and `CHECK_TLS_SKIP_VERIFY` are passed to Consul; v7.4 leaves them out.",
    field: /^Check\.(Header|Notes|TLSSkipVerify)$/,
    accepts: (d) => d.go === undefined,
  },
  {
    id: "fayrus-port-keys",
    readme:
      '`SERVICE_<port>_<proto>_<key>` and `SERVICE_<lo>-<hi>_<key>` are read as fayrus v9 reads them (v7 takes `SERVICE_8080_tcp_NAME` for the attribute `tcp_name` of port 8080, and `SERVICE_10000-20000_IGNORE` for the attribute `10000-20000_ignore` of every port), ranked as the table under "How services are built" says rather than by the order of the keys.',
    field: /^(registered|Name|Meta\..*)$/,
    accepts: (d, ctx) => {
      if (d.field === "registered") {
        if (d.ours === false) return d.go === true && rangeIgnores(ctx.container, servicePort(d, ctx));
        // -explicit: a name v7 does not see.
        return ctx.mode === "-explicit" && protoKeyValues(ctx.container, "NAME").length > 0;
      }
      if (d.field === "Name") return protoKeyValues(ctx.container, "NAME").includes(String(d.ours));
      return d.ours === undefined && /^Meta\.(\d+-\d+|\d+_(tcp|udp|sctp)|tcp|udp|sctp)_/.test(d.field);
    },
  },
  {
    id: "image-by-id",
    readme:
      "An image referenced by its id (`sha256:<hex>` or 64 hex digits): v7 names the service `sha256` (or the hex id); here it is the `com.docker.compose.service` label, else the container's name.",
    field: /^Name$/,
    accepts: (d, ctx) => {
      const c = ctx.container;
      if (!c || c.image !== "by-id" || typeof d.go !== "string" || typeof d.ours !== "string") return false;
      const named = /^sha256(-\d+)?$/.exec(d.go);
      const base = c.labels.find(([key]) => key === COMPOSE_SERVICE_LABEL)?.[1] ?? c.name;
      return named !== null && d.ours === `${base}${named[1] ?? ""}`;
    },
  },
  {
    id: "internal-host-network",
    readme:
      "`-internal` with a host-network container (`--net=host --expose 6379`): v7 registers it with an empty IP; here it gets `-ip`, else the address the hostname resolves to.",
    field: /^(Address|Check\.(HTTP|TCP|ScriptArgs))$/,
    normalise: (value, side, ctx) =>
      side === "ours" && ctx.mode === "-internal" && ctx.container?.network.kind === "host"
        ? withAddressOf(ctx.go, ctx.ours, value)
        : value,
  },
  {
    id: "container-network-on-user-network",
    readme:
      "`--net container:<id>` where that container is on a user-defined network: v7 registers an empty address, since it reads only the default bridge's; here it is that container's address on its network.",
    field: /^(Address|Check\.(HTTP|TCP|ScriptArgs))$/,
    normalise: (value, side, ctx) => (side === "ours" && sharesUserNetwork(ctx) ? withAddressOf(ctx.go, ctx.ours, value) : value),
  },
  {
    id: "internal-no-network",
    readme:
      "`-internal` with a `--net=none` container: v7 registers it with an empty address; here it is logged as ignored, since it has no address.",
    field: /^registered$/,
    accepts: (d, ctx) => d.ours === false && ctx.mode === "-internal" && ctx.container?.network.kind === "none",
  },
  {
    id: "ip-label-not-an-ip",
    readme:
      'v7 registers whatever it is (`evil.example.com`, `a/b/c`); here the container\'s services are logged as `ignored: label <label> value "<value>" is not an IP address`.',
    field: /^registered$/,
    accepts: (d, ctx) => d.ours === false && ctx.mode === "-useIpFromLabel" && labelIsNoIp(ctx.container),
  },
];

function metadataKeys(c: ContainerSpec | undefined): string[] {
  return c ? [...c.env, ...c.labels].map(([key]) => key).filter((key) => key.startsWith("SERVICE_")) : [];
}

/**
 * Whether v7 would send this key as a Meta key Consul refuses. A key whose first part Go's Atoi takes
 * for a number (`SERVICE_+80_NAME`) is a port key to v7, never Meta.
 */
function goMetaKeyConsulRefuses(key: string): boolean {
  const attr = key.slice("SERVICE_".length).toLowerCase();
  const underscore = attr.indexOf("_");
  if (underscore > 0 && /^[+-]?\d+$/.test(attr.slice(0, underscore))) return false;
  return !/^[a-z0-9_-]+$/.test(attr);
}

/** A check path or duration our Consul adapter refuses (for any port: the test does not tell them apart). */
function refusedCheckValue(c: ContainerSpec | undefined): boolean {
  return [...(c?.env ?? []), ...(c?.labels ?? [])].some(([key, value]) => {
    const setting = /^SERVICE_(?:\d+_)?CHECK_(HTTPS?|INTERVAL|TIMEOUT)$/.exec(key)?.[1];
    if (setting === "HTTP" || setting === "HTTPS") return !value.startsWith("/");
    return setting !== undefined && !/^(\d+(\.\d*)?(ns|us|µs|ms|s|m|h))+$/.test(value);
  });
}

function isShellCommand(args: unknown): args is [string, string, string] {
  return Array.isArray(args) && args.length === 3 && args[0] === "/bin/sh" && args[1] === "-c";
}

function isDockerCheck(body: Registration | undefined): boolean {
  const check = body?.Check as Record<string, unknown> | undefined;
  return typeof check?.DockerContainerID === "string";
}

/** The exposed port of a service with a default id (`host:container:port[:udp]`). */
function servicePort(d: Difference, ctx: Context): number | undefined {
  const match = /:(\d+)(?::udp)?$/.exec(d.service);
  if (match) return Number(match[1]);
  // A custom id: the container's only port.
  const ports = ctx.container?.ports ?? [];
  return ports.length === 1 ? ports[0]!.port : undefined;
}

function rangeIgnores(c: ContainerSpec | undefined, port: number | undefined): boolean {
  return metadataKeys(c).some((key) => {
    const range = /^SERVICE_(\d+)-(\d+)_(?:(?:tcp|udp|sctp)_)?IGNORE$/.exec(key);
    return range !== null && (port === undefined || (Number(range[1]) <= port && port <= Number(range[2])));
  });
}

function protoKeyValues(c: ContainerSpec | undefined, key: string): string[] {
  const pattern = new RegExp(`^SERVICE_\\d+_(tcp|udp|sctp)_${key}$`);
  return c ? [...c.env, ...c.labels].filter(([k]) => pattern.test(k)).map(([, value]) => value) : [];
}

/** `--net container:<id>` of a container on the user network. */
function sharesUserNetwork(ctx: Context): boolean {
  return ctx.container?.network.kind === "container" && ctx.container.network.targetOnUserNetwork === true;
}

function labelIsNoIp(c: ContainerSpec | undefined): boolean {
  const value = c?.labels.find(([key]) => key === IP_LABEL)?.[1];
  if (value === undefined) return false;
  const slash = value.lastIndexOf("/");
  return isIP(slash >= 0 ? value.slice(0, slash) : value) === 0;
}

/** The value with our service address written as Go's, wherever it appears (check targets, script arguments). */
function withAddressOf(go: Registration | undefined, ours: Registration | undefined, value: unknown): unknown {
  const from = typeof ours?.Address === "string" ? ours.Address : "";
  const to = typeof go?.Address === "string" ? go.Address : "";
  if (!from) return value;
  const swap = (v: unknown): unknown => (typeof v === "string" ? v.replaceAll(from, to) : Array.isArray(v) ? v.map(swap) : v);
  // An address that became empty is absent, as Go's client leaves it out.
  const swapped = swap(value);
  return swapped === "" ? undefined : swapped;
}
