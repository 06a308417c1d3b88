import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { containerIdentity, startupWarnings, type HostFacts } from "../../../src/cli/warnings.js";

const ID = "4f1c2b3a5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708";

/** registrator on a host, as the README runs it: nothing to warn about. */
const onHost: HostFacts = {
  uri: "consul://10.0.0.1:8500",
  uriHost: "10.0.0.1",
  scheme: "consul",
  ipGiven: true,
  hostIdGiven: false,
  hostname: "node-1",
  hostIp: "10.0.0.1",
  inContainer: false,
  containerAddresses: [],
};

/** registrator in a container on the default bridge, started without -h, -ip or --net=host. */
const inBridge: HostFacts = {
  ...onHost,
  uri: "consul://127.0.0.1:8500",
  uriHost: "127.0.0.1",
  ipGiven: false,
  hostname: ID.slice(0, 12),
  hostIp: "172.17.0.4",
  inContainer: true,
  containerId: ID,
  networkMode: "default",
  containerAddresses: ["172.17.0.4"],
};

describe("start-up warnings", () => {
  test("none for a well configured host, or a container on the host network with -h", () => {
    assert.deepEqual(startupWarnings(onHost), []);
    assert.deepEqual(
      startupWarnings({ ...inBridge, networkMode: "host", hostname: "node-1", hostIp: "10.0.0.1", containerAddresses: [] }),
      [],
    );
  });

  test("in a bridge container: the loopback URI, the bridge address and the container's hostname, each with its fix", () => {
    assert.deepEqual(startupWarnings(inBridge), [
      "the registry URI points at 127.0.0.1, which inside registrator's container is the container itself, not the host: " +
        "use the host's address (e.g. the bridge gateway, 172.17.0.1), or run registrator with --net=host",
      "no -ip, and the hostname 4f1c2b3a5d6e resolves to 172.17.0.4, registrator's own container address: services " +
        "published on the host would be registered there; pass -ip with the host's address",
      "the hostname 4f1c2b3a5d6e is registrator's container id, not the host's: service ids would be " +
        "4f1c2b3a5d6e:<container>:<port> and change with every new registrator container; run it with " +
        "--hostname=$(hostname) in docker run, or pass --host-id",
    ]);
  });

  test("each fix silences its warning; localhost and a URI with no host count as loopback", () => {
    assert.equal(startupWarnings({ ...inBridge, uriHost: "172.17.0.1", ipGiven: true, hostIdGiven: true }).length, 0);
    assert.match(startupWarnings({ ...inBridge, uriHost: "localhost" })[0]!, /points at localhost/);
    assert.match(startupWarnings({ ...inBridge, uriHost: "" })[0]!, /points at 127\.0\.0\.1 \(no host given\)/);
    assert.equal(
      startupWarnings({ ...inBridge, scheme: "file", uri: "file:///x.json", uriHost: "" }).filter((w) => /points at/.test(w)).length,
      0,
    );
  });

  test("without the engine's answer, Docker's default hostname tells a container network", () => {
    const unknown = { ...inBridge, networkMode: undefined, containerAddresses: [] };
    assert.equal(startupWarnings(unknown).length, 2, "loopback and hostname; no addresses to compare");
    assert.deepEqual(startupWarnings({ ...unknown, hostname: "node-1" }), []);
  });

  test("a URI without //", () => {
    assert.deepEqual(startupWarnings({ ...onHost, uri: "etcd:10.0.0.1:2379/services", scheme: "etcd", uriHost: "" }), [
      'registry URI "etcd:10.0.0.1:2379/services" has no "//": what follows "etcd:" is read as a path, and the ' +
        'backend\'s default host is used; write "etcd://10.0.0.1:2379/services"',
    ]);
    assert.match(startupWarnings({ ...onHost, uri: "consul:/services", scheme: "consul" })[0]!, /write "consul:\/\/HOST:PORT\/services"/);
  });
});

describe("whether registrator runs in a container, and which", () => {
  const files = (entries: Record<string, string>) => (path: string) => entries[path];

  test("Docker: /.dockerenv and the hostname mount in mountinfo", () => {
    const mountinfo = `812 790 0:52 /var/lib/docker/containers/${ID}/hostname /etc/hostname rw - ext4 /dev/sda1 rw\n`;
    assert.deepEqual(containerIdentity(files({ "/.dockerenv": "", "/proc/self/mountinfo": mountinfo })), {
      inContainer: true,
      containerId: ID,
    });
  });

  test("cgroup v1 paths; Podman's /run/.containerenv; a plain host", () => {
    assert.deepEqual(containerIdentity(files({ "/proc/self/cgroup": `12:pids:/docker/${ID}\n` })), { inContainer: true, containerId: ID });
    assert.deepEqual(containerIdentity(files({ "/run/.containerenv": "engine=podman" })), { inContainer: true });
    assert.deepEqual(containerIdentity(files({ "/proc/self/cgroup": "0::/user.slice\n", "/proc/self/mountinfo": "" })), {
      inContainer: false,
    });
  });
});
