import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { KyInstance, Options as KyOptions } from 'ky';
import type { Answer, Body, HttpMethod, PathParams, Route, RouteFor } from './api-types.js';
import {
  InvalidArgumentError,
  MissingApiKeyError,
  NeonAbortedError,
  NeonApiError,
  NeonError,
  NeonNetworkError,
  NeonTimeoutError,
  type RequestInfo,
} from './errors.js';
import { emitEvent } from './events.js';
import type { components } from './neon-api.gen.js';
import { RateLimiter, type Release } from './rate-limiter.js';

export type { Answer, Body, HttpMethod, PathParams, Route, RouteFor };

/** Neon's schemas, generated from the OpenAPI description. */
export type Schemas = components['schemas'];
/** Neon's named responses (e.g. `CreatedBranch`), generated from the OpenAPI description. */
export type ResponseBody<N extends keyof components['responses']> = components['responses'][N] extends {
  content: { 'application/json': infer B };
}
  ? B
  : never;

export const DEFAULT_API_URL = 'https://console.neon.tech/api/v2';

export interface NeonClientOptions {
  /** The Neon API key; without it every request fails with {@link MissingApiKeyError}. */
  apiKey?: string;
  /** Base URL of the API, up to and including `/api/v2`. */
  baseUrl?: string;
  /** Timeout of one HTTP attempt in milliseconds (default 30 s). */
  timeoutMs?: number;
  /** Retries after the first attempt for retryable failures (default 4). */
  retries?: number;
  /** First retry delay in milliseconds; doubles each time, with full jitter (default 300). */
  retryDelayMs?: number;
  /** Upper bound for one retry delay, including a server's `Retry-After` (default 20 s). */
  maxRetryDelayMs?: number;
  /** Shared rate limiter; by default Neon's documented limits. */
  limiter?: RateLimiter;
  /** The fetch implementation (tests and benchmarks may pass their own). */
  fetch?: typeof fetch;
  userAgent?: string;
}

export type QueryValue = string | number | boolean | readonly (string | number)[] | undefined | null;

export interface RequestOptions<R extends Route = Route, B = unknown> {
  /** Values for the `{placeholders}` of the route; each is URL-encoded as one path segment. */
  path?: PathParams<R>;
  query?: Record<string, QueryValue>;
  /** The JSON body, typed from the route and method. */
  body?: B;
  signal?: AbortSignal;
}

/** A request whose body or answer is not JSON (multipart uploads, object downloads). */
export interface RawRequestOptions<R extends Route = Route> extends Omit<RequestOptions<R>, 'body'> {
  /** Sent as is (e.g. a `FormData`); its content type follows from it. */
  body?: BodyInit;
  /** The `accept` header (default `application/json`). */
  accept?: string;
  /** Statuses answered as a response rather than thrown (e.g. a 404 that means "not enabled"). */
  pass?: number[];
}

/**
 * Where writes that Neon accepted are noted, for whoever runs code inside `acceptedWrites.run(list, …)`:
 * a caller that fails after such a write can say that the change may already have been applied.
 */
export const acceptedWrites = new AsyncLocalStorage<string[]>();

/** ky is loaded on the first request, not at start-up. */
let kyModule: Promise<typeof import('ky')> | undefined;
const loadKy = () => {
  kyModule ??= import('ky');
  return kyModule;
};

/** GET may be retried on anything transient; a write only where Neon guarantees nothing happened. */
const RETRY_STATUS: Record<'read' | 'write', number[]> = {
  read: [429, 500, 502, 503, 504],
  write: [423, 429, 503],
};
/** Connection errors that prove the request never left this machine, so even a write may be retried. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);

/**
 * A small client for the Neon API v2: bearer auth, typed errors, retries that never repeat a write
 * that might have been applied, a shared rate limiter, and cursor pagination. Knows nothing of MCP.
 */
export class NeonClient {
  readonly baseUrl: string;
  readonly hasApiKey: boolean;
  readonly limiter: RateLimiter;
  private http: KyInstance | undefined;
  private readonly kyOptions: KyOptions;
  private readonly opts: Required<
    Pick<NeonClientOptions, 'timeoutMs' | 'retries' | 'retryDelayMs' | 'maxRetryDelayMs'>
  >;

  constructor(options: NeonClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? DEFAULT_API_URL).replace(/\/+$/, '');
    this.hasApiKey = Boolean(options.apiKey);
    this.limiter = options.limiter ?? new RateLimiter();
    this.opts = {
      timeoutMs: options.timeoutMs ?? 30_000,
      retries: options.retries ?? 4,
      retryDelayMs: options.retryDelayMs ?? 300,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 20_000,
    };
    const apiKey = options.apiKey;
    this.kyOptions = {
      prefixUrl: `${this.baseUrl}/`,
      timeout: this.opts.timeoutMs,
      fetch: options.fetch,
      throwHttpErrors: true,
      headers: {
        accept: 'application/json',
        'user-agent': options.userAgent ?? 'neon-mcp',
        ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
      },
    };
  }

  // Answers are typed from the route and method (api-types.ts), never from a type the caller supplies.
  get<R extends RouteFor<'GET'>>(route: R, options?: RequestOptions<R, never>): Promise<Answer<'GET', R>> {
    return this.request('GET', route, options);
  }
  post<R extends RouteFor<'POST'>>(
    route: R,
    options?: RequestOptions<R, Body<'POST', R>>,
  ): Promise<Answer<'POST', R>> {
    return this.request('POST', route, options);
  }
  patch<R extends RouteFor<'PATCH'>>(
    route: R,
    options?: RequestOptions<R, Body<'PATCH', R>>,
  ): Promise<Answer<'PATCH', R>> {
    return this.request('PATCH', route, options);
  }
  put<R extends RouteFor<'PUT'>>(
    route: R,
    options?: RequestOptions<R, Body<'PUT', R>>,
  ): Promise<Answer<'PUT', R>> {
    return this.request('PUT', route, options);
  }
  delete<R extends RouteFor<'DELETE'>>(
    route: R,
    options?: RequestOptions<R, Body<'DELETE', R>>,
  ): Promise<Answer<'DELETE', R>> {
    return this.request('DELETE', route, options);
  }

  /** Sends one request (with retries where safe) and returns the parsed JSON body. */
  async request<M extends HttpMethod, R extends RouteFor<M>>(
    method: M,
    route: R,
    options: RequestOptions<R, Body<M, R>> = {},
  ): Promise<Answer<M, R>> {
    const { body, ...rest } = options;
    const response = await this.send(method, route, { ...rest, json: body });
    const text = await response.text();
    if (!text) return undefined as Answer<M, R>;
    try {
      return JSON.parse(text) as Answer<M, R>;
    } catch {
      const where = `${method} ${response.url ? new URL(response.url).pathname : route}`;
      throw new NeonError(
        method === 'GET'
          ? `${where} returned a body that is not valid JSON (HTTP ${response.status}). The Neon API may be having trouble; try again later.`
          : `${where} was accepted by Neon (HTTP ${response.status}) but its answer is not valid JSON. The change may have ` +
              'been applied: check the resource (list or get it) before trying again.',
      );
    }
  }

  /**
   * Sends one request whose body or answer is not JSON, with the same auth, rate limiting, retries
   * and errors as {@link request}; returns the response for the caller to read.
   */
  sendRaw<R extends Route>(
    method: HttpMethod,
    route: R,
    options: RawRequestOptions<R> = {},
  ): Promise<Response> {
    return this.send(method, route, options);
  }

  private async send(
    method: HttpMethod,
    route: Route,
    options: RawRequestOptions & { json?: unknown },
  ): Promise<Response> {
    const path = buildPath(route, (options.path ?? {}) as Record<string, string | number>);
    const info: RequestInfo = { method, route, path };
    if (!this.hasApiKey) throw new MissingApiKeyError();
    if (options.signal?.aborted) throw new NeonAbortedError(`${method} ${path}`);

    const kind = method === 'GET' ? 'read' : 'write';
    const signal = options.signal;
    const { default: ky, HTTPError, TimeoutError } = await loadKy();
    this.http ??= ky.create(this.kyOptions);
    const pass = options.pass;
    let attempts = 0;
    // Rate-limiter slots of attempts whose answer has not arrived yet.
    const open: Release[] = [];
    const answered = () => {
      for (const release of open.splice(0)) release();
    };
    try {
      const response = await this.http(path.slice(1), {
        method,
        searchParams: buildQuery(options.query),
        json: options.json,
        body: options.body,
        signal,
        headers: { 'x-request-id': randomUUID(), ...(options.accept ? { accept: options.accept } : {}) },
        throwHttpErrors: pass ? (status: number) => !pass.includes(status) : true,
        retry: {
          limit: this.opts.retries,
          methods: [method.toLowerCase() as 'get'],
          statusCodes: RETRY_STATUS[kind],
          afterStatusCodes: RETRY_STATUS[kind],
          maxRetryAfter: this.opts.maxRetryDelayMs,
          backoffLimit: this.opts.maxRetryDelayMs,
          delay: (n) => this.opts.retryDelayMs * 2 ** (n - 1),
          jitter: true,
          retryOnTimeout: kind === 'read',
          shouldRetry: ({ error }: { error: Error }) => {
            if (kind === 'read' || error instanceof HTTPError) return undefined;
            // A write whose connection failed: retry only when it provably never left.
            return notSentCode(error) ? undefined : false;
          },
        },
        hooks: {
          beforeRequest: [
            async () => {
              attempts++;
              // Every attempt, retries included, waits for the shared rate limiter.
              open.push(await this.limiter.acquire(`${method} ${route}`, signal));
            },
          ],
          afterResponse: [answered],
          beforeRetry: [
            ({ error, retryCount }: { error: Error; retryCount: number }) => {
              const cause =
                error instanceof HTTPError
                  ? `HTTP ${error.response.status}`
                  : error instanceof TimeoutError
                    ? `no answer within ${this.opts.timeoutMs} ms`
                    : `a network error (${(error as { cause?: { code?: string } }).cause?.code ?? error.name})`;
              emitEvent({
                level: 'warning',
                kind: 'retry',
                message: `Retrying ${method} ${path} (retry ${retryCount} of ${this.opts.retries}) after ${cause}.`,
              });
            },
          ],
        },
      });
      if (method !== 'GET' && response.ok) acceptedWrites.getStore()?.push(`${method} ${path}`);
      return response;
    } catch (error) {
      if (error instanceof NeonError) throw error;
      if (signal?.aborted) throw new NeonAbortedError(`${info.method} ${info.path}`);
      if (error instanceof HTTPError) throw await this.apiError(error.response, info, attempts);
      if (error instanceof TimeoutError) throw new NeonTimeoutError(info, this.opts.timeoutMs);
      throw new NeonNetworkError(info, error, notSentCode(error) || method === 'GET' ? 'no' : 'maybe');
    } finally {
      answered();
    }
  }

  /**
   * Fetches every page of a cursor-paginated list and concatenates `itemsKey`. Neon returns the next
   * cursor as `pagination.next` (branches) or `pagination.cursor` (projects, operations).
   */
  async listAll<R extends RouteFor<'GET'>, K extends ListKey<R>>(
    route: R,
    itemsKey: K,
    options: RequestOptions<R, never> & { pageSize?: number; maxItems?: number } = {},
  ): Promise<ListItem<R, K>[]> {
    const pageSize = options.pageSize ?? 100;
    const maxItems = options.maxItems ?? 10_000;
    const items: ListItem<R, K>[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = (await this.get(route, {
        ...options,
        query: { ...options.query, limit: pageSize, cursor },
      })) as Record<string, unknown>;
      const batch = (page[itemsKey] as ListItem<R, K>[] | undefined) ?? [];
      items.push(...batch);
      const next = nextCursor(page);
      if (!next || next === cursor || batch.length < pageSize || items.length >= maxItems) break;
      cursor = next;
    }
    return items.slice(0, maxItems);
  }

  private async apiError(response: Response, info: RequestInfo, attempts: number): Promise<NeonApiError> {
    const body = await readErrorBody(response);
    return new NeonApiError({
      ...info,
      status: response.status,
      code: body.code,
      neonMessage: body.message,
      requestId: body.request_id ?? response.headers.get('x-neon-ret-request-id') ?? undefined,
      attempts,
    });
  }
}

/** The keys of a GET answer that hold a list. */
type ListKey<R extends RouteFor<'GET'>> = {
  [K in keyof Answer<'GET', R>]-?: NonNullable<Answer<'GET', R>[K]> extends readonly unknown[] ? K : never;
}[keyof Answer<'GET', R>] &
  string;
/** One item of the list under `K`. */
type ListItem<R extends RouteFor<'GET'>, K extends ListKey<R>> =
  NonNullable<Answer<'GET', R>[K]> extends readonly (infer I)[] ? I : never;

/** The cursor for the next page, if the response has one. */
export function nextCursor(page: Record<string, unknown>): string | undefined {
  const p = page.pagination as { next?: string; cursor?: string } | undefined;
  return p?.next || p?.cursor || undefined;
}

function notSentCode(error: unknown): boolean {
  const cause = (error as { cause?: { code?: string } })?.cause;
  return typeof cause?.code === 'string' && NOT_SENT_CODES.has(cause.code);
}

async function readErrorBody(
  response: Response,
): Promise<{ code?: string; message?: string; request_id?: string }> {
  try {
    const text = await response.text();
    try {
      const json = JSON.parse(text);
      if (json && typeof json === 'object') return json;
    } catch {
      // Not JSON: keep a short excerpt of the text as the message.
    }
    return { message: text.trim().slice(0, 300) || undefined };
  } catch {
    return {};
  }
}

/**
 * Fills a route's `{placeholders}`, one encoded segment each. Values that URL normalisation would
 * turn into path navigation (`.`, `..`) or that are empty are refused, so no argument can make a
 * request leave the API path it names.
 */
export function buildPath(route: string, params: Record<string, string | number>): string {
  return route.replace(/\{([a-z_]+)\}/g, (_, name: string) => {
    const raw = params[name];
    if (raw === undefined || raw === null)
      throw new InvalidArgumentError(`Missing required argument ${name}.`);
    const value = String(raw);
    if (value === '' || value === '.' || value === '..') {
      throw new InvalidArgumentError(`Argument ${name} must not be empty, "." or "..".`);
    }
    return encodeURIComponent(value);
  });
}

function buildQuery(query: RequestOptions['query']): URLSearchParams | undefined {
  if (!query) return undefined;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) for (const v of value) params.append(key, String(v));
    else params.append(key, String(value));
  }
  return params;
}
