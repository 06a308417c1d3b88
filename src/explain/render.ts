/** `registrator explain`'s report as text for people: at most 100 columns, colour only when asked. Pure. */
import { hostPort } from "../address.js";
import type { ContainerReport, EntryReport, EntryState, ExplainReport, Ignored, ServiceReport } from "./report.js";

const WIDTH = 100;

export interface RenderOptions {
  colour: boolean;
  width?: number;
}

type Paint = (text: string) => string;
interface Style {
  good: Paint;
  bad: Paint;
  warn: Paint;
  bold: Paint;
  dim: Paint;
  width: number;
}

const sgr =
  (code: string): Paint =>
  (text) =>
    `\u001b[${code}m${text}\u001b[0m`;
const plain: Paint = (text) => text;

/** Colour on a terminal, unless NO_COLOR is set to anything (https://no-color.org). */
export function wantsColour(isTty: boolean, env: NodeJS.ProcessEnv): boolean {
  return isTty && (env.NO_COLOR === undefined || env.NO_COLOR === "") && env.TERM !== "dumb";
}

export function renderReport(report: ExplainReport, options: RenderOptions): string {
  const c = options.colour;
  const style: Style = {
    good: c ? sgr("32") : plain,
    bad: c ? sgr("31") : plain,
    warn: c ? sgr("33") : plain,
    bold: c ? sgr("1") : plain,
    dim: c ? sgr("2") : plain,
    width: options.width ?? WIDTH,
  };
  const lines: string[] = [];
  const registry = report.registry;
  lines.push(...wrap(`registry ${registry.uri} (${registry.backend}), host id ${report.hostId}`, "", style.width));
  if (!registry.readable) lines.push(...paragraph(style.bad("registry not read: "), registry.error ?? "", "  ", style));
  for (const warning of report.warnings) lines.push(...paragraph(style.warn("warning: "), warning, "  ", style));
  for (const name of report.notFound) lines.push(...paragraph(style.bad("not found: "), `no container ${name}`, "  ", style));
  for (const container of report.containers) lines.push("", ...containerLines(container, style));
  if (report.orphans.length > 0) {
    lines.push("", style.bold("entries of this host id for containers that no longer run"));
    for (const entry of report.orphans) lines.push(...entryLines(entry, style));
  }
  lines.push(
    "",
    report.inStep
      ? style.good("in step: the registry holds what registrator registers")
      : style.bad(`not in step: ${problemCount(report)}`),
  );
  return `${lines.join("\n")}\n`;
}

function containerLines(container: ContainerReport, style: Style): string[] {
  const lines = [style.bold(`container ${container.name} (${container.id.slice(0, 12)})`)];
  for (const service of container.services) lines.push(...serviceLines(service, style));
  for (const item of container.ignored) lines.push(...ignoredLines(item, style));
  if (container.services.length === 0 && container.ignored.length === 0) lines.push("  no service");
  for (const entry of container.unexpected) lines.push(...paragraph("  also held: ", "", "    ", style), ...entryLines(entry, style));
  return lines;
}

function serviceLines(service: ServiceReport, style: Style): string[] {
  const lines = wrap(`port ${service.port} → service ${style.bold(service.name)}, id ${service.id}`, "  ", style.width, "    ");
  const field = (label: string, text: string) => paragraph(`    ${label.padEnd(9)}`, text, " ".repeat(13), style);
  lines.push(...field("address", `${hostPort(service.ip, service.hostPort)}, from ${service.address.detail}`));
  if (service.tags.length > 0) lines.push(...field("tags", service.tags.join(", ")));
  for (const check of service.checks) lines.push(...field("check", check));
  for (const note of service.notes) lines.push(...field("note", `${note.reason}${note.fix ? `; ${note.fix}` : ""}`));
  lines.push(...registryLines(service.registry, style));
  return lines;
}

function registryLines(entry: EntryState, style: Style): string[] {
  const field = (text: string) => paragraph("    registry ", text, " ".repeat(13), style);
  switch (entry.state) {
    case "in-step":
      return field(style.good("in step"));
    case "unknown":
      return field(style.warn(`unknown: ${entry.reason}`));
    case "missing":
      return [...field(style.bad("missing")), ...fixLines(entry.fix, style)];
    case "owned-elsewhere":
      return [...field(style.bad(`held by ${entry.owner}`)), ...fixLines(entry.fix, style)];
    case "different": {
      const rows = entry.fields.flatMap((d) =>
        paragraph(
          `             ${d.field}: `,
          `${style.bad(d.have || '""')} in the registry, ${d.want || '""'} wanted`,
          " ".repeat(15),
          style,
        ),
      );
      return [...field(style.bad("different")), ...rows, ...fixLines(entry.fix, style)];
    }
  }
}

function ignoredLines(item: Ignored, style: Style): string[] {
  const head = item.port ? `port ${item.port} ignored: ` : "ignored: ";
  return [...paragraph(`  ${style.warn(head)}`, item.reason, "    ", style), ...(item.fix ? fixLines(item.fix, style, "    ") : [])];
}

function fixLines(fix: string, style: Style, indent = " ".repeat(13)): string[] {
  return paragraph(`${indent}${style.dim("fix:")} `, fix, `${indent}     `, style);
}

function entryLines(entry: EntryReport, style: Style): string[] {
  const address = entry.address ? ` at ${entry.address}` : "";
  return [
    ...paragraph("  ", `${entry.id} (${entry.name}${address}), held by ${entry.owner}`, "    ", style),
    ...fixLines(entry.fix, style, "    "),
  ];
}

function paragraph(head: string, text: string, indent: string, style: Style): string[] {
  return wrap(`${head}${text}`, "", style.width, indent);
}

function problemCount(report: ExplainReport): string {
  const services = report.containers.flatMap((c) => c.services).filter((s) => s.registry.state !== "in-step").length;
  const parts: [number, string, string][] = [
    [services, "service", "services"],
    [report.containers.reduce((n, c) => n + c.unexpected.length, 0), "entry held that should not be", "entries held that should not be"],
    [report.orphans.length, "entry without a running container", "entries without a running container"],
    [
      report.containers.filter((c) => !c.running).length + report.notFound.length,
      "container not found or not running",
      "containers not found or not running",
    ],
  ];
  const said = parts.filter(([n]) => n > 0).map(([n, one, many]) => `${n} ${n === 1 ? one : many}`);
  if (!report.registry.readable) said.unshift("the registry was not read");
  return said.join(", ");
}

const ESCAPES = /\u001b\[[0-9;]*m/g;

/** Breaks `text` at spaces so no line is wider than `width` columns, colour codes not counted. */
export function wrap(text: string, firstIndent: string, width: number, indent = firstIndent): string[] {
  const lines: string[] = [];
  let line = firstIndent;
  let visible = firstIndent.length;
  let empty = true;
  for (const word of text.split(" ").flatMap((w) => chunks(w, width - indent.length))) {
    const length = word.replace(ESCAPES, "").length;
    if (!empty && visible + 1 + length > width) {
      lines.push(line);
      line = indent;
      visible = indent.length;
      empty = true;
    }
    line += empty ? word : ` ${word}`;
    visible += empty ? length : length + 1;
    empty = false;
  }
  lines.push(line);
  return lines;
}

/** A word wider than a line (a long id) is cut into pieces that fit; coloured words are short and kept whole. */
function chunks(word: string, room: number): string[] {
  if (word.length <= room || room < 1 || word.includes("\u001b")) return [word];
  const pieces: string[] = [];
  for (let i = 0; i < word.length; i += room) pieces.push(word.slice(i, i + room));
  return pieces;
}
