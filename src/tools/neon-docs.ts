/**
 * Neon's documentation as tools: the index of pages (from the site's llms.txt) and one page as
 * markdown. Fetching, the origin check and the cache live in src/neon/docs-site.ts.
 */
import * as z from 'zod';
import { DocsSite } from '../neon/docs-site.js';
import { int, text } from './fields.js';
import { defineTool, type Hints, items, output, READ, type ToolDef } from './framework.js';

/** Pages come from the web (Neon's site), not from the user's account. */
const WEB_READ: Hints = { ...READ, openWorldHint: true };

export const listDocs = defineTool({
  name: 'list_docs',
  title: 'List Neon docs',
  description: "Search Neon's docs index (all words match); then get_doc.",
  toolset: 'docs',
  operations: [],
  input: {
    search: text(200).optional().describe('search'),
    limit: int(1, 500).optional().describe('limit'),
  },
  output: output({ pages: items({ slug: z.string(), title: z.string() }), total: z.number() }),
  hints: WEB_READ,
  async handler({ search, limit }, { settings, signal }) {
    const pages = await new DocsSite(settings.docsUrl).index(signal);
    const words = (search ?? '').toLowerCase().split(/\s+/).filter(Boolean);
    const matching = words.length
      ? pages.filter((p) => {
          const hay = `${p.slug} ${p.title} ${p.description ?? ''}`.toLowerCase();
          return words.every((w) => hay.includes(w));
        })
      : pages;
    // 50 by default: the whole index is over a thousand pages.
    return { pages: matching.slice(0, limit ?? 50), total: matching.length };
  },
});

export const getDoc = defineTool({
  name: 'get_doc',
  title: 'Get Neon doc',
  description: "One page of Neon's docs as markdown, by its slug from list_docs.",
  toolset: 'docs',
  operations: [],
  input: { slug: text(300).describe('slug') },
  output: output({ slug: z.string(), url: z.string(), markdown: z.string() }),
  hints: WEB_READ,
  async handler({ slug }, { settings, signal }) {
    return { ...(await new DocsSite(settings.docsUrl).page(slug, signal)) };
  },
});

export const docsTools: ToolDef[] = [listDocs, getDoc];
