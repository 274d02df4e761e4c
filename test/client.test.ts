import { getEventListeners } from 'node:events';
import { HttpResponse, http } from 'msw';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ClientEvent } from '../src/client/events.js';
import {
  MissingApiKeyError,
  NeonAbortedError,
  NeonApiError,
  NeonClient,
  NeonNetworkError,
  NeonOperationCheckError,
  NeonOperationFailedError,
  NeonOperationTimeoutError,
  NeonTimeoutError,
  RateLimiter,
} from '../src/client/index.js';
import { NEON_RATE_LIMITS, QUEUE_NOTICE_MS } from '../src/client/rate-limiter.js';
import { waitForOperations } from '../src/neon/operations.js';
import { poll, sleep } from '../src/neon/poll.js';
import { BASE, neonError, TEST_KEY, useMockApi } from './helpers.js';

const api = useMockApi();

/*
 * Events the lower layers emit (queue notices). They reach a call through AsyncLocalStorage, which a
 * fake clock's callbacks do not carry: the rate limiter's notices are read here, then passed on.
 */
const emitted = vi.hoisted(() => [] as ClientEvent[]);
vi.mock('../src/client/events.js', async (real) => {
  const events = await real<typeof import('../src/client/events.js')>();
  return {
    ...events,
    emitEvent: (event: ClientEvent) => {
      emitted.push(event);
      events.emitEvent(event);
    },
  };
});
// Operation waits sleep through node:timers/promises: on the fake clock where a test installs one.
vi.mock('node:timers/promises', async (real) =>
  (await import('./clock.js')).timersOnGlobalClock(await real()),
);

function client(extra: ConstructorParameters<typeof NeonClient>[0] = {}) {
  return new NeonClient({ apiKey: TEST_KEY, baseUrl: BASE, retryDelayMs: 1, maxRetryDelayMs: 100, ...extra });
}

/** A handler that answers with `fail` the first `times` calls, then falls through to the fake. */
function failFirst(method: 'get' | 'post', path: string, times: number, fail: () => Response) {
  let n = 0;
  return http[method](`${BASE}${path}`, () => (n++ < times ? fail() : undefined));
}

describe('NeonClient', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends bearer auth, JSON and a request id', async () => {
    let seen: Headers | undefined;
    api.use(
      http.get(`${BASE}/projects`, ({ request }) => {
        seen = request.headers;
        return undefined;
      }),
    );
    await client().get('/projects');
    expect(seen?.get('authorization')).toBe(`Bearer ${TEST_KEY}`);
    expect(seen?.get('accept')).toBe('application/json');
    expect(seen?.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses to send anything without a key, saying how to set one', async () => {
    await expect(new NeonClient({ baseUrl: BASE }).get('/projects')).rejects.toThrow(MissingApiKeyError);
    await expect(new NeonClient({ baseUrl: BASE }).get('/projects')).rejects.toThrow(/NEON_API_KEY/);
    expect(api.requests).toHaveLength(0);
  });

  it('maps a Neon error body to NeonApiError with status, code, message and request id', async () => {
    api.use(http.get(`${BASE}/projects/:id`, () => neonError(422, 'name too long', 'INVALID_NAME')));
    const err = (await client()
      .get('/projects/{project_id}', { path: { project_id: 'p-1' } })
      .catch((e) => e)) as NeonApiError;
    expect(err).toBeInstanceOf(NeonApiError);
    expect(err).toMatchObject({
      status: 422,
      code: 'INVALID_NAME',
      neonMessage: 'name too long',
      requestId: 'req-422',
    });
    expect(err).toMatchObject({ method: 'GET', path: '/projects/p-1', route: '/projects/{project_id}' });
    expect(err.message).toMatch(/GET \/projects\/p-1 failed with HTTP 422: name too long/);
  });

  it('explains 401 and 403 in terms of the key', async () => {
    api.use(http.get(`${BASE}/projects`, () => neonError(401, 'unauthorized')));
    await expect(client().get('/projects')).rejects.toThrow(/API key was rejected.*NEON_API_KEY/);
    api.use(http.get(`${BASE}/projects`, () => neonError(403, 'forbidden')));
    await expect(client().get('/projects')).rejects.toThrow(/not allowed/);
  });

  it('retries a GET on 500, 502, 503, 504 and 429', async () => {
    for (const status of [500, 502, 503, 504, 429]) {
      api.use(failFirst('get', '/projects', 2, () => neonError(status, 'transient')));
      const before = api.requests.length;
      await expect(client().get('/projects')).resolves.toMatchObject({ projects: [] });
      await api.settle();
      expect(api.requests.length - before).toBe(3);
    }
  });

  it('honours Retry-After on 429: the retry comes when the server asked, not before (fake clock)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    api.use(
      failFirst('get', '/projects', 1, () =>
        HttpResponse.json({ message: 'slow down' }, { status: 429, headers: { 'Retry-After': '2' } }),
      ),
    );
    let done = false;
    const call = client({ maxRetryDelayMs: 5_000 })
      .get('/projects')
      .finally(() => {
        done = true;
      });
    await vi.advanceTimersByTimeAsync(1_900);
    await api.settle();
    expect(api.count('GET', '/projects')).toBe(1);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    await expect(call).resolves.toMatchObject({ projects: [] });
    await api.settle();
    expect(api.count('GET', '/projects')).toBe(2);
  });

  it('caps a huge Retry-After at maxRetryDelayMs (fake clock)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    api.use(
      failFirst('get', '/projects', 1, () =>
        HttpResponse.json({ message: 'busy' }, { status: 503, headers: { 'Retry-After': '86400' } }),
      ),
    );
    const call = client({ maxRetryDelayMs: 300 }).get('/projects');
    await vi.advanceTimersByTimeAsync(350);
    await expect(call).resolves.toMatchObject({ projects: [] });
    await api.settle();
    expect(api.count('GET', '/projects')).toBe(2);
  });

  it('after the retries of a 429, tells the agent to wait a minute', async () => {
    api.use(http.get(`${BASE}/projects`, () => neonError(429, 'too many requests', 'TOO_MANY_REQUESTS')));
    const err = (await client({ retries: 1 })
      .get('/projects')
      .catch((e) => e)) as NeonApiError;
    expect(err).toBeInstanceOf(NeonApiError);
    expect(err.message).toBe(
      'GET /projects failed with HTTP 429: too many requests. Neon rate limit reached even after retries; ' +
        'wait a minute before trying again. (request_id req-429)',
    );
    await api.settle();
    expect(api.count('GET', '/projects')).toBe(2);
  });

  it('after the retries of a 5xx on a GET, says it was retried and to try again later', async () => {
    for (const status of [500, 502, 504]) {
      api.use(http.get(`${BASE}/projects`, () => neonError(status, 'upstream broke')));
      const err = (await client({ retries: 1 })
        .get('/projects')
        .catch((e) => e)) as NeonApiError;
      expect(err.message).toBe(
        `GET /projects failed with HTTP ${status}: upstream broke. Neon had a server error; it was retried. ` +
          `Try again in a little while. (request_id req-${status})`,
      );
    }
  });

  it('gives up after the retry limit with the last error', async () => {
    api.use(http.get(`${BASE}/projects`, () => neonError(503, 'down')));
    const err = (await client({ retries: 2 })
      .get('/projects')
      .catch((e) => e)) as NeonApiError;
    expect(err.status).toBe(503);
    await api.settle();
    expect(api.count('GET', '/projects')).toBe(3);
  });

  it('retries a POST on 423 and 429, but never on 500, 502, 503 or 504 (it may have been applied)', async () => {
    api.fake.seedProject('p');
    for (const status of [423, 429]) {
      api.use(failFirst('post', '/projects', 1, () => neonError(status, 'busy')));
      const before = api.count('POST', '/projects');
      await client().post('/projects', { body: { project: {} } });
      await api.settle();
      expect(api.count('POST', '/projects') - before).toBe(2);
    }
    for (const status of [500, 502, 503, 504]) {
      api.use(failFirst('post', '/projects', 1, () => neonError(status, 'oops')));
      const before = api.count('POST', '/projects');
      const err: any = await client()
        .post('/projects', { body: { project: {} } })
        .catch((e): any => e);
      expect(err.status).toBe(status);
      expect(err.message).toMatch(/may or may not have been applied/);
      await api.settle();
      expect(api.count('POST', '/projects') - before).toBe(1);
    }
  });

  it('does not retry a POST whose connection dropped, and says to check before retrying', async () => {
    api.use(http.post(`${BASE}/projects`, () => HttpResponse.error()));
    const err: any = await client()
      .post('/projects', { body: { project: {} } })
      .catch((e): any => e);
    expect(err).toBeInstanceOf(NeonNetworkError);
    expect(err.message).toMatch(/may have reached Neon/);
    await api.settle();
    expect(api.count('POST', '/projects')).toBe(1);
  });

  it('retries a GET whose connection dropped', async () => {
    api.use(failFirst('get', '/projects', 1, () => HttpResponse.error()));
    await expect(client().get('/projects')).resolves.toMatchObject({ projects: [] });
  });

  it('times out a slow request', async () => {
    api.use(http.post(`${BASE}/projects`, () => new Promise<Response>(() => undefined)));
    const err: any = await client({ timeoutMs: 100 })
      .post('/projects', { body: { project: {} } })
      .catch((e): any => e);
    expect(err).toBeInstanceOf(NeonTimeoutError);
    expect(err.message).toMatch(/timed out after 100 ms.*check the resource/);
  });

  it('reports malformed JSON clearly', async () => {
    api.use(
      http.get(
        `${BASE}/projects`,
        () => new HttpResponse('{not json', { headers: { 'content-type': 'application/json' } }),
      ),
    );
    await expect(client().get('/projects')).rejects.toThrow(/not valid JSON/);
  });

  it('names the API path the user knows (no /api/v2) when an answer is not JSON, as other errors do', async () => {
    api.use(
      http.all(`${BASE}/projects/:id`, ({ params }) =>
        params.id === 'p-1'
          ? new HttpResponse('{not json', { status: 200 })
          : neonError(404, 'no such project'),
      ),
    );

    const get = await client()
      .get('/projects/{project_id}', { path: { project_id: 'p-1' } })
      .catch((e) => e);
    expect(get.message).toBe(
      'GET /projects/p-1 returned a body that is not valid JSON (HTTP 200). The Neon API may be having trouble; try again later.',
    );
    const patch = await client()
      .patch('/projects/{project_id}', { path: { project_id: 'p-1' }, body: { project: {} } })
      .catch((e) => e);
    expect(patch.message).toBe(
      'PATCH /projects/p-1 was accepted by Neon (HTTP 200) but its answer is not valid JSON. The change may have been applied: check the resource (list or get it) before trying again.',
    );
    // The same path an HTTP error names.
    const http404 = await client()
      .get('/projects/{project_id}', { path: { project_id: 'p-2' } })
      .catch((e) => e);
    expect(http404.message).toMatch(/^GET \/projects\/p-2 failed with HTTP 404/);
  });

  it('stops when the signal aborts', async () => {
    api.use(http.get(`${BASE}/projects`, () => new Promise<Response>(() => undefined)));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    await expect(client().get('/projects', { signal: ac.signal })).rejects.toThrow(NeonAbortedError);
  });

  it('encodes path segments and refuses ones that would navigate', async () => {
    api.use(
      http.get(`${BASE}/projects/:project_id/branches/:branch_id/roles/:role_name`, ({ request }) =>
        HttpResponse.json({ role: { url: request.url } }),
      ),
    );
    const c = client();
    // The fake answers with the URL it was asked for, not with a role: read it as such.
    const res = (await c.get('/projects/{project_id}/branches/{branch_id}/roles/{role_name}', {
      path: { project_id: 'p-1', branch_id: 'br-1', role_name: 'a/b?c#d' },
    })) as unknown as { role: { url: string } };
    expect(res.role.url).toBe(`${BASE}/projects/p-1/branches/br-1/roles/a%2Fb%3Fc%23d`);
    for (const bad of ['..', '.', '']) {
      await expect(c.get('/projects/{project_id}', { path: { project_id: bad } })).rejects.toThrow(
        /must not be empty/,
      );
    }
  });

  it('pages through a list with pagination.next and with pagination.cursor', async () => {
    const { project } = api.fake.seedProject('paged');
    for (let i = 0; i < 7; i++) api.fake.makeBranch(project.id, { name: `b${i}` });
    for (let i = 0; i < 5; i++) api.fake.seedProject(`many-${i}`);
    const c = client();
    const branches = await c.listAll('/projects/{project_id}/branches', 'branches', {
      path: { project_id: project.id },
      pageSize: 3,
    });
    expect(branches.map((b) => b.name).sort()).toEqual(['b0', 'b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'main']);
    const projects = await c.listAll('/projects', 'projects', { pageSize: 2 });
    expect(projects).toHaveLength(6);
    // Three full pages, then an empty one proves the end.
    expect(api.count('GET', '/projects')).toBe(4);
  });
});

describe('waitForOperations', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('polls until every operation finished, reporting progress', async () => {
    const { project } = api.fake.seedProject('ops');
    api.fake.operationPolls = 3;
    const ops = api.fake.startOperations(project.id, [
      { action: 'create_branch' },
      { action: 'start_compute' },
    ]);
    const seen: number[] = [];
    let last: any;
    const done = await waitForOperations(client(), ops as never, {
      initialDelayMs: 1,
      maxDelayMs: 5,
      onProgress: (p) => {
        seen.push(p.done);
        last = p;
      },
    });
    expect(done.map((o) => o.status)).toEqual(['finished', 'finished']);
    // From 0 of 2 to 2 of 2, with the latest state of each.
    expect(seen[0]).toBe(0);
    expect(seen.at(-1)).toBe(2);
    expect(last.total).toBe(2);
    expect(last.operations.map((o: any) => [o.id, o.status])).toEqual(ops.map((o) => [o.id, 'finished']));
    await api.settle();
    expect(api.count('GET', new RegExp(`/projects/${project.id}/operations/`))).toBe(8);
  });

  it('turns a failed operation into an error naming it', async () => {
    const { project } = api.fake.seedProject('ops');
    api.fake.failNextOperation = 'out of disk';
    const [op] = api.fake.startOperations(project.id, [{ action: 'create_timeline' }]);
    const err = await waitForOperations(client(), [op] as never, { initialDelayMs: 1, maxDelayMs: 2 }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(NeonOperationFailedError);
    expect(err.message).toContain(op.id);
    expect(err.message).toMatch(/create_timeline.*failed.*out of disk/);
  });

  it('times out naming the operations still running', async () => {
    const { project } = api.fake.seedProject('ops');
    api.fake.operationPolls = 1_000_000;
    const [op] = api.fake.startOperations(project.id, [{ action: 'start_compute' }]);
    const err = await waitForOperations(client(), [op] as never, {
      initialDelayMs: 5,
      maxDelayMs: 10,
      timeoutMs: 60,
    }).catch((e): any => e);
    expect(err).toBeInstanceOf(NeonOperationTimeoutError);
    expect(err.message).toContain(op.id);
    expect(err.message).toMatch(/get_operation/);
    // A sub-second limit is said in ms (it read "after 0 s").
    expect(err.message).toMatch(/^Gave up waiting after 60 ms; these Neon operations are still running: /);
  });

  it('says the wait it gave up after in seconds when whole, else in ms', () => {
    const op = { id: 'op-1', action: 'start_compute', status: 'running', project_id: 'p-1' };
    const gaveUpAfter = (ms: number) =>
      /^Gave up waiting after ([^;]+);/.exec(new NeonOperationTimeoutError([op], ms).message)?.[1];
    expect(gaveUpAfter(600_000)).toBe('600 s');
    expect(gaveUpAfter(1_000)).toBe('1 s');
    expect(gaveUpAfter(1_500)).toBe('1500 ms');
    expect(gaveUpAfter(999)).toBe('999 ms');
  });

  it('stops polling when aborted (fake clock: no poll in the next 5 s of fake time)', async () => {
    const { project } = api.fake.seedProject('ops');
    api.fake.operationPolls = 1_000_000;
    const [op] = api.fake.startOperations(project.id, [{ action: 'start_compute' }]);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const ac = new AbortController();
    const wait = waitForOperations(client(), [op] as never, {
      initialDelayMs: 5,
      maxDelayMs: 5,
      signal: ac.signal,
    });
    wait.catch(() => undefined);
    const polls = () => api.count('GET', new RegExp(`/projects/${project.id}/operations/`));
    while (polls() < 3) {
      await vi.advanceTimersByTimeAsync(5);
      await api.settle();
    }
    ac.abort();
    await expect(wait).rejects.toThrow(NeonAbortedError);
    await expect(wait).rejects.toThrow(/^Waiting for the operation was cancelled by the client\.$/);
    await vi.advanceTimersByTimeAsync(50);
    await api.settle();
    const after = api.requests.length;
    await vi.advanceTimersByTimeAsync(5_000);
    await api.settle();
    expect(api.requests.length).toBe(after);
  });
});

describe('waitForOperations: statuses and odd answers', () => {
  /** One running operation whose polls answer `status` (or `body`). */
  function polled(answer: (op: any) => unknown) {
    const { project } = api.fake.seedProject('ops');
    const [op] = api.fake.startOperations(project.id, [{ action: 'apply_config' }]);
    op.status = 'running';
    api.use(
      http.get(`${BASE}/projects/:project_id/operations/:operation_id`, () =>
        HttpResponse.json(answer(op) as any),
      ),
    );
    return { op, project };
  }
  const fast = { initialDelayMs: 1, maxDelayMs: 2 };

  for (const status of ['finished', 'skipped']) {
    it(`"${status}" ends the wait`, async () => {
      const { op } = polled((o) => ({ operation: { ...o, status } }));
      const done = await waitForOperations(client(), [op] as never, fast);
      expect(done.map((o) => o.status)).toEqual([status]);
    });
  }

  for (const status of ['failed', 'error', 'cancelled']) {
    it(`"${status}" is a failure naming the operation`, async () => {
      const { op } = polled((o) => ({ operation: { ...o, status, error: 'it broke' } }));
      const err = await waitForOperations(client(), [op] as never, fast).catch((e) => e);
      expect(err).toBeInstanceOf(NeonOperationFailedError);
      expect(err.message).toContain(op.id);
      expect(err.message).toContain(`"${status}"`);
    });
  }

  it('an operation already failed when handed over fails without a poll', async () => {
    const { project } = api.fake.seedProject('ops');
    const [op] = api.fake.startOperations(project.id, [{ action: 'apply_config' }]);
    op.status = 'error';
    await expect(waitForOperations(client(), [op] as never, fast)).rejects.toThrow(NeonOperationFailedError);
    await api.settle();
    expect(api.requests).toHaveLength(0);
  });

  it('nothing to wait for: returns at once and reports 0 of 0', async () => {
    const seen: unknown[] = [];
    const done = await waitForOperations(client(), undefined, {
      ...fast,
      onProgress: (p) => void seen.push(p),
    });
    expect(done).toEqual([]);
    expect(seen).toEqual([{ done: 0, total: 0, operations: [] }]);
    expect(api.requests).toHaveLength(0);
  });

  it('a poll answered without the operation: the change was accepted, check with get_operation', async () => {
    const { op } = polled(() => ({ unexpected: true }));
    const err = await waitForOperations(client(), [op] as never, fast).catch((e) => e);
    expect(err).toBeInstanceOf(NeonOperationCheckError);
    expect(err.message).toMatch(
      /^Neon accepted the change, but checking its progress failed \(Neon answered an operation poll without the operation it was asked about\)\. It was most likely applied or is still running: /,
    );
    expect(err.message).toContain(op.id);
  });

  it('tells the call what it waits for, and (debug) how long it took', async () => {
    const { op } = polled((o) => ({ operation: { ...o, status: 'finished' } }));
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: 5_000 });
    emitted.length = 0;
    const wait = waitForOperations(client(), [op] as never, { initialDelayMs: 100 });
    // Exactly to the poll: its answer comes over real I/O, so a clock moved further could already
    // stand later when it arrives (150 ms on Node 24).
    await vi.advanceTimersByTimeAsync(100);
    await api.settle();
    await wait;
    vi.useRealTimers();
    expect(emitted.filter((e) => e.kind.startsWith('operation_'))).toEqual([
      {
        level: 'info',
        kind: 'operation_wait',
        message: `Waiting for 1 Neon operation(s) to finish: apply_config ${op.id}.`,
      },
      {
        level: 'debug',
        kind: 'operation_done',
        message: `Neon operation(s) apply_config ${op.id} finished after 100 ms.`,
      },
    ]);
  });

  it('scoped to a project: an operation of another project is refused before any poll, naming both', async () => {
    const { op, project } = polled((o) => ({ operation: o }));
    const other = { ...op, project_id: 'p-other' };
    const err = await waitForOperations(client(), [other, { ...other, id: 'op-2' }] as never, {
      ...fast,
      projectId: project.id,
    }).catch((e) => e);
    expect(err.name).toBe('NeonOutOfScopeError');
    expect(err.message).toBe(
      `Neon's answer names operations of another project (${op.id} (apply_config) of project p-other, op-2 (apply_config) of project p-other), outside project ${project.id} that this server is scoped to (--project-id); they were not polled. The request to project ${project.id} was accepted, so the change may have been applied: check the resource (list or get it) before trying again.`,
    );
    // Nothing to wait for under a scope is nothing to refuse.
    await expect(waitForOperations(client(), undefined, { ...fast, projectId: project.id })).resolves.toEqual(
      [],
    );
    // Its own project's operations are followed.
    await expect(
      waitForOperations(client(), [{ ...op, status: 'finished' }] as never, {
        ...fast,
        projectId: project.id,
      }),
    ).resolves.toHaveLength(1);
    await api.settle();
    expect(api.requests).toHaveLength(0);
  });

  it('a poll answer without project_id is taken (Neon may leave it out); an empty answer is not', async () => {
    const { op } = polled(({ project_id: _, ...o }) => ({ operation: { ...o, status: 'finished' } }));
    await expect(waitForOperations(client(), [op] as never, fast)).resolves.toHaveLength(1);
    api.use(
      http.get(
        `${BASE}/projects/:project_id/operations/:operation_id`,
        () => new HttpResponse(null, { status: 200 }),
      ),
    );
    const running = { ...op, status: 'running' };
    await expect(waitForOperations(client(), [running] as never, fast)).rejects.toThrow(
      NeonOperationCheckError,
    );
  });

  it('a poll that fails is a check error saying the change was accepted, not the bare HTTP error', async () => {
    const { op } = polled(() => undefined);
    api.use(http.get(`${BASE}/projects/:project_id/operations/:operation_id`, () => neonError(404, 'gone')));
    const err = await waitForOperations(client(), [op] as never, fast).catch((e) => e);
    expect(err).toBeInstanceOf(NeonOperationCheckError);
    expect(err.message).toMatch(
      /^Neon accepted the change, but checking its progress failed \(GET \/projects\/\S+ failed with HTTP 404/,
    );
  });

  for (const [what, answer] of [
    ['another operation', (o: any) => ({ operation: { ...o, id: 'op-else' } })],
    ['the same id in another project', (o: any) => ({ operation: { ...o, project_id: 'p-other' } })],
  ] as const) {
    it(`a poll answered with ${what} is not followed`, async () => {
      const { op } = polled(answer);
      const err = await waitForOperations(client(), [op] as never, fast).catch((e) => e);
      expect(err).toBeInstanceOf(NeonOperationCheckError);
      expect(err.message).toMatch(/without the operation it was asked about/);
    });
  }

  it('nothing running when handed over: no wait, no events, no poll', async () => {
    const { op } = polled((o) => ({ operation: o }));
    op.status = 'finished';
    emitted.length = 0;
    await waitForOperations(client(), [op] as never, fast);
    await api.settle();
    expect(emitted).toEqual([]);
    expect(api.requests).toHaveLength(0);
  });

  it('an operation without a status is as bad as no operation', async () => {
    const { op } = polled((o) => ({ operation: { id: o.id } }));
    await expect(waitForOperations(client(), [op] as never, fast)).rejects.toThrow(NeonOperationCheckError);
  });

  it('polls at the first delay during the fast phase, then backs off by 1.5 up to the longest delay (fake clock)', async () => {
    const { op, project } = polled((o) => ({ operation: { ...o, status: 'running' } }));
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const wait = waitForOperations(client(), [op] as never, {
      initialDelayMs: 100,
      maxDelayMs: 300,
      fastPhaseMs: 250,
      timeoutMs: 10_000,
    });
    wait.catch(() => undefined);
    const polls = async (ms: number) => {
      await vi.advanceTimersByTimeAsync(ms);
      await api.settle();
      return api.count('GET', `/projects/${project.id}/operations/${op.id}`);
    };
    // Fast phase: every 100 ms (at 100, 200); then 150, 225, 300, 300 …
    expect(await polls(99)).toBe(0);
    expect(await polls(2)).toBe(1);
    expect(await polls(100)).toBe(2);
    expect(await polls(100)).toBe(3); // 300: still 100 apart (the back-off starts after this poll)
    expect(await polls(148)).toBe(3);
    expect(await polls(2)).toBe(4);
    vi.useRealTimers();
  });
});

describe('RateLimiter', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('allows 40 per second per route and 700 per minute overall', async () => {
    vi.useFakeTimers();
    const limiter = new RateLimiter({ perMinute: 700, perSecondPerRoute: 40 });
    for (let i = 0; i < 40; i++) (await limiter.acquire('GET /a'))();
    let granted = false;
    const p = limiter.acquire('GET /a').then(() => {
      granted = true;
    });
    // Another route is not held up by the saturated one.
    (await limiter.acquire('GET /b'))();
    await vi.advanceTimersByTimeAsync(900);
    expect(granted).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    await p;
    expect(granted).toBe(true);
  });

  it('caps the sliding minute', async () => {
    vi.useFakeTimers();
    const limiter = new RateLimiter({ perMinute: 5, perSecondPerRoute: 40 });
    for (let i = 0; i < 5; i++) (await limiter.acquire(`GET /${i}`))();
    let granted = false;
    const p = limiter.acquire('GET /x').then(() => {
      granted = true;
    });
    await vi.advanceTimersByTimeAsync(59_000);
    expect(granted).toBe(false);
    await vi.advanceTimersByTimeAsync(1_100);
    await p;
    expect(granted).toBe(true);
  });

  it('serves waiters in order and never exceeds the per-second limit', async () => {
    vi.useFakeTimers();
    const limiter = new RateLimiter({ perMinute: 700, perSecondPerRoute: 40 });
    const grants: number[] = [];
    const all = Array.from({ length: 100 }, (_, i) =>
      limiter.acquire('GET /a').then((release) => {
        release();
        grants.push(i);
      }),
    );
    await vi.advanceTimersByTimeAsync(3_000);
    await Promise.all(all);
    expect(grants).toEqual([...grants].sort((a, b) => a - b));
    expect(grants).toHaveLength(100);
  });

  it('counts a slot from when its answer arrived, and holds it while the request is in flight', async () => {
    vi.useFakeTimers();
    const limiter = new RateLimiter({ perMinute: 700, perSecondPerRoute: 1 });
    const release = await limiter.acquire('GET /a');
    let granted = false;
    const next = limiter.acquire('GET /a').then((r) => {
      granted = true;
      r();
    });
    // In flight for 3 s: the window does not free the slot meanwhile.
    await vi.advanceTimersByTimeAsync(3_000);
    expect(granted).toBe(false);
    release();
    // Answered at 3 s: the next request may go 1 s after that, not before.
    await vi.advanceTimersByTimeAsync(900);
    expect(granted).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    await next;
    expect(granted).toBe(true);
  });

  it('drops an aborted waiter', async () => {
    const limiter = new RateLimiter({ perMinute: 700, perSecondPerRoute: 1 });
    (await limiter.acquire('GET /a'))();
    const ac = new AbortController();
    const p = limiter.acquire('GET /a', ac.signal);
    expect(limiter.waiting).toBe(1);
    ac.abort(new Error('cancelled'));
    await expect(p).rejects.toThrow('cancelled');
    expect(limiter.waiting).toBe(0);
  });

  it("leaves no abort listener on a caller's signal: not after the grant, not after the abort", async () => {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'],
      now: 0,
    });
    try {
      const limiter = new RateLimiter({ perMinute: 700, perSecondPerRoute: 1 });
      (await limiter.acquire('GET /a'))();
      // Queued, then granted a second later: the listener goes with the grant (a long-lived signal,
      // such as a whole call's, would otherwise collect one per request).
      const granted = new AbortController();
      const later = limiter.acquire('GET /a', granted.signal);
      expect(getEventListeners(granted.signal, 'abort')).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1_001);
      (await later)();
      expect(getEventListeners(granted.signal, 'abort')).toHaveLength(0);
      // Queued, then aborted: the listener was added for one abort only.
      const aborted = new AbortController();
      const gone = limiter.acquire('GET /a', aborted.signal);
      aborted.abort(new Error('cancelled'));
      await expect(gone).rejects.toThrow('cancelled');
      expect(getEventListeners(aborted.signal, 'abort')).toHaveLength(0);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('RateLimiter on a fake clock: windows, wake-ups and odd callers', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Grants, in the order and at the fake time they happened. */
  function recorder() {
    const grants: { name: string; at: number }[] = [];
    const take = (limiter: RateLimiter, route: string, name: string, signal?: AbortSignal) =>
      limiter.acquire(route, signal).then((release) => {
        grants.push({ name, at: Date.now() });
        return release;
      });
    return { grants, take, names: () => grants.map((g) => g.name) };
  }

  it("defaults to Neon's limits: 40 a second per route, 700 a minute", async () => {
    expect(NEON_RATE_LIMITS).toEqual({ perMinute: 700, perSecondPerRoute: 40 });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const limiter = new RateLimiter();
    for (let i = 0; i < 40; i++) (await limiter.acquire('GET /a'))();
    const p = limiter.acquire('GET /a');
    expect(limiter.waiting).toBe(1);
    // 17 more routes at 40 each: 40 + 17 × 40 = 720 > 700, the minute fills at 700.
    for (let r = 0; r < 17; r++)
      for (let i = 0; i < 40 && r * 40 + i < 660; i++) (await limiter.acquire(`GET /r${r}`))();
    const overMinute = limiter.acquire('GET /other');
    expect(limiter.waiting).toBe(2);
    await vi.advanceTimersByTimeAsync(1_001);
    // The per-second window of /a freed, but the minute is full: both wait for it.
    expect(limiter.waiting).toBe(2);
    await vi.advanceTimersByTimeAsync(59_000);
    (await p)();
    (await overMinute)();
    expect(limiter.waiting).toBe(0);
  });

  it('an already aborted signal rejects with its reason and takes no slot', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: 0 });
    const limiter = new RateLimiter({ perMinute: 700, perSecondPerRoute: 1 });
    const ac = new AbortController();
    ac.abort(new Error('gone before asking'));
    await expect(limiter.acquire('GET /a', ac.signal)).rejects.toThrow('gone before asking');
    expect(limiter.waiting).toBe(0);
    // The one slot of the second is still free.
    const { grants, take } = recorder();
    await take(limiter, 'GET /a', 'first');
    expect(grants).toEqual([{ name: 'first', at: 0 }]);
  });

  it('a release called twice does not move its slot later', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: 0 });
    const limiter = new RateLimiter({ perMinute: 700, perSecondPerRoute: 1 });
    const { grants, take } = recorder();
    const release = await limiter.acquire('GET /a');
    release();
    const next = take(limiter, 'GET /a', 'next');
    await vi.advanceTimersByTimeAsync(800);
    release();
    await vi.advanceTimersByTimeAsync(300);
    await next;
    // 1 s after the first release (plus the 1 ms margin), not 1 s after the second.
    expect(grants).toEqual([{ name: 'next', at: 1_001 }]);
  });

  it('a caller arriving when the window has just freed queues behind the waiter of its route', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: 0 });
    const limiter = new RateLimiter({ perMinute: 700, perSecondPerRoute: 1 });
    const { take, names } = recorder();
    (await limiter.acquire('GET /a'))();
    const first = take(limiter, 'GET /a', 'waited').then((r) => r());
    // At 1,000 ms the slot has left the window; the wake-up is due at 1,001.
    await vi.advanceTimersByTimeAsync(1_000);
    const second = take(limiter, 'GET /a', 'late').then((r) => r());
    await vi.advanceTimersByTimeAsync(2_100);
    await Promise.all([first, second]);
    expect(names()).toEqual(['waited', 'late']);
  });

  it('window edges: a slot answered 1 s ago, or open for 300 s, no longer counts', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: 0 });
    const perSecond = new RateLimiter({ perMinute: 700, perSecondPerRoute: 1 });
    (await perSecond.acquire('GET /a'))();
    await vi.advanceTimersByTimeAsync(1_000);
    // Nobody waits, so it is taken at once: exactly 1,000 ms after the answer.
    expect(perSecond.waiting).toBe(0);
    const atEdge = perSecond.acquire('GET /a');
    expect(perSecond.waiting).toBe(0);
    (await atEdge)();
    const open = new RateLimiter({ perMinute: 700, perSecondPerRoute: 1 });
    await open.acquire('GET /a'); // never answered
    await vi.advanceTimersByTimeAsync(299_999);
    open.acquire('GET /a').catch(() => undefined);
    expect(open.waiting).toBe(1);
    const late = new RateLimiter({ perMinute: 700, perSecondPerRoute: 1 });
    await late.acquire('GET /a');
    await vi.advanceTimersByTimeAsync(300_000);
    late.acquire('GET /a');
    expect(late.waiting).toBe(0);
  });

  it('a saturated route does not hold up a waiter of another route behind it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: 0 });
    const limiter = new RateLimiter({ perMinute: 700, perSecondPerRoute: 1 });
    const { grants, take } = recorder();
    (await limiter.acquire('GET /a'))();
    const a1 = take(limiter, 'GET /a', 'a1').then((r) => r());
    const a2 = take(limiter, 'GET /a', 'a2').then((r) => r());
    await vi.advanceTimersByTimeAsync(500);
    (await limiter.acquire('GET /b'))();
    const b1 = take(limiter, 'GET /b', 'b1').then((r) => r());
    await vi.advanceTimersByTimeAsync(3_000);
    await Promise.all([a1, a2, b1]);
    // a2 still waits for /a at 1,501 ms; b1, queued behind it, goes as soon as /b frees.
    expect(grants).toEqual([
      { name: 'a1', at: 1_001 },
      { name: 'b1', at: 1_501 },
      { name: 'a2', at: 2_002 },
    ]);
  });

  it('re-arms its wake-up sooner when a waiter can go earlier than the one it was set for', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: 0 });
    const limiter = new RateLimiter({ perMinute: 700, perSecondPerRoute: 1 });
    const { grants, take } = recorder();
    // /a is held by a request in flight: its waiter can only go when that slot is given up (300 s).
    await limiter.acquire('GET /a');
    const a = take(limiter, 'GET /a', 'a');
    a.catch(() => undefined);
    (await limiter.acquire('GET /b'))();
    const b = take(limiter, 'GET /b', 'b');
    await vi.advanceTimersByTimeAsync(1_100);
    await b;
    expect(grants).toEqual([{ name: 'b', at: 1_001 }]);
  });

  it('gives up on an answer that never came after 300 s, in the second and in the minute window', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: 0 });
    for (const limits of [
      { perMinute: 700, perSecondPerRoute: 1 },
      { perMinute: 1, perSecondPerRoute: 40 },
    ]) {
      const start = Date.now();
      const limiter = new RateLimiter(limits);
      const { grants, take } = recorder();
      await limiter.acquire('GET /a'); // never released
      const next = take(limiter, 'GET /a', 'next');
      await vi.advanceTimersByTimeAsync(299_990);
      expect(grants, JSON.stringify(limits)).toEqual([]);
      await vi.advanceTimersByTimeAsync(20);
      (await next)();
      expect(grants, JSON.stringify(limits)).toEqual([{ name: 'next', at: start + 300_001 }]);
    }
  });

  it('a window full of answered slots frees when the first answer leaves it, not later', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: 0 });
    const limiter = new RateLimiter({ perMinute: 2, perSecondPerRoute: 40 });
    const { grants, take } = recorder();
    const r1 = await limiter.acquire('GET /1');
    const r2 = await limiter.acquire('GET /2');
    await vi.advanceTimersByTimeAsync(5_000);
    r2(); // answered at 5 s
    await vi.advanceTimersByTimeAsync(5_000);
    r1(); // answered at 10 s
    const next = take(limiter, 'GET /3', 'next');
    await vi.advanceTimersByTimeAsync(60_000);
    (await next)();
    expect(grants).toEqual([{ name: 'next', at: 65_001 }]);
  });

  it('tells the call that waits, every second, why it is queued', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const limiter = new RateLimiter({ perMinute: 700, perSecondPerRoute: 1 });
    (await limiter.acquire('GET /a'))();
    emitted.length = 0;
    const p = limiter.acquire('GET /a');
    await vi.advanceTimersByTimeAsync(QUEUE_NOTICE_MS - 1);
    expect(emitted).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(emitted).toEqual([
      {
        level: 'info',
        kind: 'queued',
        message:
          "Queued by the client's rate limiter for 1 s (GET /a; 1 waiting): Neon allows 700 requests a minute and 1 a second per route.",
      },
    ]);
    await vi.advanceTimersByTimeAsync(10);
    (await p)();
    // Granted: no more notices.
    await vi.advanceTimersByTimeAsync(5 * QUEUE_NOTICE_MS);
    expect(emitted).toHaveLength(1);
  });

  it('an aborted waiter gets no more notices, and the others still go in order', async () => {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'],
      now: 0,
    });
    const limiter = new RateLimiter({ perMinute: 700, perSecondPerRoute: 1 });
    (await limiter.acquire('GET /a'))();
    emitted.length = 0;
    const ac = new AbortController();
    const gone = limiter.acquire('GET /a', ac.signal);
    const { take, names } = recorder();
    const stays = take(limiter, 'GET /a', 'stays');
    ac.abort(new Error('cancelled'));
    await expect(gone).rejects.toThrow('cancelled');
    await vi.advanceTimersByTimeAsync(1_100);
    (await stays)();
    expect(names()).toEqual(['stays']);
    // Only the waiter that stayed was reported (queued for 1 s once); the aborted one never.
    expect(emitted.map((e) => e.message)).toEqual([
      "Queued by the client's rate limiter for 1 s (GET /a; 1 waiting): Neon allows 700 requests a minute and 1 a second per route.",
    ]);
  });
});

describe('poll: the one backoff schedule (fake clock)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Runs a poll that never finishes until `until`, recording the fake time of every read. */
  async function readTimes(options: Partial<Parameters<typeof poll>[0]>, advanceMs: number) {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: 0 });
    const reads: number[] = [];
    const p = poll({
      read: async () => {
        reads.push(Date.now());
        return reads.length;
      },
      done: () => false,
      timeoutMs: 1e9,
      ...options,
    });
    p.catch(() => undefined);
    await vi.advanceTimersByTimeAsync(advanceMs);
    return { reads, p };
  }

  it('defaults: every 200 ms for the first 5 s, then growing by half up to 2 s', async () => {
    const { reads } = await readTimes({}, 17_000);
    const gaps = reads.slice(1).map((t, i) => t - reads[i]);
    // 0, 200, …, 5,000 (26 reads 200 apart), then 300, 450, 675, 1,012.5, 1,518.75, then 2,000 each
    expect(gaps.slice(0, 25)).toEqual(Array(25).fill(200));
    expect(gaps.slice(25, 31)).toEqual([300, 450, 675, 1_012, 1_518, 2_000]); // the fake clock fires on whole ms
    expect(gaps.slice(31)).toEqual([2_000, 2_000, 2_000]);
  });

  it('never sleeps past the overall limit, and says it timed out with the last value read', async () => {
    const { reads, p } = await readTimes({ initialDelayMs: 400, fastPhaseMs: 0, timeoutMs: 1_000 }, 2_000);
    // 0, 400, then 600 (the next delay): 1,000 would be past the limit, so the last sleep is cut to it.
    expect(reads).toEqual([0, 400, 1_000]);
    await expect(p).resolves.toEqual({ value: 3, timedOut: true });
  });

  it('stops at the first read that says done, and tells every value read', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: 0 });
    const seen: number[] = [];
    let n = 0;
    const p = poll({
      read: async () => ++n,
      done: (v) => v === 3,
      onValue: (v) => void seen.push(v),
      timeoutMs: 10_000,
      initialDelayMs: 10,
    });
    await vi.advanceTimersByTimeAsync(100);
    await expect(p).resolves.toEqual({ value: 3, timedOut: false });
    expect(seen).toEqual([1, 2, 3]);
  });

  it('sleep: an abort rejects with NeonAbortedError naming what waited; other failures pass through', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: 0 });
    const ac = new AbortController();
    const waiting = sleep(1_000, ac.signal, 'Waiting for the thing');
    ac.abort();
    const err = await waiting.catch((e) => e);
    expect(err).toBeInstanceOf(NeonAbortedError);
    expect(err.message).toContain('Waiting for the thing');
    // Without a name it says "Waiting".
    const unnamed = new AbortController();
    const plain = sleep(1_000, unnamed.signal);
    unnamed.abort();
    await expect(plain).rejects.toThrow(/^Waiting was cancelled by the client\.$/);
    // Not aborted: a finished sleep resolves.
    const done = sleep(50);
    await vi.advanceTimersByTimeAsync(50);
    await expect(done).resolves.toBeUndefined();
  });
});
