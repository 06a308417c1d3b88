/**
 * Runs calls for the same key one after another, so a late write (a heartbeat's re-registration, a
 * restore after a session expiry) can never land after the removal that followed it. Keys with
 * nothing queued are forgotten.
 */
export class SerialByKey {
  private readonly chains = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.chains.get(key) ?? Promise.resolve()).catch(() => undefined).then(fn);
    const tail = run.catch(() => undefined);
    this.chains.set(key, tail);
    void tail.then(() => this.chains.get(key) === tail && this.chains.delete(key));
    return run;
  }
}
