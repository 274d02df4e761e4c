/**
 * No cross-tenant state under --http: two callers with two Neon keys, against one in-process HTTP
 * server (src/http) talking real HTTP to the loopback fake, with SQL on a real PostgreSQL. One caller
 * never gets the other's cached connection details, SQL pool, completion lists or rate-limit budget.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RateLimiter } from '../src/client/rate-limiter.js';
import { type HttpServer, startHttpServer } from '../src/http/serve.js';
import { TENANT_IDLE_MS, Tenants } from '../src/http/tenants.js';
import { connections } from '../src/sql/pools.js';
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

async function serve(limits = { perMinute: 700, perSecondPerRoute: 40 }, maxCallers?: number) {
  http = await startHttpServer({
    maxCallers,
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

describe('every cache of a caller hangs off its own tenant', () => {
  it('two keys on the same project ids: limiter, connection details, pools and completions apart', async () => {
    const { project } = mock.api.fake.seedProject('same-ids');
    const server = await serve();
    const a = await as(KEY_A, server);
    const b = await as(KEY_B, server);
    const ref = {
      type: 'ref/resource' as const,
      uri: 'neon://projects/{project_id}/branches/{branch_id}/schema{?database}',
    };
    const use = async (c: Client) => {
      const r = await c.callTool({ name: 'run_sql', arguments: { project_id: project.id, sql: 'SELECT 1' } });
      expect(r.isError, text(r)).toBeFalsy();
      const done = await c.complete({
        ref,
        argument: { name: 'branch_id', value: '' },
        context: { arguments: { project_id: project.id } },
      });
      expect(done.completion.values).toHaveLength(1);
    };
    await use(a);
    await use(b);
    const ta = server.tenants.peek(KEY_A);
    const tb = server.tenants.peek(KEY_B);
    expect(ta && tb).toBeTruthy();
    if (!ta || !tb) return;
    expect(ta.id).not.toBe(tb.id);
    expect(ta.limiter).not.toBe(tb.limiter);
    // Connection details: one entry each, for the same target, neither the other's.
    expect(ta.caches.connections.size).toBe(1);
    expect(tb.caches.connections.size).toBe(1);
    expect([...ta.caches.connections.keys()]).toEqual([...tb.caches.connections.keys()]);
    const [entryA] = ta.caches.connections.values();
    const [entryB] = tb.caches.connections.values();
    expect(entryA).not.toBe(entryB);
    // SQL pools: one per caller for the same URI (tagged with the tenant's id).
    expect(connections.size).toBe(2);
    // Each key asked Neon with its own key, once per cache: one connection lookup (with the default
    // branch it found) and one branch list for the completion.
    for (const key of [KEY_A, KEY_B]) {
      expect(seenWith(key, /connection_uri/)).toHaveLength(1);
      expect(seenWith(key, /\/branches$/)).toHaveLength(2);
    }
    // The caches used are the tenant's own: emptying A's makes A (and only A) ask Neon again.
    ta.caches.connections.clear();
    await use(a);
    await use(b);
    expect(seenWith(KEY_A, /connection_uri/)).toHaveLength(2);
    expect(seenWith(KEY_B, /connection_uri/)).toHaveLength(1);
    // A's connection lookup found the default branch anew; its completion list is still cached.
    expect(seenWith(KEY_A, /\/branches$/)).toHaveLength(3);
    expect(seenWith(KEY_B, /\/branches$/)).toHaveLength(2);
  });

  it('a caller forgotten under the cap loses its caches; one in flight is kept until it is answered', async () => {
    const { project } = mock.api.fake.seedProject('capped');
    const server = await serve(undefined, 2);
    const KEY_C = 'napi_third_tenant_key_5555555555';
    const KEY_D = 'napi_fourth_tenant_key_666666666';
    // A's Neon requests take a while: its call is in flight while three other keys come and go.
    mock.api.fault = (r) =>
      r.headers.get('authorization') === `Bearer ${KEY_A}` ? { delayMs: 1_500 } : undefined;
    const a = await as(KEY_A, server);
    const slow = a.callTool({ name: 'list_projects', arguments: {} });
    await new Promise((r) => setTimeout(r, 300));
    expect(server.tenants.peek(KEY_A)?.inFlight).toBe(1);
    for (const key of [KEY_B, KEY_C, KEY_D]) {
      const c = await as(key, server);
      const r = await c.callTool({ name: 'get_project', arguments: { project_id: project.id } });
      expect(r.isError, text(r)).toBeFalsy();
    }
    // Busy, A stayed; the idle ones beyond the cap went, least recently used first.
    expect(server.tenants.peek(KEY_A)).toBeDefined();
    expect(server.tenants.peek(KEY_B)).toBeUndefined();
    expect(server.tenants.size).toBeLessThanOrEqual(3);
    const r = await slow;
    expect(r.isError, text(r)).toBeFalsy();
    mock.api.fault = undefined;
    await new Promise((r) => setTimeout(r, 100));
    expect(server.tenants.peek(KEY_A)?.inFlight).toBe(0);
    expect(server.tenants.peek(KEY_C)).toBeUndefined();
    expect(server.tenants.size).toBe(2);
    // Answered, A is idle and the least recently used: the next new key replaces it.
    const e = await as('napi_fifth_tenant_key_7777777777', server);
    expect((await e.callTool({ name: 'list_projects', arguments: {} })).isError).toBeFalsy();
    expect(server.tenants.peek(KEY_A)).toBeUndefined();
    expect(server.tenants.peek(KEY_D)).toBeDefined();
    expect(server.tenants.size).toBe(2);
  });
});

describe('Tenants', () => {
  const limits = { perMinute: 700, perSecondPerRoute: 40 };

  it('keeps at most `max` keys, forgetting the least recently used', () => {
    const tenants = new Tenants(limits, Date.now, 2);
    const a = tenants.get('key-aaaaaaaa');
    tenants.get('key-bbbbbbbb');
    // A is used again: B is now the least recent.
    expect(tenants.get('key-aaaaaaaa')).toBe(a);
    tenants.get('key-cccccccc');
    expect(tenants.size).toBe(2);
    expect(tenants.peek('key-bbbbbbbb')).toBeUndefined();
    expect(tenants.peek('key-aaaaaaaa')).toBe(a);
    expect(tenants.peek('key-cccccccc')).toBeDefined();
    // Forgotten, B comes back with fresh state.
    const b2 = tenants.get('key-bbbbbbbb');
    expect(b2.caches.connections.size).toBe(0);
    expect(tenants.peek('key-aaaaaaaa')).toBeUndefined();
  });

  it('never forgets a tenant with a request in flight or a call waiting in its limiter', () => {
    const tenants = new Tenants(limits, Date.now, 1);
    const held = tenants.acquire('key-aaaaaaaa');
    tenants.get('key-bbbbbbbb');
    tenants.get('key-cccccccc');
    expect(tenants.peek('key-aaaaaaaa')).toBe(held.tenant);
    expect(tenants.size).toBe(2);
    held.release();
    // Released twice counts once.
    held.release();
    expect(held.tenant.inFlight).toBe(0);
    expect(tenants.peek('key-aaaaaaaa')).toBeUndefined();
    expect(tenants.size).toBe(1);
    const waiting = tenants.get('key-dddddddd');
    Object.defineProperty(waiting.limiter, 'waiting', { get: () => 1 });
    tenants.get('key-eeeeeeee');
    expect(tenants.peek('key-dddddddd')).toBe(waiting);
  });

  it('forgets idle tenants after TENANT_IDLE_MS, not busy ones', () => {
    let now = 1_000_000;
    const tenants = new Tenants(limits, () => now);
    const idle = tenants.get('key-aaaaaaaa');
    const busy = tenants.acquire('key-bbbbbbbb');
    now += TENANT_IDLE_MS;
    tenants.get('key-cccccccc');
    expect(tenants.peek('key-aaaaaaaa')).toBe(idle);
    now += 60_001;
    tenants.get('key-cccccccc');
    expect(tenants.peek('key-aaaaaaaa')).toBeUndefined();
    expect(tenants.peek('key-bbbbbbbb')).toBe(busy.tenant);
    expect(busy.tenant.limiter).toBeInstanceOf(RateLimiter);
  });
});
