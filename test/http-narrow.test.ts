/**
 * Narrowing per connection under --http (src/http/narrow.ts): the server prepares one configuration
 * per narrowing and serves every later caller with the same narrowing from it, so the key naming a
 * configuration must hold every field narrowed. A key without `readonly` served a `?readonly=true`
 * caller the configuration prepared for an earlier caller without it, write tools included. In process
 * (startHttpServer) against the loopback fake; no PostgreSQL.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NarrowingError, narrowing } from '../src/http/narrow.js';
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

describe('narrowing: what a query may ask for', () => {
  const narrow = (query: string, base: Parameters<typeof narrowing>[0] = {}) =>
    narrowing(base, new URLSearchParams(query));
  const refusal = (query: string, base: Parameters<typeof narrowing>[0] = {}) => {
    try {
      narrow(query, base);
    } catch (error) {
      if (error instanceof NarrowingError) return { status: error.status, message: error.message };
      throw error;
    }
    throw new Error(`${query} was not refused`);
  };

  it('reads ?readonly= with the yes/no words of the flags, any case, and a bare ?readonly as on', () => {
    for (const word of ['true', '1', 'yes', 'on', 'TRUE', ' On ', ''])
      expect(narrow(`readonly=${encodeURIComponent(word)}`).server.readOnly, word).toBe(true);
    expect(narrow('readonly').server.readOnly).toBe(true);
    for (const word of ['false', '0', 'no', 'off', 'No'])
      expect(narrow(`readonly=${word}`).server.readOnly, word).toBe(false);
    // A server that is read-only stays so, whatever the query says.
    expect(narrow('readonly=false', { readOnly: true }).server.readOnly).toBe(true);
    expect(narrow('project_id=p', { readOnly: true }).server.readOnly).toBe(true);
    expect(narrow('project_id=p').server.readOnly).toBe(false);
  });

  it('refuses an unknown ?readonly= word with a 400 naming the accepted words', () => {
    for (const word of ['maybe', 'ture', 'enabled', 'y', '2']) {
      const r = refusal(`readonly=${word}`);
      expect(r.status).toBe(400);
      expect(r.message).toBe(
        `Query parameter "readonly" must be one of true/1/yes/on or false/0/no/off, got "${word}" ` +
          '(an unknown value is refused rather than guessed).',
      );
    }
  });

  it('refuses unknown and repeated parameters, naming them', () => {
    expect(refusal('read_only=true')).toEqual({
      status: 400,
      message: 'Unknown query parameter "read_only". Known: readonly, project_id, org_id, toolsets.',
    });
    expect(refusal('readonly=true&readonly=false')).toEqual({
      status: 400,
      message: 'Query parameter "readonly" is given twice.',
    });
    expect(refusal('toolsets=sql&toolsets=sql')).toEqual({
      status: 400,
      message: 'Query parameter "toolsets" is given twice.',
    });
  });

  it('serves the server own configuration, unchanged, without a narrowing parameter', () => {
    const base = { readOnly: false, projectId: 'p-base', toolsets: ['sql'] };
    const { server, key } = narrow('', base);
    expect(server).toBe(base);
    expect(key).toBe('');
  });

  it('takes a scope the server has none of, or the same one, and refuses another or an empty one', () => {
    expect(narrow('project_id=p-1').server.projectId).toBe('p-1');
    expect(narrow('org_id=org-1').server.orgId).toBe('org-1');
    expect(narrow('project_id=p-1', { projectId: 'p-1' }).server.projectId).toBe('p-1');
    // A scope not asked for keeps the server's.
    expect(narrow('readonly=true', { projectId: 'p-9', orgId: 'o-9' }).server).toMatchObject({
      projectId: 'p-9',
      orgId: 'o-9',
    });
    expect(refusal('project_id=p-2', { projectId: 'p-1' })).toEqual({
      status: 403,
      message: 'This server is scoped to project_id p-1; p-2 cannot be chosen.',
    });
    expect(refusal('org_id=o-2', { orgId: 'o-1' })).toEqual({
      status: 403,
      message: 'This server is scoped to org_id o-1; o-2 cannot be chosen.',
    });
    expect(refusal('project_id=%20')).toEqual({
      status: 400,
      message: 'Query parameter "project_id" is empty.',
    });
    expect(refusal('org_id=')).toEqual({ status: 400, message: 'Query parameter "org_id" is empty.' });
  });

  it('picks toolsets: trimmed, without repeats, only known ones, and under --toolsets only those', () => {
    expect(narrow('toolsets=%20sql%20,branches,,sql').server.toolsets).toEqual(['sql', 'branches']);
    expect(narrow('readonly=true', { toolsets: ['sql'] }).server.toolsets).toEqual(['sql']);
    expect(refusal('toolsets=%20,%20')).toEqual({
      status: 400,
      message: 'Query parameter "toolsets" names no toolset.',
    });
    const unknown = refusal('toolsets=nope');
    expect(unknown.status).toBe(400);
    expect(unknown.message).toMatch(/Unknown toolset/);
    expect(unknown.message).toMatch(/nope/);
    expect(narrow('toolsets=sql', { toolsets: ['sql', 'branches'] }).server.toolsets).toEqual(['sql']);
    expect(refusal('toolsets=sql,roles', { toolsets: ['sql', 'branches'] })).toEqual({
      status: 403,
      message: 'This server offers only the toolsets sql, branches (--toolsets); not roles.',
    });
    expect(refusal('toolsets=roles,projects', { toolsets: ['sql'] }).message).toBe(
      'This server offers only the toolsets sql (--toolsets); not roles, projects.',
    );
    // --toolsets all, or none, leaves every toolset on offer.
    expect(narrow('toolsets=roles', { toolsets: ['all'] }).server.toolsets).toEqual(['roles']);
    expect(narrow('toolsets=roles', { toolsets: [] }).server.toolsets).toEqual(['roles']);
  });

  it('keys a configuration by every narrowed field', () => {
    expect(narrow('readonly=true&project_id=p&org_id=o&toolsets=sql').key).toBe(
      JSON.stringify([true, 'p', 'o', ['sql']]),
    );
    expect(narrow('readonly=false').key).toBe(JSON.stringify([false, null, null, null]));
  });
});
