/**
 * Go templates in tags: the operator's `-tags` may use every v7.4 function, `httpGet` included; a
 * container's own SERVICE_TAGS may use none that reaches the network. The template engine is loaded
 * the first time a template is met (it costs start-up time and memory that most hosts never need).
 */
import type { BuildOptions, ContainerInfo } from "../service/types.js";

type TemplateModule = typeof import("../template/template.js");

const HTTP_GET_TIMEOUT_MS = 5000;
const HTTP_GET_MAX_BYTES = 64 * 1024;
/** Distinct URLs one render may fetch: each is awaited in turn, and a URL may be built from the container's labels. */
const HTTP_GET_MAX_URLS = 32;
let loaded: TemplateModule | undefined;

/** Whether building this container needs the template engine. Pure. */
export function usesTemplates(info: ContainerInfo, options: Pick<BuildOptions, "tagsTemplate">): boolean {
  if (options.tagsTemplate !== undefined) return true;
  const mentions = (text: string) => text.includes("{{");
  return (info.Config.Env ?? []).some(mentions) || Object.values(info.Config.Labels ?? {}).some(mentions);
}

/**
 * The build options for one container: the operator's `-tags` rendered against it, and a renderer for
 * its own SERVICE_TAGS. Rejects with the template's error, which ignores the container.
 */
export async function withTemplates(info: ContainerInfo, options: BuildOptions): Promise<BuildOptions> {
  const engine = (loaded ??= require("../template/template.js") as TemplateModule);
  const view = engine.goContainerView(info);
  const untrusted = engine.tagFunctions({});
  const renderTemplate = (source: string) => engine.renderTemplate(source, view, untrusted);
  if (options.tagsTemplate === undefined) return { ...options, renderTemplate };
  const rendered = await renderWithHttp(engine, options.tagsTemplate, view);
  return { ...options, tags: splitOptionTags(rendered), tagsTemplate: undefined, renderTemplate };
}

/** `-tags a, b,,c` → `["a", "b", "c"]`, as the Go registrator splits them. */
export function splitOptionTags(text: string): string[] {
  return text
    .split(",")
    .map((tag) => tag.trim())
    .filter(Boolean);
}

/**
 * Go's httpGet blocks; here the template runs once to learn which URLs it fetches, the bodies are
 * fetched, and it runs again with them. A URL that depends on another's body takes one more round.
 */
async function renderWithHttp(engine: TemplateModule, source: string, view: unknown): Promise<string> {
  const bodies = new Map<string, string>();
  for (let round = 0; ; round++) {
    const wanted = new Set<string>();
    const httpGet = (url: string) => {
      if (bodies.has(url)) return bodies.get(url)!;
      if (bodies.size + wanted.size >= HTTP_GET_MAX_URLS) {
        throw new engine.LimitExceeded(`httpGet of more than ${HTTP_GET_MAX_URLS} URLs, the most a template may fetch`);
      }
      wanted.add(url);
      return "";
    };
    const text = engine.renderTemplate(source, view, engine.tagFunctions({ httpGet }));
    if (wanted.size === 0 || round === 3) return text;
    for (const url of wanted) bodies.set(url, await fetchBody(url));
  }
}

/** v7.4 goes on with an empty body when a request fails. */
async function fetchBody(url: string): Promise<string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(HTTP_GET_TIMEOUT_MS) });
    return await firstBytes(res, HTTP_GET_MAX_BYTES);
  } catch {
    return "";
  }
}

/** The start of a body, read no further than `max` bytes however much the server sends. */
async function firstBytes(res: Response, max: number): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, max).toString("utf8");
}
