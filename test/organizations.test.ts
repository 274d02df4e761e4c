import { afterEach, describe, expect, it } from 'vitest';
import { connect, useMockApi } from './helpers.js';
import { accountStore, addMember, seedOrg } from './mock/stores.js';

const api = useMockApi();
let conn: Awaited<ReturnType<typeof connect>>;
afterEach(() => conn?.close());

const open = () => connect({ toolsets: ['organizations'] });

describe('organization', () => {
  it('gets an organization, and names it on a 404', async () => {
    seedOrg(api.fake, 'org-acme', { name: 'Acme', plan: 'scale' });
    conn = await open();
    const out = await conn.ok('get_organization', { org_id: 'org-acme' });
    expect(out.organization).toMatchObject({
      id: 'org-acme',
      name: 'Acme',
      plan: 'scale',
      managed_by: 'console',
    });
    const err = await conn.fails('get_organization', { org_id: 'org-nope' });
    expect(err).toMatch(/HTTP 404: organization org-nope not found/);
    expect(err).toMatch(/Not found: org "org-nope"/);
  });
});

describe('organization API keys', () => {
  it('creates a project-scoped key (secret once), lists it without the token, revokes it', async () => {
    seedOrg(api.fake, 'org-acme');
    const { project } = api.fake.seedProject('app', { org_id: 'org-acme' });
    conn = await open();
    const created = await conn.ok('create_org_api_key', {
      org_id: 'org-acme',
      name: 'deploy',
      project_id: project.id,
    });
    expect(created.key).toMatch(/^napi_org_/);
    expect(created.warning).toMatch(/^SECRET/);
    expect(created.api_key).toMatchObject({ name: 'deploy', project_id: project.id });
    await api.settle();
    expect(api.requests.at(-1)?.body).toEqual({ key_name: 'deploy', project_id: project.id });

    await conn.ok('create_org_api_key', { org_id: 'org-acme', name: 'admin' });
    const listed = await conn.ok('list_org_api_keys', { org_id: 'org-acme' });
    expect(listed.api_keys.map((k: any) => [k.name, k.project_id])).toEqual([
      ['deploy', project.id],
      ['admin', undefined],
    ]);
    expect(JSON.stringify(listed)).not.toContain(created.key);

    const revoked = await conn.ok('revoke_org_api_key', { org_id: 'org-acme', key_id: created.api_key.id });
    expect(revoked.api_key).toMatchObject({ id: created.api_key.id, revoked: true, project_id: project.id });
    const after = await conn.ok('list_org_api_keys', { org_id: 'org-acme' });
    expect(after.api_keys.map((k: any) => k.name)).toEqual(['admin']);
  });

  it('passes on a 422 for a project of another organization', async () => {
    seedOrg(api.fake, 'org-acme');
    const { project } = api.fake.seedProject('other', { org_id: 'org-other' });
    conn = await open();
    const err = await conn.fails('create_org_api_key', {
      org_id: 'org-acme',
      name: 'x',
      project_id: project.id,
    });
    expect(err).toMatch(/HTTP 422: project .* does not belong to organization org-acme/);
    expect(accountStore(api.fake).orgs.get('org-acme')?.apiKeys).toEqual([]);
  });
});

describe('members', () => {
  it('lists members with email and role, gets one, changes a role and removes a member', async () => {
    const org = seedOrg(api.fake, 'org-acme');
    const bob = addMember(org, 'bob@example.com', 'member');
    conn = await open();
    const listed = await conn.ok('list_org_members', { org_id: 'org-acme' });
    expect(listed.members).toEqual([
      expect.objectContaining({ email: 'ada@example.com', role: 'admin' }),
      expect.objectContaining({
        member_id: bob.id,
        email: 'bob@example.com',
        role: 'member',
        has_mfa: false,
      }),
    ]);
    expect(listed.next_cursor).toBeUndefined();

    const one = await conn.ok('list_org_members', { org_id: 'org-acme', member_id: bob.id });
    expect(one.member).toMatchObject({ id: bob.id, role: 'member', org_id: 'org-acme' });

    const updated = await conn.ok('update_org_member', {
      org_id: 'org-acme',
      member_id: bob.id,
      role: 'admin',
    });
    expect(updated.member).toMatchObject({ id: bob.id, role: 'admin' });

    expect(await conn.ok('remove_org_member', { org_id: 'org-acme', member_id: bob.id })).toEqual({
      removed: true,
      member_id: bob.id,
    });
    const after = await conn.ok('list_org_members', { org_id: 'org-acme' });
    expect(after.members.map((m: any) => m.email)).toEqual(['ada@example.com']);
  });

  it('pages through a large organization', async () => {
    const org = seedOrg(api.fake, 'org-big');
    for (let i = 0; i < 100; i++) addMember(org, `m${i}@example.com`, 'member');
    conn = await open();
    const first = await conn.ok('list_org_members', { org_id: 'org-big' });
    expect(first.members).toHaveLength(100);
    expect(first.next_cursor).toBe('100');
    const second = await conn.ok('list_org_members', { org_id: 'org-big', cursor: first.next_cursor });
    expect(second.members.map((m: any) => m.email)).toEqual(['m99@example.com']);
    expect(second.next_cursor).toBeUndefined();
  });

  it('refuses a member ID that is not a UUID, keeps the last admin, names an unknown member', async () => {
    const org = seedOrg(api.fake, 'org-acme');
    const admin = org.members[0].member;
    conn = await open();
    expect(await conn.fails('remove_org_member', { org_id: 'org-acme', member_id: 'bob' })).toMatch(
      /member_id: must be a member ID/,
    );
    const last = await conn.fails('remove_org_member', { org_id: 'org-acme', member_id: admin.id });
    expect(last).toMatch(/HTTP 422: cannot remove the last admin/);
    const demote = await conn.fails('update_org_member', {
      org_id: 'org-acme',
      member_id: admin.id,
      role: 'viewer',
    });
    expect(demote).toMatch(/HTTP 422/);
    expect(org.members[0].member.role).toBe('admin');
    expect(
      await conn.fails('update_org_member', { org_id: 'org-acme', member_id: admin.id, role: 'owner' }),
    ).toMatch(/role/);
    const missing = '00000000-0000-4000-8000-000000000000';
    const err = await conn.fails('list_org_members', { org_id: 'org-acme', member_id: missing });
    expect(err).toMatch(new RegExp(`member "${missing}" in org "org-acme"`));
  });
});

describe('invitations', () => {
  it('invites people and lists the invitations', async () => {
    seedOrg(api.fake, 'org-acme');
    conn = await open();
    const out = await conn.ok('invite_org_members', {
      org_id: 'org-acme',
      invitations: [
        { email: 'carol@example.com', role: 'member' },
        { email: 'dan@example.com', role: 'viewer' },
      ],
    });
    expect(out.invitations.map((i: any) => [i.email, i.role])).toEqual([
      ['carol@example.com', 'member'],
      ['dan@example.com', 'viewer'],
    ]);
    const listed = await conn.ok('list_org_invitations', { org_id: 'org-acme' });
    expect(listed.invitations).toHaveLength(2);
    expect(listed.invitations[0]).toMatchObject({ email: 'carol@example.com', id: out.invitations[0].id });
  });

  it('refuses bad emails and empty lists locally; passes on a 422 for an existing member', async () => {
    seedOrg(api.fake, 'org-acme');
    conn = await open();
    expect(
      await conn.fails('invite_org_members', {
        org_id: 'org-acme',
        invitations: [{ email: 'x', role: 'member' }],
      }),
    ).toMatch(/invitations\.0\.email: must be an email address/);
    expect(await conn.fails('invite_org_members', { org_id: 'org-acme', invitations: [] })).toMatch(
      /invitations/,
    );
    await api.settle();
    expect(api.requests).toHaveLength(0);
    const err = await conn.fails('invite_org_members', {
      org_id: 'org-acme',
      invitations: [{ email: 'ada@example.com', role: 'admin' }],
    });
    expect(err).toMatch(/HTTP 422: ada@example.com is already a member/);
    expect(accountStore(api.fake).orgs.get('org-acme')?.invitations).toEqual([]);
  });
});

describe('transfer_projects_to_org', () => {
  it('moves projects to another organization', async () => {
    seedOrg(api.fake, 'org-a');
    seedOrg(api.fake, 'org-b');
    const p1 = api.fake.seedProject('one', { org_id: 'org-a' }).project;
    const p2 = api.fake.seedProject('two', { org_id: 'org-a' }).project;
    conn = await connect({ toolsets: ['access'] });
    const out = await conn.ok('transfer_projects_to_org', {
      org_id: 'org-a',
      destination_org_id: 'org-b',
      project_ids: [p1.id, p2.id],
    });
    expect(out).toEqual({ transferred: [p1.id, p2.id], destination_org_id: 'org-b' });
    expect(api.fake.projects.get(p1.id)?.org_id).toBe('org-b');
    expect(api.fake.projects.get(p2.id)?.org_id).toBe('org-b');
  });

  it('explains 406 (plan limits) and 422 (integrations), and moves nothing', async () => {
    seedOrg(api.fake, 'org-a');
    seedOrg(api.fake, 'org-small', { projectLimit: 1 });
    const p1 = api.fake.seedProject('one', { org_id: 'org-a' }).project;
    const p2 = api.fake.seedProject('two', { org_id: 'org-a' }).project;
    conn = await connect({ toolsets: ['access'] });
    const e406 = await conn.fails('transfer_projects_to_org', {
      org_id: 'org-a',
      destination_org_id: 'org-small',
      project_ids: [p1.id, p2.id],
    });
    expect(e406).toMatch(/HTTP 406/);
    expect(e406).toMatch(/plan does not allow these projects/);

    accountStore(api.fake).integrations.set(p1.id, 'github');
    const e422 = await conn.fails('transfer_projects_to_org', {
      org_id: 'org-a',
      destination_org_id: 'org-small',
      project_ids: [p1.id],
    });
    expect(e422).toMatch(/HTTP 422/);
    expect(e422).toMatch(/integrations .* must be removed/);
    expect(api.fake.projects.get(p1.id)?.org_id).toBe('org-a');
    expect(api.fake.projects.get(p2.id)?.org_id).toBe('org-a');
  });

  it('is marked destructive and account-level', async () => {
    conn = await connect({ toolsets: ['access'] });
    const tool = (await conn.mcp.listTools()).tools.find((t) => t.name === 'transfer_projects_to_org');
    expect(tool?.annotations).toMatchObject({ destructiveHint: true, readOnlyHint: false });
  });
});

describe('default organization (--org-id)', () => {
  it('injects org_id wherever a tool takes it, leaves it out of the schemas, and refuses another', async () => {
    seedOrg(api.fake, 'org-acme', { name: 'Acme' });
    api.fake.seedProject('in-acme', { org_id: 'org-acme' });
    conn = await connect({ toolsets: ['organizations', 'projects', 'billing'], orgId: 'org-acme' });
    const { tools } = await conn.mcp.listTools();
    const withOrg = tools.filter((t) => 'org_id' in ((t.inputSchema as any).properties ?? {}));
    expect(withOrg.map((t) => t.name)).toEqual([]);
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['get_organization', 'list_projects']));

    const out = await conn.ok('get_organization', {});
    expect(out.organization).toMatchObject({ id: 'org-acme', name: 'Acme' });
    // An optional org_id (list_projects) is filled in too.
    await conn.ok('list_projects', {});
    await api.settle();
    const listed = api.requests.filter((r) => r.method === 'GET' && r.path === '/projects');
    expect(listed.map((r) => r.query.get('org_id'))).toEqual(['org-acme']);

    // The same org is accepted; another is refused before anything is sent.
    expect((await conn.ok('get_organization', { org_id: 'org-acme' })).organization.id).toBe('org-acme');
    const before = api.requests.length;
    const err = await conn.fails('get_organization', { org_id: 'org-other' });
    expect(err).toMatch(
      /set to organization org-acme \(--org-id\); organization "org-other" cannot be used\. Omit org_id/,
    );
    await api.settle();
    expect(api.requests.length).toBe(before);
  });

  it('changes nothing for tools without org_id, and works with --project-id', async () => {
    seedOrg(api.fake, 'org-acme');
    const { project } = api.fake.seedProject('in-acme', { org_id: 'org-acme' });
    conn = await connect({ orgId: 'org-acme', projectId: project.id });
    const out = await conn.ok('get_project', {});
    expect(out.project.id).toBe(project.id);
  });
});
