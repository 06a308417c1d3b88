/**
 * skydns2:// and coredns:// against a real etcd, with the real CLI and real containers; records are
 * read back as CoreDNS's etcd plugin reads them. Also etcd over TLS, for skydns2:// and etcd://.
 */
import assert from "node:assert/strict";
import { hostname } from "node:os";
import { after, before, describe, test } from "node:test";
import { ensureDocker, type DockerHarness } from "../../support/docker.js";
import { startEtcd, type EtcdServer } from "../../support/etcd.js";
import { removeDir, tempDir } from "../../support/process.js";
import { runRegistrator } from "../../support/registrator.js";
import { makeCerts, type TestCerts } from "../../support/tls.js";
import { scene } from "../../support/scene.js";
import { sleep, waitFor } from "../../support/wait.js";

const HOST = hostname();
const TAG = `${process.pid}`;
let docker: DockerHarness;
const { run, registrator, stopAll, cleanup } = scene("dns-t", () => docker);
let etcd: EtcdServer;
let unique = 0;

interface Answer {
  key: string;
  host?: string;
  port?: number;
  ttl?: number;
}

/**
 * What CoreDNS's etcd plugin finds for a DNS name: the labels reversed under the prefix, every key
 * below that path, else the exact key; each value decoded into its host, port and ttl fields.
 */
async function resolve(server: EtcdServer, dnsName: string, prefix = "/skydns"): Promise<Answer[]> {
  const path = `${prefix}/${dnsName.replace(/\.$/, "").toLowerCase().split(".").reverse().join("/")}`;
  let found = await server.list(`${path}/`);
  if (Object.keys(found).length === 0) {
    const exact = await server.get(path);
    found = exact === undefined ? {} : { [path]: exact };
  }
  return Object.entries(found).map(([key, value]) => {
    const { host, port, ttl } = JSON.parse(value) as Omit<Answer, "key">;
    return { key, host, port, ttl };
  });
}

/** A DNS label of this file's own, so other test files' containers cannot collide with it. */
function label(what: string): string {
  return `dnst${TAG}${what}${++unique}`;
}

before(async () => {
  docker = await ensureDocker();
  etcd = await startEtcd();
});

after(async () => {
  await cleanup();
  await etcd?.stop();
});

describe("skydns2://", () => {
  test("registers on start in CoreDNS's layout, per-container names through SERVICE_ID, and removes on die", async () => {
    const name = label("redis");
    const domain = "staging.skydns.local";
    const byId = await run(name, ["SERVICE_ID=redis-1"]);
    const byDefault = await run(name);
    const reg = registrator([`skydns2://${etcd.host}/${domain}`]);
    await reg.waitForLog("synced");

    assert.deepEqual(await resolve(etcd, `redis-1.${name}.${domain}`), [
      { key: `/skydns/local/skydns/staging/${name}/redis-1`, host: "127.0.0.1", port: byId.port, ttl: undefined },
    ]);
    const all = await resolve(etcd, `${name}.${domain}`);
    assert.deepEqual(all.map((a) => a.port).sort(), [byId.port, byDefault.port].sort());
    // The default id keeps the Go registrator's form, `:` and `.` included.
    assert.ok(all.some((a) => a.key === `/skydns/local/skydns/staging/${name}/${HOST}:${byDefault.name}:6379`.toLowerCase()));

    const late = await run(name, ["SERVICE_ID=redis-2"]);
    await waitFor(async () => (await resolve(etcd, `redis-2.${name}.${domain}`))[0]?.port === late.port, { what: "redis-2 registered" });

    await docker.docker(["kill", byId.id]);
    await waitFor(async () => (await resolve(etcd, `redis-1.${name}.${domain}`)).length === 0, { what: "redis-1 removed on die" });
    assert.equal((await resolve(etcd, `${name}.${domain}`)).length, 2);
    await stopAll();
  });

  test("a name that cannot be a DNS label is ignored with the reason; other services still register", async () => {
    const good = label("good");
    const bad = await run("bad.name_with.dots");
    const fine = await run(good, ["SERVICE_ID=ok-1"]);
    const reg = registrator([`skydns2://${etcd.host}/bad.skydns.local`]);
    const line = await reg.waitForLog((l) => l.container === bad.id.slice(0, 12) && l.msg.startsWith("ignored:"));
    assert.match(line.msg, /service name "bad\.name_with\.dots" is not a valid DNS label/);
    await waitFor(async () => (await resolve(etcd, `ok-1.${good}.bad.skydns.local`))[0]?.port === fine.port, { what: "the good one" });
    assert.deepEqual(Object.keys(await etcd.list("/skydns/local/skydns/bad/bad.name_with.dots/")), []);
    await stopAll();
  });

  test("-ttl: records carry ttl and a lease that is kept alive, and expire once registrator is gone", async () => {
    const name = label("ttl");
    const domain = "ttl.skydns.local";
    const c = await run(name, ["SERVICE_ID=t-1"]);
    const reg = registrator(["-ttl", "3", "-ttl-refresh", "1", `skydns2://${etcd.host}/${domain}`]);
    await reg.waitForLog("synced");
    const key = `/skydns/local/skydns/ttl/${name}/t-1`;
    assert.deepEqual(await resolve(etcd, `t-1.${name}.${domain}`), [{ key, host: "127.0.0.1", port: c.port, ttl: 3 }]);
    assert.notEqual(await etcd.leaseOf(key), "0");

    await sleep(4500);
    assert.equal((await resolve(etcd, `t-1.${name}.${domain}`)).length, 1, "still there after more than the TTL: refreshed");

    await reg.stop("SIGKILL");
    await waitFor(async () => (await etcd.get(key)) === undefined, { timeoutMs: 8000, what: "the lease to expire" });
  });

  test("-cleanup removes this host's dangling records, keeps other hosts', foreign and live ones", async () => {
    const name = label("clean");
    const base = `/skydns/local/skydns/clean/${name}`;
    const record = (id: string) => JSON.stringify({ host: "127.0.0.1", port: 1, service_id: id, service_name: name });
    const dangling = `${base}/${`${HOST}:dns-t-gone-${TAG}:80`.toLowerCase()}`;
    await etcd.put(dangling, record(`${HOST}:dns-t-gone-${TAG}:80`));
    await etcd.put(`${base}/otherhost:dns-t-gone:80`, record("otherhost:dns-t-gone:80"));
    await etcd.put(`${base}/by-hand`, JSON.stringify({ host: "10.1.1.1", port: 53 }));
    const live = await run(name);

    const reg = registrator(["-cleanup", `skydns2://${etcd.host}/clean.skydns.local`]);
    await reg.waitForLog((l) => l.msg.startsWith("removed: dangling") && l.service === `${HOST}:dns-t-gone-${TAG}:80`);
    assert.equal(await etcd.get(dangling), undefined);
    assert.notEqual(await etcd.get(`${base}/otherhost:dns-t-gone:80`), undefined);
    assert.notEqual(await etcd.get(`${base}/by-hand`), undefined);
    assert.notEqual(await etcd.get(`${base}/${HOST}:${live.name}:6379`.toLowerCase()), undefined);
    await stopAll();
  });

  test("a URI without a domain exits 2 with a correct example", async () => {
    for (const uri of [`skydns2://${etcd.host}`, `skydns2://${etcd.host}/`]) {
      const res = await runRegistrator([uri], { DOCKER_HOST: docker.host });
      assert.equal(res.code, 2, uri);
      assert.match(res.stderr, /skydns2 URI needs a DNS domain as its path, e\.g\. skydns2:\/\/127\.0\.0\.1:2379\/skydns\.local/);
    }
  });
});

describe("coredns://", () => {
  test("path = key prefix, zone = DNS zone: a service web resolves as web.<zone>, ids made DNS-safe", async () => {
    const name = label("web");
    const c = await run(name);
    const reg = registrator([`coredns://${etcd.host}/skydns?zone=service.local`]);
    await reg.waitForLog("synced");
    const safeId = `${HOST}-${c.name}-6379`.toLowerCase().replace(/[^a-z0-9_-]/g, "-");
    assert.deepEqual(await resolve(etcd, `${name}.service.local`), [
      { key: `/skydns/local/service/${name}/${safeId}`, host: "127.0.0.1", port: c.port, ttl: undefined },
    ]);
    assert.equal((await resolve(etcd, `${safeId}.${name}.service.local`))[0]?.port, c.port);

    await docker.docker(["kill", c.id]);
    await waitFor(async () => (await resolve(etcd, `${name}.service.local`)).length === 0, { what: "removed on die" });
    await stopAll();
  });

  test("-cleanup finds its records by the original id kept in the record", async () => {
    const name = label("cclean");
    const id = `${HOST}:dns-t-gone-${TAG}:80`;
    const key = `/dns/local/corp/${name}/${id.toLowerCase().replace(/[^a-z0-9_-]/g, "-")}`;
    await etcd.put(key, JSON.stringify({ host: "127.0.0.1", port: 80, service_id: id, service_name: name }));
    const reg = registrator(["-cleanup", `coredns://${etcd.host}/dns?zone=corp.local`]);
    await reg.waitForLog((l) => l.msg.startsWith("removed: dangling") && l.service === id);
    assert.equal(await etcd.get(key), undefined);
    await stopAll();
  });
});

describe("etcd over TLS", () => {
  let dir: string;
  let certs: TestCerts;
  let secure: EtcdServer;
  let tlsEnv: Record<string, string>;
  before(async () => {
    dir = tempDir("dns-certs");
    certs = await makeCerts(dir);
    secure = await startEtcd({ tls: { ...certs, clientCertAuth: true } });
    tlsEnv = { ETCD_CA_CERT_FILE: certs.caFile, ETCD_CERT_FILE: certs.clientCertFile, ETCD_KEY_FILE: certs.clientKeyFile };
  });
  after(async () => {
    await stopAll();
    await secure?.stop();
    if (dir) removeDir(dir);
  });

  test("skydns2:// writes through https with the CA and a client certificate", async () => {
    const name = label("tls");
    const c = await run(name, ["SERVICE_ID=s-1"]);
    const reg = registrator([`skydns2://${secure.host}/tls.skydns.local`], tlsEnv);
    await reg.waitForLog("synced");
    assert.deepEqual(await resolve(secure, `s-1.${name}.tls.skydns.local`), [
      { key: `/skydns/local/skydns/tls/${name}/s-1`, host: "127.0.0.1", port: c.port, ttl: undefined },
    ]);
    await stopAll();
  });

  test("etcd:// writes through https with the CA and a client certificate", async () => {
    const name = label("etls");
    const c = await run(name, ["SERVICE_ID=e-1"]);
    const reg = registrator([`etcd://${secure.host}/tls-services`], tlsEnv);
    await reg.waitForLog("synced");
    assert.equal(await secure.get(`/tls-services/${name}/e-1`), `127.0.0.1:${c.port}`);
    await stopAll();
  });

  test("without the client certificate the TLS etcd is unreachable (exit 1)", async () => {
    for (const uri of [`skydns2://${secure.host}/tls.skydns.local`, `etcd://${secure.host}/tls-services`]) {
      const res = await runRegistrator(["-retry-attempts", "0", uri], { DOCKER_HOST: docker.host, ETCD_CA_CERT_FILE: certs.caFile });
      assert.equal(res.code, 1, `${uri}: ${res.stderr}`);
      assert.match(res.stderr, /unreachable/);
    }
  });
});
