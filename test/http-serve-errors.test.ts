/**
 * `--http` in process when something unexpected fails inside a request (src/http/serve.ts): an error
 * that is not a refusal of the caller's narrowing is not answered as one; it reaches the Node adapter,
 * which answers 500, and the log has its first line only (never a stack, never the request). The
 * narrowing is made to fail by a mock, as no input can make the real one throw anything else.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type HttpServer, startHttpServer } from '../src/http/serve.js';
import { TEST_KEY } from './helpers.js';
import { type MockHttpServer, startMockHttpServer } from './mock/http-server.js';

const failure = vi.hoisted(() => ({ error: undefined as Error | undefined }));
vi.mock('../src/http/narrow.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/http/narrow.js')>();
  return {
    ...real,
    narrowing: (...args: Parameters<typeof real.narrowing>) => {
      if (failure.error) throw failure.error;
      return real.narrowing(...args);
    },
  };
});

let mock: MockHttpServer;
let server: HttpServer | undefined;
const info: string[] = [];
const errors: string[] = [];
beforeAll(async () => {
  mock = await startMockHttpServer({});
});
afterAll(async () => {
  await mock?.close();
});
afterEach(async () => {
  await server?.close(0);
  server = undefined;
  failure.error = undefined;
  info.length = 0;
  errors.length = 0;
});

const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
};

async function start(): Promise<HttpServer> {
  server = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    server: {},
    clientOptions: { baseUrl: mock.baseUrl },
    limits: { perMinute: 700, perSecondPerRoute: 40 },
    maxBodyBytes: 64 * 1024,
    requestTimeoutMs: 30_000,
    logger: { info: (m) => info.push(m), error: (m, e) => errors.push(`${m} | ${String(e ?? '')}`) },
  });
  return server;
}

const post = (url: string) =>
  fetch(`${url}/mcp`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${TEST_KEY}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    },
    body: JSON.stringify(INIT),
  });

describe('an unexpected failure inside a request', () => {
  it('is not answered as a refusal: 500, and its first line logged as a failed request', async () => {
    const s = await start();
    failure.error = new TypeError('something broke\n    at secret-place (/x.js:1:1)');
    const res = await post(s.url);
    expect(res.status).toBe(500);
    expect(await res.text()).not.toContain('something broke');
    expect(errors).toEqual(['http: request failed | something broke']);
    expect(mock.api.requests).toHaveLength(0);
    // The server goes on: the next request is served.
    failure.error = undefined;
    expect((await post(s.url)).status).toBe(200);
  });
});
