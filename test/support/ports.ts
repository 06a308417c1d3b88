import { createSocket } from "node:dgram";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

// The kernel may hand the same ephemeral port out again once it is closed;
// remembering ours keeps two servers of one test file from colliding.
const handedOut = new Set<number>();

/** A TCP port on 127.0.0.1 that is free now (and free for UDP too: Consul's DNS and Serf use both). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await bindEphemeralTcp();
    if (handedOut.has(port) || !(await udpFree(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error("no free port found on 127.0.0.1 after 50 attempts");
}

/**
 * A free TCP port below the kernel's ephemeral range, for a host port Podman forwards with a NAT rule.
 * A rule that a crashed run leaves behind captures its port for every later connection to
 * 127.0.0.1; drawn from the ephemeral range, that port could be handed to a test's etcd next.
 */
export async function freeForwardedPort(): Promise<number> {
  const ephemeralLow = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || 32768;
  const low = Math.max(1024, ephemeralLow - 10_000);
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (ephemeralLow - low));
    if (handedOut.has(port) || !(await tcpFree(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port found on 127.0.0.1 between ${low} and ${ephemeralLow} after 200 attempts`);
}

export async function freePorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < n; i++) ports.push(await freePort());
  return ports;
}

function bindEphemeralTcp(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error("listen gave no port"))));
    });
  });
}

function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket("udp4");
    socket.unref();
    socket.once("error", () => {
      try {
        socket.close();
      } catch {
        // a socket that failed to bind may already count as closed
      }
      resolve(false);
    });
    socket.bind(port, "127.0.0.1", () => socket.close(() => resolve(true)));
  });
}
