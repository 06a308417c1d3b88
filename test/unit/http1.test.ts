import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { HttpClient } from "../../src/http-client.js";
import { Http1Pool, requestHead, ResponseReader, type Http1Answer } from "../../src/http1.js";

/** Feeds `text` one byte at a time: every framing must survive any split. */
function readBytewise(text: string, method = "GET", limit = 1024): { answer?: Http1Answer; reader: ResponseReader } {
  const reader = new ResponseReader(method, limit);
  const bytes = Buffer.from(text, "latin1");
  for (let i = 0; i < bytes.length; i++) {
    const answer = reader.push(bytes.subarray(i, i + 1));
    if (answer) {
      assert.equal(i, bytes.length - 1, "the answer completed before its last byte");
      return { answer, reader };
    }
  }
  return { reader };
}

describe("reading an answer", () => {
  test("a body of Content-Length bytes, split anywhere", () => {
    const { answer, reader } = readBytewise('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"a":"b c"}');
    assert.equal(answer?.status, 200);
    assert.equal(answer?.headers["content-type"], "application/json");
    assert.equal(answer?.body.toString(), '{"a":"b c"}');
    assert.equal(reader.keepAlive, true);
  });

  test("a chunked body with chunk extensions and trailers", () => {
    const text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n";
    const { answer, reader } = readBytewise(text);
    assert.equal(answer?.body.toString(), "hello, world");
    assert.equal(reader.keepAlive, true);
  });

  test("a body without length ends with the connection, which is then not reused", () => {
    const { answer, reader } = readBytewise("HTTP/1.1 200 OK\r\n\r\npartial ");
    assert.equal(answer, undefined);
    reader.push(Buffer.from("and the rest"));
    assert.equal(reader.end().body.toString(), "partial and the rest");
    assert.equal(reader.keepAlive, false);
  });

  test("HEAD, 204 and 304 answers have no body, whatever their headers say", () => {
    assert.equal(readBytewise("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n", "HEAD").answer?.body.length, 0);
    assert.equal(readBytewise("HTTP/1.1 204 No Content\r\n\r\n").answer?.status, 204);
    assert.equal(readBytewise("HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n").answer?.status, 304);
  });

  test("an interim 100 Continue is passed over", () => {
    const { answer } = readBytewise("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
    assert.equal(answer?.status, 201);
    assert.equal(answer?.body.toString(), "ok");
  });

  test("Connection: close, and HTTP/1.0 without keep-alive, end the connection after the answer", () => {
    assert.equal(readBytewise("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").reader.keepAlive, false);
    assert.equal(readBytewise("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").reader.keepAlive, false);
    assert.equal(readBytewise("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").reader.keepAlive, true);
  });

  test("bytes after the answer make the connection unfit for another request", () => {
    const reader = new ResponseReader("GET", 1024);
    assert.ok(reader.push(Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\n")));
    assert.equal(reader.keepAlive, false);
  });

  test("repeated headers are joined; names are lowercased", () => {
    const { answer } = readBytewise("HTTP/1.1 200 OK\r\nVary: a\r\nVARY: b\r\nContent-Length: 0\r\n\r\n");
    assert.equal(answer?.headers.vary, "a, b");
  });

  test("an answer over the cap is an error, by its length or by its chunks", () => {
    assert.throws(() => readBytewise("HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n"), /the answer is larger than 1024 bytes/);
    const chunked = `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n${"x".repeat(1024)}\r\n1\r\nx\r\n0\r\n\r\n`;
    assert.throws(() => readBytewise(chunked), /the answer is larger than 1024 bytes/);
  });

  test("what is not HTTP/1.x, or ends early, is an error that says so", () => {
    assert.throws(() => readBytewise("SSH-2.0-OpenSSH_9.2\r\n\r\n"), /not an HTTP\/1\.x answer: "SSH-2\.0-OpenSSH_9\.2"/);
    assert.throws(() => readBytewise("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"), /Content-Length is not a number/);
    assert.throws(() => readBytewise("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), /a chunk of the answer has no size/);
    const { reader } = readBytewise("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    assert.throws(() => reader.end(), /the connection closed in the middle of the answer/);
    assert.throws(() => new ResponseReader("GET", 10).end(), /the connection closed before an answer/);
  });
});

describe("writing a request", () => {
  test("the head carries the host and the body's length", () => {
    assert.equal(
      requestHead("PUT", "/v1/kv/a?x=1", "127.0.0.1:8500", { "content-type": "application/json", "X-Token": "t" }, 7),
      "PUT /v1/kv/a?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8500\r\ncontent-type: application/json\r\nX-Token: t\r\nContent-Length: 7\r\n\r\n",
    );
  });

  test("a line break in a header or a space in the path is refused, not sent", () => {
    assert.throws(() => requestHead("GET", "/a", "h", { "X-Token": "t\r\nX-Evil: 1" }, undefined), /the X-Token header holds a line break/);
    assert.throws(() => requestHead("GET", "/a b", "h", {}, undefined), /the request path holds a space or a control character/);
    assert.throws(() => requestHead("GET", "/a", "h", { "bad name": "v" }, undefined), /not a header name/);
  });
});

describe("the connection pool, against a server", () => {
  let server: Server;
  let port: number;
  const connections: Socket[] = [];

  before(async () => {
    server = createServer((req, res) => {
      if (req.url === "/slow") return void setTimeout(() => res.end("late"), 200);
      if (req.url === "/never") return;
      if (req.url === "/missing") return void res.writeHead(404).end("no such thing");
      if (req.url === "/stream") {
        res.writeHead(200, { "content-type": "application/json" });
        res.write('{"n":1}\n');
        setTimeout(() => res.write('{"n":2}\n'), 20);
        return;
      }
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => res.end(`${req.method} ${req.url} ${body}`));
    });
    server.on("connection", (socket: Socket) => connections.push(socket));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const get = (pool: Http1Pool, path: string, timeoutMs = 5000) =>
    pool.request({ method: "GET", path, headers: {}, timeoutMs, maxBodyBytes: 1 << 20 });

  test("requests one after another share one kept-alive connection", async () => {
    const pool = new Http1Pool({ host: "127.0.0.1", port }, 4);
    const before = connections.length;
    for (let i = 0; i < 20; i++) assert.equal((await get(pool, `/n${i}`)).body.toString(), `GET /n${i} `);
    assert.equal(connections.length - before, 1);
    pool.close();
  });

  test("requests at once open no more connections than allowed, and all are answered", async () => {
    const pool = new Http1Pool({ host: "127.0.0.1", port }, 3);
    const before = connections.length;
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => get(pool, `/p${i}`)));
    assert.deepEqual(
      answers.map((a) => a.body.toString()),
      Array.from({ length: 30 }, (_, i) => `GET /p${i} `),
    );
    assert.equal(connections.length - before, 3);
    pool.close();
  });

  test("a body is sent with its length", async () => {
    const pool = new Http1Pool({ host: "127.0.0.1", port }, 1);
    const answer = await pool.request({
      method: "PUT",
      path: "/put",
      headers: {},
      body: Buffer.from('{"k":"v"}'),
      timeoutMs: 5000,
      maxBodyBytes: 1024,
    });
    assert.equal(answer.body.toString(), 'PUT /put {"k":"v"}');
    pool.close();
  });

  test("a connection the server closed while idle is not used again", async () => {
    const pool = new Http1Pool({ host: "127.0.0.1", port }, 1);
    await get(pool, "/first");
    server.closeIdleConnections();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal((await get(pool, "/second")).body.toString(), "GET /second ");
    pool.close();
  });

  test("no answer within the deadline fails that request, and the next one is answered", async () => {
    const pool = new Http1Pool({ host: "127.0.0.1", port }, 1);
    await assert.rejects(get(pool, "/never", 100), /GET \/never: no answer within 100 ms/);
    assert.equal((await get(pool, "/after")).body.toString(), "GET /after ");
    pool.close();
  });

  test("the deadline runs from the send, not while the request waits for a connection", async () => {
    const pool = new Http1Pool({ host: "127.0.0.1", port }, 1);
    const slow = get(pool, "/slow");
    const queued = get(pool, "/queued", 150);
    assert.equal((await queued).body.toString(), "GET /queued ");
    assert.equal((await slow).body.toString(), "late");
    pool.close();
  });

  test("closing the pool fails what is waiting or in flight", async () => {
    const pool = new Http1Pool({ host: "127.0.0.1", port }, 1);
    const inFlight = get(pool, "/slow");
    const waiting = get(pool, "/queued");
    pool.close();
    await assert.rejects(inFlight, /the client was closed/);
    await assert.rejects(waiting, /the client was closed/);
  });

  test("a streamed answer is read as it comes, and destroying it ends the connection", async () => {
    const pool = new Http1Pool({ host: "127.0.0.1", port }, 1);
    const stream = await pool.stream({ method: "GET", path: "/stream", headers: {}, timeoutMs: 5000 });
    assert.equal(stream.status, 200);
    stream.body.setEncoding("utf8");
    const lines: string[] = [];
    await new Promise<void>((resolve) => {
      stream.body.on("data", (chunk: string) => {
        lines.push(...chunk.split("\n").filter(Boolean));
        if (lines.length === 2) resolve();
      });
    });
    assert.deepEqual(lines, ['{"n":1}', '{"n":2}']);
    const socket = connections[connections.length - 1]!;
    const closed = new Promise((resolve) => socket.once("close", resolve));
    stream.body.destroy();
    await closed;
    pool.close();
  });

  test("a stream the server refuses is an error with the server's words", async () => {
    const client = new HttpClient({ url: `http://127.0.0.1:${port}`, timeoutMs: 5000 });
    await assert.rejects(client.stream("GET", "/missing"), /GET \/missing: HTTP 404: no such thing/);
    await assert.rejects(client.stream("GET", "/never", { timeoutMs: 100 }), /GET \/never: no answer within 100 ms/);
    client.close();
  });
});

describe("a kept-alive connection the server dropped as the request went out", () => {
  let server: NetServer;
  let port: number;
  let requests = 0;

  before(async () => {
    // Answers the first request of each connection and drops the connection at the second, unanswered.
    server = createNetServer((socket) => {
      let seen = 0;
      socket.on("data", (data) => {
        for (const _ of data.toString().matchAll(/\r\n\r\n/g)) {
          requests++;
          if (++seen === 1) socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
          else socket.destroy();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(() => server.close());

  test("a GET is sent again on a new connection, once", async () => {
    const pool = new Http1Pool({ host: "127.0.0.1", port }, 1);
    await pool.request({ method: "GET", path: "/a", headers: {}, timeoutMs: 5000, maxBodyBytes: 1024 });
    const before = requests;
    const answer = await pool.request({ method: "GET", path: "/b", headers: {}, timeoutMs: 5000, maxBodyBytes: 1024 });
    assert.equal(answer.body.toString(), "ok");
    assert.equal(requests - before, 2);
    pool.close();
  });

  test("a POST, which may not be repeated, fails instead", async () => {
    const pool = new Http1Pool({ host: "127.0.0.1", port }, 1);
    await pool.request({ method: "GET", path: "/a", headers: {}, timeoutMs: 5000, maxBodyBytes: 1024 });
    const before = requests;
    await assert.rejects(
      pool.request({ method: "POST", path: "/txn", headers: {}, body: Buffer.from("{}"), timeoutMs: 5000, maxBodyBytes: 1024 }),
    );
    assert.equal(requests - before, 1);
    pool.close();
  });
});

test("a server that is not there: the client names it and the reason", async () => {
  const closed = createNetServer();
  await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  const client = new HttpClient({ url: `http://127.0.0.1:${port}`, timeoutMs: 2000 });
  await assert.rejects(client.call("GET", "/x"), new RegExp(`cannot connect to http://127\\.0\\.0\\.1:${port}: ECONNREFUSED`));
  await assert.rejects(client.stream("GET", "/events"), /ECONNREFUSED/);
  client.close();
});
