/**
 * The etcd client's claims against a real etcd, through a proxy that keeps each transaction sent:
 * what is written, what comes back read, and how many requests and what shape etcd gets.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { EtcdClient, type Claim, type ClaimRequest } from "../../../src/registry/etcd-client.js";
import { parseRegistryUri } from "../../../src/registry/uri.js";
import { startEtcd, type EtcdServer } from "../../support/etcd.js";
import { startRecordingProxy, type RecordingProxy } from "../../support/recording-proxy.js";

let etcd: EtcdServer;
let proxy: RecordingProxy;
let client: EtcdClient;
let unique = 0;
let prefix = "";

before(async () => {
  etcd = await startEtcd();
  proxy = await startRecordingProxy(etcd.port, (method, url) => method === "POST" && url === "/v3/kv/txn");
  client = new EtcdClient(parseRegistryUri(`etcd://${proxy.address}/t`), {});
});

after(async () => {
  client?.close();
  await proxy?.close();
  await etcd?.stop();
});

beforeEach(() => {
  prefix = `/claims-${++unique}`;
  proxy.recorded.length = 0;
});

/** An entry and its owner's marker, as the etcd:// layout writes them. */
function entry(name: string, value = `10.0.0.1:${8000 + name.length}`): Claim {
  return [
    { key: `${prefix}/${name}`, value },
    { key: `${prefix}/.registrator/${name}`, value: "host-a" },
  ];
}

/** What each transaction sent asked etcd to compare at its top level, and whether it nests transactions. */
function sent(): Array<{ compares: number; nested: boolean }> {
  return proxy.recorded.map(({ body }) => ({ compares: (JSON.parse(body).compare ?? []).length, nested: body.includes("request_txn") }));
}

async function held(claims: Claim[]): Promise<Array<string | undefined>> {
  return Promise.all(claims.flat().map(({ key }) => etcd.get(key)));
}

describe("etcd claims", () => {
  test("new entries that all guessed right go out as one flat transaction, and are written", async () => {
    const claims = [entry("a"), entry("b"), entry("c")];
    const outcomes = await client.claim(claims.map((claim): ClaimRequest => ({ claim, likely: "absent" })));
    assert.deepEqual(outcomes, [{ written: "absent" }, { written: "absent" }, { written: "absent" }]);
    assert.deepEqual(
      await held(claims),
      claims.flat().map(({ value }) => value),
    );
    assert.deepEqual(sent(), [{ compares: 6, nested: false }]);
  });

  test("one entry another host holds: nothing is written by the flat try, then the others are and that one is read", async () => {
    const claims = [entry("a"), entry("b"), entry("c")];
    await etcd.put(`${prefix}/b`, "10.9.9.9:1");
    await etcd.put(`${prefix}/.registrator/b`, "host-b");
    const outcomes = await client.claim(claims.map((claim): ClaimRequest => ({ claim, likely: "absent" })));
    assert.deepEqual(outcomes[0], { written: "absent" });
    assert.deepEqual(outcomes[2], { written: "absent" });
    const read = outcomes[1]!;
    assert.ok("read" in read, "the held entry comes back read, for the caller to judge");
    assert.deepEqual(
      read.read.map((kv) => kv?.value),
      ["10.9.9.9:1", "host-b"],
    );
    assert.equal(await etcd.get(`${prefix}/b`), "10.9.9.9:1");
    assert.equal(await etcd.get(`${prefix}/.registrator/b`), "host-b");
    assert.deepEqual(sent(), [
      { compares: 6, nested: false },
      { compares: 0, nested: true },
    ]);
  });

  test("checks of unchanged entries write nothing; one changed behind our back is read in the same request, the others left alone", async () => {
    const claims = [entry("a"), entry("b"), entry("c")];
    await client.claim(claims.map((claim): ClaimRequest => ({ claim, likely: "absent" })));
    const before = await Promise.all(claims.map(([value]) => etcd.modRevisionOf(value!.key)));
    proxy.recorded.length = 0;
    const checks = claims.map((claim): ClaimRequest => ({ claim, likely: "held" }));
    assert.deepEqual(await client.claim(checks), [{ written: "held" }, { written: "held" }, { written: "held" }]);
    assert.deepEqual(sent(), [{ compares: 6, nested: false }]);

    await etcd.put(`${prefix}/c`, "10.7.7.7:7");
    proxy.recorded.length = 0;
    const outcomes = await client.claim(checks);
    assert.deepEqual(outcomes.slice(0, 2), [{ written: "held" }, { written: "held" }]);
    const read = outcomes[2]!;
    assert.ok("read" in read);
    assert.equal(read.read[0]?.value, "10.7.7.7:7");
    assert.deepEqual(sent(), [{ compares: 6, nested: false }]);
    const afterChecks = await Promise.all(claims.slice(0, 2).map(([value]) => etcd.modRevisionOf(value!.key)));
    assert.deepEqual(afterChecks, before.slice(0, 2));
  });

  test("checks under a lease: a key put again outside it is read back, in the same request; the others are left alone", async () => {
    const lease = await client.grant(60);
    const claims = [entry("a"), entry("b"), entry("c")];
    await client.claim(
      claims.map((claim): ClaimRequest => ({ claim, likely: "absent" })),
      lease,
    );
    const value = claims[1]![0]!;
    await etcd.put(value.key, value.value);
    proxy.recorded.length = 0;
    const outcomes = await client.claim(
      claims.map((claim): ClaimRequest => ({ claim, likely: "held" })),
      lease,
    );
    assert.deepEqual(outcomes[0], { written: "held" });
    assert.deepEqual(outcomes[2], { written: "held" });
    const read = outcomes[1]!;
    assert.ok("read" in read, "the key outside the lease comes back read, to be written under it again");
    assert.deepEqual(
      read.read.map((kv) => kv?.value),
      [value.value, "host-a"],
    );
    assert.deepEqual(sent(), [{ compares: 12, nested: false }]);
    assert.equal(await etcd.leaseOf(value.key), "0");
  });

  test("checks under a lease that would pass etcd's 128 comparisons stay nested, and etcd takes them", async () => {
    const lease = await client.grant(60);
    const claims = Array.from({ length: 64 }, (_, i) => entry(`svc-${i}`));
    const written = await client.claim(
      claims.map((claim): ClaimRequest => ({ claim, likely: "absent" })),
      lease,
    );
    assert.ok(written.every((outcome) => "written" in outcome));
    proxy.recorded.length = 0;
    const outcomes = await client.claim(
      claims.map((claim): ClaimRequest => ({ claim, likely: "held" })),
      lease,
    );
    assert.ok(outcomes.every((outcome) => "written" in outcome && outcome.written === "held"));
    assert.deepEqual(sent(), [{ compares: 0, nested: true }]);
    assert.equal(await etcd.leaseOf(`${prefix}/svc-0`), lease);
  });

  test("claims of different guesses, and a lone claim, go nested in one request", async () => {
    await client.claim([
      { claim: entry("a"), likely: "absent" },
      { claim: entry("b"), likely: "absent" },
    ]);
    proxy.recorded.length = 0;
    const mixed = await client.claim([
      { claim: entry("a"), likely: "held" },
      { claim: entry("c"), likely: "absent" },
    ]);
    assert.deepEqual(mixed, [{ written: "held" }, { written: "absent" }]);
    assert.deepEqual(await client.claim([{ claim: entry("d") }]), [{ written: "absent" }]);
    assert.deepEqual(sent(), [
      { compares: 0, nested: true },
      { compares: 0, nested: true },
    ]);
  });
});
