import type { Claim, ClaimRequest, EtcdClient, Guarded, KeyValue } from "../../../src/registry/etcd-client.js";
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
      hostPort: "32768",
      hostIp: "0.0.0.0",
      protocol: "tcp",
    },
    ...over,
  };
}

/** etcd in a Map, with revisions shared by the keys of one transaction, for the adapter's conditional writes. */
export function memoryEtcd() {
  const data = new Map<string, KeyValue & { lease: string }>();
  let revision = 0;
  const unchanged = (key: string, seen: KeyValue | undefined) => data.get(key)?.modRevision === seen?.modRevision;
  const client = {
    data,
    /** Writes as another tool would, outside any transaction of the adapter. */
    put: (key: string, value: string) => void data.set(key, { key, value, lease: "0", modRevision: String(++revision) }),
    status: async () => undefined,
    release: async (claim: Claim) => {
      if (!claim.every(({ key, value }) => data.get(key)?.value === value)) return claim.map(({ key }) => data.get(key));
      ++revision;
      for (const { key } of claim) data.delete(key);
      return undefined;
    },
    writeIf: async (keys: readonly Guarded[], lease = "0") => {
      client.judgedWrites++;
      if (!keys.every(({ key, seen }) => unchanged(key, seen))) return false;
      const rev = String(++revision);
      for (const { key, value } of keys) {
        if (value === undefined) data.delete(key);
        else data.set(key, { key, value, lease, modRevision: rev });
      }
      return true;
    },
    claim: async (claims: readonly ClaimRequest[], lease = "0") => {
      client.transactions++;
      const rev = String(++revision);
      return claims.map(({ claim, likely }) => {
        if (likely) client.guessed.push(likely);
        const holds = ({ key, value }: Claim[number]) => data.get(key)?.value === value && data.get(key)?.lease === lease;
        if (likely !== "absent" && claim.every(holds)) return { written: "held" } as const;
        if (likely === "held" || !claim.every(({ key }) => !data.has(key))) return { read: claim.map(({ key }) => data.get(key)) };
        for (const { key, value } of claim) data.set(key, { key, value, lease, modRevision: rev });
        return { written: "absent" } as const;
      });
    },
    /** Transactions of claims sent. */
    transactions: 0,
    /** Writes of entries a claim read and the adapter judged. */
    judgedWrites: 0,
    /** What each claim sent with a guess guessed, in order. */
    guessed: [] as string[],
    get: async (key: string) => data.get(key),
    list: async (prefix: string) => [...data.values()].filter((kv) => kv.key.startsWith(prefix)),
    grant: async () => "7",
    keepAlive: async () => true,
    close: () => undefined,
  };
  return client as typeof client & EtcdClient;
}
