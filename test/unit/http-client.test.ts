import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { RejectedError } from "../../src/errors.js";
import { HttpClient, HttpStatusError } from "../../src/http-client.js";

/** Answers `/<status>` with that status and the body `said <status>`. */
let server: Server;
let client: HttpClient;

before(async () => {
  server = createServer((req, res) => {
    if (req.url === "/big") return void res.end("x".repeat(2048));
    const status = Number(req.url!.slice(1));
    res.writeHead(status, { "content-type": "application/json" });
    res.end(status === 204 ? undefined : JSON.stringify(`said ${status}`));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  client = new HttpClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, timeoutMs: 5000, maxBodyBytes: 1024 });
});

after(() => {
  client.close();
  server.close();
});

describe("the one response rule", () => {
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

  test("an answer larger than the cap is an error, not memory", async () => {
    await assert.rejects(client.call("GET", "/big"), /GET \/big: the answer is larger than 1024 bytes/);
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
});
