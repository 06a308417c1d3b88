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
 * The one function that decides the next writes of a container.
 * A service that changed is removed before it is added again: some backends key entries by address,
 * so overwriting in place could leave the old entry behind.
 * `rewrite` registers again what is already there (a resync, or entries a registry may have lost).
 * `mayTry` says whether a service the registry refused before may be sent now.
 */
export function planChanges(
  registered: ReadonlyMap<string, Service>,
  desired: ReadonlyMap<string, Service>,
  rewrite: boolean,
  mayTry: (service: Service) => boolean = () => true,
): Plan {
  const remove: Service[] = [];
  const add: Service[] = [];
  const removed = new Set<string>();
  for (const [id, current] of registered) {
    const wanted = desired.get(id);
    if (wanted && fingerprint(wanted) === fingerprint(current)) continue;
    remove.push(current);
    removed.add(id);
  }
  for (const [id, wanted] of desired) {
    if (!mayTry(wanted)) continue;
    if (rewrite || !registered.has(id) || removed.has(id)) add.push(wanted);
  }
  return { remove, add };
}
