/** A snapshot with a service in every state, an ignored port and a secret where none may show. */
import type { BridgeSnapshot } from "../../../src/bridge/snapshot.js";

export const EVERY_STATE: BridgeSnapshot = {
  hostId: "node-1",
  registry: { backend: "consul", up: false },
  lastSync: "2026-12-07T18:40:19.369Z",
  counts: { containers: 2, registered: 1, pending: 1, refused: 1, ownedElsewhere: 1, ignored: 1 },
  containers: [
    {
      id: "3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708",
      name: "shop",
      services: [
        { id: "node-1:shop:80", name: "shop", ip: "10.0.0.5", port: 8080, tags: ["blue", "v2"], state: "registered" },
        {
          id: "node-1:shop:443",
          name: "shop-443",
          ip: "10.0.0.5",
          port: 8443,
          tags: [],
          state: "pending",
          reason: "cannot connect to http://admin:hunter2@10.0.0.1:8500: ECONNREFUSED",
          nextAttemptAt: "2026-12-07T18:40:27.000Z",
        },
      ],
      ignored: [{ port: "9000/tcp", reason: "port not published on host" }],
    },
    {
      id: "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b",
      name: "api",
      services: [
        {
          id: "api",
          name: "api",
          ip: "fd00::5",
          port: 8080,
          tags: [],
          state: "owned-elsewhere",
          owner: "host node-2",
          reason: "api is owned by node-2",
        },
        {
          id: "node-1:api:81",
          name: "api_v1",
          ip: "10.0.0.6",
          port: 81,
          tags: [],
          state: "refused",
          reason: "X-Consul-Token: s3cr3t refused: invalid Meta",
        },
      ],
      ignored: [],
    },
  ],
};
