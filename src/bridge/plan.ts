/** What to write so that the registry holds the desired services: pure, so every case is a unit test. */
import type { Service } from "../service/types.js";

export interface Plan {
  remove: Service[];
  add: Service[];
}

export function fingerprint(service: Service): string {
  return JSON.stringify(service);
}

/**
 * A service that changed is removed before it is added again: some backends key entries by address,
 * so overwriting in place could leave the old entry behind.
 * `force` re-registers what is already there (a resync, or entries a registry may have lost).
 * `rejected` holds services the registry refused as they are: sending them again would fail again.
 */
export function planChanges(
  registered: ReadonlyMap<string, Service>,
  desired: ReadonlyMap<string, Service>,
  force: boolean,
  rejected: ReadonlyMap<string, string> = new Map(),
): Plan {
  const remove: Service[] = [];
  const add: Service[] = [];
  for (const [id, current] of registered) {
    const wanted = desired.get(id);
    if (!wanted || fingerprint(wanted) !== fingerprint(current)) remove.push(current);
  }
  for (const [id, wanted] of desired) {
    const current = registered.get(id);
    const print = fingerprint(wanted);
    if (rejected.get(id) === print) continue;
    if (force || !current || fingerprint(current) !== print) add.push(wanted);
  }
  return { remove, add };
}
