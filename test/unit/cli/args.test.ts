import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { buildOptions, parseArgs, usage, UsageError, type Options } from "../../../src/cli/args.js";
import { FLAGS } from "../../../src/cli/flags.js";

const run = (...argv: string[]): Options => {
  const command = parseArgs(argv);
  assert.equal(command.kind, "run");
  return (command as { options: Options }).options;
};
const usageError = (argv: string[], message: RegExp, env: NodeJS.ProcessEnv = {}) =>
  assert.throws(
    () => parseArgs(argv, env),
    (err: unknown) => err instanceof UsageError && message.test(err.message),
  );

describe("flag syntax, as Go's flag package reads it", () => {
  test("defaults", () => {
    assert.deepEqual(run("file:///tmp/s.json"), {
      uri: "file:///tmp/s.json",
      internal: false,
      explicit: false,
      ipFromContainer: false,
      tags: [],
      resync: 0,
      ttl: 0,
      ttlRefresh: 0,
      deregister: "always",
      retryAttempts: 5,
      retryInterval: 2000,
      cleanup: false,
      logFormat: "json",
      logLevel: "info",
      retryBackoffMax: 30000,
      maxServices: 256,
      deregisterOnExit: false,
      requireHealthy: false,
      once: false,
      dryRun: false,
    });
  });

  test("single and double dash, -x v and -x=v", () => {
    for (const argv of [["-ip", "10.0.0.1"], ["--ip", "10.0.0.1"], ["-ip=10.0.0.1"], ["--ip=10.0.0.1"]]) {
      assert.equal(run(...argv, "etcd://h/p").ip, "10.0.0.1");
    }
  });

  test("booleans as -x, -x=true, -x=false", () => {
    assert.equal(run("-internal", "etcd://h/p").internal, true);
    assert.equal(run("-internal=true", "etcd://h/p").internal, true);
    assert.equal(run("-internal=false", "etcd://h/p").internal, false);
    assert.equal(run("--cleanup=1", "etcd://h/p").cleanup, true);
  });

  test("every gliderlabs v7 option", () => {
    const o = run(
      "-ip",
      "1.2.3.4",
      "-internal",
      "-explicit",
      "-useIpFromLabel",
      "ip",
      "-tags",
      "a, b",
      "-resync",
      "30",
      "-ttl",
      "30",
      "-ttl-refresh",
      "10",
      "-deregister",
      "on-success",
      "-retry-attempts",
      "-1",
      "-retry-interval",
      "500",
      "-cleanup",
      "etcd://h/p",
    );
    assert.deepEqual(
      { ...o },
      {
        uri: "etcd://h/p",
        ip: "1.2.3.4",
        internal: true,
        explicit: true,
        useIpFromLabel: "ip",
        ipFromContainer: false,
        tags: ["a", "b"],
        resync: 30,
        ttl: 30,
        ttlRefresh: 10,
        deregister: "on-success",
        retryAttempts: -1,
        retryInterval: 500,
        cleanup: true,
        logFormat: "json",
        logLevel: "info",
        retryBackoffMax: 30000,
        maxServices: 256,
        deregisterOnExit: false,
        requireHealthy: false,
        once: false,
        dryRun: false,
      },
    );
  });

  test("fayrus v9's -ip-from-container, with its REGISTRATOR_IP_FROM_CONTAINER twin", () => {
    assert.equal(run("-ip-from-container", "etcd://h/p").ipFromContainer, true);
    assert.equal(run("--ip-from-container=false", "etcd://h/p").ipFromContainer, false);
    const fromEnv = parseArgs(["etcd://h/p"], { REGISTRATOR_IP_FROM_CONTAINER: "true" });
    assert.equal(fromEnv.kind === "run" && fromEnv.options.ipFromContainer, true);
    const flagWins = parseArgs(["-ip-from-container=false", "etcd://h/p"], { REGISTRATOR_IP_FROM_CONTAINER: "true" });
    assert.equal(flagWins.kind === "run" && flagWins.options.ipFromContainer, false);
    usageError(["etcd://h/p"], /invalid boolean value "yes" for -ip-from-container/, { REGISTRATOR_IP_FROM_CONTAINER: "yes" });
    assert.match(usage(), /--ip-from-container +register the container's own IP .*\(env REGISTRATOR_IP_FROM_CONTAINER\)/);
  });

  test("options may also follow the URI", () => {
    assert.equal(run("etcd://h/p", "-internal").internal, true);
  });

  test("--help, -h and --version", () => {
    assert.deepEqual(parseArgs(["--help"]), { kind: "help" });
    assert.deepEqual(parseArgs(["-h"]), { kind: "help" });
    assert.deepEqual(parseArgs(["-version"]), { kind: "version" });
  });

  test("new options have REGISTRATOR_* twins; the flag wins", () => {
    const env = { REGISTRATOR_LOG_FORMAT: "text", REGISTRATOR_NETWORK: "backend", REGISTRATOR_LOG_LEVEL: "debug" };
    const o = parseArgs(["etcd://h/p"], env);
    assert.deepEqual(o.kind === "run" && [o.options.logFormat, o.options.network, o.options.logLevel], ["text", "backend", "debug"]);
    const flagged = parseArgs(["--log-format", "json", "etcd://h/p"], env);
    assert.equal(flagged.kind === "run" && flagged.options.logFormat, "json");
  });

  test("--host-id (REGISTRATOR_HOST_ID) replaces the hostname in default ids; unset, the hostname stays", () => {
    const host = { hostname: "vm-1", hostIp: "10.0.0.1" };
    assert.equal(buildOptions(run("etcd://h/p"), host).hostId, "vm-1");
    assert.equal(buildOptions(run("--host-id", "rack1-vm1", "etcd://h/p"), host).hostId, "rack1-vm1");
    const o = parseArgs(["etcd://h/p"], { REGISTRATOR_HOST_ID: "from-env" });
    assert.equal(o.kind === "run" && buildOptions(o.options, host).hostId, "from-env");
    usageError(["--host-id", "a:b", "etcd://h"], /--host-id "a:b": use letters, digits/);
    usageError(["--host-id=", "etcd://h"], /--host-id "": use letters/);
    usageError(["--host-id", "a/b", "etcd://h"], /--host-id "a\/b"/);
  });

  test("boolean twins read true/false like the flags", () => {
    const o = parseArgs(["etcd://h/p"], {
      REGISTRATOR_DEREGISTER_ON_EXIT: "true",
      REGISTRATOR_REQUIRE_HEALTHY: "1",
      REGISTRATOR_ONCE: "false",
    });
    assert.deepEqual(o.kind === "run" && [o.options.deregisterOnExit, o.options.requireHealthy, o.options.once], [true, true, false]);
    usageError(["etcd://h/p"], /invalid boolean value "maybe" for -dry-run/, { REGISTRATOR_DRY_RUN: "maybe" });
  });

  test("text logs by default on a terminal", () => {
    const o = parseArgs(["etcd://h/p"], {}, true);
    assert.equal(o.kind === "run" && o.options.logFormat, "text");
  });
});

describe("validation: one clear line, exit 2", () => {
  test("missing URI and extra arguments show usage", () => {
    assert.throws(
      () => parseArgs([]),
      (err: unknown) => err instanceof UsageError && err.showUsage && /missing registry URI/.test(err.message),
    );
    usageError(["etcd://a", "etcd://b"], /extra arguments: etcd:\/\/b/);
  });

  test("-ttl and -ttl-refresh together or not at all, -ttl greater", () => {
    usageError(["-ttl", "10", "etcd://h"], /-ttl and -ttl-refresh must be specified together/);
    usageError(["-ttl-refresh", "10", "etcd://h"], /-ttl and -ttl-refresh must be specified together/);
    usageError(["-ttl", "10", "-ttl-refresh", "10", "etcd://h"], /-ttl must be greater than -ttl-refresh/);
  });

  test("bad values", () => {
    usageError(["-deregister", "sometimes", "etcd://h"], /-deregister must be "always" or "on-success", not "sometimes"/);
    usageError(["-retry-interval", "0", "etcd://h"], /-retry-interval must be greater than 0/);
    usageError(["-retry-attempts", "-2", "etcd://h"], /-retry-attempts must be -1/);
    usageError(["-resync", "often", "etcd://h"], /invalid value "often" for -resync/);
    usageError(["-ip", "example.com", "etcd://h"], /-ip "example.com" is not an IP address/);
    usageError(["-internal=maybe", "etcd://h"], /invalid boolean value "maybe" for -internal/);
    usageError(["-bogus", "etcd://h"], /unknown option -bogus/);
    usageError(["etcd://h", "-ip"], /option -ip needs a value/);
    usageError(["--log-format", "xml", "etcd://h"], /-log-format must be "json" or "text"/);
    usageError(["etcd://h"], /-log-level must be/, { REGISTRATOR_LOG_LEVEL: "loud" });
    usageError(["--retry-backoff-max", "5", "etcd://h"], /--retry-backoff-max must be at least 100/);
  });
});

test("usage lists every option", () => {
  const text = usage();
  for (const flag of FLAGS) assert.match(text, new RegExp(`-${flag.name}\\b`), flag.name);
  assert.match(text, /Usage: registrator \[options\] <registry URI>/);
});

describe("registrator explain", () => {
  test("takes the daemon's flags, --json, and containers before the URI", () => {
    const command = parseArgs(["explain", "--json", "-ip", "10.0.0.1", "web", "db", "etcd://h/p"]);
    assert.equal(command.kind, "explain");
    const { options, containers, json } = command as Extract<typeof command, { kind: "explain" }>;
    assert.deepEqual([options.uri, options.ip, containers, json], ["etcd://h/p", "10.0.0.1", ["web", "db"], true]);
    const flagsFirst = parseArgs(["-internal", "explain", "consul://h"]);
    assert.deepEqual(flagsFirst.kind === "explain" && [flagsFirst.options.internal, flagsFirst.containers, flagsFirst.json], [
      true,
      [],
      false,
    ]);
  });

  test("bad arguments are usage errors, as for the daemon", () => {
    usageError(["explain"], /explain: missing registry URI/);
    usageError(["explain", "-ttl", "5", "etcd://h/p"], /-ttl and -ttl-refresh/);
    usageError(["--json", "etcd://h/p"], /--json applies to registrator explain only/);
  });

  test("usage shows the explain command, and --json only there", () => {
    const text = usage();
    assert.match(text, /registrator explain \[--json\] \[options\] \[CONTAINER\.\.\.\] <registry URI>/);
    assert.equal(text.match(/--json/g)?.length, 2);
    for (const line of text.split("\n")) assert.ok(line.length <= 100 || line.startsWith("  -"), line);
  });
});
