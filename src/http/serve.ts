/**
 * `neon-mcp --http`: the same tools over Streamable HTTP, for a team sharing one server (or several
 * behind a load balancer). Loaded only in that mode (src/modes/http.ts imports it dynamically), so stdio start-up
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
 * - per-key state: each key (by its hash) has one tenant object holding its rate limiter, caches and
 *   SQL pools' tag (tenants.ts), at most `maxCallers` of them remembered;
 * - the body's size and JSON nesting checked as it arrives, before any parse (body.ts);
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
import { firstLine, type Logger } from '../log.js';
import { prepareServer } from '../server.js';
import { VERSION } from '../version.js';
import { type Authenticator, authenticator } from './auth.js';
import { MAX_JSON_DEPTH, readBody } from './body.js';
import { NarrowingError, narrowing, type ServerFlags } from './narrow.js';
import { MAX_TENANTS, type TenantState, Tenants } from './tenants.js';

interface HttpOptions {
  host: string;
  port: number;
  /** The server's flags (selection and settings); `client` is the server's own, used with `apiKey`. */
  server: ServerFlags;
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
  /** Deepest JSON nesting of a request body (default {@link MAX_JSON_DEPTH}); deeper is refused unparsed. */
  maxJsonDepth?: number;
  /** Callers (API keys) remembered at most (default {@link MAX_TENANTS}); least recently used go first. */
  maxCallers?: number;
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
function isLoopback(host: string): boolean {
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
  const tenants = new Tenants(opts.limits, Date.now, opts.maxCallers ?? MAX_TENANTS);
  const maxDepth = opts.maxJsonDepth ?? MAX_JSON_DEPTH;
  // Single-tenant: one client, as on stdio. Multi-tenant: a client per request, built in the factory.
  const ownClient = opts.apiKey
    ? new NeonClient({ ...opts.clientOptions, apiKey: opts.apiKey, limiter: tenants.ownLimiter() })
    : undefined;
  const secrets = [opts.apiKey, opts.token].filter((s): s is string => Boolean(s));
  const auth: Authenticator = authenticator({ apiKey: opts.apiKey, token: opts.token });
  // One prepared configuration per narrowing (a handful in practice): schemas are not rebuilt per request.
  const prepared = new Map<string, ReturnType<typeof prepareServer>>();
  const preparedFor = (server: ServerFlags, key: string) => {
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
    // Everything of the caller's own comes down through its client: the key, the tenant's limiter,
    // and (on the tenant) its caches and pool tag.
    if (!who.client || !ctx.authInfo?.token) return p.create();
    return p.createFor({ client: who.client, secrets: [ctx.authInfo.token] });
  };
  const mcp = createMcpHandler(factory, {
    maxRequestBodySize: opts.maxBodyBytes,
    onerror: (error) => opts.logger.info(`http: ${firstLine(error)}`),
  });

  // On loopback the names a client reaches it by: the SDK's (localhost, 127.0.0.1, [::1]) and the
  // address bound, which may be another of 127/8 (127.0.0.2): its own Host is never refused.
  const boundName = opts.host.includes(':') && !opts.host.startsWith('[') ? `[${opts.host}]` : opts.host;
  const loopbackNames = (names: string[]) => [...new Set([...names, boundName])];
  const allowedHosts =
    opts.allowedHosts ?? (loopback ? loopbackNames(localhostAllowedHostnames()) : undefined);
  // Browsers send Origin; MCP clients that are not browsers do not, and pass. A page on another site
  // is refused: on loopback (DNS rebinding) unless allowed, elsewhere unless listed.
  const allowedOrigins = [
    ...(loopback ? loopbackNames(localhostAllowedOrigins()) : []),
    ...(opts.allowedOrigins ?? []),
  ];
  let draining = false;

  const handle = async (
    request: Request,
    parsedBody: unknown,
    onDone: (release: () => void) => void,
  ): Promise<Response> => {
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
    if (!ownClient && authed.token) {
      // The caller's context, made once per key: held for this request, so the cap on remembered
      // callers never forgets it mid-call.
      const { tenant, release } = tenants.acquire(authed.token);
      onDone(release);
      caller.tenant = tenant;
      caller.client = new NeonClient({
        ...opts.clientOptions,
        apiKey: authed.token,
        limiter: tenant.limiter,
        tenant,
      });
    }
    const authInfo: AuthInfo = { ...authed, extra: caller as unknown as Record<string, unknown> };
    // The request's own signal aborts when the client goes away; the timeout is added to it. Either
    // cancels the call (its Neon requests and SQL statements) through the SDK's request signal.
    const signal = AbortSignal.any([request.signal, AbortSignal.timeout(opts.requestTimeoutMs)]);
    return mcp.fetch(new Request(request, { signal }), {
      authInfo,
      ...(parsedBody === undefined ? {} : { parsedBody }),
    });
  };

  let inFlight = 0;
  const adapterOptions = {
    maxRequestBodySize: opts.maxBodyBytes,
    onerror: (error: Error) => opts.logger.error('http: request failed', firstLine(error)),
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    const releases: Array<() => void> = [];
    res.on('close', () => {
      inFlight--;
      for (const release of releases.splice(0)) release();
      if (draining && inFlight === 0) idle?.();
    });
    const nodeHandler = toNodeHandler(
      { fetch: (request, extra) => handle(request, extra?.parsedBody, (r) => releases.push(r)) },
      adapterOptions,
    );
    void serveOne(req, res, nodeHandler);
  });

  /**
   * A body for /mcp is read here, its size and nesting checked chunk by chunk, and parsed only once
   * both hold (parsing then costs milliseconds); everything else (GET /healthz, the SSE stream) goes
   * straight to the handler and never waits behind a parse.
   */
  const serveOne = async (
    req: IncomingMessage,
    res: ServerResponse,
    nodeHandler: ReturnType<typeof toNodeHandler>,
  ) => {
    if (req.method !== 'POST' || !/^\/mcp(\?|$)/.test(req.url ?? '')) return nodeHandler(req, res);
    let read: Awaited<ReturnType<typeof readBody>>;
    try {
      read = await readBody(req, { maxBytes: opts.maxBodyBytes, maxDepth });
    } catch {
      // The client went away mid-body: nobody to answer.
      res.destroy();
      return;
    }
    if ('refused' in read) return rpcError(res, read.refused.status, read.refused.code, read.refused.message);
    if (read.body.byteLength === 0) return nodeHandler(req, res, undefined);
    let parsed: unknown;
    try {
      parsed = JSON.parse(read.body.toString('utf8'));
    } catch {
      return rpcError(res, 400, -32700, 'Parse error: the request body is not JSON.');
    }
    return nodeHandler(req, res, parsed);
  };
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

/**
 * One request's caller, as the factory needs it (carried in the SDK's pass-through authInfo): the
 * configuration as narrowed by its URL and, when it brings its own key, its tenant (limiter, caches,
 * pool tag) and a client made for that key and tenant.
 */
interface Caller {
  server: ServerFlags;
  narrowKey: string;
  tenant?: TenantState;
  client?: NeonClient;
}

/** A JSON-RPC error answered before the SDK sees the request; the connection is not reused. */
function rpcError(res: ServerResponse, status: number, code: number, message: string): void {
  const body = JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null });
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  res.end(body);
}

function plain(status: number, message: string): Response {
  return Response.json({ error: message }, { status });
}
