/**
 * The client's requests, retries, pagination, answers and errors (src/client/neon-client.ts,
 * errors.ts, redact.ts), driven through the client's own `fetch` option: each test scripts what the
 * network answers (statuses, bodies in chunks, resets mid-body, connection errors with their codes,
 * redirects) and reads what was sent. Error texts are pinned whole, since an agent acts on them.
 * Delays are checked on a fake clock; nothing here waits on a wall-clock window.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type ClientEvent, clientEvents } from '../src/client/events.js';
import {
  acceptedWrites,
  DEFAULT_API_URL,
  InvalidArgumentError,
  isAccountedFor,
  MissingApiKeyError,
  markAccountedFor,
  NeonAbortedError,
  NeonApiError,
  NeonClient,
  type NeonClientOptions,
  NeonError,
  NeonNetworkError,
  NeonOperationCheckError,
  NeonOperationFailedError,
  NeonOperationTimeoutError,
  NeonRedirectError,
  NeonResponseTooLargeError,
  NeonTimeoutError,
  nextCursor,
  RateLimiter,
  type Release,
} from '../src/client/index.js';
import { base64Forms, REDACTED, redactor } from '../src/client/redact.js';

const BASE = 'http://neon.test/api/v2';
const KEY = 'napi_requests_test_key_0123456789abcdefXYZ';

interface Seen {
  method: string;
  url: string;
  headers: Headers;
  body: string;
}
/** What the network does with the n-th request (1-based): an answer, or a throw (a connection error). */
type Handler = (request: Request, n: number, signal: AbortSignal) => Response | Promise<Response>;

/** A fetch that records each request and answers it with `handler`, as undici would (with its URL). */
function fakeFetch(handler: Handler) {
  const seen: Seen[] = [];
  const fetch = (async (input: Parameters<typeof globalThis.fetch>[0], init?: RequestInit) => {
    const request = new Request(input, init);
    const signal = init?.signal ?? request.signal;
    seen.push({
      method: request.method,
      url: request.url,
      headers: request.headers,
      body: await request.text(),
    });
    const response = await handler(request, seen.length, signal);
    Object.defineProperty(response, 'url', { value: request.url });
    return response;
  }) as typeof globalThis.fetch;
  return { fetch, seen };
}

function client(handler: Handler, extra: NeonClientOptions = {}) {
  const { fetch, seen } = fakeFetch(handler);
  const c = new NeonClient({
    apiKey: KEY,
    baseUrl: BASE,
    fetch,
    retryDelayMs: 1,
    maxRetryDelayMs: 50,
    ...extra,
  });
  return { c, seen };
}

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

/** undici's "fetch failed", with the socket error (and its code) as the cause. */
function fetchFailed(code?: string, message = `connect ${code} 127.0.0.1:443`): TypeError {
  const socket = Object.assign(new Error(message), code ? { code } : {});
  return new TypeError('fetch failed', { cause: socket });
}

/**
 * A body delivered chunk by chunk; then it ends, fails (a reset mid-body), or stalls until the fetch's
 * signal aborts (as undici errors the body with the signal's reason).
 */
function body(
  chunks: (string | Uint8Array)[],
  end: 'close' | 'stall' | Error = 'close',
  signal?: AbortSignal,
  onCancel?: (reason: unknown) => void,
): ReadableStream<Uint8Array> {
  const queue = chunks.map((c) => (typeof c === 'string' ? new TextEncoder().encode(c) : c));
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = queue.shift();
      if (next) return controller.enqueue(next);
      if (end === 'close') return controller.close();
      if (end instanceof Error) return controller.error(end);
      return new Promise<void>((resolve) => {
        const fail = () => {
          controller.error(signal?.reason);
          resolve();
        };
        if (signal?.aborted) fail();
        else signal?.addEventListener('abort', fail, { once: true });
      });
    },
    cancel(reason) {
      onCancel?.(reason);
    },
  });
}

const reset = () => new TypeError('terminated', { cause: new Error('other side closed') });

/** Runs `fn` with a sink for the client's events; returns the events' messages with the result. */
async function withEvents<T>(fn: () => Promise<T>): Promise<{ result: T | Error; messages: string[] }> {
  const events: ClientEvent[] = [];
  const result = await clientEvents.run(
    (e) => events.push(e),
    () => fn().catch((e: Error) => e),
  );
  return { result, messages: events.map((e) => `${e.level} ${e.kind}: ${e.message}`) };
}

const fail = <T>(p: Promise<T>) =>
  p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as Error,
  );

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('errors: names and texts', () => {
  const get = { method: 'GET', route: '/projects', path: '/projects' };
  const post = { method: 'POST', route: '/projects', path: '/projects' };

  it('every error is a NeonError named after its class', () => {
    const op = { id: 'op-1', action: 'create_branch', status: 'failed', project_id: 'p-1' };
    const errors: [Error, string][] = [
      [new NeonError('x'), 'NeonError'],
      [new MissingApiKeyError(), 'MissingApiKeyError'],
      [new InvalidArgumentError('x'), 'InvalidArgumentError'],
      [new NeonApiError({ ...get, status: 500, attempts: 1 }), 'NeonApiError'],
      [new NeonNetworkError(get, new Error('x'), 'no'), 'NeonNetworkError'],
      [new NeonTimeoutError(get, 1), 'NeonTimeoutError'],
      [new NeonRedirectError(get, 302, 'x'), 'NeonRedirectError'],
      [new NeonResponseTooLargeError(get, 1), 'NeonResponseTooLargeError'],
      [new NeonAbortedError('x'), 'NeonAbortedError'],
      [new NeonOperationFailedError(op), 'NeonOperationFailedError'],
      [new NeonOperationCheckError([op], new Error('x')), 'NeonOperationCheckError'],
      [new NeonOperationTimeoutError([op], 1000), 'NeonOperationTimeoutError'],
    ];
    for (const [error, name] of errors) {
      expect(error).toBeInstanceOf(NeonError);
      expect(error.name).toBe(name);
    }
  });

  it('no key: says where to set one and where keys are made', () => {
    expect(new MissingApiKeyError().message).toBe(
      'No Neon API key is configured. Set the NEON_API_KEY environment variable (or pass --api-key) in the ' +
        'MCP client configuration of neon-mcp and restart the server. Keys are created in the Neon Console ' +
        'under Account settings > API keys.',
    );
  });

  it('network errors: unreachable or broken mid-answer, sent or maybe sent, the socket error as the reason', () => {
    const refused = fetchFailed('ECONNREFUSED');
    const a = new NeonNetworkError(get, refused, 'no');
    expect(a.message).toBe(
      'GET /projects failed: could not reach the Neon API (connect ECONNREFUSED 127.0.0.1:443). ' +
        'Check the network connection and NEON_API_URL, then try again.',
    );
    expect(a.cause).toBe(refused);
    expect(a.info).toEqual(get);
    expect(new NeonNetworkError(post, reset(), 'maybe', 'answer').message).toBe(
      'POST /projects failed: the connection to the Neon API broke while its answer was being read (other side closed). ' +
        'The request may have reached Neon: check the resource (list or get it) before trying again, so nothing is done twice.',
    );
    // Without a nested cause the error's own message; a non-error as text.
    expect(new NeonNetworkError(get, new Error('socket hang up'), 'no').message).toMatch(
      /^GET \/projects failed: could not reach the Neon API \(socket hang up\)\. /,
    );
    expect(new NeonNetworkError(get, 'boom', 'no', 'answer').message).toMatch(
      /^GET \/projects failed: the connection to the Neon API broke while its answer was being read \(boom\)\. Check/,
    );
  });

  it('timeouts: a read says try later, a write says check first', () => {
    expect(new NeonTimeoutError(get, 250).message).toBe(
      'GET /projects timed out after 250 ms. The Neon API is slow or unreachable; try again later.',
    );
    expect(new NeonTimeoutError(post, 250).message).toBe(
      'POST /projects timed out after 250 ms. The request may still complete on Neon: check the resource ' +
        '(list or get it) before trying again.',
    );
  });

  it('redirects: names the target, says why it is not followed; a write adds that nothing went there', () => {
    const r = new NeonRedirectError(get, 301, 'https://elsewhere.example/x');
    expect(r.message).toBe(
      'GET /projects was answered with a redirect (HTTP 301) to https://elsewhere.example/x, which neon-mcp ' +
        'does not follow: it would send the request and the API key there. Check NEON_API_URL (or --api-url): ' +
        'it must be the API base URL itself, ending in /api/v2.',
    );
    expect(r).toMatchObject({ status: 301, target: 'https://elsewhere.example/x', info: get });
    expect(new NeonRedirectError(post, 307, 'https://elsewhere.example/x').message).toMatch(
      /ending in \/api\/v2\. Nothing was sent to the redirect target\.$/,
    );
  });

  it('answers too large: with or without the announced size; a read asks for less, a write says check', () => {
    expect(new NeonResponseTooLargeError(get, 100, 5000).message).toBe(
      "GET /projects: Neon's answer is larger than neon-mcp reads (5000 bytes announced, limit 100 bytes), so it " +
        'was not read. Ask for less: a smaller limit, a filter, or one resource at a time.',
    );
    const w = new NeonResponseTooLargeError(post, 100);
    expect(w.message).toBe(
      "POST /projects: Neon's answer is larger than neon-mcp reads (limit 100 bytes), so it was not read. Neon " +
        'did accept the request, so the change may have been applied: check the resource (list or get it) before trying again.',
    );
    expect(w.limitBytes).toBe(100);
  });

  it('cancelled, and operations that failed, could not be checked, or are still running', () => {
    expect(new NeonAbortedError('GET /projects').message).toBe('GET /projects was cancelled by the client.');
    const op = { id: 'op-1', action: 'create_branch', status: 'failed', project_id: 'p-1' };
    expect(new NeonOperationFailedError({ ...op, error: 'disk full' }).message).toBe(
      'Neon operation op-1 (create_branch) ended with status "failed": disk full Inspect it with get_operation ' +
        '(project_id p-1, operation_id op-1).',
    );
    expect(new NeonOperationFailedError(op).message).toBe(
      'Neon operation op-1 (create_branch) ended with status "failed". Inspect it with get_operation ' +
        '(project_id p-1, operation_id op-1).',
    );
    const two = [
      { ...op, status: 'running' },
      { id: 'op-2', action: 'start_compute', status: 'scheduling', project_id: 'p-1' },
    ];
    const cause = new Error('HTTP 503');
    const check = new NeonOperationCheckError(two, cause);
    expect(check.message).toBe(
      'Neon accepted the change, but checking its progress failed (HTTP 503). It was most likely applied or is ' +
        'still running: op-1 (create_branch), op-2 (start_compute). Check with get_operation (project_id p-1) ' +
        'before trying anything again.',
    );
    expect(check.cause).toBe(cause);
    expect(check.pending).toBe(two);
    expect(new NeonOperationCheckError([], 'poll refused').message).toBe(
      'Neon accepted the change, but checking its progress failed (poll refused). It was most likely applied or is ' +
        'still running: . Check with get_operation (project_id undefined) before trying anything again.',
    );
    expect(new NeonOperationTimeoutError(two, 90_000).message).toBe(
      'Gave up waiting after 90 s; these Neon operations are still running: op-1 (create_branch, running), ' +
        'op-2 (start_compute, scheduling). The change was accepted by Neon and will most likely complete. ' +
        'Check later with get_operation (project_id p-1) before retrying anything.',
    );
    expect(new NeonOperationTimeoutError([], 1500).message).toBe(
      'Gave up waiting after 1500 ms; these Neon operations are still running: . The change was accepted by ' +
        'Neon and will most likely complete. Check later with get_operation (project_id undefined) before retrying anything.',
    );
  });

  it('marks errors accounted for; anything not an object is never marked', () => {
    const e = new Error('x');
    expect(markAccountedFor(e)).toBe(e);
    expect(isAccountedFor(e)).toBe(true);
    expect(isAccountedFor(new Error('y'))).toBe(false);
    for (const v of [null, undefined, 'text', 42, 0, '']) {
      expect(markAccountedFor(v)).toBe(v);
      expect(isAccountedFor(v)).toBe(false);
    }
  });
});

describe('NeonApiError: the message for each status', () => {
  const api = (status: number, extra: Partial<ConstructorParameters<typeof NeonApiError>[0]> = {}) =>
    new NeonApiError({
      method: 'GET',
      route: '/projects',
      path: '/projects',
      status,
      neonMessage: 'neon says',
      requestId: 'r-1',
      attempts: 1,
      ...extra,
    }).message;

  it('401 and 403 talk about the key', () => {
    expect(api(401)).toBe(
      'GET /projects failed with HTTP 401: neon says. The Neon API key was rejected. Check NEON_API_KEY (or ' +
        '--api-key) in the MCP client configuration: the key may be mistyped, revoked or expired. Create a new ' +
        'one in the Neon Console under Account settings > API keys. (request_id r-1)',
    );
    expect(api(403)).toBe(
      'GET /projects failed with HTTP 403: neon says. The API key is valid but not allowed to do this. Use a key ' +
        'with access to this project or organization (a personal or organization key rather than a ' +
        'project-scoped one), or ask an admin. (request_id r-1)',
    );
  });

  it('409, 422, 423 and 429 say what to do', () => {
    expect(api(409)).toBe(
      'GET /projects failed with HTTP 409: neon says. It conflicts with the current state (for example a name ' +
        'already in use). Pick another name or check the current state. (request_id r-1)',
    );
    expect(api(422)).toBe(
      'GET /projects failed with HTTP 422: neon says. Neon rejected the arguments: fix them as the message says ' +
        'and try again. (request_id r-1)',
    );
    expect(api(423)).toBe(
      'GET /projects failed with HTTP 423: neon says. The project is locked by another operation in progress. ' +
        'Wait for running operations to finish (list_operations) and try again. (request_id r-1)',
    );
    expect(api(429)).toBe(
      'GET /projects failed with HTTP 429: neon says. Neon rate limit reached even after retries; wait a minute ' +
        'before trying again. (request_id r-1)',
    );
  });

  it('5xx: a read was retried; a write was not sent again and may have been applied', () => {
    expect(api(500)).toBe(
      'GET /projects failed with HTTP 500: neon says. Neon had a server error; it was retried. Try again in a ' +
        'little while. (request_id r-1)',
    );
    expect(api(599, { method: 'DELETE' })).toBe(
      'DELETE /projects failed with HTTP 599: neon says. Neon had a server error. The change may or may not ' +
        'have been applied: check the resource before retrying (list or get it); it was not sent again, so ' +
        'nothing is done twice. (request_id r-1)',
    );
  });

  it('another status: no hint; without a message or request id, nothing for them', () => {
    expect(api(400)).toBe('GET /projects failed with HTTP 400: neon says. (request_id r-1)');
    expect(api(499)).toBe('GET /projects failed with HTTP 499: neon says. (request_id r-1)');
    expect(api(400, { neonMessage: undefined, requestId: undefined })).toBe(
      'GET /projects failed with HTTP 400.',
    );
    expect(api(400, { neonMessage: '', requestId: '' })).toBe('GET /projects failed with HTTP 400.');
  });

  it('404 names what was not found from the route, innermost first, decoded', () => {
    expect(
      api(404, {
        route: '/projects/{project_id}/branches/{branch_id}/roles/{role_name}',
        path: '/projects/p-1/branches/br-2/roles/a%2Fb%20c',
        requestId: undefined,
      }),
    ).toBe(
      'GET /projects/p-1/branches/br-2/roles/a%2Fb%20c failed with HTTP 404: neon says. Not found: role "a/b c" ' +
        'in branch "br-2" in project "p-1". Check the IDs (list the parent resource to see valid ones).',
    );
    expect(
      api(404, {
        route: '/projects/{project_id}/branches/{branch_id}/auth/users/{auth_user_id}',
        path: '/projects/p-1/branches/br-2/auth/users/u-3',
        neonMessage: undefined,
        requestId: undefined,
      }),
    ).toBe(
      'GET /projects/p-1/branches/br-2/auth/users/u-3 failed with HTTP 404. Not found: auth user "u-3" in ' +
        'branch "br-2" in project "p-1". Check the IDs (list the parent resource to see valid ones).',
    );
    expect(api(404, { requestId: undefined })).toBe(
      'GET /projects failed with HTTP 404: neon says. The resource does not exist.',
    );
  });
});

describe('redaction', () => {
  it('base64Forms: each alignment, standard and URL-safe, only the characters the secret determines', () => {
    // '>>>' and '???' encode to '+' and '/', so the URL-safe forms differ.
    expect(base64Forms('key>>>???key-0123')).toEqual([
      'a2V5Pj4+Pz8/a2V5LTAxMj',
      'a2V5Pj4-Pz8_a2V5LTAxMj',
      'tleT4+Pj8/P2tleS0wMTIz',
      'tleT4-Pj8_P2tleS0wMTIz',
      'rZXk+Pj4/Pz9rZXktMDEyM',
      'rZXk-Pj4_Pz9rZXktMDEyM',
    ]);
    for (const [i, form] of base64Forms('key>>>???key-0123').entries()) {
      const prefix = 'u:'.slice(0, Math.floor(i / 2));
      const std = Buffer.from(`${prefix}key>>>???key-0123`).toString('base64');
      expect(i % 2 ? std.replace(/\+/g, '-').replace(/\//g, '_') : std).toContain(form);
    }
    // Nine bytes give exactly 12 characters at the first alignment (kept), 11 at the others (dropped).
    expect(base64Forms('123456789')).toEqual(['MTIzNDU2Nzg5']);
    expect(base64Forms('12345678')).toEqual([]);
  });

  it('the key, verbatim and base64-encoded (as in a Basic header), and URI passwords are redacted', () => {
    const redact = redactor([KEY]);
    const basic = Buffer.from(`user:${KEY}`).toString('base64');
    expect(redact(`key ${KEY}, basic ${basic}, twice ${KEY}`)).not.toMatch(/napi_|requests_test/);
    expect(redact(`key ${KEY}!`)).toBe(`key ${REDACTED}!`);
    expect(redact('dsn postgres://alice:s3cret@db.example/x')).toBe(
      `dsn postgres://alice:${REDACTED}@db.example/x`,
    );
    expect(redactor([])('postgresql://bob:pw@h/db and x://u:p@h')).toBe(
      `postgresql://bob:${REDACTED}@h/db and x://u:${REDACTED}@h`,
    );
    expect(redactor([KEY], { uriPasswords: false })(`postgres://alice:s3cret@h ${KEY}`)).toBe(
      `postgres://alice:s3cret@h ${REDACTED}`,
    );
  });

  it('secrets under 4 characters are ignored; the longest secret goes first', () => {
    expect(redactor(['abc', 'wxyz'])('abc wxyz')).toBe(`abc ${REDACTED}`);
    for (const secrets of [
      ['abcd', 'abcdefgh'],
      ['abcdefgh', 'abcd'],
      ['ab12', 'ab12cd34', 'ab12cd'],
    ]) {
      const longest = secrets.reduce((a, b) => (b.length > a.length ? b : a));
      expect(redactor(secrets)(`<${longest}>`)).toBe(`<${REDACTED}>`);
    }
  });
});

describe('NeonClient: what is sent', () => {
  it('base URL without trailing slashes; the default is Neon', async () => {
    const { fetch, seen } = fakeFetch(() => json({ projects: [] }));
    const c = new NeonClient({ apiKey: KEY, baseUrl: `${BASE}///`, fetch });
    expect(c.baseUrl).toBe(BASE);
    await c.get('/projects');
    expect(seen.map((s) => s.url)).toEqual([`${BASE}/projects`]);
    expect(new NeonClient().baseUrl).toBe(DEFAULT_API_URL);
    expect(new NeonClient({ baseUrl: 'https://h.example/api/v2/' }).baseUrl).toBe('https://h.example/api/v2');
  });

  it('each client is its own tenant unless told; the key is only known to be there', () => {
    const a = new NeonClient({ apiKey: KEY });
    const b = new NeonClient({ apiKey: KEY });
    expect(a.tenant.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(b.tenant.id).not.toBe(a.tenant.id);
    const tenant = { id: 'tenant-1' };
    expect(new NeonClient({ apiKey: KEY, tenant }).tenant).toBe(tenant);
    expect(a.hasApiKey).toBe(true);
    expect(new NeonClient({ apiKey: '' }).hasApiKey).toBe(false);
  });

  it('headers: bearer key, JSON accept, neon-mcp user agent (or the one given), a request id each', async () => {
    const { c, seen } = client(() => json({ projects: [] }));
    await c.get('/projects');
    await c.get('/projects');
    const h = seen[0].headers;
    expect(h.get('authorization')).toBe(`Bearer ${KEY}`);
    expect(h.get('accept')).toBe('application/json');
    expect(h.get('user-agent')).toBe('neon-mcp');
    expect(h.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen[1].headers.get('x-request-id')).not.toBe(h.get('x-request-id'));
    const other = client(() => json({ projects: [] }), { userAgent: 'neon-mcp/9.9 (test)' });
    await other.c.get('/projects');
    expect(other.seen[0].headers.get('user-agent')).toBe('neon-mcp/9.9 (test)');
  });

  it('PUT and DELETE send their method, path and JSON body', async () => {
    const { c, seen } = client(() => json({}));
    await c.put('/projects/{project_id}/branches/{branch_id}/backup_schedule', {
      path: { project_id: 'p-1', branch_id: 'br 2' },
      body: { schedule: [] } as never,
    });
    await c.delete('/projects/{project_id}/branches/{branch_id}', {
      path: { project_id: 'p-1', branch_id: 'br-3' },
    });
    expect(seen.map((s) => `${s.method} ${s.url} ${s.body}`)).toEqual([
      `PUT ${BASE}/projects/p-1/branches/br%202/backup_schedule {"schedule":[]}`,
      `DELETE ${BASE}/projects/p-1/branches/br-3 `,
    ]);
    expect(seen[0].headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('query: empty values left out, lists repeated, numbers and booleans as text', async () => {
    const { c, seen } = client(() => json({ projects: [] }));
    await c.get('/projects', {
      query: { search: 'a b', limit: 5, shared: false, org_id: undefined, cursor: null, ids: ['p-1', 2] },
    });
    expect(new URL(seen[0].url).search).toBe('?search=a+b&limit=5&shared=false&ids=p-1&ids=2');
  });

  it('a missing or null path argument is refused before anything is sent', async () => {
    const { c, seen } = client(() => json({}));
    for (const branch_id of [undefined, null]) {
      const err = await fail(
        c.get('/projects/{project_id}/branches/{branch_id}', {
          path: { project_id: 'p-1', branch_id } as never,
        }),
      );
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect(err.message).toBe('Missing required argument branch_id.');
    }
    expect((await fail(c.get('/projects/{project_id}', { path: { project_id: '..' } }))).message).toBe(
      'Argument project_id must not be empty, "." or "..".',
    );
    expect(seen).toHaveLength(0);
  });

  it('no key, or a signal already aborted: refused without a request', async () => {
    const { fetch, seen } = fakeFetch(() => json({}));
    const none = await fail(new NeonClient({ baseUrl: BASE, fetch }).get('/projects'));
    expect(none).toBeInstanceOf(MissingApiKeyError);
    const { c } = client(() => json({}), { fetch });
    const ac = new AbortController();
    ac.abort();
    const err = await fail(
      c.get('/projects/{project_id}', { path: { project_id: 'p-1' }, signal: ac.signal }),
    );
    expect(err).toBeInstanceOf(NeonAbortedError);
    expect(err.message).toBe('GET /projects/p-1 was cancelled by the client.');
    expect(seen).toHaveLength(0);
  });

  it('aborted while waiting for the answer: cancelled, not a network error', async () => {
    const ac = new AbortController();
    const { c, seen } = client((_req, _n, signal) => {
      queueMicrotask(() => ac.abort());
      return new Promise<Response>((_, reject) =>
        signal.addEventListener('abort', () => reject(signal.reason)),
      );
    });
    const err = await fail(c.get('/projects', { signal: ac.signal }));
    expect(err).toBeInstanceOf(NeonAbortedError);
    expect(err.message).toBe('GET /projects was cancelled by the client.');
    expect(seen).toHaveLength(1);
  });
});

describe('NeonClient: answers', () => {
  it('JSON parsed, read in chunks; an empty answer or none at all is undefined', async () => {
    const answers = [
      () => new Response(body(['{"projects":', '[{"id":"p-1"}', ']}'])),
      () => new Response(''),
      () => new Response(null, { status: 200 }),
      () => new Response(null, { status: 204 }),
    ];
    const { c } = client((_r, n) => answers[n - 1]());
    expect(await c.get('/projects')).toEqual({ projects: [{ id: 'p-1' }] });
    expect(await c.get('/projects')).toBeUndefined();
    expect(await c.get('/projects')).toBeUndefined();
    expect(await c.delete('/projects/{project_id}', { path: { project_id: 'p-1' } })).toBeUndefined();
  });

  it('no timer is left once the answer is in (fake clock)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const { c } = client(() => json({ projects: [] }));
    await c.get('/projects');
    expect(vi.getTimerCount()).toBe(0);
    const big = client(() => new Response(body(['x'.repeat(80), 'y'.repeat(80)])), { maxResponseBytes: 100 });
    await fail(big.c.get('/projects'));
    expect(vi.getTimerCount()).toBe(0);
  });

  it('too large: refused from the announced size, or when the read passes the limit; exactly the limit is read', async () => {
    const announced = client(() => json({ p: 'x'.repeat(200) }, 200, { 'content-length': '211' }), {
      maxResponseBytes: 100,
    });
    const a = await fail(announced.c.get('/projects'));
    expect(a).toBeInstanceOf(NeonResponseTooLargeError);
    expect(a.message).toBe(
      "GET /projects: Neon's answer is larger than neon-mcp reads (211 bytes announced, limit 100 bytes), so it " +
        'was not read. Ask for less: a smaller limit, a filter, or one resource at a time.',
    );
    // Not retried: it would be as large again.
    expect(announced.seen).toHaveLength(1);
    // Announced without a body (a fetch may answer so): refused all the same.
    const empty = client(() => new Response(null, { headers: { 'content-length': '500' } }), {
      maxResponseBytes: 100,
    });
    expect((await fail(empty.c.get('/projects'))).message).toMatch(
      /\(500 bytes announced, limit 100 bytes\)/,
    );

    const exact = `{"p":"${'x'.repeat(92)}"}`;
    expect(exact).toHaveLength(100);
    const fits = client(
      (_r, n) =>
        n === 1
          ? new Response(exact, { headers: { 'content-length': '100' } })
          : new Response(body([exact.slice(0, 60), exact.slice(60)])),
      { maxResponseBytes: 100 },
    );
    expect(await fits.c.get('/projects')).toEqual({ p: 'x'.repeat(92) });
    expect(await fits.c.get('/projects')).toEqual({ p: 'x'.repeat(92) });

    // One byte over, in a chunk of its own after exactly the limit.
    const over = client(() => new Response(body([exact, ' '])), { maxResponseBytes: 100 });
    const o = await fail(over.c.post('/projects', { body: { project: {} } }));
    expect(o).toBeInstanceOf(NeonResponseTooLargeError);
    expect(o.message).toBe(
      "POST /projects: Neon's answer is larger than neon-mcp reads (limit 100 bytes), so it was not read. Neon " +
        'did accept the request, so the change may have been applied: check the resource (list or get it) before trying again.',
    );
    const streamed = client(() => new Response(body(['x'.repeat(70), 'x'.repeat(70)])), {
      maxResponseBytes: 100,
    });
    expect(await fail(streamed.c.get('/projects'))).toBeInstanceOf(NeonResponseTooLargeError);
    expect(streamed.seen).toHaveLength(1);
  });

  it('a GET whose answer broke mid-body is retried; with no retries left, says the answer broke', async () => {
    const flaky = client((_r, n) =>
      n === 1 ? new Response(body(['{"projects":'], reset())) : json({ projects: [] }),
    );
    expect(await flaky.c.get('/projects')).toEqual({ projects: [] });
    expect(flaky.seen).toHaveLength(2);

    const broken = client(() => new Response(body(['{"projects":'], reset())), { retries: 0 });
    const err = await fail(broken.c.get('/projects'));
    expect(err).toBeInstanceOf(NeonNetworkError);
    expect(err.message).toBe(
      'GET /projects failed: the connection to the Neon API broke while its answer was being read (other side ' +
        'closed). Check the network connection and NEON_API_URL, then try again.',
    );
  });

  it('a write whose answer broke mid-body is not retried, and may have been applied', async () => {
    const { c, seen } = client(() => new Response(body(['{"project":'], reset())));
    const err = await fail(c.post('/projects', { body: { project: {} } }));
    expect(err.message).toBe(
      'POST /projects failed: the connection to the Neon API broke while its answer was being read (other side ' +
        'closed). The request may have reached Neon: check the resource (list or get it) before trying again, so ' +
        'nothing is done twice.',
    );
    expect(seen).toHaveLength(1);
  });

  it('the timeout covers the body: an answer that stalls mid-body times out', async () => {
    const { c, seen } = client((_r, _n, signal) => new Response(body(['{"project":'], 'stall', signal)), {
      timeoutMs: 20,
    });
    const err = await fail(c.post('/projects', { body: { project: {} } }));
    expect(err).toBeInstanceOf(NeonTimeoutError);
    expect(err.message).toBe(
      'POST /projects timed out after 20 ms. The request may still complete on Neon: check the resource (list ' +
        'or get it) before trying again.',
    );
    expect(seen).toHaveLength(1);
  });

  it('a GET with no answer times out after its retries, telling each retry why', async () => {
    const { c, seen } = client(
      (_r, _n, signal) =>
        new Promise<Response>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      { timeoutMs: 20, retries: 1 },
    );
    const { result, messages } = await withEvents(() => c.get('/projects'));
    expect(result).toBeInstanceOf(NeonTimeoutError);
    expect((result as Error).message).toBe(
      'GET /projects timed out after 20 ms. The Neon API is slow or unreachable; try again later.',
    );
    expect(messages).toEqual([
      'warning retry: Retrying GET /projects (retry 1 of 1) after no answer within 20 ms.',
    ]);
    expect(seen).toHaveLength(2);
  });
});

describe('NeonClient: error answers', () => {
  const getProject = (c: NeonClient) =>
    fail(c.get('/projects/{project_id}', { path: { project_id: 'p-1' } })) as Promise<NeonApiError>;

  it("Neon's code, message and request id; the request id from the header when the body has none", async () => {
    const answers = [
      () =>
        json({ code: 'NOT_FOUND', message: 'no project', request_id: 'body-id' }, 404, {
          'x-neon-ret-request-id': 'hdr-id',
        }),
      () => json({ code: 'NOT_FOUND', message: 'no project' }, 404, { 'x-neon-ret-request-id': 'hdr-id' }),
      () => json({ message: 'no project' }, 404),
    ];
    const { c } = client((_r, n) => answers[n - 1]());
    const a = await getProject(c);
    expect(a).toMatchObject({
      status: 404,
      code: 'NOT_FOUND',
      neonMessage: 'no project',
      requestId: 'body-id',
      method: 'GET',
      route: '/projects/{project_id}',
      path: '/projects/p-1',
      attempts: 1,
    });
    expect(a.message).toBe(
      'GET /projects/p-1 failed with HTTP 404: no project. Not found: project "p-1". Check the IDs (list the ' +
        'parent resource to see valid ones). (request_id body-id)',
    );
    expect((await getProject(c)).requestId).toBe('hdr-id');
    const none = await getProject(c);
    expect(none.requestId).toBeUndefined();
    expect(none.code).toBeUndefined();
  });

  it('a body that is not an object, a message that is not text, an empty body', async () => {
    const answers = [
      () => json('overloaded', 400),
      () => json({ code: 'ODD', message: 42 }, 400),
      () => new Response('', { status: 400 }),
      () => new Response('   ', { status: 400 }),
      () => json(null, 400),
    ];
    const { c } = client((_r, n) => answers[n - 1]());
    const s = await getProject(c);
    expect(s.neonMessage).toBe('"overloaded"');
    expect(s.message).toBe('GET /projects/p-1 failed with HTTP 400: "overloaded".');
    const n = await getProject(c);
    expect(n).toMatchObject({ code: 'ODD', neonMessage: undefined });
    expect(n.message).toBe('GET /projects/p-1 failed with HTTP 400.');
    for (let i = 0; i < 2; i++) {
      const e = await getProject(c);
      expect(e.neonMessage).toBeUndefined();
      expect(e.message).toBe('GET /projects/p-1 failed with HTTP 400.');
    }
    expect((await getProject(c)).neonMessage).toBe('null');
  });

  it('a text body: trimmed and cut to 300 characters; a JSON message to 2,000; the key redacted before the cut', async () => {
    const answers = [
      () => new Response('  <html>Bad gateway</html>\n', { status: 400 }),
      () => new Response(`${'t'.repeat(295)}${KEY}`, { status: 400 }),
      () => json({ message: 'm'.repeat(5000) }, 400),
      () => json({ message: `${'m'.repeat(1990)}${KEY}` }, 400),
    ];
    const { c } = client((_r, n) => answers[n - 1]());
    expect((await getProject(c)).neonMessage).toBe('<html>Bad gateway</html>');
    expect((await getProject(c)).neonMessage).toBe(`${'t'.repeat(295)}[reda`);
    expect((await getProject(c)).neonMessage).toBe('m'.repeat(2000));
    expect((await getProject(c)).neonMessage).toBe(`${'m'.repeat(1990)}${REDACTED}`);
  });

  it('only the first 64 KiB of an error answer are read: a longer one is an error, not too large', async () => {
    const answers = [
      // 100 KiB of text: the 404, with its excerpt.
      () => new Response(body(['e'.repeat(40_000), 'e'.repeat(40_000), 'e'.repeat(22_400)]), { status: 404 }),
      // JSON cut at 64 KiB is no longer JSON: its text is the excerpt.
      () => new Response(body([JSON.stringify({ message: 'x'.repeat(70_000) })]), { status: 404 }),
      // A message just inside the 64 KiB read is found.
      () =>
        new Response(body([`${' '.repeat(65_000)}inside the limit${' '.repeat(10_000)}`]), { status: 404 }),
    ];
    const { c } = client((_r, n) => answers[n - 1](), { maxResponseBytes: 1000 });
    const a = await getProject(c);
    expect(a).toBeInstanceOf(NeonApiError);
    expect(a.neonMessage).toBe('e'.repeat(300));
    expect((await getProject(c)).neonMessage).toBe(`{"message":"${'x'.repeat(288)}`);
    expect((await getProject(c)).neonMessage).toBe('inside the limit');
  });

  it('a write Neon refused with a 5xx: its text, not sent again', async () => {
    const { c, seen } = client(() => new Response(' upstream exploded ', { status: 502 }));
    const err = (await fail(c.post('/projects', { body: { project: {} } }))) as NeonApiError;
    expect(err.message).toBe(
      'POST /projects failed with HTTP 502: upstream exploded. Neon had a server error. The change may or may ' +
        'not have been applied: check the resource before retrying (list or get it); it was not sent again, so ' +
        'nothing is done twice.',
    );
    expect(err.attempts).toBe(1);
    expect(seen).toHaveLength(1);
  });
});

describe('NeonClient: retries', () => {
  it('doubles the delay from retryDelayMs, with full jitter, up to maxRetryDelayMs (fake clock)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const { c, seen } = client(
      (_r, n) => (n <= 3 ? json({ message: 'busy' }, 503) : json({ projects: [] })),
      {
        retryDelayMs: 1000,
        maxRetryDelayMs: 1500,
      },
    );
    const call = c.get('/projects');
    // Delays: 0.5 × 1000, 0.5 × 2000, then min(0.5 × 4000, 1500).
    const steps: [number, number][] = [
      [499, 1],
      [2, 2],
      [998, 2],
      [2, 3],
      [1497, 3],
      [2, 4],
    ];
    for (const [ms, count] of steps) {
      await vi.advanceTimersByTimeAsync(ms);
      expect(seen).toHaveLength(count);
    }
    await expect(call).resolves.toEqual({ projects: [] });
  });

  it('the first delay is 300 ms by default (fake clock)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const { fetch, seen } = fakeFetch((_r, n) => (n === 1 ? json({}, 500) : json({ projects: [] })));
    const call = new NeonClient({ apiKey: KEY, baseUrl: BASE, fetch }).get('/projects');
    await vi.advanceTimersByTimeAsync(149);
    expect(seen).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(2);
    expect(seen).toHaveLength(2);
    await expect(call).resolves.toEqual({ projects: [] });
  });

  it('counts the attempts; tells each retry with its cause', async () => {
    const { c, seen } = client(() => json({ message: 'down' }, 503), { retries: 2 });
    const { result, messages } = await withEvents(() => c.get('/projects'));
    expect(result).toBeInstanceOf(NeonApiError);
    expect((result as NeonApiError).attempts).toBe(3);
    expect(seen).toHaveLength(3);
    expect(messages).toEqual([
      'warning retry: Retrying GET /projects (retry 1 of 2) after HTTP 503.',
      'warning retry: Retrying GET /projects (retry 2 of 2) after HTTP 503.',
    ]);
  });

  it('a network error is named by its code, else by its kind', async () => {
    const answers = [
      () => {
        throw fetchFailed('ECONNRESET', 'read ECONNRESET');
      },
      () => {
        throw new TypeError('fetch failed');
      },
      () => json({ projects: [] }),
    ];
    const { c } = client((_r, n) => answers[n - 1](), { retries: 2 });
    const { result, messages } = await withEvents(() => c.get('/projects'));
    expect(result).toEqual({ projects: [] });
    expect(messages).toEqual([
      'warning retry: Retrying GET /projects (retry 1 of 2) after a network error (ECONNRESET).',
      'warning retry: Retrying GET /projects (retry 2 of 2) after a network error (TypeError).',
    ]);
  });

  it('a GET that cannot reach Neon says so after its retries; nothing was sent', async () => {
    const { c, seen } = client(
      () => {
        throw new TypeError('fetch failed');
      },
      { retries: 1 },
    );
    const err = await fail(c.get('/projects'));
    expect(err).toBeInstanceOf(NeonNetworkError);
    expect(err.message).toBe(
      'GET /projects failed: could not reach the Neon API (fetch failed). Check the network connection and ' +
        'NEON_API_URL, then try again.',
    );
    expect(seen).toHaveLength(2);
  });

  it('a redirect or an answer too large is not retried, even for a GET', async () => {
    const redirect = client(
      () => new Response(null, { status: 302, headers: { location: 'https://x.example/a' } }),
    );
    expect(await fail(redirect.c.get('/projects'))).toBeInstanceOf(NeonRedirectError);
    expect(redirect.seen).toHaveLength(1);
  });
});

describe('NeonClient: which writes are retried after a connection error', () => {
  /** A POST answered with `error` first, then 201; returns the error (if it stayed) and the attempts. */
  async function post(error: unknown) {
    const { c, seen } = client((_r, n) => {
      if (n === 1) throw error;
      return json({ project: { id: 'p-1' } }, 201);
    });
    const result = await c.post('/projects', { body: { project: {} } }).catch((e: Error) => e);
    return { result, attempts: seen.length };
  }
  const nest = (inner: object, levels: number) => {
    let e: object = inner;
    for (let i = 0; i < levels; i++) e = new Error(`level ${i}`, { cause: e });
    return e;
  };
  const refused = () =>
    Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:443'), { code: 'ECONNREFUSED' });
  const resetErr = () => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });

  it('never sent (refused, no name, a bad certificate): retried', async () => {
    for (const code of ['ECONNREFUSED', 'ENOTFOUND', 'UND_ERR_CONNECT_TIMEOUT', 'CERT_HAS_EXPIRED']) {
      expect(await post(fetchFailed(code))).toEqual({ result: { project: { id: 'p-1' } }, attempts: 2 });
    }
    // The code on the error itself, or four causes down.
    expect((await post(refused())).attempts).toBe(2);
    expect((await post(nest(refused(), 3))).attempts).toBe(2);
  });

  it('never sent, no retries left: says so, and says nothing about checking first', async () => {
    const { c, seen } = client(
      () => {
        throw fetchFailed('ECONNREFUSED');
      },
      { retries: 1 },
    );
    const err = await fail(c.post('/projects', { body: { project: {} } }));
    expect(err.message).toBe(
      'POST /projects failed: could not reach the Neon API (connect ECONNREFUSED 127.0.0.1:443). Check the ' +
        'network connection and NEON_API_URL, then try again.',
    );
    expect(seen).toHaveLength(2);
  });

  it('maybe sent (a reset, another code, no code, too deep a chain, a loop, a null cause): not retried', async () => {
    const loop = new Error('loop');
    (loop as { cause?: unknown }).cause = loop;
    const cases: [unknown, string][] = [
      [fetchFailed('ECONNRESET', 'read ECONNRESET'), 'read ECONNRESET'],
      [fetchFailed(undefined, 'other side closed'), 'other side closed'],
      [Object.assign(new Error('odd'), { code: 42 }), 'odd'],
      [nest(refused(), 5), 'level 3'],
      [loop, 'loop'],
      [new TypeError('fetch failed', { cause: null }), 'fetch failed'],
    ];
    for (const [error, why] of cases) {
      const { result, attempts } = await post(error);
      expect(result).toBeInstanceOf(NeonNetworkError);
      expect((result as Error).message).toBe(
        `POST /projects failed: could not reach the Neon API (${why}). The request may have reached Neon: check ` +
          'the resource (list or get it) before trying again, so nothing is done twice.',
      );
      expect(attempts).toBe(1);
    }
  });

  it('several addresses tried: retried only when every one was refused', async () => {
    const agg = (errors: unknown[]) =>
      new TypeError('fetch failed', { cause: new AggregateError(errors, 'all') });
    expect((await post(agg([refused(), refused()]))).attempts).toBe(2);
    expect((await post(agg([refused(), resetErr()]))).attempts).toBe(1);
    expect((await post(agg([]))).attempts).toBe(1);
    const self = new AggregateError([], 'self');
    self.errors.push(self);
    expect((await post(self)).attempts).toBe(1);
    // Each address's error four levels below the top.
    expect((await post(agg([nest(refused(), 2), nest(refused(), 2)]))).attempts).toBe(2);
    expect((await post(agg([nest(refused(), 3), nest(refused(), 3)]))).attempts).toBe(1);
  });
});

describe('NeonClient: redirects are refused', () => {
  it('names the target without query or credentials; relative, missing and invalid Location headers', async () => {
    const answers = [
      () =>
        new Response('moved', {
          status: 301,
          headers: { location: 'https://u:p@x.example/api/v2/p?token=abc#f' },
        }),
      () => new Response(null, { status: 302, headers: { location: '/elsewhere/projects?x=1' } }),
      () => new Response(null, { status: 300 }),
      () => new Response(null, { status: 399, headers: { location: 'http://[::1' } }),
    ];
    const { c } = client((_r, n) => answers[n - 1]());
    const targets = [];
    for (let i = 0; i < answers.length; i++) {
      const err = await fail(c.get('/projects'));
      expect(err).toBeInstanceOf(NeonRedirectError);
      targets.push((err as NeonRedirectError).target);
    }
    expect(targets).toEqual([
      'https://x.example/api/v2/p',
      'http://neon.test/elsewhere/projects',
      '(no Location header)',
      '(an invalid Location header)',
    ]);
  });

  it('a write: its text says nothing went there; a 400 is an error answer, not a redirect', async () => {
    const answers = [
      () => new Response(null, { status: 307, headers: { location: 'https://x.example/api/v2/projects' } }),
      () => json({ message: 'bad' }, 400),
    ];
    const { c } = client((_r, n) => answers[n - 1]());
    const err = await fail(c.post('/projects', { body: { project: {} } }));
    expect(err.message).toBe(
      'POST /projects was answered with a redirect (HTTP 307) to https://x.example/api/v2/projects, which ' +
        'neon-mcp does not follow: it would send the request and the API key there. Check NEON_API_URL (or ' +
        '--api-url): it must be the API base URL itself, ending in /api/v2. Nothing was sent to the redirect target.',
    );
    expect(await fail(c.post('/projects', { body: { project: {} } }))).toBeInstanceOf(NeonApiError);
  });
});

describe('NeonClient: writes Neon accepted', () => {
  it('are noted for the caller: not reads, not refused writes, not a passed error status', async () => {
    const answers = [
      () => json({ projects: [] }),
      () => json({ project: { id: 'p-1' } }, 201),
      () => json({ message: 'bad' }, 422),
      () => json({ message: 'gone' }, 404),
      () => new Response(null, { status: 204 }),
    ];
    const { c } = client((_r, n) => answers[n - 1]());
    const list: string[] = [];
    await acceptedWrites.run(list, async () => {
      await c.get('/projects');
      await c.post('/projects', { body: { project: {} } });
      await c.post('/projects', { body: { project: {} } }).catch(() => undefined);
      await c.sendRaw('DELETE', '/projects/{project_id}', { path: { project_id: 'p-1' }, pass: [404] });
      await c.sendRaw('DELETE', '/projects/{project_id}', { path: { project_id: 'p-2' }, pass: [404] });
    });
    expect(list).toEqual(['POST /projects', 'DELETE /projects/p-2']);
  });
});

describe('NeonClient: the rate limiter', () => {
  class Recording extends RateLimiter {
    log: string[] = [];
    override async acquire(route: string, signal?: AbortSignal): Promise<Release> {
      this.log.push(`acquire ${route}`);
      const release = await super.acquire(route, signal);
      return () => {
        this.log.push('release');
        release();
      };
    }
  }

  it("each attempt takes a slot of its route and gives it back when its answer arrives, before the retry's", async () => {
    const limiter = new Recording();
    const { c } = client((_r, n) => (n === 1 ? json({}, 503) : json({ id: 'p-1' })), { limiter });
    await c.get('/projects/{project_id}', { path: { project_id: 'p-1' } });
    expect(limiter.log).toEqual([
      'acquire GET /projects/{project_id}',
      'release',
      'acquire GET /projects/{project_id}',
      'release',
    ]);
  });

  it('a connection error gives its slot back too', async () => {
    const limiter = new Recording();
    const { c } = client(
      () => {
        throw fetchFailed('ECONNRESET');
      },
      { limiter },
    );
    await fail(c.post('/projects', { body: { project: {} } }));
    expect(limiter.log).toEqual(['acquire POST /projects', 'release']);
  });
});

describe('NeonClient.sendRaw', () => {
  it('the accept header given, statuses passed back as answers, the URL kept', async () => {
    const answers = [() => new Response('bytes'), () => json({ message: 'none' }, 404), () => json({}, 500)];
    const { c, seen } = client((_r, n) => answers[n - 1](), { retries: 0 });
    const route = '/projects/{project_id}' as const;
    const ok = await c.sendRaw('GET', route, {
      path: { project_id: 'p-1' },
      accept: 'application/octet-stream',
    });
    expect(await ok.text()).toBe('bytes');
    expect(ok.url).toBe(`${BASE}/projects/p-1`);
    expect(seen[0].headers.get('accept')).toBe('application/octet-stream');
    expect(seen[0].headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const passed = await c.sendRaw('GET', route, { path: { project_id: 'p-1' }, pass: [404] });
    expect(passed.status).toBe(404);
    expect(seen[1].headers.get('accept')).toBe('application/json');
    const err = await fail(c.sendRaw('GET', route, { path: { project_id: 'p-1' }, pass: [404] }));
    expect(err).toMatchObject({ status: 500 });
  });

  it('a download is streamed: a long one may be read in part, reading past the limit fails', async () => {
    const cancelled: unknown[] = [];
    const answers = [
      // 200 bytes announced, a limit of 100: the reader takes 20 and cancels the rest.
      () =>
        new Response(
          body(Array(10).fill('a'.repeat(20)), 'close', undefined, (r) => cancelled.push(r)),
          {
            headers: { 'content-length': '200' },
          },
        ),
      () => new Response(body(['a'.repeat(60), 'b'.repeat(60)])),
      () => new Response(body(['a'.repeat(60), 'b'.repeat(40)])),
      () => new Response(body(['a'.repeat(100), 'b'])),
    ];
    const { c } = client((_r, n) => answers[n - 1](), { maxResponseBytes: 100 });
    const first = await c.sendRaw('GET', '/projects');
    const reader = first.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('a'.repeat(20));
    await reader.cancel('enough');
    // Through ky's tee of the answer: the source is cancelled once, with the reader's reason among them.
    expect(cancelled).toHaveLength(1);
    expect([cancelled[0]].flat()).toContain('enough');

    const over = await c.sendRaw('GET', '/projects');
    const err = await fail(over.text());
    expect(err).toBeInstanceOf(NeonResponseTooLargeError);
    expect(err.message).toMatch(/\(limit 100 bytes\), so it was not read\./);
    expect(await (await c.sendRaw('GET', '/projects')).text()).toBe(`${'a'.repeat(60)}${'b'.repeat(40)}`);
    expect(await fail((await c.sendRaw('GET', '/projects')).text())).toBeInstanceOf(
      NeonResponseTooLargeError,
    );
  });

  it('a passed error answer is cut at 64 KiB', async () => {
    const { c } = client(() => new Response(body(['e'.repeat(50_000), 'f'.repeat(50_000)]), { status: 404 }));
    const res = await c.sendRaw('GET', '/projects', { pass: [404] });
    expect(await res.text()).toBe(`${'e'.repeat(50_000)}${'f'.repeat(15_536)}`);
  });

  it('a download that stalls times out; one that breaks is a network error (a write: maybe applied)', async () => {
    const answers: Handler[] = [
      (_r, _n, signal) => new Response(body(['part'], 'stall', signal)),
      () => new Response(body(['part'], reset())),
      () => new Response(body(['part'], reset())),
    ];
    const { c } = client((r, n, s) => answers[n - 1](r, n, s), { timeoutMs: 20 });
    const stalled = await fail((await c.sendRaw('GET', '/projects')).text());
    expect(stalled).toBeInstanceOf(NeonTimeoutError);
    expect(stalled.message).toBe(
      'GET /projects timed out after 20 ms. The Neon API is slow or unreachable; try again later.',
    );
    const broke = await fail((await c.sendRaw('GET', '/projects')).text());
    expect(broke).toBeInstanceOf(NeonNetworkError);
    expect(broke.message).toBe(
      'GET /projects failed: the connection to the Neon API broke while its answer was being read (other side ' +
        'closed). Check the network connection and NEON_API_URL, then try again.',
    );
    const write = await fail((await c.sendRaw('POST', '/projects', { body: '{}' })).text());
    expect(write.message).toMatch(
      /^POST \/projects failed: the connection .* The request may have reached Neon: /,
    );
  });

  it('a download the caller aborts mid-body rejects as cancelled, as a buffered answer does', async () => {
    const ac = new AbortController();
    const { c } = client((_r, _n, signal) => new Response(body(['part'], 'stall', signal)));
    const res = await c.sendRaw('GET', '/projects', { signal: ac.signal });
    const reader = res.body!.getReader();
    await reader.read();
    const next = reader.read();
    ac.abort();
    const err = await fail(next);
    expect(err).toBeInstanceOf(NeonAbortedError);
    expect(err.message).toBe('GET /projects was cancelled by the client.');
  });

  it('an error answer whose body cannot be read is still the error, without a message', async () => {
    const { c } = client(() => new Response(body(['{"mess'], reset()), { status: 404 }));
    const err = (await fail(
      c.sendRaw('GET', '/projects/{project_id}', { path: { project_id: 'p-1' } }),
    )) as NeonApiError;
    expect(err).toBeInstanceOf(NeonApiError);
    expect(err.neonMessage).toBeUndefined();
    expect(err.message).toBe(
      'GET /projects/p-1 failed with HTTP 404. Not found: project "p-1". Check the IDs (list the parent resource ' +
        'to see valid ones).',
    );
  });
});

describe('NeonClient.listAll', () => {
  /** `total` projects served `limit` at a time from the numeric cursor; a cursor on every page. */
  const pages =
    (total: number, cursorKey: 'next' | 'cursor' = 'cursor'): Handler =>
    (request) => {
      const q = new URL(request.url).searchParams;
      const start = Number(q.get('cursor') ?? 0);
      const end = Math.min(start + Number(q.get('limit')), total);
      const projects = Array.from({ length: Math.max(0, end - start) }, (_, i) => ({ id: `p-${start + i}` }));
      return json({ projects, pagination: { [cursorKey]: String(end) } });
    };
  const ids = (items: { id: string }[]) => items.map((p) => p.id);
  const queries = (seen: Seen[]) => seen.map((s) => new URL(s.url).search);

  it('follows the cursor until a short page, keeping the query; 100 a page by default', async () => {
    const { c, seen } = client(pages(5, 'next'));
    const all = await c.listAll('/projects', 'projects', { pageSize: 2, query: { search: 'x' } });
    expect(ids(all)).toEqual(['p-0', 'p-1', 'p-2', 'p-3', 'p-4']);
    expect(queries(seen)).toEqual([
      '?search=x&limit=2',
      '?search=x&limit=2&cursor=2',
      '?search=x&limit=2&cursor=4',
    ]);
    const d = client(pages(3));
    expect(await d.c.listAll('/projects', 'projects')).toHaveLength(3);
    expect(queries(d.seen)).toEqual(['?limit=100']);
  });

  it('stops without a cursor, or when the cursor comes back unchanged', async () => {
    const noCursor = client(() => json({ projects: [{ id: 'a' }, { id: 'b' }] }));
    expect(ids(await noCursor.c.listAll('/projects', 'projects', { pageSize: 2, maxItems: 10 }))).toEqual([
      'a',
      'b',
    ]);
    expect(noCursor.seen).toHaveLength(1);
    const stuck = client(() =>
      json({ projects: [{ id: 'a' }, { id: 'b' }], pagination: { cursor: 'same' } }),
    );
    expect(await stuck.c.listAll('/projects', 'projects', { pageSize: 2, maxItems: 10 })).toHaveLength(4);
    expect(stuck.seen).toHaveLength(2);
  });

  it('stops at maxItems (10,000 by default), cutting the last page', async () => {
    const six = client(pages(100));
    expect(ids(await six.c.listAll('/projects', 'projects', { pageSize: 3, maxItems: 6 }))).toHaveLength(6);
    expect(six.seen).toHaveLength(2);
    const five = client(pages(100));
    expect(ids(await five.c.listAll('/projects', 'projects', { pageSize: 3, maxItems: 5 }))).toEqual([
      'p-0',
      'p-1',
      'p-2',
      'p-3',
      'p-4',
    ]);
    expect(five.seen).toHaveLength(2);
    const many = client(pages(1_000_000));
    expect(await many.c.listAll('/projects', 'projects', { pageSize: 6_000 })).toHaveLength(10_000);
    expect(many.seen).toHaveLength(2);
  });

  it('a page without the list is an empty page', async () => {
    const { c, seen } = client(() => json({ pagination: { cursor: 'c' } }));
    expect(await c.listAll('/projects', 'projects')).toEqual([]);
    expect(seen).toHaveLength(1);
  });

  it('nextCursor: pagination.next, else pagination.cursor, else none', () => {
    expect(nextCursor({})).toBeUndefined();
    expect(nextCursor({ pagination: {} })).toBeUndefined();
    expect(nextCursor({ pagination: { next: '', cursor: '' } })).toBeUndefined();
    expect(nextCursor({ pagination: { next: 'n', cursor: 'c' } })).toBe('n');
    expect(nextCursor({ pagination: { cursor: 'c' } })).toBe('c');
  });
});
