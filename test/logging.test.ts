/**
 * The server's own events as MCP log messages (src/client/events.ts → src/mcp/logging.ts): retries
 * with their cause, waits on Neon operations, rate-limiter queueing (also as progress), and the
 * client's level filter (logging/setLevel) applied. No message holds the key.
 */
import { type Client, LOG_LEVEL_META_KEY } from '@modelcontextprotocol/client';
import { HttpResponse, http } from 'msw';
import { afterEach, describe, expect, it } from 'vitest';
import { RateLimiter } from '../src/client/rate-limiter.js';
import { BASE, connect, TEST_KEY, text, useMockApi } from './helpers.js';

const api = useMockApi();
let conn: Awaited<ReturnType<typeof connect>> | undefined;
afterEach(async () => {
  await conn?.close();
  conn = undefined;
});

interface Message {
  level: string;
  data: { event: string; message: string };
}

async function logged(options: Parameters<typeof connect>[0] = {}) {
  const messages: Message[] = [];
  conn = await connect({
    ...options,
    beforeConnect: (mcp: Client) =>
      mcp.setNotificationHandler('notifications/message', (n) => {
        messages.push(n.params as unknown as Message);
      }),
  });
  return { conn, messages };
}

/** Neon answers the next create-branch request with a 503 (a write Neon guarantees it did not apply). */
function busyOnce() {
  let n = 0;
  api.use(
    http.post(`${BASE}/projects/:project_id/branches`, () =>
      // 429: a write Neon did not process, so it is retried (a 503 on a write is not: it may have been applied).
      n++ === 0 ? HttpResponse.json({ code: 'BUSY', message: 'busy' }, { status: 429 }) : undefined,
    ),
  );
}

/** Lets the notifications sent before the answer arrive. */
const flush = () => new Promise((r) => setTimeout(r, 20));

describe('logging', () => {
  it('declares the logging capability', async () => {
    conn = await connect({ era: 'legacy' });
    expect(conn.mcp.getServerCapabilities()?.logging).toEqual({});
  });

  it('sends retries with their cause and operation waits; setLevel filters by severity', async () => {
    const { project } = api.fake.seedProject();
    const { conn, messages } = await logged({ era: 'legacy' });
    await conn.mcp.setLoggingLevel('warning');
    busyOnce();
    await conn.ok('create_branch', { project_id: project.id, name: 'one' });
    await flush();
    expect(messages.map((m) => m.data.event)).toEqual(['retry']);
    expect(messages[0].level).toBe('warning');
    expect(messages[0].data.message).toMatch(
      /^Retrying POST \/projects\/[^/]+\/branches \(retry 1 of \d+\) after HTTP 429\.$/,
    );

    messages.length = 0;
    await conn.mcp.setLoggingLevel('debug');
    await conn.ok('create_branch', { project_id: project.id, name: 'two' });
    await flush();
    const events = messages.map((m) => `${m.level} ${m.data.event}`);
    expect(events).toContain('info operation_wait');
    expect(events).toContain('debug operation_done');
    expect(messages.find((m) => m.data.event === 'operation_wait')?.data.message).toMatch(
      /Waiting for \d+ Neon operation\(s\) to finish: \w+ /,
    );
    expect(JSON.stringify(messages)).not.toContain(TEST_KEY);
  });

  it('on the 2026-07-28 revision follows the log level the request carries (none: no messages)', async () => {
    const { project } = api.fake.seedProject();
    const { conn, messages } = await logged();
    const call = (name: string, level?: string) =>
      conn.mcp.callTool({
        name: 'create_branch',
        arguments: { project_id: project.id, name },
        ...(level ? { _meta: { [LOG_LEVEL_META_KEY]: level } } : {}),
      });
    busyOnce();
    await call('silent');
    busyOnce();
    await call('quiet', 'error');
    await flush();
    expect(messages).toEqual([]);
    busyOnce();
    await call('loud', 'info');
    await flush();
    expect(messages.map((m) => m.data.event)).toEqual(['retry', 'operation_wait']);
  });

  it('reports calls queued by the rate limiter as log messages and as progress', async () => {
    const { project } = api.fake.seedProject();
    // One request per second per route: the third of three calls on one route waits about 2 s.
    const limiter = new RateLimiter({ perMinute: 700, perSecondPerRoute: 1 });
    const { conn, messages } = await logged({ era: 'legacy', clientOptions: { limiter } });
    const progress: string[] = [];
    const calls = [1, 2, 3].map(() =>
      conn.call(
        'get_project',
        { project_id: project.id },
        { onprogress: (p) => progress.push(String(p.message)), resetTimeoutOnProgress: true },
      ),
    );
    const results = await Promise.all(calls);
    for (const r of results) expect(r.isError, text(r)).toBeFalsy();
    await flush();
    const queued = messages.filter((m) => m.data.event === 'queued');
    expect(queued.length).toBeGreaterThan(0);
    expect(queued[0].level).toBe('info');
    expect(queued[0].data.message).toMatch(
      /Queued by the client's rate limiter for 1 s \(GET \/projects\/\{project_id\}/,
    );
    expect(progress.some((p) => p.startsWith("Queued by the client's rate limiter"))).toBe(true);
  }, 15_000);

  it('redacts secrets from log messages as from every other output', async () => {
    // A secret that ends up in a path (here a project ID) must not leak through a retry message.
    const secret = 'p-secret-0123456789';
    api.fake.makeProject({ id: secret, name: 'hidden' });
    let n = 0;
    api.use(
      http.get(`${BASE}/projects/:project_id`, () =>
        n++ === 0 ? HttpResponse.json({ message: 'later' }, { status: 503 }) : undefined,
      ),
    );
    const { conn, messages } = await logged({ era: 'legacy', secrets: [TEST_KEY, secret] });
    await conn.call('get_project', { project_id: secret });
    await flush();
    const retry = messages.find((m) => m.data.event === 'retry');
    expect(retry?.data.message).toContain('[redacted]');
    expect(JSON.stringify(messages)).not.toContain(secret);
  });
});
