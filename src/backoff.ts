export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

/** Capped exponential backoff with jitter (half to full of the step), so retries of many hosts spread out. */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const step = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(step * (0.5 + random() / 2));
}
