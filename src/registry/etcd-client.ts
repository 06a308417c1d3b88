/**
 * etcd's v3 API through its JSON gateway (`/v3/...`), shared by every etcd-based backend.
 * The gateway needs nothing beyond node:http; the gRPC client would add ~100 ms of start-up
 * and ~20 MB of memory for the five calls made here.
 */
import { readFileSync } from "node:fs";
import { HttpClient, HttpStatusError, type TlsFiles } from "../request.js";
import { httpOrigin } from "./uri.js";
import type { RegistryUri } from "./types.js";

export interface KeyValue {
  key: string;
  value: string;
  lease: string;
}

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");
const unb64 = (text: string | undefined) => Buffer.from(text ?? "", "base64").toString("utf8");

/** The key just past every key that starts with `prefix`: etcd's range end for a prefix. */
export function prefixRangeEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, "utf8");
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i] = bytes[i]! + 1;
      return end.toString("base64");
    }
  }
  return Buffer.from([0]).toString("base64");
}

/** TLS from ETCD_CA_CERT_FILE / ETCD_CERT_FILE / ETCD_KEY_FILE; any of them switches to https. */
export function etcdTls(env: NodeJS.ProcessEnv): TlsFiles | undefined {
  const { ETCD_CA_CERT_FILE: ca, ETCD_CERT_FILE: cert, ETCD_KEY_FILE: key } = env;
  if (!ca && !cert && !key) return undefined;
  if (Boolean(cert) !== Boolean(key)) throw new Error("ETCD_CERT_FILE and ETCD_KEY_FILE must be set together");
  return {
    ca: ca ? readFileSync(ca) : undefined,
    cert: cert ? readFileSync(cert) : undefined,
    key: key ? readFileSync(key) : undefined,
  };
}

export class EtcdClient {
  private readonly http: HttpClient;

  constructor(uri: RegistryUri, env: NodeJS.ProcessEnv) {
    const tls = etcdTls(env);
    this.http = new HttpClient({ url: httpOrigin(uri, "127.0.0.1", 2379, Boolean(tls)), tls, timeoutMs: 10_000 });
  }

  get origin(): string {
    return this.http.origin;
  }

  async status(): Promise<void> {
    await this.http.json("POST", "/v3/maintenance/status", { body: {} });
  }

  async put(key: string, value: string, lease = "0"): Promise<void> {
    await this.http.json("POST", "/v3/kv/put", { body: { key: b64(key), value: b64(value), lease } });
  }

  async delete(key: string): Promise<void> {
    await this.http.json("POST", "/v3/kv/deleterange", { body: { key: b64(key) } });
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const found = await this.range({ key: b64(key) });
    return found[0];
  }

  async list(prefix: string): Promise<KeyValue[]> {
    return this.range({ key: b64(prefix), range_end: prefixRangeEnd(prefix) });
  }

  async grant(ttlSeconds: number): Promise<string> {
    const res = await this.http.json<{ ID: string }>("POST", "/v3/lease/grant", { body: { TTL: ttlSeconds, ID: 0 } });
    return res.ID;
  }

  /** Renews a lease; false when etcd no longer knows it (it expired). */
  async keepAlive(lease: string): Promise<boolean> {
    const res = await this.http.json<{ result?: { TTL?: string } }>("POST", "/v3/lease/keepalive", { body: { ID: lease } });
    return Number(res.result?.TTL ?? 0) > 0;
  }

  close(): void {
    this.http.close();
  }

  private async range(body: Record<string, string>): Promise<KeyValue[]> {
    const res = await this.http.json<{ kvs?: Array<{ key?: string; value?: string; lease?: string }> }>(
      "POST",
      "/v3/kv/range",
      { body },
    );
    return (res.kvs ?? []).map((kv) => ({ key: unb64(kv.key), value: unb64(kv.value), lease: kv.lease ?? "0" }));
  }
}

/**
 * Writes keys under one lease when a TTL is set. All keys share the lease, so one keep-alive per
 * refresh period renews them all; a lease that expired meanwhile (etcd was away longer than the TTL)
 * is replaced and each key written again on its next refresh.
 */
export class LeasedKeys {
  private lease?: Promise<string>;
  private leaseId?: string;
  private readonly keyLease = new Map<string, string>();
  private renewal?: { lease: string; at: number; alive: Promise<boolean> };

  constructor(
    private readonly etcd: EtcdClient,
    private readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  async put(key: string, value: string): Promise<void> {
    let lease = this.ttlSeconds > 0 ? await this.currentLease() : "0";
    try {
      await this.etcd.put(key, value, lease);
    } catch (err) {
      if (!(err instanceof HttpStatusError) || !/lease not found/.test(err.body)) throw err;
      this.dropLease(lease);
      lease = await this.currentLease();
      await this.etcd.put(key, value, lease);
    }
    this.keyLease.set(key, lease);
  }

  async delete(key: string): Promise<void> {
    await this.etcd.delete(key);
    this.keyLease.delete(key);
  }

  async refresh(key: string, value: string): Promise<void> {
    if (this.ttlSeconds <= 0) return;
    const lease = await this.currentLease();
    if (!(await this.renew(lease))) this.dropLease(lease);
    if (this.keyLease.get(key) !== (await this.currentLease())) await this.put(key, value);
  }

  /** One keep-alive serves every key refreshed within the same second. */
  private renew(lease: string): Promise<boolean> {
    const now = this.now();
    if (!this.renewal || this.renewal.lease !== lease || now - this.renewal.at > 1000) {
      const alive = this.etcd.keepAlive(lease);
      this.renewal = { lease, at: now, alive };
      alive.catch(() => (this.renewal = undefined));
    }
    return this.renewal.alive;
  }

  private currentLease(): Promise<string> {
    if (!this.lease) {
      const granted = this.etcd.grant(this.ttlSeconds);
      this.lease = granted;
      granted.then(
        (id) => (this.leaseId = id),
        () => (this.lease = undefined),
      );
    }
    return this.lease;
  }

  /** Forgets a lease etcd no longer has, unless another caller already replaced it. */
  private dropLease(lease: string): void {
    if (this.leaseId !== lease) return;
    this.lease = undefined;
    this.leaseId = undefined;
    this.renewal = undefined;
  }
}
