import { hostPort } from "../address.js";
import { InvalidUriError, type RegistryUri } from "./types.js";

const URI_SHAPE = /^([a-zA-Z][a-zA-Z0-9+.-]*):(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#.*)?$/;

/**
 * Parses `scheme://authority/path?query`. Not WHATWG URL: ZooKeeper's `host1:2181,host2:2181`
 * authority must pass, and `consul:` alone is a valid URI.
 */
export function parseRegistryUri(raw: string): RegistryUri {
  const match = URI_SHAPE.exec(raw.trim());
  if (!match) throw new InvalidUriError(`invalid registry URI ${JSON.stringify(raw)}: expected scheme://host:port/path`);
  const [, scheme = "", authority = "", rawPath = "", query = ""] = match;
  const first = authority.split(",")[0] ?? "";
  const hostMatch = /^(?:\[([^\]]+)\]|([^:]*))(?::(\d*))?$/.exec(first);
  if (!hostMatch) throw new InvalidUriError(`invalid host ${JSON.stringify(first)} in registry URI ${JSON.stringify(raw)}`);
  const [, ipv6, plainHost, portText] = hostMatch;
  let port: number | undefined;
  if (portText) {
    port = Number(portText);
    if (port < 1 || port > 65535) throw new InvalidUriError(`invalid port ${portText} in registry URI ${JSON.stringify(raw)}`);
  }
  let path: string;
  try {
    path = decodeURIComponent(rawPath).replace(/\/+$/, "");
  } catch {
    throw new InvalidUriError(`invalid path in registry URI ${JSON.stringify(raw)}`);
  }
  return {
    scheme: scheme.toLowerCase(),
    authority,
    host: ipv6 ?? plainHost ?? "",
    port,
    path,
    query: new URLSearchParams(query),
    raw,
  };
}

/** `http://host:port` for an adapter's HTTP endpoint, with the defaults filled in. */
export function httpOrigin(uri: RegistryUri, defaultHost: string, defaultPort: number, secure = false): string {
  const host = uri.host || defaultHost;
  return `${secure ? "https" : "http"}://${hostPort(host, uri.port ?? defaultPort)}`;
}
