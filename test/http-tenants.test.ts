/**
 * No cross-tenant state under --http: two callers with two Neon keys, against one in-process HTTP
 * server (src/http) talking real HTTP to the loopback fake, with SQL on a real PostgreSQL. One caller
 * never gets the other's cached connection details, SQL pool, completion lists or rate-limit budget.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type HttpServer, startHttpServer } from '../src/http/serve.js';
import { connections } from '../src/sql/connections.js';
import { TEST_KEY, text } from './helpers.js';
import { httpClient } from './http-run.js';
import { type MockHttpServer, startMockHttpServer } from './mock/http-server.js';
import { createRoles, useBranchDatabases } from './pg/branches.js';
import { startPostgres, type TestPostgres } from './pg/server.js';

const KEY_A = TEST_KEY;
const KEY_B = 'napi_second_tenant_key_9876543210';
let pg: TestPostgres;
let mock: MockHttpServer;
const logged: string[] = [];
const logger = {
  info: (m: string) => logged.push(m),
  error: (m: string, e?: unknown) => logged.push(`${m} ${String(e)}`),
};

beforeAll(async () => {
  mock = await startMockHttpServer({ validate: true });
  pg = await startPostgres({});
  await createRoles(pg);
}, 90_000);
afterAll(async () => {
  await connections.closeAll();
  await pg?.stop();
  await mock?.close();
});
// Before useBranchDatabases' own hooks: they wire the fresh fake's connection URIs to PostgreSQL.
beforeEach(() => mock.api.reset());
const dbs = useBranchDatabases(
  {
    get fake() {
      return mock.api.fake;
    },
    use: (...h: any[]) => mock.api.use(...h),
  },
  () => pg,
);
void dbs;

let http: HttpServer | undefined;
const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
  await http?.close(0);
  http = undefined;
  await connections.closeAll();
  expect(mock.api.violations).toEqual([]);
  for (const line of logged) {
    expect(line).not.toContain(KEY_A);
    expect(line).not.toContain(KEY_B);
  }
});

async function serve(limits = { perMinute: 700, perSecondPerRoute: 40 }) {
  http = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    server: {},
    clientOptions: { baseUrl: mock.baseUrl },
    limits,
    maxBodyBytes: 4 * 1024 * 1024,
    requestTimeoutMs: 60_000,
    logger,
  });
  return http;
}

async function as(key: string, server: HttpServer) {
  const c = await httpClient(`${server.url}/mcp`, 'modern', { authorization: `Bearer ${key}` });
  clients.push(c);
  return c;
}

/** Requests the fake saw with this key. */
const seenWith = (key: string, path: RegExp) =>
  mock.api.requests.filter((r) => r.headers.get('authorization') === `Bearer ${key}` && path.test(r.path));

describe('two keys on one --http server', () => {
  it('never share cached connection details or SQL pools', async () => {
    const { project } = mock.api.fake.seedProject('shared');
    const server = await serve();
    const a = await as(KEY_A, server);
    const b = await as(KEY_B, server);
    const sql = async (c: Client) => {
      const r = await c.callTool({
        name: 'run_sql',
        arguments: { project_id: project.id, sql: 'SELECT 1 AS one' },
      });
      expect(r.isError, text(r)).toBeFalsy();
    };
    await sql(a);
    expect(seenWith(KEY_A, /connection_uri/)).toHaveLength(1);
    expect(connections.size).toBe(1);
    // B asks Neon itself (with its own key) and gets a pool of its own, though the URI is the same.
    await sql(b);
    expect(seenWith(KEY_B, /connection_uri/)).toHaveLength(1);
    expect(connections.size).toBe(2);
    // Each caller's own cache still works: A's second call needs no new lookup, nor a new pool.
    await sql(a);
    await sql(b);
    expect(seenWith(KEY_A, /connection_uri/)).toHaveLength(1);
    expect(seenWith(KEY_B, /connection_uri/)).toHaveLength(1);
    expect(connections.size).toBe(2);
    expect(server.tenants.size).toBe(2);
  });

  it('never share completion lists', async () => {
    mock.api.fake.seedProject('shop');
    const server = await serve();
    const ref = { type: 'ref/resource' as const, uri: 'neon://projects/{project_id}' };
    const complete = (c: Client) => c.complete({ ref, argument: { name: 'project_id', value: '' } });
    const a = await as(KEY_A, server);
    expect((await complete(a)).completion.values.length).toBe(1);
    expect((await complete(a)).completion.values.length).toBe(1);
    // A's second completion came from its cache ...
    expect(seenWith(KEY_A, /^\/projects$/)).toHaveLength(1);
    // ... which B does not get: B's list comes from Neon with B's key.
    const b = await as(KEY_B, server);
    await complete(b);
    expect(seenWith(KEY_B, /^\/projects$/)).toHaveLength(1);
  });

  it("never spend each other's rate-limit budget", async () => {
    const server = await serve({ perMinute: 3, perSecondPerRoute: 40 });
    const a = await as(KEY_A, server);
    for (let i = 0; i < 3; i++) {
      const r = await a.callTool({ name: 'list_projects', arguments: {} });
      expect(r.isError, text(r)).toBeFalsy();
    }
    // A's minute is spent: its next call waits in A's limiter ...
    const waiting = a.callTool({ name: 'list_projects', arguments: {} }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    const tenantA = server.tenants.get(KEY_A);
    expect(tenantA.limiter.waiting).toBe(1);
    // ... while B, with a budget of its own, is answered at once.
    const b = await as(KEY_B, server);
    const started = Date.now();
    const r = await b.callTool({ name: 'list_projects', arguments: {} });
    expect(r.isError, text(r)).toBeFalsy();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(server.tenants.get(KEY_B).limiter.waiting).toBe(0);
    expect(tenantA.limiter.waiting).toBe(1);
    expect(seenWith(KEY_A, /^\/projects$/)).toHaveLength(3);
    // Closing A's server cancels its waiting call.
    await server.close(0);
    http = undefined;
    await waiting;
  });
});
