/**
 * Neon's documentation (src/neon/docs-site.ts, src/tools/neon-docs.ts, the neon://docs resources) against a
 * docs site served by msw: the llms.txt index, pages as markdown, the origin kept (no open proxy),
 * the size limit, the cache and the configurable base URL. `DocsSite` and `parseIndex` also on their own,
 * with a fake fetch in place of the site (the constructor's seam), for what msw cannot stage: a
 * cancelled or timed-out fetch, bodies that must be dropped, exact byte counts and the cache's bookkeeping.
 */
import { HttpResponse, http } from 'msw';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InvalidArgumentError, NeonError } from '../src/client/errors.js';
import { clearDocsCache, DocsSite, MAX_DOC_BYTES, parseIndex } from '../src/neon/docs-site.js';
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

/** A fake docs site for `DocsSite`'s fetch: answers by path, records each call and its options. */
type Answer = string | ((init: RequestInit) => Response | Promise<Response>);
function fakeSite(pages: Record<string, Answer> = {}, base = SITE) {
  const calls: { path: string; init: RequestInit }[] = [];
  const fetchImpl = (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(String(input));
    calls.push({ path: url.pathname, init });
    if (init.signal?.aborted) throw init.signal.reason;
    const page = pages[url.pathname];
    if (typeof page === 'function') return page(init);
    if (page !== undefined) return new Response(page);
    return new Response('not found', { status: 404 });
  }) as typeof fetch;
  const count = (path: string) => calls.filter((c) => c.path === path).length;
  return { site: new DocsSite(base, fetchImpl), calls, count };
}

/** A response whose body records whether it was dropped (cancelled) instead of being left open. */
function tracked(body: string, init: ResponseInit) {
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode(body));
    },
    cancel() {
      cancelled = true;
    },
  });
  return { res: new Response(stream, init), cancelled: () => cancelled };
}

/** A body sent in chunks of the given sizes. */
function chunked(sizes: number[]): Response {
  return new Response(
    new ReadableStream<Uint8Array>({
      start(c) {
        for (const n of sizes) c.enqueue(new Uint8Array(n).fill(0x61));
        c.close();
      },
    }),
  );
}

/** The error a promise rejects with (fails when it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (error) {
    return error as Error;
  }
  throw new Error('resolved, expected a rejection');
}

describe('DocsSite', () => {
  afterEach(() => vi.restoreAllMocks());

  it('takes an http(s) site, with or without a path and a trailing slash', () => {
    expect(new DocsSite().base.href).toBe('https://neon.com/');
    expect(new DocsSite('http://docs.example.test').base.href).toBe('http://docs.example.test/');
    for (const base of ['https://docs.example.test/mirror', 'https://docs.example.test/mirror/']) {
      const { site } = fakeSite({}, base);
      expect(site.base.href).toBe('https://docs.example.test/mirror/');
      expect(site.slugOf('https://docs.example.test/mirror/docs/guides/prisma')).toBe('guides/prisma');
    }
  });

  it('refuses a docs URL that is not a URL or not http(s)', () => {
    const bad = (base: string) => {
      try {
        new DocsSite(base);
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidArgumentError);
        return (error as Error).message;
      }
      return 'accepted';
    };
    expect(bad('not a url')).toBe('The docs URL "not a url" is not a URL (e.g. https://neon.com).');
    expect(bad('ftp://docs.example.test')).toBe(
      'The docs URL must be http(s), got "ftp://docs.example.test".',
    );
    expect(bad('file:///etc')).toBe('The docs URL must be http(s), got "file:///etc".');
  });

  it('reads a slug out of the forms an agent may give', () => {
    const { site } = fakeSite();
    const forms: Record<string, string> = {
      ' introduction/branching\n': 'introduction/branching',
      '/docs/introduction/branching.md': 'introduction/branching',
      '//docs/introduction/branching': 'introduction/branching',
      'docs/introduction/branching/': 'introduction/branching',
      'guides/prisma//': 'guides/prisma',
      // Only a leading docs/ and a trailing .md are the site's: inside a slug they are the page's.
      'guides/docs/setup': 'guides/docs/setup',
      'guides/page.mdx': 'guides/page.mdx',
      'guides/node.js': 'guides/node.js',
      [`${SITE}/docs/guides/drizzle.md?ref=x`]: 'guides/drizzle',
    };
    for (const [ref, slug] of Object.entries(forms)) expect(site.slugOf(ref), ref).toBe(slug);
  });

  it('refuses a URL of the site outside the base path, as no docs page', () => {
    const { site, calls } = fakeSite({}, `${SITE}/mirror/`);
    for (const ref of [`${SITE}/docs/guides/drizzle`, `${SITE}/other/docs/guides/drizzle`]) {
      expect(() => site.slugOf(ref)).toThrow(
        new InvalidArgumentError(
          `"${ref}" is not a docs page: give a slug from list_docs, e.g. introduction/branching.`,
        ),
      );
    }
    expect(() => site.slugOf('a/../b')).toThrow(
      /"a\/\.\.\/b" is not a docs page: give a slug from list_docs/,
    );
    expect(calls).toEqual([]);
  });

  it('asks for markdown, does not let fetch follow redirects, and gives the page', async () => {
    const { site, calls } = fakeSite({ '/docs/introduction/branching.md': '# Branching' });
    expect(await site.page('introduction/branching')).toEqual({
      slug: 'introduction/branching',
      url: `${SITE}/docs/introduction/branching.md`,
      markdown: '# Branching',
    });
    expect(calls).toHaveLength(1);
    expect(calls[0].init).toMatchObject({
      redirect: 'manual',
      headers: { accept: 'text/markdown, text/plain;q=0.9, */*;q=0.1' },
    });
    expect(calls[0].init.signal).toBeInstanceOf(AbortSignal);
  });

  it('follows three redirects, not a fourth', async () => {
    const hop = (status: number, to: string) => () =>
      new Response(null, { status, headers: { location: to } });
    const { site } = fakeSite({
      '/docs/r0.md': hop(301, '/docs/r1.md'),
      '/docs/r1.md': hop(302, 'r2.md'),
      '/docs/r2.md': hop(300, `${SITE}/docs/r3.md`),
      '/docs/r3.md': hop(307, '/docs/r4.md'),
      '/docs/r4.md': '# Four',
    });
    expect(await site.page('r1')).toMatchObject({ url: `${SITE}/docs/r1.md`, markdown: '# Four' });
    clearDocsCache();
    const error = await rejection(site.page('r0'));
    expect(error).toBeInstanceOf(NeonError);
    expect(error.message).toBe(`Too many redirects fetching ${SITE}/docs/r0.md.`);
  });

  it('treats only a 3xx with a location as a redirect', async () => {
    const answer =
      (status: number, headers: Record<string, string> = {}) =>
      () =>
        new Response(status === 304 ? null : 'body', { status, headers });
    const { site, count } = fakeSite({
      '/docs/ok.md': answer(200, { location: '/docs/elsewhere.md' }),
      '/docs/bad.md': answer(400, { location: '/docs/elsewhere.md' }),
      '/docs/gone.md': answer(404, { location: '/docs/elsewhere.md' }),
      '/docs/nowhere.md': answer(302),
      '/docs/elsewhere.md': '# Elsewhere',
    });
    expect((await site.page('ok')).markdown).toBe('body');
    expect((await rejection(site.page('bad'))).message).toBe(
      `The docs site answered HTTP 400 for ${SITE}/docs/bad.md. Try again later.`,
    );
    expect((await rejection(site.page('gone'))).message).toBe(
      `No docs page at ${SITE}/docs/gone.md (HTTP 404). Find the page's slug with list_docs.`,
    );
    expect((await rejection(site.page('nowhere'))).message).toBe(
      `The docs site answered HTTP 302 for ${SITE}/docs/nowhere.md. Try again later.`,
    );
    expect(count('/docs/elsewhere.md')).toBe(0);
  });

  it('says what the site answered on an error status, and caches no error', async () => {
    let status = 503;
    const { site, count } = fakeSite({
      '/docs/busy.md': () => new Response(status === 200 ? '# Back' : 'busy', { status }),
    });
    const error = await rejection(site.page('busy'));
    expect(error).toBeInstanceOf(NeonError);
    expect(error.message).toBe(`The docs site answered HTTP 503 for ${SITE}/docs/busy.md. Try again later.`);
    status = 200;
    expect((await site.page('busy')).markdown).toBe('# Back');
    expect(count('/docs/busy.md')).toBe(2);
  });

  it('drops the bodies it does not read', async () => {
    const bodies = {
      redirect: tracked('moved', { status: 301, headers: { location: '/docs/new.md' } }),
      missing: tracked('not found', { status: 404 }),
      failed: tracked('down', { status: 500 }),
      huge: tracked('tiny', { headers: { 'content-length': String(MAX_DOC_BYTES + 1) } }),
    };
    const { site } = fakeSite({
      '/docs/redirect.md': () => bodies.redirect.res,
      '/docs/missing.md': () => bodies.missing.res,
      '/docs/failed.md': () => bodies.failed.res,
      '/docs/huge.md': () => bodies.huge.res,
      '/docs/new.md': '# New',
    });
    expect((await site.page('redirect')).markdown).toBe('# New');
    for (const slug of ['missing', 'failed', 'huge']) await rejection(site.page(slug));
    expect(Object.entries(bodies).filter(([, b]) => !b.cancelled())).toEqual([]);
  });

  it('refuses a page declared larger than the limit without reading it; takes one of exactly the limit', async () => {
    const { site } = fakeSite({
      '/docs/huge.md': () =>
        new Response('tiny', { headers: { 'content-length': String(MAX_DOC_BYTES + 1) } }),
      '/docs/full.md': () =>
        new Response('a'.repeat(MAX_DOC_BYTES), { headers: { 'content-length': String(MAX_DOC_BYTES) } }),
    });
    const error = await rejection(site.page('huge'));
    expect(error).toBeInstanceOf(NeonError);
    expect(error.message).toBe(`The docs page ${SITE}/docs/huge.md is larger than 524288 bytes; not read.`);
    expect((await site.page('full')).markdown).toHaveLength(MAX_DOC_BYTES);
  });

  it('counts the bytes of a body sent in chunks: the limit itself passes, one byte more does not', async () => {
    const { site } = fakeSite({
      '/docs/full.md': () => chunked([MAX_DOC_BYTES - 10, 10]),
      '/docs/over.md': () => chunked([MAX_DOC_BYTES - 10, 11]),
    });
    expect((await site.page('full')).markdown).toBe('a'.repeat(MAX_DOC_BYTES));
    expect((await rejection(site.page('over'))).message).toBe(
      `The docs page ${SITE}/docs/over.md is larger than 524288 bytes; not read.`,
    );
  });

  it('gives an empty page for an answer without a body', async () => {
    const { site } = fakeSite({ '/docs/empty.md': () => new Response(null, { status: 200 }) });
    expect((await site.page('empty')).markdown).toBe('');
  });

  it('says when the fetch fails, is cancelled or times out', async () => {
    const { site } = fakeSite({
      '/docs/down.md': () => {
        throw new TypeError('fetch failed');
      },
      '/docs/page.md': '# Page',
    });
    const failed = await rejection(site.page('down'));
    expect(failed).toBeInstanceOf(NeonError);
    expect(failed.message).toBe(`Could not fetch ${SITE}/docs/down.md: fetch failed. Try again later.`);

    // The caller's signal reaches the fetch (combined with the timeout).
    const cancelled = await rejection(site.page('page', AbortSignal.abort()));
    expect(cancelled).toBeInstanceOf(NeonError);
    expect(cancelled.message).toBe(`Fetching ${SITE}/docs/page.md was cancelled.`);

    // The 20 s timeout, as if it had run out.
    vi.spyOn(AbortSignal, 'timeout').mockReturnValue(
      AbortSignal.abort(new DOMException('The operation timed out.', 'TimeoutError')),
    );
    const late = await rejection(site.page('page', new AbortController().signal));
    expect(late.message).toBe(
      `Could not fetch ${SITE}/docs/page.md: no answer within 20000 ms. Try again later.`,
    );
  });
});

describe('the docs cache', () => {
  const FULL = 'a'.repeat(MAX_DOC_BYTES);
  /** Pages p0…p19 of exactly the size limit: 16 of them fill the 8 MiB cache. */
  const fullPages = () => {
    const pages: Record<string, Answer> = {};
    for (let i = 0; i < 20; i++) pages[`/docs/p${i}.md`] = FULL;
    return fakeSite(pages);
  };
  const read = async (site: DocsSite, ...numbers: number[]) => {
    for (const i of numbers) await site.page(`p${i}`);
  };
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
  afterEach(() => vi.restoreAllMocks());

  it('is emptied by clearDocsCache', async () => {
    const { site, count } = fakeSite({ '/docs/a.md': '# A' });
    await site.page('a');
    await site.page('a');
    clearDocsCache();
    await site.page('a');
    expect(count('/docs/a.md')).toBe(2);
  });

  it('holds 8 MiB and drops the least recently used page first', async () => {
    const { site, count } = fullPages();
    await read(site, ...range(1, 16)); // exactly 8 MiB: all kept
    await read(site, 1); // a hit, and p1 is now the most recently used
    expect(count('/docs/p1.md')).toBe(1);
    await read(site, 17); // one page too many: p2, the least recently used, leaves
    await read(site, 1, 3, 17);
    expect([1, 3, 17].map((i) => count(`/docs/p${i}.md`))).toEqual([1, 1, 1]);
    await read(site, 2); // fetched again, and p4 leaves for it
    expect(count('/docs/p2.md')).toBe(2);
    await read(site, 5, 16);
    expect(count('/docs/p5.md') + count('/docs/p16.md')).toBe(2);
    await read(site, 4);
    expect(count('/docs/p4.md')).toBe(2);
  });

  it('counts a page fetched twice at once only once', async () => {
    const { site, count } = fullPages();
    await Promise.all([site.page('p0'), site.page('p0')]);
    expect(count('/docs/p0.md')).toBe(2);
    await read(site, ...range(1, 15)); // 16 pages: still within 8 MiB
    await read(site, 0);
    expect(count('/docs/p0.md')).toBe(2);
  });

  it('keeps a page for an hour, then fetches it again and frees its room', async () => {
    const hour = 60 * 60 * 1000;
    const t0 = Date.now();
    const now = vi.spyOn(Date, 'now').mockReturnValue(t0);
    const { site, count } = fullPages();
    await read(site, 0);
    now.mockReturnValue(t0 + hour);
    await read(site, 0); // an hour old: still good
    expect(count('/docs/p0.md')).toBe(1);
    await read(site, ...range(1, 15)); // 8 MiB in all
    now.mockReturnValue(t0 + hour + 1);
    await read(site, 0); // stale: fetched again, in the room of the stale copy
    expect(count('/docs/p0.md')).toBe(2);
    await read(site, 1, 2, 15);
    expect([1, 2, 15].map((i) => count(`/docs/p${i}.md`))).toEqual([1, 1, 1]);
  });
});

describe('parseIndex', () => {
  const base = new URL(`${SITE}/`);
  const slugs = (text: string, at = base) => parseIndex(text, at).map((e) => e.slug);

  it('reads the list items of the index, with their titles and descriptions', () => {
    const text = [
      '# Neon',
      '- [ Branching ](/docs/introduction/branching.md): Copy-on-write branches   ',
      '  - [Nested](/docs/introduction/nested)',
      '*  [Star](/docs/star): two spaces after the bullet',
      '-[Tight bullet](/docs/tight-bullet)',
      '- [Spaced](/docs/spaced) : a space before the colon',
      '- [Tight](/docs/tight):no space after the colon',
      '- [Empty](/docs/empty):   ',
      '- [Trailing slash](/docs/guides/prisma/)',
      '- [Two slashes](/docs/guides/drizzle//)',
      '- [Not markdown](/docs/guides/page.mdx)',
    ].join('\n');
    expect(parseIndex(text, base)).toEqual([
      { slug: 'introduction/branching', title: 'Branching', description: 'Copy-on-write branches' },
      { slug: 'introduction/nested', title: 'Nested' },
      { slug: 'star', title: 'Star', description: 'two spaces after the bullet' },
      { slug: 'tight-bullet', title: 'Tight bullet' },
      { slug: 'spaced', title: 'Spaced', description: 'a space before the colon' },
      { slug: 'tight', title: 'Tight', description: 'no space after the colon' },
      { slug: 'empty', title: 'Empty' },
      { slug: 'guides/prisma', title: 'Trailing slash' },
      { slug: 'guides/drizzle', title: 'Two slashes' },
      { slug: 'guides/page.mdx', title: 'Not markdown' },
    ]);
  });

  it('reads an index with CRLF line ends', () => {
    expect(parseIndex('- [A](/docs/a): First\r\n- [B](/docs/b)\r\n', base)).toEqual([
      { slug: 'a', title: 'A', description: 'First' },
      { slug: 'b', title: 'B' },
    ]);
  });

  it('skips what is not a list item of a docs page on the site, and repeats', () => {
    const text = [
      'See - [Inline](/docs/inline) in prose',
      'prose - [Inline](/docs/inline)',
      '- [Junk](/docs/junk) trailing words',
      '- [Bad host](http://[bad)',
      '- [Blog](/blog/post)',
      '- [Elsewhere](https://elsewhere.test/docs/evil)',
      '- [Root](/docs/)',
      '- [Odd](/docs/_odd.md)',
      '- [Spaces](/docs/a%20b)',
      '- [Kept](/docs/kept)',
      '- [Kept again](/docs/kept.md)',
    ].join('\n');
    expect(parseIndex(text, base)).toEqual([{ slug: 'kept', title: 'Kept' }]);
  });

  it('keeps to the base path of a site served under one', () => {
    const mirror = new URL(`${SITE}/mirror/`);
    const text = [
      '- [Mirrored](/mirror/docs/a)',
      '- [Root docs](/docs/b)',
      // As long as /mirror/: cut at the base path's length it would read as docs/c.
      '- [Sibling](/elsewh/docs/c)',
      '- [Relative](docs/d)',
    ].join('\n');
    expect(slugs(text, mirror)).toEqual(['a', 'd']);
  });
});
