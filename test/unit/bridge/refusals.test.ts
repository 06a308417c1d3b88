import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { mayTry, refusalOf, type RefusalBackoff } from "../../../src/bridge/refusals.js";
import { OwnedElsewhereError, RejectedError } from "../../../src/registry/types.js";
import { buildServices } from "../../../src/service/build.js";
import { container, options } from "../service/fixtures.js";

const BACKOFF: RefusalBackoff = { firstMs: 60_000, maxMs: 600_000, jitter: 0.2 };
const [service] = buildServices(container({ name: "web", publish: ["8080:80"] }), options()).services;
const [moved] = buildServices(container({ name: "web", publish: ["8081:80"] }), options()).services;
const elsewhere = new OwnedElsewhereError("hostname:web:80", { hostId: "host-b", container: "0123456789abcdef" });

describe("refused services", () => {
  test("refused as it is: never tried again until it changes, not even by -resync", () => {
    const refusal = refusalOf(service!, new RejectedError("bad name"), undefined, 0, BACKOFF);
    assert.deepEqual(refusal, { kind: "refused", fingerprint: refusal.fingerprint, reason: "bad name" });
    assert.equal(mayTry(service!, refusal, true, Number.MAX_SAFE_INTEGER), false);
    assert.equal(mayTry(moved!, refusal, false, 0), true);
  });

  test("owned elsewhere: tried again at a -resync pass, or once its backoff is over", () => {
    const refusal = refusalOf(service!, elsewhere, undefined, 1000, BACKOFF, () => 0.5);
    assert.equal(refusal.kind, "owned-elsewhere");
    if (refusal.kind !== "owned-elsewhere") return;
    assert.equal(refusal.owner, "host-b/0123456789ab");
    assert.equal(refusal.reason, "hostname:web:80 is owned by host-b/0123456789ab");
    assert.equal(refusal.retryAt, 61_000);
    assert.equal(mayTry(service!, refusal, true, 1000), true);
    assert.equal(mayTry(service!, refusal, false, 60_999), false);
    assert.equal(mayTry(service!, refusal, false, 61_000), true);
  });

  test("the backoff doubles from a minute to ten, each spread by a fifth either way", () => {
    const delays: number[] = [];
    let previous;
    for (let i = 0; i < 6; i++) {
      previous = refusalOf(service!, elsewhere, previous, 0, BACKOFF, () => 0.5);
      if (previous.kind === "owned-elsewhere") delays.push(previous.retryAt / 60_000);
    }
    assert.deepEqual(delays, [1, 2, 4, 8, 10, 10]);
    const low = refusalOf(service!, elsewhere, undefined, 0, BACKOFF, () => 0);
    const high = refusalOf(service!, elsewhere, undefined, 0, BACKOFF, () => 1);
    assert.deepEqual(
      [low, high].map((r) => (r.kind === "owned-elsewhere" ? r.retryAt : 0)),
      [48_000, 72_000],
    );
  });

  test("a changed service starts its backoff again", () => {
    const first = refusalOf(service!, elsewhere, undefined, 0, BACKOFF, () => 0.5);
    const again = refusalOf(service!, elsewhere, first, 0, BACKOFF, () => 0.5);
    const changed = refusalOf(moved!, elsewhere, again, 0, BACKOFF, () => 0.5);
    assert.deepEqual(
      [first, again, changed].map((r) => (r.kind === "owned-elsewhere" ? r.attempts : -1)),
      [0, 1, 0],
    );
  });
});
