/** Errors that decide what the bridge does next; shared by the HTTP client and every adapter. */

/** A write the registry refused for this service as it is (bad metadata): retrying will not help. */
export class RejectedError extends Error {
  override name = "RejectedError";
}
