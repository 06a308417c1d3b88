/**
 * Hostile tag templates on a real dockerd, through bin/registrator with its shipped flags: each runs as a
 * container's SERVICE_TAGS label beside an innocent container, which still registers, while /health answers
 * and SIGTERM ends the daemon cleanly; a restart meets the same templates at start-up without a crash. The
 * operator's own `-tags` may fetch with httpGet, and the body becomes a tag.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ensureDocker, type DockerHarness } from "../support/docker.js";
import { freePort } from "../support/ports.js";
import { httpRequest, tempDir } from "../support/process.js";
import { startRegistrator, type LogLine, type RegistratorProcess } from "../support/registrator.js";
import { waitFor } from "../support/wait.js";

const HOST = hostname();
/** An innocent container must register within this long, whatever its neighbour's template does. */
const FEW_SECONDS = 5_000;
const DOUBLING =
  '{{define "a"}}{{if lt (len .) 40}}{{template "a" (printf "%sx" .)}}{{template "a" (printf "%sx" .)}}{{end}}{{end}}{{template "a" ""}}';
const hundred = "x".repeat(100);
const NESTED_RANGES = `{{range split "" "${hundred}"}}`.repeat(4) + "{{end}}".repeat(4);

/** What becomes of each hostile template: refused with a reason, or registered with Go's own text as its tag. */
const HOSTILE: Array<{ name: string; template: string; outcome: { ignored: RegExp } | { tags: string[] } }> = [
  {
    name: "doubling",
    template: DOUBLING,
    outcome: { ignored: /^ignored: SERVICE_TAGS: template: tags:1:\d+: executing "a" at <.*>: stopped after 100000 steps/ },
  },
  {
    name: "nested-ranges",
    template: NESTED_RANGES,
    outcome: { ignored: /^ignored: SERVICE_TAGS: template: .*: stopped after 100000 steps/ },
  },
  {
    name: "lexing",
    template: "{{1}}\n".repeat(16384),
    outcome: { ignored: /^ignored: SERVICE_TAGS: template: tags: 98304 bytes of template, more than the 65536 allowed$/ },
  },
  { name: "width", template: '{{printf "%0200000000d" 1}}', outcome: { tags: ["%!(NOVERB)%!(EXTRA int=1)"] } },
  { name: "precision", template: '{{printf "%.0300000000d" 1}}', outcome: { tags: ["%!(NOVERB)%!(EXTRA int=1)"] } },
  {
    name: "split",
    template: '{{split "" (printf "%200000000s" "")}}',
    outcome: { tags: ["[% ! ( N O V E R B ) % ! ( E X T R A   s t r i n g = )]"] },
  },
];

interface Stored {
  id: string;
  name: string;
  tags: string[];
}

let docker: DockerHarness;
const containers: string[] = [];
const processes: RegistratorProcess[] = [];
let unique = 0;

async function run(name: string, args: string[]): Promise<string> {
  const id = await docker.run(["--name", name, "--expose", "80", ...args, await docker.image("dockerfile/redis"), "sleep", "3600"]);
  containers.push(id);
  return id;
}

function registrator(args: string[]): RegistratorProcess {
  const p = startRegistrator(["-internal", "-retry-interval", "200", ...args], { DOCKER_HOST: docker.host });
  processes.push(p);
  return p;
}

async function services(path: string): Promise<Stored[]> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as Stored[];
  } catch {
    return [];
  }
}

const serviceOf = async (path: string, container: string) => (await services(path)).find((s) => s.id === `${HOST}:${container}:80`);

async function healthStatus(port: number): Promise<number> {
  return (await httpRequest({ url: `http://127.0.0.1:${port}/health`, timeoutMs: 3_000 })).status;
}

const ignoredFor = (id: string, reason: RegExp) => (line: LogLine) => line.container === id.slice(0, 12) && reason.test(line.msg);

/** The hostile container's fate as its outcome says: its ignored line, or its service with Go's text as the tag. */
async function expectOutcome(
  reg: RegistratorProcess,
  path: string,
  name: string,
  id: string,
  outcome: (typeof HOSTILE)[number]["outcome"],
) {
  if ("ignored" in outcome) {
    await reg.waitForLog(ignoredFor(id, outcome.ignored));
    assert.equal(await serviceOf(path, name), undefined);
  } else {
    const service = await waitFor(() => serviceOf(path, name), { what: `${name} registered` });
    assert.deepEqual(service.tags, outcome.tags);
  }
}

before(async () => {
  docker = await ensureDocker();
});

after(async () => {
  for (const p of processes) await p.stop("SIGKILL");
  if (containers.length) await docker.docker(["rm", "-f", ...containers], { allowFail: true });
  await docker?.stop();
});

describe("hostile SERVICE_TAGS templates", () => {
  const path = join(tempDir("containment-templates"), "services.json");
  const hostile = new Map<string, { name: string; id: string }>();
  let port: number;

  for (const c of HOSTILE) {
    test(`${c.name}: an innocent container started after it registers at once, and /health answers`, async () => {
      port ??= await freePort();
      const reg = processes[0] ?? registrator(["--metrics-addr", `127.0.0.1:${port}`, `file://${path}`]);
      await reg.waitForLog("synced");
      const prefix = `tpl-t-${process.pid}-${++unique}`;
      const id = await run(`${prefix}-${c.name}`, ["--label", `SERVICE_TAGS=${c.template}`]);
      hostile.set(c.name, { name: `${prefix}-${c.name}`, id });
      await run(`${prefix}-innocent`, ["-e", "SERVICE_TAGS=innocent"]);
      const innocent = await waitFor(() => serviceOf(path, `${prefix}-innocent`), {
        timeoutMs: FEW_SECONDS,
        what: "the innocent container registered",
      });
      assert.deepEqual(innocent.tags, ["innocent"]);
      assert.equal(await healthStatus(port), 200);
      await expectOutcome(reg, path, `${prefix}-${c.name}`, id, c.outcome);
    });
  }

  test("SIGTERM ends the daemon with exit 0, and a restart meets every hostile template again without a crash", async () => {
    assert.equal(await processes[0]!.stop("SIGTERM"), 0);
    const again = registrator(["--metrics-addr", `127.0.0.1:${port}`, `file://${path}`]);
    await again.waitForLog("synced");
    for (const c of HOSTILE) {
      const { name, id } = hostile.get(c.name)!;
      await expectOutcome(again, path, name, id, c.outcome);
    }
    assert.equal(await healthStatus(port), 200);
    const prefix = `tpl-t-${process.pid}-${++unique}`;
    await run(`${prefix}-late`, []);
    await waitFor(() => serviceOf(path, `${prefix}-late`), {
      timeoutMs: FEW_SECONDS,
      what: "a container started after the restart registered",
    });
    assert.equal(await again.stop("SIGTERM"), 0);
    assert.doesNotMatch(again.stderr(), /heap out of memory|unhandled|Unhandled/);
  });
});

describe("the operator's -tags", () => {
  test("httpGet through bin/registrator fetches the body, and it becomes a tag", async () => {
    const requests: string[] = [];
    const server = createServer((req: IncomingMessage, res) => {
      requests.push(req.url ?? "");
      res.end("zone-a");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/zone`;
      const path = join(tempDir("containment-httpget"), "services.json");
      const name = `tpl-t-${process.pid}-${++unique}-zoned`;
      await run(name, []);
      const reg = registrator(["-tags", `{{httpGet "${url}" | printf "%s"}},static`, `file://${path}`]);
      const service = await waitFor(() => serviceOf(path, name), { what: "the container registered with its -tags" });
      assert.deepEqual(service.tags, ["zone-a", "static"]);
      assert.ok(requests.includes("/zone"), "the HTTP server was asked");
      assert.equal(await reg.stop("SIGTERM"), 0);
      assert.doesNotMatch(reg.stderr(), /WebAssembly|unhandled|Unhandled/);
    } finally {
      server.close();
    }
  });
});
