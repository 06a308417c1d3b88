import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { EngineWatcher, LineSplitter, MAX_EVENT_LINE, oversizedEvent, type ContainerEvent } from "../../../src/engine/events.js";
import { waitFor } from "../../support/wait.js";

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
  const handlers = { connected: () => undefined, event: () => undefined, disconnected: () => undefined };
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

describe("LineSplitter", () => {
  const split = (chunks: string[], max = 20) => {
    const seen: string[] = [];
    const splitter = new LineSplitter(
      max,
      (line) => seen.push(line),
      (head) => seen.push(`over: ${head.slice(0, 5)}`),
    );
    for (const chunk of chunks) splitter.push(chunk);
    return seen;
  };

  test("lines across chunks and many in one; blank ones dropped", () => {
    assert.deepEqual(split(["a", "b\nc\n\nd", "\n", "e\n"]), ["ab", "c", "d", "e"]);
  });

  test("a line over the cap is handed on once, by its head, and the lines after it as usual", () => {
    assert.deepEqual(split([`first${"x".repeat(30)}`, "y".repeat(50), "\nnext\n"]), ["over: first", "next"]);
    assert.deepEqual(split([`${"z".repeat(25)}\nok\n${"w".repeat(21)}\n`]), ["over: zzzzz", "ok", "over: wwwww"]);
  });
});

describe("oversizedEvent", () => {
  const id = "e".repeat(64);
  test("names the container from the line's beginning, as Docker and Podman write it", () => {
    const legacy = `{"status":"health_status: healthy","id":"${id}","from":"busybox","Type":"container","Action":"health_status: healthy","Actor":{"ID":"${id}","Attributes":{"a":"`;
    assert.equal(oversizedEvent(legacy)?.id, id);
    assert.equal(oversizedEvent(`{"Type":"container","Action":"start","Actor":{"ID":"${id}","Attributes":{`)?.action, "oversized");
  });

  test("a line whose beginning names no container is not one", () => {
    assert.equal(oversizedEvent(`{"Type":"service","Action":"update","Actor":{"ID":"${id}"`), undefined);
    assert.equal(oversizedEvent(`{"Type":"container","Actor":{"ID":"short"`), undefined);
  });
});

/** An engine whose event stream sends `lines` once subscribed, and stays open. */
async function streamingEngine(lines: string[]): Promise<{ url: string; subscriptions(): number; close(): void }> {
  let subscriptions = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === "/_ping") return void res.writeHead(200, { "Api-Version": "1.41" }).end("OK");
    if (!req.url?.includes("/events")) return void res.writeHead(404).end();
    subscriptions++;
    res.writeHead(200, { "Content-Type": "application/json" });
    res.flushHeaders();
    for (const line of lines) res.write(`${line}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    subscriptions: () => subscriptions,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

const event = (id: string, action: string, labels: Record<string, string> = {}) =>
  JSON.stringify({
    status: action,
    id,
    from: "busybox",
    Type: "container",
    Action: action,
    Actor: { ID: id, Attributes: { ...labels, image: "busybox" } },
  });

test("an event line over 1 MiB is skipped with its container named, and the stream goes on", async () => {
  const [big, small] = ["b".repeat(64), "5".repeat(64)];
  const huge = { SERVICE_X: "v".repeat(MAX_EVENT_LINE) };
  const engine = await streamingEngine([event(big, "health_status: healthy", huge), event(big, "die", huge), event(small, "start")]);
  const events: ContainerEvent[] = [];
  let connected = 0;
  let disconnected = 0;
  const handlers = {
    connected: () => void connected++,
    event: (e: ContainerEvent) => void events.push(e),

    disconnected: () => void disconnected++,
  };
  const watcher = new EngineWatcher({ url: engine.url, timeoutMs: 60_000 }, handlers, { initialMs: 10, maxMs: 10 });
  try {
    watcher.start();
    await waitFor(() => events.length >= 3, { timeoutMs: 10_000, what: "three events" });
    assert.deepEqual(
      events.map((e) => [e.id.slice(0, 3), e.action, e.warning !== undefined]),
      [
        ["bbb", "oversized", true],
        ["bbb", "oversized", true],
        ["555", "start", false],
      ],
    );
    assert.match(events[0]!.warning!, /^ignored: an engine event line over 1048576 characters/);
    assert.deepEqual([connected, disconnected, engine.subscriptions()], [1, 0, 1], "one subscription, never dropped");
  } finally {
    await watcher.stop();
    engine.close();
  }
});

test("a line over the cap that names no container drops the stream, which is subscribed again", async () => {
  const engine = await streamingEngine([`{"Type":"network","x":"${"n".repeat(MAX_EVENT_LINE)}"}`]);
  let disconnected = 0;
  const handlers = {
    connected: () => undefined,
    event: () => undefined,

    disconnected: () => void disconnected++,
  };
  const watcher = new EngineWatcher({ url: engine.url, timeoutMs: 60_000 }, handlers, { initialMs: 10, maxMs: 10 });
  try {
    watcher.start();
    await waitFor(() => engine.subscriptions() >= 2, { timeoutMs: 10_000, what: "a second subscription" });
    assert.ok(disconnected >= 1);
  } finally {
    await watcher.stop();
    engine.close();
  }
});
