/**
 * What to change when a port becomes no service: the builder's and the backend's reasons, each mapped
 * to the flag to pass or the env/label to set. Pure. The reasons are matched by their wording, which
 * src/service/build.ts, src/service/swarm.ts and the adapters' validate() own: a reason no rule knows
 * gets no fix rather than a wrong one.
 */

export interface FixContext {
  /** `80/tcp`, when the reason is about one port. */
  port?: string;
  internal: boolean;
}

type Rule = [RegExp, (match: RegExpExecArray, context: FixContext) => string];

/** `SERVICE_NAME (or SERVICE_80_NAME)` for port 80/tcp; without a port, `SERVICE_NAME`. */
function portKey(context: FixContext, key: string): string {
  const port = context.port?.split("/")[0];
  return port ? `SERVICE_${key} (or SERVICE_${port}_${key})` : `SERVICE_${key}`;
}

const RULES: readonly Rule[] = [
  [
    /^no published ports$/,
    () => "publish a port (docker run -p HOST:CONTAINER, or -P), or pass -internal to register the container's own address",
  ],
  [
    /^(\d+ ports|port) not published on host$/,
    (_m, c) => `publish it (docker run -p ${c.port?.split("/")[0] ?? "PORT"}), or pass -internal`,
  ],
  [
    /^SERVICE_IGNORE is set$/,
    (_m, c) => `unset SERVICE_IGNORE${c.port ? ` and SERVICE_${c.port.split("/")[0]}_IGNORE` : ""} (env or label)`,
  ],
  [/^no SERVICE_NAME and -explicit is set$/, (_m, c) => `set ${portKey(c, "NAME")}, as env or label, or drop -explicit`],
  [
    /^not healthy \(health: /,
    () =>
      "it is registered once its HEALTHCHECK passes; to register it regardless, set SERVICE_REQUIRE_HEALTHY=false or drop --require-healthy",
  ],
  [
    /^label (\S+) value .* is not an IP address$/,
    (m) => `set label ${m[1]} to an IP address (a /prefix is cut off), or drop -useIpFromLabel`,
  ],
  [/more than --max-services (\d+)$/, () => "raise --max-services, or set SERVICE_<port>_IGNORE on the ports that need no service"],
  [/^service id (.+) is used by another port of this container$/, (_m, c) => `give each port its own id: set ${portKey(c, "ID")}`],
  [
    /^service id (.+) is (?:already registered for|claimed by) container (\S+)$/,
    (_m, c) => `two containers want one id: set ${portKey(c, "ID")} on one of them, or stop container ${_m[2]}`,
  ],
  [
    /^not attached to network (\S+) \(attached: /,
    (m) => `attach the container to network ${m[1]} (docker network connect), or change SERVICE_NETWORK`,
  ],
  [
    /^no IP address on a network other containers reach/,
    () => "attach the swarm service to an overlay network (docker service update --network-add)",
  ],
  [
    /^no IP address for the service$/,
    (_m, c) => (c.internal ? "attach the container to a network, or drop -internal" : "pass -ip with the host's address"),
  ],
  [
    /^(empty service name|service name .* (contains|is a path step|longer than))/,
    (_m, c) => `set ${portKey(c, "NAME")} to a plain name (letters, digits, "-")`,
  ],
  [
    /^(empty service id|service id .* (contains|is a path step)|service id longer than)/,
    (_m, c) => `set ${portKey(c, "ID")} to a plain id`,
  ],
  [
    /^service name .* is not a valid DNS label/,
    (_m, c) => `set ${portKey(c, "NAME")} to a DNS label: letters, digits, "-" and "_", at most 63 bytes`,
  ],
  [/set SERVICE_ID/, (_m, c) => `set ${portKey(c, "ID")} as the reason says`],
  [/^service name \.registrator is where/, (_m, c) => `set ${portKey(c, "NAME")} to another name`],
  [/^metadata key ignored: (\S+?):/, (m) => `fix or remove ${m[1]}`],
  [/^metadata (\S+) dropped: /, (m) => `rename or remove SERVICE_${m[1]!.toUpperCase()}; the service registers without it`],
  [/^-tags: /, () => "fix the -tags template (registrator --help)"],
  [/^SERVICE_TAGS: /, () => "fix the template in SERVICE_TAGS"],
  [/^SERVICE_TAGS holds a template/, () => "fix the template in SERVICE_TAGS"],
  [/bytes of tags and attributes, more than/, () => "shorten SERVICE_TAGS and the SERVICE_* attributes"],
  [/^swarm task of node .*, but this engine is in no swarm$/, () => "run explain against the engine of the node that runs the task"],
  [/^swarm task of node .*, not of this node/, () => "nothing: the registrator of that node registers it"],
];

/** What to change so the reason goes away, or undefined when none is known. */
export function fixFor(reason: string, context: FixContext): string | undefined {
  for (const [pattern, fix] of RULES) {
    const match = pattern.exec(reason);
    if (match) return fix(match, context);
  }
  return undefined;
}

/** A backend leaving an attribute out: the service is registered all the same. */
export function keepsService(reason: string): boolean {
  return /^metadata \S+ dropped: /.test(reason);
}
