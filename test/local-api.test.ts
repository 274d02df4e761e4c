/**
 * The local stand-in for Neon's API (src/local) on a real PostgreSQL server, driven through the real
 * NeonClient: every request and every answer is checked against spec/neon-openapi-v2.json, as the test
 * fake's requests are (test/mock/spec.ts). Covers branches as copies, roles with real passwords,
 * connection URIs that connect, schemas, the catalog surviving a restart, and the error for what local
 * mode does not serve.
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NeonApiError } from '../src/client/errors.js';
import { NeonClient } from '../src/client/neon-client.js';
import { CATALOG_DATABASE } from '../src/local/catalog.js';
import { type LocalMode, startLocal } from '../src/local/index.js';
import { validatingFetch } from './mock/spec.js';
import { startPostgres, type TestPostgres } from './pg/server.js';

let server: TestPostgres;
let local: LocalMode;
let client: NeonClient;
const problems: string[] = [];

async function start(): Promise<void> {
  local = await startLocal({ postgresUrl: server.uri('postgres') });
  client = new NeonClient({ apiKey: local.apiKey, baseUrl: local.baseUrl, fetch: validatingFetch(problems) });
}

beforeAll(async () => {
  server = await startPostgres();
  await start();
}, 60_000);

afterAll(async () => {
  await local?.stop();
  await server?.stop();
});

afterEach(() => {
  const seen = problems.splice(0);
  expect(seen).toEqual([]);
});

async function sql<R extends Record<string, any>>(uri: string, text: string): Promise<R[]> {
  const c = new pg.Client({ connectionString: uri });
  await c.connect();
  try {
    return (await c.query<R>(text)).rows;
  } finally {
    await c.end();
  }
}

async function firstProject() {
  const { projects } = await client.get('/projects', {});
  const project_id = projects[0].id;
  const { branches } = await client.get('/projects/{project_id}/branches', { path: { project_id } });
  return { project_id, main: branches.find((b) => b.default)!.id };
}

const uriOf = async (
  project_id: string,
  branch_id: string,
  database_name = 'neondb',
  role_name = 'neondb_owner',
) =>
  (
    await client.get('/projects/{project_id}/connection_uri', {
      path: { project_id },
      query: { branch_id, database_name, role_name },
    })
  ).uri;

describe('local mode API', () => {
  it('starts with a project "local": branch main, compute, database neondb owned by neondb_owner', async () => {
    const { project_id, main } = await firstProject();
    const { project } = await client.get('/projects/{project_id}', { path: { project_id } });
    expect(project).toMatchObject({ name: 'local', pg_version: 18 });
    const { databases } = await client.get('/projects/{project_id}/branches/{branch_id}/databases', {
      path: { project_id, branch_id: main },
    });
    expect(databases).toMatchObject([{ name: 'neondb', owner_name: 'neondb_owner' }]);
    const { endpoints } = await client.get('/projects/{project_id}/branches/{branch_id}/endpoints', {
      path: { project_id, branch_id: main },
    });
    expect(endpoints).toMatchObject([{ type: 'read_write', current_state: 'active' }]);
    const rows = await sql<{ u: string }>(await uriOf(project_id, main), 'SELECT current_user AS u');
    expect(rows[0].u).toMatch(/^neondb_owner__/);
  });

  it('a branch is a copy of its parent now: its own data, objects owned by its own role, parent untouched', async () => {
    const { project_id, main } = await firstProject();
    const mainUri = await uriOf(project_id, main);
    await sql(mainUri, 'CREATE TABLE items (id int PRIMARY KEY, name text)');
    await sql(mainUri, "INSERT INTO items VALUES (1, 'one')");

    // A second role of the branch with a privilege on the table: the copy gives it to the copy's role.
    await client.post('/projects/{project_id}/branches/{branch_id}/roles', {
      path: { project_id, branch_id: main },
      body: { role: { name: 'reader' } },
    });
    const mainReader = await uriOf(project_id, main, 'neondb', 'reader');
    await sql(mainUri, `GRANT SELECT ON items TO "${decodeURIComponent(new URL(mainReader).username)}"`);

    const created = await client.post('/projects/{project_id}/branches', {
      path: { project_id },
      body: { branch: { name: 'dev', parent_id: main }, endpoints: [{ type: 'read_write' }] },
    });
    expect(created.operations.every((o) => o.status === 'finished')).toBe(true);
    const dev = created.branch.id;
    expect(created.branch).toMatchObject({ name: 'dev', parent_id: main, default: false });
    expect(created.databases).toMatchObject([{ name: 'neondb', owner_name: 'neondb_owner' }]);
    const devUri = await uriOf(project_id, dev);
    expect(devUri).not.toBe(mainUri);

    expect(await sql(devUri, 'SELECT * FROM items')).toEqual([{ id: 1, name: 'one' }]);
    // Owned by the branch's own role: it can change the table (a migration on the branch).
    await sql(devUri, 'ALTER TABLE items ADD COLUMN price numeric');
    await sql(devUri, "INSERT INTO items VALUES (2, 'two', 3)");
    expect(await sql(mainUri, 'SELECT count(*)::int AS n FROM items')).toEqual([{ n: 1 }]);
    expect(
      await sql(await uriOf(project_id, dev, 'neondb', 'reader'), 'SELECT count(*)::int AS n FROM items'),
    ).toEqual([{ n: 2 }]);
    expect(await sql(mainReader, 'SELECT count(*)::int AS n FROM items')).toEqual([{ n: 1 }]);
    // Nothing in the copy names the parent's roles: the parent's reader can go while the branch lives.
    await client.delete('/projects/{project_id}/branches/{branch_id}/roles/{role_name}', {
      path: { project_id, branch_id: main, role_name: 'reader' },
    });
    expect(
      await sql(await uriOf(project_id, dev, 'neondb', 'reader'), 'SELECT count(*)::int AS n FROM items'),
    ).toEqual([{ n: 2 }]);
    // The parent's database still belongs to the parent's role.
    expect(
      await sql(
        mainUri,
        'SELECT pg_get_userbyid(datdba) AS o FROM pg_database WHERE datname = current_database()',
      ),
    ).toEqual([{ o: (await sql<{ u: string }>(mainUri, 'SELECT current_user AS u'))[0].u }]);

    // One branch's role cannot connect to another branch's database.
    const intruder = new URL(mainUri);
    const devRole = new URL(devUri);
    intruder.username = devRole.username;
    intruder.password = devRole.password;
    await expect(sql(intruder.toString(), 'SELECT 1')).rejects.toThrow(/permission denied/);

    const { sql: schema } = await client.get('/projects/{project_id}/branches/{branch_id}/schema', {
      path: { project_id, branch_id: dev },
      query: { db_name: 'neondb' },
    });
    expect(schema).toContain('price numeric');
    const { diff } = await client.get('/projects/{project_id}/branches/{branch_id}/compare_schema', {
      path: { project_id, branch_id: dev },
      query: { db_name: 'neondb' },
    });
    expect(diff).toMatch(/^\+ {4}price numeric/m);

    const deleted = await client.delete('/projects/{project_id}/branches/{branch_id}', {
      path: { project_id, branch_id: dev },
    });
    expect(deleted?.branch.id).toBe(dev);
    await expect(sql(devUri, 'SELECT 1')).rejects.toThrow();
    await sql(mainUri, 'DROP TABLE items');
  });

  it('resets a branch from its parent: the parent’s databases as they are now, the branch’s roles and URIs kept', async () => {
    const { project_id, main } = await firstProject();
    const mainUri = await uriOf(project_id, main);
    await sql(mainUri, 'CREATE TABLE kept (id int PRIMARY KEY)');
    await sql(mainUri, 'INSERT INTO kept VALUES (1)');
    const created = await client.post('/projects/{project_id}/branches', {
      path: { project_id },
      body: { branch: { name: 'reset-me', parent_id: main }, endpoints: [{ type: 'read_write' }] },
    });
    const dev = created.branch.id;
    const devUri = await uriOf(project_id, dev);
    await sql(devUri, 'INSERT INTO kept VALUES (2)');
    await sql(devUri, 'CREATE TABLE junk (id int)');
    // The parent moves on after the branch was made; and gets a role the branch does not have yet.
    await sql(mainUri, 'INSERT INTO kept VALUES (3)');
    await client.post('/projects/{project_id}/branches/{branch_id}/roles', {
      path: { project_id, branch_id: main },
      body: { role: { name: 'late' } },
    });

    const restore = (body: Record<string, unknown>, branch_id = dev) =>
      client.post('/projects/{project_id}/branches/{branch_id}/restore', {
        path: { project_id, branch_id },
        body: body as { source_branch_id: string },
      });
    const reset = await restore({ source_branch_id: main });
    expect(reset.branch.id).toBe(dev);
    expect(reset.operations.every((o) => o.status === 'finished')).toBe(true);
    // The same URI (role and password) connects to the fresh copy of the parent as it is now.
    expect(await uriOf(project_id, dev)).toBe(devUri);
    expect(await sql(devUri, 'SELECT id FROM kept ORDER BY id')).toEqual([{ id: 1 }, { id: 3 }]);
    await expect(sql(devUri, 'SELECT * FROM junk')).rejects.toThrow(/does not exist/);
    // Owned by the branch's role again: it can change the table.
    await sql(devUri, 'ALTER TABLE kept ADD COLUMN note text');
    expect(await sql(mainUri, 'SELECT count(*)::int AS n FROM kept')).toEqual([{ n: 2 }]);
    await sql(await uriOf(project_id, dev, 'neondb', 'late'), 'SELECT 1');

    // Only from a branch at its head (restore-from.test.ts): a point in time needs Neon's history.
    for (const body of [
      { source_branch_id: main, source_timestamp: new Date().toISOString() },
      { source_branch_id: main, source_lsn: '0/1' },
      { source_branch_id: dev, source_lsn: '0/1' },
    ])
      await expect(restore(body)).rejects.toThrow(/not available in local mode \(neon-mcp --local\)/);
    await expect(restore({ source_branch_id: dev })).rejects.toThrow(/keeps no history/);
    const child = await client.post('/projects/{project_id}/branches', {
      path: { project_id },
      body: { branch: { name: 'reset-child', parent_id: dev } },
    });
    await expect(restore({ source_branch_id: main })).rejects.toThrow(/has child branches/);

    for (const branch_id of [child.branch.id, dev])
      await client.delete('/projects/{project_id}/branches/{branch_id}', { path: { project_id, branch_id } });
    await client.delete('/projects/{project_id}/branches/{branch_id}/roles/{role_name}', {
      path: { project_id, branch_id: main, role_name: 'late' },
    });
    await sql(mainUri, 'DROP TABLE kept');
  });

  it('a role made with SQL on a branch (create_role read_only) goes with the branch', async () => {
    const { project_id, main } = await firstProject();
    const made = await client.post('/projects/{project_id}/branches', {
      path: { project_id },
      body: { branch: { name: 'sql-roles', parent_id: main }, endpoints: [{ type: 'read_write' }] },
    });
    const devUri = await uriOf(project_id, made.branch.id);
    // The owner may create roles, as on Neon.
    await sql(devUri, "CREATE ROLE sql_made LOGIN PASSWORD 'sql-made-pw'");
    await sql(devUri, 'CREATE TABLE seen (id int)');
    await sql(devUri, 'GRANT SELECT ON seen TO sql_made');
    const count = async () =>
      (
        await server.query('postgres', "SELECT count(*)::int AS n FROM pg_roles WHERE rolname = 'sql_made'")
      )[0].n;
    expect(await count()).toBe(1);
    await client.delete('/projects/{project_id}/branches/{branch_id}', {
      path: { project_id, branch_id: made.branch.id },
    });
    expect(await count()).toBe(0);
  });

  it('databases and roles: create, rename, reveal and reset a real password, delete', async () => {
    const { project_id, main } = await firstProject();
    const path = { project_id, branch_id: main };
    const { role } = await client.post('/projects/{project_id}/branches/{branch_id}/roles', {
      path,
      body: { role: { name: 'app' } },
    });
    const { password } = await client.get(
      '/projects/{project_id}/branches/{branch_id}/roles/{role_name}/reveal_password',
      { path: { ...path, role_name: 'app' } },
    );
    expect(password).toBe(role.password);
    await client.post('/projects/{project_id}/branches/{branch_id}/databases', {
      path,
      body: { database: { name: 'shop', owner_name: 'app' } },
    });
    const uri = await uriOf(project_id, main, 'shop', 'app');
    expect(decodeURIComponent(new URL(uri).password)).toBe(password);
    await sql(uri, 'CREATE TABLE t (x int)');

    const reset = await client.post(
      '/projects/{project_id}/branches/{branch_id}/roles/{role_name}/reset_password',
      { path: { ...path, role_name: 'app' } },
    );
    expect(reset.role.password).not.toBe(password);
    await expect(sql(uri, 'SELECT 1')).rejects.toThrow(/password authentication failed/);
    const renamed = await client.patch(
      '/projects/{project_id}/branches/{branch_id}/databases/{database_name}',
      {
        path: { ...path, database_name: 'shop' },
        body: { database: { name: 'store' } },
      },
    );
    expect(renamed.database.name).toBe('store');
    expect(
      await sql(await uriOf(project_id, main, 'store', 'app'), 'SELECT count(*)::int AS n FROM t'),
    ).toEqual([{ n: 0 }]);
    await expect(
      client.delete('/projects/{project_id}/branches/{branch_id}/roles/{role_name}', {
        path: { ...path, role_name: 'app' },
      }),
    ).rejects.toThrow(/owns database store/);
    await client.delete('/projects/{project_id}/branches/{branch_id}/databases/{database_name}', {
      path: { ...path, database_name: 'store' },
    });
    await client.delete('/projects/{project_id}/branches/{branch_id}/roles/{role_name}', {
      path: { ...path, role_name: 'app' },
    });
    const { roles } = await client.get('/projects/{project_id}/branches/{branch_id}/roles', { path });
    expect(roles.map((r) => r.name)).toEqual(['neondb_owner']);
  });

  it('projects: create with a database copy-ready branch, list, rename, delete (its databases go too)', async () => {
    const created = await client.post('/projects', { body: { project: { name: 'second' } } });
    expect(created.connection_uris?.[0].connection_uri).toMatch(/^postgresql:\/\//);
    await sql(created.connection_uris![0].connection_uri, 'SELECT 1');
    const project_id = created.project.id;
    const { projects } = await client.get('/projects', { query: { search: 'second' } });
    expect(projects.map((p) => p.id)).toEqual([project_id]);
    const patched = await client.patch('/projects/{project_id}', {
      path: { project_id },
      body: { project: { name: 'renamed' } },
    });
    expect(patched.project.name).toBe('renamed');
    await client.delete('/projects/{project_id}', { path: { project_id } });
    await expect(sql(created.connection_uris![0].connection_uri, 'SELECT 1')).rejects.toThrow();
    await expect(client.get('/projects/{project_id}', { path: { project_id } })).rejects.toThrow(/not found/);
  });

  it('answers what it does not serve with an error naming local mode, and refuses a wrong key', async () => {
    const { project_id } = await firstProject();
    const error = await client
      .get('/projects/{project_id}/snapshots', { path: { project_id } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NeonApiError);
    expect((error as NeonApiError).status).toBe(400);
    expect(String(error)).toMatch(/not available in local mode \(neon-mcp --local\)/);
    await expect(
      client.post('/projects/{project_id}/branches', {
        path: { project_id },
        body: { branch: { parent_lsn: '0/1' } },
      }),
    ).rejects.toThrow(/parent_lsn is not available in local mode/);
    const stranger = await fetch(`${local.baseUrl}/projects`, { headers: { authorization: 'Bearer nope' } });
    expect(stranger.status).toBe(401);
  });

  it('keeps projects, branches and their databases across a restart (the catalog is in PostgreSQL)', async () => {
    const { project_id, main } = await firstProject();
    const { branch } = await client.post('/projects/{project_id}/branches', {
      path: { project_id },
      body: { branch: { name: 'kept', parent_id: main } },
    });
    await sql(await uriOf(project_id, branch.id), 'CREATE TABLE kept_t (x int)');
    await local.stop();
    await start();
    const { branches } = await client.get('/projects/{project_id}/branches', { path: { project_id } });
    expect(branches.map((b) => b.name).sort()).toEqual(['kept', 'main']);
    expect(await sql(await uriOf(project_id, branch.id), 'SELECT count(*)::int AS n FROM kept_t')).toEqual([
      { n: 0 },
    ]);
    const rows = await server.query(CATALOG_DATABASE, 'SELECT count(*)::int AS n FROM objects');
    expect(rows[0].n).toBeGreaterThan(0);
    // The catalog holds the roles' passwords: a branch's role cannot connect to it.
    const peek = new URL(await uriOf(project_id, branch.id));
    peek.pathname = `/${CATALOG_DATABASE}`;
    await expect(sql(peek.toString(), 'SELECT 1')).rejects.toThrow(/permission denied/);
    await client.delete('/projects/{project_id}/branches/{branch_id}', {
      path: { project_id, branch_id: branch.id },
    });
  });
});
