/**
 * The client against a real loopback HTTP server that misbehaves (issue 10): answers bounded in bytes,
 * one timeout over headers and body, resets mid-body, redirects. msw cannot stall or reset a body
 * mid-way, and intercepts loopback requests, so this file does not use it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  NeonApiError,
  NeonClient,
  NeonNetworkError,
  NeonRedirectError,
  NeonResponseTooLargeError,
  NeonTimeoutError,
} from '../src/client/index.js';
import { TEST_KEY } from './helpers.js';

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A loopback HTTP server; `handler` gets the request number (1, 2, …) of each request. */
async function serve(handler: Handler): Promise<{ url: string; hits: () => number }> {
  let n = 0;
  const server = createServer((req, res) => {
    n++;
    req.resume();
    handler(req, res, n);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/api/v2`, hits: () => n };
}

function loopbackClient(baseUrl: string, extra: ConstructorParameters<typeof NeonClient>[0] = {}) {
  return new NeonClient({ apiKey: TEST_KEY, baseUrl, retryDelayMs: 1, maxRetryDelayMs: 20, ...extra });
}

describe('answers bounded in bytes', () => {
  const _MiB = 1024 * 1024;
  /** 20 MB of JSON, chunked (no content-length), or with its length announced. */
  const bigJson =
    (announce: boolean): Handler =>
    (_req, res) => {
      const item = JSON.stringify({ id: 'p-'.padEnd(1000, 'x') });
      const count = 20_000;
      const head = '{"projects":[';
      const total = head.length + count * item.length + (count - 1) + 2;
      res.writeHead(200, {
        'content-type': 'application/json',
        ...(announce ? { 'content-length': String(total) } : {}),
      });
      res.write(head);
      let i = 0;
      const pump = () => {
        while (i < count) {
          const ok = res.write((i > 0 ? ',' : '') + item);
          i++;
          if (!ok) return void res.once('drain', pump);
        }
        res.end(']}');
      };
      pump();
    };

  for (const announce of [false, true]) {
    it(`a 20 MB answer (${announce ? 'length announced' : 'chunked'}) is refused with a clear error, not buffered`, async () => {
      const srv = await serve(bigJson(announce));
      const err = await loopbackClient(srv.url)
        .get('/projects')
        .catch((e) => e);
      expect(err).toBeInstanceOf(NeonResponseTooLargeError);
      expect(err.message).toMatch(/larger than neon-mcp reads .*limit 8388608 bytes/);
      expect(err.message).toMatch(/Ask for less/);
      // A refusal is final: asking again would fetch the same 20 MB.
      expect(srv.hits()).toBe(1);
    });
  }

  it('a write whose answer is too large says the change may have been applied', async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ project: { id: 'p-1', name: 'x'.repeat(3000) } }));
    });
    const err = await loopbackClient(srv.url, { maxResponseBytes: 1024 })
      .post('/projects', { body: { project: { name: 'x' } } })
      .catch((e) => e);
    expect(err).toBeInstanceOf(NeonResponseTooLargeError);
    expect(err.message).toMatch(/may have been applied: check the resource \(list or get it\)/);
    expect(srv.hits()).toBe(1);
  });

  it('a raw download may be long: its reader takes the start and cancels, nothing is refused', async () => {
    const srv = await serve(bigJson(true));
    const res = await loopbackClient(srv.url).sendRaw('GET', '/projects', {
      accept: 'application/octet-stream',
    });
    expect(Number(res.headers.get('content-length'))).toBeGreaterThan(20_000_000);
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    await reader.cancel();
  });

  it('a raw download read past the limit fails with the size error', async () => {
    const srv = await serve(bigJson(false));
    const res = await loopbackClient(srv.url, { maxResponseBytes: 1024 * 1024 }).sendRaw('GET', '/projects');
    await expect(res.text()).rejects.toThrow(/larger than neon-mcp reads/);
  });

  it('an answer within the limit is read whole', async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ projects: [{ id: 'p-1' }] }));
    });
    await expect(loopbackClient(srv.url, { maxResponseBytes: 1024 }).get('/projects')).resolves.toEqual({
      projects: [{ id: 'p-1' }],
    });
  });
});

describe('one timeout covers headers and body', () => {
  /** Headers and the start of a body, then nothing. */
  const stallAfterHeaders: Handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"projects": [');
  };

  it('a body that stalls after the headers fails at the timeout', async () => {
    const srv = await serve(stallAfterHeaders);
    const started = performance.now();
    const err = await loopbackClient(srv.url, { timeoutMs: 300, retries: 0 })
      .get('/projects')
      .catch((e) => e);
    expect(err).toBeInstanceOf(NeonTimeoutError);
    expect(err.message).toMatch(/timed out after 300 ms/);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('a GET whose body stalled is retried like any timeout', async () => {
    const srv = await serve((req, res, n) => {
      if (n === 1) return stallAfterHeaders(req, res, n);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"projects":[]}');
    });
    await expect(loopbackClient(srv.url, { timeoutMs: 300 }).get('/projects')).resolves.toEqual({
      projects: [],
    });
    expect(srv.hits()).toBe(2);
  });

  /** Headers and part of a body, then the connection is reset. */
  const resetMidBody: Handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
    res.write('{"projects": [', () => setTimeout(() => res.socket?.destroy(), 20));
  };

  it('a reset mid-body is a network error, and a GET is retried', async () => {
    const srv = await serve((req, res, n) => {
      if (n === 1) return resetMidBody(req, res, n);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"projects":[{"id":"p-1"}]}');
    });
    await expect(loopbackClient(srv.url).get('/projects')).resolves.toEqual({ projects: [{ id: 'p-1' }] });
    expect(srv.hits()).toBe(2);
  });

  it('a write reset mid-body is not sent again and is reported as possibly applied, not as a bug', async () => {
    const srv = await serve(resetMidBody);
    const err = await loopbackClient(srv.url)
      .post('/projects', { body: { project: { name: 'x' } } })
      .catch((e) => e);
    expect(err).toBeInstanceOf(NeonNetworkError);
    expect(err.message).toMatch(/broke while its answer was being read/);
    expect(err.message).toMatch(/may have reached Neon: check the resource/);
    expect(err.message).not.toMatch(/bug/);
    expect(srv.hits()).toBe(1);
  });
});

describe('raw downloads under the same rules', () => {
  it('a raw body that stalls fails at the timeout, one reset mid-body is a network error', async () => {
    const stall = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write('start');
    });
    const slow = await loopbackClient(stall.url, { timeoutMs: 300 }).sendRaw('GET', '/projects');
    await expect(slow.text()).rejects.toThrow(NeonTimeoutError);
    const reset = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '1000' });
      res.write('start', () => setTimeout(() => res.socket?.destroy(), 20));
    });
    const broken = await loopbackClient(reset.url).sendRaw('GET', '/projects');
    const err = await broken.text().catch((e) => e);
    expect(err).toBeInstanceOf(NeonNetworkError);
    expect(err.message).toMatch(/broke while its answer was being read/);
  });
});

describe('redirects are not followed', () => {
  it('a 307 of a POST to another origin is refused naming the target; nothing reaches it', async () => {
    const elsewhere = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
    const target = `${elsewhere.url}/steal?token=abc`;
    let authSeen: string | undefined;
    const srv = await serve((req, res) => {
      authSeen = req.headers.authorization;
      res.writeHead(307, { location: target });
      res.end('moved');
    });
    const err = await loopbackClient(srv.url)
      .post('/projects', { body: { project: { name: 'x' } } })
      .catch((e) => e);
    expect(err).toBeInstanceOf(NeonRedirectError);
    expect(err.message).toContain(`redirect (HTTP 307) to ${elsewhere.url}/steal`);
    expect(err.message).not.toContain('token=abc');
    expect(err.message).toMatch(/NEON_API_URL/);
    expect(authSeen).toBe(`Bearer ${TEST_KEY}`);
    expect(elsewhere.hits()).toBe(0);
    expect(srv.hits()).toBe(1);
  });

  it('a redirect of a GET is refused too, and not retried', async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(302, { location: 'https://example.invalid/login' });
      res.end();
    });
    const err = await loopbackClient(srv.url)
      .get('/projects')
      .catch((e) => e);
    expect(err).toBeInstanceOf(NeonRedirectError);
    expect(err.message).toContain('to https://example.invalid/login');
    expect(srv.hits()).toBe(1);
  });
});

describe('secrets in error bodies', () => {
  const PASSWORD = 'npg_S3cretRolePassw0rd';

  it('a password in a non-JSON error body is redacted before the body is cut', async () => {
    const body = `${'y'.repeat(270)} postgres://app:${PASSWORD}@host/db`;
    const srv = await serve((_req, res) => {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(body);
    });
    const err = (await loopbackClient(srv.url)
      .get('/projects')
      .catch((e) => e)) as NeonApiError;
    expect(err).toBeInstanceOf(NeonApiError);
    for (let n = 6; n <= PASSWORD.length; n++) expect(err.message).not.toContain(PASSWORD.slice(0, n));
  });
});
