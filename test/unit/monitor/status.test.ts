import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { pageReply, statusReply } from "../../../src/monitor/metrics.js";
import { redactSnapshot, redactText } from "../../../src/monitor/status.js";
import { schemaProblems, STATUS_SCHEMA } from "../../support/json-schema.js";
import { EVERY_STATE } from "./fixtures.js";

describe("/status: its schema", () => {
  test("a snapshot with every state fits; so does one with no container and no sync yet", () => {
    assert.deepEqual(schemaProblems(EVERY_STATE), []);
    const empty = { ...EVERY_STATE, containers: [], lastSync: undefined };
    assert.deepEqual(schemaProblems(JSON.parse(JSON.stringify(empty))), []);
  });

  test("each kind of break is named by its path", () => {
    const broken = structuredClone(EVERY_STATE) as unknown as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- a document broken on purpose
    broken.registry.up = "yes";
    broken.counts.pending = -1;
    broken.lastSync = "yesterday";
    broken.containers[0].services[0].state = "gone";
    delete broken.containers[1].name;
    broken.extra = 1;
    assert.deepEqual(schemaProblems(broken), [
      "$.registry.up: expected boolean",
      "$.lastSync: not a date-time",
      "$.counts.pending: less than 0",
      '$.containers[0].services[0].state: "gone" is not one of registered, pending, refused, owned-elsewhere',
      "$.containers[1].name: missing",
      "$.extra: not expected",
    ]);
  });

  test("docs/status.schema.json is a JSON Schema document", () => {
    assert.equal(STATUS_SCHEMA.$schema, "https://json-schema.org/draft/2020-12/schema");
    assert.equal(STATUS_SCHEMA.title, "registrator /status");
  });
});

describe("/status: nothing secret", () => {
  test("URI userinfo and token values are replaced", () => {
    assert.equal(
      redactText("cannot connect to http://admin:hunter2@10.0.0.1:8500: refused"),
      "cannot connect to http://admin:***@10.0.0.1:8500: refused",
    );
    assert.equal(redactText("X-Consul-Token: s3cr3t refused"), "X-Consul-Token: *** refused");
    assert.equal(redactText("GET /v1/kv?token=abc&recurse"), "GET /v1/kv?token=***&recurse");
    assert.equal(redactText("port not published on host"), "port not published on host");
    assert.doesNotMatch(JSON.stringify(redactSnapshot(EVERY_STATE)), /hunter2|s3cr3t/);
  });

  test("served redacted as JSON, 503 until the bridge exists", () => {
    const reply = statusReply(() => EVERY_STATE);
    assert.equal(reply.status, 200);
    assert.equal(reply.contentType, "application/json");
    assert.deepEqual(JSON.parse(reply.body), redactSnapshot(EVERY_STATE));
    assert.equal(statusReply(undefined).status, 503);
    assert.equal(pageReply(undefined).status, 503);
    assert.equal(pageReply(() => EVERY_STATE).contentType, "text/html; charset=utf-8");
  });
});
