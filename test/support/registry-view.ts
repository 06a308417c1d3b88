/**
 * One etcd, one Consul (its KV and its agent, as a central one), one ZooKeeper and the Eureka double,
 * shared by every host of a test, each seen the same way: the entries in a scope as sorted lines
 * `<service id> <ip:port> <owner host id, or - without registrator's marker>`.
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
  /** Writes entries of another tool that no registrator may touch; returns their lines. */
  plantForeign(hostId: string): Promise<string[]>;
}

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
    views: (scope) => [etcdView(etcd, scope), consulKvView(consul, scope), consulView(consul, scope), zkView(zk, zkClient, scope), eurekaView(eureka, scope)],
    stop: async () => {
      zkClient.close();
      await Promise.all([etcd.stop(), consul.stop(), zk.stop(), eureka.stop()]);
    },
  };
}

function etcdView(etcd: EtcdServer, scope: string): RegistryView {
  const path = `/${scope}`;
  return {
    backend: "etcd",
    uri: `etcd://${etcd.host}${path}`,
    entries: async () => {
      const kvs = await etcd.list(`${path}/`);
      const lines = Object.entries(kvs).flatMap(([key, value]) => {
        const [name, id] = key.slice(path.length + 1).split("/");
        return name === ".registrator" ? [] : [`${id} ${value} ${hostOf(kvs[`${path}/.registrator/${name}/${id}`])}`];
      });
      const locks = Object.entries(await etcd.list(`/locks/${scope}/`)).map(([key, value]) => `${key} ${value} -`);
      return [...lines, ...locks].sort();
    },
    plantForeign: async (hostId) => {
      // Outside the path, as the issue's `/locks/hostA:job:42` that a root path once reached.
      await etcd.put(`/locks/${scope}/${hostId}:job:42`, "held");
      await etcd.put(`${path}/jobs/worker-1`, "10.0.0.9:1");
      return [`/locks/${scope}/${hostId}:job:42 held -`, "worker-1 10.0.0.9:1 -"];
    },
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
      const res = await consul.api<Array<{ Key: string; Value: string | null }> | string>("GET", `/v1/kv/${scope}/?recurse`);
      const kvs = new Map((Array.isArray(res.body) ? res.body : []).map((kv) => [kv.Key, unb64(kv.Value)]));
      return [...kvs].flatMap(([key, value]) => {
        const [name, id] = key.slice(scope.length + 1).split("/");
        return name === ".registrator" ? [] : [`${id} ${value} ${hostOf(kvs.get(`${scope}/.registrator/${name}/${id}`))}`];
      }).sort();
    },
    plantForeign: async () => {
      await httpRequest({ method: "PUT", url: `http://${consul.address}/v1/kv/${scope}/jobs/worker-1`, body: "10.0.0.9:1" });
      return ["worker-1 10.0.0.9:1 -"];
    },
  };
}

/** The agent as a central one: every host's registrator registers with it. */
function consulView(consul: ConsulServer, scope: string): RegistryView {
  type Agent = { ID: string; Service: string; Address: string; Port: number; Meta?: Record<string, string> | null };
  return {
    backend: "consul",
    uri: `consul://${consul.address}`,
    entries: async () => {
      const listed = (await consul.api<Record<string, Agent>>("GET", "/v1/agent/services")).body;
      return Object.values(listed)
        .filter((agent) => agent.Service === scope)
        .map((agent) => `${agent.ID} ${agent.Address}:${agent.Port} ${agent.Meta?.registrator_host ?? "-"}`)
        .sort();
    },
    plantForeign: async () => {
      const res = await consul.api("PUT", "/v1/agent/service/register", { ID: `redis-1-${scope}`, Name: scope, Address: "10.0.0.9", Port: 1 });
      if (res.status !== 200) throw new Error(`registering by hand: HTTP ${res.status}`);
      return [`redis-1-${scope} 10.0.0.9:1 -`];
    },
  };
}

function zkView(zk: ZkServer, client: zookeeper.Client, scope: string): RegistryView {
  const root = `/${scope}`;
  const call = <T>(fn: (cb: (err: Error | null, value: T) => void) => void) =>
    new Promise<T>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
  const children = (path: string) => call<string[]>((cb) => client.getChildren(path, (err, list) => cb(err, list))).catch(() => [] as string[]);
  return {
    backend: "zookeeper",
    uri: `zookeeper://${zk.connectString}${root}`,
    entries: async () => {
      const lines: string[] = [];
      for (const name of await children(root)) {
        for (const node of await children(`${root}/${name}`)) {
          const data = await call<Buffer | undefined>((cb) => client.getData(`${root}/${name}/${node}`, (err, value) => cb(err, value))).catch(() => undefined);
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
