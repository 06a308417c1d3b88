/** The /metrics server's limits: slow or piled-up connections are dropped, and listening everywhere is said. */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { test } from "node:test";
import { DEFAULT_LIMITS, everyInterfaceWarning, serveHttp, type HttpServer } from "../../../src/monitor/server.js";

const routes = { "/health": () => ({ status: 200, contentType: "text/plain", body: "ok\n" }) };

function open(server: HttpServer): Promise<Socket> {
  const port = Number(server.address.split(":").at(-1));
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** What the server sent before it closed the connection, and how long that took. */
function untilClosed(socket: Socket): Promise<{ text: string; ms: number }> {
  const start = Date.now();
  let text = "";
  socket.on("data", (chunk) => (text += chunk));
  socket.on("error", () => undefined);
  return new Promise((resolve) => socket.once("close", () => resolve({ text, ms: Date.now() - start })));
}

test("defaults: 10 s for headers and for the whole request, 64 connections", () => {
  assert.deepEqual(DEFAULT_LIMITS, { headersTimeoutMs: 10_000, requestTimeoutMs: 10_000, maxConnections: 64 });
});

test("a client that never finishes its headers, or sends nothing, is dropped after the headers timeout", async () => {
  const server = await serveHttp({ host: "127.0.0.1", port: 0 }, routes, {
    headersTimeoutMs: 300,
    requestTimeoutMs: 300,
    maxConnections: 8,
  });
  try {
    const partial = await open(server);
    const silent = await open(server);
    partial.write("GET /health HTTP/1.1\r\nHost: x\r\n");
    for (const closed of await Promise.all([untilClosed(partial), untilClosed(silent)])) {
      assert.match(closed.text, /^HTTP\/1\.1 408/);
      assert.ok(closed.ms < 3_000, `closed after ${closed.ms} ms`);
    }
  } finally {
    await server.close();
  }
});

test("connections beyond the cap are refused while the others are held open", async () => {
  const server = await serveHttp({ host: "127.0.0.1", port: 0 }, routes, {
    headersTimeoutMs: 5_000,
    requestTimeoutMs: 5_000,
    maxConnections: 2,
  });
  const held: Socket[] = [];
  try {
    held.push(await open(server), await open(server));
    const extra = await open(server);
    extra.write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    const closed = await untilClosed(extra);
    assert.equal(closed.text, "", "no answer on the connection over the cap");
    held[0]!.write("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert.match((await untilClosed(held[0]!)).text, /^HTTP\/1\.1 200/, "the held ones are still served");
  } finally {
    for (const socket of held) socket.destroy();
    await server.close();
  }
});

test("an empty host, 0.0.0.0 or :: listens on every interface, and says so", async () => {
  for (const host of ["", "0.0.0.0", "::"]) {
    assert.match(everyInterfaceWarning({ host, port: 9335 }) ?? "", /listens on every interface.*127\.0\.0\.1:9335/, JSON.stringify(host));
  }
  for (const host of ["127.0.0.1", "::1", "10.0.0.5", "localhost"])
    assert.equal(everyInterfaceWarning({ host, port: 9335 }), undefined, host);

  const everywhere = await serveHttp({ host: "", port: 0 }, routes);
  const local = await serveHttp({ host: "127.0.0.1", port: 0 }, routes);
  try {
    assert.match(everywhere.warning ?? "", /^--metrics-addr :\d+ listens on every interface/);
    assert.equal(local.warning, undefined);
  } finally {
    await everywhere.close();
    await local.close();
  }
});
