/**
 * A byte-for-byte proxy in front of the engine's unix socket that notes when a registrator asks for
 * the container list (`GET .../containers/json`): that request is where a resync pass starts, for
 * ours and for the Go registrator alike, and holding it back is how the bench finds both between
 * passes. Only the resync measurement goes through it.
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
  /**
   * Holds back the next container list request; resolves once one arrives, with the function that
   * sends it on and returns when it did. Meanwhile the registrator waits for its list: no pass runs.
   */
  holdNextList(): Promise<() => number>;
  close(): Promise<void>;
}

export function startEngineProxy(upstreamSocket: string, dir: string): Promise<EngineProxy> {
  const path = join(dir, "engine.sock");
  rmSync(path, { force: true });
  const listRequests: number[] = [];
  const sockets = new Set<net.Socket>();
  let hold: ((release: () => number) => void) | undefined;
  const server = net.createServer((client) => {
    const upstream = net.connect(upstreamSocket);
    sockets.add(client).add(upstream);
    client.on("data", (chunk: Buffer) => {
      const held = hold;
      if (LIST_REQUEST.test(chunk.toString("latin1"))) {
        listRequests.push(performance.now());
        if (held) {
          hold = undefined;
          held(() => {
            upstream.write(chunk);
            return performance.now();
          });
          return;
        }
      }
      upstream.write(chunk);
    });
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client
      .on("close", end)
      .on("error", end)
      .on("end", () => upstream.end());
    upstream.on("close", end).on("error", end);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () =>
      resolve({
        host: `unix://${path}`,
        listRequests,
        holdNextList: () => new Promise((resolve) => (hold = resolve)),
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
