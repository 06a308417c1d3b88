/**
 * Compares two V8 heap snapshots (from `npm run bench -- --heap-snapshots DIR`, or any
 * --heapsnapshot-signal run): objects by constructor / type, count and shallow size, largest growth
 * first. A leak shows as a count that grows with the number of containers seen.
 *
 *   node dist/bench/heap-diff.js before.heapsnapshot after.heapsnapshot [rows]
 */
import { readFileSync } from "node:fs";

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

interface Group {
  count: number;
  size: number;
}

function summarize(file: string): { groups: Map<string, Group>; total: number } {
  const snap = JSON.parse(readFileSync(file, "utf8")) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const stride = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const groups = new Map<string, Group>();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += stride) {
    const type = types[snap.nodes[i + typeAt] as number] ?? "?";
    const rawName = snap.strings[snap.nodes[i + nameAt] as number] ?? "?";
    // Strings and code are grouped by type only; objects by constructor name.
    const name = type === "object" || type === "closure" ? `${type} ${rawName}` : type;
    const size = snap.nodes[i + sizeAt] as number;
    total += size;
    const g = groups.get(name) ?? { count: 0, size: 0 };
    g.count++;
    g.size += size;
    groups.set(name, g);
  }
  return { groups, total };
}

const [a, b, rowsArg] = process.argv.slice(2);
if (!a || !b) {
  process.stderr.write("usage: node dist/bench/heap-diff.js before.heapsnapshot after.heapsnapshot [rows]\n");
  process.exit(2);
}
const before = summarize(a);
const after = summarize(b);
const keys = new Set([...before.groups.keys(), ...after.groups.keys()]);
const rows = [...keys]
  .map((key) => {
    const x = before.groups.get(key) ?? { count: 0, size: 0 };
    const y = after.groups.get(key) ?? { count: 0, size: 0 };
    return { key, count: y.count - x.count, size: y.size - x.size, after: y };
  })
  .sort((p, q) => Math.abs(q.size) - Math.abs(p.size))
  .slice(0, Number(rowsArg ?? 25));
const kb = (n: number) => `${(n / 1024).toFixed(1)} kB`;
process.stdout.write(`heap (shallow sizes): ${kb(before.total)} → ${kb(after.total)} (${kb(after.total - before.total)})\n`);
process.stdout.write(`${"Δ size".padStart(12)} ${"Δ count".padStart(9)} ${"count".padStart(8)}  what\n`);
for (const r of rows) {
  process.stdout.write(`${kb(r.size).padStart(12)} ${String(r.count).padStart(9)} ${String(r.after.count).padStart(8)}  ${r.key}\n`);
}
