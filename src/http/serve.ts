/**
 * `neon-mcp --http`: the same tools over Streamable HTTP, for a team sharing one server (or several
 * behind a load balancer). Loaded only in that mode (cli.ts imports it dynamically), so stdio start-up
 * pays nothing for it.
 *
 * The MCP side is the SDK's: `createMcpHandler` answers 2026-07-28 requests statelessly (a server
 * instance per request) and older clients' `initialize` exchanges through its stateless legacy
 * fallback; `toNodeHandler` adapts it to node:http (body size limit included); the SDK's Host/Origin
 * checks and bearer helpers guard it. What is neon-mcp's own, in front of that:
 *
 * - whose key: each request's `Authorization: Bearer <Neon API key>` (nothing stored), or, for a
 *   server started with its own key, an access token of the server's (auth.ts);
 * - narrowing per connection from the URL's query (narrow.ts), never widening the server's flags;
 * - per-key state: each key (by its hash) has its own rate limiter, caches and SQL pools (tenants.ts);
 * - a per-request timeout, `GET /healthz`, and a bounded drain on SIGTERM.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { toNodeHandler } from '@modelcontextprotocol/node';
import {
  type AuthInfo,
  createMcpHandler,
  hostHeaderValidationResponse,
  localhostAllowedHostnames,
  localhostAllowedOrigins,
  type McpRequestContext,
  originValidationResponse,
} from '@modelcontextprotocol/server';
import { NeonClient, type NeonClientOptions } from '../client/neon-client.js';
import type { RateLimits } from '../client/rate-limiter.js';
import type { Logger } from '../log.js';
import { prepareServer, type ServerOptions } from '../server.js';
import { VERSION } from '../version.js';
import { type Authenticator, authenticator } from './auth.js';
import { NarrowingError, narrowing } from './narrow.js';
import { Tenants } from './tenants.js';

export interface HttpOptions {
  host: string;
  port: number;
  /** The server's flags (selection and settings); `client` is the server's own, used with `apiKey`. */
  server: Omit<ServerOptions, 'client' | 'logger' | 'secrets'>;
  /** The server's own Neon key (single-tenant); without one each request brings its own. */
  apiKey?: string;
  /** Required from clients of a single-tenant server (optional on a loopback bind only). */
  token?: string;
  /** The Neon client's other options (base URL, user agent; tests add their fetch). */
  clientOptions: Omit<NeonClientOptions, 'apiKey' | 'limiter' | 'tenant'>;
  /** Each key's rate limits on this instance (Neon's, or this instance's share of them). */
  limits: RateLimits;
  /** Origins (host names, or `scheme://*`) allowed besides loopback ones on a loopback bind. */
  allowedOrigins?: string[];
  /** Host header names allowed; default: loopback names on a loopback bind, anything otherwise. */
  allowedHosts?: string[];
  /** Longest request body read, in bytes. */
  maxBodyBytes: number;
  /** A request still unanswered after this long is cancelled. */
  requestTimeoutMs: number;
  logger: Logger;
}

export interface HttpServer {
  /** `http://host:port` as bound (the real port when 0 was asked for). */
  url: string;
  server: Server;
  tenants: Tenants;
  /** Requests being answered now. */
  readonly inFlight: number;
  /**
   * Stops accepting, lets requests in flight finish for up to `graceMs`, then cancels the rest
   * (their callers get an error) and closes the listener.
   */
  close(graceMs: number): Promise<void>;
}

/** Loopback binds: the only ones where the server may run without any credentials of its own. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
}

export async function startHttpServer(opts: HttpOptions): Promise<HttpServer> {
  const loopback = isLoopback(opts.host);
  if (opts.apiKey && !opts.token && !loopback) {
    throw new Error(
      `--http on ${opts.host} with the server's own API key needs --http-token (or NEON_MCP_HTTP_TOKEN): ` +
        'anyone who can reach it would otherwise use that key.',
    );
  }
  const tenants = new Tenants(opts.limits);
  // Single-tenant: one client, as on stdio. Multi-tenant: a client per request, built in the factory.
  const ownClient = opts.apiKey
    ? new NeonClient({ ...opts.clientOptions, apiKey: opts.apiKey, limiter: tenants.ownLimiter() })
    : undefined;
  const secrets = [opts.apiKey, opts.token].filter((s): s is string => Boolean(s));
  const auth: Authenticator = authenticator({ apiKey: opts.apiKey, token: opts.token });
  // One prepared configuration per narrowing (a handful in practice): schemas are not rebuilt per request.
  const prepared = new Map<string, ReturnType<typeof prepareServer>>();
  const preparedFor = (server: HttpOptions['server'], key: string) => {
    let p = prepared.get(key);
    if (!p) {
      if (prepared.size >= 64) prepared.delete(prepared.keys().next().value as string);
      p = prepareServer({
        ...server,
        client: ownClient ?? new NeonClient({ ...opts.clientOptions }),
        secrets,
        logger: opts.logger,
      });
      prepared.set(key, p);
    }
    return p;
  };
  // Fail at start-up, not on the first request, when the flags themselves are wrong.
  preparedFor(opts.server, '');

  const factory = (ctx: McpRequestContext) => {
    const who = ctx.authInfo?.extra as Caller | undefined;
    if (!who) throw new Error('neon-mcp: a request reached the MCP handler without its caller.');
    const p = preparedFor(who.server, who.narrowKey);
    if (ownClient || !ctx.authInfo?.token) return p.create();
    const key = ctx.authInfo.token;
    const tenant = tenants.get(key);
    const client = new NeonClient({ ...opts.clientOptions, apiKey: key, limiter: tenant.limiter, tenant });
    return p.createFor({ client, secrets: [key] });
  };
  const mcp = createMcpHandler(factory, {
    maxRequestBodySize: opts.maxBodyBytes,
    onerror: (error) => opts.logger.info(`http: ${firstLine(error)}`),
  });

  const allowedHosts = opts.allowedHosts ?? (loopback ? localhostAllowedHostnames() : undefined);
  // Browsers send Origin; MCP clients that are not browsers do not, and pass. A page on another site
  // is refused: on loopback (DNS rebinding) unless allowed, elsewhere unless listed.
  const allowedOrigins = [...(loopback ? localhostAllowedOrigins() : []), ...(opts.allowedOrigins ?? [])];
  let draining = false;

  const handle = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    if (url.pathname === '/healthz') {
      if (request.method !== 'GET' && request.method !== 'HEAD') return plain(405, 'Method not allowed.');
      // A draining instance says so, so that a load balancer's health check stops sending to it.
      return Response.json(
        { status: draining ? 'draining' : 'ok', version: VERSION },
        { status: draining ? 503 : 200 },
      );
    }
    if (url.pathname !== '/mcp') return plain(404, 'Not found: MCP is served on /mcp.');
    const rejected =
      (allowedHosts ? hostHeaderValidationResponse(request, allowedHosts) : undefined) ??
      originValidationResponse(request, allowedOrigins);
    if (rejected) return rejected;
    if (draining)
      return plain(503, 'This instance is shutting down; try again (another instance will answer).');
    const authed = await auth(request);
    if (authed instanceof Response) return authed;
    let narrowed: ReturnType<typeof narrowing>;
    try {
      narrowed = narrowing(opts.server, url.searchParams);
    } catch (error) {
      if (error instanceof NarrowingError) return plain(error.status, error.message);
      throw error;
    }
    const caller: Caller = { server: narrowed.server, narrowKey: narrowed.key };
    const authInfo: AuthInfo = { ...authed, extra: caller as unknown as Record<string, unknown> };
    // The request's own signal aborts when the client goes away; the timeout is added to it. Either
    // cancels the call (its Neon requests and SQL statements) through the SDK's request signal.
    const signal = AbortSignal.any([request.signal, AbortSignal.timeout(opts.requestTimeoutMs)]);
    return mcp.fetch(new Request(request, { signal }), { authInfo });
  };

  let inFlight = 0;
  const nodeHandler = toNodeHandler(
    { fetch: handle },
    {
      maxRequestBodySize: opts.maxBodyBytes,
      onerror: (error) => opts.logger.error('http: request failed', firstLine(error)),
    },
  );
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    res.on('close', () => {
      inFlight--;
      if (draining && inFlight === 0) idle?.();
    });
    void nodeHandler(req, res);
  });
  // A request that trickles in is given up on: headers and body must arrive within a minute (the
  // SDK reads the body whole before anything else). The answer then has --http-timeout.
  server.requestTimeout = Math.min(60_000, opts.requestTimeoutMs);
  server.headersTimeout = Math.min(60_000, opts.requestTimeoutMs);
  let idle: (() => void) | undefined;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host.replace(/^\[|\]$/g, ''), () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${hostPart}:${address.port}`,
    server,
    tenants,
    get inFlight() {
      return inFlight;
    },
    async close(graceMs: number) {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive connections with no request are closed now; the others after their answer.
      server.closeIdleConnections();
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          idle = resolve;
          setTimeout(resolve, graceMs).unref();
        });
      }
      // Whatever is still running is cancelled: the SDK answers its callers with an error.
      await mcp.close().catch(() => undefined);
      server.closeAllConnections();
      await closed;
    },
  };
}

/** What the factory needs to know of a request's caller (carried in the SDK's pass-through authInfo). */
interface Caller {
  server: HttpOptions['server'];
  narrowKey: string;
}

function plain(status: number, message: string): Response {
  return Response.json({ error: message }, { status });
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const line = text.split('\n', 1)[0] ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}
