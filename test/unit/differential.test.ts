/**
 * The differential test's own logic (test/integration/differential), which needs no servers: the
 * allow-list against README, the comparison of registration bodies, and the seeded generator.
 */
import { join } from "node:path";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { ALLOW_LIST } from "../integration/differential/allow-list.js";
import { differences, fieldsOf, judge, report, type Context, type Registration } from "../integration/differential/compare.js";
import { describe as describeSpec, generateContainers, sentinelSpec } from "../integration/differential/generate.js";
import { Prng } from "../integration/differential/prng.js";

const README = readFileSync(join(__dirname, "../../../README.md"), "utf8");

/** README's "Differences from v7" section, up to the next heading, with runs of white space made single spaces. */
function differencesFromV7(): string {
  const start = README.indexOf("\n## Differences from v7");
  const end = README.indexOf("\n## ", start + 1);
  assert.ok(start >= 0 && end > start, 'README has no "## Differences from v7" section followed by another');
  return flat(README.slice(start, end));
}

const flat = (text: string) => text.replace(/\s+/g, " ").trim();

function verdictsFor(ours: Registration | undefined, go: Registration | undefined, ctx: Partial<Context> = {}) {
  return differences("default", "host:dt-c001:80", ours, go).map((d) => judge(d, { mode: "default", ours, go, ...ctx }, ALLOW_LIST));
}

const body = (fields: Registration): Registration => ({ ID: "host:dt-c001:80", Name: "web", Address: "127.0.0.1", Port: 32768, ...fields });

describe("the allow-list", () => {
  test("README's differences from v7 quote every entry word for word", () => {
    const section = differencesFromV7();
    for (const entry of ALLOW_LIST)
      assert.ok(section.includes(flat(entry.readme)), `${entry.id}: README's "Differences from v7" does not say: ${entry.readme}`);
  });

  test("entries have distinct ids", () => {
    assert.equal(new Set(ALLOW_LIST.map((e) => e.id)).size, ALLOW_LIST.length);
  });
});

describe("comparing registrations", () => {
  test("an absent field and an empty one are alike, as Go's client leaves empty ones out", () => {
    assert.deepEqual(fieldsOf(body({ Tags: [], Meta: {}, EnableTagOverride: false })), fieldsOf(body({ Check: null, Checks: null })));
    assert.deepEqual(verdictsFor(body({ Tags: [] }), body({})), []);
  });

  test("a Meta value that is empty is still a value", () => {
    assert.equal(fieldsOf(body({ Meta: { region: "" } })).get("Meta.region"), "");
  });

  test("tags v7.4 reversed and left untrimmed are documented", () => {
    const [verdict] = verdictsFor(body({ Tags: ["a", "b", "udp"] }), body({ Tags: [" b", "a", "udp"] }));
    assert.deepEqual(verdict?.allowedBy, ["tag-trim", "tag-order"]);
  });

  test("a tag only one side has is not", () => {
    const [verdict] = verdictsFor(body({ Tags: ["a", "b"] }), body({ Tags: ["a"] }));
    assert.deepEqual(verdict?.allowedBy, []);
  });

  test("check settings in v7's Meta are documented; another attribute missing is not", () => {
    const verdicts = verdictsFor(body({ Meta: {} }), body({ Meta: { check_http: "/health", region: "us2" } }));
    assert.deepEqual(
      verdicts.map((v) => [v.difference.field, v.allowedBy]),
      [
        ["Meta.check_http", ["check-settings-not-in-meta"]],
        ["Meta.region", []],
      ],
    );
  });

  test("a script run through /bin/sh -c is documented; another script is not", () => {
    const goCheck = { Check: { ScriptArgs: ["echo ok"], Interval: "10s" } };
    const [same] = verdictsFor(body({ Check: { ScriptArgs: ["/bin/sh", "-c", "echo ok"], Interval: "10s" } }), body(goCheck));
    assert.deepEqual(same?.allowedBy, ["script-check-shell"]);
    const [other] = verdictsFor(body({ Check: { ScriptArgs: ["/bin/sh", "-c", "echo no"], Interval: "10s" } }), body(goCheck));
    assert.deepEqual(other?.allowedBy, []);
  });

  test("a service only one side registered is a difference of its own", () => {
    const [verdict] = verdictsFor(undefined, body({}));
    assert.deepEqual(verdict?.difference, { mode: "default", service: "host:dt-c001:80", field: "registered", ours: false, go: true });
    assert.deepEqual(verdict?.allowedBy, []);
  });

  test("the report names the seed, the service, its container and both values", () => {
    const container = sentinelSpec("dt");
    const [verdict] = verdictsFor(body({ Name: "db" }), body({}));
    const text = report([{ ...verdict!, difference: { ...verdict!.difference, container } }], 42, describeSpec);
    assert.match(text, /DIFFTEST_SEED=42/);
    assert.match(
      text,
      /mode default, service host:dt-c001:80\n {4}container dt-c000: net=bridge image=web ephemeral 7\/tcp -e SERVICE_NAME="sentinel"\n {4}Name: ours "db", Go "web"/,
    );
  });
});

describe("the generator", () => {
  test("a seed gives the same containers", () => {
    assert.deepEqual(generateContainers(new Prng(7), "dt", 30), generateContainers(new Prng(7), "dt", 30));
    assert.notDeepEqual(generateContainers(new Prng(7), "dt", 30), generateContainers(new Prng(8), "dt", 30));
  });

  test("a container shares the network only of an earlier one on a bridge", () => {
    const specs = generateContainers(new Prng(1), "dt", 200);
    for (const spec of specs) {
      const network = spec.network;
      if (network.kind !== "container") continue;
      const target = specs.find((s) => s.index === network.of);
      assert.ok(target && target.index < spec.index && ["bridge", "user"].includes(target.network.kind), spec.name);
      assert.deepEqual(spec.ports, [], "Docker refuses -p and --expose with --net container:");
    }
  });
});
