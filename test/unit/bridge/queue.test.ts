import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { KeyedQueue } from "../../../src/bridge/queue.js";

const tick = (ms = 5) => new Promise((resolve) => setTimeout(resolve, ms));

/** A queue whose runs are recorded and can be held open or made to fail. */
function harness(concurrency = 2) {
  const runs: string[] = [];
  const retries: Array<{ key: string; delayMs: number }> = [];
  const failing = new Map<string, number>();
  let active = 0;
  let maxActive = 0;
  let hold: Promise<void> | undefined;
  const queue = new KeyedQueue(
    async (key) => {
      active++;
      maxActive = Math.max(maxActive, active);
      runs.push(key);
      await (hold ?? tick(1));
      active--;
      const left = failing.get(key) ?? 0;
      if (left > 0) {
        failing.set(key, left - 1);
        throw new Error(`${key} failed`);
      }
    },
    { concurrency, retry: { initialMs: 10, maxMs: 10 }, onRetry: (key, _err, delayMs) => retries.push({ key, delayMs }) },
  );
  return {
    queue,
    runs,
    retries,
    failing,
    maxActive: () => maxActive,
    holdRuns(): () => void {
      let release!: () => void;
      hold = new Promise((resolve) => (release = resolve));
      return () => {
        hold = undefined;
        release();
      };
    },
  };
}

describe("keyed work queue", () => {
  test("runs keys in the order they were added, at most `concurrency` at once", async () => {
    const h = harness(2);
    for (const key of ["a", "b", "c", "d"]) h.queue.add(key);
    await h.queue.idle();
    assert.deepEqual(h.runs, ["a", "b", "c", "d"]);
    assert.equal(h.maxActive(), 2);
    assert.ok(h.queue.empty());
  });

  test("a key added again while it waits runs once", async () => {
    const h = harness(1);
    const release = h.holdRuns();
    h.queue.add("busy");
    h.queue.add("a");
    h.queue.add("a");
    h.queue.add("a");
    release();
    await h.queue.idle();
    assert.deepEqual(h.runs, ["busy", "a"]);
  });

  test("a key added while it runs runs once more afterwards, never twice at once", async () => {
    const h = harness(4);
    const release = h.holdRuns();
    h.queue.add("a");
    await tick();
    h.queue.add("a");
    h.queue.add("a");
    assert.equal(h.maxActive(), 1);
    release();
    await h.queue.idle();
    await tick(20);
    assert.deepEqual(h.runs, ["a", "a"]);
    assert.equal(h.maxActive(), 1);
  });

  test("a failed run is retried after its backoff until it succeeds; other keys are not held up", async () => {
    const h = harness(1);
    h.failing.set("bad", 2);
    h.queue.add("bad");
    h.queue.add("good");
    await h.queue.idle();
    assert.equal(h.queue.retrying(), 1);
    assert.ok(h.queue.has("bad") && !h.queue.has("good"));
    for (let i = 0; i < 100 && !h.queue.empty(); i++) await tick();
    assert.deepEqual(h.runs, ["bad", "good", "bad", "bad"]);
    assert.deepEqual(
      h.retries.map((r) => r.key),
      ["bad", "bad"],
    );
    assert.ok(
      h.retries.every((r) => r.delayMs >= 5 && r.delayMs <= 10),
      "half to all of the backoff step",
    );
    assert.equal(h.queue.retrying(), 0);
  });

  test("adding a key that waits for a retry runs it now", async () => {
    const runs: string[] = [];
    let fail = true;
    const queue = new KeyedQueue(
      async (key) => {
        runs.push(key);
        if (fail) {
          fail = false;
          throw new Error("once");
        }
      },
      { concurrency: 1, retry: { initialMs: 60_000, maxMs: 60_000 }, onRetry: () => undefined },
    );
    queue.add("a");
    await queue.idle();
    assert.equal(queue.retrying(), 1);
    queue.add("a");
    await queue.idle();
    assert.deepEqual(runs, ["a", "a"]);
    assert.ok(queue.empty(), "the minute-long retry timer was dropped");
  });

  test("stop drops what waits and what would be retried, and waits for runs in flight", async () => {
    const h = harness(1);
    h.failing.set("a", 5);
    const release = h.holdRuns();
    h.queue.add("a");
    h.queue.add("b");
    const stopped = h.queue.stop(1000);
    release();
    await stopped;
    await tick(30);
    assert.deepEqual(h.runs, ["a"]);
    assert.equal(h.queue.retrying(), 0);
  });
});
