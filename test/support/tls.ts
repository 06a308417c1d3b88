import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface TestCerts {
  caFile: string;
  certFile: string;
  keyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
}

export interface CertOptions {
  /** Names and IPs the server certificate is valid for, besides 127.0.0.1 and localhost. */
  serverNames?: string[];
}

/** A throw-away CA, a server certificate for 127.0.0.1/localhost and a client certificate, as PEM files in dir. */
export async function makeCerts(dir: string, opts: CertOptions = {}): Promise<TestCerts> {
  mkdirSync(dir, { recursive: true });
  const file = (name: string): string => join(dir, name);
  await makeCa(file("ca.key"), file("ca.pem"));
  const names = ["127.0.0.1", "localhost", ...(opts.serverNames ?? [])];
  await makeLeaf(dir, "server", "localhost", [
    `subjectAltName=${[...new Set(names)].map(sanEntry).join(",")}`,
    // Go servers (etcd, Consul) also use this certificate as a client towards their peers.
    "extendedKeyUsage=serverAuth,clientAuth",
  ]);
  await makeLeaf(dir, "client", "registrator-test-client", ["extendedKeyUsage=clientAuth"]);
  return {
    caFile: file("ca.pem"),
    certFile: file("server.pem"),
    keyFile: file("server.key"),
    clientCertFile: file("client.pem"),
    clientKeyFile: file("client.key"),
  };
}

function sanEntry(name: string): string {
  return isIP(name) ? `IP:${name}` : `DNS:${name}`;
}

async function makeCa(keyFile: string, certFile: string): Promise<void> {
  await openssl([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-sha256",
    "-days",
    "3650",
    "-subj",
    "/CN=registrator test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
    "-keyout",
    keyFile,
    "-out",
    certFile,
  ]);
}

async function makeLeaf(dir: string, name: string, commonName: string, extensions: string[]): Promise<void> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, ["basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment", ...extensions, ""].join("\n"));
  await openssl(["req", "-newkey", "rsa:2048", "-nodes", "-sha256", "-subj", `/CN=${commonName}`, "-keyout", key, "-out", csr]);
  await openssl([
    "x509",
    "-req",
    "-sha256",
    "-days",
    "3650",
    "-in",
    csr,
    "-CA",
    join(dir, "ca.pem"),
    "-CAkey",
    join(dir, "ca.key"),
    // A random serial instead of -CAcreateserial: no ca.srl state file.
    "-set_serial",
    `0x${randomBytes(8).toString("hex")}`,
    "-extfile",
    ext,
    "-out",
    join(dir, `${name}.pem`),
  ]);
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run("openssl", args);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === "ENOENT") throw new Error("openssl not found: apt-get install openssl");
    throw new Error(`openssl ${args[0]} failed: ${e.stderr ?? e.message}`);
  }
}
