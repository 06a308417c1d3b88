import assert from "node:assert/strict";
import { test } from "node:test";
import { createLogger, escapeControl } from "../../src/log.js";

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
  assert.ok(
    lines.every((l) => l.endsWith("\n") && !l.slice(0, -1).includes("\n")),
    "one line each",
  );
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

/** What a container may put in SERVICE_NETWORK or a name, and a registry may hand back. */
const FORGERY = 'x\n16:20:00.000 INFO: added {"service":"forged"}';
const HOSTILE = ["a\nb", "a\rb", "a\tb", "\u001b[31mred", "a\u0000b", "a\u007fb", "a\u0085b", "a\u009b31m", "a\u2028b", "a\u2029b"];
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/;

test("text: control characters in messages and field values are escaped, so no line can be forged", () => {
  const { lines, log } = capture("text");
  log.info({ container: "0123456789ab", network: FORGERY }, `ignored: not attached to network ${FORGERY}`);
  log.info({ service: "s", name: "evil\r[16:20:00.000] INFO: added", hostname: "h\nx" }, "removed: dangling");
  for (const value of HOSTILE) log.warn({ value, nested: { list: [value] } }, value);
  assert.equal(lines.length, 2 + HOSTILE.length);
  for (const line of lines) {
    assert.ok(line.endsWith("\n") && !line.slice(0, -1).includes("\n"), `one line: ${JSON.stringify(line)}`);
    assert.ok(!RAW_CONTROL.test(line), `no raw control character: ${JSON.stringify(line)}`);
  }
  assert.match(lines[0]!, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: ignored: not attached to network x\\n16:20:00\.000 INFO: added /);
  assert.ok(lines[2]!.includes("a\\nb"), lines[2]);
  assert.ok(lines[6]!.includes("a\\u0000b") && lines[9]!.includes("a\\u009b31m"), `${lines[6]} ${lines[9]}`);
});

test("text: an error whose message carries a forged line keeps it escaped", () => {
  const { lines, log } = capture("text");
  log.error({ err: new Error(`boom\r${FORGERY}`) }, "failed");
  const text = lines.join("");
  assert.ok(!RAW_CONTROL.test(text) && !/\n\d\d:\d\d|\n\[\d\d:/.test(text), JSON.stringify(text));
});

test("JSON: values parse back unchanged, and no line carries a raw control or line-separator character", () => {
  const { lines, log } = capture("json");
  log.info({ network: FORGERY }, `ignored: ${FORGERY}`);
  for (const value of HOSTILE) log.info({ value }, value);
  assert.equal(lines.length, 1 + HOSTILE.length);
  for (const line of lines) {
    assert.ok(line.endsWith("\n") && !line.slice(0, -1).includes("\n"), "one line each");
    assert.ok(!RAW_CONTROL.test(line), `no raw control character: ${JSON.stringify(line)}`);
  }
  assert.deepEqual(
    lines.map((l) => JSON.parse(l) as { msg: string; value?: string; network?: string }).map((e) => e.value ?? e.network),
    [FORGERY, ...HOSTILE],
  );
});

test("escapeControl: short escapes for the common ones, \\uXXXX for the rest, everything else untouched", () => {
  assert.equal(escapeControl("a\nb\rc\td"), "a\\nb\\rc\\td");
  assert.equal(escapeControl("\u001b[0m\u007f\u0085\u2028"), "\\u001b[0m\\u007f\\u0085\\u2028");
  assert.equal(escapeControl("héllo wörld ✓ \\n"), "héllo wörld ✓ \\n");
});
