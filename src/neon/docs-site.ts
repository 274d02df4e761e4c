/**
 * Neon's documentation, read from its site: the `llms.txt` index (`<base>/docs/llms.txt`, a markdown
 * list of `[title](url): description`) and single pages as markdown (`<base>/docs/<slug>.md`).
 * Every fetch stays on the configured site's origin (redirects included), so neither a tool nor a
 * resource can be used to fetch other hosts; pages are size-limited and cached in memory with a cap.
 */
import { InvalidArgumentError, NeonError } from '../client/errors.js';

/** Neon's documentation site (--docs-url, NEON_MCP_DOCS_URL). */
export const DEFAULT_DOCS_URL = 'https://neon.com';
/** A page (or the index) larger than this is refused: no single answer should flood a context. */
export const MAX_DOC_BYTES = 512 * 1024;
/** Total size of the in-memory cache; the least recently used entries leave first. */
const CACHE_BYTES = 8 * 1024 * 1024;
/** Docs change rarely; an hour-old copy is good enough and spares the site. */
const CACHE_TTL_MS = 60 * 60 * 1000;
const MAX_REDIRECTS = 3;
const FETCH_TIMEOUT_MS = 20_000;

interface DocEntry {
  /** The page's path under /docs/, without `.md` (e.g. `introduction/branching`). */
  slug: string;
  title: string;
  description?: string;
}

interface DocPage {
  slug: string;
  url: string;
  markdown: string;
}

interface Cached {
  text: string;
  at: number;
}

/** Shared by every server in the process: the same page fetched twice is fetched once. */
const cache = new Map<string, Cached>();
let cachedBytes = 0;

/** Forgets every cached page (tests). */
export function clearDocsCache(): void {
  cache.clear();
  cachedBytes = 0;
}

function remember(url: string, text: string): void {
  const old = cache.get(url);
  if (old) {
    cache.delete(url);
    cachedBytes -= old.text.length;
  }
  cache.set(url, { text, at: Date.now() });
  cachedBytes += text.length;
  // Map keeps insertion order, and a hit re-inserts: the first entries are the least recently used.
  for (const [key, entry] of cache) {
    if (cachedBytes <= CACHE_BYTES) break;
    cache.delete(key);
    cachedBytes -= entry.text.length;
  }
}

function recall(url: string): string | undefined {
  const hit = cache.get(url);
  if (!hit) return undefined;
  cache.delete(url);
  if (Date.now() - hit.at > CACHE_TTL_MS) {
    cachedBytes -= hit.text.length;
    return undefined;
  }
  cache.set(url, hit);
  return hit.text;
}

/** A slug is a relative path of plain segments: no `..`, no scheme, no query. */
const SLUG = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;

export class DocsSite {
  readonly base: URL;
  constructor(
    base = DEFAULT_DOCS_URL,
    private readonly fetchImpl: typeof fetch = (...args) => fetch(...args),
  ) {
    try {
      this.base = new URL(base.endsWith('/') ? base : `${base}/`);
    } catch {
      throw new InvalidArgumentError(`The docs URL "${base}" is not a URL (e.g. ${DEFAULT_DOCS_URL}).`);
    }
    if (this.base.protocol !== 'https:' && this.base.protocol !== 'http:')
      throw new InvalidArgumentError(`The docs URL must be http(s), got "${base}".`);
  }

  /** The index, as a list of pages. */
  async index(signal?: AbortSignal): Promise<DocEntry[]> {
    return parseIndex(await this.text(this.url('docs/llms.txt'), signal), this.base);
  }

  /** The raw index text (for the docs resource). */
  indexText(signal?: AbortSignal): Promise<string> {
    return this.text(this.url('docs/llms.txt'), signal);
  }

  /** One page as markdown, by slug (`introduction/branching`) or by its URL on the docs site. */
  async page(ref: string, signal?: AbortSignal): Promise<DocPage> {
    const slug = this.slugOf(ref);
    const url = this.url(`docs/${slug}.md`);
    return { slug, url: url.href, markdown: await this.text(url, signal) };
  }

  /** The slug of a page reference; throws for other hosts and for paths that are not plain. */
  slugOf(ref: string): string {
    const notAPage = () =>
      new InvalidArgumentError(
        `"${ref}" is not a docs page: give a slug from list_docs, e.g. introduction/branching.`,
      );
    let path = ref.trim();
    if (/^[a-z][a-z0-9+.-]*:/i.test(path)) {
      const url = new URL(path);
      if (url.origin !== this.base.origin)
        throw new InvalidArgumentError(
          `Only pages of ${this.base.origin} can be read, not ${url.origin}: give the page's slug from list_docs.`,
        );
      // A page of the site outside the docs' base path (a base such as https://host/mirror/) is no page.
      if (!url.pathname.startsWith(this.base.pathname)) throw notAPage();
      path = url.pathname.slice(this.base.pathname.length);
    }
    path = path
      .replace(/^\/+/, '')
      .replace(/^docs\//, '')
      .replace(/\.md$/, '')
      .replace(/\/+$/, '');
    if (!SLUG.test(path) || path.split('/').some((s) => s === '..' || s === '.')) throw notAPage();
    return path;
  }

  private url(path: string): URL {
    return new URL(path, this.base);
  }

  private async text(url: URL, signal?: AbortSignal): Promise<string> {
    const hit = recall(url.href);
    if (hit !== undefined) return hit;
    const text = await this.fetchText(url, signal);
    remember(url.href, text);
    return text;
  }

  private async fetchText(start: URL, signal?: AbortSignal): Promise<string> {
    let url = start;
    const timeout = AbortSignal.timeout(FETCH_TIMEOUT_MS);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    for (let hop = 0; ; hop++) {
      if (url.origin !== this.base.origin)
        throw new NeonError(
          `The docs site redirected to ${url.origin}, which is not ${this.base.origin}; not followed.`,
        );
      let res: Response;
      try {
        res = await this.fetchImpl(url, {
          redirect: 'manual',
          signal: combined,
          headers: { accept: 'text/markdown, text/plain;q=0.9, */*;q=0.1' },
        });
      } catch (error) {
        if (signal?.aborted) throw new NeonError(`Fetching ${url.href} was cancelled.`);
        throw new NeonError(
          `Could not fetch ${url.href}: ${timeout.aborted ? `no answer within ${FETCH_TIMEOUT_MS} ms` : (error as Error).message}. Try again later.`,
        );
      }
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        discard(res);
        if (hop >= MAX_REDIRECTS) throw new NeonError(`Too many redirects fetching ${start.href}.`);
        url = new URL(location, url);
        continue;
      }
      if (res.status === 404) {
        discard(res);
        throw new NeonError(`No docs page at ${url.href} (HTTP 404). Find the page's slug with list_docs.`);
      }
      if (!res.ok) {
        discard(res);
        throw new NeonError(`The docs site answered HTTP ${res.status} for ${url.href}. Try again later.`);
      }
      return readCapped(res, url);
    }
  }
}

/** Drops a body not read; not awaited, since some fetch implementations settle it only when drained. */
function discard(res: Response): void {
  res.body?.cancel().catch(() => undefined);
}

/** The body as text, refusing it once it passes {@link MAX_DOC_BYTES}. */
async function readCapped(res: Response, url: URL): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  const tooBig = () =>
    new NeonError(`The docs page ${url.href} is larger than ${MAX_DOC_BYTES} bytes; not read.`);
  if (declared > MAX_DOC_BYTES) {
    discard(res);
    throw tooBig();
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_DOC_BYTES) {
      reader.cancel().catch(() => undefined);
      throw tooBig();
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}

/** `- [Title](url): description` lines of pages on the docs site; anything else is skipped. */
export function parseIndex(text: string, base: URL): DocEntry[] {
  const out: DocEntry[] = [];
  const seen = new Set<string>();
  // An index served with CRLF line ends: `.` stops at the `\r`, so every described entry would be lost.
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*[-*]\s*\[([^\]]+)\]\(([^)\s]+)\)\s*(?::\s*(.*))?$/.exec(line);
    if (!m) continue;
    let url: URL;
    try {
      url = new URL(m[2], base);
    } catch {
      continue;
    }
    if (url.origin !== base.origin || !url.pathname.startsWith(base.pathname)) continue;
    const rel = url.pathname.slice(base.pathname.length);
    if (!rel.startsWith('docs/')) continue;
    const slug = rel.slice('docs/'.length).replace(/\.md$/, '').replace(/\/+$/, '');
    if (!slug || !SLUG.test(slug) || seen.has(slug)) continue;
    seen.add(slug);
    out.push({ slug, title: m[1].trim(), ...(m[3]?.trim() ? { description: m[3].trim() } : {}) });
  }
  return out;
}
