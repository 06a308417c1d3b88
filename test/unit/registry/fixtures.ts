import type { Service } from "../../../src/service/types.js";

/** A service as the builder makes it for `-p 32768:80` of a container named web. */
export function webService(over: Partial<Service> = {}): Service {
  return {
    id: "myhost:web:80",
    name: "web",
    ip: "10.0.0.5",
    port: 32768,
    tags: [],
    attrs: { region: "eu" },
    ttl: 0,
    origin: {
      containerId: "0123456789abcdef0123",
      containerName: "web",
      exposedPort: "80",
      exposedIp: "172.17.0.2",
      hostPort: "32768",
      hostIp: "0.0.0.0",
      protocol: "tcp",
    },
    ...over,
  };
}
