/**
 * A byte-for-byte proxy in front of the engine's unix socket that notes when a registrator asks for
 * the container list (`GET .../containers/json`): that request is where a resync pass starts, for
 * ours and for the Go registrator alike. Only the resync measurement goes through it.
 */
import { rmSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { performance } from "node:perf_hooks";

const LIST_REQUEST = /(?:^|\r\n)GET \S*\/containers\/json(?:\?\S*)? HTTP\/1\.[01]\r\n/;

export interface EngineProxy {
  /** DOCKER_HOST for the registrator: unix:///…/engine.sock */
  host: string;
  /** performance.now() of every container list request seen. */
  readonly listRequests: number[];
  close(): Promise<void>;
}

export function startEngineProxy(upstreamSocket: string, dir: string): Promise<EngineProxy> {
  const path = join(dir, "engine.sock");
  rmSync(path, { force: true });
  const listRequests: number[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(upstreamSocket);
    sockets.add(client).add(upstream);
    client.on("data", (chunk: Buffer) => {
      if (LIST_REQUEST.test(chunk.toString("latin1"))) listRequests.push(performance.now());
      upstream.write(chunk);
    });
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", end).on("error", end).on("end", () => upstream.end());
    upstream.on("close", end).on("error", end);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () =>
      resolve({
        host: `unix://${path}`,
        listRequests,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => {
              rmSync(path, { force: true });
              done();
            });
          }),
      }),
    );
  });
}
