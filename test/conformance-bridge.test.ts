/**
 * scripts/conformance-bridge.mjs, which `npm run conformance` puts between the MCP conformance suite
 * and the built stdio server: the SDK's Streamable HTTP client gets through it to the server (tools,
 * ping, logging/setLevel), each `initialize` gets a server of its own, and what is not JSON or not in
 * a session is refused. The suite itself runs in `npm run conformance` (docs/TESTING.md).
 */
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

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
