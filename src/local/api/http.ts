/** Serves local mode's API ({@link LocalCore} with its routes) over HTTP on loopback, for the unchanged client and tools. */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Doc } from '../catalog.js';
import { LocalApiError, type LocalCore } from './core.js';

/** Largest request body read (Neon's own requests here are a few hundred bytes). */
const MAX_BODY = 1024 * 1024;

function readBody(req: IncomingMessage): Promise<Doc> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new LocalApiError(413, 'request body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (!text) return resolve({});
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new LocalApiError(400, 'request body is not JSON'));
      }
    });
    req.on('error', reject);
  });
}

export interface LocalApiServer {
  /** Base URL up to and including `/api/v2`. */
  baseUrl: string;
  close(): Promise<void>;
}

/**
 * Serves `api` on 127.0.0.1 (a free port). Only requests with `Bearer <apiKey>` are answered: another
 * user of this machine can reach the port but not the key, which never leaves this process.
 */
export async function serveLocalApi(api: LocalCore, apiKey: string): Promise<LocalApiServer> {
  const server: Server = createServer((req, res) => {
    void answer(api, apiKey, req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/api/v2`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Compared in constant time: the port is reachable by every user of the machine. */
function sameKey(given: string | undefined, expected: string): boolean {
  const a = Buffer.from(given ?? '');
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function answer(api: LocalCore, apiKey: string, req: IncomingMessage, res: ServerResponse) {
  const send = (status: number, body: Doc) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  const requestId = randomUUID();
  try {
    if (!sameKey(req.headers.authorization, `Bearer ${apiKey}`))
      throw new LocalApiError(401, 'local mode API: wrong or missing key', 'UNAUTHORIZED');
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (!url.pathname.startsWith('/api/v2/')) throw new LocalApiError(404, `no such path ${url.pathname}`);
    const body = req.method === 'GET' || req.method === 'DELETE' ? {} : await readBody(req);
    const [status, out] = await api.handle(
      req.method ?? 'GET',
      url.pathname.slice('/api/v2'.length),
      url.searchParams,
      body,
    );
    send(status, out);
  } catch (e) {
    if (e instanceof LocalApiError)
      send(e.status, { code: e.code, message: e.message, request_id: requestId });
    else {
      // A PostgreSQL error is the caller's to read (a name in use, a role that owns objects); its
      // SQLSTATE class 42/23/2B/55 means the request, anything else the server.
      const pgCode = (e as { code?: string }).code;
      const status = pgCode && /^(42|23|2B|55|22)/.test(pgCode) ? 409 : 500;
      send(status, {
        code: status === 409 ? 'CONFLICT' : 'INTERNAL_ERROR',
        message: `local mode: ${e instanceof Error ? e.message : String(e)}`,
        request_id: requestId,
      });
    }
  }
}
