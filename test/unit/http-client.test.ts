import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { RejectedError } from "../../src/errors.js";
import { HttpClient, HttpStatusError } from "../../src/http-client.js";
import { makeCerts } from "../support/tls.js";

function listen(server: Server | NetServer, where: number | string = 0): Promise<void> {
  return new Promise((resolve) => (typeof where === "string" ? server.listen(where, resolve) : server.listen(where, "127.0.0.1", resolve)));
}

function portOf(server: Server | NetServer): number {
  return (server.address() as AddressInfo).port;
}

function closed(server: Server | NetServer): Promise<void> {
  if ("closeAllConnections" in server) server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** The lines of a stream, as they come, until `count` have. */
function readLines(stream: Readable, count: number): Promise<string[]> {
  stream.setEncoding("utf8");
  const lines: string[] = [];
  let pending = "";
  return new Promise((resolve, reject) => {
    stream.on("data", (chunk: string) => {
      pending += chunk;
      const parts = pending.split("\n");
      pending = parts.pop()!;
      lines.push(...parts);
      if (lines.length >= count) resolve(lines);
    });
    stream.on("error", reject);
  });
}

/**
 * `/<status>`: that status and the body `"said <status>"`; `/big`, `/big-chunked`: 2 KiB, by length or
 * in chunks; `/slow`: answered after 300 ms; `/never`: not answered; `/stream`: two lines, then open;
 * anything else: the method, path and body it was sent.
 */
function answer(req: IncomingMessage, res: ServerResponse): void {
  if (req.url === "/big") return void res.end("x".repeat(2048));
  if (req.url === "/big-chunked") {
    for (let i = 0; i < 4; i++) res.write("x".repeat(512));
    return void res.end();
  }
  if (req.url === "/slow") return void setTimeout(() => res.end("late"), 300);
  if (req.url === "/never") return;
  if (req.url === "/stream") {
    streamSockets.push(req.socket);
    res.writeHead(200, { "content-type": "application/json" });
    res.write('{"n":1}\n');
    return void setTimeout(() => res.write('{"n":2}\n'), 20);
  }
  const status = Number(req.url!.slice(1));
  if (status >= 200) {
    res.writeHead(status, { "content-type": "application/json" });
    return void res.end(status === 204 ? undefined : JSON.stringify(`said ${status}`));
  }
  let body = "";
  req.on("data", (chunk: Buffer) => (body += chunk.toString()));
  req.on("end", () => res.end(`${req.method} ${req.url} ${body}`));
}

let server: Server;
let url: string;
const connections: Socket[] = [];
/** The server's end of each `/stream` answered. */
const streamSockets: Socket[] = [];

before(async () => {
  server = createServer(answer);
  server.on("connection", (socket: Socket) => connections.push(socket));
  await listen(server);
  url = `http://127.0.0.1:${portOf(server)}`;
});

after(() => closed(server));

describe("the one response rule", () => {
  let client: HttpClient;
  before(() => (client = new HttpClient({ url, timeoutMs: 5000, maxBodyBytes: 1024 })));
  after(() => client.close());

  test("a client error that would repeat is a refusal; a missing thing, a conflict or a rate limit is not", async () => {
    for (const status of [400, 403, 413, 422]) {
      await assert.rejects(
        client.call("PUT", `/${status}`),
        (err: Error) => err instanceof RejectedError && err.message === `PUT /${status}: HTTP ${status}: "said ${status}"`,
      );
    }
    for (const status of [404, 408, 409, 429, 500, 503]) {
      await assert.rejects(
        client.call("PUT", `/${status}`),
        (err: Error) => err instanceof HttpStatusError && !(err instanceof RejectedError),
      );
    }
  });

  test("any 2xx passes, with its body", async () => {
    assert.equal((await client.call("GET", "/200")).text, '"said 200"');
    assert.equal(await client.json("GET", "/201"), "said 201");
    assert.equal(await client.json("GET", "/204"), undefined);
  });

  test("listed statuses pass too, or those a predicate accepts", async () => {
    assert.equal((await client.call("DELETE", "/404", { accept: [404] })).status, 404);
    assert.equal((await client.call("PUT", "/500", { accept: (status, body) => status === 500 && body.includes("said") })).status, 500);
  });

  test("a refusal becomes RejectedError with the caller's words", async () => {
    const refusal = (status: number, body: string) => (status === 400 ? `refused: ${body}` : undefined);
    await assert.rejects(
      client.call("PUT", "/400", { refusal }),
      (err: Error) => err instanceof RejectedError && err.message === 'refused: "said 400"',
    );
  });

  test("anything else is an HttpStatusError naming the request, the status and the body", async () => {
    const refusal = (status: number) => (status === 400 ? "refused" : undefined);
    await assert.rejects(
      client.call("PUT", "/503", { refusal }),
      (err: Error) => err instanceof HttpStatusError && err.status === 503 && err.message === 'PUT /503: HTTP 503: "said 503"',
    );
  });

  test("an answer larger than the cap is an error, not memory, whether its length is told or chunked", async () => {
    await assert.rejects(client.call("GET", "/big"), /^Error: GET \/big: the answer is larger than 1024 bytes$/);
    await assert.rejects(client.call("GET", "/big-chunked"), /^Error: GET \/big-chunked: the answer is larger than 1024 bytes$/);
    assert.equal((await client.call("GET", "/200")).status, 200);
  });
});

describe("connections", () => {
  test("requests one after another share one kept-alive connection", async () => {
    const client = new HttpClient({ url });
    const before = connections.length;
    for (let i = 0; i < 20; i++) assert.equal((await client.call("GET", `/n${i}`)).text, `GET /n${i} `);
    assert.equal(connections.length - before, 1);
    client.close();
  });

  test("requests at once open at most 16 connections, and all are answered", async () => {
    const client = new HttpClient({ url });
    const before = connections.length;
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => client.call("PUT", `/p${i}`, { body: { i } })));
    assert.deepEqual(
      answers.map((a) => a.text),
      Array.from({ length: 40 }, (_, i) => `PUT /p${i} {"i":${i}}`),
    );
    assert.ok(connections.length - before <= 16, `${connections.length - before} connections`);
    client.close();
  });

  test("a connection the server closed while idle is not used again", async () => {
    const client = new HttpClient({ url });
    await client.call("GET", "/first");
    server.closeIdleConnections();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal((await client.call("GET", "/second")).text, "GET /second ");
    client.close();
  });

  test("a path under the URL's own is kept, and headers are sent", async () => {
    const client = new HttpClient({ url: `${url}/base/`, headers: { "x-token": "t" } });
    assert.equal((await client.call("POST", "/x", { body: "raw" })).text, "POST /base/x raw");
    client.close();
  });

  test("a header that would split the request is refused, not sent", async () => {
    const client = new HttpClient({ url });
    await assert.rejects(client.call("GET", "/x", { headers: { "x-token": "t\r\nx-evil: 1" } }), /GET \/x: .*x-token/);
    client.close();
  });
});

describe("the deadline", () => {
  test("no answer within the deadline fails that request, and the next one is answered", async () => {
    const client = new HttpClient({ url });
    await assert.rejects(client.call("GET", "/never", { timeoutMs: 100 }), /^Error: GET \/never: no answer within 100 ms$/);
    assert.equal((await client.call("GET", "/after")).text, "GET /after ");
    client.close();
  });

  test("it runs from the send, not while the request waits for a connection", async () => {
    const client = new HttpClient({ url });
    const slow = Array.from({ length: 16 }, () => client.call("GET", "/slow"));
    const queued = client.call("GET", "/queued", { timeoutMs: 200 });
    assert.equal((await queued).text, "GET /queued ");
    assert.deepEqual(
      (await Promise.all(slow)).map((a) => a.text),
      Array(16).fill("late"),
    );
    client.close();
  });

  test("closing the client fails what is waiting or in flight", async () => {
    const client = new HttpClient({ url });
    const inFlight = Array.from({ length: 16 }, () => client.call("GET", "/never"));
    const waiting = client.call("GET", "/queued");
    client.close();
    for (const request of inFlight) await assert.rejects(request, /GET \/never: the client was closed/);
    await assert.rejects(waiting, /GET \/queued: the client was closed/);
    await assert.rejects(client.call("GET", "/later"), /the client was closed/);
  });
});

describe("streams", () => {
  test("a chunked answer is read line by line as it comes; destroying it ends the connection", async () => {
    const client = new HttpClient({ url, timeoutMs: 5000 });
    const stream = await client.stream("GET", "/stream");
    assert.deepEqual(await readLines(stream, 2), ['{"n":1}', '{"n":2}']);
    const socket = streamSockets[streamSockets.length - 1]!;
    const ended = new Promise((resolve) => socket.once("close", resolve));
    stream.destroy();
    await ended;
    client.close();
  });

  test("closing the client ends its streams", async () => {
    const client = new HttpClient({ url, timeoutMs: 5000 });
    const stream = await client.stream("GET", "/stream");
    const ended = new Promise((resolve) => stream.once("close", resolve));
    client.close();
    await ended;
  });

  test("a stream the server refuses, or does not answer, is an error with the server's words", async () => {
    const client = new HttpClient({ url, timeoutMs: 5000 });
    await assert.rejects(client.stream("GET", "/404"), /GET \/404: HTTP 404: "said 404"/);
    await assert.rejects(client.stream("GET", "/never", { timeoutMs: 100 }), /GET \/never: no answer within 100 ms/);
    client.close();
  });
});

describe("a server speaking raw HTTP/1.1", () => {
  let raw: NetServer;
  let requests = 0;
  let rawUrl: string;

  before(async () => {
    // /until-close: a body without length, ended by closing; /cut: a body that stops short;
    // anything else: the first request of a connection is answered, the second dropped unanswered.
    raw = createNetServer((socket) => {
      let seen = 0;
      socket.on("data", (data) => {
        for (const [head] of data.toString().matchAll(/^[A-Z]+ \S+/gm)) {
          requests++;
          if (head.endsWith("/until-close")) socket.end("HTTP/1.1 200 OK\r\n\r\nall of it, until the end");
          else if (head.endsWith("/cut")) socket.end("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
          else if (++seen === 1) socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
          else socket.destroy();
        }
      });
    });
    await listen(raw);
    rawUrl = `http://127.0.0.1:${portOf(raw)}`;
  });

  after(() => closed(raw));

  test("a body without a length is read until the server closes", async () => {
    const client = new HttpClient({ url: rawUrl });
    assert.equal((await client.call("GET", "/until-close")).text, "all of it, until the end");
    await assert.rejects(client.call("GET", "/cut"), /GET \/cut: /);
    client.close();
  });

  test("a GET that met a kept-alive connection the server dropped is sent again, once", async () => {
    const client = new HttpClient({ url: rawUrl });
    await client.call("GET", "/a");
    const before = requests;
    assert.equal((await client.call("GET", "/b")).text, "ok");
    assert.equal(requests - before, 2);
    client.close();
  });

  test("a POST, which may not be repeated, fails instead", async () => {
    const client = new HttpClient({ url: rawUrl });
    await client.call("GET", "/a");
    const before = requests;
    await assert.rejects(client.call("POST", "/txn", { body: {} }), /POST \/txn: (socket hang up|read ECONNRESET)/);
    assert.equal(requests - before, 1);
    client.close();
  });
});

describe("where the server is", () => {
  test("over a unix socket: requests and streams", async () => {
    const dir = mkdtempSync(join(tmpdir(), "http-client-"));
    const socketPath = join(dir, "api.sock");
    const local = createServer(answer);
    await listen(local, socketPath);
    const client = new HttpClient({ url: "http://docker", socketPath });
    assert.equal((await client.call("GET", "/over-unix")).text, "GET /over-unix ");
    assert.equal(client.origin, `unix://${socketPath}`);
    assert.deepEqual(await readLines(await client.stream("GET", "/stream"), 1), ['{"n":1}']);
    client.close();
    await closed(local);
    rmSync(dir, { recursive: true, force: true });
  });

  test("over TLS, with the CA named and a client certificate the server requires", async () => {
    const dir = mkdtempSync(join(tmpdir(), "http-client-tls-"));
    const certs = await makeCerts(dir);
    const read = (file: string) => readFileSync(file);
    const secured = createHttpsServer(
      { ca: read(certs.caFile), cert: read(certs.certFile), key: read(certs.keyFile), requestCert: true, rejectUnauthorized: true },
      answer,
    );
    await listen(secured as unknown as Server);
    const port = portOf(secured as unknown as Server);
    const client = new HttpClient({
      url: `https://localhost:${port}`,
      tls: { ca: read(certs.caFile), cert: read(certs.clientCertFile), key: read(certs.clientKeyFile) },
    });
    assert.equal((await client.call("GET", "/over-tls")).text, "GET /over-tls ");
    assert.deepEqual(await readLines(await client.stream("GET", "/stream"), 1), ['{"n":1}']);
    client.close();
    const anonymous = new HttpClient({ url: `https://localhost:${port}`, tls: { ca: read(certs.caFile) } });
    await assert.rejects(anonymous.call("GET", "/x"));
    anonymous.close();
    await closed(secured as unknown as Server);
    rmSync(dir, { recursive: true, force: true });
  });

  test("a server that is not there: the client names it and the reason", async () => {
    const gone = createNetServer();
    await listen(gone);
    const port = portOf(gone);
    await closed(gone);
    const client = new HttpClient({ url: `http://127.0.0.1:${port}`, timeoutMs: 2000 });
    await assert.rejects(client.call("GET", "/x"), new RegExp(`^Error: cannot connect to http://127\\.0\\.0\\.1:${port}: ECONNREFUSED$`));
    await assert.rejects(client.stream("GET", "/events"), /ECONNREFUSED/);
    client.close();
  });
});
