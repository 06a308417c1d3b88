/**
 * A TCP proxy in front of a registry that counts the HTTP requests passing through it: the registry
 * load one registrator puts on a shared registry, whatever client library it speaks with.
 */
import net from "node:net";

const REQUEST_LINE = /(?:^|\r\n)(?:GET|POST|PUT|DELETE|HEAD|PATCH) \S+ HTTP\/1\.[01]\r\n/g;

export interface CountingProxy {
  port: number;
  /** HTTP requests seen so far. */
  requests(): number;
  close(): Promise<void>;
}

export function startCountingProxy(upstreamPort: number): Promise<CountingProxy> {
  let count = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(upstreamPort, "127.0.0.1");
    sockets.add(client).add(upstream);
    client.on("data", (chunk: Buffer) => {
      count += chunk.toString("latin1").match(REQUEST_LINE)?.length ?? 0;
    });
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        port,
        requests: () => count,
        close: () =>
          new Promise((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
