import { http } from 'msw';
import { afterEach, describe, expect, it } from 'vitest';
import { NeonAbortedError } from '../src/client/errors.js';
import { type ClientEvent, clientEvents } from '../src/client/events.js';
import { NeonClient } from '../src/client/neon-client.js';
import { waitForOperations } from '../src/neon/operations.js';
import { sleep } from '../src/neon/poll.js';
import { BASE, connect, TEST_KEY, useMockApi } from './helpers.js';
import { neonError } from './mock/neon-fake.js';

const api = useMockApi();
let conn: Awaited<ReturnType<typeof connect>>;
afterEach(() => conn?.close());

describe('list_operations', () => {
  it('lists operations newest first, compactly, and pages with next_cursor', async () => {
    const { project, branch } = api.fake.seedProject();
    const ops = api.fake.startOperations(
      project.id,
      ['create_branch', 'start_compute', 'apply_config', 'suspend_compute', 'apply_config'].map((action) => ({
        action,
        branch_id: branch.id,
      })),
    );
    for (const op of ops) op.status = 'finished';
    conn = await connect({ toolsets: ['operations'] });
    const first = await conn.ok('list_operations', { project_id: project.id, limit: 3 });
    expect(first.operations.map((o: any) => o.id)).toEqual([ops[4].id, ops[3].id, ops[2].id]);
    expect(first.operations[0]).toEqual({
      id: ops[4].id,
      action: 'apply_config',
      status: 'finished',
      branch_id: branch.id,
      created_at: expect.any(String),
      total_duration_ms: 0,
    });
    expect(first.next_cursor).toBe(ops[2].id);
    const second = await conn.ok('list_operations', {
      project_id: project.id,
      limit: 3,
      cursor: first.next_cursor,
    });
    expect(second.operations.map((o: any) => o.id)).toEqual([ops[1].id, ops[0].id]);
    expect(second.next_cursor).toBeUndefined();
  });

  it('shows the error of a failed operation', async () => {
    const { project } = api.fake.seedProject();
    const [op] = api.fake.startOperations(project.id, [{ action: 'start_compute' }]);
    Object.assign(op, { status: 'failed', error: 'disk full' });
    conn = await connect({ toolsets: ['operations'] });
    const out = await conn.ok('list_operations', { project_id: project.id });
    expect(out.operations).toEqual([
      expect.objectContaining({ id: op.id, status: 'failed', error: 'disk full' }),
    ]);
  });

  it('retries a 500 on the list (a GET)', async () => {
    const { project } = api.fake.seedProject();
    let n = 0;
    api.use(
      http.get(`${BASE}/projects/:project_id/operations`, () =>
        n++ < 2 ? neonError(500, 'boom') : undefined,
      ),
    );
    conn = await connect({ toolsets: ['operations'] });
    expect((await conn.ok('list_operations', { project_id: project.id })).operations).toEqual([]);
    await api.settle();
    expect(api.count('GET', `/projects/${project.id}/operations`)).toBe(3);
  });
});

describe('get_operation', () => {
  it('gets one operation in full', async () => {
    const { project } = api.fake.seedProject();
    const [op] = api.fake.startOperations(project.id, [{ action: 'create_timeline' }]);
    op.pollsLeft = 5;
    conn = await connect({ toolsets: ['operations'] });
    const out = await conn.ok('get_operation', { project_id: project.id, operation_id: op.id });
    expect(out.operation).toMatchObject({
      id: op.id,
      action: 'create_timeline',
      status: 'running',
      failures_count: 0,
    });
    expect(out.operation).not.toHaveProperty('pollsLeft');
  });

  it('names a missing operation', async () => {
    const { project } = api.fake.seedProject();
    conn = await connect({ toolsets: ['operations'] });
    const id = '00000000-0000-4000-8000-000000000000';
    const err = await conn.fails('get_operation', { project_id: project.id, operation_id: id });
    expect(err).toMatch(/HTTP 404/);
    expect(err).toContain(`operation "${id}" in project "${project.id}"`);
  });
});

describe('waitForOperations: several operations at once', () => {
  it('names each running operation in the wait event and the done event, comma-separated', async () => {
    const { project, branch } = api.fake.seedProject();
    const ops = api.fake.startOperations(project.id, [
      { action: 'create_branch', branch_id: branch.id },
      { action: 'start_compute', branch_id: branch.id },
    ]);
    const events: ClientEvent[] = [];
    const client = new NeonClient({ apiKey: TEST_KEY, baseUrl: BASE, retryDelayMs: 1 });
    const done = await clientEvents.run(
      (e) => void events.push(e),
      () => waitForOperations(client, ops as never, { initialDelayMs: 1, maxDelayMs: 2 }),
    );
    expect(done.map((o) => [o.id, o.status])).toEqual(ops.map((o) => [o.id, 'finished']));
    const named = `create_branch ${ops[0].id}, start_compute ${ops[1].id}`;
    expect(events.map((e) => [e.level, e.kind])).toEqual([
      ['info', 'operation_wait'],
      ['debug', 'operation_done'],
    ]);
    expect(events[0].message).toBe(`Waiting for 2 Neon operation(s) to finish: ${named}.`);
    expect(events[1].message).toMatch(
      new RegExp(`^Neon operation\\(s\\) ${named} finished after \\d+ ms\\.$`),
    );
  });
});

describe('sleep', () => {
  it('a failure that is not an abort passes through as is, not as a cancellation', async () => {
    // Node fails on a signal that is not an AbortSignal: the caller's mistake, not a cancel by the client.
    const err = await sleep(1, { aborted: false } as never, 'Waiting for the thing').catch((e) => e);
    expect(err).not.toBeInstanceOf(NeonAbortedError);
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).not.toMatch(/cancelled/);
  });
});
