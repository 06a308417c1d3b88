import type { Service } from "../service/types.js";

/** A service read back from a registry: only id, name and address are known. */
export function storedService(id: string, name: string, address: string): Service {
  const match = /^\[?([^\]]*?)\]?:(\d+)$/.exec(address);
  return {
    id,
    name,
    ip: match?.[1] ?? "",
    port: Number(match?.[2] ?? 0),
    tags: [],
    attrs: {},
    ttl: 0,
    origin: { containerId: "", containerName: "", exposedPort: "", hostPort: "", hostIp: "", protocol: "tcp" },
  };
}

/** A JSON object read back from a registry, or undefined for anything else (another tool's value, a torn write). */
export function storedObject(text: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
