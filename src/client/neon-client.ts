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
  NeonRedirectError,
  NeonResponseTooLargeError,
  NeonTimeoutError,
  type RequestInfo,
} from './errors.js';
import { emitEvent } from './events.js';
import type { components } from './neon-api.gen.js';
import { RateLimiter, type Release } from './rate-limiter.js';
import { redactor } from './redact.js';

export type { Answer, Body, HttpMethod, PathParams, Route, RouteFor };

/** Neon's schemas, generated from the OpenAPI description. */
export type Schemas = components['schemas'];
export const DEFAULT_API_URL = 'https://console.neon.tech/api/v2';
/** Neon's answers are read up to this many bytes (8 MiB); a longer one is refused, not buffered. */
const DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024;
/** Of an error answer only the message matters: the rest of a longer body is not read. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

export interface NeonClientOptions {
  /** The Neon API key; without it every request fails with {@link MissingApiKeyError}. */
  apiKey?: string;
  /** Base URL of the API, up to and including `/api/v2`. */
  baseUrl?: string;
  /** Timeout of one HTTP attempt in milliseconds, headers and body together (default 30 s). */
  timeoutMs?: number;
  /** Longest answer read, in bytes (default {@link DEFAULT_MAX_RESPONSE_BYTES}). */
  maxResponseBytes?: number;
  /** Retries after the first attempt for retryable failures (default 4). */
  retries?: number;
  /** First retry delay in milliseconds; doubles each time, with full jitter (default 300). */
  retryDelayMs?: number;
  /** Upper bound for one retry delay, including a server's `Retry-After` (default 20 s). */
  maxRetryDelayMs?: number;
  /** Shared rate limiter; by default Neon's documented limits. */
  limiter?: RateLimiter;
  /**
   * Whose key this client uses. Caches and SQL connection pools are kept per tenant and never shared
   * between two; clients made for the same key (one per HTTP request) pass the same tenant. By default
   * every client is its own tenant.
   */
  tenant?: Tenant;
  /** The fetch implementation (tests and benchmarks may pass their own). */
  fetch?: typeof fetch;
  userAgent?: string;
}

/** The owner of a key, for per-key state (see {@link NeonClientOptions.tenant}). */
export interface Tenant {
  /** Stable and not secret (a hash of the key, or a random ID): used in cache and pool keys. */
  readonly id: string;
}

type QueryValue = string | number | boolean | readonly (string | number)[] | undefined | null;

export interface RequestOptions<R extends Route = Route, B = unknown> {
  /** Values for the `{placeholders}` of the route; each is URL-encoded as one path segment. */
  path?: PathParams<R>;
  query?: Record<string, QueryValue>;
  /** The JSON body, typed from the route and method. */
  body?: B;
  signal?: AbortSignal;
}

/** A request whose body or answer is not JSON (multipart uploads, object downloads). */
interface RawRequestOptions<R extends Route = Route> extends Omit<RequestOptions<R>, 'body'> {
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

/**
 * GET may be retried on anything transient; a write only on answers that mean Neon did not process it
 * (429 rate limited, 423 locked). A 503 is not one of them: Neon (or a proxy in front of it) can answer
 * 503 after the change was applied, and sending it again made duplicates (issue 10).
 */
const RETRY_STATUS: Record<'read' | 'write', number[]> = {
  read: [429, 500, 502, 503, 504],
  write: [423, 429],
};
/**
 * Connection errors that prove the request never left this machine, so even a write may be retried:
 * no connection (refused, no route, no name, connect timeout) or a TLS handshake that failed on the
 * certificate, which happens before any byte of the request is sent.
 */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * A small client for the Neon API v2: bearer auth, typed errors, retries that never repeat a write
 * that might have been applied, a shared rate limiter, and cursor pagination. Knows nothing of MCP.
 */
export class NeonClient {
  readonly baseUrl: string;
  readonly hasApiKey: boolean;
  readonly limiter: RateLimiter;
  readonly tenant: Tenant;
  private http: KyInstance | undefined;
  private readonly kyOptions: KyOptions;
  private readonly opts: Required<
    Pick<NeonClientOptions, 'timeoutMs' | 'retries' | 'retryDelayMs' | 'maxRetryDelayMs' | 'maxResponseBytes'>
  >;
  private readonly fetchImpl: typeof fetch | undefined;
  /** Error bodies are redacted before they are shortened, so a cut cannot leave part of the key. */
  private readonly redact: (text: string) => string;

  constructor(options: NeonClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? DEFAULT_API_URL).replace(/\/+$/, '');
    this.hasApiKey = Boolean(options.apiKey);
    this.limiter = options.limiter ?? new RateLimiter();
    this.tenant = options.tenant ?? { id: randomUUID() };
    this.opts = {
      timeoutMs: options.timeoutMs ?? 30_000,
      retries: options.retries ?? 4,
      retryDelayMs: options.retryDelayMs ?? 300,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 20_000,
      maxResponseBytes: options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
    };
    const apiKey = options.apiKey;
    this.fetchImpl = options.fetch;
    this.redact = redactor(apiKey ? [apiKey] : []);
    this.kyOptions = {
      prefixUrl: `${this.baseUrl}/`,
      // ky's timeout ends when the headers arrive; each attempt's fetch (attemptFetch) has its own,
      // covering the body too.
      timeout: false,
      // A redirect would re-send the request (body and key) wherever it points: never followed.
      redirect: 'manual',
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
    const response = await this.send(method, route, { ...rest, json: body, buffer: true });
    const text = await response.text();
    if (!text) return undefined as Answer<M, R>;
    try {
      return JSON.parse(text) as Answer<M, R>;
    } catch {
      // The API path as every other error names it (no base path such as /api/v2).
      const where = `${method} ${buildPath(route, (options.path ?? {}) as Record<string, string | number>)}`;
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
    options: RawRequestOptions & { json?: unknown; buffer?: boolean },
  ): Promise<Response> {
    const path = buildPath(route, (options.path ?? {}) as Record<string, string | number>);
    const info: RequestInfo = { method, route, path };
    if (!this.hasApiKey) throw new MissingApiKeyError();
    if (options.signal?.aborted) throw new NeonAbortedError(`${method} ${path}`);

    const kind = method === 'GET' ? 'read' : 'write';
    const signal = options.signal;
    const { default: ky, HTTPError } = await loadKy();
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
        fetch: attemptFetch({
          fetch: this.fetchImpl ?? globalThis.fetch,
          info,
          timeoutMs: this.opts.timeoutMs,
          maxBytes: this.opts.maxResponseBytes,
          buffer: options.buffer === true,
        }),
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
          shouldRetry: ({ error }: { error: Error }) => {
            // Cancelled, a redirect, an answer too large: trying again changes nothing.
            if (signal?.aborted || error instanceof NeonError) return false;
            // Reads are retried on any transient failure (a timeout or a reset mid-body included).
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
                  : error instanceof AttemptTimeout
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
      if (error instanceof AttemptTimeout) throw new NeonTimeoutError(info, this.opts.timeoutMs);
      const sent = notSentCode(error) || method === 'GET' ? 'no' : 'maybe';
      if (error instanceof BodyReadError) throw new NeonNetworkError(info, error.cause, sent, 'answer');
      throw new NeonNetworkError(info, error, sent);
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
    const body = await readErrorBody(response, this.redact);
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

/**
 * Whether fetch's error shows the request was never sent. The code sits on the cause (undici's
 * "fetch failed" wraps the socket error), or on each attempt of an AggregateError when several
 * addresses were tried (IPv4 and IPv6), which proves nothing was sent only if all of them say so.
 */
function notSentCode(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 4) return false;
  const { code, cause, errors } = error as { code?: unknown; cause?: unknown; errors?: unknown };
  if (Array.isArray(errors) && errors.length > 0) return errors.every((e) => notSentCode(e, depth + 1));
  if (typeof code === 'string' && NOT_SENT_CODES.has(code)) return true;
  return notSentCode(cause, depth + 1);
}

async function readErrorBody(
  response: Response,
  redact: (text: string) => string,
): Promise<{ code?: string; message?: string; request_id?: string }> {
  try {
    const text = await response.text();
    try {
      const json = JSON.parse(text);
      if (json && typeof json === 'object') {
        const message = typeof json.message === 'string' ? redact(json.message).slice(0, 2_000) : undefined;
        return { ...json, message };
      }
    } catch {
      // Not JSON: keep a short excerpt of the text as the message.
    }
    // Redacted first: cutting first could leave the start of the key (or of a password) in the excerpt.
    return { message: redact(text.trim()).slice(0, 300) || undefined };
  } catch {
    return {};
  }
}

/** The attempt's own timeout fired (headers or body): retried for reads, reported for writes. */
class AttemptTimeout extends Error {}
/** The connection failed after the answer began (a reset mid-body): a network error, not a bug. */
class BodyReadError extends Error {}

const NULL_BODY_STATUS = new Set([101, 204, 205, 304]);

/**
 * One attempt's fetch, as ky calls it (once per attempt, inside its retry loop). Hand-written because
 * ky's own timeout stops at the headers and ky reads bodies only after its retries are over: here one
 * timer covers the headers and the body, the body is read incrementally and refused past `maxBytes`,
 * and a redirect is refused naming its target. With `buffer` the whole body is read inside the attempt
 * (so a reset mid-body is retried like any failure of a GET); without it (raw downloads) the body is
 * handed on as a stream under the same timer and limit.
 */
function attemptFetch(o: {
  fetch: typeof fetch;
  info: RequestInfo;
  timeoutMs: number;
  maxBytes: number;
  buffer: boolean;
}): typeof fetch {
  return async (input, init) => {
    const request = input instanceof Request ? input : new Request(input, init);
    const timer = new AbortController();
    const timeout = setTimeout(() => timer.abort(new AttemptTimeout()), o.timeoutMs);
    const stop = () => clearTimeout(timeout);
    const signal = AbortSignal.any([request.signal, timer.signal]);
    /** The error to throw when reading failed: ours if our timer fired, else the network's. */
    const failure = (error: unknown, phase: 'headers' | 'body') => {
      stop();
      if (timer.signal.aborted) return timer.signal.reason as AttemptTimeout;
      if (request.signal.aborted || error instanceof NeonError) return error;
      return phase === 'body' ? new BodyReadError('reading the answer failed', { cause: error }) : error;
    };
    let res: Response;
    try {
      res = await o.fetch(request, { ...init, signal, redirect: 'manual' });
    } catch (error) {
      throw failure(error, 'headers');
    }
    if (res.status >= 300 && res.status < 400) {
      stop();
      await res.body?.cancel().catch(() => undefined);
      throw new NeonRedirectError(o.info, res.status, redirectTarget(res, request.url));
    }
    // An error answer is kept only as far as its message can matter.
    const max = res.ok ? o.maxBytes : MAX_ERROR_BODY_BYTES;
    const declared = Number(res.headers.get('content-length') ?? Number.NaN);
    // A raw download may be long on purpose: its reader takes what it needs and cancels the rest.
    if (o.buffer && res.ok && declared > max) {
      stop();
      await res.body?.cancel().catch(() => undefined);
      throw new NeonResponseTooLargeError(o.info, max, declared);
    }
    const init2 = { status: res.status, statusText: res.statusText, headers: res.headers };
    const reader = res.body?.getReader();
    if (!reader || NULL_BODY_STATUS.has(res.status)) {
      stop();
      return withUrl(new Response(null, init2), res.url);
    }
    let seen = 0;
    /** The next chunk, or `undefined` at the end; refuses (or, for errors, ends) past the limit. */
    const next = async (): Promise<Uint8Array | undefined> => {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        throw failure(error, 'body');
      }
      if (chunk.done) {
        stop();
        return undefined;
      }
      seen += chunk.value.length;
      if (seen <= max) return chunk.value;
      stop();
      await reader.cancel().catch(() => undefined);
      if (!res.ok) return chunk.value.subarray(0, chunk.value.length - (seen - max));
      throw new NeonResponseTooLargeError(o.info, max);
    };
    if (o.buffer) {
      const chunks: Uint8Array[] = [];
      for (let c = await next(); c; c = seen > max ? undefined : await next()) chunks.push(c);
      return withUrl(new Response(new Blob(chunks as BlobPart[]), init2), res.url);
    }
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const c = await next();
          if (c) controller.enqueue(c);
          if (!c || seen > max) controller.close();
        } catch (error) {
          // Outside ky's retries now: the caller gets the same errors a buffered answer would give.
          controller.error(
            error instanceof AttemptTimeout
              ? new NeonTimeoutError(o.info, o.timeoutMs)
              : error instanceof BodyReadError
                ? new NeonNetworkError(
                    o.info,
                    error.cause,
                    o.info.method === 'GET' ? 'no' : 'maybe',
                    'answer',
                  )
                : request.signal.aborted
                  ? new NeonAbortedError(`${o.info.method} ${o.info.path}`)
                  : error,
          );
        }
      },
      cancel(reason) {
        stop();
        return reader.cancel(reason);
      },
    });
    return withUrl(new Response(body, init2), res.url);
  };
}

/** A rebuilt response keeps the URL it was fetched from (error messages name its path). */
function withUrl(response: Response, url: string): Response {
  Object.defineProperty(response, 'url', { value: url });
  return response;
}

/** Where a redirect points, without its query or credentials (they could carry tokens). */
function redirectTarget(res: Response, base: string): string {
  const location = res.headers.get('location');
  if (!location) return '(no Location header)';
  try {
    const url = new URL(location, base);
    return `${url.origin}${url.pathname}`;
  } catch {
    return '(an invalid Location header)';
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
