/**
 * The client against a real loopback HTTP server that misbehaves (issue 10): answers bounded in bytes,
 * one timeout over headers and body, resets mid-body, redirects. msw cannot stall or reset a body
 * mid-way, and intercepts loopback requests, so this file does not use it.
 *
 * And the other way round, `--http` itself against hostile bodies (issue 22): a body's size and JSON
 * nesting are refused as they arrive, in milliseconds, with a JSON-RPC error, and `/healthz` answers
 * meanwhile.
 */
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
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
import { DepthScanner } from '../src/http/body.js';
import { type HttpServer, startHttpServer } from '../src/http/serve.js';
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

describe('--http refuses hostile bodies before parsing them', () => {
  let http: HttpServer | undefined;
  afterEach(async () => {
    await http?.close(0);
    http = undefined;
  });

  async function serveMcp(extra: { maxJsonDepth?: number; maxBodyBytes?: number } = {}) {
    http = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      server: {},
      // Nothing here reaches Neon: every request is refused or answered before a tool runs.
      clientOptions: { baseUrl: 'http://127.0.0.1:9/api/v2' },
      limits: { perMinute: 700, perSecondPerRoute: 40 },
      maxBodyBytes: extra.maxBodyBytes ?? 4 * 1024 * 1024,
      maxJsonDepth: extra.maxJsonDepth,
      requestTimeoutMs: 30_000,
      logger: { info: () => undefined, error: () => undefined },
    });
    return http;
  }

  /**
   * POSTs `body` to /mcp in chunks of `chunk` bytes (chunked encoding unless `announce`); resolves with
   * the answer as soon as it arrives, even while the body is still being sent.
   */
  function post(
    url: string,
    body: string,
    { chunk = 64 * 1024, announce = false }: { chunk?: number; announce?: boolean } = {},
  ): Promise<{ status: number; json: any; ms: number }> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const req = httpRequest(`${url}/mcp`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          authorization: `Bearer ${TEST_KEY}`,
          ...(announce ? { 'content-length': Buffer.byteLength(body) } : {}),
        },
      });
      let answered = false;
      req.on('response', (res) => {
        answered = true;
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          text += d;
        });
        // Refusals are JSON; what the SDK answers may be an event stream (its text is kept then).
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            json: /json/.test(res.headers['content-type'] ?? '') ? JSON.parse(text) : text,
            ms: performance.now() - started,
          }),
        );
      });
      // Once answered, the server stops listening; the rest of the body may meet a closed socket.
      req.on('error', (e) => {
        if (!answered) reject(e);
      });
      let at = 0;
      const pump = () => {
        while (at < body.length && !answered) {
          const ok = req.write(body.slice(at, at + chunk));
          at += chunk;
          if (!ok) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
  }

  const ping = (inner: string) => `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":${inner}}}`;
  const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

  it('a 4 MB body nested 2,000,000 levels deep: 400 with a JSON-RPC error in milliseconds', async () => {
    const server = await serveMcp();
    const hostile = nested(2_000_000);
    expect(hostile.length).toBe(4_000_000);
    for (const announce of [false, true]) {
      const { status, json, ms } = await post(server.url, hostile, { announce });
      expect(status).toBe(400);
      expect(json).toEqual({
        jsonrpc: '2.0',
        id: null,
        error: {
          code: -32600,
          message: expect.stringMatching(/nests deeper than 64 levels.*Send the arguments with less nesting/),
        },
      });
      // Parsing it took 2.9 s; refused at its 65th byte, it takes the round trip (generous for a busy machine).
      expect(ms).toBeLessThan(1_000);
    }
  });

  it('/healthz answers promptly while hostile bodies are being refused', async () => {
    const server = await serveMcp();
    const hostile = nested(2_000_000);
    const latencies: number[] = [];
    let sending = true;
    const health = (async () => {
      while (sending) {
        const t = performance.now();
        const res = await fetch(`${server.url}/healthz`);
        expect(res.status).toBe(200);
        await res.text();
        latencies.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const refused = await Promise.all([1, 2, 3, 4].map(() => post(server.url, hostile, { announce: true })));
    sending = false;
    await health;
    expect(latencies.length).toBeGreaterThan(0);
    // Behind a parse, one health check waited seconds.
    expect(Math.max(...latencies)).toBeLessThan(500);
    expect(refused.map((r) => r.status)).toEqual([400, 400, 400, 400]);
  });

  it('nesting up to the limit is parsed and answered; one level more is refused', async () => {
    const server = await serveMcp({ maxJsonDepth: 8 });
    // The message's own object and params are two levels: six more make eight.
    const within = await post(server.url, ping(nested(6)));
    expect(within.status).toBe(200);
    expect(JSON.stringify(within.json)).toMatch(/"result/);
    const over = await post(server.url, ping(nested(7)));
    expect(over.status).toBe(400);
    expect(over.json.error.message).toMatch(/nests deeper than 8 levels/);
  });

  it('brackets inside strings are text, not nesting', async () => {
    const server = await serveMcp({ maxJsonDepth: 8 });
    const quoted = JSON.stringify(`[{"\\${nested(100)}`);
    const res = await post(server.url, ping(quoted));
    expect(res.status).toBe(200);
    expect(JSON.stringify(res.json)).toMatch(/"result/);
  });

  it('a body over the size limit: 413 with a JSON-RPC error, announced or not', async () => {
    const server = await serveMcp({ maxBodyBytes: 64 * 1024 });
    const big = ping(JSON.stringify('x'.repeat(100 * 1024)));
    for (const announce of [false, true]) {
      const { status, json } = await post(server.url, big, { announce, chunk: 8 * 1024 });
      expect(status).toBe(413);
      expect(json).toEqual({
        jsonrpc: '2.0',
        id: null,
        error: { code: -32000, message: expect.stringMatching(/at most 65536 bytes/) },
      });
    }
    // One byte under the limit is read whole.
    const fits = ping(JSON.stringify('x'.repeat(64 * 1024 - ping('""').length)));
    expect(Buffer.byteLength(fits)).toBe(64 * 1024);
    expect((await post(server.url, fits)).status).toBe(200);
  });

  it('a body that is not JSON: 400 with a JSON-RPC parse error', async () => {
    const server = await serveMcp();
    const { status, json } = await post(server.url, '{"jsonrpc":"2.0",');
    expect(status).toBe(400);
    expect(json).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32700, message: expect.any(String) } });
  });
});

describe('DepthScanner', () => {
  const depthOf = (text: string, max = 1_000) => {
    const scanner = new DepthScanner(max);
    return scanner.push(Buffer.from(text));
  };

  it('counts brackets and braces outside strings, across chunks', () => {
    expect(depthOf('[[{}]]', 3)).toBe(true);
    expect(depthOf('[[{[]}]]', 3)).toBe(false);
    expect(depthOf('[][][][][]', 1)).toBe(true);
    expect(depthOf('{}{}{}{}{}', 1)).toBe(true);
    expect(depthOf('{"a":{"b":1}}', 1)).toBe(false);
    const scanner = new DepthScanner(2);
    expect(scanner.push(Buffer.from('[['))).toBe(true);
    expect(scanner.push(Buffer.from(']]['))).toBe(true);
    expect(scanner.push(Buffer.from('[['))).toBe(false);
  });

  it('skips strings, escaped quotes and escaped backslashes included', () => {
    expect(depthOf('["[[[[", "{{{{"]', 1)).toBe(true);
    expect(depthOf(String.raw`["\\"[[`, 1)).toBe(false);
    expect(depthOf(String.raw`["\\"]`, 1)).toBe(true);
    expect(depthOf(String.raw`["\"[[[["]`, 1)).toBe(true);
    // A string split across chunks stays a string.
    const scanner = new DepthScanner(1);
    expect(scanner.push(Buffer.from('["a\\'))).toBe(true);
    expect(scanner.push(Buffer.from('"[[[["]'))).toBe(true);
  });
});
