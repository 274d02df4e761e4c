/**
 * Narrowing per connection under --http (src/http/narrow.ts): the server prepares one configuration
 * per narrowing and serves every later caller with the same narrowing from it, so the key naming a
 * configuration must hold every field narrowed. A key without `readonly` served a `?readonly=true`
 * caller the configuration prepared for an earlier caller without it, write tools included. In process
 * (startHttpServer) against the loopback fake; no PostgreSQL.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { narrowing } from '../src/http/narrow.js';
import { type HttpServer, startHttpServer } from '../src/http/serve.js';
import { TEST_KEY } from './helpers.js';
import { httpClient } from './http-run.js';
import { type MockHttpServer, startMockHttpServer } from './mock/http-server.js';

let mock: MockHttpServer;
beforeAll(async () => {
  mock = await startMockHttpServer({});
});
afterAll(async () => {
  await mock?.close();
});
let http: HttpServer | undefined;
const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
  await http?.close(0);
  http = undefined;
});

async function serve(): Promise<HttpServer> {
  http = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    server: {},
    clientOptions: { baseUrl: mock.baseUrl },
    limits: { perMinute: 700, perSecondPerRoute: 40 },
    maxBodyBytes: 4 * 1024 * 1024,
    requestTimeoutMs: 30_000,
    logger: { info: () => undefined, error: () => undefined },
  });
  return http;
}

async function tools(server: HttpServer, query: string): Promise<string[]> {
  const c = await httpClient(`${server.url}/mcp${query}`, 'modern', { authorization: `Bearer ${TEST_KEY}` });
  clients.push(c);
  return (await c.listTools()).tools.map((t) => t.name);
}

describe('one prepared configuration per narrowing', () => {
  it('a ?readonly=true caller after a writable one with the same scope gets no write tools', async () => {
    const server = await serve();
    const query = '?project_id=proj-narrow-1&toolsets=branches';
    expect(await tools(server, query)).toContain('create_branch');
    const readOnly = await tools(server, `${query}&readonly=true`);
    expect(readOnly).toContain('list_branches');
    expect(readOnly).not.toContain('create_branch');
    expect(readOnly).not.toContain('delete_branch');
  });

  it('a writable caller after a read-only one with the same scope gets its write tools', async () => {
    const server = await serve();
    expect(await tools(server, '?toolsets=branches&readonly=true')).not.toContain('create_branch');
    expect(await tools(server, '?toolsets=branches')).toContain('create_branch');
  });

  it('a scoped caller after an unscoped one with the same toolsets is scoped', async () => {
    const server = await serve();
    expect(await tools(server, '?toolsets=projects&readonly=true')).toContain('list_projects');
    expect(await tools(server, '?toolsets=projects&readonly=true&project_id=proj-1')).not.toContain(
      'list_projects',
    );
  });
});

describe('narrowing keys', () => {
  it('differ in every field narrowed, and name no configuration twice', () => {
    const queries = [
      'readonly=true',
      'readonly=false',
      'project_id=p-1',
      'project_id=p-1&readonly=true',
      'project_id=p-2',
      'org_id=org-1',
      'org_id=org-1&readonly=true',
      'toolsets=sql',
      'toolsets=sql&readonly=true',
      'toolsets=sql,branches',
    ];
    const keys = queries.map((q) => narrowing({}, new URLSearchParams(q)).key);
    const byKey = new Map<string, string>();
    for (const [i, key] of keys.entries()) {
      expect(byKey.get(key), `${queries[i]} and ${byKey.get(key)} share a key`).toBeUndefined();
      byKey.set(key, queries[i] as string);
    }
    // Without any narrowing the caller is served the server's own configuration.
    expect(narrowing({}, new URLSearchParams('')).key).toBe('');
  });
});
