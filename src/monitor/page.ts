/**
 * The status page at `/`: the snapshot of `/status` as one HTML document, rendered here, with no
 * script and no external asset; the browser reloads it (meta refresh). Read-only. Pure.
 */
import { hostPort } from "../address.js";
import type { BridgeSnapshot, ContainerSnapshot, ServiceSnapshot } from "../bridge/snapshot.js";
import { redactSnapshot } from "./status.js";

const REFRESH_SECONDS = 5;

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1d1d1f;background:#fafafa}
h1{font-size:1.3em;margin:0 0 .6em}h2{font-size:1.05em;margin:1.4em 0 .3em}
.summary{display:flex;flex-wrap:wrap;gap:.6em;margin-bottom:1em}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.3em .7em}
.card b{display:block;font-size:1.2em}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #eee;vertical-align:top}
th{background:#f0f0f0;font-weight:600}code{font-size:.95em;white-space:nowrap}
.state{display:inline-block;border-radius:4px;padding:0 .4em;font-size:.9em;white-space:nowrap}
.registered,.up{background:#d9f2dd;color:#14532d}.pending{background:#fff1c2;color:#713f12}
.refused,.down{background:#fbd5d5;color:#7f1d1d}.owned-elsewhere{background:#e3e1fb;color:#312e81}
.ignored{background:#eee;color:#444}.muted{color:#666}`;

export function renderStatusPage(snapshot: BridgeSnapshot, now: Date = new Date()): string {
  const shown = redactSnapshot(snapshot);
  const registry = shown.registry.up ? "up" : "down";
  const body = [
    `<h1>registrator on ${escape(shown.hostId)}</h1>`,
    `<div class="summary">`,
    card("registry", `${escape(shown.registry.backend)} <span class="state ${registry}">${registry}</span>`),
    card("last sync", shown.lastSync ? lastSync(shown.lastSync, now) : "not yet"),
    ...Object.entries(shown.counts).map(([name, value]) => card(COUNT_NAMES[name] ?? name, String(value))),
    `</div>`,
    shown.containers.length === 0 ? `<p class="muted">No running container.</p>` : containersTable(shown.containers),
    `<p class="muted">Read-only; reloads every ${REFRESH_SECONDS} s. The same as JSON: <a href="status">/status</a>.</p>`,
  ];
  return [
    `<!doctype html>`,
    `<html lang="en"><head><meta charset="utf-8">`,
    `<meta http-equiv="refresh" content="${REFRESH_SECONDS}">`,
    `<meta name="viewport" content="width=device-width, initial-scale=1">`,
    `<title>registrator: ${escape(shown.hostId)}</title><style>${STYLE}</style></head>`,
    `<body>`,
    ...body,
    `</body></html>`,
    "",
  ].join("\n");
}

const COUNT_NAMES: Record<string, string> = { ownedElsewhere: "owned elsewhere" };

function card(title: string, html: string): string {
  return `<div class="card"><span class="muted">${escape(title)}</span><b>${html}</b></div>`;
}

function containersTable(containers: readonly ContainerSnapshot[]): string {
  const rows = containers.flatMap((container) => {
    const head = `<tr><th colspan="5">${escape(container.name)} <code class="muted">${escape(container.id.slice(0, 12))}</code></th></tr>`;
    const services = container.services.map(serviceRow);
    const ignored = container.ignored.map(
      (item) =>
        `<tr><td>${item.port ? `port ${escape(item.port)}` : "container"}</td><td></td><td></td><td><span class="state ignored">ignored</span></td><td>${escape(item.reason)}</td></tr>`,
    );
    return [head, ...services, ...ignored];
  });
  return `<table><thead><tr><th>service</th><th>name</th><th>address</th><th>state</th><th>detail</th></tr></thead><tbody>\n${rows.join("\n")}\n</tbody></table>`;
}

function serviceRow(service: ServiceSnapshot): string {
  const address = hostPort(service.ip, service.port);
  const tags = service.tags.length ? ` <span class="muted">${escape(service.tags.join(", "))}</span>` : "";
  const cells = [
    `<code>${escape(service.id)}</code>`,
    `${escape(service.name)}${tags}`,
    `<code>${escape(address)}</code>`,
    stateCell(service),
    escape(detail(service)),
  ];
  return `<tr>${cells.map((cell) => `<td>${cell}</td>`).join("")}</tr>`;
}

function stateCell(service: ServiceSnapshot): string {
  const label = service.state === "owned-elsewhere" ? "owned elsewhere" : service.state === "pending" ? "pending retry" : service.state;
  return `<span class="state ${service.state}">${label}</span>`;
}

function detail(service: ServiceSnapshot): string {
  const parts = [
    service.owner ? `held by ${service.owner}` : "",
    service.reason ?? "",
    service.nextAttemptAt ? `next attempt ${service.nextAttemptAt}` : "",
  ];
  return parts.filter(Boolean).join("; ");
}

/** `18:40:19 UTC (3 s ago)`, the full time in the element's datetime. */
function lastSync(iso: string, now: Date): string {
  const time = Number.isNaN(Date.parse(iso)) ? iso : `${new Date(iso).toISOString().slice(11, 19)} UTC`;
  return `<time datetime="${escape(iso)}">${escape(time)}</time> <span class="muted">(${ago(iso, now)})</span>`;
}

function ago(iso: string, now: Date): string {
  const seconds = Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));
  return seconds < 120 ? `${seconds} s ago` : `${Math.round(seconds / 60)} min ago`;
}

/** HTML text and attribute values. */
export function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
