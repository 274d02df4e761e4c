/**
 * scripts/conformance-bridge.mjs, which `npm run conformance` puts between the MCP conformance suite
 * and the built stdio server: the SDK's Streamable HTTP client gets through it to the server (tools,
 * ping, logging/setLevel), what the server sends during a call reaches the client before the answer,
 * each `initialize` gets a server of its own, and what is not JSON or not in a session is refused. The suite itself runs in `npm run conformance` (docs/TESTING.md).
 */
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_KEY } from './helpers.js';
import { startMockHttpServer } from './mock/http-server.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Bridge {
  port: number;
  url: string;
  notJson: string[];
  close(): Promise<void>;
}
// A plain script without type declarations: imported by URL and typed here.
const { startBridge } = (await import(pathToFileURL(join(ROOT, 'scripts/conformance-bridge.mjs')).href)) as {
  startBridge(options: { entry: string; env?: Record<string, string>; stderr?: 'ignore' }): Promise<Bridge>;
};

let bridge: Bridge;
beforeAll(async () => {
  // dist/ is built by `npm test`'s pretest; no key: nothing here reaches Neon.
  bridge = await startBridge({
    entry: join(ROOT, 'dist/index.js'),
    env: { PATH: process.env.PATH ?? '' },
    stderr: 'ignore',
  });
});
afterAll(() => bridge?.close());

async function connect() {
  const client = new Client({ name: 'bridge-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(bridge.url));
  await client.connect(transport);
  return { client, transport };
}

describe('the conformance bridge', () => {
  it('carries an SDK client over HTTP to the built stdio server', async () => {
    const { client } = await connect();
    try {
      expect(client.getServerVersion()?.name).toBe('neon-mcp');
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toContain('list_projects');
      expect(await client.ping()).toEqual({});
      expect(await client.setLoggingLevel('info')).toEqual({});
    } finally {
      await client.close();
    }
    expect(bridge.notJson).toEqual([]);
  });

  it('streams what the server sends during a call (list_changed) before its answer', async () => {
    const { client } = await connect();
    try {
      let notified = 0;
      client.setNotificationHandler('notifications/tools/list_changed', () => {
        notified++;
      });
      const before = (await client.listTools()).tools.map((t) => t.name);
      expect(before).not.toContain('list_computes');
      const res = await client.callTool({ name: 'enable_toolsets', arguments: { toolsets: ['computes'] } });
      expect(res.isError).toBeFalsy();
      // Written to the call's stream ahead of the answer, so it has arrived when the call returns.
      expect(notified).toBe(1);
      expect((await client.listTools()).tools.map((t) => t.name)).toContain('list_computes');
    } finally {
      await client.close();
    }
  });

  it("carries the server's own requests (elicitation) and the client's answers during a call", async () => {
    const mock = await startMockHttpServer();
    const withKey = await startBridge({
      entry: join(ROOT, 'dist/index.js'),
      env: { PATH: process.env.PATH ?? '', NEON_API_KEY: TEST_KEY, NEON_API_URL: mock.baseUrl },
      stderr: 'ignore',
    });
    const { project } = mock.api.fake.seedProject('keep-me');
    const client = new Client(
      { name: 'bridge-test', version: '1.0.0' },
      { capabilities: { elicitation: { form: {} } } },
    );
    const asked: string[] = [];
    client.setRequestHandler('elicitation/create', async (request) => {
      asked.push(String((request.params as any).message));
      return { action: 'decline' } as any;
    });
    try {
      await client.connect(new StreamableHTTPClientTransport(new URL(withKey.url)));
      const res = await client.callTool({ name: 'delete_project', arguments: { project_id: project.id } });
      // The question reached the client mid-call and its answer (a POST without a method) got back.
      expect(asked).toHaveLength(1);
      expect(asked[0]).toContain('keep-me');
      expect(res.isError).toBe(true);
      expect(mock.api.count('DELETE', `/projects/${project.id}`)).toBe(0);
    } finally {
      await client.close();
      await withKey.close();
      await mock.close();
    }
  }, 30_000);

  it('gives each initialize its own server process and session', async () => {
    const a = await connect();
    const b = await connect();
    try {
      expect(a.transport.sessionId).toBeTruthy();
      expect(b.transport.sessionId).toBeTruthy();
      expect(a.transport.sessionId).not.toBe(b.transport.sessionId);
      const [ta, tb] = await Promise.all([a.client.listTools(), b.client.listTools()]);
      expect(ta.tools.length).toBe(tb.tools.length);
    } finally {
      await a.client.close();
      await b.client.close();
    }
  });

  it('refuses bodies that are not JSON, requests outside a session and GET', async () => {
    const post = (body: string, headers: Record<string, string> = {}) =>
      fetch(bridge.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });
    const bad = await post('{not json');
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.code).toBe(-32700);
    const orphan = await post(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list' }), {
      'mcp-session-id': 'no-such-session',
    });
    expect(orphan.status).toBe(400);
    expect((await orphan.json()).id).toBe(7);
    expect((await fetch(bridge.url)).status).toBe(405);
  });
});
