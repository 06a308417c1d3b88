/** Small statistics helpers; every input may contain undefined (a measurement that timed out). */

export function defined(values: ReadonlyArray<number | undefined>): number[] {
  return values.filter((v): v is number => v !== undefined && Number.isFinite(v));
}

/** Nearest-rank percentile (p in 0..100) of the defined values; undefined when there are none. */
export function percentile(values: ReadonlyArray<number | undefined>, p: number): number | undefined {
  const sorted = defined(values).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

export function median(values: ReadonlyArray<number | undefined>): number | undefined {
  const sorted = defined(values).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function max(values: ReadonlyArray<number | undefined>): number | undefined {
  const d = defined(values);
  return d.length ? Math.max(...d) : undefined;
}

export function min(values: ReadonlyArray<number | undefined>): number | undefined {
  const d = defined(values);
  return d.length ? Math.min(...d) : undefined;
}

export function round(value: number | undefined, digits = 1): number | undefined {
  if (value === undefined) return undefined;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
