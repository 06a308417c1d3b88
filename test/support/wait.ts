export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Completes the timeout message: "timed out after Nms waiting for <what>". */
  what?: string;
}

type Falsy = undefined | false | null | 0 | "";

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls probe until it returns a truthy value and returns that value. A probe
 * that throws counts as "not yet"; its last error is reported on timeout, since
 * that is usually the real reason (connection refused, 404, ...).
 */
export async function waitFor<T>(probe: () => Promise<T | Falsy> | T | Falsy, opts: WaitOptions = {}): Promise<T> {
  const { timeoutMs = 15_000, intervalMs = 50, what = "condition" } = opts;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const remaining = deadline - Date.now();
    try {
      const result = await withinMs(Promise.resolve().then(probe), Math.max(remaining, 0));
      if (result.done && result.value) return result.value as T;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) throw timeoutError(timeoutMs, what, lastError);
    await sleep(Math.min(intervalMs, Math.max(deadline - Date.now(), 0)));
  }
}

// A probe that hangs (a request to a stopped server) must not stretch the timeout.
async function withinMs<T>(promise: Promise<T>, ms: number): Promise<{ done: true; value: T } | { done: false }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ done: false }>((resolve) => {
    timer = setTimeout(() => resolve({ done: false }), ms);
  });
  try {
    return await Promise.race([promise.then((value) => ({ done: true as const, value })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function timeoutError(timeoutMs: number, what: string, lastError: unknown): Error {
  const cause = lastError === undefined ? "" : `; last error: ${errorText(lastError)}`;
  return new Error(`timed out after ${timeoutMs}ms waiting for ${what}${cause}`, { cause: lastError });
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? ` (${err.cause.message})` : "";
  return `${err.message}${cause}`;
}
