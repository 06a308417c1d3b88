import assert from "node:assert/strict";
import { test } from "node:test";
import { createLogger } from "../../src/log.js";

function capture(format: "json" | "text", level: "info" | "debug" = "info") {
  const lines: string[] = [];
  return { lines, log: createLogger(format, level, (line) => void lines.push(line)) };
}

test("JSON lines in pino's shape: numeric level, time, the fields, then msg", () => {
  const { lines, log } = capture("json");
  log.info({ container: "0123456789ab", service: "host:web:80" }, "added");
  log.warn("failed: etcd unreachable; retrying in 1.2s");
  const [first, second] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(Object.keys(first!), ["level", "time", "container", "service", "msg"]);
  assert.deepEqual({ ...first, time: 0 }, { level: 30, time: 0, container: "0123456789ab", service: "host:web:80", msg: "added" });
  assert.equal(typeof first!.time, "number");
  assert.deepEqual({ level: second!.level, msg: second!.msg }, { level: 40, msg: "failed: etcd unreachable; retrying in 1.2s" });
  assert.ok(lines.every((l) => l.endsWith("\n") && !l.slice(0, -1).includes("\n")), "one line each");
});

test("levels below the threshold are dropped", () => {
  const quiet = capture("json", "info");
  quiet.log.debug("event");
  quiet.log.trace("event");
  assert.deepEqual(quiet.lines, []);
  const chatty = capture("json", "debug");
  chatty.log.debug({ action: "start" }, "event");
  assert.equal(JSON.parse(chatty.lines[0]!).level, 20);
  const silent = createLogger("json", "silent", () => assert.fail("silent logs nothing"));
  silent.fatal("nothing");
});

test("errors are written with their type, message and stack", () => {
  const { lines, log } = capture("json");
  log.error({ err: new TypeError("boom") }, "unhandled rejection");
  const err = JSON.parse(lines[0]!).err as { type: string; message: string; stack: string };
  assert.deepEqual([err.type, err.message], ["TypeError", "boom"]);
  assert.match(err.stack, /TypeError: boom/);
});

test("text: one readable line per entry", () => {
  const { lines, log } = capture("text");
  log.info({ service: "host:web:80" }, "added");
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: added \{"service":"host:web:80"\}\n$/);
});
