/**
 * etcd's v3 API through its JSON gateway (`/v3/...`), shared by every etcd-based backend: a few JSON
 * calls over the project's HTTP client, where the gRPC client would cost far more start-up and memory.
 */
import { readFileSync } from "node:fs";
import { HttpClient, HttpStatusError, type TlsFiles } from "../http-client.js";
import type { Service } from "../service/types.js";
import { httpOrigin } from "./uri.js";
import type { Owner, RegistryUri } from "./types.js";

/** Where a layout puts a service in etcd, where it keeps the owner's marker, and how it reads one back. */
export interface EtcdLayout {
  /** Every key of this layout starts with it; listed by `-cleanup`. */
  readonly prefix: string;
  key(service: Service): string;
  value(service: Service, owner: Owner): string;
  /** The key that holds the marker of entry `key`, outside `prefix`, for layouts whose value has no room for it. */
  markerKey?(key: string): string;
  /** Every marker key starts with it; listed by `-cleanup` beside `prefix`. */
  readonly markerPrefix?: string;
  /** Where earlier versions kept the marker of `key` (inside `prefix`), when that is another key: read, and moved. */
  legacyMarkerKey?(key: string): string | undefined;
  /** The address (`ip:port`) a value holds, or undefined when it holds none this layout reads. */
  address(value: string): string | undefined;
  /** The owner recorded in the value itself, for layouts that keep the marker there. */
  ownerIn?(value: string): Owner | undefined;
  /** The service a listed key holds, or undefined when this layout did not write it. */
  parse(key: string, value: string): Service | undefined;
  /** Why this layout cannot hold the service, or undefined. */
  validate?(service: Service): string | undefined;
  /**
   * For layouts where two services can fold to one key (DNS names ignore case): the id of the service
   * a value belongs to, so that neither overwrites nor removes the other's entry.
   */
  holder?(value: string): string | undefined;
  /** Why a service may not take the key that `holderId` holds. */
  clash?(key: string, holderId: string): string;
}

/** One key of a conditional write: written (or, without a value, deleted) only if it is still as `seen`. */
export interface Guarded {
  key: string;
  /** What a read found; undefined: the key must not exist. */
  seen: KeyValue | undefined;
  /** undefined: delete the key. */
  value?: string;
}

/** The keys of one entry and the values it should hold, written together or not at all. */
export type Claim = ReadonlyArray<{ key: string; value: string }>;

/**
 * A claim as sent. `likely` leaves out the branch it makes unlikely, about half of what etcd decodes
 * for the claim: "held" when its keys most likely hold these values already under the lease (the
 * claim then only checks that, and writes nothing), "absent" when they most likely do not exist. A
 * claim whose guess was wrong comes back as read, like any claim not written.
 */
export interface ClaimRequest {
  claim: Claim;
  likely?: ClaimFound;
}

/** What a claim found: its keys holding exactly its values already, or none of them existing. */
export type ClaimFound = "held" | "absent";

/** A claim written, and over what it found; or not written, with what each of its keys holds. */
export type ClaimOutcome = { written: ClaimFound } | { read: Array<KeyValue | undefined> };

export interface KeyValue {
  key: string;
  value: string;
  /** The revision that last wrote the key: the condition of a write that must not overwrite a newer one. */
  modRevision: string;
  /** The lease the key is under, in decimal; "0" for none. */
  lease?: string;
}

/** etcd's default --max-txn-ops: the most comparisons, or operations of a branch, in one transaction. */
const MAX_TXN_OPS = 128;

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");
const unb64 = (text: string | undefined) => Buffer.from(text ?? "", "base64").toString("utf8");

/** The key just past every key that starts with `prefix`: etcd's range end for a prefix. */
function prefixRangeEnd(prefix: string): string {
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
function etcdTls(env: NodeJS.ProcessEnv): TlsFiles | undefined {
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

  async status(): Promise<void> {
    await this.http.json("POST", "/v3/maintenance/status", { body: {} });
  }

  /**
   * Writes and deletes the keys in one transaction, only if none of them changed since it was read
   * (or, unread, came to exist); false when that condition failed.
   */
  async writeIf(keys: readonly Guarded[], lease = "0"): Promise<boolean> {
    const compare = keys.map(({ key, seen }) =>
      seen ? { key: b64(key), target: "MOD", result: "EQUAL", mod_revision: seen.modRevision } : absent(key),
    );
    const success = keys.map(({ key, value }) =>
      value === undefined ? { request_delete_range: { key: b64(key) } } : { request_put: { key: b64(key), value: b64(value), lease } },
    );
    const res = await this.http.json<{ succeeded?: boolean }>("POST", "/v3/kv/txn", { body: { compare, success } });
    return res.succeeded === true;
  }

  /**
   * Each claim in one transaction: nothing is written when its keys already hold exactly these values
   * under `lease` (a check, which etcd answers without a write to its log), and its keys are put when
   * none of them exists (a new entry). Otherwise none is written and what they hold comes back, for
   * the caller to judge and then write with `writeIf`. Claims that all expect the same are tried first
   * as one flat transaction (`alikeClaims`).
   */
  async claim(claims: readonly ClaimRequest[], lease = "0"): Promise<ClaimOutcome[]> {
    const together = alikeClaims(claims, lease);
    if (together) {
      const res = await this.http.json<TxnResponse>("POST", "/v3/kv/txn", { body: together.txn });
      if (res.succeeded) return claims.map(() => ({ written: together.form }));
      if (together.form === "held") return checkedIn(claims, res, lease);
    }
    return this.claimEach(claims, lease);
  }

  /** Each claim as its own nested transaction, with the reads that judge it when it is not written. */
  private async claimEach(claims: readonly ClaimRequest[], lease: string): Promise<ClaimOutcome[]> {
    const checking = (claim: Claim, failure: unknown[]) => ({
      request_txn: { compare: [...holdingExactly(claim), ...underLease(claim, lease)], failure },
    });
    const creating = (claim: Claim, failure: unknown[]) => ({
      request_txn: { compare: absentEach(claim), success: puts(claim, lease), failure },
    });
    const success = claims.map(({ claim, likely }) => {
      if (likely === "held") return checking(claim, readingEach(claim));
      if (likely === "absent") return creating(claim, readingEach(claim));
      return checking(claim, [creating(claim, readingEach(claim))]);
    });
    const res = await this.http.json<TxnResponse>("POST", "/v3/kv/txn", { body: { success } });
    return claims.map(({ claim, likely }, i): ClaimOutcome => {
      const first = res.responses?.[i]?.response_txn;
      if (first?.succeeded) return { written: likely ?? "held" };
      if (likely) return { read: readOf(claim, first) };
      const creation = first?.responses?.[0]?.response_txn;
      return creation?.succeeded ? { written: "absent" } : { read: readOf(claim, creation) };
    });
  }

  /** Deletes the claim's keys if they hold exactly its values; otherwise returns what they hold. undefined: deleted. */
  async release(claim: Claim): Promise<Array<KeyValue | undefined> | undefined> {
    const success = claim.map(({ key }) => ({ request_delete_range: { key: b64(key) } }));
    const res = await this.http.json<TxnResponse>("POST", "/v3/kv/txn", {
      body: { compare: holdingExactly(claim), success, failure: readingEach(claim) },
    });
    return res.succeeded ? undefined : readOf(claim, res);
  }

  async get(key: string): Promise<KeyValue | undefined> {
    return (await this.range({ key: b64(key) }))[0];
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
    const res = await this.http.json<{ kvs?: RawKv[] }>("POST", "/v3/kv/range", { body });
    return (res.kvs ?? []).map(fromRaw);
  }
}

/** A transaction's answer, also nested in one; `succeeded` is left out when false. */
interface TxnResponse {
  succeeded?: boolean;
  responses?: TxnResponseOp[];
}

interface TxnResponseOp {
  response_range?: { kvs?: RawKv[] };
  response_txn?: TxnResponse;
}

/**
 * Claims that all make one guess, as one flat transaction: every comparison of every claim, then
 * every put (for new entries) or nothing (for checks). etcd decodes about half as much as for the
 * claims nested one by one. When any comparison fails nothing is written: checks read every key
 * instead, and are judged from that (`checkedIn`), and new entries are sent again, nested. A lone
 * claim stays nested, as its reads make one request enough; so do claims that would pass etcd's
 * default --max-txn-ops in one list.
 */
function alikeClaims(claims: readonly ClaimRequest[], lease: string): { txn: object; form: ClaimFound } | undefined {
  if (claims.length < 2) return undefined;
  const form = claims[0]!.likely;
  if (form === undefined || claims.some((claim) => claim.likely !== form)) return undefined;
  const keys: Claim = claims.flatMap(({ claim }) => claim);
  const compare = form === "absent" ? absentEach(keys) : [...holdingExactly(keys), ...underLease(keys, lease)];
  // One put per key, or for checks one read per key, in the other list.
  if (Math.max(compare.length, keys.length) > MAX_TXN_OPS) return undefined;
  const txn = form === "held" ? { compare, failure: readingEach(keys) } : { compare, success: puts(keys, lease) };
  return { txn, form };
}

/**
 * Checks that failed together, each judged from what the transaction read, as its own check would
 * have been: still exactly as written (under `lease`, with one) and so left alone, or read back.
 */
function checkedIn(claims: readonly ClaimRequest[], res: TxnResponse, lease: string): ClaimOutcome[] {
  let at = 0;
  return claims.map(({ claim }): ClaimOutcome => {
    const found = rawReadOf(claim, res, at);
    at += claim.length;
    const asWritten = found.every(
      (kv, k) => kv !== undefined && unb64(kv.value) === claim[k]!.value && (lease === "0" || (kv.lease ?? "0") === lease),
    );
    return asWritten ? { written: "held" } : { read: found.map((kv) => kv && fromRaw(kv)) };
  });
}

/** The writes of a claim, under `lease`. */
function puts(claim: Claim, lease: string) {
  return claim.map(({ key, value }) => ({ request_put: { key: b64(key), value: b64(value), lease } }));
}

/** The comparisons that hold when each key of the claim holds exactly its value. */
function holdingExactly(claim: Claim) {
  return claim.map(({ key, value }) => ({ key: b64(key), target: "VALUE", result: "EQUAL", value: b64(value) }));
}

/** The comparisons that hold when each key of the claim is under `lease`; none without one. */
function underLease(claim: Claim, lease: string) {
  return lease === "0" ? [] : claim.map(({ key }) => ({ key: b64(key), target: "LEASE", result: "EQUAL", lease }));
}

/** The comparison that holds when the key does not exist. */
function absent(key: string) {
  return { key: b64(key), target: "CREATE", result: "EQUAL", create_revision: "0" };
}

/** The comparisons that hold when none of the claim's keys exists. */
function absentEach(claim: Claim) {
  return claim.map(({ key }) => absent(key));
}

/** A read of each key of the claim, in its order. */
function readingEach(claim: Claim) {
  return claim.map(({ key }) => ({ request_range: { key: b64(key) } }));
}

/** What `readingEach(claim)` read in that transaction; undefined for each key that does not exist. */
function readOf(claim: Claim, txn: TxnResponse | undefined): Array<KeyValue | undefined> {
  return rawReadOf(claim, txn).map((kv) => kv && fromRaw(kv));
}

/** The same as etcd answered it, for the claim whose reads start at response `at`. */
function rawReadOf(claim: Claim, txn: TxnResponse | undefined, at = 0): Array<RawKv | undefined> {
  return claim.map((_, k) => txn?.responses?.[at + k]?.response_range?.kvs?.[0]);
}

interface RawKv {
  key?: string;
  value?: string;
  mod_revision?: string;
  /** Decimal; left out when the key has none. */
  lease?: string;
}

function fromRaw(kv: RawKv): KeyValue {
  return { key: unb64(kv.key), value: unb64(kv.value), modRevision: kv.mod_revision ?? "0", lease: kv.lease ?? "0" };
}

/**
 * The one lease every key is written under when a TTL is set, so one keep-alive renews them all. It
 * is the session with etcd, not a record of the keys: when etcd no longer knows it, `renew` says so
 * and the bridge writes every key again, under the lease granted next.
 */
export class SharedLease {
  private lease?: Promise<string>;
  private leaseId?: string;

  constructor(
    private readonly etcd: EtcdClient,
    private readonly ttlSeconds: number,
  ) {}

  /** The lease keys are written under now: "0" without a TTL, undefined before one was granted. */
  get id(): string | undefined {
    return this.ttlSeconds <= 0 ? "0" : this.leaseId;
  }

  /** Runs a write under the lease ("0" without a TTL), once more under a new one when etcd forgot it. */
  async write<T>(put: (lease: string) => Promise<T>): Promise<T> {
    if (this.ttlSeconds <= 0) return put("0");
    const lease = await this.current();
    try {
      return await put(lease);
    } catch (err) {
      if (!isLeaseNotFound(err)) throw err;
      this.drop(lease);
      return put(await this.current());
    }
  }

  /** Renews the lease; false when etcd no longer has it (the keys under it are gone). */
  async renew(): Promise<boolean> {
    if (this.leaseId === undefined) return true;
    const lease = this.leaseId;
    if (await this.etcd.keepAlive(lease)) return true;
    this.drop(lease);
    return false;
  }

  private current(): Promise<string> {
    if (!this.lease) {
      const granted = this.etcd.grant(this.ttlSeconds);
      this.lease = granted;
      granted.then(
        (id) => this.lease === granted && (this.leaseId = id),
        () => this.lease === granted && (this.lease = undefined),
      );
    }
    return this.lease;
  }

  /** Forgets a lease etcd no longer has, unless another caller already replaced it. */
  private drop(lease: string): void {
    if (this.leaseId !== lease) return;
    this.lease = undefined;
    this.leaseId = undefined;
  }
}

function isLeaseNotFound(err: unknown): boolean {
  return err instanceof HttpStatusError && /lease not found/.test(err.body);
}
