import { HttpResponse, http } from 'msw';
import { afterEach, describe, expect, it } from 'vitest';
import { withToken } from './confirm-token.js';
import { BASE, connect, TEST_KEY, useMockApi } from './helpers.js';
import { accountStore, seedOrg } from './mock/stores.js';

const api = useMockApi();
let conn: Awaited<ReturnType<typeof connect>>;
afterEach(() => conn?.close());

describe('list_projects: shared and deleted projects', () => {
  it('lists projects shared with you, paging with next_cursor, without your own', async () => {
    api.fake.seedProject('mine');
    const store = accountStore(api.fake);
    for (const name of ['team-a', 'team-b', 'team-c']) {
      store.shared.push(api.fake.makeProject({ id: `${name}-1`, name, owner_id: 'user-2' }));
      api.fake.projects.delete(`${name}-1`); // shared with us, not in our own list
    }
    conn = await connect({ toolsets: ['projects'] });
    const first = await conn.ok('list_projects', { show: 'shared', limit: 2 });
    expect(first.projects.map((p: any) => p.name)).toEqual(['team-a', 'team-b']);
    expect(first.projects[0]).not.toHaveProperty('proxy_host');
    const second = await conn.ok('list_projects', { show: 'shared', limit: 2, cursor: first.next_cursor });
    expect(second.projects.map((p: any) => p.name)).toEqual(['team-c']);
    expect(second.next_cursor).toBeUndefined();
    expect(api.count('GET', '/projects/shared')).toBe(2);
  });

  it('refuses org_id with show=shared before sending anything', async () => {
    conn = await connect({ toolsets: ['projects'] });
    const err = await conn.fails('list_projects', { show: 'shared', org_id: 'org-a' });
    expect(err).toMatch(/org_id cannot be combined with show=shared/);
    await api.settle();
    expect(api.requests).toHaveLength(0);
  });

  it('deletes, lists as deleted, and recovers a project with its branches', async () => {
    const { project, branch } = api.fake.seedProject('gone');
    conn = await connect({ toolsets: ['projects'] });
    await conn.ok('delete_project', await withToken(conn, 'delete_project', { project_id: project.id }));
    const own = await conn.ok('list_projects', {});
    expect(own.projects.map((p: any) => p.id)).not.toContain(project.id);
    const deleted = await conn.ok('list_projects', { show: 'deleted' });
    expect(deleted.projects.map((p: any) => p.id)).toEqual([project.id]);
    await api.settle();
    expect(api.requests.find((r) => r.query.get('recoverable') === 'true')).toBeDefined();

    const out = await conn.ok('recover_project', { project_id: project.id });
    expect(out.project).toMatchObject({ id: project.id, name: 'gone' });
    expect(out.branches).toEqual([expect.objectContaining({ id: branch.id, name: 'main', default: true })]);
    expect(api.fake.projects.has(project.id)).toBe(true);
    expect((await conn.ok('list_projects', { show: 'deleted' })).projects).toEqual([]);
  });

  it('recover_project names the project Neon cannot find', async () => {
    conn = await connect({ toolsets: ['projects'] });
    const err = await conn.fails('recover_project', { project_id: 'never-was-1' });
    expect(err).toMatch(/HTTP 404/);
    expect(err).toMatch(/project "never-was-1"/);
  });
});

describe('project access', () => {
  it('grants, lists and revokes access by email', async () => {
    const { project } = api.fake.seedProject('shared');
    conn = await connect({ toolsets: ['access'] });
    const granted = await conn.ok('grant_project_access', {
      project_id: project.id,
      email: 'bob@example.com',
    });
    expect(granted.permission).toMatchObject({ granted_to_email: 'bob@example.com' });
    await conn.ok('grant_project_access', { project_id: project.id, email: 'eve@example.com' });
    const listed = await conn.ok('list_project_access', { project_id: project.id });
    expect(listed.permissions.map((p: any) => p.granted_to_email)).toEqual([
      'bob@example.com',
      'eve@example.com',
    ]);
    const revoked = await conn.ok('revoke_project_access', {
      project_id: project.id,
      permission_id: granted.permission.id,
    });
    expect(revoked.permission).toMatchObject({ id: granted.permission.id });
    expect(revoked.permission.revoked_at).toBeTruthy();
    const after = await conn.ok('list_project_access', { project_id: project.id });
    expect(after.permissions.map((p: any) => p.granted_to_email)).toEqual(['eve@example.com']);
  });

  it('refuses something that is not an email, and names a permission Neon does not know', async () => {
    const { project } = api.fake.seedProject('shared');
    conn = await connect({ toolsets: ['access'] });
    expect(await conn.fails('grant_project_access', { project_id: project.id, email: 'bob' })).toMatch(
      /email: must be an email address/,
    );
    const err = await conn.fails('revoke_project_access', { project_id: project.id, permission_id: 'nope' });
    expect(err).toMatch(/HTTP 404/);
    expect(err).toMatch(/permission "nope" in project/);
  });
});

describe('project extras', () => {
  it('lists the preload libraries of a project', async () => {
    const { project } = api.fake.seedProject('libs');
    conn = await connect({ toolsets: ['projects'] });
    const out = await conn.ok('list_preload_libraries', { project_id: project.id });
    expect(out.libraries.map((l: any) => l.library_name)).toEqual(['timescaledb', 'pg_cron']);
    expect(out.libraries[0]).toMatchObject({ is_default: false, version: '2.17' });
  });

  it('an answer without the list of libraries is an error, not an empty list', async () => {
    const { project } = api.fake.seedProject('libs');
    api.use(
      http.get(`${BASE}/projects/:project_id/available_preload_libraries`, () => HttpResponse.json({})),
    );
    conn = await connect({ toolsets: ['projects'] });
    const err = await conn.fails('list_preload_libraries', { project_id: project.id });
    expect(err).toBe(
      `Neon's answer to GET /projects/${project.id}/available_preload_libraries has no list of libraries (an unexpected answer). Try again later.`,
    );
  });

  it('creates a transfer request and accepts it into an organization', async () => {
    const { project } = api.fake.seedProject('moving');
    seedOrg(api.fake, 'org-dest');
    conn = await connect({ toolsets: ['access'] });
    const created = await conn.ok('create_project_transfer', { project_id: project.id, ttl_seconds: 3600 });
    const t = created.transfer_request;
    expect(t.project_id).toBe(project.id);
    expect(Date.parse(t.expires_at) - Date.parse(t.created_at)).toBe(3_600_000);
    const accepted = await conn.ok('accept_project_transfer', {
      project_id: project.id,
      request_id: t.id,
      org_id: 'org-dest',
    });
    expect(accepted).toEqual({ accepted: true, project_id: project.id, org_id: 'org-dest' });
    expect(api.fake.projects.get(project.id)?.org_id).toBe('org-dest');
    // The request is used up.
    const again = await conn.fails('accept_project_transfer', { project_id: project.id, request_id: t.id });
    expect(again).toMatch(/HTTP 404/);
    expect(again).toMatch(/transfer request/);
  });

  it('explains a 406 when the receiving plan cannot take the project', async () => {
    const { project } = api.fake.seedProject('too-many');
    seedOrg(api.fake, 'org-full', { projectLimit: 0 });
    conn = await connect({ toolsets: ['access'] });
    const { transfer_request } = await conn.ok('create_project_transfer', { project_id: project.id });
    const err = await conn.fails('accept_project_transfer', {
      project_id: project.id,
      request_id: transfer_request.id,
      org_id: 'org-full',
    });
    expect(err).toMatch(/HTTP 406/);
    expect(err).toMatch(/plan does not allow this project/);
    expect(api.fake.projects.get(project.id)?.org_id).toBeUndefined();
  });

  it('lists advisor issues, filtered by severity, compactly', async () => {
    const { project, branch } = api.fake.seedProject('advice');
    const issue = (name: string, level: string, categories: string[]) => ({
      name,
      title: name,
      level,
      facing: 'EXTERNAL',
      categories,
      description: 'long text about the check',
      detail: `${name} on public.users`,
      remediation: 'https://neon.com/docs/data-api/database-advisor',
      metadata: { table: 'users' },
      cache_key: 'k',
    });
    accountStore(api.fake).advisorIssues.push(
      issue('rls_disabled_in_public', 'ERROR', ['SECURITY']),
      issue('unindexed_foreign_keys', 'INFO', ['PERFORMANCE']),
    );
    conn = await connect({ toolsets: ['projects'] });
    const out = await conn.ok('list_advisor_issues', {
      project_id: project.id,
      branch_id: branch.id,
      database: 'neondb',
      min_severity: 'WARN',
    });
    expect(out.issues).toEqual([
      {
        name: 'rls_disabled_in_public',
        title: 'rls_disabled_in_public',
        level: 'ERROR',
        categories: ['SECURITY'],
        detail: 'rls_disabled_in_public on public.users',
        remediation: 'https://neon.com/docs/data-api/database-advisor',
      },
    ]);
    const all = await conn.ok('list_advisor_issues', { project_id: project.id, category: 'PERFORMANCE' });
    expect(all.issues.map((i: any) => i.name)).toEqual(['unindexed_foreign_keys']);
  });
});

describe('personal API keys', () => {
  it('creates a key (secret shown once, clearly labelled), lists it without a token, revokes it', async () => {
    conn = await connect({ toolsets: ['api_keys'] });
    const created = await conn.ok('create_api_key', { name: 'ci' });
    expect(created.key).toMatch(/^napi_/);
    expect(created.warning).toMatch(/SECRET: `key` is shown only this once/);
    expect(created.api_key).toMatchObject({ name: 'ci', id: expect.any(Number) });
    expect(created.api_key).not.toHaveProperty('key');

    const listed = await conn.ok('list_api_keys');
    expect(listed.api_keys).toEqual([expect.objectContaining({ id: created.api_key.id, name: 'ci' })]);
    expect(listed.api_keys[0].created_by).toBe('Ada Lovelace');
    expect(JSON.stringify(listed)).not.toContain(created.key);

    const revoked = await conn.ok('revoke_api_key', { key_id: created.api_key.id });
    expect(revoked.api_key).toMatchObject({ id: created.api_key.id, revoked: true });
    expect((await conn.ok('list_api_keys')).api_keys).toEqual([]);
  });

  it('names the key on a 404 and refuses a name over 64 characters', async () => {
    conn = await connect({ toolsets: ['api_keys'] });
    const err = await conn.fails('revoke_api_key', { key_id: 424242 });
    expect(err).toMatch(/HTTP 404/);
    expect(err).toMatch(/key "424242"/);
    expect(await conn.fails('create_api_key', { name: 'x'.repeat(65) })).toMatch(/name/);
    await api.settle();
    expect(api.count('POST', '/api_keys')).toBe(0);
  });

  it('still redacts the key this server runs with', async () => {
    api.use(
      http.get(`${BASE}/api_keys`, () =>
        HttpResponse.json([
          {
            id: 1,
            name: TEST_KEY,
            created_at: '2026-01-01T00:00:00Z',
            created_by: { id: 'u', name: 'x', image: '' },
            last_used_from_addr: '',
          },
        ]),
      ),
    );
    conn = await connect({ toolsets: ['api_keys'] });
    expect(JSON.stringify(await conn.ok('list_api_keys'))).not.toContain(TEST_KEY);
  });
});

describe('users', () => {
  it('get_current_user reports the key kind and a compact user without billing address', async () => {
    conn = await connect({ toolsets: ['users'] });
    const out = await conn.ok('get_current_user');
    expect(out.auth).toMatchObject({ auth_method: 'api_key_user', account_id: 'user-1' });
    expect(out.user).toMatchObject({
      id: 'user-1',
      email: 'ada@example.com',
      plan: 'launch',
      projects_limit: 100,
    });
    expect(out.user.billing).toEqual({
      state: 'active',
      subscription_type: 'launch',
      quota_reset_at_last: '2026-11-01T00:00:00Z',
    });
    expect(JSON.stringify(out)).not.toContain('Analytical Row');
  });

  it('get_current_user with an organization key does not ask for a user', async () => {
    accountStore(api.fake).auth = { account_id: 'org-a', auth_method: 'api_key_org' };
    conn = await connect({ toolsets: ['users'] });
    const out = await conn.ok('get_current_user');
    expect(out).toEqual({ auth: { account_id: 'org-a', auth_method: 'api_key_org' } });
    await api.settle();
    expect(api.count('GET', '/users/me')).toBe(0);
  });

  it('lists organizations and regions (narrowed by org_id)', async () => {
    seedOrg(api.fake, 'org-a', { name: 'Acme' });
    conn = await connect({ toolsets: ['users'] });
    const orgs = await conn.ok('list_organizations');
    expect(orgs.organizations).toEqual([
      { id: 'org-a', name: 'Acme', handle: 'org-a-handle', plan: 'scale', managed_by: 'console' },
    ]);
    const all = await conn.ok('list_regions');
    expect(all.regions.map((r: any) => r.region_id)).toEqual([
      'aws-us-east-2',
      'aws-eu-central-1',
      'azure-eastus2',
    ]);
    expect(all.regions[0]).toEqual({
      region_id: 'aws-us-east-2',
      name: 'AWS US East 2 (Ohio)',
      default: true,
    });
    const forOrg = await conn.ok('list_regions', { org_id: 'org-a' });
    expect(forOrg.regions.map((r: any) => r.region_id)).toEqual(['aws-us-east-2', 'aws-eu-central-1']);
  });

  it('account-level tools are hidden when the server is scoped to one project', async () => {
    const { project } = api.fake.seedProject('scoped');
    conn = await connect({ projectId: project.id, toolsets: ['all'] });
    const names = (await conn.mcp.listTools()).tools.map((t) => t.name);
    for (const hidden of [
      'list_api_keys',
      'get_current_user',
      'list_organizations',
      'get_consumption',
      'recover_project',
      'create_project_transfer',
      'accept_project_transfer',
      'list_org_members',
    ]) {
      expect(names).not.toContain(hidden);
    }
    for (const shown of [
      'list_project_access',
      'list_preload_libraries',
      'list_advisor_issues',
      'list_jwks',
    ]) {
      expect(names).toContain(shown);
    }
    const out = await conn.ok('list_preload_libraries', {});
    expect(out.libraries).toHaveLength(2);
  });
});

describe('billing', () => {
  const range = { from: '2026-11-01T00:00:00Z', to: '2026-11-04T00:00:00Z', granularity: 'daily' };

  it('get_consumption per project: all metrics, as named fields per timeframe, filtered by project', async () => {
    seedOrg(api.fake, 'org-a');
    const a = api.fake.seedProject('a', { org_id: 'org-a' }).project;
    api.fake.seedProject('b', { org_id: 'org-a' });
    api.fake.seedProject('elsewhere', { org_id: 'org-z' });
    conn = await connect({ toolsets: ['billing'] });
    const out = await conn.ok('get_consumption', { org_id: 'org-a', ...range });
    expect(out.projects).toHaveLength(2);
    expect(out.next_cursor).toBeUndefined();
    const frames = out.projects[0].periods[0].consumption;
    expect(frames).toHaveLength(3);
    expect(frames[0]).toMatchObject({
      timeframe_start: '2026-11-01T00:00:00.000Z',
      compute_unit_seconds: expect.any(Number),
      snapshot_storage_bytes_month: expect.any(Number),
    });
    expect(frames[0]).not.toHaveProperty('metrics');
    expect(out.projects[0].periods[0]).not.toHaveProperty('period_id');
    await api.settle();
    const sent = api.requests.find((r) => r.path === '/consumption_history/v2/projects')!;
    expect(sent.query.getAll('metrics')).toHaveLength(8);

    const one = await conn.ok('get_consumption', { org_id: 'org-a', ...range, project_ids: [a.id] });
    expect(one.projects.map((p: any) => p.project_id)).toEqual([a.id]);
  });

  it('get_consumption per branch sends the six branch metrics and the project IDs', async () => {
    seedOrg(api.fake, 'org-a');
    const { project, branch } = api.fake.seedProject('a', { org_id: 'org-a' });
    api.fake.makeBranch(project.id, { name: 'dev', parent_id: branch.id });
    conn = await connect({ toolsets: ['billing'] });
    const out = await conn.ok('get_consumption', {
      org_id: 'org-a',
      ...range,
      per: 'branch',
      project_ids: [project.id],
    });
    expect(out.branches).toHaveLength(2);
    expect(out.branches[0]).toMatchObject({ project_id: project.id, branch_id: branch.id });
    expect(out.branches[0].periods[0].consumption[0]).toHaveProperty('private_network_transfer_bytes');
    expect(out.branches[0].periods[0].consumption[0]).not.toHaveProperty('extra_branches_month');
    const only = await conn.ok('get_consumption', {
      org_id: 'org-a',
      ...range,
      per: 'branch',
      project_ids: [project.id],
      branch_ids: [branch.id],
    });
    expect(only.branches.map((b: any) => b.branch_id)).toEqual([branch.id]);
  });

  it('get_consumption for legacy plans works without an org and keeps the flat metrics', async () => {
    api.fake.seedProject('old');
    conn = await connect({ toolsets: ['billing'] });
    const out = await conn.ok('get_consumption', { ...range, legacy: true });
    expect(out.projects[0].periods[0]).toMatchObject({ period_plan: 'scale' });
    expect(out.projects[0].periods[0].consumption[0]).toMatchObject({ active_time_seconds: 100 });
    await api.settle();
    expect(api.count('GET', '/consumption_history/projects')).toBe(1);
  });

  it('get_consumption pages with next_cursor when a page is full', async () => {
    seedOrg(api.fake, 'org-a');
    for (let i = 0; i < 101; i++)
      api.fake.makeProject({ id: `p-${String(i).padStart(3, '0')}`, org_id: 'org-a' });
    conn = await connect({ toolsets: ['billing'] });
    const first = await conn.ok('get_consumption', { org_id: 'org-a', ...range });
    expect(first.projects).toHaveLength(100);
    expect(first.next_cursor).toBe('100');
    const second = await conn.ok('get_consumption', { org_id: 'org-a', ...range, cursor: first.next_cursor });
    expect(second.projects.map((p: any) => p.project_id)).toEqual(['p-100']);
    expect(second.next_cursor).toBeUndefined();
  });

  it('get_consumption refuses contradictory arguments before sending, and passes on Neon errors', async () => {
    conn = await connect({ toolsets: ['billing'] });
    expect(await conn.fails('get_consumption', range)).toMatch(/org_id is required/);
    expect(await conn.fails('get_consumption', { ...range, org_id: 'org-a', per: 'branch' })).toMatch(
      /per=branch needs project_ids/,
    );
    expect(
      await conn.fails('get_consumption', { ...range, legacy: true, per: 'branch', project_ids: ['p'] }),
    ).toMatch(/not available for legacy plans/);
    expect(await conn.fails('get_consumption', { ...range, org_id: 'o', from: 'yesterday' })).toMatch(
      /from: must be an ISO 8601 date-time/,
    );
    await api.settle();
    expect(api.requests).toHaveLength(0);
    seedOrg(api.fake, 'org-a');
    const err = await conn.fails('get_consumption', {
      ...range,
      org_id: 'org-a',
      to: '2026-10-01T00:00:00Z',
    });
    expect(err).toMatch(/HTTP 400: "from" must be earlier than "to"/);
  });

  it('gets, sets and removes the spending limit', async () => {
    seedOrg(api.fake, 'org-a');
    conn = await connect({ toolsets: ['billing'] });
    expect(await conn.ok('get_spending_limit', { org_id: 'org-a' })).toEqual({ spending_limit_cents: null });
    expect(await conn.ok('set_spending_limit', { org_id: 'org-a', spending_limit_cents: 50_000 })).toEqual({
      spending_limit_cents: 50_000,
    });
    expect(accountStore(api.fake).orgs.get('org-a')?.spendingLimitCents).toBe(50_000);
    expect(await conn.ok('get_spending_limit', { org_id: 'org-a' })).toEqual({
      spending_limit_cents: 50_000,
    });
    expect(await conn.ok('set_spending_limit', { org_id: 'org-a', spending_limit_cents: null })).toEqual({
      spending_limit_cents: null,
    });
    await api.settle();
    expect(api.count('DELETE', '/organizations/org-a/billing/spending_limit')).toBe(1);
    expect(await conn.ok('get_spending_limit', { org_id: 'org-a' })).toEqual({ spending_limit_cents: null });
  });

  it('spending limit: 0 is refused locally, a free plan gets a 422, an unknown org a 404', async () => {
    seedOrg(api.fake, 'org-free', { plan: 'free' });
    conn = await connect({ toolsets: ['billing'] });
    expect(await conn.fails('set_spending_limit', { org_id: 'org-free', spending_limit_cents: 0 })).toMatch(
      /spending_limit_cents/,
    );
    const e422 = await conn.fails('set_spending_limit', { org_id: 'org-free', spending_limit_cents: 100 });
    expect(e422).toMatch(/HTTP 422: spending limits are available on Launch and Scale plans only/);
    const e404 = await conn.fails('get_spending_limit', { org_id: 'org-nope' });
    expect(e404).toMatch(/HTTP 404/);
    expect(e404).toMatch(/org "org-nope"/);
  });
});
