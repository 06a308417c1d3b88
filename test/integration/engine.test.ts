/** The engine address as the docker CLI reads it: DOCKER_HOST over TCP with TLS, against a daemon of the test's own. */
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { startPrivateDocker, type PrivateDocker } from "../support/docker.js";
import { freePort } from "../support/ports.js";
import { tempDir } from "../support/process.js";
import { runRegistrator } from "../support/registrator.js";
import { makeCerts } from "../support/tls.js";
import { startEtcd, type EtcdServer } from "../support/etcd.js";

let docker: PrivateDocker | undefined;
let etcd: EtcdServer | undefined;
after(async () => {
  await docker?.stop();
  await etcd?.stop();
});

test("DOCKER_HOST=tcp:// with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH: registers the TLS daemon's containers", async () => {
  const dir = tempDir("engine-tls");
  const certs = await makeCerts(join(dir, "pki"));
  // The layout the docker CLI expects in DOCKER_CERT_PATH.
  const certPath = join(dir, "client");
  mkdirSync(certPath);
  copyFileSync(certs.caFile, join(certPath, "ca.pem"));
  copyFileSync(certs.clientCertFile, join(certPath, "cert.pem"));
  copyFileSync(certs.clientKeyFile, join(certPath, "key.pem"));

  const port = await freePort();
  docker = await startPrivateDocker({ tls: { port, ca: certs.caFile, cert: certs.certFile, key: certs.keyFile } });
  etcd = await startEtcd();
  const name = `engine-t-tls-${process.pid}`;
  await docker.run(["--name", name, "-p", "10100:80", "-e", "SERVICE_NAME=overtls", await docker.image("engine/app")]);

  const tls = { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: certPath };
  const once = await runRegistrator(["--once", "-ip", "127.0.0.1", `etcd://${etcd.host}/tls`], tls);
  assert.equal(once.code, 0, once.stderr + once.stdout);
  assert.equal(await etcd.get(`/tls/overtls/${hostname()}:${name}:80`), "127.0.0.1:10100");

  // A DOCKER_CERT_PATH without the certificates is a configuration error: exit 2, with the reason.
  const refused = await runRegistrator(["--once", "-ip", "127.0.0.1", `etcd://${etcd.host}/tls`], {
    ...tls,
    DOCKER_CERT_PATH: join(dir, "pki-missing"),
  });
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /^registrator: cannot read ca.pem in .*pki-missing \(DOCKER_CERT_PATH\): ENOENT$/m);
});
