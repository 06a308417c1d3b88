/**
 * The scheme table: adding a backend is one file plus one line here. Modules load only when used,
 * with require: one backend's code, not the loader of another module system.
 */
import type { AdapterContext, AdapterFactory, RegistryAdapter } from "./types.js";
import { InvalidUriError } from "./types.js";

interface AdapterEntry {
  load: () => { create: AdapterFactory };
  /** Shown in `--help`. */
  example: string;
}

const ADAPTERS: Record<string, AdapterEntry> = {
  consul: { load: () => require("./consul.js"), example: "consul://127.0.0.1:8500" },
  "consul-tls": { load: () => require("./consul.js"), example: "consul-tls://127.0.0.1:8501" },
  "consul-unix": { load: () => require("./consul.js"), example: "consul-unix:///var/run/consul.sock" },
  consulkv: { load: () => require("./consul.js"), example: "consulkv://127.0.0.1:8500/services" },
  etcd: { load: () => require("./etcd.js"), example: "etcd://127.0.0.1:2379/services" },
  skydns2: { load: () => require("./etcd.js"), example: "skydns2://127.0.0.1:2379/skydns.local" },
  coredns: { load: () => require("./etcd.js"), example: "coredns://127.0.0.1:2379/skydns?zone=service.local" },
  zookeeper: { load: () => require("./zookeeper.js"), example: "zookeeper://127.0.0.1:2181/services" },
  eureka: { load: () => require("./eureka.js"), example: "eureka://127.0.0.1:8761/eureka" },
  discoverd: { load: () => require("./discoverd.js"), example: "discoverd://127.0.0.1:1111" },
  file: { load: () => require("./file.js"), example: "file:///var/lib/registrator/services.json" },
};

const SCHEMES = Object.keys(ADAPTERS);
export const URI_EXAMPLES = Object.values(ADAPTERS).map((entry) => entry.example);

export async function createAdapter(ctx: AdapterContext): Promise<RegistryAdapter> {
  const entry = ADAPTERS[ctx.uri.scheme];
  if (!entry) throw new InvalidUriError(unknownSchemeMessage(ctx.uri.scheme));
  const { create } = entry.load();
  return create(ctx);
}

function unknownSchemeMessage(scheme: string): string {
  return `unknown registry scheme ${JSON.stringify(scheme)}: use one of ${SCHEMES.map((s) => `${s}://`).join(", ")}`;
}
