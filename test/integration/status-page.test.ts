/**
 * The running daemon's `/status` and status page, end to end: bin/registrator with --metrics-addr,
 * a dockerd of this file's own and a real etcd; the page loaded in Debian's chromium, headless, which
 * leaves a screenshot in test-artifacts/ for people to look at.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { renderStatusPage } from "../../src/monitor/page.js";
import { schemaProblems } from "../support/json-schema.js";
import { EVERY_STATE } from "../unit/monitor/fixtures.js";
import { startPrivateDocker, type PrivateDocker } from "../support/docker.js";
import { startEtcd, type EtcdServer } from "../support/etcd.js";
import { freePort } from "../support/ports.js";
import { findExecutable, httpRequest, removeDir, tempDir } from "../support/process.js";
import { startRegistrator, type RegistratorProcess } from "../support/registrator.js";

const HOST = hostname();
const ARTIFACTS = join(__dirname, "../../../test-artifacts");
let docker: PrivateDocker;
let etcd: EtcdServer;
let daemon: RegistratorProcess | undefined;

before(async () => {
  docker = await startPrivateDocker();
  etcd = await startEtcd();
});

after(async () => {
  await daemon?.stop("SIGKILL");
  await etcd?.stop();
  await docker?.stop();
});

/** Debian's chromium, headless, with a profile of its own and nothing that reaches the network by itself. */
function chromium(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const binary = findExecutable("chromium", ["/usr/bin/chromium"]);
  if (!binary) throw new Error("chromium not found: apt-get install chromium");
  const profile = tempDir("chromium");
  const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"];
  flags.push("--disable-component-update", "--disable-sync", `--user-data-dir=${profile}`);
  return new Promise((resolve, reject) => {
    execFile(binary, [...flags, ...args], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      removeDir(profile);
      if (err) reject(new Error(`chromium ${args.join(" ")}: ${err.message}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

describe("the status page and /status", () => {
  test("show each container's services and state, the registry's health, the last sync and the counts", async () => {
    const port = await freePort();
    const image = await docker.image("status/web");
    const name = `status-${process.pid}`;
    const id = await docker.run(["--name", name, "-p", "18401:80", "-e", "SERVICE_NAME=web", "-e", "SERVICE_TAGS=blue", image]);
    daemon = startRegistrator(["-ip", "127.0.0.1", "--metrics-addr", `127.0.0.1:${port}`, `etcd://${etcd.host}/services`], {
      DOCKER_HOST: docker.host,
    });
    await daemon.waitForLog("synced");
    const base = `http://127.0.0.1:${port}`;

    const status = await httpRequest({ url: `${base}/status`, timeoutMs: 3_000 });
    assert.equal(status.status, 200);
    assert.match(String(status.headers["content-type"]), /^application\/json/);
    const snapshot = JSON.parse(status.body);
    assert.deepEqual(schemaProblems(snapshot), []);
    assert.equal(snapshot.hostId, HOST);
    assert.deepEqual(snapshot.registry, { backend: "etcd", up: true });
    assert.ok(Date.parse(snapshot.lastSync) <= Date.now());
    assert.deepEqual(snapshot.counts, { containers: 1, registered: 1, pending: 0, refused: 0, ownedElsewhere: 0, ignored: 0 });
    assert.deepEqual(snapshot.containers, [
      {
        id,
        name,
        ignored: [],
        services: [{ id: `${HOST}:${name}:80`, name: "web", ip: "127.0.0.1", port: 18401, tags: ["blue"], state: "registered" }],
      },
    ]);

    const page = await httpRequest({ url: `${base}/`, timeoutMs: 3_000 });
    assert.equal(page.status, 200);
    assert.match(String(page.headers["content-type"]), /^text\/html/);
    assert.match(page.body, /<meta http-equiv="refresh" content="5">/);
    assert.doesNotMatch(page.body, /<script|<link|src=|url\(/i, "no script and no external asset");

    const { stdout: dom } = await chromium(["--dump-dom", `${base}/`]);
    assert.match(dom, new RegExp(`<h1>registrator on ${HOST}</h1>`));
    assert.match(dom, /registry<\/span><b>etcd <span class="state up">up<\/span>/);
    assert.match(
      dom,
      new RegExp(
        `last sync</span><b><time datetime="${snapshot.lastSync}">\\d\\d:\\d\\d:\\d\\d UTC</time> <span class="muted">\\(\\d+ s ago\\)`,
      ),
    );
    assert.match(dom, /registered<\/span><b>1<\/b>/);
    assert.match(dom, new RegExp(`<th colspan="5">${name} <code class="muted">${id.slice(0, 12)}</code></th>`));
    assert.match(
      dom,
      new RegExp(
        `<code>${HOST}:${name}:80</code></td><td>web <span class="muted">blue</span></td><td><code>127.0.0.1:18401</code></td><td><span class="state registered">registered</span>`,
      ),
    );

    mkdirSync(ARTIFACTS, { recursive: true });
    const screenshot = join(ARTIFACTS, "status-page.png");
    rmSync(screenshot, { force: true });
    await chromium([`--screenshot=${screenshot}`, "--window-size=1100,520", "--hide-scrollbars", `${base}/`]);
    assert.deepEqual([...readFileSync(screenshot).subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "a PNG");
  });
});

describe("the status page, rendered from a snapshot with every state", () => {
  test("shows pending with the next attempt, refused and owned elsewhere with why, ignored ports, a registry down; no secret", async () => {
    const dir = tempDir("status-page");
    const file = join(dir, "page.html");
    writeFileSync(file, renderStatusPage(EVERY_STATE, new Date("2026-12-07T18:40:22Z")));
    try {
      const { stdout: dom } = await chromium(["--dump-dom", `file://${file}`]);
      assert.match(dom, /registry<\/span><b>consul <span class="state down">down<\/span>/);
      assert.match(
        dom,
        /<span class="state pending">pending retry<\/span><\/td><td>cannot connect to http:\/\/admin:\*\*\*@10\.0\.0\.1:8500: ECONNREFUSED; next attempt 2026-12-07T18:40:27\.000Z/,
      );
      assert.match(dom, /<span class="state owned-elsewhere">owned elsewhere<\/span><\/td><td>held by host node-2; api is owned by node-2/);
      assert.match(dom, /<span class="state refused">refused<\/span><\/td><td>X-Consul-Token: \*\*\* refused/);
      assert.match(
        dom,
        /<td>port 9000\/tcp<\/td><td><\/td><td><\/td><td><span class="state ignored">ignored<\/span><\/td><td>port not published on host/,
      );
      assert.doesNotMatch(dom, /hunter2|s3cr3t/);
      mkdirSync(ARTIFACTS, { recursive: true });
      await chromium([
        `--screenshot=${join(ARTIFACTS, "status-page-states.png")}`,
        "--window-size=1100,560",
        "--hide-scrollbars",
        `file://${file}`,
      ]);
    } finally {
      removeDir(dir);
    }
  });
});
