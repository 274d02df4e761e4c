/**
 * 1,000 tool calls at once against a fake Neon that enforces Neon's documented limits (700 requests
 * per minute overall, 40 per second per route) and answers 429 past them. Every call succeeds, and
 * the client's limiter keeps the 429s at zero: the client is configured with no retries, so a single
 * 429 would fail a call.
 *
 * 1,000 requests need more than a minute at 700/min, so the big run uses a fake clock (vitest's fake
 * timers drive the client's limiter, its timers and the mock's limiter alike). A smaller run in real
 * time over real loopback HTTP checks the same with real clocks and real latency.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NeonClient } from '../src/client/neon-client.js';
import { RateLimiter } from '../src/client/rate-limiter.js';
import { connect } from './helpers.js';
import { BASE, MockNeonApi, startMockHttpServer } from './mock/http-server.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('1,000 concurrent tool calls under Neon rate limits (fake clock)', () => {
  it('all succeed, with zero 429s, in about the minimum time the limits allow', {
    timeout: 60_000,
  }, async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const t0 = Date.now();
    const mock = new MockNeonApi({ rateLimit: true });
    const projects = Array.from({ length: 5 }, (_, i) => mock.fake.seedProject(`load-${i}`));
    for (const { project, branch } of projects) {
      const [op] = mock.fake.startOperations(project.id, [{ action: 'apply_config', branch_id: branch.id }]);
      op.status = 'finished';
    }
    const ops = [...mock.fake.operations.values()];
    const conn = await connect({
      toolsets: ['all'],
      clientOptions: { fetch: mock.fetch, retries: 0, timeoutMs: 30_000 },
    });

    // Ten tools on ten routes, each one request, spread over five projects.
    const calls: [string, (i: number) => Record<string, unknown>][] = [
      ['get_project', (i) => ({ project_id: projects[i % 5].project.id })],
      ['list_projects', () => ({})],
      [
        'get_branch',
        (i) => ({ project_id: projects[i % 5].project.id, branch_id: projects[i % 5].branch.id }),
      ],
      ['list_branches', (i) => ({ project_id: projects[i % 5].project.id })],
      [
        'get_compute',
        (i) => ({ project_id: projects[i % 5].project.id, compute_id: projects[i % 5].endpoint.id }),
      ],
      [
        'list_databases',
        (i) => ({ project_id: projects[i % 5].project.id, branch_id: projects[i % 5].branch.id }),
      ],
      // (get_role, not list_roles: list_roles also reads the roles made with SQL in the database.)
      [
        'get_role',
        (i) => ({
          project_id: projects[i % 5].project.id,
          branch_id: projects[i % 5].branch.id,
          role: 'neondb_owner',
        }),
      ],
      ['get_operation', (i) => ({ project_id: ops[i % 5].project_id, operation_id: ops[i % 5].id })],
      ['list_operations', (i) => ({ project_id: projects[i % 5].project.id })],
      ['count_branches', (i) => ({ project_id: projects[i % 5].project.id })],
    ];
    const N = 1_000;
    let settled = 0;
    const results = Array.from({ length: N }, (_, i) => {
      const [name, args] = calls[i % calls.length];
      return conn
        .call(name, args(i), { timeout: 600_000 })
        .then((res) => ({ name, res }))
        .finally(() => {
          settled++;
        });
    });
    while (settled < N) await vi.advanceTimersByTimeAsync(100);
    const elapsed = Date.now() - t0;
    const done = await Promise.all(results);

    const failed = done.filter((d) => d.res.isError);
    expect(failed.map((f) => `${f.name}: ${JSON.stringify(f.res.content).slice(0, 200)}`)).toEqual([]);
    expect(mock.limited).toBe(0);
    expect(mock.requests.filter((r) => r.status === 429)).toHaveLength(0);
    expect(mock.requests.length).toBeGreaterThanOrEqual(N);
    // The limits were binding (more than 700 requests cannot fit in one minute) and the limiter did
    // not wait much longer than they require.
    console.info(`1,000 calls: ${elapsed} ms of (fake) time, ${mock.requests.length} requests, 0 429s`);
    expect(elapsed).toBeGreaterThanOrEqual(60_000);
    expect(elapsed).toBeLessThan(75_000);
    // Never more than 40 per route in any second, never more than 700 in any minute (as the mock saw them).
    const byRoute = new Map<string, number[]>();
    for (const r of mock.requests) {
      const list = byRoute.get(r.route ?? r.path) ?? [];
      list.push(r.arrivedAt);
      byRoute.set(r.route ?? r.path, list);
    }
    for (const [route, times] of byRoute) expect(maxInWindow(times, 1_000), route).toBeLessThanOrEqual(40);
    expect(
      maxInWindow(
        mock.requests.map((r) => r.arrivedAt),
        60_000,
      ),
    ).toBeLessThanOrEqual(700);
    await conn.close();
  });
});

describe('the check above is not vacuous', () => {
  it('without the client limiter the same mock answers 429s', async () => {
    const mock = new MockNeonApi({ rateLimit: true });
    const { project } = mock.fake.seedProject('control');
    const client = new NeonClient({
      apiKey: 'napi_control',
      baseUrl: BASE,
      fetch: mock.fetch,
      retries: 0,
      limiter: new RateLimiter({ perMinute: 1e9, perSecondPerRoute: 1e9 }),
    });
    const results = await Promise.allSettled(
      Array.from({ length: 100 }, () =>
        client.get('/projects/{project_id}', { path: { project_id: project.id } }),
      ),
    );
    expect(mock.limited).toBe(60);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(60);
  });
});

describe('a burst in real time over loopback HTTP', () => {
  // Real clocks and real latency: the server counts requests when they arrive, the client when it
  // sends them. The first requests of a burst are slower (new connections), so a client window of
  // exactly 1 s lets the 41st request arrive less than 1 s after the 1st did.
  it('300 requests on one route at once: 40/s, zero 429s from a server enforcing the limit', {
    timeout: 30_000,
  }, async () => {
    const server = await startMockHttpServer({ rateLimit: true });
    try {
      const { project } = server.api.fake.seedProject('burst');
      const client = new NeonClient({ apiKey: 'napi_burst', baseUrl: server.baseUrl, retries: 0 });
      const started = Date.now();
      const results = await Promise.allSettled(
        Array.from({ length: 300 }, () =>
          client.get('/projects/{project_id}', { path: { project_id: project.id } }),
        ),
      );
      const elapsed = Date.now() - started;
      const rejected = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
      expect(
        { failed: rejected.length, served429: server.api.limited, first: String(rejected[0]?.reason ?? '') },
        'calls failed by a 429 (the client has no retries here)',
      ).toEqual({ failed: 0, served429: 0, first: '' });
      // 300 at 40/s: at least 7 s. How little more it takes is the fake-clock test's business (above):
      // an upper bound in real time measures how busy this machine is, not the limiter.
      expect(elapsed).toBeGreaterThanOrEqual(7_000);
    } finally {
      await server.close();
    }
  });
});

/** The largest number of timestamps in any window of `ms`. */
function maxInWindow(times: number[], ms: number): number {
  const t = [...times].sort((a, b) => a - b);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < t.length; hi++) {
    while (t[hi] - t[lo] >= ms) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}
