/**
 * Comparing what two registrators asked Consul to register: the bodies of the accepted
 * `PUT /v1/agent/service/register` requests, field by field, with the differences the allow-list
 * documents taken out.
 */
import { isDeepStrictEqual } from "node:util";
import type { RecordedRequest } from "../../support/recording-proxy.js";
import type { ContainerSpec } from "./generate.js";

/** A registration body as sent (Go's client omits empty fields; ours sends some of them). */
export type Registration = Record<string, unknown>;

export type Side = "ours" | "go";

/** One field of one service that the two registrators registered differently. */
export interface Difference {
  mode: string;
  service: string;
  /** The container the service came from, when the service id tells. */
  container?: ContainerSpec;
  /** `registered`, `Name`, `Address`, `Port`, `Tags`, `EnableTagOverride`, `Meta.<key>` or `Check.<field>`. */
  field: string;
  ours: unknown;
  go: unknown;
}

export interface Context {
  mode: string;
  container?: ContainerSpec;
  ours?: Registration;
  go?: Registration;
}

export interface AllowedDifference {
  id: string;
  /** The README sentence that documents it, word for word. */
  readme: string;
  field: RegExp;
  /**
   * Brings a value to the form it would have without the documented difference; both sides go
   * through it, so it must leave a value the difference does not concern as it is.
   */
  normalise?(value: unknown, side: Side, ctx: Context): unknown;
  /** Takes the difference as a whole, for what no normal form can express (a service only one side has). */
  accepts?(d: Difference, ctx: Context): boolean;
}

export interface Verdict {
  difference: Difference;
  /** Ids of the entries that explain it; empty when nothing does. */
  allowedBy: string[];
}

const REGISTER = "/v1/agent/service/register";

export function isRegistration(method: string, url: string): boolean {
  return method === "PUT" && url.split("?")[0] === REGISTER;
}

/** The last accepted body per service id: what the agent holds. */
export function acceptedRegistrations(recorded: readonly RecordedRequest[]): Map<string, Registration> {
  const byId = new Map<string, Registration>();
  for (const request of recorded) {
    if (!isRegistration(request.method, request.url) || request.status !== 200) continue;
    const body = JSON.parse(request.body) as Registration;
    byId.set(String(body.ID), body);
  }
  return byId;
}

/**
 * The comparable fields of a registration. Empty values count as absent: Go's Consul client omits
 * them (`omitempty`) and the agent reads an absent field and an empty one alike.
 */
export function fieldsOf(body: Registration | undefined): Map<string, unknown> {
  const fields = new Map<string, unknown>();
  if (!body) return fields;
  const put = (name: string, value: unknown) => {
    if (!isEmpty(value)) fields.set(name, value);
  };
  for (const name of ["Name", "Address", "Port", "Tags", "EnableTagOverride"]) put(name, body[name]);
  for (const [key, value] of Object.entries(asObject(body.Meta))) fields.set(`Meta.${key}`, value);
  for (const [key, value] of Object.entries(asObject(body.Check))) put(`Check.${key}`, value);
  return fields;
}

function isEmpty(value: unknown): boolean {
  return (
    value === undefined || value === null || value === "" || value === 0 || value === false || (Array.isArray(value) && value.length === 0)
  );
}

function asObject(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
}

export function differences(mode: string, service: string, ours: Registration | undefined, go: Registration | undefined): Difference[] {
  if (!ours || !go) return [{ mode, service, field: "registered", ours: Boolean(ours), go: Boolean(go) }];
  const a = fieldsOf(ours);
  const b = fieldsOf(go);
  const names = [...new Set([...a.keys(), ...b.keys()])].sort();
  return names
    .filter((field) => !isDeepStrictEqual(a.get(field), b.get(field)))
    .map((field) => ({ mode, service, field, ours: a.get(field), go: b.get(field) }));
}

/** Which entries explain the difference: those whose normal forms make both sides equal, or that accept it. */
export function judge(d: Difference, ctx: Context, allowList: readonly AllowedDifference[]): Verdict {
  let ours = d.ours;
  let go = d.go;
  const allowedBy: string[] = [];
  for (const entry of allowList) {
    if (!entry.normalise || !entry.field.test(d.field)) continue;
    const o = entry.normalise(ours, "ours", ctx);
    const g = entry.normalise(go, "go", ctx);
    if (isDeepStrictEqual(o, ours) && isDeepStrictEqual(g, go)) continue;
    allowedBy.push(entry.id);
    ours = o;
    go = g;
    if (isDeepStrictEqual(ours, go)) return { difference: d, allowedBy };
  }
  const rest = { ...d, ours, go };
  const acceptor = allowList.find((entry) => entry.accepts && entry.field.test(d.field) && entry.accepts(rest, ctx));
  return { difference: d, allowedBy: acceptor ? [...allowedBy, acceptor.id] : [] };
}

/** The differences nothing explains, by service: mode, service, container, then field, ours and Go's. */
export function report(unexplained: readonly Verdict[], seed: number, describe: (spec: ContainerSpec) => string): string {
  const lines = [`${unexplained.length} difference(s) not on the allow-list (DIFFTEST_SEED=${seed} replays this run):`];
  let last = "";
  for (const { difference: d } of unexplained) {
    const heading = `mode ${d.mode}, service ${d.service}`;
    if (heading !== last) {
      const container = d.container ? `${d.container.name}: ${describe(d.container)}` : "(not known from the service id)";
      lines.push("", `  ${heading}`, `    container ${container}`);
      last = heading;
    }
    lines.push(`    ${d.field}: ours ${show(d.ours)}, Go ${show(d.go)}`);
  }
  return lines.join("\n");
}

function show(value: unknown): string {
  return value === undefined ? "(absent)" : JSON.stringify(value);
}
