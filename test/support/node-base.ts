/**
 * Base images made from this machine's own files, for tests that cannot pull one: a busybox rootfs
 * (also used for Podman's test image), and a Node base that stands in for node:20-alpine when the
 * Dockerfile is built (`--build-arg NODE_IMAGE=registrator-test/node-base:20`).
 */
import { execFile } from "node:child_process";
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { DockerHarness } from "./docker.js";
import { removeDir, tempDir } from "./process.js";

export const NODE_BASE_IMAGE = "registrator-test/node-base:20";

/** What a Node base image offers a Dockerfile: a shell and the usual file tools, as node:20-alpine has. */
const NODE_BASE_APPLETS = [
  "sh",
  "env",
  "ls",
  "cat",
  "cp",
  "mv",
  "rm",
  "mkdir",
  "ln",
  "chmod",
  "echo",
  "true",
  "false",
  "test",
  "[",
  "sleep",
  "grep",
  "sed",
  "id",
  "uname",
  "tar",
  "find",
  "du",
  "head",
  "wc",
];

export function findBusybox(): string {
  const busybox = ["/bin/busybox", "/usr/bin/busybox"].find((path) => existsSync(path));
  if (!busybox) throw new Error("no /bin/busybox for the test image: apt-get install busybox-static");
  return busybox;
}

/** /bin/busybox with one symlink per applet, /etc/passwd and /etc/group, a sticky /tmp. */
export function writeBusyboxRootfs(rootfs: string, applets: readonly string[]): void {
  for (const sub of ["bin", "etc", "tmp", "root"]) mkdirSync(join(rootfs, sub), { recursive: true });
  chmodSync(join(rootfs, "tmp"), 0o1777);
  copyFileSync(findBusybox(), join(rootfs, "bin", "busybox"));
  chmodSync(join(rootfs, "bin", "busybox"), 0o755);
  for (const applet of applets) symlinkSync("busybox", join(rootfs, "bin", applet));
  writeFileSync(join(rootfs, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n");
  writeFileSync(join(rootfs, "etc", "group"), "root:x:0:\nnogroup:x:65534:\n");
}

export function tarDirectory(dir: string, out: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile("tar", ["-C", dir, "-cf", out, "."], (err, _stdout, stderr) =>
      err ? reject(new Error(`tar failed: ${stderr || err.message}`)) : resolve(),
    );
  });
}

/** The shared libraries `ldd` names for a binary, the dynamic loader included. */
export function parseLdd(output: string): string[] {
  const paths: string[] = [];
  for (const line of output.split("\n")) {
    const match = /=>\s*(\/\S+)\s*\(/.exec(line) ?? /^\s*(\/\S+)\s*\(/.exec(line);
    if (match) paths.push(match[1]!);
  }
  return paths;
}

function command(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${file} ${args.join(" ")}: ${stderr || err.message}`)) : resolve(stdout),
    ),
  );
}

/** Where npm lives: `npm root -g` (/usr/lib/node_modules), else Debian's /usr/share/nodejs. */
async function findNpm(): Promise<string> {
  const candidates: string[] = [];
  try {
    candidates.push(join((await command("npm", ["root", "-g"])).trim(), "npm"));
  } catch {
    // npm not on the PATH: try the known places.
  }
  candidates.push("/usr/lib/node_modules/npm", "/usr/local/lib/node_modules/npm", "/usr/share/nodejs/npm");
  const found = candidates.find((dir) => existsSync(join(dir, "bin", "npm-cli.js")));
  if (!found) throw new Error("npm not found (npm root -g, /usr/lib/node_modules/npm, /usr/share/nodejs/npm): apt-get install npm");
  return found;
}

function copyInto(rootfs: string, path: string): void {
  const target = join(rootfs, path);
  mkdirSync(dirname(target), { recursive: true });
  if (!existsSync(target)) copyFileSync(realpathSync(path), target);
}

/**
 * This machine's node, its libraries, and its npm at /usr/lib/node_modules/npm, with busybox for
 * RUN's /bin/sh. The host's CA bundle comes along (and NODE_EXTRA_CA_CERTS when the host sets it):
 * where the npm registry is reached through a proxy with its own CA, `npm ci` in the build stage
 * must trust that CA as the host does.
 */
export async function writeNodeRootfs(rootfs: string): Promise<void> {
  writeBusyboxRootfs(rootfs, NODE_BASE_APPLETS);
  const node = realpathSync(process.execPath);
  copyInto(rootfs, node);
  if (node !== "/usr/bin/node") {
    mkdirSync(join(rootfs, "usr", "bin"), { recursive: true });
    symlinkSync(node, join(rootfs, "usr", "bin", "node"));
  }
  for (const lib of parseLdd(await command("ldd", [node]))) copyInto(rootfs, lib);
  const npm = await findNpm();
  const npmTarget = join(rootfs, "usr", "lib", "node_modules", "npm");
  cpSync(npm, npmTarget, { recursive: true, verbatimSymlinks: true });
  mkdirSync(join(rootfs, "usr", "bin"), { recursive: true });
  symlinkSync("../lib/node_modules/npm/bin/npm-cli.js", join(rootfs, "usr", "bin", "npm"));
  symlinkSync("../lib/node_modules/npm/bin/npx-cli.js", join(rootfs, "usr", "bin", "npx"));
  // npm's scripts start with #!/usr/bin/env node.
  symlinkSync("/bin/busybox", join(rootfs, "usr", "bin", "env"));
  writeFileSync(join(rootfs, "etc", "nsswitch.conf"), "passwd: files\ngroup: files\nhosts: files dns\n");
  for (const ca of ["/etc/ssl/certs/ca-certificates.crt", extraCaFile()]) if (ca && existsSync(ca)) copyInto(rootfs, ca);
}

function extraCaFile(): string | undefined {
  const file = process.env.NODE_EXTRA_CA_CERTS;
  return file && existsSync(file) ? file : undefined;
}

function nodeBaseChanges(): string[] {
  const changes = ["ENV PATH=/usr/local/bin:/usr/bin:/bin", `LABEL registrator-test.node=${process.version}`, 'CMD ["node"]'];
  const extraCa = extraCaFile();
  if (extraCa) changes.push(`ENV NODE_EXTRA_CA_CERTS=${extraCa}`);
  return changes;
}

/**
 * Imports the Node base as NODE_BASE_IMAGE, unless one made from this same node version is there
 * already (left by a run that did not get to remove it).
 */
export async function ensureNodeBase(docker: DockerHarness["docker"]): Promise<string> {
  const existing = await docker(["image", "inspect", "--format", '{{index .Config.Labels "registrator-test.node"}}', NODE_BASE_IMAGE], {
    allowFail: true,
  });
  if (existing.code === 0 && existing.stdout.trim() === process.version) return NODE_BASE_IMAGE;
  const dir = tempDir("node-base");
  try {
    const rootfs = join(dir, "rootfs");
    await writeNodeRootfs(rootfs);
    const tarball = join(dir, "rootfs.tar");
    await tarDirectory(rootfs, tarball);
    await docker(["import", ...nodeBaseChanges().flatMap((change) => ["--change", change]), tarball, NODE_BASE_IMAGE]);
  } finally {
    removeDir(dir);
  }
  return NODE_BASE_IMAGE;
}
