import assert from "node:assert/strict";
import { test } from "node:test";
import { formatDelay, ignoredLines } from "../../../src/bridge/wording.js";

test("a container's ignored ports and keys: 16 lines at most, then one that counts the rest", () => {
  const skipped = Array.from({ length: 20 }, (_, i) => ({ port: `${1000 + i}/tcp`, reason: "port not published on host" }));
  const lines = ignoredLines("0123456789abcdef", skipped, "etcd");
  assert.equal(lines.length, 17);
  assert.deepEqual(lines[0], {
    fields: { container: "0123456789ab", port: "1000/tcp", backend: "etcd" },
    msg: "ignored: port not published on host",
  });
  assert.equal(lines[16]?.msg, "ignored: 4 more ports or keys of this container");
  assert.equal(ignoredLines("c", skipped.slice(0, 3), "etcd").length, 3);
});

test("retry delays read as people say them", () => {
  assert.deepEqual([formatDelay(250), formatDelay(1500), formatDelay(30_000)], ["250ms", "1.5s", "30.0s"]);
});
