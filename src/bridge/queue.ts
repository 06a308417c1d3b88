/**
 * A keyed work queue: one run at a time per key, in the order keys were added; a key added again
 * while it waits is not queued twice, and one added while it runs runs once more afterwards. At most
 * `concurrency` keys run at once. A run that throws is retried after a backoff of its own key.
 */
import { backoffDelay, type BackoffPolicy } from "../backoff.js";

export interface QueueOptions {
  concurrency: number;
  retry: BackoffPolicy;
  /** A run of `key` failed with `err`; it runs again in `delayMs`. */
  onRetry(key: string, err: unknown, delayMs: number): void;
}

interface KeyState {
  running: boolean;
  again: boolean;
  attempt: number;
  retryTimer?: NodeJS.Timeout;
  /** When the retry timer fires (ms since the epoch). */
  retryAt?: number;
}

export class KeyedQueue {
  private readonly waiting = new Set<string>();
  private readonly keys = new Map<string, KeyState>();
  private active = 0;
  /** Keys whose retry timer is set: counted as they change, since the metrics ask at every reconcile. */
  private retryCount = 0;
  private stopped = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly run: (key: string) => Promise<void>,
    private readonly options: QueueOptions,
  ) {}

  /** Runs `key` as soon as a slot is free; a retry waiting for its backoff runs now instead. */
  add(key: string): void {
    if (this.stopped) return;
    const state = this.state(key);
    this.cancelRetry(state);
    if (state.running) state.again = true;
    else this.waiting.add(key);
    this.pump();
  }

  /** Queued, running or waiting to retry. */
  has(key: string): boolean {
    return this.keys.has(key);
  }

  /** When a key waiting for a retry runs again (ms since the epoch), or undefined. */
  retryAt(key: string): number | undefined {
    return this.keys.get(key)?.retryAt;
  }

  /** Keys waiting for a retry after a failure. */
  retrying(): number {
    return this.retryCount;
  }

  /** Nothing queued, running or waiting to retry. */
  empty(): boolean {
    return this.keys.size === 0;
  }

  /** Resolves when nothing is queued or running (retries waiting on a timer do not count). */
  idle(): Promise<void> {
    if (this.active === 0 && this.waiting.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Takes no more work, drops retries, and waits up to `timeoutMs` for runs in flight. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    this.waiting.clear();
    for (const state of this.keys.values()) this.cancelRetry(state);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }

  private state(key: string): KeyState {
    let state = this.keys.get(key);
    if (!state) {
      state = { running: false, again: false, attempt: 0 };
      this.keys.set(key, state);
    }
    return state;
  }

  private pump(): void {
    while (!this.stopped && this.active < this.options.concurrency && this.waiting.size > 0) {
      const key = this.waiting.values().next().value as string;
      this.waiting.delete(key);
      void this.runOnce(key, this.state(key));
    }
    this.notifyIfIdle();
  }

  private async runOnce(key: string, state: KeyState): Promise<void> {
    state.running = true;
    this.active++;
    try {
      await this.run(key);
      state.attempt = 0;
    } catch (err) {
      this.scheduleRetry(key, state, err);
    }
    state.running = false;
    this.active--;
    if (state.again) {
      // Added while it ran: that asks for a run now, which a waiting retry would only repeat.
      state.again = false;
      this.cancelRetry(state);
      this.waiting.add(key);
    } else if (!state.retryTimer) {
      this.keys.delete(key);
    }
    this.pump();
  }

  private scheduleRetry(key: string, state: KeyState, err: unknown): void {
    if (this.stopped) return;
    const delay = backoffDelay(state.attempt++, this.options.retry);
    this.cancelRetry(state);
    // add() cancels the retry it replaces, and with it the count; stop() cancels every timer first.
    state.retryTimer = setTimeout(() => this.add(key), delay);
    state.retryAt = Date.now() + delay;
    this.retryCount++;
    // Told once the retry is counted, so what it reports (the metrics) includes this one.
    this.options.onRetry(key, err, delay);
  }

  private cancelRetry(state: KeyState): void {
    if (!state.retryTimer) return;
    clearTimeout(state.retryTimer);
    state.retryTimer = undefined;
    state.retryAt = undefined;
    this.retryCount--;
  }

  private notifyIfIdle(): void {
    if (this.active > 0 || this.waiting.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
