/**
 * Whoever starts a container controls its env and labels. These run that metadata through the bridge
 * as registrator does and check what it cannot make registrator do.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseArgs, UsageError } from "../../src/cli/args.js";
import { createLogger, type LogFormat } from "../../src/log.js";
import { consulProblem } from "../../src/registry/consul-check.js";
import { createAdapter } from "../../src/registry/index.js";
import { InvalidUriError } from "../../src/registry/types.js";
import { parseRegistryUri } from "../../src/registry/uri.js";
import type { ContainerInfo } from "../../src/service/types.js";
import { MemoryRegistry, syncInto } from "../support/memory-registry.js";
import { container, options } from "./service/fixtures.js";

interface Run {
  registry: MemoryRegistry;
  lines: string[];
}

async function sync(containers: ContainerInfo[], format: LogFormat = "json", useIpFromLabel?: string): Promise<Run> {
  // Validates as the Consul adapter does, without a Consul.
  const registry = new MemoryRegistry({ validate: consulProblem });
  const lines: string[] = [];
  await syncInto(
    registry,
    containers,
    options({ useIpFromLabel }),
    createLogger(format, "info", (line) => void lines.push(line)),
  );
  return { registry, lines };
}

const CHECK_TARGETS: Array<{ what: string; env?: string[]; labels?: Record<string, string> }> = [
  { what: "userinfo to the metadata service", env: ["SERVICE_CHECK_HTTP=@169.254.169.254/computeMetadata/v1/instance/"] },
  { what: "userinfo to the agent with PUT", env: ["SERVICE_CHECK_HTTP=@127.0.0.1:8500/v1/agent/leave", "SERVICE_CHECK_HTTP_METHOD=PUT"] },
  { what: "https userinfo", env: ["SERVICE_80_CHECK_HTTPS=:x@169.254.169.254/latest/meta-data/"] },
  { what: "a backslash authority", env: ["SERVICE_CHECK_HTTP=\\\\169.254.169.254/"] },
  { what: "a path without its slash", env: ["SERVICE_CHECK_HTTP=169.254.169.254/latest"] },
  { what: "a tab the URL parser would drop", env: ["SERVICE_CHECK_HTTP=/\t@169.254.169.254/"] },
  { what: "by label", labels: { SERVICE_CHECK_HTTP: "@169.254.169.254/" } },
  { what: "an address label with userinfo, tcp", labels: { ip: "10.0.0.5@169.254.169.254", SERVICE_CHECK_TCP: "true" } },
  { what: "an address label with a port, grpc", labels: { ip: "127.0.0.1:8502", SERVICE_CHECK_GRPC: "true" } },
];

test("a check aimed anywhere but the service's own address gets the service ignored, not registered unchecked", async () => {
  const good = container({ id: "good", name: "good", publish: ["8080:80"], env: ["SERVICE_CHECK_HTTP=/health"] });
  const bad = CHECK_TARGETS.map((c, i) =>
    container({ id: `bad${i}`, name: `bad${i}`, publish: [`${9000 + i}:80`], env: c.env, labels: c.labels }),
  );
  const { registry, lines } = await sync([good, ...bad], "json", "ip");

  assert.equal(registry.stored.get("hostname:good:80")?.attrs.check_http, "/health", "the good container registers with its check");
  CHECK_TARGETS.forEach((c, i) => {
    const ignored = lines.map((l) => JSON.parse(l) as { container?: string; msg: string }).filter((l) => l.container === `bad${i}`);
    assert.ok(
      // An address label that is no IP is refused before any check is built.
      ignored.some((l) => /^ignored: .*(own address|neither an IP address nor a host name|is not an IP address)/.test(l.msg)),
      `${c.what}: logged ${JSON.stringify(ignored.map((l) => l.msg))}`,
    );
  });
  assert.deepEqual([...registry.stored.keys()], ["hostname:good:80"], "no bad service is registered, with or without its check");
});

test("a SERVICE_NETWORK carrying a log line prints no forged line, in text or JSON", async () => {
  const forged = 'x\n16:20:00.000 INFO: added {"service":"forged"}';
  const bad = container({ id: "bad", name: "bad", publish: ["9000:80"], env: [`SERVICE_NETWORK=${forged}`] });
  for (const format of ["text", "json"] as const) {
    const { registry, lines } = await sync([bad], format);
    assert.equal(registry.stored.size, 0);
    const ignored = lines.filter((l) => l.includes("ignored: not attached to network x"));
    assert.equal(ignored.length, 1, `${format}: ${JSON.stringify(lines)}`);
    for (const line of lines) assert.ok(!line.slice(0, -1).includes("\n"), `${format}: one line each: ${JSON.stringify(line)}`);
    assert.ok(!lines.some((l) => /^(\[)?16:20:00\.000/.test(l)), `${format}: no line starts with the forged time`);
  }
});

/** The command line as main.ts checks it before starting: the message a usage error prints, or undefined. */
async function usageMessage(argv: string[], env: NodeJS.ProcessEnv): Promise<string | undefined> {
  try {
    const command = parseArgs(argv, env);
    if (command.kind !== "run") return undefined;
    const uri = parseRegistryUri(command.options.uri);
    const adapter = await createAdapter({ uri, ttl: command.options.ttl, ttlRefresh: command.options.ttlRefresh, env });
    await adapter.close();
    return undefined;
  } catch (err) {
    if (err instanceof UsageError || err instanceof InvalidUriError) return err.message;
    throw err;
  }
}

test("CONSUL_HTTP_TOKEN's value never appears in a usage error, wherever it was put", async () => {
  const token = "b1946ac9-2f8e-4f3a-9e0d-secret-token";
  const env = { CONSUL_HTTP_TOKEN: token, CONSUL_CACERT: "/nonexistent/ca.pem" };
  const argvs: string[][] = [
    [`consul://${token}@127.0.0.1:8500`],
    [`consul://admin:${token}@127.0.0.1:8500`],
    [`consul://admin:${token}@127.0.0.1`],
    [`consul-tls://:${token}@127.0.0.1:8501`],
    [`consul://admin:${token}#x@127.0.0.1`],
    [`consul://admin:x/${token}@127.0.0.1`],
    [`consulkv://${token}@127.0.0.1:8500/services`],
    [`etcd://root:${token}@127.0.0.1:99999/x`],
    [`nosuch://u:${token}@h/x`],
    [`zookeeper://a:2181,u:${token}@b:2181/services`],
    ["consul://127.0.0.1:8500", `consul://admin:${token}@h`],
    ["-ttl", "10", `consul://admin:${token}@127.0.0.1`],
    ["consul-tls://127.0.0.1:8501"],
    ["consul-unix://h/x"],
    ["consulkv://127.0.0.1:8500"],
  ];
  for (const argv of argvs) {
    const message = await usageMessage(argv, env);
    assert.ok(message, `${argv.join(" ")} is a usage error`);
    assert.ok(!message.includes(token) && !message.includes("secret-token"), `${argv.join(" ")}: ${message}`);
  }
});
