/**
 * `GET /status`: the bridge's snapshot as JSON (its schema: docs/status.schema.json), with secrets
 * taken out of every string (reasons quote error messages, which may quote a URI or a request). Pure.
 */
import type { BridgeSnapshot } from "../bridge/snapshot.js";
import { redactedUri } from "../registry/uri.js";

/** Userinfo in URIs, and the values of token-like query parameters and headers, replaced by `***`. */
export function redactText(value: string): string {
  return value
    .replace(/[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]*@[^\s"'<>]*/gi, (uri) => redactedUri(uri))
    .replace(/((?:token|password|secret|authorization)[\w-]*["']?\s*[=:]\s*["']?)[^\s"'&,;]+/gi, "$1***");
}

/** The snapshot with `redactText` applied to every string in it. */
export function redactSnapshot(snapshot: BridgeSnapshot): BridgeSnapshot {
  return JSON.parse(JSON.stringify(snapshot), (_key, value: unknown) =>
    typeof value === "string" ? redactText(value) : value,
  ) as BridgeSnapshot;
}
