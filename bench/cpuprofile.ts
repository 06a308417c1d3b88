/**
 * Summarises a .cpuprofile (from `npm run bench -- --node-flags "--cpu-prof --cpu-prof-dir=DIR"`):
 * self time by package (npm:<name>, ours:<file>, node-internals, native), the top functions by
 * self time, and inclusive time by package, within a window of the profile.
 *
 *   node dist/bench/cpuprofile.js FILE [fromMs] [toMs]
 *
 * fromMs/toMs are ms since the profile started (start-up: 0 200; steady state: 1500).
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, fromArg, toArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write("usage: node dist/bench/cpuprofile.js FILE [fromMs] [toMs]\n");
  process.exit(2);
}
const from = Number(fromArg ?? 0);
const to = Number(toArg ?? Infinity);
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

function pkg(n: ProfileNode): string {
  const url = n.callFrame.url;
  if (!url) return `(${n.callFrame.functionName || "native"})`;
  const npm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (npm) return `npm:${npm[1]}`;
  if (url.startsWith("node:")) return "node-internals";
  const ours = /dist\/(.*)$/.exec(url);
  return ours ? `ours:${ours[1]}` : url;
}

const self = new Map<string, number>();
const fns = new Map<string, number>();
const inclusive = new Map<string, number>();
let t = 0;
let busy = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const dt = (profile.timeDeltas[i] ?? 0) / 1000;
  t += dt;
  if (t < from || t > to) continue;
  const leaf = byId.get(profile.samples[i] as number);
  if (!leaf) continue;
  const p = pkg(leaf);
  self.set(p, (self.get(p) ?? 0) + dt);
  if (p !== "((idle))") busy += dt;
  const fn = `${leaf.callFrame.functionName || "(anonymous)"} ${p}:${leaf.callFrame.lineNumber + 1}`;
  fns.set(fn, (fns.get(fn) ?? 0) + dt);
  const seen = new Set<string>();
  for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
    const node = byId.get(id);
    if (!node) break;
    const key = pkg(node);
    if (seen.has(key)) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + dt);
  }
}

const print = (title: string, map: Map<string, number>, rows = 20) => {
  process.stdout.write(`--- ${title}\n`);
  for (const [key, ms] of [...map].sort((a, b) => b[1] - a[1]).slice(0, rows)) {
    process.stdout.write(`${ms.toFixed(1).padStart(9)} ms  ${key}\n`);
  }
};
process.stdout.write(`${file}: window ${from}–${to === Infinity ? "end" : to} ms, ${busy.toFixed(1)} ms busy (not idle)\n`);
print("self time by package", self);
print("top functions by self time", fns);
print("inclusive time by package", inclusive);
