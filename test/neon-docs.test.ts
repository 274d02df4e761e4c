/**
 * Neon's documentation (src/neon/docs.ts, src/tools/neon-docs.ts, the neon://docs resources) against a
 * docs site served by msw: the llms.txt index, pages as markdown, the origin kept (no open proxy),
 * the size limit, the cache and the configurable base URL.
 */
import { HttpResponse, http } from 'msw';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clearDocsCache, MAX_DOC_BYTES } from '../src/neon/docs.js';
import { connect, useMockApi } from './helpers.js';

const api = useMockApi();
let conn: Awaited<ReturnType<typeof connect>> | undefined;
afterEach(async () => {
  await conn?.close();
  conn = undefined;
});
beforeEach(() => clearDocsCache());

const SITE = 'https://docs.example.test';
const INDEX = `# Neon

> Serverless Postgres.

## Docs
- [Branching](${SITE}/docs/introduction/branching.md): Copy-on-write branches of your data
- [Connection pooling](${SITE}/docs/connect/connection-pooling): PgBouncer in front of Postgres
- [Elsewhere](https://elsewhere.test/docs/evil.md): not on the docs site
- [Drizzle](/docs/guides/drizzle.md)
`;

/** The docs site, counting requests per path. */
function site(pages: Record<string, string | (() => Response)> = {}) {
  const hits = new Map<string, number>();
  api.use(
    http.get(`${SITE}/*`, ({ request }) => {
      const path = new URL(request.url).pathname;
      hits.set(path, (hits.get(path) ?? 0) + 1);
      if (path === '/docs/llms.txt')
        return new HttpResponse(INDEX, { headers: { 'content-type': 'text/plain' } });
      const page = pages[path];
      if (typeof page === 'function') return page();
      if (page !== undefined) return new HttpResponse(page, { headers: { 'content-type': 'text/markdown' } });
      return new HttpResponse('not found', { status: 404 });
    }),
  );
  return hits;
}

const docsConn = (options: Parameters<typeof connect>[0] = {}) =>
  connect({ toolsets: ['docs'], docsUrl: SITE, ...options });

describe('list_docs and get_doc', () => {
  it('lists the pages of the docs site from llms.txt, searchable, and skips other hosts', async () => {
    site();
    conn = await docsConn();
    const all = await conn.ok('list_docs');
    expect(all.pages.map((p: any) => p.slug)).toEqual([
      'introduction/branching',
      'connect/connection-pooling',
      'guides/drizzle',
    ]);
    expect(all.pages[0]).toEqual({
      slug: 'introduction/branching',
      title: 'Branching',
      description: 'Copy-on-write branches of your data',
    });
    const found = await conn.ok('list_docs', { search: 'postgres pgbouncer' });
    expect(found).toEqual({
      pages: [expect.objectContaining({ slug: 'connect/connection-pooling' })],
      total: 1,
    });
  });

  it('gets a page as markdown by slug or by its URL on the site, cached', async () => {
    const hits = site({ '/docs/introduction/branching.md': '# Branching\n\nBranches are copies.' });
    conn = await docsConn();
    const page = await conn.ok('get_doc', { slug: 'introduction/branching' });
    expect(page).toEqual({
      slug: 'introduction/branching',
      url: `${SITE}/docs/introduction/branching.md`,
      markdown: '# Branching\n\nBranches are copies.',
    });
    const again = await conn.ok('get_doc', { slug: `${SITE}/docs/introduction/branching` });
    expect(again.markdown).toBe(page.markdown);
    expect(hits.get('/docs/introduction/branching.md')).toBe(1);
  });

  it('refuses other hosts and paths that leave /docs, sending nothing', async () => {
    const hits = site();
    conn = await docsConn();
    expect(await conn.fails('get_doc', { slug: 'https://elsewhere.test/docs/evil.md' })).toMatch(
      /Only pages of https:\/\/docs\.example\.test can be read/,
    );
    expect(await conn.fails('get_doc', { slug: '../../etc/passwd' })).toMatch(/is not a docs page/);
    expect(await conn.fails('get_doc', { slug: 'intro?x=http://evil' })).toMatch(/is not a docs page/);
    expect(hits.size).toBe(0);
  });

  it('does not follow a redirect to another host', async () => {
    let elsewhere = 0;
    api.use(
      http.get('https://elsewhere.test/*', () => {
        elsewhere++;
        return new HttpResponse('secret');
      }),
    );
    site({
      '/docs/moved.md': () =>
        new HttpResponse(null, { status: 302, headers: { location: 'https://elsewhere.test/x' } }),
      '/docs/renamed.md': () =>
        new HttpResponse(null, { status: 301, headers: { location: '/docs/new.md' } }),
      '/docs/new.md': '# New',
    });
    conn = await docsConn();
    expect(await conn.fails('get_doc', { slug: 'moved' })).toMatch(/redirected to https:\/\/elsewhere\.test/);
    expect(elsewhere).toBe(0);
    expect((await conn.ok('get_doc', { slug: 'renamed' })).markdown).toBe('# New');
  });

  it('refuses a page over the size limit', async () => {
    site({ '/docs/huge.md': 'x'.repeat(MAX_DOC_BYTES + 1) });
    conn = await docsConn();
    expect(await conn.fails('get_doc', { slug: 'huge' })).toMatch(/larger than \d+ bytes/);
  });

  it('says which slug is missing on a 404', async () => {
    site();
    conn = await docsConn();
    expect(await conn.fails('get_doc', { slug: 'no/such/page' })).toMatch(
      /No docs page at .*no\/such\/page\.md \(HTTP 404\)/,
    );
  });

  it('is not a default toolset', async () => {
    conn = await connect();
    const names = (await conn.mcp.listTools()).tools.map((t) => t.name);
    expect(names).not.toContain('list_docs');
  });
});

describe('docs resources', () => {
  it('reads the index and a page, and completes page slugs', async () => {
    site({ '/docs/guides/drizzle.md': '# Drizzle' });
    conn = await docsConn();
    const index = await conn.mcp.readResource({ uri: 'neon://docs' });
    expect((index.contents[0] as any).text).toBe(INDEX);
    const page = await conn.mcp.readResource({ uri: 'neon://docs/guides/drizzle' });
    expect(page.contents[0]).toMatchObject({ mimeType: 'text/markdown', text: '# Drizzle' });
    const done = await conn.mcp.complete({
      ref: { type: 'ref/resource', uri: 'neon://docs/{+slug}' },
      argument: { name: 'slug', value: 'guides/' },
    });
    expect(done.completion.values).toEqual(['guides/drizzle']);
    await expect(conn.mcp.readResource({ uri: 'neon://docs/gone' })).rejects.toThrow(/HTTP 404/);
  });
});
