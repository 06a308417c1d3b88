import assert from "node:assert/strict";
import { lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { FileAdapter, FILE_MODE, randomSuffix } from "../../../src/registry/file.js";
import type { Service } from "../../../src/service/types.js";
import { tempDir } from "../../support/process.js";

const service = (id: string): Service => ({
  id,
  name: "web",
  ip: "10.0.0.5",
  port: 80,
  tags: [],
  attrs: {},
  ttl: 0,
  origin: { containerId: "c", containerName: "web", exposedPort: "80", hostPort: "80", hostIp: "", protocol: "tcp" },
});

/** A directory with a file someone else owns, the kind a planted symlink would aim at. */
function scene() {
  const dir = tempDir("file-backend");
  const victim = join(dir, "victim");
  writeFileSync(victim, "untouched\n");
  return { dir, victim, target: join(dir, "services.json") };
}

test("the file holds every service sorted by id, with no bits beyond 0640", async () => {
  const { target } = scene();
  const adapter = new FileAdapter(target);
  await adapter.register(service("b"));
  await adapter.register(service("a"));
  await adapter.close();
  assert.deepEqual(
    (JSON.parse(readFileSync(target, "utf8")) as Service[]).map((s) => s.id),
    ["a", "b"],
  );
  assert.equal(statSync(target).mode & 0o777 & ~FILE_MODE, 0);
});

test("a symlink at the old predictable temp name changes nothing", async () => {
  const { dir, victim, target } = scene();
  const planted = join(dir, `.services.json.${process.pid}.tmp`);
  symlinkSync(victim, planted);
  await new FileAdapter(target).register(service("a"));
  assert.equal(readFileSync(victim, "utf8"), "untouched\n");
  assert.ok(lstatSync(planted).isSymbolicLink(), "the planted link is left alone");
  assert.equal((JSON.parse(readFileSync(target, "utf8")) as Service[])[0]?.id, "a");
});

test("a symlink planted at the very temp name is refused, not written through, and not removed", async () => {
  const { dir, victim, target } = scene();
  const planted = join(dir, ".services.json.guessed.tmp");
  symlinkSync(victim, planted);
  const adapter = new FileAdapter(target, () => "guessed");
  await assert.rejects(adapter.register(service("a")), /EEXIST/);
  assert.equal(readFileSync(victim, "utf8"), "untouched\n");
  assert.ok(lstatSync(planted).isSymbolicLink());
});

test("a dangling symlink at the temp name is not followed to create a file", async () => {
  const { dir, target } = scene();
  const elsewhere = join(dir, "created-through-link");
  symlinkSync(elsewhere, join(dir, ".services.json.guessed.tmp"));
  await assert.rejects(new FileAdapter(target, () => "guessed").register(service("a")), /EEXIST/);
  assert.throws(() => lstatSync(elsewhere), /ENOENT/);
});

test("a symlink at the target itself is replaced, its destination untouched", async () => {
  const { victim, target } = scene();
  symlinkSync(victim, target);
  await new FileAdapter(target).register(service("a"));
  assert.equal(readFileSync(victim, "utf8"), "untouched\n");
  assert.ok(!lstatSync(target).isSymbolicLink());
});

test("temp names are unpredictable: 96 random bits each", () => {
  const names = Array.from({ length: 100 }, randomSuffix);
  assert.ok(names.every((n) => /^[0-9a-f]{24}$/.test(n)));
  assert.equal(new Set(names).size, 100);
});

test("a failed write leaves no temp file behind", async () => {
  const { dir, target } = scene();
  mkdirSync(target);
  await assert.rejects(new FileAdapter(target).register(service("a")), /EISDIR|EEXIST|ENOTEMPTY|EPERM/);
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.endsWith(".tmp")),
    [],
  );
});
