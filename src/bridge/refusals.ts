/**
 * Services the registry refused. One refused as it is (bad metadata) is not sent again until it
 * changes. One refused because another host or tool holds its id is tried again: at every -resync
 * pass, and otherwise on a slow backoff, so that an id let go is picked up. Pure.
 */
import { holderText, OwnedElsewhereError } from "../errors.js";
import { fingerprint } from "./plan.js";
import type { Service } from "../service/types.js";

export type Refusal =
  | { kind: "refused"; fingerprint: string; reason: string }
  | { kind: "owned-elsewhere"; fingerprint: string; reason: string; owner: string; attempts: number; retryAt: number };

/** How soon a service owned elsewhere is tried again, and how many at most per check. */
export interface RefusalBackoff {
  firstMs: number;
  maxMs: number;
  /** Each delay is spread by up to this fraction either way, so that hosts do not ask in step. */
  jitter: number;
}

/** About a minute, then 2, 4 and 8, then every 10 minutes. */
export const REFUSAL_BACKOFF: RefusalBackoff = { firstMs: 60_000, maxMs: 600_000, jitter: 0.2 };

/** What to remember of a refused write; `previous` is what was remembered of the same service before. */
export function refusalOf(
  service: Service,
  err: Error,
  previous: Refusal | undefined,
  now: number,
  backoff: RefusalBackoff,
  random: () => number = Math.random,
): Refusal {
  const print = fingerprint(service);
  if (!(err instanceof OwnedElsewhereError)) return { kind: "refused", fingerprint: print, reason: err.message };
  const attempts = previous?.kind === "owned-elsewhere" && previous.fingerprint === print ? previous.attempts + 1 : 0;
  const delay = Math.min(backoff.maxMs, backoff.firstMs * 2 ** attempts);
  const spread = delay * backoff.jitter * (2 * random() - 1);
  return {
    kind: "owned-elsewhere",
    fingerprint: print,
    reason: err.message,
    owner: holderText(err.holder),
    attempts,
    retryAt: now + Math.round(delay + spread),
  };
}

/** Whether a write of `service` may be tried now, given what the registry said of it before. */
export function mayTry(service: Service, refusal: Refusal | undefined, rewrite: boolean, now: number): boolean {
  if (!refusal || refusal.fingerprint !== fingerprint(service)) return true;
  return refusal.kind === "owned-elsewhere" && (rewrite || refusal.retryAt <= now);
}

/** How many of these refusals are due to be tried again at `now`. */
export function dueRetries(refusals: Iterable<Refusal>, now: number): number {
  let due = 0;
  for (const refusal of refusals) if (refusal.kind === "owned-elsewhere" && refusal.retryAt <= now) due++;
  return due;
}
