/**
 * `neon-mcp --http` end to end: the built command as a child process, real HTTP both ways (clients →
 * neon-mcp → the loopback Neon fake). Both protocol eras through the SDK's own Streamable HTTP client,
 * whose key is used (per request, or the server's own behind an access token), 401s, narrowing by
 * query, Origin/Host checks, the body limit, the per-request timeout, the SIGTERM drain, and that no
 * key ever reaches a log or an answer.
 */

import { rmSync } from 'node:fs';
import { request } from 'node:http';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TEST_KEY, text } from './helpers.js';
import { buildRunDir, httpClient, type Instance, startInstance } from './http-run.js';
import { type MockHttpServer, startMockHttpServer } from './mock/http-server.js';

const OTHER_KEY = 'napi_other_key_fedcba9876543210';
const TOKEN = 'team-access-token-0123456789';
let runDir: string;
let mock: MockHttpServer;
const running: Instance[] = [];

beforeAll(async () => {
  runDir = buildRunDir('http-test');
  mock = await startMockHttpServer({ validate: true });
}, 180_000);
afterAll(async () => {
  await mock?.close();
  rmSync(runDir, { recursive: true, force: true });
});
beforeEach(() => mock.api.reset());
afterEach(async () => {
  expect(mock.api.violations, 'requests not valid against the Neon API spec').toEqual([]);
  const all = running.splice(0);
  await Promise.all(all.map((i) => i.stop('SIGKILL')));
  // No key, nor the access token, in anything the server wrote.
  for (const i of all)
    for (const secret of [TEST_KEY, OTHER_KEY, TOKEN]) {
      expect(i.stderr()).not.toContain(secret);
      expect(i.stdout()).not.toContain(secret);
    }
});

async function start(args: string[] = [], env: Record<string, string | undefined> = {}, listen?: string) {
  const instance = await startInstance(runDir, args, { NEON_API_URL: mock.baseUrl, ...env }, { listen });
  running.push(instance);
  return instance;
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** A raw JSON-RPC POST (an older client's shape: no per-request envelope). */
async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { res, body: await res.text() };
}

const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

describe('neon-mcp --http', () => {
  for (const era of ['modern', 'legacy'] as const) {
    it(`serves a ${era === 'modern' ? '2026-07-28' : '2025-11-25'} SDK client with each request's own key`, async () => {
      mock.api.fake.seedProject('http-app');
      const server = await start();
      const client = await httpClient(`${server.url}/mcp`, era, bearer(TEST_KEY));
      try {
        expect(client.getNegotiatedProtocolVersion()).toBe(era === 'modern' ? '2026-07-28' : '2025-11-25');
        const { tools } = await client.listTools();
        expect(tools.map((t) => t.name)).toContain('create_project');
        const listed = await client.callTool({ name: 'list_projects', arguments: {} });
        expect(listed.isError, text(listed)).toBeFalsy();
        expect((listed.structuredContent as any).projects.map((p: any) => p.name)).toEqual(['http-app']);
        const created = await client.callTool({
          name: 'create_project',
          arguments: { name: `via-http-${era}`, database: 'appdb', role: 'app_owner' },
        });
        expect(created.isError, text(created)).toBeFalsy();
        expect(JSON.stringify(created)).not.toContain(TEST_KEY);
        // Every Neon request carried the caller's key, and only that.
        expect(mock.api.requests.length).toBeGreaterThan(0);
        for (const r of mock.api.requests) expect(r.headers.get('authorization')).toBe(`Bearer ${TEST_KEY}`);
      } finally {
        await client.close();
      }
      // Another caller's requests carry its own key: nothing of the first one is kept.
      mock.api.reset();
      const other = await httpClient(`${server.url}/mcp`, era, bearer(OTHER_KEY));
      try {
        const listed = await other.callTool({ name: 'list_projects', arguments: {} });
        expect(listed.isError, text(listed)).toBeFalsy();
        for (const r of mock.api.requests) expect(r.headers.get('authorization')).toBe(`Bearer ${OTHER_KEY}`);
      } finally {
        await other.close();
      }
      expect(server.stderr()).toMatch(/each request's own Neon API key/);
    });
  }

  it('answers 401 with WWW-Authenticate without a key, and GET /healthz without one', async () => {
    const server = await start();
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok' });
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Basic abc' },
      { authorization: 'Bearer' },
    ];
    for (const headers of attempts) {
      const { res, body } = await post(`${server.url}/mcp`, INIT, headers);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
      expect(body).toMatch(/Neon API key/);
    }
    // The SDK client hears the 401 too.
    await expect(httpClient(`${server.url}/mcp`, 'modern')).rejects.toThrow(/401|nauthorized/);
    expect(mock.api.requests).toHaveLength(0);
    expect((await fetch(`${server.url}/other`)).status).toBe(404);
  });

  it('single-tenant: the server key behind --http-token; a wrong token gets 401; non-loopback needs one', async () => {
    const server = await start(['--http-token', TOKEN], { NEON_API_KEY: TEST_KEY });
    expect(server.stderr()).toMatch(/the server's own API key, clients need the access token/);
    expect((await post(`${server.url}/mcp`, INIT, bearer('wrong-token-123456'))).res.status).toBe(401);
    // The caller's Neon key is no access token either.
    expect((await post(`${server.url}/mcp`, INIT, bearer(OTHER_KEY))).res.status).toBe(401);
    const client = await httpClient(`${server.url}/mcp`, 'modern', bearer(TOKEN));
    try {
      const listed = await client.callTool({ name: 'list_projects', arguments: {} });
      expect(listed.isError, text(listed)).toBeFalsy();
      // The server's key went to Neon; the access token never left.
      for (const r of mock.api.requests) expect(r.headers.get('authorization')).toBe(`Bearer ${TEST_KEY}`);
    } finally {
      await client.close();
    }
    // On loopback the token is optional (the Origin/Host checks keep browsers out) ...
    const open = await start([], { NEON_API_KEY: TEST_KEY });
    expect((await post(`${open.url}/mcp`, INIT)).res.status).toBe(200);
    // ... elsewhere the server refuses to start without one.
    await expect(start([], { NEON_API_KEY: TEST_KEY }, '0.0.0.0:0')).rejects.toThrow(/needs --http-token/);
  });

  it('narrows per connection by query, never widening', async () => {
    const project = { id: mock.api.fake.seedProject('scoped-app').project.id as string };
    const server = await start(['--toolsets', 'projects,branches,sql']);
    const names = async (query: string) => {
      const c = await httpClient(`${server.url}/mcp${query}`, 'modern', bearer(TEST_KEY));
      try {
        return (await c.listTools()).tools.map((t) => t.name);
      } finally {
        await c.close();
      }
    };
    const all = await names('');
    expect(all).toContain('create_branch');
    const readOnly = await names('?readonly=true');
    expect(readOnly).not.toContain('create_branch');
    expect(readOnly).toContain('list_branches');
    const sqlOnly = await names('?toolsets=sql');
    expect(sqlOnly).toContain('run_sql');
    expect(sqlOnly).not.toContain('list_branches');
    const scoped = await names(`?project_id=${project.id}`);
    expect(scoped).not.toContain('list_projects');
    // Widening or typos are refused.
    const refused = [
      ['?toolsets=roles', 403, /offers only the toolsets/],
      ['?read_only=true', 400, /Unknown query parameter "read_only"/],
      [
        '?readonly=maybe',
        400,
        /"readonly" must be one of true\/1\/yes\/on or false\/0\/no\/off, got "maybe"/,
      ],
      ['?toolsets=nope', 400, /Unknown toolset/],
    ] as const;
    for (const [query, status, message] of refused) {
      const { res, body } = await post(`${server.url}/mcp${query}`, INIT, bearer(TEST_KEY));
      expect(res.status, query).toBe(status);
      expect(JSON.parse(body).error).toMatch(message);
    }
    // A read-only server stays read-only whatever the query says; its scope cannot be changed.
    const ro = await start(['--read-only', '--project-id', project.id]);
    const c = await httpClient(`${ro.url}/mcp?readonly=false`, 'modern', bearer(TEST_KEY));
    try {
      expect((await c.listTools()).tools.map((t) => t.name)).not.toContain('create_branch');
    } finally {
      await c.close();
    }
    const other = await post(`${ro.url}/mcp?project_id=another-project`, INIT, bearer(TEST_KEY));
    expect(other.res.status).toBe(403);
    expect(JSON.parse(other.body).error).toMatch(/scoped to project_id/);
  });

  it('checks Origin and Host on loopback, limits the body size', async () => {
    const server = await start(['--allowed-origins', 'app.example.com', '--http-max-body', '2048']);
    const port = new URL(server.url).port;
    expect(
      (await post(`${server.url}/mcp`, INIT, { ...bearer(TEST_KEY), origin: 'http://evil.example' })).res
        .status,
    ).toBe(403);
    expect(
      (await post(`${server.url}/mcp`, INIT, { ...bearer(TEST_KEY), origin: 'https://app.example.com' })).res
        .status,
    ).toBe(200);
    expect(
      (await post(`${server.url}/mcp`, INIT, { ...bearer(TEST_KEY), origin: `http://localhost:${port}` })).res
        .status,
    ).toBe(200);
    // DNS rebinding: a name that resolves to 127.0.0.1 but is not a loopback name.
    // (fetch does not let a caller set Host: node:http does.)
    const hostStatus = (host: string) =>
      new Promise<number | undefined>((resolve, reject) => {
        const req = request(
          `${server.url}/mcp`,
          {
            method: 'POST',
            headers: {
              host,
              'content-type': 'application/json',
              accept: 'application/json, text/event-stream',
              ...bearer(TEST_KEY),
            },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode);
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify(INIT));
      });
    expect(await hostStatus(`rebind.example:${port}`)).toBe(403);
    expect(await hostStatus(`localhost:${port}`)).toBe(200);
    const big = await post(`${server.url}/mcp`, { ...INIT, padding: 'x'.repeat(4096) }, bearer(TEST_KEY));
    expect(big.res.status).toBe(413);
  });

  it('cancels a request past --http-timeout: the caller gets an error, the server goes on', async () => {
    mock.api.fault = (r) =>
      r.path.startsWith('/projects') && r.method === 'GET' ? { delayMs: 5_000 } : undefined;
    const server = await start(['--http-timeout', '500']);
    const client = await httpClient(`${server.url}/mcp`, 'modern', bearer(TEST_KEY));
    try {
      const started = Date.now();
      const outcome = await client.callTool({ name: 'list_projects', arguments: {} }).then(
        (r) => (r.isError ? `tool error: ${text(r)}` : 'answered'),
        (e: Error) => `rejected: ${e.message}`,
      );
      expect(outcome).not.toBe('answered');
      expect(Date.now() - started).toBeLessThan(4_500);
      mock.api.fault = undefined;
      const again = await client.callTool({ name: 'list_projects', arguments: {} });
      expect(again.isError, text(again)).toBeFalsy();
    } finally {
      await client.close();
    }
  });

  it("redacts the caller's key from error answers and the log, and checks its flags", async () => {
    // An upstream that echoes the key back in an error body (as a misconfigured proxy might).
    mock.api.fault = (r) =>
      r.path === '/projects'
        ? new Response(JSON.stringify({ message: `bad key ${r.headers.get('authorization')}` }), {
            status: 400,
            headers: { 'content-type': 'application/json' },
          })
        : undefined;
    const server = await start();
    const client = await httpClient(`${server.url}/mcp`, 'legacy', bearer(OTHER_KEY));
    try {
      const r = await client.callTool({ name: 'list_projects', arguments: {} });
      expect(r.isError).toBe(true);
      expect(text(r)).toMatch(/bad key Bearer \[redacted\]/);
      expect(JSON.stringify(r)).not.toContain(OTHER_KEY);
    } finally {
      await client.close();
    }
    for (const [flags, message] of [
      [['--rate-limit-share', '2'], /--rate-limit-share must be a share from 0 to 1/],
      [['--http-timeout', '0'], /--http-timeout must be a positive whole number/],
    ] as const) {
      await expect(start([...flags])).rejects.toThrow(message);
    }
    await expect(start([], {}, 'nonsense')).rejects.toThrow(/--http takes \[HOST:\]PORT/);
    // A third of Neon's limits for each of three instances.
    const third = await start(['--rate-limit-share', '1/3']);
    expect(third.stderr()).toMatch(/233 requests\/min per key/);
  });

  it('SIGTERM: healthz says draining, calls in flight finish, new ones are refused, then it exits 0', async () => {
    mock.api.fault = (r) => (r.path === '/projects' && r.method === 'GET' ? { delayMs: 1_500 } : undefined);
    const server = await start();
    const client = await httpClient(`${server.url}/mcp`, 'modern', bearer(TEST_KEY));
    const inFlight = client.callTool({ name: 'list_projects', arguments: {} });
    await new Promise((r) => setTimeout(r, 400));
    server.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    const late = await fetch(`${server.url}/healthz`).then(
      (r) => r.status,
      () => 'refused',
    );
    // Either it still answers (503, draining) or the listener is already closed: never 200.
    expect(late).not.toBe(200);
    const result = await inFlight;
    expect(result.isError, text(result)).toBeFalsy();
    expect(await server.exited).toBe(0);
    expect(server.stderr()).toMatch(/SIGTERM/);
    await client.close().catch(() => undefined);
  });
});
