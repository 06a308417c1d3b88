import assert from "node:assert/strict";
import { test } from "node:test";
import { backoffDelay } from "../../src/backoff.js";

test("doubles from the initial delay up to the cap, with jitter between half and all of the step", () => {
  const policy = { initialMs: 100, maxMs: 1000 };
  assert.deepEqual(
    [0, 1, 2, 3, 4, 10].map((n) => backoffDelay(n, policy, () => 1)),
    [100, 200, 400, 800, 1000, 1000],
  );
  assert.deepEqual(
    [0, 3].map((n) => backoffDelay(n, policy, () => 0)),
    [50, 400],
  );
});
