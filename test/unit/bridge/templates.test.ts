import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { splitOptionTags, usesTemplates, withTemplates } from "../../../src/bridge/templates.js";
import { buildServices } from "../../../src/service/build.js";
import { container, options } from "../service/fixtures.js";

const web = () => container({ id: "c1", name: "web", publish: ["8080:80"], labels: { env: "prod", "com.example.team": "blue" } });

describe("tag templates", () => {
  test("the engine is needed only for -tags or a container value with {{", () => {
    assert.equal(usesTemplates(web(), {}), false);
    assert.equal(usesTemplates(web(), { tagsTemplate: "{{.ID}}" }), true);
    assert.equal(usesTemplates(container({ env: ["SERVICE_TAGS={{.Name}}"] }), {}), true);
  });

  test("-tags runs against the container as go-dockerclient names its fields, then is split on commas", async () => {
    const build = await withTemplates(
      web(),
      options({ tagsTemplate: '{{index .Config.Labels "env"}}, team-{{mIndex "com.example.team" .Config.Labels | toUpper}},static' }),
    );
    const [service] = buildServices(web(), build).services;
    assert.deepEqual(service?.tags, ["prod", "team-BLUE", "static"]);
  });

  test("SERVICE_TAGS may be a template too (fayrus v9), rendered with the container's own data", async () => {
    const own = container({ id: "c2", name: "api", publish: ["8080:80"], env: ["SERVICE_TAGS={{.Config.Hostname}},{{len .Config.Env}}"] });
    own.Config.Hostname = "c2host";
    const built = buildServices(own, await withTemplates(own, options()));
    assert.deepEqual(built.services[0]?.tags, ["c2host", "1"]);
  });

  test("a container's own template may not reach the network: httpGet is not defined there", async () => {
    const own = container({ id: "c3", name: "evil", publish: ["8080:80"], env: ['SERVICE_TAGS={{httpGet "http://169.254.169.254/"}}'] });
    const built = buildServices(own, await withTemplates(own, options()));
    assert.equal(built.services.length, 0);
    assert.match(built.skipped[0]!.reason, /^SERVICE_TAGS: template: tags:1: function "httpGet" not defined$/);
  });

  test("the operator's -tags may fetch with httpGet; a failed fetch gives an empty body, as in v7.4", async () => {
    const server = createServer((_req, res) => res.end("zone-a"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/zone`;
    try {
      const build = await withTemplates(
        web(),
        options({ tagsTemplate: `{{httpGet "${url}" | printf "%s"}},{{httpGet "http://127.0.0.1:1/x" | printf "[%s]"}}` }),
      );
      assert.deepEqual(build.tags, ["zone-a", "[]"]);
    } finally {
      server.close();
    }
  });

  test("httpGet reads no more than 64 KiB of a body, and fetches at most 32 URLs in one render", async () => {
    const requests: string[] = [];
    const server = createServer((req, res) => {
      requests.push(req.url ?? "");
      res.end(req.url === "/big" ? "a".repeat(1024 * 1024) : "ok");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const big = await withTemplates(web(), options({ tagsTemplate: `{{httpGet "${base}/big" | len}}` }));
      assert.deepEqual(big.tags, ["65536"]);
      const fetching = (n: number) =>
        options({ tagsTemplate: `{{range $i, $c := split "" (printf "%${n}s" "")}}{{$b := httpGet (printf "${base}/%d" $i)}}{{end}}x` });
      await assert.rejects(withTemplates(web(), fetching(33)), /httpGet of more than 32 URLs, the most a template may fetch$/);
      assert.equal(requests.length, 1, "nothing fetched for a render over the limit");
      assert.deepEqual((await withTemplates(web(), fetching(32))).tags, ["x"]);
      assert.equal(requests.length, 33);
    } finally {
      server.close();
    }
  });

  test("a template error in -tags rejects with Go's message", async () => {
    await assert.rejects(withTemplates(web(), options({ tagsTemplate: "{{nope .ID}}" })), /template: tags:1: function "nope" not defined/);
  });

  test("a container's template over the step budget ignores that container alone, with the reason", async () => {
    const doubling =
      '{{define "a"}}{{if lt (len .) 40}}{{template "a" (printf "%sx" .)}}{{template "a" (printf "%sx" .)}}{{end}}{{end}}{{template "a" ""}}';
    const hostile = container({ id: "c4", name: "hostile", publish: ["8081:80"], env: [`SERVICE_TAGS=${doubling}`] });
    const built = buildServices(hostile, await withTemplates(hostile, options()));
    assert.equal(built.services.length, 0);
    assert.match(
      built.skipped[0]!.reason,
      /^SERVICE_TAGS: template: tags:1:\d+: executing "a" at <.*>: stopped after 100000 steps, the most a template may take$/,
    );
    const innocent = web();
    assert.equal(buildServices(innocent, await withTemplates(innocent, options())).services.length, 1);
  });

  test("a width Go's fmt refuses becomes v7.4's literal tag, not a 200 MB string", async () => {
    const own = container({ id: "c5", name: "wide", publish: ["8080:80"], labels: { SERVICE_TAGS: '{{printf "%0200000000d" 1}}' } });
    const built = buildServices(own, await withTemplates(own, options()));
    assert.deepEqual(built.services[0]?.tags, ["%!(NOVERB)%!(EXTRA int=1)"]);
  });

  test("-tags over a limit rejects with the reason, for the caller to log as that container's", async () => {
    await assert.rejects(
      withTemplates(web(), options({ tagsTemplate: '{{range split "" (printf "%70000s" "")}}x{{end}}' })),
      /output over 65536 bytes, the most a template may print$/,
    );
  });

  test("plain -tags are split and trimmed as the Go registrator does", () => {
    assert.deepEqual(splitOptionTags(" a, b,,c "), ["a", "b", "c"]);
  });
});
