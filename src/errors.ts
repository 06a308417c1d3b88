/** Errors that decide what the bridge does next; shared by the HTTP client and every adapter. */

/** Who holds an entry: a registrator's host id and the container behind the service. */
export interface Owner {
  /** `--host-id`, else the hostname. */
  hostId: string;
  container: string;
}

/** A write the registry refused for this service as it is (bad metadata): retrying will not help. */
export class RejectedError extends Error {
  override name = "RejectedError";
}

/**
 * The entry is held by another owner (another host, another container at the same address), or was
 * written by another tool: it is left alone. The holder may let it go, so the bridge tries the service
 * again at its next resync, and on a slow backoff without one.
 */
export class OwnedElsewhereError extends RejectedError {
  override name = "OwnedElsewhereError";
  constructor(
    readonly serviceId: string,
    /** The entry's owner, from its marker; undefined when it carries none. */
    readonly holder?: Owner,
    /** Why, where the key held is not the service id itself (an address, a DNS name). */
    reason?: string,
  ) {
    super(reason ?? `${serviceId} is owned by ${holderText(holder)}`);
  }
}

/** `<host>/<container12>`, `<host>`, or "another tool" for an entry without registrator's marker. */
export function holderText(holder?: Owner): string {
  if (!holder) return "another tool";
  return holder.container ? `${holder.hostId}/${holder.container.slice(0, 12)}` : holder.hostId;
}
