/** Metadata can never write outside its place or forge another service: each bad container is ignored with a reason. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ContainerInfo } from "../../../src/service/types.js";
import { MemoryRegistry, syncInto } from "../../support/memory-registry.js";
import { container, options } from "../service/fixtures.js";
import { logged } from "../../support/logged.js";

interface Case {
  what: string;
  env?: string[];
  labels?: Record<string, string>;
  image?: string;
  /** The log reason, matched. */
  reason: RegExp;
  /** A dropped key still leaves a service to register. */
  stillRegisters?: boolean;
}

const long = (n: number) => "x".repeat(n);
const CASES: Case[] = [
  { what: "name climbing out of the path", env: ["SERVICE_NAME=../../x"], reason: /service name "..\/..\/x" contains "\/"/ },
  { what: "name with a slash", env: ["SERVICE_NAME=a/b"], reason: /contains "\/"/ },
  { what: "absolute name", env: ["SERVICE_NAME=/etc"], reason: /contains "\/"/ },
  { what: "name ..", env: ["SERVICE_NAME=.."], reason: /is a path step/ },
  { what: "name .", env: ["SERVICE_NAME=."], reason: /is a path step/ },
  { what: "name with NUL", env: ["SERVICE_NAME=a\u0000b"], reason: /control character/ },
  { what: "name with newline", env: ["SERVICE_NAME=a\nb"], reason: /control character/ },
  { what: "name with carriage return", env: ["SERVICE_NAME=a\rb"], reason: /control character/ },
  { what: "name with tab", env: ["SERVICE_NAME=a\tb"], reason: /control character/ },
  { what: "name with an escape sequence", env: ["SERVICE_NAME=\u001b[31mred"], reason: /control character/ },
  { what: "name with DEL", env: ["SERVICE_NAME=a\u007fb"], reason: /control character/ },
  { what: "name with a C1 control", env: ["SERVICE_NAME=a\u0085b"], reason: /control character/ },
  { what: "name over 1 KB", env: [`SERVICE_NAME=${long(1025)}`], reason: /longer than 255/ },
  { what: "name of 256 characters", env: [`SERVICE_NAME=${long(256)}`], reason: /longer than 255/ },
  { what: "id climbing out of the path", env: ["SERVICE_ID=../../etc/passwd"], reason: /service id .* contains "\/"/ },
  { what: "id with a slash", env: ["SERVICE_ID=a/b"], reason: /service id .* contains "\/"/ },
  { what: "id ..", env: ["SERVICE_ID=.."], reason: /is a path step/ },
  { what: "id with NUL", env: ["SERVICE_ID=\u0000"], reason: /control character/ },
  { what: "id with newline", env: ["SERVICE_ID=line\nbreak"], reason: /control character/ },
  { what: "id over 1 KB", env: [`SERVICE_ID=${long(2000)}`], reason: /longer than 255/ },
  { what: "port-specific name with a slash", env: ["SERVICE_80_NAME=../x"], reason: /contains "\/"/ },
  { what: "port-specific id with a slash", env: ["SERVICE_80_ID=a/b"], reason: /contains "\/"/ },
  { what: "label name with a slash", labels: { SERVICE_NAME: "../x" }, reason: /contains "\/"/ },
  { what: "label id with a newline", labels: { SERVICE_ID: "a\nb" }, reason: /control character/ },
  { what: "label beating a good env name", env: ["SERVICE_NAME=fine"], labels: { SERVICE_NAME: "a/b" }, reason: /contains "\/"/ },
  {
    what: "id forging the good container's",
    env: ["SERVICE_ID=hostname:good:80"],
    reason: /service id hostname:good:80 is (already registered for|claimed by) container good/,
  },
  {
    what: "id forging another's by label",
    labels: { SERVICE_ID: "hostname:good:80" },
    reason: /service id hostname:good:80 is (already registered for|claimed by) container good/,
  },
  { what: "an image whose base name is empty", image: "registry.example.com/", reason: /empty service name/ },
  { what: "a network it is not on", env: ["SERVICE_NETWORK=nope"], reason: /not attached to network nope \(attached: bridge\)/ },
  { what: "SERVICE_IGNORE", env: ["SERVICE_IGNORE=true"], reason: /SERVICE_IGNORE is set/ },
  {
    what: "a port key that is no port",
    env: ["SERVICE_99999_NAME=x"],
    reason: /SERVICE_99999_NAME: 99999 is not a port number/,
    stillRegisters: true,
  },
  { what: "port zero", env: ["SERVICE_0_NAME=x"], reason: /SERVICE_0_NAME: 0 is not a port number/, stillRegisters: true },
];

test(`${CASES.length} kinds of bad metadata are each ignored with a reason, and the good container registers`, async () => {
  assert.ok(CASES.length >= 30);
  const containers = new Map<string, ContainerInfo>();
  containers.set("good", container({ id: "good", name: "good", publish: ["8080:80"] }));
  CASES.forEach((c, i) => {
    const id = `bad${i}`;
    containers.set(id, container({ id, name: `bad${i}`, image: c.image, publish: [`${9000 + i}:80`], env: c.env, labels: c.labels }));
  });
  const registry = new MemoryRegistry();
  const { lines, log } = logged();
  await syncInto(registry, [...containers.values()], options(), log);

  assert.ok(registry.stored.has("hostname:good:80"), "the good container registers");
  CASES.forEach((c, i) => {
    const ignored = lines.filter((l) => l.container === `bad${i}` && l.msg.startsWith("ignored: "));
    assert.ok(
      ignored.some((l) => c.reason.test(l.msg)),
      `${c.what}: logged ${JSON.stringify(ignored.map((l) => l.msg))}`,
    );
    const registered = [...registry.stored.values()].filter((s) => s.origin.containerId === `bad${i}`);
    assert.equal(registered.length, c.stillRegisters ? 1 : 0, c.what);
  });
  for (const s of registry.stored.values()) {
    assert.ok(!s.name.includes("/") && !s.id.includes("/"), `nothing with a slash was written: ${s.id}`);
  }
});
