/**
 * Turns many calls into few requests without making any call wait for a timer: a call goes out with
 * the others made in the same tick, and calls made while `inFlight` batches are out go together in
 * the next one. One event alone is sent at once; a sync of hundreds becomes a handful of requests.
 */
export interface BatcherOptions {
  /** The most items in one batch. */
  maxSize: number;
  /** Batches out at once; more calls wait and join the next batch. */
  inFlight: number;
  /** Errors that may be one item's fault (a refusal): each item of the failed batch is sent again alone, one after another. */
  alone?(err: unknown): boolean;
}

interface Waiting<I, O> {
  item: I;
  resolve(result: O): void;
  reject(err: unknown): void;
}

export class Batcher<I, O> {
  private waiting: Array<Waiting<I, O>> = [];
  private out = 0;
  private scheduled = false;

  /** `run` answers every item of a batch, in order. */
  constructor(
    private readonly run: (items: I[]) => Promise<O[]>,
    private readonly options: BatcherOptions,
  ) {}

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.out >= this.options.inFlight || this.waiting.length === 0) return;
    this.scheduled = true;
    // A microtask, not the next turn of the loop: calls made by the same callback still gather, and
    // the batch is written before the loop turns to other I/O (a read ahead goes out with the inspect).
    queueMicrotask(() => {
      this.scheduled = false;
      while (this.out < this.options.inFlight && this.waiting.length > 0) this.send(this.waiting.splice(0, this.options.maxSize));
    });
  }

  private send(batch: Array<Waiting<I, O>>): void {
    this.out++;
    this.settle(batch).finally(() => {
      this.out--;
      this.schedule();
    });
  }

  private async settle(batch: Array<Waiting<I, O>>): Promise<void> {
    try {
      const results = await this.run(batch.map((waiting) => waiting.item));
      batch.forEach((waiting, i) => waiting.resolve(results[i]!));
    } catch (err) {
      if (batch.length > 1 && this.options.alone?.(err)) {
        // One after another, in the failed batch's place: a refusal must not open more requests than inFlight.
        for (const waiting of batch) await this.settle([waiting]);
      } else {
        for (const waiting of batch) waiting.reject(err);
      }
    }
  }
}
