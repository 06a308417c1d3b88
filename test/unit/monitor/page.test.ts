import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { escape, renderStatusPage } from "../../../src/monitor/page.js";
import { EVERY_STATE } from "./fixtures.js";

const NOW = new Date("2026-12-07T18:40:22Z");

describe("the status page", () => {
  const page = renderStatusPage(EVERY_STATE, NOW);

  test("reloads by itself, with no script and no external asset", () => {
    assert.match(page, /^<!doctype html>/);
    assert.match(page, /<meta http-equiv="refresh" content="5">/);
    assert.doesNotMatch(page, /<script|<link|<img|src=|url\(|@import/i);
  });

  test("shows the registry's health, the last sync and the counts", () => {
    assert.match(page, /<h1>registrator on node-1<\/h1>/);
    assert.match(page, /consul <span class="state down">down<\/span>/);
    assert.match(page, /<time datetime="2026-12-07T18:40:19.369Z">18:40:19 UTC<\/time> <span class="muted">\(3 s ago\)<\/span>/);
    for (const label of ["containers", "registered", "pending", "refused", "owned elsewhere", "ignored"]) {
      assert.match(page, new RegExp(`<span class="muted">${label}</span><b>\\d+</b>`));
    }
  });

  test("each service's state, with its reason, next attempt or owner; ignored ports; secrets redacted", () => {
    assert.match(page, /<span class="state registered">registered<\/span>/);
    assert.match(
      page,
      /pending retry<\/span><\/td><td>cannot connect to http:\/\/admin:\*\*\*@10\.0\.0\.1:8500: ECONNREFUSED; next attempt 2026-12-07T18:40:27\.000Z/,
    );
    assert.match(page, /owned elsewhere<\/span><\/td><td>held by host node-2; api is owned by node-2/);
    assert.match(page, /<code>\[fd00::5\]:8080<\/code>/);
    assert.match(page, /<td>port 9000\/tcp<\/td>.*ignored<\/span><\/td><td>port not published on host/);
    assert.doesNotMatch(page, /hunter2|s3cr3t/);
  });

  test("what containers set is escaped", () => {
    const hostile = structuredClone(EVERY_STATE);
    hostile.containers[0]!.name = `<img src=x onerror="alert(1)">`;
    hostile.containers[0]!.services[0]!.tags = ["</td><script>"];
    const html = renderStatusPage(hostile, NOW);
    assert.doesNotMatch(html, /<img|<script/);
    assert.match(html, /&#60;img src=x onerror=&#34;alert\(1\)&#34;&#62;/);
    assert.equal(escape(`&<>"'`), "&#38;&#60;&#62;&#34;&#39;");
  });

  test("before the first sync, and with no container", () => {
    const html = renderStatusPage({ ...EVERY_STATE, lastSync: undefined, containers: [] }, NOW);
    assert.match(html, /last sync<\/span><b>not yet<\/b>/);
    assert.match(html, /No running container\./);
  });
});
