/**
 * `--http` in process (src/http/serve.ts, auth.ts): what the server answers before the SDK sees a
 * request (health, paths, Host and Origin, whose credentials, the body's JSON), the caller's own key
 * kept out of its answers, the per-request timeout and the drain on close. test/http.test.ts checks the
 * same through the built command; this file is what the mutation runner can reach (a mutant in src/
 * would not reach a spawned build). Against the loopback fake; no PostgreSQL.
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { authenticator } from '../src/http/auth.js';
import { MAX_JSON_DEPTH } from '../src/http/body.js';
import { type HttpServer, startHttpServer } from '../src/http/serve.js';
import { VERSION } from '../src/version.js';
import { TEST_KEY, text } from './helpers.js';
import { httpClient } from './http-run.js';
import { type MockHttpServer, startMockHttpServer } from './mock/http-server.js';

const OTHER_KEY = 'napi_other_caller_key_0123456789';
const TOKEN = 'access-token-of-this-server-0123456789';
let mock: MockHttpServer;
beforeAll(async () => {
  mock = await startMockHttpServer({});
});
afterAll(async () => {
  await mock?.close();
});
beforeEach(() => mock.api.reset());

const running: HttpServer[] = [];
const clients: Client[] = [];
const logged: string[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
  await Promise.all(running.splice(0).map((s) => s.close(0)));
  mock.api.fault = undefined;
  logged.length = 0;
});

type Options = Partial<Parameters<typeof startHttpServer>[0]>;
async function serve(options: Options = {}): Promise<HttpServer> {
  const server = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    server: {},
    clientOptions: { baseUrl: mock.baseUrl },
    limits: { perMinute: 700, perSecondPerRoute: 40 },
    maxBodyBytes: 64 * 1024,
    requestTimeoutMs: 30_000,
    logger: { info: (m) => logged.push(m), error: (m, e) => logged.push(`${m} ${String(e ?? '')}`) },
    ...options,
  });
  running.push(server);
  return server;
}

const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** A raw POST, with any headers (Host included: fetch does not let a caller set it, node:http does). */
function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...headers,
        },
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          data += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data }));
      },
    );
    req.on('error', reject);
    req.end(typeof body === 'string' ? body : JSON.stringify(body));
  });
}

const errorOf = (body: string) => JSON.parse(body).error as string;

/** A request written by hand on its own socket: its start now, the rest with finish(); the answer as text. */
function rawRequest(port: number, start: string) {
  const socket = connect(port, '127.0.0.1');
  socket.write(start);
  let data = '';
  socket.setEncoding('utf8');
  socket.on('data', (d) => {
    data += d;
  });
  const answer = new Promise<string>((resolve) => {
    socket.on('close', () => resolve(data));
    socket.on('error', () => resolve(data));
  });
  return { finish: (rest: string) => socket.write(rest), answer };
}

describe('/healthz and other paths', () => {
  it('GET and HEAD /healthz answer ok with the version, other methods 405; other paths 404', async () => {
    const server = await serve();
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', version: VERSION });
    expect((await fetch(`${server.url}/healthz`, { method: 'HEAD' })).status).toBe(200);
    const wrong = await fetch(`${server.url}/healthz`, { method: 'DELETE' });
    expect(wrong.status).toBe(405);
    expect(await wrong.json()).toEqual({ error: 'Method not allowed.' });
    // A POST to /healthz is not read as an MCP body either.
    expect((await post(`${server.url}/healthz`, INIT)).status).toBe(405);
    for (const path of ['/other', '/mcp/x', '/mcpx', '/']) {
      const res = await fetch(`${server.url}${path}`, { headers: bearer(TEST_KEY) });
      expect(res.status, path).toBe(404);
      expect(await res.json()).toEqual({ error: 'Not found: MCP is served on /mcp.' });
    }
    expect(mock.api.requests).toHaveLength(0);
  });

  it('a POST to another path is not read as an MCP body: 404, not a parse error', async () => {
    const server = await serve();
    const res = await post(`${server.url}/mcpx`, 'not json', bearer(TEST_KEY));
    expect(res.status).toBe(404);
  });

  it('its URL is the address bound, with the real port; an IPv6 loopback in brackets', async () => {
    const v4 = await serve();
    expect(v4.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(Number(new URL(v4.url).port)).toBe((v4.server.address() as { port: number }).port);
    const v6 = await serve({ host: '[::1]' }).catch(() => undefined);
    // Some containers have no IPv6 loopback; where there is one, the URL brackets it.
    if (v6) {
      expect(v6.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
      expect((await fetch(`${v6.url}/healthz`)).status).toBe(200);
    }
  });

  it('wrong flags fail the start, not the first request', async () => {
    await expect(serve({ server: { toolsets: ['nope'] } })).rejects.toThrow(/Unknown toolset "nope"/);
  });

  it('a port already taken fails the start with the listener error', async () => {
    const first = await serve();
    const port = Number(new URL(first.url).port);
    await expect(serve({ port })).rejects.toThrow(/EADDRINUSE/);
  });

  it('headers and body must arrive within a minute, or within the request timeout when shorter', async () => {
    const long = await serve({ requestTimeoutMs: 900_000 });
    expect(long.server.requestTimeout).toBe(60_000);
    expect(long.server.headersTimeout).toBe(60_000);
    const short = await serve({ requestTimeoutMs: 5_000 });
    expect(short.server.requestTimeout).toBe(5_000);
    expect(short.server.headersTimeout).toBe(5_000);
  });
});

describe('whose credentials', () => {
  it('without a key of its own: 401 with WWW-Authenticate and what to send, before anything reaches Neon', async () => {
    const server = await serve();
    const attempts: [Record<string, string>, RegExp][] = [
      [{}, /Send your Neon API key as `Authorization: Bearer <key>` \(create one in the Neon Console\)\./],
      [{ authorization: 'Basic abc' }, /Send your Neon API key/],
      [bearer('short'), /^The bearer token is not a Neon API key\. Send your Neon API key as/],
      [bearer('x'.repeat(513)), /^The bearer token is not a Neon API key\./],
      [bearer('napi_with\u00e9accent'), /^The bearer token is not a Neon API key\./],
    ];
    for (const [headers, message] of attempts) {
      const res = await post(`${server.url}/mcp`, INIT, headers);
      expect(res.status, JSON.stringify(headers)).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
      expect(JSON.parse(res.body).error_description, JSON.stringify(headers)).toMatch(message);
    }
    // 8 and 512 printable characters are the bounds of what may be a key.
    expect((await post(`${server.url}/mcp`, INIT, bearer('k'.repeat(8)))).status).toBe(200);
    expect((await post(`${server.url}/mcp`, INIT, bearer('k'.repeat(512)))).status).toBe(200);
    expect((await post(`${server.url}/mcp`, INIT, bearer('k'.repeat(7)))).status).toBe(401);
    expect(mock.api.requests).toHaveLength(0);
  });

  it("each request's own key goes to Neon, and only that key; it is redacted from the caller's answers", async () => {
    mock.api.fault = (r) =>
      r.path === '/projects'
        ? new Response(JSON.stringify({ message: `bad key ${r.headers.get('authorization')}` }), {
            status: 400,
            headers: { 'content-type': 'application/json' },
          })
        : undefined;
    const server = await serve();
    for (const key of [TEST_KEY, OTHER_KEY]) {
      mock.api.requests.length = 0;
      const c = await httpClient(`${server.url}/mcp`, 'modern', bearer(key));
      clients.push(c);
      const r = await c.callTool({ name: 'list_projects', arguments: {} });
      expect(r.isError).toBe(true);
      expect(text(r)).toMatch(/bad key Bearer \[redacted\]/);
      expect(JSON.stringify(r)).not.toContain(key);
      expect(mock.api.requests.length).toBeGreaterThan(0);
      for (const seen of mock.api.requests) expect(seen.headers.get('authorization')).toBe(`Bearer ${key}`);
    }
    // One tenant per key.
    expect(server.tenants.size).toBe(2);
  });

  it("with a key of its own and a token: only the token opens it, and Neon sees only the server's key", async () => {
    const server = await serve({ apiKey: TEST_KEY, token: TOKEN });
    for (const given of ['wrong-token-123456', OTHER_KEY]) {
      const res = await post(`${server.url}/mcp`, INIT, bearer(given));
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
      expect(JSON.parse(res.body).error_description).toBe(
        "Not this server's access token (--http-token). Send this server's access token as " +
          '`Authorization: Bearer <token>`.',
      );
    }
    expect((await post(`${server.url}/mcp`, INIT)).status).toBe(401);
    const c = await httpClient(`${server.url}/mcp`, 'modern', bearer(TOKEN));
    clients.push(c);
    const listed = await c.callTool({ name: 'list_projects', arguments: {} });
    expect(listed.isError, text(listed)).toBeFalsy();
    expect(mock.api.requests.length).toBeGreaterThan(0);
    for (const seen of mock.api.requests)
      expect(seen.headers.get('authorization')).toBe(`Bearer ${TEST_KEY}`);
    // Single-tenant: no tenant per caller.
    expect(server.tenants.size).toBe(0);
  });

  it("the server's own key and token are redacted from answers", async () => {
    mock.api.fault = (r) =>
      r.path === '/projects'
        ? new Response(JSON.stringify({ message: `saw ${r.headers.get('authorization')} and ${TOKEN}` }), {
            status: 400,
            headers: { 'content-type': 'application/json' },
          })
        : undefined;
    const server = await serve({ apiKey: TEST_KEY, token: TOKEN });
    const c = await httpClient(`${server.url}/mcp`, 'legacy', bearer(TOKEN));
    clients.push(c);
    const r = await c.callTool({ name: 'list_projects', arguments: {} });
    expect(r.isError).toBe(true);
    expect(JSON.stringify(r)).not.toContain(TEST_KEY);
    expect(JSON.stringify(r)).not.toContain(TOKEN);
  });

  it('a key of its own without a token: open on loopback binds only', async () => {
    for (const host of ['127.0.0.1', 'localhost']) {
      const open = await serve({ host, apiKey: TEST_KEY });
      const res = await post(`${open.url}/mcp`, INIT);
      expect(res.status, host).toBe(200);
    }
    // Every loopback spelling opens too: IPv6 with and without brackets, any address of 127/8.
    for (const host of ['::1', '[::1]', '127.0.0.2', '127.10.200.3']) {
      const open = await serve({ host, apiKey: TEST_KEY }).catch((error: Error) => error);
      // A container without an IPv6 loopback fails the bind itself, never with the refusal below.
      if (open instanceof Error) {
        expect(open.message, host).not.toMatch(/needs --http-token/);
        expect(host, `${host}: ${open.message}`).toMatch(/::1/);
        continue;
      }
      expect((await post(`${open.url}/mcp`, INIT)).status, host).toBe(200);
      // Its own address is a Host and an Origin it answers (127.0.0.2 is not among the SDK's names).
      const port = new URL(open.url).port;
      const own = new URL(open.url).hostname;
      expect((await post(`${open.url}/mcp`, INIT, { host: `${own}:${port}` })).status, host).toBe(200);
      expect((await post(`${open.url}/mcp`, INIT, { origin: `http://${own}:${port}` })).status, host).toBe(
        200,
      );
      expect((await post(`${open.url}/mcp`, INIT, { origin: 'http://evil.example' })).status, host).toBe(403);
    }
    for (const host of [
      '0.0.0.0',
      '10.0.0.1',
      '127.0.0.1.example',
      'localhost.example',
      '::',
      'x127.0.0.1',
      '127.0.0.1x',
      '127.0.0',
      '127.0.0.1234',
      '::1.example',
    ]) {
      await expect(serve({ host, apiKey: TEST_KEY }), host).rejects.toThrow(
        `--http on ${host} with the server's own API key needs --http-token (or NEON_MCP_HTTP_TOKEN): ` +
          'anyone who can reach it would otherwise use that key.',
      );
    }
    // Without a key of its own any bind may start: each request brings its key.
    const anyBind = await serve({ host: '0.0.0.0' });
    expect((await fetch(`${anyBind.url}/healthz`)).status).toBe(200);
  });
});

describe('Host and Origin', () => {
  it('on loopback: a non-loopback Host or Origin is refused unless allowed', async () => {
    const server = await serve({ allowedOrigins: ['app.example.com'] });
    const port = new URL(server.url).port;
    const status = async (headers: Record<string, string>) =>
      (await post(`${server.url}/mcp`, INIT, { ...bearer(TEST_KEY), ...headers })).status;
    expect(await status({ origin: 'http://evil.example' })).toBe(403);
    expect(await status({ origin: 'https://app.example.com' })).toBe(200);
    expect(await status({ origin: `http://localhost:${port}` })).toBe(200);
    expect(await status({ origin: `http://127.0.0.1:${port}` })).toBe(200);
    expect(await status({ host: `rebind.example:${port}` })).toBe(403);
    expect(await status({ host: `localhost:${port}` })).toBe(200);
    expect(await status({})).toBe(200);
    expect(mock.api.requests).toHaveLength(0);
  });

  it('--allowed-hosts replaces the loopback names', async () => {
    const server = await serve({ allowedHosts: ['mcp.example'] });
    const port = new URL(server.url).port;
    const status = async (host: string) =>
      (await post(`${server.url}/mcp`, INIT, { ...bearer(TEST_KEY), host })).status;
    expect(await status(`mcp.example:${port}`)).toBe(200);
    expect(await status(`localhost:${port}`)).toBe(403);
  });

  it('elsewhere: any Host, and an Origin only when listed', async () => {
    const server = await serve({ host: '0.0.0.0', allowedOrigins: ['app.example.com'] });
    const url = server.url.replace('0.0.0.0', '127.0.0.1');
    const status = async (headers: Record<string, string>) =>
      (await post(`${url}/mcp`, INIT, { ...bearer(TEST_KEY), ...headers })).status;
    expect(await status({ host: 'mcp.example' })).toBe(200);
    expect(await status({ origin: 'https://app.example.com' })).toBe(200);
    expect(await status({ origin: 'http://evil.example' })).toBe(403);
    // Loopback origins are not allowed by default on a public bind.
    expect(await status({ origin: 'http://localhost:3000' })).toBe(403);
  });
});

describe('the body, before the SDK', () => {
  it('a body that is not JSON: 400 with a JSON-RPC parse error, and the connection closed', async () => {
    const server = await serve();
    const res = await post(`${server.url}/mcp`, '{"jsonrpc": ', bearer(TEST_KEY));
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers.connection).toBe('close');
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.body));
    expect(JSON.parse(res.body)).toEqual({
      jsonrpc: '2.0',
      error: { code: -32700, message: 'Parse error: the request body is not JSON.' },
      id: null,
    });
  });

  it('a body too deep or too large: the JSON-RPC error of its limit', async () => {
    const server = await serve({ maxJsonDepth: 3, maxBodyBytes: 2048 });
    const deep = await post(`${server.url}/mcp?readonly=true`, '[[[[1]]]]', bearer(TEST_KEY));
    expect(deep.status).toBe(400);
    expect(JSON.parse(deep.body).error.message).toMatch(/3/);
    const big = await post(`${server.url}/mcp`, { ...INIT, pad: 'x'.repeat(4096) }, bearer(TEST_KEY));
    expect(big.status).toBe(413);
    // Within both limits the request is served.
    expect((await post(`${server.url}/mcp`, INIT, bearer(TEST_KEY))).status).toBe(200);
  });

  it('without a depth of its own, bodies nest at most MAX_JSON_DEPTH levels', async () => {
    const server = await serve();
    const nested = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
    const over = await post(`${server.url}/mcp`, nested(MAX_JSON_DEPTH + 1), bearer(TEST_KEY));
    expect(over.status).toBe(400);
    expect(JSON.parse(over.body).error.message).toContain(`deeper than ${MAX_JSON_DEPTH} levels`);
    // At the limit the body is parsed and handed on (the SDK's own answer to a bare array).
    const at = await post(`${server.url}/mcp`, nested(MAX_JSON_DEPTH), bearer(TEST_KEY));
    expect(at.body).not.toContain(`deeper than ${MAX_JSON_DEPTH} levels`);
  });

  it('an empty body goes to the SDK unparsed (its own error), not as a parse error', async () => {
    const server = await serve();
    const res = await post(`${server.url}/mcp`, '', bearer(TEST_KEY));
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.body).not.toContain('Parse error: the request body is not JSON.');
  });

  it('a narrowing refused: its status and message, before any Neon request', async () => {
    const server = await serve({ server: { projectId: 'p-1' } });
    const other = await post(`${server.url}/mcp?project_id=p-2`, INIT, bearer(TEST_KEY));
    expect(other.status).toBe(403);
    expect(errorOf(other.body)).toBe('This server is scoped to project_id p-1; p-2 cannot be chosen.');
    const typo = await post(`${server.url}/mcp?readonly=ture`, INIT, bearer(TEST_KEY));
    expect(typo.status).toBe(400);
    expect(errorOf(typo.body)).toMatch(/^Query parameter "readonly" must be one of true\/1\/yes\/on/);
    expect(mock.api.requests).toHaveLength(0);
  });
});

describe('time', () => {
  it('a request past its timeout is cancelled: the caller gets an error, the server goes on', async () => {
    mock.api.fault = (r) =>
      r.path.startsWith('/projects') && r.method === 'GET' ? { delayMs: 5_000 } : undefined;
    const server = await serve({ requestTimeoutMs: 400 });
    const c = await httpClient(`${server.url}/mcp`, 'modern', bearer(TEST_KEY));
    clients.push(c);
    const started = Date.now();
    const outcome = await c.callTool({ name: 'list_projects', arguments: {} }).then(
      (r) => (r.isError ? 'tool error' : 'answered'),
      () => 'rejected',
    );
    expect(outcome).not.toBe('answered');
    expect(Date.now() - started).toBeLessThan(4_000);
    mock.api.fault = undefined;
    const again = await c.callTool({ name: 'list_projects', arguments: {} });
    expect(again.isError, text(again)).toBeFalsy();
  });

  it('close: calls in flight finish, healthz says draining, new calls are refused, then the listener closes', async () => {
    mock.api.fault = (r) => (r.path === '/projects' && r.method === 'GET' ? { delayMs: 800 } : undefined);
    const server = await serve();
    const c = await httpClient(`${server.url}/mcp`, 'modern', bearer(TEST_KEY));
    clients.push(c);
    expect(server.inFlight).toBe(0);
    const inFlight = c.callTool({ name: 'list_projects', arguments: {} });
    await new Promise((r) => setTimeout(r, 300));
    expect(server.inFlight).toBe(1);
    // A caller with a request in flight is held: never forgotten under the cap meanwhile.
    expect(server.tenants.size).toBe(1);
    running.splice(running.indexOf(server), 1);
    // Two requests already on their way when the drain starts (their connections open, headers or
    // body not yet complete), so they reach the handler while it drains.
    const port = Number(new URL(server.url).port);
    const health = rawRequest(port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n');
    const body = JSON.stringify(INIT);
    const late = rawRequest(
      port,
      `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n` +
        `Accept: application/json, text/event-stream\r\nAuthorization: Bearer ${TEST_KEY}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 10)}`,
    );
    await new Promise((r) => setTimeout(r, 100));
    const closing = server.close(10_000);
    health.finish('\r\n');
    late.finish(body.slice(10));
    const healthAnswer = await health.answer;
    expect(healthAnswer).toMatch(/^HTTP\/1\.1 503 /);
    expect(healthAnswer).toContain(JSON.stringify({ status: 'draining', version: VERSION }));
    const lateAnswer = await late.answer;
    expect(lateAnswer).toMatch(/^HTTP\/1\.1 503 /);
    expect(lateAnswer).toContain('This instance is shutting down; try again (another instance will answer).');
    const result = await inFlight;
    expect(result.isError, text(result)).toBeFalsy();
    const started = Date.now();
    await closing;
    // It closed when the call was answered, not after the grace.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(server.inFlight).toBe(0);
    expect(server.server.listening).toBe(false);
  });

  it('close: a call still running after the grace is cancelled', async () => {
    mock.api.fault = (r) => (r.path === '/projects' && r.method === 'GET' ? { delayMs: 10_000 } : undefined);
    const server = await serve();
    const c = await httpClient(`${server.url}/mcp`, 'modern', bearer(TEST_KEY));
    clients.push(c);
    const inFlight = c.callTool({ name: 'list_projects', arguments: {} }).then(
      (r) => (r.isError ? 'tool error' : 'answered'),
      () => 'rejected',
    );
    await new Promise((r) => setTimeout(r, 300));
    running.splice(running.indexOf(server), 1);
    const started = Date.now();
    await server.close(300);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await inFlight).not.toBe('answered');
    expect(server.server.listening).toBe(false);
  });

  it('close with nothing in flight returns at once', async () => {
    const server = await serve();
    running.splice(running.indexOf(server), 1);
    const started = Date.now();
    await server.close(10_000);
    expect(Date.now() - started).toBeLessThan(2_000);
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });
});

describe('authenticator', () => {
  const request = (authorization?: string) =>
    new Request('http://127.0.0.1/mcp', { headers: authorization ? { authorization } : {} });
  const hourFromNow = () => Math.floor(Date.now() / 1000) + 3600;

  it('says whose credentials: none on an open loopback server, the server key behind a token, the caller key', async () => {
    const before = hourFromNow();
    const open = await authenticator({ apiKey: TEST_KEY })(request());
    const behindToken = await authenticator({ apiKey: TEST_KEY, token: TOKEN })(request(`Bearer ${TOKEN}`));
    const callers = await authenticator({})(request(`Bearer ${OTHER_KEY}`));
    const after = hourFromNow();
    // No token is handed on for the server's own key (serve.ts makes no tenant without one); the
    // caller's key is, and only it.
    expect(open).toMatchObject({ token: '', clientId: 'loopback', scopes: [] });
    expect(behindToken).toMatchObject({ token: '', clientId: 'http-token', scopes: [] });
    expect(callers).toMatchObject({ token: OTHER_KEY, clientId: 'neon-api-key', scopes: [] });
    for (const info of [open, behindToken, callers]) {
      const { expiresAt } = info as { expiresAt: number };
      expect(expiresAt).toBeGreaterThanOrEqual(before);
      expect(expiresAt).toBeLessThanOrEqual(after);
    }
  });

  it("a refusal ends the SDK's sentence with one full stop before the advice", async () => {
    for (const [auth, header] of [
      [authenticator({}), undefined],
      [authenticator({}), 'Bearer short'],
      [authenticator({ apiKey: TEST_KEY, token: TOKEN }), undefined],
      [authenticator({ apiKey: TEST_KEY, token: TOKEN }), 'Bearer wrong-token-123'],
    ] as const) {
      const res = await auth(request(header));
      expect(res).toBeInstanceOf(Response);
      const description = String(
        ((await (res as Response).json()) as { error_description: string }).error_description,
      );
      expect(description, String(header)).toMatch(
        /[^.]\. Send (your Neon API key|this server's access token)/,
      );
      expect(description).not.toContain('..');
    }
  });
});
