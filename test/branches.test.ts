import { http } from 'msw';
import { afterEach, describe, expect, it } from 'vitest';
import { withToken } from './confirm-token.js';
import { BASE, connect, text, useMockApi } from './helpers.js';
import { neonError } from './mock/neon-fake.js';

const api = useMockApi();
let conn: Awaited<ReturnType<typeof connect>>;
afterEach(() => conn?.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Requests seen so far, once msw has recorded all of them. */
async function requests() {
  await api.settle();
  return api.requests;
}
async function count(method: string, path: string | RegExp) {
  await api.settle();
  return api.count(method, path);
}
async function until(cond: () => boolean, what: string) {
  for (let i = 0; i < 500; i++) {
    await api.settle();
    if (cond()) return;
    await sleep(5);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('list_branches and count_branches', () => {
  it('lists a compact summary, filters with search and pages with next_cursor', async () => {
    const { project, branch: main } = api.fake.seedProject();
    for (let i = 0; i < 5; i++) api.fake.makeBranch(project.id, { name: `feat-${i}`, parent_id: main.id });
    api.fake.makeBranch(project.id, { name: 'other', parent_id: main.id, protected: true });
    conn = await connect();

    const first = await conn.ok('list_branches', { project_id: project.id, search: 'feat', limit: 3 });
    expect(first.branches).toHaveLength(3);
    expect(first.next_cursor).toBeTruthy();
    expect(first.branches[0]).toMatchObject({ parent_id: main.id, default: false, current_state: 'ready' });
    expect(first.branches[0]).not.toHaveProperty('cpu_used_sec');
    const second = await conn.ok('list_branches', {
      project_id: project.id,
      search: 'feat',
      limit: 3,
      cursor: first.next_cursor,
    });
    expect(second.branches).toHaveLength(2);
    expect(second.next_cursor).toBeUndefined();
    const names = [...first.branches, ...second.branches].map((b: any) => b.name).sort();
    expect(names).toEqual(['feat-0', 'feat-1', 'feat-2', 'feat-3', 'feat-4']);

    const all = await conn.ok('list_branches', { project_id: project.id });
    expect(all.branches.find((b: any) => b.name === 'main')).toMatchObject({
      default: true,
      protected: false,
    });
    expect(all.branches.find((b: any) => b.name === 'other')).toMatchObject({ protected: true });
  });

  it('counts branches, with and without search', async () => {
    const { project, branch: main } = api.fake.seedProject();
    api.fake.makeBranch(project.id, { name: 'dev-a', parent_id: main.id });
    api.fake.makeBranch(project.id, { name: 'dev-b', parent_id: main.id });
    conn = await connect();
    expect(await conn.ok('count_branches', { project_id: project.id })).toEqual({ count: 3 });
    expect(await conn.ok('count_branches', { project_id: project.id, search: 'dev' })).toEqual({ count: 2 });
    expect((await requests()).at(-1)?.query.get('search')).toBe('dev');
  });
});

describe('get_branch', () => {
  it('answers with the branch, its computes and its databases', async () => {
    const { project, branch, endpoint } = api.fake.seedProject();
    api.fake.makeDatabase(branch.id, 'analytics', 'neondb_owner');
    conn = await connect();
    const out = await conn.ok('get_branch', { project_id: project.id, branch_id: branch.id });
    expect(out.branch).toMatchObject({ id: branch.id, name: 'main', default: true });
    expect(out.computes).toEqual([expect.objectContaining({ id: endpoint.id, type: 'read_write' })]);
    expect(out.databases).toEqual([
      { name: 'neondb', owner_name: 'neondb_owner' },
      { name: 'analytics', owner_name: 'neondb_owner' },
    ]);
  });

  it('names the branch that was not found', async () => {
    const { project } = api.fake.seedProject();
    conn = await connect();
    const err = await conn.fails('get_branch', { project_id: project.id, branch_id: 'br-missing-1' });
    expect(err).toMatch(/HTTP 404/);
    expect(err).toMatch(/branch "br-missing-1" in project "/);
  });

  it('retries a 500 on a GET and then succeeds', async () => {
    const { project, branch } = api.fake.seedProject();
    let calls = 0;
    api.use(
      http.get(`${BASE}/projects/:project_id/branches/:branch_id`, () => {
        if (calls++ === 0) return neonError(500, 'internal');
        return undefined;
      }),
    );
    conn = await connect();
    const out = await conn.ok('get_branch', { project_id: project.id, branch_id: branch.id });
    expect(out.branch.id).toBe(branch.id);
    expect(await count('GET', `/projects/${project.id}/branches/${branch.id}`)).toBe(2);
  });
});

describe('create_branch', () => {
  it('creates a branch with a compute, waits for every operation and returns a connection string', async () => {
    const { project, branch: main } = api.fake.seedProject();
    conn = await connect();
    const progress: string[] = [];
    const res = await conn.call(
      'create_branch',
      { project_id: project.id, name: 'feature-x', min_cu: 0.5, max_cu: 2, suspend_timeout_seconds: 600 },
      { onprogress: (p) => progress.push(String(p.message)) },
    );
    expect(res.isError, text(res)).toBeFalsy();
    const out = res.structuredContent as any;
    expect(out.branch).toMatchObject({ name: 'feature-x', parent_id: main.id, current_state: 'ready' });
    // The parent by name and ID: no lookup needed to say what the branch was made from.
    expect(out.parent).toEqual({ id: main.id, name: main.name });
    expect(out.compute).toMatchObject({ type: 'read_write', branch_id: out.branch.id });
    expect(out.connection_uri).toMatch(
      new RegExp(
        `^postgresql://neondb_owner:pw-[0-9a-f]+@${out.compute.id}\\.[^/]+/neondb\\?sslmode=require$`,
      ),
    );
    expect(out).toMatchObject({ database: 'neondb', role: 'neondb_owner', databases: ['neondb'] });

    // The request asked for a read-write compute of the requested size.
    const post = (await requests()).find(
      (r) => r.method === 'POST' && r.path === `/projects/${project.id}/branches`,
    );
    // An expiry by default (--branch-ttl, 7 days), said in the answer.
    const sent = post?.body as any;
    const ttl = Date.parse(sent.branch.expires_at) - Date.now();
    expect(ttl).toBeGreaterThan(7 * 86_400_000 - 60_000);
    expect(ttl).toBeLessThanOrEqual(7 * 86_400_000);
    expect(out.branch.expires_at).toBe(sent.branch.expires_at);
    expect(out.expiry).toBe(
      `Neon deletes this branch at ${sent.branch.expires_at} (neon-mcp's default, --branch-ttl 168h); update_branch with expires_at null keeps it.`,
    );
    expect(post?.body).toEqual({
      branch: { name: 'feature-x', expires_at: sent.branch.expires_at },
      endpoints: [
        {
          type: 'read_write',
          autoscaling_limit_min_cu: 0.5,
          autoscaling_limit_max_cu: 2,
          suspend_timeout_seconds: 600,
        },
      ],
    });
    // Both operations (branch and compute) were polled until finished before the answer.
    const ops = [...api.fake.operations.values()];
    expect(ops.map((o) => o.action).sort()).toEqual(['create_branch', 'start_compute']);
    expect(ops.every((o) => o.status === 'finished')).toBe(true);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toMatch(/2\/2 Neon operations finished/);

    // The new branch shows up in the list.
    const list = await conn.ok('list_branches', { project_id: project.id });
    expect(list.branches.map((b: any) => b.name)).toContain('feature-x');
  });

  it('still reports the created branch when the connection string cannot be had', async () => {
    const { project } = api.fake.seedProject();
    api.use(
      http.get(`${BASE}/projects/:project_id/connection_uri`, () =>
        neonError(403, 'not allowed', 'FORBIDDEN'),
      ),
    );
    conn = await connect();
    const out = await conn.ok('create_branch', { project_id: project.id, name: 'no-uri' });
    expect(out.branch.name).toBe('no-uri');
    expect(out.connection_uri).toBeUndefined();
    expect(out.note).toMatch(/^Branch created, but no connection string: .*HTTP 403/);
    expect(api.fake.branchesOf(project.id).map((b) => b.name)).toContain('no-uri');
  });

  it('creates a branch without a compute from a point in time of a chosen parent', async () => {
    const { project, branch: main } = api.fake.seedProject();
    const dev = api.fake.makeBranch(project.id, { name: 'dev', parent_id: main.id });
    conn = await connect();
    const out = await conn.ok('create_branch', {
      project_id: project.id,
      name: 'snapshot',
      parent_id: dev.id,
      parent_timestamp: '2026-01-31T12:00:00Z',
      protected: true,
      expires_at: '2026-12-31T00:00:00Z',
      compute: false,
    });
    expect(out.branch).toMatchObject({ name: 'snapshot', parent_id: dev.id, protected: true });
    expect(out.compute).toBeUndefined();
    expect(out.connection_uri).toBeUndefined();
    expect(out.note).toMatch(/create_compute/);
    const post = (await requests()).find((r) => r.method === 'POST');
    expect(post?.body).toEqual({
      branch: {
        name: 'snapshot',
        parent_id: dev.id,
        parent_timestamp: '2026-01-31T12:00:00Z',
        protected: true,
        expires_at: '2026-12-31T00:00:00Z',
      },
    });
    expect(api.fake.endpointsOf(project.id, out.branch.id)).toHaveLength(0);
  });

  it('blames an unknown parent, not the project', async () => {
    const { project } = api.fake.seedProject();
    conn = await connect();
    const err = await conn.fails('create_branch', { project_id: project.id, parent_id: 'br-nope-123' });
    expect(err).toMatch(new RegExp(`parent branch br-nope-123 does not exist in project ${project.id}`));
    expect(err).toMatch(/list_branches/);
    expect(err).not.toMatch(/Not found: project/);
    // An unknown project is still the project's fault.
    const noProject = await conn.fails('create_branch', {
      project_id: 'nope-404404',
      parent_id: 'br-nope-123',
    });
    expect(noProject).toMatch(/HTTP 404/);
    expect(noProject).not.toMatch(/parent branch br-nope-123 does not exist/);
  });

  it('refuses contradictory arguments before sending anything', async () => {
    const { project } = api.fake.seedProject();
    conn = await connect();
    expect(
      await conn.fails('create_branch', {
        project_id: project.id,
        parent_timestamp: '2026-01-31T12:00:00Z',
        parent_lsn: '0/1E19478',
      }),
    ).toMatch(/parent_timestamp or parent_lsn, not both/);
    expect(await conn.fails('create_branch', { project_id: project.id, compute: false, max_cu: 2 })).toMatch(
      /set compute to true/,
    );
    expect(await conn.fails('create_branch', { project_id: project.id, min_cu: 4, max_cu: 1 })).toMatch(
      /min_cu \(4\) must not be greater than max_cu \(1\)/,
    );
    expect(await conn.fails('create_branch', { project_id: project.id, parent_lsn: 'yesterday' })).toMatch(
      /LSN/,
    );
    expect(await requests()).toHaveLength(0);
  });

  it('turns a 409 from Neon into a clear error', async () => {
    const { project } = api.fake.seedProject();
    conn = await connect();
    const err = await conn.fails('create_branch', { project_id: project.id, name: 'main' });
    expect(err).toMatch(/HTTP 409: branch with name "main" already exists/);
    expect(err).toMatch(/Pick another name/);
    expect(api.fake.branchesOf(project.id)).toHaveLength(1);
  });

  it('reports a failed operation with its ID and action', async () => {
    const { project } = api.fake.seedProject();
    api.fake.failNextOperation = 'disk full';
    conn = await connect();
    const err = await conn.fails('create_branch', { project_id: project.id, name: 'doomed' });
    const failed = [...api.fake.operations.values()].find((o) => o.status === 'failed');
    expect(failed).toBeDefined();
    expect(err).toContain(`Neon operation ${failed!.id} (create_branch)`);
    expect(err).toMatch(/"failed": disk full/);
    expect(err).toMatch(/get_operation/);
  });

  it('stops polling when the client cancels mid-wait', async () => {
    const { project } = api.fake.seedProject();
    api.fake.operationPolls = 100_000;
    conn = await connect();
    const abort = new AbortController();
    const call = conn.call(
      'create_branch',
      { project_id: project.id, name: 'slow' },
      { signal: abort.signal },
    );
    const opsGets = () => api.count('GET', /\/operations\//);
    await until(() => opsGets() >= 2, 'polling to start');
    expect(await count('POST', `/projects/${project.id}/branches`)).toBe(1);
    abort.abort();
    await expect(call).rejects.toThrow();
    await sleep(50);
    await api.settle();
    const afterAbort = opsGets();
    await sleep(300);
    await api.settle();
    expect(opsGets()).toBe(afterAbort);
    expect([...api.fake.operations.values()].every((o) => o.status === 'running')).toBe(true);
  });

  it('retries a POST answered 423 Locked once and succeeds', async () => {
    const { project } = api.fake.seedProject();
    let calls = 0;
    api.use(
      http.post(`${BASE}/projects/:project_id/branches`, () => {
        if (calls++ === 0) return neonError(423, 'project already has running operations', 'LOCKED');
        return undefined;
      }),
    );
    conn = await connect();
    const out = await conn.ok('create_branch', { project_id: project.id, name: 'after-lock' });
    expect(out.branch.name).toBe('after-lock');
    expect(await count('POST', `/projects/${project.id}/branches`)).toBe(2);
    expect(api.fake.branchesOf(project.id).filter((b) => b.name === 'after-lock')).toHaveLength(1);
  });

  it('does not retry a POST answered 500 and says to check before retrying', async () => {
    const { project } = api.fake.seedProject();
    api.use(http.post(`${BASE}/projects/:project_id/branches`, () => neonError(500, 'internal error')));
    conn = await connect();
    const err = await conn.fails('create_branch', { project_id: project.id, name: 'maybe' });
    expect(await count('POST', `/projects/${project.id}/branches`)).toBe(1);
    expect(err).toMatch(/HTTP 500/);
    expect(err).toMatch(/may or may not have been applied: check the resource before retrying/);
  });
});

describe('create_branch: expiry (--branch-ttl) and several names', () => {
  const expiryOf = async (conn: Awaited<ReturnType<typeof connect>>, args: Record<string, unknown>) => {
    const out = await conn.ok('create_branch', { compute: false, ...args });
    return { out, sent: out.branch.expires_at as string | undefined };
  };

  it('sets --branch-ttl when given, none when 0, none on a protected branch, and keeps an expires_at asked for', async () => {
    const { project } = api.fake.seedProject();
    conn = await connect({ branchTtlMs: 24 * 3_600_000 });
    const day = await expiryOf(conn, { project_id: project.id, name: 'b-day' });
    expect(Date.parse(day.sent!) - Date.now()).toBeGreaterThan(24 * 3_600_000 - 60_000);
    expect(Date.parse(day.sent!) - Date.now()).toBeLessThanOrEqual(24 * 3_600_000);
    expect(day.out.expiry).toMatch(/--branch-ttl 24h/);
    const prot = await expiryOf(conn, { project_id: project.id, name: 'b-prot', protected: true });
    expect(prot.sent).toBeUndefined();
    expect(prot.out.expiry).toBe('No expiry: it stays until deleted.');
    const asked = '2031-01-01T00:00:00Z';
    const own = await expiryOf(conn, { project_id: project.id, name: 'b-own', expires_at: asked });
    expect(own.sent).toBe(asked);
    expect(own.out.expiry).not.toMatch(/default/);
    await conn.close();
    conn = await connect({ branchTtlMs: 0 });
    const off = await expiryOf(conn, { project_id: project.id, name: 'b-off' });
    expect(off.sent).toBeUndefined();
    const posts = (await requests()).filter((r) => r.method === 'POST' && r.path.endsWith('/branches'));
    expect(posts.map((r) => (r.body as any).branch.expires_at !== undefined)).toEqual([
      true,
      false,
      true,
      false,
    ]);
  });

  it('creates three branches in one call, each with its outcome', async () => {
    const { project, branch: main } = api.fake.seedProject();
    conn = await connect();
    const out = await conn.ok('create_branch', { project_id: project.id, names: ['t-1', 't-2', 't-3'] });
    expect(out.summary).toBe('3 of 3 branches created.');
    expect(out.branches.map((b: any) => [b.name, b.branch.name, b.parent.name])).toEqual([
      ['t-1', 't-1', main.name],
      ['t-2', 't-2', main.name],
      ['t-3', 't-3', main.name],
    ]);
    for (const b of out.branches) {
      expect(b.connection_uri).toMatch(/^postgresql:\/\//);
      expect(b.branch.expires_at).toEqual(expect.any(String));
      expect(api.fake.branches.get(b.branch.id)?.name).toBe(b.name);
    }
    expect(await count('POST', `/projects/${project.id}/branches`)).toBe(3);
  });

  it('states a partial failure per branch and sends no create twice', async () => {
    const { project, branch: main } = api.fake.seedProject();
    api.fake.makeBranch(project.id, { name: 'taken', parent_id: main.id });
    conn = await connect();
    const out = await conn.ok('create_branch', {
      project_id: project.id,
      names: ['ok-1', 'taken', 'ok-2'],
      compute: false,
    });
    expect(out.summary).toBe('2 of 3 branches created; 1 failed (see error on each; nothing was retried).');
    expect(out.branches[0]).toMatchObject({ name: 'ok-1', branch: { name: 'ok-1' } });
    expect(out.branches[1]).toEqual({ name: 'taken', error: expect.stringMatching(/HTTP 409/) });
    expect(out.branches[2]).toMatchObject({ name: 'ok-2', branch: { name: 'ok-2' } });
    expect(await count('POST', `/projects/${project.id}/branches`)).toBe(3);
    expect(
      api.fake
        .branchesOf(project.id)
        .map((b) => b.name)
        .sort(),
    ).toEqual([main.name, 'ok-1', 'ok-2', 'taken'].sort());
  });

  it('refuses name with names, a name given twice, and an empty names', async () => {
    const { project } = api.fake.seedProject();
    conn = await connect();
    expect(
      await conn.fails('create_branch', { project_id: project.id, name: 'a', names: ['b', 'c'] }),
    ).toMatch(/Give name or names, not both/);
    expect(await conn.fails('create_branch', { project_id: project.id, names: ['b', 'b'] })).toMatch(
      /"b" is given twice/,
    );
    expect(await conn.fails('create_branch', { project_id: project.id, names: [] })).toMatch(
      /Give 1 to 10 branches in one call, not 0/,
    );
    expect(await count('POST', `/projects/${project.id}/branches`)).toBe(0);
  });
});

describe('update_branch', () => {
  it('renames, protects and sets then clears the expiry', async () => {
    const { project, branch: main } = api.fake.seedProject();
    const dev = api.fake.makeBranch(project.id, { name: 'dev', parent_id: main.id });
    conn = await connect();
    const out = await conn.ok('update_branch', {
      project_id: project.id,
      branch_id: dev.id,
      name: 'staging',
      protected: true,
      expires_at: '2026-12-31T00:00:00Z',
    });
    expect(out.branch).toMatchObject({
      name: 'staging',
      protected: true,
      expires_at: '2026-12-31T00:00:00Z',
    });
    expect(api.fake.branches.get(dev.id)).toMatchObject({ name: 'staging', protected: true });
    await conn.ok('update_branch', { project_id: project.id, branch_id: dev.id, expires_at: null });
    const patch = (await requests()).filter((r) => r.method === 'PATCH').at(-1);
    expect(patch?.body).toEqual({ branch: { expires_at: null } });
    expect([...api.fake.operations.values()].every((o) => o.status === 'finished')).toBe(true);
  });

  it('refuses a call that changes nothing', async () => {
    const { project, branch } = api.fake.seedProject();
    conn = await connect();
    expect(await conn.fails('update_branch', { project_id: project.id, branch_id: branch.id })).toMatch(
      /Nothing to change/,
    );
    expect(await requests()).toHaveLength(0);
  });
});

describe('delete_branch', () => {
  it('deletes a branch, which then disappears from the list', async () => {
    const { project, branch: main } = api.fake.seedProject();
    const dev = api.fake.makeBranch(project.id, { name: 'dev', parent_id: main.id });
    api.fake.makeEndpoint(project.id, dev.id, 'read_write');
    conn = await connect();
    expect((await conn.ok('list_branches', { project_id: project.id })).branches).toHaveLength(2);
    const out = await conn.ok('delete_branch', { project_id: project.id, branch_id: dev.id });
    expect(out).toMatchObject({ deleted: true, branch: { id: dev.id, name: 'dev' } });
    expect(api.fake.branches.has(dev.id)).toBe(false);
    expect(api.fake.endpointsOf(project.id, dev.id)).toHaveLength(0);
    const list = await conn.ok('list_branches', { project_id: project.id });
    expect(list.branches.map((b: any) => b.id)).toEqual([main.id]);
    expect([...api.fake.operations.values()].map((o) => [o.action, o.status])).toEqual([
      ['delete_timeline', 'finished'],
    ]);
  });

  it("turns Neon's 422 for the default branch into a clear error", async () => {
    const { project, branch } = api.fake.seedProject();
    conn = await connect();
    const err = await conn.fails(
      'delete_branch',
      await withToken(conn, 'delete_branch', {
        project_id: project.id,
        branch_id: branch.id,
      }),
    );
    expect(err).toMatch(/HTTP 422: cannot delete the default branch/);
    expect(err).toMatch(/fix them as the message says/);
    expect(api.fake.branches.has(branch.id)).toBe(true);
  });
});

describe('delete_branch with several branches', () => {
  it('deletes three branches, by ID or name, in one call without a confirmation', async () => {
    const { project, branch: main } = api.fake.seedProject();
    const ids = ['d-1', 'd-2', 'd-3'].map(
      (name) => api.fake.makeBranch(project.id, { name, parent_id: main.id }).id,
    );
    conn = await connect();
    const out = await conn.ok('delete_branch', {
      project_id: project.id,
      branch_ids: [ids[0], 'd-2', ids[2]],
    });
    expect(out.summary).toBe('3 of 3 branches deleted.');
    expect(out.branches.map((b: any) => [b.deleted, b.branch.id, b.branch.name])).toEqual([
      [true, ids[0], 'd-1'],
      [true, ids[1], 'd-2'],
      [true, ids[2], 'd-3'],
    ]);
    for (const id of ids) expect(api.fake.branches.has(id)).toBe(false);
  });

  it('asks one confirmation for the whole set when it holds a protected branch, bound to that set', async () => {
    const { project, branch: main } = api.fake.seedProject();
    const keep = api.fake.makeBranch(project.id, { name: 'keep', parent_id: main.id, protected: true });
    const tmp = api.fake.makeBranch(project.id, { name: 'tmp', parent_id: main.id });
    const other = api.fake.makeBranch(project.id, { name: 'other', parent_id: main.id });
    conn = await connect();
    const args = { project_id: project.id, branch_ids: [keep.id, tmp.id] };
    const refusal = await conn.fails('delete_branch', args);
    // Every branch of the set is named, the protected one marked.
    expect(refusal).toContain(
      `Delete 2 branches of project ${project.id}: "keep" (protected, ${keep.id}), "tmp" (${tmp.id})`,
    );
    expect(api.fake.branches.has(tmp.id)).toBe(true);
    const token = /confirm: "(nmc1\.[^"]+)"/.exec(refusal)![1];
    // The token binds the set: another set is not confirmed by it.
    const swapped = await conn.fails('delete_branch', {
      ...args,
      branch_ids: [keep.id, other.id],
      confirm: token,
    });
    expect(swapped).not.toMatch(/branches deleted/);
    expect(api.fake.branches.has(other.id)).toBe(true);
    expect(api.fake.branches.has(keep.id)).toBe(true);
    const out = await conn.ok('delete_branch', await withToken(conn, 'delete_branch', args));
    // Confirmed; Neon itself still refuses a protected branch (as it does): said for that branch only.
    expect(out.summary).toBe('1 of 2 branches deleted; 1 failed (see error on each; nothing was retried).');
    expect(out.branches[0]).toEqual({
      branch: { id: keep.id, name: 'keep' },
      error: expect.stringMatching(/HTTP 422: cannot delete a protected branch/),
    });
    expect(api.fake.branches.has(keep.id)).toBe(true);
    expect(api.fake.branches.has(tmp.id)).toBe(false);
  });

  it('states a partial failure per branch and sends no delete twice', async () => {
    const { project, branch: main } = api.fake.seedProject();
    const a = api.fake.makeBranch(project.id, { name: 'pa', parent_id: main.id });
    const b = api.fake.makeBranch(project.id, { name: 'pb', parent_id: main.id });
    api.use(
      http.delete(`${BASE}/projects/:project_id/branches/${a.id}`, () => neonError(500, 'storage hiccup')),
    );
    conn = await connect();
    const out = await conn.ok('delete_branch', { project_id: project.id, branch_ids: [a.id, b.id] });
    expect(out.summary).toBe('1 of 2 branches deleted; 1 failed (see error on each; nothing was retried).');
    expect(out.branches[0]).toEqual({
      branch: { id: a.id, name: 'pa' },
      error: expect.stringMatching(/HTTP 500.*may or may not have been applied/),
    });
    expect(out.branches[1]).toMatchObject({ deleted: true, branch: { id: b.id } });
    expect(await count('DELETE', `/projects/${project.id}/branches/${a.id}`)).toBe(1);
  });

  it('refuses a call without branch_id or branch_ids: never the default branch', async () => {
    const { project, branch: main } = api.fake.seedProject();
    conn = await connect();
    const err = await conn.fails('delete_branch', { project_id: project.id });
    expect(err).toMatch(/Give branch_id \(or branch_ids for several\)/);
    expect(api.fake.branches.has(main.id)).toBe(true);
    expect(await count('DELETE', /\/branches\//)).toBe(0);
  });

  it('refuses an unknown name before deleting anything', async () => {
    const { project, branch: main } = api.fake.seedProject();
    const a = api.fake.makeBranch(project.id, { name: 'real', parent_id: main.id });
    conn = await connect();
    const err = await conn.fails('delete_branch', { project_id: project.id, branch_ids: ['real', 'ghost'] });
    expect(err).toMatch(/ghost/);
    expect(api.fake.branches.has(a.id)).toBe(true);
    expect(await count('DELETE', /\/branches\//)).toBe(0);
  });
});

describe('reset_branch_from_parent and restore_branch', () => {
  it("resets a branch from its parent's latest state", async () => {
    const { project, branch: main } = api.fake.seedProject();
    const dev = api.fake.makeBranch(project.id, { name: 'dev', parent_id: main.id });
    conn = await connect();
    const out = await conn.ok(
      'reset_branch_from_parent',
      await withToken(conn, 'reset_branch_from_parent', {
        project_id: project.id,
        branch_id: dev.id,
      }),
    );
    expect(out.branch).toMatchObject({ id: dev.id, last_reset_at: expect.any(String) });
    const post = (await requests()).find((r) => r.method === 'POST');
    expect(post?.path).toBe(`/projects/${project.id}/branches/${dev.id}/restore`);
    // Recorded in the change ledger: the old state is kept under a hidden name (src/neon/ledger.ts).
    expect(post?.body).toEqual({
      source_branch_id: main.id,
      preserve_under_name: `mcp-change-${out.change.change_id}-before`,
    });
    expect(out.preserved_branch).toBeUndefined();
    expect([...api.fake.operations.values()].every((o) => o.status === 'finished')).toBe(true);
  });

  it('keeps the old state under a name when asked and reports that branch', async () => {
    const { project, branch: main } = api.fake.seedProject();
    const dev = api.fake.makeBranch(project.id, { name: 'dev', parent_id: main.id });
    conn = await connect();
    const out = await conn.ok(
      'reset_branch_from_parent',
      await withToken(conn, 'reset_branch_from_parent', {
        project_id: project.id,
        branch_id: dev.id,
        preserve_under_name: 'dev-before-reset',
      }),
    );
    expect(out.preserved_branch).toMatchObject({
      name: 'dev-before-reset',
      id: expect.stringMatching(/^br-/),
    });
    expect(api.fake.branchesOf(project.id).map((b) => b.name)).toContain('dev-before-reset');
  });

  it('refuses to reset a branch without a parent, with a clear error', async () => {
    const { project, branch } = api.fake.seedProject();
    conn = await connect();
    const err = await conn.fails('reset_branch_from_parent', {
      project_id: project.id,
      branch_id: branch.id,
    });
    expect(err).toMatch(/Branch "main" \(br-[^)]+\) has no parent/);
    expect(err).toMatch(/restore_branch/);
    expect(await count('POST', /restore$/)).toBe(0);
  });

  it('restores a branch to a point in its own history, preserving the current state', async () => {
    const { project, branch } = api.fake.seedProject();
    conn = await connect();
    const out = await conn.ok(
      'restore_branch',
      await withToken(conn, 'restore_branch', {
        project_id: project.id,
        branch_id: branch.id,
        source_timestamp: '2026-01-31T12:00:00Z',
        preserve_under_name: 'main-before-restore',
      }),
    );
    expect(out.branch.id).toBe(branch.id);
    expect(out.preserved_branch.name).toBe('main-before-restore');
    expect((await requests()).find((r) => r.method === 'POST')?.body).toEqual({
      source_branch_id: branch.id,
      source_timestamp: '2026-01-31T12:00:00Z',
      preserve_under_name: 'main-before-restore',
    });
  });

  it('restores from another branch at an LSN', async () => {
    const { project, branch: main } = api.fake.seedProject();
    const dev = api.fake.makeBranch(project.id, { name: 'dev', parent_id: main.id });
    conn = await connect();
    const out = await conn.ok(
      'restore_branch',
      await withToken(conn, 'restore_branch', {
        project_id: project.id,
        branch_id: dev.id,
        source_branch_id: main.id,
        source_lsn: '0/1E19478',
      }),
    );
    expect((await requests()).find((r) => r.method === 'POST')?.body).toEqual({
      source_branch_id: main.id,
      source_lsn: '0/1E19478',
      preserve_under_name: `mcp-change-${out.change.change_id}-before`,
    });
  });

  it('refuses incomplete restores from its own history before sending anything', async () => {
    const { project, branch } = api.fake.seedProject();
    conn = await connect();
    const base = { project_id: project.id, branch_id: branch.id };
    expect(await conn.fails('restore_branch', { ...base, preserve_under_name: 'x' })).toMatch(
      /needs source_timestamp or source_lsn/,
    );
    expect(await conn.fails('restore_branch', { ...base, source_timestamp: '2026-01-31T12:00:00Z' })).toMatch(
      /needs preserve_under_name/,
    );
    expect(
      await conn.fails('restore_branch', {
        ...base,
        source_timestamp: '2026-01-31T12:00:00Z',
        source_lsn: '0/1',
        preserve_under_name: 'x',
      }),
    ).toMatch(/not both/);
    expect(await requests()).toHaveLength(0);
  });

  it('names a missing source branch on a 404', async () => {
    const { project, branch } = api.fake.seedProject();
    conn = await connect();
    const err = await conn.fails(
      'restore_branch',
      await withToken(conn, 'restore_branch', {
        project_id: project.id,
        branch_id: branch.id,
        source_branch_id: 'br-gone-1',
      }),
    );
    expect(err).toMatch(/HTTP 404: branch br-gone-1 not found/);
  });
});

describe('set_default_branch, recover_branch, finalize_restore_branch', () => {
  it('makes another branch the default', async () => {
    const { project, branch: main } = api.fake.seedProject();
    const dev = api.fake.makeBranch(project.id, { name: 'dev', parent_id: main.id });
    conn = await connect();
    const out = await conn.ok('set_default_branch', { project_id: project.id, branch_id: dev.id });
    expect(out.branch).toMatchObject({ id: dev.id, default: true });
    expect(api.fake.branches.get(main.id)?.default).toBe(false);
  });

  it('recovers a deleted branch with its compute, found with include_deleted', async () => {
    const { project, branch: main } = api.fake.seedProject();
    const dev = api.fake.makeBranch(project.id, { name: 'dev', parent_id: main.id });
    const ep = api.fake.makeEndpoint(project.id, dev.id, 'read_write');
    conn = await connect();
    await conn.ok('delete_branch', { project_id: project.id, branch_id: dev.id });
    const listed = await conn.ok('list_branches', { project_id: project.id, include_deleted: true });
    expect(listed.branches.find((b: any) => b.id === dev.id)?.recovery).toMatchObject({
      deletion_method: 'user',
    });
    const out = await conn.ok('recover_branch', { project_id: project.id, branch_id: dev.id });
    expect(out.branch).toMatchObject({ id: dev.id, name: 'dev' });
    expect(out.computes).toEqual([expect.objectContaining({ id: ep.id, current_state: 'idle' })]);
    expect(api.fake.branches.has(dev.id)).toBe(true);
    expect(api.fake.endpoints.has(ep.id)).toBe(true);
  });

  it('finalizes a restore: the restored branch takes the name and computes of the original', async () => {
    const { project, branch: main, endpoint } = api.fake.seedProject();
    const restored = api.fake.makeBranch(project.id, {
      name: 'main (restored)',
      restore_status: 'restored',
      restored_as: main.id,
    });
    conn = await connect();
    const out = await conn.ok('finalize_restore_branch', {
      project_id: project.id,
      branch_id: restored.id,
      name: 'main-old',
    });
    expect(out.branch).toMatchObject({ id: restored.id, name: 'main', restore_status: 'finalized' });
    expect(api.fake.branches.get(main.id)?.name).toBe('main-old');
    expect(api.fake.endpoints.get(endpoint.id)?.branch_id).toBe(restored.id);
    expect([...api.fake.operations.values()].every((o) => o.status === 'finished')).toBe(true);
  });

  it('marks recover and finalize as beta and reset/restore as destructive', async () => {
    conn = await connect();
    const { tools } = await conn.mcp.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    expect(byName.get('recover_branch')?.description).toMatch(/^Beta: /);
    expect(byName.get('finalize_restore_branch')?.description).toMatch(/^Beta: /);
    for (const name of ['reset_branch_from_parent', 'restore_branch', 'delete_branch']) {
      expect(byName.get(name)?.annotations?.destructiveHint, name).toBe(true);
    }
    expect(byName.get('list_branches')?.annotations?.readOnlyHint).toBe(true);
    expect(byName.get('create_branch')?.annotations).toMatchObject({
      readOnlyHint: false,
      destructiveHint: false,
      idempotentHint: false,
    });
  });
});
