import { afterEach, describe, expect, it } from 'vitest';
import { connect, useMockApi } from './helpers.js';

const api = useMockApi();
let conn: Awaited<ReturnType<typeof connect>>;
afterEach(() => conn?.close());

async function requests() {
  await api.settle();
  return api.requests;
}
const allFinished = () => [...api.fake.operations.values()].every((o) => o.status === 'finished');

describe('list_databases and get_database', () => {
  it('lists the databases of a named branch, or of the default branch', async () => {
    const { project, branch: main } = api.fake.seedProject();
    const dev = api.fake.makeBranch(project.id, { name: 'dev', parent_id: main.id });
    api.fake.makeDatabase(dev.id, 'devdb', 'neondb_owner');
    conn = await connect();
    const byDefault = await conn.ok('list_databases', { project_id: project.id });
    expect(byDefault.branch_id).toBe(main.id);
    expect(byDefault.databases).toEqual([
      { name: 'neondb', owner_name: 'neondb_owner', created_at: expect.any(String) },
    ]);
    const ofDev = await conn.ok('list_databases', { project_id: project.id, branch_id: dev.id });
    expect(ofDev.databases.map((d: any) => d.name)).toEqual(['devdb']);
  });

  it('gets one database and names a missing one', async () => {
    const { project, branch } = api.fake.seedProject();
    conn = await connect();
    const out = await conn.ok('get_database', {
      project_id: project.id,
      branch_id: branch.id,
      database: 'neondb',
    });
    expect(out.database).toMatchObject({ name: 'neondb', owner_name: 'neondb_owner', branch_id: branch.id });
    const err = await conn.fails('get_database', { project_id: project.id, database: 'nope' });
    expect(err).toMatch(/HTTP 404/);
    expect(err).toMatch(/database "nope" in branch "br-[^"]+" in project "/);
  });
});

describe('create_database', () => {
  it("defaults the owner to the owner of the branch's first database", async () => {
    const { project, branch } = api.fake.seedProject();
    api.fake.makeRole(branch.id, 'app');
    conn = await connect();
    const out = await conn.ok('create_database', {
      project_id: project.id,
      branch_id: branch.id,
      name: 'shop',
    });
    expect(out.database).toMatchObject({ name: 'shop', owner_name: 'neondb_owner' });
    expect(api.fake.databasesOf(branch.id).map((d) => d.name)).toEqual(['neondb', 'shop']);
    const post = (await requests()).find((r) => r.method === 'POST');
    expect(post?.body).toEqual({ database: { name: 'shop', owner_name: 'neondb_owner' } });
    expect(allFinished()).toBe(true);
  });

  it('uses the owner given', async () => {
    const { project, branch } = api.fake.seedProject();
    api.fake.makeRole(branch.id, 'app');
    conn = await connect();
    const out = await conn.ok('create_database', {
      project_id: project.id,
      branch_id: branch.id,
      name: 'appdb',
      owner: 'app',
    });
    expect(out.database.owner_name).toBe('app');
    expect(api.fake.databasesOf(branch.id).find((d) => d.name === 'appdb')?.owner_name).toBe('app');
  });

  it('takes the only role of a branch without databases, and asks when there are several', async () => {
    const { project } = api.fake.seedProject();
    const empty = api.fake.makeBranch(project.id, { name: 'empty' });
    api.fake.makeRole(empty.id, 'solo');
    conn = await connect();
    const out = await conn.ok('create_database', {
      project_id: project.id,
      branch_id: empty.id,
      name: 'first',
    });
    expect(out.database.owner_name).toBe('solo');

    const two = api.fake.makeBranch(project.id, { name: 'two' });
    api.fake.makeRole(two.id, 'a');
    api.fake.makeRole(two.id, 'b');
    const err = await conn.fails('create_database', { project_id: project.id, branch_id: two.id, name: 'x' });
    expect(err).toMatch(/pass owner \(one of: a, b\)/);
    expect(api.fake.databasesOf(two.id)).toHaveLength(0);
  });

  it('turns a 409 for an existing name into a clear error', async () => {
    const { project, branch } = api.fake.seedProject();
    conn = await connect();
    const err = await conn.fails('create_database', {
      project_id: project.id,
      branch_id: branch.id,
      name: 'neondb',
    });
    expect(err).toMatch(/HTTP 409: database "neondb" already exists/);
  });

  it('reports a failed operation with its ID and action', async () => {
    const { project, branch } = api.fake.seedProject();
    api.fake.failNextOperation = 'disk full';
    conn = await connect();
    const err = await conn.fails('create_database', {
      project_id: project.id,
      branch_id: branch.id,
      name: 'doomed',
    });
    const op = [...api.fake.operations.values()][0];
    expect(err).toContain(`Neon operation ${op.id} (apply_config) ended with status "failed": disk full`);
  });

  it('refuses names Postgres would not take, before sending', async () => {
    const { project, branch } = api.fake.seedProject();
    conn = await connect();
    const err = await conn.fails('create_database', {
      project_id: project.id,
      branch_id: branch.id,
      name: 'x'.repeat(64),
    });
    expect(err).toMatch(/1 to 63 bytes/);
    expect(await requests()).toHaveLength(0);
  });
});

describe('update_database and delete_database', () => {
  it('renames a database and changes its owner', async () => {
    const { project, branch } = api.fake.seedProject();
    api.fake.makeRole(branch.id, 'app');
    conn = await connect();
    const out = await conn.ok('update_database', {
      project_id: project.id,
      branch_id: branch.id,
      database: 'neondb',
      name: 'main_db',
      owner: 'app',
    });
    expect(out.database).toMatchObject({ name: 'main_db', owner_name: 'app' });
    expect(api.fake.databasesOf(branch.id).map((d) => d.name)).toEqual(['main_db']);
    expect((await requests()).find((r) => r.method === 'PATCH')?.body).toEqual({
      database: { name: 'main_db', owner_name: 'app' },
    });
    expect(
      await conn.fails('update_database', {
        project_id: project.id,
        branch_id: branch.id,
        database: 'main_db',
      }),
    ).toMatch(/Nothing to change/);
  });

  it('deletes a database, which disappears from the list', async () => {
    const { project, branch } = api.fake.seedProject();
    api.fake.makeDatabase(branch.id, 'tmp', 'neondb_owner');
    conn = await connect();
    const out = await conn.ok('delete_database', {
      project_id: project.id,
      branch_id: branch.id,
      database: 'tmp',
    });
    expect(out).toMatchObject({ deleted: true, database: { name: 'tmp' } });
    const list = await conn.ok('list_databases', { project_id: project.id, branch_id: branch.id });
    expect(list.databases.map((d: any) => d.name)).toEqual(['neondb']);
    expect(allFinished()).toBe(true);
  });

  it('names the missing database on delete', async () => {
    const { project, branch } = api.fake.seedProject();
    conn = await connect();
    const err = await conn.fails('delete_database', {
      project_id: project.id,
      branch_id: branch.id,
      database: 'ghost',
    });
    expect(err).toMatch(/database "ghost"/);
  });
});
