/**
 * One etcd, one Consul (its KV and its agent, as a central one), one ZooKeeper and the Eureka double,
 * shared by every host of a test, each seen the same way: the entries in a scope as sorted lines
 * `<service id> <ip:port> <owner host id, or - without registrator's marker>`; and as a consumer sees
 * them, with a prefix listing: `<name>/<id>=<value>`.
 */
import zookeeper from "node-zookeeper-client";
import { startConsul, type ConsulServer } from "./consul.js";
import { startEtcd, type EtcdServer } from "./etcd.js";
import { startEurekaDouble, type EurekaDouble } from "./eureka-double.js";
import { allSettledOrThrow, httpRequest } from "./process.js";
import { startZookeeper, type ZkServer } from "./zookeeper.js";

export interface RegistryView {
  backend: string;
  /** The registrator URI that writes into this scope. */
  uri: string;
  /** Every entry in scope (and, for etcd, under /locks/<scope>), sorted. */
  entries(): Promise<string[]>;
  /**
   * Writes entries of another tool that no registrator may touch, among them one in host `hostId`'s
   * default-id form at an address that is none of its own; returns their lines.
   */
  plantForeign(hostId: string): Promise<string[]>;
  /** Writes an entry of service `<scope>` without registrator's marker, as another tool (or a hand) would. */
  plantUnmarked(id: string, address: string): Promise<void>;
  /** What a consumer listing the scope sees (etcdctl get --prefix <path>/, a recursive KV read, the agent's services, the znodes), sorted. */
  consumerView(): Promise<string[]>;
}

/** A consumer's line: `<name>/<id>=<ip>:<port>`, the v7 layout, and nothing else. */
export const CONSUMER_LINE = /^[^/=]+\/[^/=]+=(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f:]+\]):\d+$/;

export interface Registries {
  etcd: EtcdServer;
  consul: ConsulServer;
  zk: ZkServer;
  eureka: EurekaDouble;
  /** A view per backend of scope `scope` (lower-case letters and digits): its path and its service name. */
  views(scope: string): RegistryView[];
  stop(): Promise<void>;
}

const unb64 = (text: string | null | undefined) => Buffer.from(text ?? "", "base64").toString("utf8");
const hostOf = (json: string | undefined) => {
  try {
    return (JSON.parse(json ?? "") as { host?: string }).host ?? "-";
  } catch {
    return "-";
  }
};

export async function startRegistries(): Promise<Registries> {
  // Those that did start would keep the test process alive: stopped when another one fails.
  const up: Array<{ stop(): Promise<void> }> = [];
  const keep = <T extends { stop(): Promise<void> }>(start: Promise<T>) => start.then((server) => (up.push(server), server));
  const [etcd, consul, zk, eureka] = await allSettledOrThrow<[EtcdServer, ConsulServer, ZkServer, EurekaDouble]>([
    keep(startEtcd()),
    keep(startConsul()),
    keep(startZookeeper()),
    keep(startEurekaDouble()),
  ]).catch(async (err: unknown) => {
    await Promise.all(up.map((server) => server.stop().catch(() => undefined)));
    throw err;
  });
  const zkClient = await connectZk(zk.connectString);
  return {
    etcd,
    consul,
    zk,
    eureka,
    views: (scope) => [
      etcdView(etcd, scope),
      consulKvView(consul, scope),
      consulView(consul, scope),
      zkView(zk, zkClient, scope),
      eurekaView(eureka, scope),
    ],
    stop: async () => {
      zkClient.close();
      await Promise.all([etcd.stop(), consul.stop(), zk.stop(), eureka.stop()]);
    },
  };
}

export function etcdView(etcd: EtcdServer, scope: string): RegistryView {
  const path = `/${scope}`;
  return {
    backend: "etcd",
    uri: `etcd://${etcd.host}${path}`,
    entries: async () => {
      const kvs = await etcd.list(`${path}/`);
      const markers = await etcd.list(`/.registrator${path}/`);
      const lines = Object.entries(kvs).flatMap(([key, value]) => {
        const [name, id] = key.slice(path.length + 1).split("/");
        // Where markers are now, else where earlier versions kept them.
        const marker = markers[`/.registrator${key}`] ?? kvs[`${path}/.registrator/${name}/${id}`];
        return name === ".registrator" ? [] : [`${id} ${value} ${hostOf(marker)}`];
      });
      const locks = Object.entries(await etcd.list(`/locks/${scope}/`)).map(([key, value]) => `${key} ${value} -`);
      return [...lines, ...locks].sort();
    },
    plantForeign: async (hostId) => {
      // Outside the path, as the issue's `/locks/hostA:job:42` that a root path once reached.
      await etcd.put(`/locks/${scope}/${hostId}:job:42`, "held");
      await etcd.put(`${path}/jobs/worker-1`, "10.0.0.9:1");
      await etcd.put(`${path}/other/${hostId}:ghost:6379`, "10.0.0.9:8080");
      return [`/locks/${scope}/${hostId}:job:42 held -`, "worker-1 10.0.0.9:1 -", `${hostId}:ghost:6379 10.0.0.9:8080 -`];
    },
    plantUnmarked: (id, address) => etcd.put(`${path}/${scope}/${id}`, address),
    consumerView: async () =>
      Object.entries(await etcd.list(`${path}/`))
        .map(([key, value]) => `${key.slice(path.length + 1)}=${value}`)
        .sort(),
  };
}

/** Consul's two views alone, for tests that need no other registry. */
export function consulViews(consul: ConsulServer, scope: string): { consulkv: RegistryView; consul: RegistryView } {
  return { consulkv: consulKvView(consul, scope), consul: consulView(consul, scope) };
}

function consulKvView(consul: ConsulServer, scope: string): RegistryView {
  return {
    backend: "consulkv",
    uri: `consulkv://${consul.address}/${scope}`,
    entries: async () => {
      const kvs = await listKv(`${scope}/`);
      const markers = await listKv(`.registrator/${scope}/`);
      return [...kvs]
        .flatMap(([key, value]) => {
          const [name, id] = key.slice(scope.length + 1).split("/");
          const marker = markers.get(`.registrator/${key}`) ?? kvs.get(`${scope}/.registrator/${name}/${id}`);
          return name === ".registrator" ? [] : [`${id} ${value} ${hostOf(marker)}`];
        })
        .sort();
    },
    plantForeign: async (hostId) => {
      await httpRequest({ method: "PUT", url: `http://${consul.address}/v1/kv/${scope}/jobs/worker-1`, body: "10.0.0.9:1" });
      await httpRequest({
        method: "PUT",
        url: `http://${consul.address}/v1/kv/${scope}/other/${encodeURIComponent(`${hostId}:ghost:6379`)}`,
        body: "10.0.0.9:8080",
      });
      return ["worker-1 10.0.0.9:1 -", `${hostId}:ghost:6379 10.0.0.9:8080 -`];
    },
    plantUnmarked: async (id, address) => {
      await httpRequest({
        method: "PUT",
        url: `http://${consul.address}/v1/kv/${scope}/${scope}/${encodeURIComponent(id)}`,
        body: address,
      });
    },
    consumerView: async () => [...(await listKv(`${scope}/`))].map(([key, value]) => `${key.slice(scope.length + 1)}=${value}`).sort(),
  };

  async function listKv(prefix: string): Promise<Map<string, string>> {
    const res = await consul.api<Array<{ Key: string; Value: string | null }> | string>("GET", `/v1/kv/${prefix}?recurse`);
    return new Map((Array.isArray(res.body) ? res.body : []).map((kv) => [kv.Key, unb64(kv.Value)]));
  }
}

/** The agent as a central one: every host's registrator registers with it. */
function consulView(consul: ConsulServer, scope: string): RegistryView {
  type Agent = { ID: string; Service: string; Address: string; Port: number; Meta?: Record<string, string> | null };
  return {
    backend: "consul",
    uri: `consul://${consul.address}`,
    entries: async () =>
      (await inScope()).map((agent) => `${agent.ID} ${agent.Address}:${agent.Port} ${agent.Meta?.registrator_host ?? "-"}`).sort(),
    plantForeign: async (hostId) => {
      for (const [ID, Port] of [
        [`redis-1-${scope}`, 1],
        [`${hostId}:ghost:6379`, 8080],
      ] as const) {
        const res = await consul.api("PUT", "/v1/agent/service/register", { ID, Name: scope, Address: "10.0.0.9", Port });
        if (res.status !== 200) throw new Error(`registering by hand: HTTP ${res.status}`);
      }
      return [`redis-1-${scope} 10.0.0.9:1 -`, `${hostId}:ghost:6379 10.0.0.9:8080 -`];
    },
    plantUnmarked: async (id, address) => {
      const [ip, port] = address.split(":");
      const res = await consul.api("PUT", "/v1/agent/service/register", { ID: id, Name: scope, Address: ip, Port: Number(port) });
      if (res.status !== 200) throw new Error(`registering by hand: HTTP ${res.status}`);
    },
    // A consumer asks the catalog for the service's instances: their addresses.
    consumerView: async () => (await inScope()).map((agent) => `${agent.Service}/${agent.ID}=${agent.Address}:${agent.Port}`).sort(),
  };

  async function inScope(): Promise<Agent[]> {
    return Object.values((await consul.api<Record<string, Agent>>("GET", "/v1/agent/services")).body).filter(
      (agent) => agent.Service === scope,
    );
  }
}

function zkView(zk: ZkServer, client: zookeeper.Client, scope: string): RegistryView {
  const root = `/${scope}`;
  const call = <T>(fn: (cb: (err: Error | null, value: T) => void) => void) =>
    new Promise<T>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
  const children = (path: string) =>
    call<string[]>((cb) => client.getChildren(path, (err, list) => cb(err, list))).catch(() => [] as string[]);
  return {
    backend: "zookeeper",
    uri: `zookeeper://${zk.connectString}${root}`,
    entries: async () => {
      const lines: string[] = [];
      for (const name of await children(root)) {
        for (const node of await children(`${root}/${name}`)) {
          const data = await call<Buffer | undefined>((cb) =>
            client.getData(`${root}/${name}/${node}`, (err, value) => cb(err, value)),
          ).catch(() => undefined);
          if (data === undefined) continue;
          const body = JSON.parse(data.toString("utf8") || "{}") as { ID?: string; Owner?: { Host?: string } };
          lines.push(`${body.ID ?? node} ${node} ${body.Owner?.Host ?? "-"}`);
        }
      }
      return lines.sort();
    },
    plantForeign: async () => {
      await call((cb) => client.mkdirp(`${root}/jobs`, (err) => cb(err, undefined)));
      const data = Buffer.from('{"job":"worker"}');
      await call((cb) => client.create(`${root}/jobs/10.0.0.9:1`, data, zookeeper.CreateMode.PERSISTENT, (err) => cb(err, undefined)));
      return ["10.0.0.9:1 10.0.0.9:1 -"];
    },
    plantUnmarked: async (id, address) => {
      await call((cb) => client.mkdirp(`${root}/${scope}`, (err) => cb(err, undefined)));
      const data = Buffer.from(JSON.stringify({ Name: scope, ID: id }));
      await call((cb) => client.create(`${root}/${scope}/${address}`, data, zookeeper.CreateMode.PERSISTENT, (err) => cb(err, undefined)));
    },
    // A consumer lists the children of `<path>/<name>`: each one's name is the address.
    consumerView: async () => {
      const lines: string[] = [];
      for (const name of await children(root)) for (const node of await children(`${root}/${name}`)) lines.push(`${name}/${node}=${node}`);
      return lines.sort();
    },
  };
}

function eurekaView(eureka: EurekaDouble, scope: string): RegistryView {
  const app = scope.toUpperCase();
  return {
    backend: "eureka",
    uri: eureka.uri,
    entries: async () =>
      eureka
        .instances()
        .filter((stored) => stored.app === app)
        .map(({ id, instance }) => {
          const port = (instance.port as { $: number }).$;
          const owner = (instance.metadata as Record<string, string> | undefined)?.registrator_host ?? "-";
          return `${id} ${String(instance.ipAddr)}:${port} ${owner}`;
        })
        .sort(),
    plantForeign: async (hostId) => {
      // Spring Cloud's default instance id has the form of ours: <hostname>:<application>:<port>.
      const id = `${hostId}:${scope}-spring:8080`;
      eureka.add({
        instanceId: id,
        app,
        hostName: "10.0.0.9",
        ipAddr: "10.0.0.9",
        vipAddress: scope,
        port: { $: 8080, "@enabled": "true" },
        dataCenterInfo: { "@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo", name: "MyOwn" },
        leaseInfo: { durationInSecs: 3600 },
      });
      return [`${id} 10.0.0.9:8080 -`];
    },
    plantUnmarked: async (id, address) => {
      const [ip, port] = address.split(":");
      eureka.add({
        instanceId: id,
        app,
        hostName: ip,
        ipAddr: ip,
        vipAddress: scope,
        port: { $: Number(port), "@enabled": "true" },
        dataCenterInfo: { "@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo", name: "MyOwn" },
        leaseInfo: { durationInSecs: 3600 },
      });
    },
    consumerView: async () =>
      eureka
        .instances()
        .filter((stored) => stored.app === app)
        .map(({ id, instance }) => `${app}/${id}=${String(instance.ipAddr)}:${(instance.port as { $: number }).$}`)
        .sort(),
  };
}

async function connectZk(connectString: string): Promise<zookeeper.Client> {
  const client = zookeeper.createClient(connectString, { sessionTimeout: 10_000 });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("test client: no ZooKeeper connection")), 15_000);
    client.once("connected", () => (clearTimeout(timer), resolve()));
    client.connect();
  });
  return client;
}
