import { http } from 'msw';
import { afterEach, describe, expect, it } from 'vitest';
import { BASE, connect, text, useMockApi } from './helpers.js';
import { neonError } from './mock/neon-fake.js';

const api = useMockApi();
let conn: Awaited<ReturnType<typeof connect>>;
afterEach(() => conn?.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function requests() {
  await api.settle();
  return api.requests;
}
async function count(method: string, path: string | RegExp) {
  await api.settle();
  return api.count(method, path);
}
const allFinished = () => [...api.fake.operations.values()].every((o) => o.status === 'finished');

describe('list_computes and get_compute', () => {
  it('lists the computes of a project or of one branch, compactly', async () => {
    const { project, branch: main, endpoint } = api.fake.seedProject();
    const dev = api.fake.makeBranch(project.id, { name: 'dev', parent_id: main.id });
    const devEp = api.fake.makeEndpoint(project.id, dev.id, 'read_write');
    const replica = api.fake.makeEndpoint(project.id, dev.id, 'read_only');
    conn = await connect({ toolsets: ['computes'] });
    const all = await conn.ok('list_computes', { project_id: project.id });
    expect(all.computes.map((c: any) => c.id).sort()).toEqual([endpoint.id, devEp.id, replica.id].sort());
    expect(all.computes[0]).not.toHaveProperty('settings');
    expect(all.computes[0]).toHaveProperty('host');
    const ofDev = await conn.ok('list_computes', { project_id: project.id, branch_id: dev.id });
    expect(ofDev.computes.map((c: any) => [c.id, c.type])).toEqual([
      [devEp.id, 'read_write'],
      [replica.id, 'read_only'],
    ]);
    expect(await count('GET', `/projects/${project.id}/branches/${dev.id}/endpoints`)).toBe(1);
  });

  it('gets one compute in full and names a missing one', async () => {
    const { project, endpoint } = api.fake.seedProject();
    conn = await connect({ toolsets: ['computes'] });
    const out = await conn.ok('get_compute', { project_id: project.id, compute_id: endpoint.id });
    expect(out.compute).toMatchObject({ id: endpoint.id, settings: {}, pooler_mode: 'transaction' });
    const err = await conn.fails('get_compute', { project_id: project.id, compute_id: 'ep-nope-1' });
    expect(err).toMatch(/HTTP 404/);
    expect(err).toMatch(/endpoint "ep-nope-1" in project "/);
  });
});

describe('create_compute', () => {
  it('adds a read replica, waits for it and answers with the compute as it is now', async () => {
    const { project, branch } = api.fake.seedProject();
    conn = await connect({ toolsets: ['computes'] });
    const progress: string[] = [];
    const res = await conn.call(
      'create_compute',
      {
        project_id: project.id,
        branch_id: branch.id,
        type: 'read_only',
        min_cu: 0.25,
        max_cu: 1,
        suspend_timeout_seconds: -1,
        pooler: true,
        name: 'reports',
      },
      { onprogress: (p) => progress.push(String(p.message)) },
    );
    expect(res.isError, text(res)).toBeFalsy();
    const out = res.structuredContent as any;
    expect(out.compute).toMatchObject({
      type: 'read_only',
      branch_id: branch.id,
      autoscaling_limit_max_cu: 1,
      suspend_timeout_seconds: -1,
      pooler_enabled: true,
      name: 'reports',
    });
    expect(api.fake.endpoints.get(out.compute.id)?.type).toBe('read_only');
    const reqs = await requests();
    expect(reqs.find((r) => r.method === 'POST')?.body).toEqual({
      endpoint: {
        branch_id: branch.id,
        type: 'read_only',
        autoscaling_limit_min_cu: 0.25,
        autoscaling_limit_max_cu: 1,
        suspend_timeout_seconds: -1,
        pooler_enabled: true,
        name: 'reports',
      },
    });
    // Answer re-read after the operation finished.
    expect(allFinished()).toBe(true);
    expect(reqs.at(-1)).toMatchObject({
      method: 'GET',
      path: `/projects/${project.id}/endpoints/${out.compute.id}`,
    });
    expect(progress.at(-1)).toMatch(/1\/1 Neon operations finished/);
  });

  it('turns the 409 for a second read-write compute into a clear error', async () => {
    const { project, branch } = api.fake.seedProject();
    conn = await connect({ toolsets: ['computes'] });
    const err = await conn.fails('create_compute', {
      project_id: project.id,
      branch_id: branch.id,
      type: 'read_write',
    });
    expect(err).toMatch(/HTTP 409: branch already has a read-write endpoint/);
    expect(api.fake.endpointsOf(project.id, branch.id)).toHaveLength(1);
  });

  it('refuses an unknown type and an inverted size range before sending', async () => {
    const { project, branch } = api.fake.seedProject();
    conn = await connect({ toolsets: ['computes'] });
    const base = { project_id: project.id, branch_id: branch.id };
    expect(await conn.fails('create_compute', { ...base, type: 'big' })).toMatch(/type/);
    expect(await conn.fails('create_compute', { ...base, type: 'read_only', min_cu: 2, max_cu: 1 })).toMatch(
      /min_cu \(2\) must not be greater than max_cu \(1\)/,
    );
    expect(await conn.fails('create_compute', { ...base, type: 'read_only', max_cu: 0.1 })).toMatch(/max_cu/);
    expect(await requests()).toHaveLength(0);
  });

  it('stops polling when cancelled', async () => {
    const { project, branch } = api.fake.seedProject();
    api.fake.operationPolls = 100_000;
    conn = await connect({ toolsets: ['computes'] });
    const abort = new AbortController();
    const call = conn.call(
      'create_compute',
      { project_id: project.id, branch_id: branch.id, type: 'read_only' },
      { signal: abort.signal },
    );
    const polls = () => api.count('GET', /\/operations\//);
    for (let i = 0; i < 500 && polls() < 2; i++) {
      await api.settle();
      await sleep(5);
    }
    expect(polls()).toBeGreaterThanOrEqual(2);
    abort.abort();
    await expect(call).rejects.toThrow();
    await sleep(50);
    await api.settle();
    const after = polls();
    await sleep(300);
    await api.settle();
    expect(polls()).toBe(after);
  });
});

describe('update_compute and delete_compute', () => {
  it('changes autoscaling, suspend timeout, pooler and disabled', async () => {
    const { project, endpoint } = api.fake.seedProject();
    conn = await connect({ toolsets: ['computes'] });
    const out = await conn.ok('update_compute', {
      project_id: project.id,
      compute_id: endpoint.id,
      min_cu: 1,
      max_cu: 4,
      suspend_timeout_seconds: 3600,
      disabled: true,
      pooler: true,
    });
    expect(out.compute).toMatchObject({
      autoscaling_limit_min_cu: 1,
      autoscaling_limit_max_cu: 4,
      suspend_timeout_seconds: 3600,
      disabled: true,
      pooler_enabled: true,
    });
    expect(api.fake.endpoints.get(endpoint.id)).toMatchObject({
      autoscaling_limit_max_cu: 4,
      disabled: true,
    });
    expect((await requests()).find((r) => r.method === 'PATCH')?.body).toEqual({
      endpoint: {
        autoscaling_limit_min_cu: 1,
        autoscaling_limit_max_cu: 4,
        suspend_timeout_seconds: 3600,
        disabled: true,
        pooler_enabled: true,
      },
    });
    expect(allFinished()).toBe(true);
  });

  it('refuses an update without changes', async () => {
    const { project, endpoint } = api.fake.seedProject();
    conn = await connect({ toolsets: ['computes'] });
    expect(await conn.fails('update_compute', { project_id: project.id, compute_id: endpoint.id })).toMatch(
      /Nothing to change/,
    );
    expect(await requests()).toHaveLength(0);
  });

  it('deletes a compute, which disappears from the list', async () => {
    const { project, branch, endpoint } = api.fake.seedProject();
    conn = await connect({ toolsets: ['computes'] });
    const out = await conn.ok('delete_compute', { project_id: project.id, compute_id: endpoint.id });
    expect(out).toMatchObject({ deleted: true, compute: { id: endpoint.id } });
    expect(api.fake.endpoints.has(endpoint.id)).toBe(false);
    const list = await conn.ok('list_computes', { project_id: project.id, branch_id: branch.id });
    expect(list.computes).toEqual([]);
    expect(allFinished()).toBe(true);
  });
});

describe('start, suspend and restart', () => {
  it('starts, suspends and restarts a compute, waiting for each', async () => {
    const { project, endpoint } = api.fake.seedProject();
    conn = await connect({ toolsets: ['computes'] });
    const args = { project_id: project.id, compute_id: endpoint.id };
    expect((await conn.ok('start_compute', args)).compute.current_state).toBe('active');
    expect((await conn.ok('suspend_compute', args)).compute.current_state).toBe('idle');
    expect((await conn.ok('restart_compute', args)).compute.current_state).toBe('active');
    const ops = [...api.fake.operations.values()];
    expect(ops.map((o) => o.action)).toEqual([
      'start_compute',
      'suspend_compute',
      'suspend_compute',
      'start_compute',
    ]);
    expect(allFinished()).toBe(true);
  });

  it('reports a failed start with the operation ID and action', async () => {
    const { project, endpoint } = api.fake.seedProject();
    api.fake.failNextOperation = 'disk full';
    conn = await connect({ toolsets: ['computes'] });
    const err = await conn.fails('start_compute', { project_id: project.id, compute_id: endpoint.id });
    const op = [...api.fake.operations.values()][0];
    expect(op.status).toBe('failed');
    expect(err).toContain(`Neon operation ${op.id} (start_compute) ended with status "failed": disk full`);
  });

  it('retries a start answered 423 once; does not retry a suspend answered 500', async () => {
    const { project, endpoint } = api.fake.seedProject();
    let n = 0;
    api.use(
      http.post(`${BASE}/projects/:project_id/endpoints/:endpoint_id/start`, () =>
        n++ === 0 ? neonError(423, 'project is locked', 'LOCKED') : undefined,
      ),
      http.post(`${BASE}/projects/:project_id/endpoints/:endpoint_id/suspend`, () => neonError(500, 'oops')),
    );
    conn = await connect({ toolsets: ['computes'] });
    const args = { project_id: project.id, compute_id: endpoint.id };
    expect((await conn.ok('start_compute', args)).compute.current_state).toBe('active');
    expect(await count('POST', `/projects/${project.id}/endpoints/${endpoint.id}/start`)).toBe(2);
    const err = await conn.fails('suspend_compute', args);
    expect(await count('POST', `/projects/${project.id}/endpoints/${endpoint.id}/suspend`)).toBe(1);
    expect(err).toMatch(/HTTP 500.*check the resource before retrying/);
  });

  it('annotates lifecycle actions as ACT and delete as destructive', async () => {
    conn = await connect({ toolsets: ['computes'] });
    const { tools } = await conn.mcp.listTools();
    const t = (name: string) => tools.find((x) => x.name === name)?.annotations;
    expect(t('restart_compute')).toMatchObject({ readOnlyHint: false, destructiveHint: false });
    expect(t('delete_compute')).toMatchObject({ destructiveHint: true });
    expect(t('list_computes')).toMatchObject({ readOnlyHint: true });
    expect(t('update_compute')).toMatchObject({ idempotentHint: true, destructiveHint: false });
  });
});
