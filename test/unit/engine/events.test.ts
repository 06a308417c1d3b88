import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { EngineWatcher } from "../../../src/engine/events.js";

/** An engine that answers its ping and takes the event subscription, but never answers it: a hung daemon. */
async function hungEngine(): Promise<{ url: string; subscribed: Promise<void>; close(): void }> {
  let subscribed!: () => void;
  const seen = new Promise<void>((resolve) => (subscribed = resolve));
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === "/_ping") res.writeHead(200, { "Api-Version": "1.41" }).end("OK");
    else if (req.url?.includes("/events")) subscribed();
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    subscribed: seen,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

test("stop ends a subscription the engine never answered, long before its deadline", async () => {
  const engine = await hungEngine();
  const handlers = { connected: () => undefined, event: () => undefined, created: () => undefined, disconnected: () => undefined };
  const watcher = new EngineWatcher({ url: engine.url, timeoutMs: 60_000 }, handlers, { initialMs: 10, maxMs: 10 });
  try {
    watcher.start();
    await engine.subscribed;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      watcher.stop().then(() => "stopped"),
      new Promise((resolve) => (timer = setTimeout(() => resolve("still waiting for the engine"), 10_000))),
    ]);
    clearTimeout(timer);
    assert.equal(outcome, "stopped");
  } finally {
    engine.close();
  }
});
