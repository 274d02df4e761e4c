/**
 * Names where users speak names (src/neon/refs.ts): project_id and every branch-like argument take a
 * name too, resolved by listing, through a real MCP client and the fake.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type * as z from 'zod';
import { looksLikeId } from '../src/neon/refs.js';
import { refFields } from '../src/tools/fields.js';
import { ALL_TOOLS } from '../src/tools/registry.js';
import { withToken } from './confirm-token.js';
import { connect, useMockApi } from './helpers.js';

const api = useMockApi();
let conn: Awaited<ReturnType<typeof connect>>;
afterEach(() => conn?.close());

async function requests() {
  await api.settle();
  return api.requests.map((r) => `${r.method} ${r.path}`);
}

describe('which arguments take names', () => {
  it('every project_id and every branch-like argument of every tool is resolved', () => {
    const branchLike = /(^|_)branch_id$|^parent_id$/;
    const missing: string[] = [];
    for (const tool of ALL_TOOLS) {
      const refs = refFields(tool.input);
      for (const key of Object.keys(tool.input)) {
        const want = key === 'project_id' ? 'project' : branchLike.test(key) ? 'branch' : undefined;
        // A branch that defaults to the default branch is resolved too (it is a branch reference).
        const got = refs[key] === 'default-branch' ? 'branch' : refs[key];
        if (want && got !== want) missing.push(`${tool.name}.${key}`);
      }
    }
    expect(missing).toEqual([]);
    // Sanity: the rule finds the fields it is about.
    const createBranch = ALL_TOOLS.find((t) => t.name === 'create_branch')!;
    expect(refFields(createBranch.input)).toEqual({ project_id: 'project', parent_id: 'branch' });
  });

  it('has one rule for branch_id: required where the branch is the subject or something on it is destroyed', () => {
    // Tools that read or change the branch itself (or its snapshots, schedule, anonymization).
    const subject = new Set([
      'get_branch',
      'update_branch',
      'delete_branch',
      'reset_branch_from_parent',
      'restore_branch',
      'set_default_branch',
      'recover_branch',
      'finalize_restore_branch',
      'compare_schema',
      'compare_data',
      'create_snapshot',
      'get_snapshot_schedule',
      'set_snapshot_schedule',
      'anonymize_branch',
      'get_branch_anonymization',
    ]);
    // Tools that delete or revoke something on a branch: a forgotten branch_id must not make them act
    // on the default branch (often production).
    const destroying = [
      'delete_database',
      'delete_role',
      'reset_role_password',
      'disable_neon_auth',
      'delete_neon_auth_user',
      'delete_neon_auth_oauth_provider',
      'delete_data_api',
      'delete_bucket',
      'delete_bucket_objects',
      'revoke_branch_credential',
      'delete_function',
    ];
    for (const name of destroying) subject.add(name);
    const wrong: string[] = [];
    for (const tool of ALL_TOOLS) {
      const field = tool.input.branch_id;
      if (!field) continue;
      const required = !(field as z.ZodType).safeParse(undefined).success;
      // delete_branch takes branch_id or branch_ids (several): one of them is required, checked by its
      // handler (test/branches.test.ts), and an absent branch_id is never the default branch.
      if (tool.name === 'delete_branch' && tool.input.branch_ids && !required) continue;
      if (required !== subject.has(tool.name))
        wrong.push(`${tool.name}: ${required ? 'required' : 'optional'}`);
    }
    expect(wrong).toEqual([]);
  });

  it('says the rule once, in the server instructions (the fields do not repeat it)', async () => {
    conn = await connect();
    expect(conn.mcp.getInstructions()).toMatch(
      /omitted branch_id or parent_id is the project default branch/,
    );
  });

  it('acts on the default branch when a branch_id that was required before is left out', async () => {
    const { project, branch } = api.fake.seedProject();
    api.fake.makeBranch(project.id, { name: 'dev', parent_id: branch.id });
    conn = await connect({ toolsets: ['databases'] });
    const out = await conn.ok('create_database', { project_id: project.id, name: 'reports' });
    expect(out.database).toMatchObject({ name: 'reports', owner_name: 'neondb_owner' });
    expect(await requests()).toContain(`POST /projects/${project.id}/branches/${branch.id}/databases`);
    // Named, it is the branch named; an ID costs no listing.
    const before = (await requests()).length;
    await conn.ok('delete_database', { project_id: project.id, branch_id: branch.id, database: 'reports' });
    const after = (await requests()).slice(before);
    // No listing to resolve it; the others are the change ledger's copy before the deletion (its size,
    // the copy) and its trim after (src/neon/ledger.ts).
    expect(after.filter((r) => !/\/operations\//.test(r))).toEqual([
      `GET /projects/${project.id}/branches/${branch.id}`,
      `POST /projects/${project.id}/branches`,
      `DELETE /projects/${project.id}/branches/${branch.id}/databases/reports`,
      `GET /projects/${project.id}/branches`,
    ]);
    // Deleting needs the branch named: left out, nothing is sent.
    const res = await conn.call('delete_database', { project_id: project.id, database: 'reports' });
    expect(res.isError).toBe(true);
    expect(JSON.stringify(res.content)).toMatch(/branch_id/);
    expect((await requests()).slice(before + after.length)).toEqual([]);
  });

  it('tells IDs from names by Neon’s ID shapes', () => {
    expect(looksLikeId('project', 'fancy-bird-12345678')).toBe(true);
    expect(looksLikeId('project', 'my app')).toBe(false);
    expect(looksLikeId('project', 'demo')).toBe(false);
    expect(looksLikeId('project', 'load-0-100000')).toBe(true);
    expect(looksLikeId('branch', 'br-wispy-meadow-12345678')).toBe(true);
    expect(looksLikeId('branch', 'main')).toBe(false);
    expect(looksLikeId('branch', 'feature/login')).toBe(false);
  });
});

describe('branch names', () => {
  it('resolves a required, an optional and a parent branch given by name', async () => {
    const { project, branch: main } = api.fake.seedProject('shop');
    const dev = api.fake.makeBranch(project.id, { name: 'feature/login Ü', parent_id: main.id });
    api.fake.makeDatabase(dev.id, 'devdb', 'neondb_owner');
    conn = await connect({ toolsets: ['all'] });

    expect((await conn.ok('get_branch', { project_id: project.id, branch_id: 'main' })).branch.id).toBe(
      main.id,
    );
    const dbs = await conn.ok('list_databases', { project_id: project.id, branch_id: 'feature/login Ü' });
    expect(dbs.databases.map((d: any) => d.name)).toEqual(['devdb']);
    const child = await conn.ok('create_branch', {
      project_id: project.id,
      parent_id: 'feature/login Ü',
      name: 'child',
      compute: false,
    });
    expect(child.branch.parent_id).toBe(dev.id);
    const computes = await conn.ok('list_computes', { project_id: project.id, branch_id: 'main' });
    expect(computes.computes).toHaveLength(1);
  });

  it('uses an ID as is, without listing branches', async () => {
    const { project, branch } = api.fake.seedProject('shop');
    conn = await connect();
    await conn.ok('get_branch', { project_id: project.id, branch_id: branch.id });
    expect(await requests()).toContain(`GET /projects/${project.id}/branches/${branch.id}`);
    expect(api.count('GET', `/projects/${project.id}/branches`)).toBe(0);
  });

  it('refuses an unknown name, listing the branches there are, and sends nothing else', async () => {
    const { project, branch: main } = api.fake.seedProject('shop');
    const dev = api.fake.makeBranch(project.id, { name: 'dev', parent_id: main.id });
    conn = await connect();
    const err = await conn.fails('delete_branch', { project_id: project.id, branch_id: 'staging' });
    expect(err).toContain(`No branch is named "staging" in project ${project.id}`);
    expect(err).toContain(`${main.id} (main)`);
    expect(err).toContain(`${dev.id} (dev)`);
    expect(new Set(await requests())).toEqual(new Set([`GET /projects/${project.id}/branches`]));
    expect(api.count('DELETE', /branches/)).toBe(0);
  });

  it('refuses an ambiguous name, listing each candidate by ID and name', async () => {
    const { project, branch: main } = api.fake.seedProject('shop');
    const a = api.fake.makeBranch(project.id, { name: 'preview', parent_id: main.id });
    const b = api.fake.makeBranch(project.id, { name: 'preview', parent_id: main.id });
    api.fake.makeBranch(project.id, { name: 'preview-2', parent_id: main.id });
    conn = await connect();
    const err = await conn.fails('get_branch', { project_id: project.id, branch_id: 'preview' });
    expect(err).toContain('2 branches are named "preview"');
    expect(err).toContain(`${a.id} (preview)`);
    expect(err).toContain(`${b.id} (preview)`);
    expect(err).not.toContain('preview-2');
    expect(err).toMatch(/Pass the ID/);
  });

  it('resolves two branch arguments of one call in the project named by name', async () => {
    const { project, branch: main } = api.fake.seedProject('shop');
    const dev = api.fake.makeBranch(project.id, { name: 'dev', parent_id: main.id });
    conn = await connect({ toolsets: ['all'] });
    const restored = await conn.call(
      'restore_branch',
      await withToken(conn, 'restore_branch', {
        project_id: 'shop',
        branch_id: 'dev',
        source_branch_id: 'main',
      }),
    );
    await api.settle();
    const restore = api.requests.find((r) => r.method === 'POST' && r.path.endsWith('/restore'));
    expect(restore?.path, JSON.stringify(restored.content)).toBe(
      `/projects/${project.id}/branches/${dev.id}/restore`,
    );
    expect(restore?.body).toMatchObject({ source_branch_id: main.id });
  });
});

describe('project names', () => {
  it('resolves a unique project name, also for the branches looked up in it', async () => {
    const { project, branch } = api.fake.seedProject('analytics');
    api.fake.seedProject('analytics-staging');
    conn = await connect();
    expect((await conn.ok('get_project', { project_id: 'analytics' })).project.id).toBe(project.id);
    const got = await conn.ok('get_branch', { project_id: 'analytics', branch_id: 'main' });
    expect(got.branch.id).toBe(branch.id);
  });

  it('uses a project ID as is, without listing projects', async () => {
    const { project } = api.fake.seedProject('analytics');
    conn = await connect();
    await conn.ok('get_project', { project_id: project.id });
    expect(await requests()).toEqual([`GET /projects/${project.id}`]);
  });

  it('takes an ID of an unexpected shape when the search finds a project with that ID', async () => {
    const odd = api.fake.makeProject({ id: 'legacyproject', name: 'Legacy' });
    conn = await connect();
    expect((await conn.ok('get_project', { project_id: 'legacyproject' })).project.id).toBe(odd.id);
  });

  it('refuses a name two projects share, and an unknown one, listing candidates', async () => {
    const one = api.fake.seedProject('twin').project;
    const two = api.fake.seedProject('twin').project;
    const other = api.fake.seedProject('solo').project;
    conn = await connect();
    const ambiguous = await conn.fails('get_project', { project_id: 'twin' });
    expect(ambiguous).toContain('2 projects are named "twin"');
    expect(ambiguous).toContain(`${one.id} (twin)`);
    expect(ambiguous).toContain(`${two.id} (twin)`);
    const unknown = await conn.fails('get_project', { project_id: 'nothing like it' });
    expect(unknown).toContain('No project is named "nothing like it"');
    expect(unknown).toContain(`${other.id} (solo)`);
    expect(unknown).toMatch(/list_projects/);
  });

  it('under --project-id, takes the scoped project’s name and refuses any other', async () => {
    const { project, branch } = api.fake.seedProject('scoped');
    api.fake.seedProject('elsewhere');
    conn = await connect({ projectId: project.id });
    expect((await conn.ok('get_project', { project_id: 'scoped' })).project.id).toBe(project.id);
    const got = await conn.ok('get_branch', { project_id: 'scoped', branch_id: 'main' });
    expect(got.branch.id).toBe(branch.id);
    const err = await conn.fails('get_project', { project_id: 'elsewhere' });
    expect(err).toContain(
      `scoped to project ${project.id} ("scoped"); "elsewhere" is not its name. Omit project_id.`,
    );
    // Scoped, the account's projects are never listed.
    expect(api.count('GET', '/projects')).toBe(0);
  });
});
