import assert from "node:assert/strict";
import { test } from "node:test";
import { Batcher } from "../../src/batcher.js";

function recorder(fail?: (items: number[]) => Error | undefined) {
  const batches: number[][] = [];
  const out = { now: 0, most: 0 };
  const run = async (items: number[]) => {
    batches.push(items);
    out.most = Math.max(out.most, ++out.now);
    try {
      await new Promise((resolve) => setTimeout(resolve, 5));
      const err = fail?.(items);
      if (err) throw err;
      return items.map((n) => n * 10);
    } finally {
      out.now--;
    }
  };
  return { batches, run, out };
}

test("calls made in one tick go out as one batch, at most maxSize each", async () => {
  const { batches, run } = recorder();
  const batcher = new Batcher(run, { maxSize: 4, inFlight: 8 });
  const results = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => batcher.add(n)));
  assert.deepEqual(results, [10, 20, 30, 40, 50, 60]);
  assert.deepEqual(batches, [
    [1, 2, 3, 4],
    [5, 6],
  ]);
});

test("a lone call is sent at once; calls made while it is out wait and go out together", async () => {
  const batches: number[][] = [];
  let release = () => {};
  const batcher = new Batcher(
    async (items: number[]) => {
      batches.push(items);
      await new Promise<void>((resolve) => (release = resolve));
      return items.map((n) => n * 10);
    },
    { maxSize: 64, inFlight: 1 },
  );
  const first = batcher.add(1);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(batches, [[1]], "sent without waiting for company");
  const later = [2, 3, 4].map((n) => batcher.add(n));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(batches.length, 1, "the next batch waits for the one out");
  release();
  assert.equal(await first, 10);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(batches, [[1], [2, 3, 4]]);
  release();
  assert.deepEqual(await Promise.all(later), [20, 30, 40]);
});

test("a failure that may be one item's fault is narrowed down, one item at a time: only that item fails", async () => {
  class Refused extends Error {}
  const { batches, run, out } = recorder((items) => (items.includes(3) ? new Refused("3 is too large") : undefined));
  const batcher = new Batcher(run, { maxSize: 64, inFlight: 1, alone: (err) => err instanceof Refused });
  const settled = await Promise.allSettled([1, 2, 3, 4].map((n) => batcher.add(n)));
  assert.deepEqual(
    settled.map((s) => (s.status === "fulfilled" ? s.value : (s.reason as Error).message)),
    [10, 20, "3 is too large", 40],
  );
  assert.deepEqual(batches, [[1, 2, 3, 4], [1], [2], [3], [4]]);
  assert.equal(out.most, 1, "the resent items keep to the batches-out limit");
});

test("any other failure fails the whole batch, and the next batch still goes out", async () => {
  let down = true;
  const { run } = recorder(() => (down ? new Error("connection refused") : undefined));
  const batcher = new Batcher(run, { maxSize: 64, inFlight: 1, alone: () => false });
  const settled = await Promise.allSettled([1, 2].map((n) => batcher.add(n)));
  assert.deepEqual(
    settled.map((s) => s.status),
    ["rejected", "rejected"],
  );
  down = false;
  assert.equal(await batcher.add(3), 30);
});
