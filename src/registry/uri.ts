import { hostPort } from "../address.js";
import { InvalidUriError, type RegistryUri } from "./types.js";

const URI_SHAPE = /^([a-zA-Z][a-zA-Z0-9+.-]*):(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#.*)?$/;

/**
 * Parses `scheme://authority/path?query`. Not WHATWG URL: ZooKeeper's `host1:2181,host2:2181`
 * authority must pass, and `consul:` alone is a valid URI. `raw` comes back redacted: adapters
 * read it only to quote it in messages.
 */
export function parseRegistryUri(raw: string): RegistryUri {
  const shown = JSON.stringify(redactedUri(raw));
  const match = URI_SHAPE.exec(raw.trim());
  if (!match) throw new InvalidUriError(`invalid registry URI ${shown}: expected scheme://host:port/path`);
  const [, scheme = "", authority = "", rawPath = "", query = ""] = match;
  if (authority.includes("@")) {
    // No backend takes credentials from the URI, and there they would show in `ps` and in every log line that names the registry.
    throw new InvalidUriError(
      `registry URI ${shown}: credentials in the URI are not supported; use the backend's environment variables (e.g. CONSUL_HTTP_TOKEN)`,
    );
  }
  const first = authority.split(",")[0] ?? "";
  const hostMatch = /^(?:\[([^\]]+)\]|([^:]*))(?::(\d*))?$/.exec(first);
  if (!hostMatch) {
    // A password with an unencoded `#`, `/` or `?` ends the authority early, leaving part of it in `first`.
    const host = shown === JSON.stringify(raw) ? ` ${JSON.stringify(first)}` : "";
    throw new InvalidUriError(`invalid host${host} in registry URI ${shown}`);
  }
  const [, ipv6, plainHost, portText] = hostMatch;
  let port: number | undefined;
  if (portText) {
    port = Number(portText);
    if (port < 1 || port > 65535) throw new InvalidUriError(`invalid port ${portText} in registry URI ${shown}`);
  }
  let path: string;
  try {
    path = decodeURIComponent(rawPath).replace(/\/+$/, "");
  } catch {
    throw new InvalidUriError(`invalid path in registry URI ${shown}`);
  }
  return {
    scheme: scheme.toLowerCase(),
    authority,
    host: ipv6 ?? plainHost ?? "",
    port,
    path,
    query: new URLSearchParams(query),
    raw: redactedUri(raw),
  };
}

/**
 * The URI as it may be shown: `consul://admin:hunter2@host` → `consul://admin:***@host`, and a lone
 * `token@host` → `***@host`. Everything from `//` to the last `@` counts as userinfo, so a password
 * with an unencoded `/`, `?`, `#` or `@` is hidden whole; a path with an `@` is hidden too, which
 * costs a message some detail and never a secret.
 */
export function redactedUri(raw: string): string {
  const start = raw.indexOf("//");
  const at = raw.lastIndexOf("@");
  if (start < 0 || at < start) return raw;
  const userinfo = raw.slice(start + 2, at);
  const colon = userinfo.indexOf(":");
  const user = colon > 0 ? userinfo.slice(0, colon) : "";
  const kept = user && !/[/?#]/.test(user) ? `${user}:` : "";
  return `${raw.slice(0, start + 2)}${kept}***${raw.slice(at)}`;
}

/** `http://host:port` for an adapter's HTTP endpoint, with the defaults filled in. */
export function httpOrigin(uri: RegistryUri, defaultHost: string, defaultPort: number, secure = false): string {
  const host = uri.host || defaultHost;
  return `${secure ? "https" : "http"}://${hostPort(host, uri.port ?? defaultPort)}`;
}
