import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Refresher } from "../../../src/bridge/refresher.js";
import type { Registered } from "../../../src/registry/types.js";
import type { Service } from "../../../src/service/types.js";
import { logged } from "../../support/logged.js";
import { waitFor } from "../../support/wait.js";

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const service = (id: string) => ({ id, name: "web" }) as Service;
const entry = (id: string): Registered => ({ service: service(id), owner: { hostId: "h", container: id } });

describe("refresher", () => {
  test("renews every registered service at the adapter's pace and hands back what was lost", async () => {
    const { lines, log } = logged();
    const calls: string[][] = [];
    const lost: string[] = [];
    const refresher = new Refresher(
      {
        schedule: { everyMs: 10, retryMs: 10 },
        renew: async (registered) => {
          calls.push(registered.map((r) => r.service.id));
          return calls.length === 2 ? [registered[1]!.service] : [];
        },
      },
      { registered: () => [entry("a"), entry("b")], lost: (services) => lost.push(...services.map((s) => s.id)) },
      log,
      "fake",
    );
    refresher.start();
    await waitFor(() => calls.length >= 3, { timeoutMs: 5000, intervalMs: 5, what: "three rounds" });
    refresher.stop();
    assert.deepEqual(calls[0], ["a", "b"]);
    assert.deepEqual(lost, ["b"]);
    assert.ok(lines.some((l) => l.msg.startsWith("lost: the registry no longer holds these services")));
  });

  test("a failed renewal is tried again at the retry pace, and logged", async () => {
    const { lines, log } = logged();
    let calls = 0;
    const refresher = new Refresher(
      {
        schedule: { everyMs: 10, retryMs: 60_000 },
        renew: async () => {
          calls++;
          throw new Error("timeout");
        },
      },
      { registered: () => [entry("a")], lost: () => undefined },
      log,
      "fake",
    );
    refresher.start();
    await waitFor(() => calls === 1, { timeoutMs: 5000, intervalMs: 5, what: "the first round" });
    await tick(50);
    refresher.stop();
    assert.equal(calls, 1, "the next try waits for the retry delay, not the 10 ms pace");
    assert.ok(lines.some((l) => l.msg === "failed: refresh: timeout; retrying in 60000ms"));
  });

  test("nothing registered, nothing sent; an adapter without a schedule is never called", async () => {
    let calls = 0;
    const refresh = async () => {
      calls++;
      return [];
    };
    const idle = new Refresher(
      { schedule: { everyMs: 5, retryMs: 5 }, renew: refresh },
      { registered: () => [], lost: () => undefined },
      logged().log,
      "fake",
    );
    const unscheduled = new Refresher({ renew: refresh }, { registered: () => [entry("a")], lost: () => undefined }, logged().log, "fake");
    idle.start();
    unscheduled.start();
    await tick(30);
    idle.stop();
    unscheduled.stop();
    assert.equal(calls, 0);
  });
});
