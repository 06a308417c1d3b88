import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { describeCheck } from "../../../src/explain/backend.js";
import { renderReport, wantsColour, wrap } from "../../../src/explain/render.js";
import type { ExplainReport } from "../../../src/explain/report.js";

const REPORT: ExplainReport = {
  hostId: "box",
  registry: { uri: "consul://127.0.0.1:8500", backend: "consul", readable: true },
  warnings: [
    "the hostname 0123456789ab is registrator's container id, not the host's: service ids would be 0123456789ab:<container>:<port>; pass --host-id",
  ],
  containers: [
    {
      id: "3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708",
      name: "shop",
      running: true,
      services: [
        {
          port: "80/tcp",
          id: "box:shop:80",
          name: "shop",
          ip: "10.0.0.5",
          hostPort: 8080,
          address: { source: "ip-flag", detail: "-ip" },
          tags: ["blue", "v2"],
          checks: ["http GET http://10.0.0.5:8080/health, every 10s"],
          notes: [],
          registry: {
            state: "different",
            fields: [{ field: "ip", want: "10.0.0.5", have: "172.17.0.3" }],
            fix: "the daemon writes it again at its next -resync pass",
          },
        },
      ],
      ignored: [{ port: "443/tcp", reason: "port not published on host", fix: "publish it (docker run -p 443), or pass -internal" }],
      unexpected: [],
    },
  ],
  notFound: [],
  orphans: [{ id: "box:old:80", name: "old", address: "10.0.0.5:8081", owner: "host box, container 9a8b7c6d5e4f", fix: "pass -cleanup" }],
  inStep: false,
};

describe("explain's text", () => {
  test("one block per container: services with address, tags, checks and registry state; ignored ports with fixes; orphans", () => {
    assert.equal(
      renderReport(REPORT, { colour: false }),
      [
        "registry consul://127.0.0.1:8500 (consul), host id box",
        "warning: the hostname 0123456789ab is registrator's container id, not the host's: service ids would",
        "  be 0123456789ab:<container>:<port>; pass --host-id",
        "",
        "container shop (3f2a1b4c5d6e)",
        "  port 80/tcp → service shop, id box:shop:80",
        "    address  10.0.0.5:8080, from -ip",
        "    tags     blue, v2",
        "    check    http GET http://10.0.0.5:8080/health, every 10s",
        "    registry different",
        "             ip: 172.17.0.3 in the registry, 10.0.0.5 wanted",
        "             fix: the daemon writes it again at its next -resync pass",
        "  port 443/tcp ignored: port not published on host",
        "    fix: publish it (docker run -p 443), or pass -internal",
        "",
        "entries of this host id for containers that no longer run",
        "  box:old:80 (old at 10.0.0.5:8081), held by host box, container 9a8b7c6d5e4f",
        "    fix: pass -cleanup",
        "",
        "not in step: 1 service, 1 entry without a running container",
        "",
      ].join("\n"),
    );
  });

  test("fits 100 columns, long ids included; colour only when asked", () => {
    const long = structuredClone(REPORT);
    long.containers[0]!.services[0]!.id = "x".repeat(150);
    const text = renderReport(long, { colour: false });
    for (const line of text.split("\n")) assert.ok(line.length <= 100, line);
    assert.doesNotMatch(text, /\u001b/);
    const coloured = renderReport(REPORT, { colour: true });
    assert.match(coloured, /\u001b\[31mdifferent\u001b\[0m/);
    for (const line of coloured.split("\n")) assert.ok(line.replace(/\u001b\[[0-9;]*m/g, "").length <= 100, line);
  });

  test("colour on a terminal unless NO_COLOR or TERM=dumb", () => {
    assert.equal(wantsColour(true, {}), true);
    assert.equal(wantsColour(false, {}), false);
    assert.equal(wantsColour(true, { NO_COLOR: "1" }), false);
    assert.equal(wantsColour(true, { TERM: "dumb" }), false);
  });

  test("wrap breaks at spaces with a hanging indent", () => {
    assert.deepEqual(wrap("aaa bbb ccc", "", 7, "  "), ["aaa bbb", "  ccc"]);
  });
});

describe("Consul checks, one line each", () => {
  test("http, tcp, ttl and script", () => {
    assert.equal(
      describeCheck({ HTTP: "http://10.0.0.5:80/health", Interval: "10s", Timeout: "2s" }),
      "http GET http://10.0.0.5:80/health, every 10s, timeout 2s",
    );
    assert.equal(describeCheck({ TCP: "10.0.0.5:80", Interval: "5s" }), "tcp 10.0.0.5:80, every 5s");
    assert.equal(describeCheck({ TTL: "30s", Status: "passing" }), "ttl 30s, starts passing");
    assert.equal(
      describeCheck({ ScriptArgs: ["check-cmd", "abc", "80", "true"], Interval: "10s" }),
      "script check-cmd abc 80 true, every 10s",
    );
  });
});
