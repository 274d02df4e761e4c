/**
 * The msw fake of the Neon API served two more ways than msw's interception:
 *
 * - over real loopback HTTP (`startMockHttpServer`: node:http on 127.0.0.1, a free port), for tests
 *   and benchmarks that run neon-mcp (or another MCP server) as a child process;
 * - as an in-process `fetch` (`MockNeonApi#fetch`), for tests that hand a `fetch` to `NeonClient`.
 *
 * Each request becomes a fetch `Request` on `BASE` and is answered by msw's `getResponse()` with, in
 * order: per-test handlers (`use()`), the handlers of every resource (the one list in index.ts, the
 * same `useMockApi` installs) and a catch-all 404, so no request is ever left unanswered. Optional:
 * Neon's rate limits (700/min overall, 40/s per route → 429 with `Retry-After`), a fault hook,
 * time-based operations and OpenAPI validation.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { getResponse, HttpResponse, http, type RequestHandler } from 'msw';
import { fakeHandlers } from './index.js';
import { BASE, type FakeOperation, NeonFake, neonError, publicOperation } from './neon-fake.js';
import { matchOperation, validateRequest } from './spec.js';

export { BASE, NeonFake, neonError };

const API_PREFIX = new URL(BASE).pathname; // "/api/v2"

/** One request as the mock saw it. */
export interface SeenRequest {
  method: string;
  /** The URL exactly as received (origin included). */
  url: string;
  /** The raw (still encoded) path relative to `/api/v2`; the full path when outside it. */
  path: string;
  /** Whether the path was under `/api/v2/`. */
  inApi: boolean;
  /** `METHOD /template` of the Neon operation it matched, when it matched one. */
  route: string | undefined;
  query: URLSearchParams;
  body: unknown;
  headers: Headers;
  /** `performance.now()` when it arrived. */
  at: number;
  /** The mock's clock (`now()`, Date.now by default) when it arrived. */
  arrivedAt: number;
  /** Status answered (0 for a dropped connection, undefined while pending or hanging). */
  status?: number;
}

/** What a fault hook may answer instead of the fake: a response, a dropped connection, no answer at all, or a delay before the normal answer. */
export type Fault = Response | 'drop' | 'hang' | { delayMs: number };
export type FaultHook = (request: SeenRequest) => Fault | undefined | Promise<Fault | undefined>;

export interface RateLimits {
  perMinute: number;
  perSecondPerRoute: number;
}
export const NEON_LIMITS: RateLimits = { perMinute: 700, perSecondPerRoute: 40 };

export interface MockApiOptions {
  fake?: NeonFake;
  /** Enforce Neon's limits (true) or custom ones; requests past them get 429 with `Retry-After`. */
  rateLimit?: boolean | RateLimits;
  /** Clock of the rate limiter and time-based operations (default `Date.now`). */
  now?: () => number;
  /** Called for every request before the fake answers it. */
  fault?: FaultHook;
  /** Check every request against the OpenAPI description; problems go to `violations`. */
  validate?: boolean;
  /**
   * Operations finish this many milliseconds after they were created (instead of after a number of
   * polls); `finishedAt` records when. A function gets the operation.
   */
  operationDurationMs?: number | ((op: FakeOperation) => number);
}

/** The sliding-window limits Neon documents, enforced on the server side. */
export class RateLimitEnforcer {
  private readonly global: number[] = [];
  private readonly routes = new Map<string, number[]>();
  constructor(
    readonly limits: RateLimits = NEON_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes a slot, or returns the seconds to wait before one frees up. */
  take(route: string): { ok: true } | { ok: false; retryAfterSec: number; why: string } {
    const t = this.now();
    prune(this.global, t - 60_000);
    let stamps = this.routes.get(route);
    if (!stamps) {
      stamps = [];
      this.routes.set(route, stamps);
    }
    prune(stamps, t - 1_000);
    if (this.global.length >= this.limits.perMinute) {
      return {
        ok: false,
        retryAfterSec: Math.max(1, Math.ceil((this.global[0] + 60_000 - t) / 1000)),
        why: `more than ${this.limits.perMinute} requests per minute`,
      };
    }
    if (stamps.length >= this.limits.perSecondPerRoute) {
      return {
        ok: false,
        retryAfterSec: Math.max(1, Math.ceil((stamps[0] + 1_000 - t) / 1000)),
        why: `more than ${this.limits.perSecondPerRoute} requests per second on ${route}`,
      };
    }
    this.global.push(t);
    stamps.push(t);
    return { ok: true };
  }
}

function prune(stamps: number[], before: number): void {
  let n = 0;
  while (n < stamps.length && stamps[n] <= before) n++;
  if (n > 0) stamps.splice(0, n);
}

/** Answers 404 for everything no other handler took, so nothing is ever unhandled. */
export const catchAll = http.all('*', ({ request }) =>
  neonError(
    404,
    `${request.method} ${new URL(request.url).pathname}: no such route in the mock`,
    'NOT_FOUND',
  ),
);

/** The fake Neon API as a request → response function, with recording, limits and faults. */
export class MockNeonApi {
  fake: NeonFake;
  requests: SeenRequest[] = [];
  violations: string[] = [];
  /** Operation id → time (`now()`) it finished, when `operationDurationMs` is set. */
  finishedAt = new Map<string, number>();
  /** Operation id → number of GETs it answered. */
  polls = new Map<string, number>();
  /** 429s sent because of the rate limits (not those of fault hooks). */
  limited = 0;
  fault: FaultHook | undefined;
  private runtime: RequestHandler[] = [];
  private handlers: RequestHandler[] = [];
  private limiter: RateLimitEnforcer | undefined;
  private readonly now: () => number;
  private readonly created = new Map<string, number>();

  constructor(private readonly options: MockApiOptions = {}) {
    this.now = options.now ?? Date.now;
    this.fault = options.fault;
    this.fake = this.prepareFake(options.fake ?? new NeonFake());
    this.setLimits(options.rateLimit);
    this.rebuild();
  }

  /** Turns rate limiting on (Neon's limits or custom ones) or off; resets the windows. */
  setLimits(limits: boolean | RateLimits | undefined): void {
    this.limiter = limits
      ? new RateLimitEnforcer(limits === true ? NEON_LIMITS : limits, this.now)
      : undefined;
  }

  /** Per-test handlers, tried before everything else. */
  use(...handlers: RequestHandler[]): void {
    this.runtime.unshift(...handlers);
    this.rebuild();
  }

  /** A fresh fake and no per-test handlers, requests or counters. */
  reset(fake: NeonFake = new NeonFake()): void {
    this.fake = this.prepareFake(fake);
    this.runtime = [];
    this.requests = [];
    this.violations = [];
    this.finishedAt.clear();
    this.polls.clear();
    this.created.clear();
    this.limited = 0;
    this.fault = this.options.fault;
    this.setLimits(this.options.rateLimit);
    this.rebuild();
  }

  /** Requests with this method whose path (relative to /api/v2) matches. */
  count(method: string, path: string | RegExp): number {
    return this.requests.filter(
      (r) => r.method === method && (typeof path === 'string' ? r.path === path : path.test(r.path)),
    ).length;
  }

  /** Requests that changed something (POST, PATCH, PUT, DELETE). */
  get writes(): SeenRequest[] {
    return this.requests.filter((r) => r.method !== 'GET' && r.method !== 'HEAD');
  }

  /** An in-process `fetch` answering from this mock (dropped connections reject like undici does). */
  readonly fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const answer = await this.handle(request);
    if (answer === 'drop') throw new TypeError('fetch failed', { cause: new Error('socket hang up') });
    if (answer === 'hang') {
      return new Promise<Response>((_, reject) => {
        const abort = () => reject(request.signal.reason ?? new DOMException('aborted', 'AbortError'));
        if (request.signal.aborted) abort();
        else request.signal.addEventListener('abort', abort, { once: true });
      });
    }
    return answer;
  };

  /** Answers one request: a response, `drop` (close the connection) or `hang` (never answer). */
  async handle(request: Request): Promise<Response | 'drop' | 'hang'> {
    const url = new URL(request.url);
    const inApi = url.pathname.startsWith(`${API_PREFIX}/`);
    const path = inApi ? url.pathname.slice(API_PREFIX.length) : url.pathname;
    const text = request.body ? await request.clone().text() : '';
    let body: unknown;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
        this.violations.push(`${request.method} ${path}: body is not JSON`);
      }
    }
    const match = inApi ? matchOperation(request.method, path) : undefined;
    const seen: SeenRequest = {
      method: request.method,
      url: request.url,
      path,
      inApi,
      route: match ? `${request.method} ${match.op.template}` : undefined,
      query: url.searchParams,
      body,
      headers: request.headers,
      at: performance.now(),
      arrivedAt: this.now(),
    };
    this.requests.push(seen);
    if (this.options.validate) {
      if (!inApi) this.violations.push(`${request.method} ${url.pathname}: outside ${API_PREFIX}`);
      else this.violations.push(...validateRequest(request.method, path, url.searchParams, body));
    }

    if (this.limiter) {
      const slot = this.limiter.take(seen.route ?? `${request.method} ${path}`);
      if (!slot.ok) {
        this.limited++;
        seen.status = 429;
        return HttpResponse.json(
          { code: 'TOO_MANY_REQUESTS', message: `rate limit exceeded: ${slot.why}`, request_id: 'req-429' },
          { status: 429, headers: { 'retry-after': String(slot.retryAfterSec) } },
        );
      }
    }

    const fault = this.fault ? await this.fault(seen) : undefined;
    if (fault === 'drop' || fault === 'hang') {
      if (fault === 'drop') seen.status = 0;
      return fault;
    }
    if (fault instanceof Response) {
      seen.status = fault.status;
      return fault;
    }
    if (fault) await new Promise((r) => setTimeout(r, fault.delayMs));

    // msw matches on the URL: hand it the request on BASE whatever origin it came to.
    const forMsw =
      url.origin === new URL(BASE).origin
        ? request
        : new Request(new URL(url.pathname + url.search, BASE), {
            method: request.method,
            headers: request.headers,
            body: text || undefined,
            signal: request.signal,
          });
    const response =
      (await getResponse(this.handlers, forMsw)) ?? neonError(404, 'no handler answered', 'NOT_FOUND');
    if (response.type === 'error') {
      seen.status = 0;
      return 'drop';
    }
    seen.status = response.status;
    return response;
  }

  private rebuild(): void {
    this.handlers = [
      ...this.runtime,
      ...(this.options.operationDurationMs !== undefined ? [this.timedOperations()] : []),
      ...fakeHandlers(this.fake),
      catchAll,
    ];
  }

  /** Records when each operation is created (for time-based completion). */
  private prepareFake(fake: NeonFake): NeonFake {
    const start = fake.startOperations.bind(fake);
    fake.startOperations = (projectId, actions) => {
      const ops = start(projectId, actions);
      const t = this.now();
      for (const op of ops) this.created.set(op.id, t);
      return ops;
    };
    return fake;
  }

  /** GET operation: finished once its duration has passed since creation, failed if told to fail. */
  private timedOperations(): RequestHandler {
    const duration = this.options.operationDurationMs!;
    return http.get(`${BASE}/projects/:project_id/operations/:operation_id`, ({ params }) => {
      const op = this.fake.operations.get(params.operation_id as string);
      if (!op || op.project_id !== params.project_id) return undefined;
      this.polls.set(op.id, (this.polls.get(op.id) ?? 0) + 1);
      if (op.status === 'running') {
        const due =
          (this.created.get(op.id) ?? this.now()) +
          (typeof duration === 'function' ? duration(op) : duration);
        if (this.now() >= due) {
          op.status = op.failWith ? 'failed' : 'finished';
          if (op.failWith) op.error = op.failWith;
          op.updated_at = new Date().toISOString();
          this.finishedAt.set(op.id, due);
        }
      }
      return HttpResponse.json({ operation: publicOperation(op) });
    });
  }
}

export interface MockHttpServer {
  api: MockNeonApi;
  /** `http://127.0.0.1:<port>/api/v2`: what NEON_API_URL should be. */
  baseUrl: string;
  /** `http://127.0.0.1:<port>`. */
  origin: string;
  close(): Promise<void>;
}

/** Serves a {@link MockNeonApi} on 127.0.0.1 (a free port). */
export async function startMockHttpServer(options: MockApiOptions = {}): Promise<MockHttpServer> {
  const api = new MockNeonApi(options);
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    serve(api, req, res).catch((error) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 'MOCK_ERROR', message: String(error) }));
      } else res.destroy();
    });
  });
  server.keepAliveTimeout = 30_000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    api,
    origin,
    baseUrl: `${origin}${API_PREFIX}`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function serve(api: MockNeonApi, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) headers.append(k, one);
  }
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  const request = new Request(`http://${req.headers.host ?? '127.0.0.1'}${req.url ?? '/'}`, {
    method: req.method,
    headers,
    body: body.length && req.method !== 'GET' && req.method !== 'HEAD' ? body : undefined,
    signal: controller.signal,
  });
  const answer = await api.handle(request);
  if (answer === 'drop') {
    req.socket.destroy();
    return;
  }
  if (answer === 'hang') return; // never answered; the client times out or aborts
  const out = Buffer.from(await answer.arrayBuffer());
  const outHeaders: Record<string, string> = {};
  answer.headers.forEach((v, k) => {
    outHeaders[k] = v;
  });
  outHeaders['content-length'] = String(out.length);
  res.writeHead(answer.status, outHeaders);
  res.end(out);
}
