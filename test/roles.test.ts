import { HttpResponse, http } from 'msw';
import { afterEach, describe, expect, it } from 'vitest';
import { BASE, connect, text, useMockApi } from './helpers.js';
import { OWNER } from './pg/branches.js';
import { sqlstateOf } from './pg/server.js';
import { usePostgres } from './pg/use-postgres.js';

const api = useMockApi();
const { dbs } = usePostgres(api, {
  preload: ['pg_stat_statements'],
  // As on Neon: the owner is a neon_superuser member and may create roles.
  async setup(pg) {
    await pg.query('postgres', `ALTER ROLE ${OWNER} CREATEROLE`);
    await pg.query('postgres', 'CREATE ROLE neon_superuser NOLOGIN');
    await pg.query('postgres', `GRANT neon_superuser TO ${OWNER}`);
  },
});
let conn: Awaited<ReturnType<typeof connect>>;
afterEach(() => conn?.close());

async function requests() {
  await api.settle();
  return api.requests;
}
const allFinished = () => [...api.fake.operations.values()].every((o) => o.status === 'finished');

describe('list_roles and get_role', () => {
  it('lists roles of the default or a named branch, without passwords', async () => {
    const { project, branch: main } = api.fake.seedProject();
    const dev = api.fake.makeBranch(project.id, { name: 'dev', parent_id: main.id });
    const devRole = api.fake.makeRole(dev.id, 'dev_user');
    conn = await connect({ toolsets: ['roles'] });
    // Login roles made with SQL follow Neon's (made_with "sql"); the test server's own are among them.
    const neonOnly = (out: any) => out.roles.filter((r: any) => !r.made_with);
    const byDefault = await conn.ok('list_roles', { project_id: project.id });
    expect(byDefault.branch_id).toBe(main.id);
    expect(neonOnly(byDefault)).toMatchObject([{ name: 'neondb_owner', protected: false }]);
    const res = await conn.call('list_roles', { project_id: project.id, branch_id: dev.id });
    expect(neonOnly(res.structuredContent).map((r: any) => r.name)).toEqual(['dev_user']);
    expect(text(res)).not.toContain(devRole.password);
    expect(text(res)).not.toContain('password');
  });

  it('gets a role without its password, even when Neon sends one', async () => {
    const { project, branch } = api.fake.seedProject();
    const role = api.fake.roles[0];
    api.use(
      http.get(`${BASE}/projects/:project_id/branches/:branch_id/roles/:role_name`, () =>
        HttpResponse.json({ role }),
      ),
    );
    conn = await connect({ toolsets: ['roles'] });
    const res = await conn.call('get_role', {
      project_id: project.id,
      branch_id: branch.id,
      role: role.name,
    });
    expect(res.isError).toBeFalsy();
    expect((res.structuredContent as any).role).toMatchObject({ name: 'neondb_owner', branch_id: branch.id });
    expect(text(res)).not.toContain(role.password);
  });

  it('names a missing role', async () => {
    const { project, branch } = api.fake.seedProject();
    conn = await connect({ toolsets: ['roles'] });
    const err = await conn.fails('get_role', {
      project_id: project.id,
      branch_id: branch.id,
      role: 'nobody',
    });
    // Neon's 404 sends it to the database's own roles, which lack it too: the role is named, not the project.
    expect(err).toMatch(new RegExp(`get_role: role "nobody" was not found on branch ${branch.id}`));
  });
});

describe('create_role and delete_role', () => {
  it('creates a role and returns its password once, labelled', async () => {
    const { project, branch } = api.fake.seedProject();
    conn = await connect({ toolsets: ['roles'] });
    const out = await conn.ok('create_role', { project_id: project.id, branch_id: branch.id, name: 'app' });
    const stored = api.fake.rolesOf(branch.id).find((r) => r.name === 'app');
    expect(stored).toBeDefined();
    expect(out.password).toBe(stored!.password);
    expect(out.password_note).toMatch(/^SECRET: the password of role app/);
    expect(out.role).toMatchObject({ name: 'app', branch_id: branch.id });
    expect(out.role).not.toHaveProperty('password');
    expect(allFinished()).toBe(true);
  });

  it('creates a role that cannot log in', async () => {
    const { project, branch } = api.fake.seedProject();
    api.use(
      http.post(`${BASE}/projects/:project_id/branches/:branch_id/roles`, async ({ request }) => {
        const { role } = (await request.clone().json()) as any;
        expect(role).toEqual({ name: 'readers', no_login: true });
        const t = new Date().toISOString();
        return HttpResponse.json(
          { role: { branch_id: branch.id, name: 'readers', created_at: t, updated_at: t }, operations: [] },
          { status: 201 },
        );
      }),
    );
    conn = await connect({ toolsets: ['roles'] });
    const out = await conn.ok('create_role', {
      project_id: project.id,
      branch_id: branch.id,
      name: 'readers',
      no_login: true,
    });
    expect(out.password).toBeUndefined();
    expect(out.password_note).toMatch(/no password/);
  });

  it('turns a 409 for an existing role into a clear error', async () => {
    const { project, branch } = api.fake.seedProject();
    conn = await connect({ toolsets: ['roles'] });
    const err = await conn.fails('create_role', {
      project_id: project.id,
      branch_id: branch.id,
      name: 'neondb_owner',
    });
    expect(err).toMatch(/HTTP 409: role "neondb_owner" already exists/);
    expect(api.fake.rolesOf(branch.id)).toHaveLength(1);
  });

  it('deletes a role, which disappears from the list', async () => {
    const { project, branch } = api.fake.seedProject();
    const temp = api.fake.makeRole(branch.id, 'temp');
    conn = await connect({ toolsets: ['roles'] });
    const res = await conn.call('delete_role', {
      project_id: project.id,
      branch_id: branch.id,
      role: 'temp',
    });
    expect(res.structuredContent).toMatchObject({ deleted: true, role: { name: 'temp' } });
    expect(text(res)).not.toContain(temp.password);
    const list = await conn.ok('list_roles', { project_id: project.id, branch_id: branch.id });
    expect(list.roles.filter((r: any) => !r.made_with).map((r: any) => r.name)).toEqual(['neondb_owner']);
    expect(allFinished()).toBe(true);
  });
});

describe('reveal_role_password and reset_role_password', () => {
  it('reveals the current password', async () => {
    const { project, branch } = api.fake.seedProject();
    conn = await connect({ toolsets: ['roles'] });
    const out = await conn.ok('reveal_role_password', {
      project_id: project.id,
      branch_id: branch.id,
      role: 'neondb_owner',
    });
    expect(out.password).toBe(api.fake.roles[0].password);
    expect(out.password_note).toMatch(/SECRET/);
  });

  it('an answer without the password is an error saying so, not a success without one', async () => {
    const { project, branch } = api.fake.seedProject();
    api.use(
      http.get(`${BASE}/projects/:project_id/branches/:branch_id/roles/:role_name/reveal_password`, () =>
        HttpResponse.json({}),
      ),
    );
    conn = await connect({ toolsets: ['roles'] });
    const err = await conn.fails('reveal_role_password', {
      project_id: project.id,
      branch_id: branch.id,
      role: 'neondb_owner',
    });
    expect(err).toBe(
      `Neon's answer to GET /projects/${project.id}/branches/${branch.id}/roles/neondb_owner/reveal_password has no password for role neondb_owner. Nothing was changed; try again, and if Neon keeps answering so, reset_role_password sets a new password (the old one then stops working).`,
    );
  });

  it('resets the password: the new one is returned and the old one is gone', async () => {
    const { project, branch } = api.fake.seedProject();
    const old = api.fake.roles[0].password;
    conn = await connect({ toolsets: ['roles'] });
    const out = await conn.ok('reset_role_password', {
      project_id: project.id,
      branch_id: branch.id,
      role: 'neondb_owner',
    });
    expect(out.password).toBe(api.fake.roles[0].password);
    expect(out.password).not.toBe(old);
    expect(out.role).not.toHaveProperty('password');
    expect(out.password_note).toMatch(/old one no longer works/);
    expect(allFinished()).toBe(true);
    expect((await requests()).filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('reports a failed reset with the operation ID and action', async () => {
    const { project, branch } = api.fake.seedProject();
    api.fake.failNextOperation = 'disk full';
    conn = await connect({ toolsets: ['roles'] });
    const err = await conn.fails('reset_role_password', {
      project_id: project.id,
      branch_id: branch.id,
      role: 'neondb_owner',
    });
    const op = [...api.fake.operations.values()][0];
    expect(err).toContain(`Neon operation ${op.id} (apply_config)`);
    expect(err).toContain('disk full');
  });

  it('hides every password-returning role tool in read-only mode', async () => {
    conn = await connect({ readOnly: true, toolsets: ['roles'] });
    const names = (await conn.mcp.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['list_roles', 'get_role']));
    for (const hidden of ['create_role', 'reveal_role_password', 'reset_role_password', 'delete_role']) {
      expect(names).not.toContain(hidden);
    }
  });
});

/** Runs SQL with a URI a tool returned; resolves to the error's SQLSTATE, or 'ok'. */
const as = sqlstateOf;
/** The SQLSTATE of connecting to `uri` ('ok' when it connects): 28P01 for a password that no longer works. */
const login = (uri: string) => sqlstateOf(uri, 'SELECT 1').catch((e) => (e as { code?: string }).code);

async function seededWithTable() {
  const { project, branch } = api.fake.seedProject();
  await dbs.query(
    branch.id,
    'CREATE TABLE items (id serial PRIMARY KEY, name text); INSERT INTO items (name) VALUES ($$a$$); CREATE VIEW item_names AS SELECT name FROM items',
  );
  return { project_id: project.id as string, branch_id: branch.id as string };
}

describe('create_role with access', () => {
  it('says that the default role is a neon_superuser member', async () => {
    conn = await connect({ toolsets: ['roles'] });
    const tool = (await conn.mcp.listTools()).tools.find((t) => t.name === 'create_role')!;
    expect(JSON.stringify(tool.inputSchema)).toMatch(
      /owner \(default\): neon_superuser member, full access;/,
    );
  });

  it('makes a read-only role that can SELECT and nothing else, also on tables created later', async () => {
    const { project_id, branch_id } = await seededWithTable();
    await dbs.admin(branch_id, 'CREATE EXTENSION pg_stat_statements');
    conn = await connect({ toolsets: ['roles'] });
    const out = await conn.ok('create_role', { project_id, branch_id, name: 'analyst', access: 'read_only' });
    // The password is in no statement text Postgres keeps (a read-only tool can read these).
    const kept = await dbs.admin(branch_id, 'SELECT query FROM pg_stat_statements');
    // (Statements like CREATE ROLE are kept: the DO block that made the role is.)
    expect(JSON.stringify(kept)).toContain('CREATE ROLE %I');
    expect(JSON.stringify(kept)).not.toContain(out.password);
    expect(out.role).toEqual({ name: 'analyst', branch_id, access: 'read_only', database: 'neondb' });
    expect(out.password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(out.password_note).toMatch(/^SECRET/);
    expect(out.grants).toMatch(/schemas public of database neondb/);
    expect(out.warning).toBeUndefined();
    const uri = new URL(out.uri);
    expect(decodeURIComponent(uri.username)).toBe('analyst');
    expect(decodeURIComponent(uri.password)).toBe(out.password);
    // Not through Neon's API: that would make a neon_superuser member.
    expect(api.count('POST', `/projects/${project_id}/branches/${branch_id}/roles`)).toBe(0);
    const [member] = await dbs.admin(
      branch_id,
      `SELECT pg_has_role('analyst', 'neon_superuser', 'member') AS m`,
    );
    expect(member.m).toBe(false);

    expect(await as(out.uri, 'SELECT * FROM items')).toBe('ok');
    expect(await as(out.uri, 'SELECT * FROM item_names')).toBe('ok');
    expect(await as(out.uri, `SELECT last_value FROM items_id_seq`)).toBe('ok');
    expect(await as(out.uri, `INSERT INTO items (name) VALUES ('x')`)).toBe('42501');
    expect(await as(out.uri, `UPDATE items SET name = 'x'`)).toBe('42501');
    expect(await as(out.uri, 'DELETE FROM items')).toBe('42501');
    expect(await as(out.uri, 'TRUNCATE items')).toBe('42501');
    expect(await as(out.uri, 'CREATE TABLE mine (id int)')).toBe('42501');
    expect(await as(out.uri, `SELECT nextval('items_id_seq')`)).toBe('42501');

    await dbs.query(branch_id, 'CREATE TABLE later (id int); INSERT INTO later VALUES (1)');
    expect(await as(out.uri, 'SELECT * FROM later')).toBe('ok');
    expect(await as(out.uri, 'INSERT INTO later VALUES (2)')).toBe('42501');
    expect(await as(out.uri, 'TRUNCATE later')).toBe('42501');
    expect(await dbs.query(branch_id, 'SELECT count(*)::int AS n FROM items')).toEqual([{ n: 1 }]);
  });

  it('makes a read-write role that can change rows but not the schema', async () => {
    const { project_id, branch_id } = await seededWithTable();
    conn = await connect({ toolsets: ['roles'] });
    const out = await conn.ok('create_role', {
      project_id,
      branch_id,
      name: 'app_rw',
      access: 'read_write',
      database: 'neondb',
    });
    expect(out.role.access).toBe('read_write');
    expect(await as(out.uri, `INSERT INTO items (name) VALUES ('b')`)).toBe('ok');
    expect(await as(out.uri, `UPDATE items SET name = 'c' WHERE name = 'b'`)).toBe('ok');
    expect(await as(out.uri, `DELETE FROM items WHERE name = 'c'`)).toBe('ok');
    expect(await as(out.uri, 'SELECT * FROM items')).toBe('ok');
    expect(await as(out.uri, 'CREATE TABLE mine (id int)')).toBe('42501');
    expect(await as(out.uri, 'DROP TABLE items')).toBe('42501');
    expect(await as(out.uri, 'ALTER TABLE items ADD COLUMN x int')).toBe('42501');
    expect(await as(out.uri, 'TRUNCATE items')).toBe('42501');
    await dbs.query(branch_id, 'CREATE TABLE later (id serial, v int)');
    expect(await as(out.uri, 'INSERT INTO later (v) VALUES (1)')).toBe('ok');
    expect(await as(out.uri, 'DROP TABLE later')).toBe('42501');
  });

  it('refuses an existing name without leaving anything behind, and no_login with a limited access', async () => {
    const { project_id, branch_id } = await seededWithTable();
    conn = await connect({ toolsets: ['roles'] });
    const err = await conn.fails('create_role', { project_id, branch_id, name: OWNER, access: 'read_only' });
    expect(err).toMatch(/already exists/);
    const noLogin = await conn.fails('create_role', {
      project_id,
      branch_id,
      name: 'x1',
      access: 'read_only',
      no_login: true,
    });
    expect(noLogin).toMatch(/no_login cannot be combined/);
    const db = await conn.fails('create_role', { project_id, branch_id, name: 'x2', database: 'neondb' });
    expect(db).toMatch(/database applies to access read_only or read_write/);
    expect(await dbs.admin(branch_id, `SELECT 1 FROM pg_roles WHERE rolname IN ('x1', 'x2')`)).toEqual([]);
  });
});

describe('get_connection_string in read-only mode', () => {
  it('leaves the owner password out and says where to get a credential', async () => {
    const { project_id, branch_id } = await seededWithTable();
    conn = await connect({ readOnly: true });
    const res = await conn.call('get_connection_string', { project_id });
    const out = res.structuredContent as any;
    expect(out.role).toBe(OWNER);
    expect(new URL(out.uri).password).toBe('');
    expect(out.password_omitted).toMatch(/create_role with access read_only/);
    expect(text(res)).not.toContain('test-role-pw');
    expect(branch_id).toBe(out.branch_id);
  });

  it('refuses a role that can write: the owner, a neon_superuser member, a read-write role', async () => {
    const { project_id, branch_id } = await seededWithTable();
    const writer = await connect({ toolsets: ['roles'] });
    await writer.ok('create_role', { project_id, branch_id, name: 'rw2', access: 'read_write' });
    await writer.close();
    api.fake.makeRole(branch_id, 'rw2');
    conn = await connect({ readOnly: true });
    const owner = await conn.fails('get_connection_string', { project_id, role: OWNER });
    expect(owner).toMatch(/role neondb_owner can write \(it /);
    expect(owner).toMatch(/create_role with access read_only/);
    const rw = await conn.fails('get_connection_string', { project_id, role: 'rw2' });
    expect(rw).toMatch(/role rw2 can write \(it owns or may change (public\.)?items/);
  });

  it('a role made with SQL (Neon does not list it): no password, after the same write check; a missing one named', async () => {
    const { project_id, branch_id } = await seededWithTable();
    const ro = `sqlro_${branch_id.slice(-6).replace(/[^a-z0-9]/g, '')}`;
    const rw = `sqlrw_${branch_id.slice(-6).replace(/[^a-z0-9]/g, '')}`;
    await dbs.admin(
      branch_id,
      `CREATE ROLE ${ro} LOGIN PASSWORD 'sql-made-secret'; GRANT SELECT ON items TO ${ro};
       CREATE ROLE ${rw} LOGIN PASSWORD 'sql-made-secret'; GRANT INSERT ON items TO ${rw}`,
    );
    conn = await connect({ readOnly: true });
    const res = await conn.call('get_connection_string', { project_id, role: ro });
    expect(res.isError, text(res)).toBeFalsy();
    const out = res.structuredContent as any;
    expect(out.role).toBe(ro);
    expect(new URL(out.uri).username).toBe(ro);
    expect(new URL(out.uri).password).toBe('');
    expect(out.sql_role).toBeUndefined();
    expect(out.password_omitted).toBe(
      `Role ${ro} was made with SQL: Neon cannot show its password, and read-only mode sets no new one. ` +
        'Ask the user for it, or without --read-only get_connection_string (for roles create_role made) ' +
        'or reset_role_password sets a new one.',
    );
    expect(text(res)).not.toContain('sql-made-secret');
    expect(await conn.fails('get_connection_string', { project_id, role: rw })).toMatch(
      new RegExp(`role ${rw} can write \\(it owns or may change (public\\.)?items, in database neondb\\)`),
    );
    expect(await conn.fails('get_connection_string', { project_id, role: 'ghost_nobody' })).toMatch(
      /get_connection_string: role "ghost_nobody" was not found on branch br-[^ ]+: Neon's API does not list it, and no login role of that name may connect to database neondb\./,
    );
  });

  /**
   * Each way a role made read-only can still write, given once on top of create_role's grants: the
   * grant is shown to write (the attack is real), then get_connection_string refuses the password.
   * `grant` runs as a superuser; {r} stands for the role's name.
   */
  const WAYS: { name: string; grant: string; write?: string; why: RegExp }[] = [
    {
      name: 'a column-level UPDATE',
      grant: 'GRANT UPDATE (name) ON items TO {r}',
      write: `UPDATE items SET name = 'changed'`,
      why: /may change (public\.)?items/,
    },
    {
      name: "EXECUTE on a writer's SECURITY DEFINER function (PUBLIC's by default)",
      grant: `CREATE FUNCTION public.add_item_{r}(t text) RETURNS void LANGUAGE sql SECURITY DEFINER AS $$ INSERT INTO public.items (name) VALUES (t) $$; ALTER FUNCTION public.add_item_{r}(text) OWNER TO ${OWNER}`,
      write: `SELECT add_item_{r}('x')`,
      why: /may run (public\.)?add_item_\w+\(text\), a SECURITY DEFINER function of role neondb_owner/,
    },
    {
      name: 'pg_write_all_data',
      grant: 'GRANT pg_write_all_data TO {r}',
      write: `INSERT INTO items (name) VALUES ('x')`,
      why: /member of pg_write_all_data/,
    },
    {
      name: 'a table privilege through two levels of membership',
      grant:
        'CREATE ROLE {r}_w NOLOGIN; CREATE ROLE {r}_m NOLOGIN; GRANT INSERT ON items TO {r}_w; GRANT {r}_w TO {r}_m; GRANT {r}_m TO {r}',
      // An explicit id: the serial's nextval needs USAGE on its sequence, which is not granted here.
      write: `INSERT INTO items (id, name) VALUES (1000, 'x')`,
      why: /may change (public\.)?items/,
    },
    {
      name: 'owning a schema',
      grant: 'CREATE SCHEMA {r}_own AUTHORIZATION {r}',
      write: 'CREATE TABLE {r}_own.t (x int)',
      why: /owns objects in this database/,
    },
    {
      name: 'owning a function',
      grant: `CREATE FUNCTION public.f_{r}() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$; ALTER FUNCTION public.f_{r}() OWNER TO {r}`,
      why: /owns objects in this database/,
    },
    {
      name: 'CREATE on a schema',
      grant: 'GRANT CREATE ON SCHEMA public TO {r}',
      write: 'CREATE TABLE public.t_made (x int)',
      why: /may create objects in schema public/,
    },
    {
      name: 'CREATE on the database',
      grant: `DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO {r}', current_database()); END $$`,
      write: 'CREATE SCHEMA made_here',
      why: /may create schemas in the database/,
    },
    {
      name: 'MAINTAIN on a materialized view',
      grant:
        'CREATE MATERIALIZED VIEW mv_{r} AS SELECT * FROM items; GRANT SELECT, MAINTAIN ON mv_{r} TO {r}',
      write: 'REFRESH MATERIALIZED VIEW mv_{r}',
      why: /may change (public\.)?mv_/,
    },
    {
      name: 'UPDATE on a large object',
      grant: 'SELECT lo_create(424242); GRANT SELECT, UPDATE ON LARGE OBJECT 424242 TO {r}',
      write: `SELECT lo_put(424242, 0, 'x')`,
      why: /may change large object 424242/,
    },
    {
      name: 'pg_signal_backend',
      grant: 'GRANT pg_signal_backend TO {r}',
      why: /member of pg_signal_backend/,
    },
    { name: 'superuser', grant: 'ALTER ROLE {r} SUPERUSER', why: /superuser/ },
    { name: 'BYPASSRLS', grant: 'ALTER ROLE {r} BYPASSRLS', why: /bypass row security/ },
    { name: 'CREATEROLE', grant: 'ALTER ROLE {r} CREATEROLE', why: /may create roles/ },
  ];
  WAYS.forEach((way, i) => {
    it(`refuses a read-only role given ${way.name}`, async () => {
      const { project_id, branch_id } = await seededWithTable();
      const name = `ro_way${i}`;
      const writer = await connect({ toolsets: ['roles'] });
      const made = await writer.ok('create_role', { project_id, branch_id, name, access: 'read_only' });
      await writer.close();
      api.fake.makeRole(branch_id, name);
      const fallback = api.fake.connectionUri!;
      api.fake.connectionUri = (a) => (a.role === name ? made.uri : fallback(a));
      conn = await connect({ readOnly: true });
      // Read-only as made: handed out.
      expect((await conn.ok('get_connection_string', { project_id, role: name })).uri).toBe(made.uri);
      await dbs.admin(branch_id, way.grant.replaceAll('{r}', name));
      const res = await conn.call('get_connection_string', { project_id, role: name });
      expect(res.isError).toBe(true);
      expect(text(res)).toMatch(new RegExp(`role ${name} can write`));
      expect(text(res)).toMatch(way.why);
      expect(text(res)).not.toContain(made.password);
      // The grant writes indeed (checked after: what it makes would be owned by the role).
      if (way.write) expect(await as(made.uri, way.write.replaceAll('{r}', name))).toBe('ok');
    });
  });

  it("hands out a read-only role's URI with its password", async () => {
    const { project_id, branch_id } = await seededWithTable();
    const writer = await connect({ toolsets: ['roles'] });
    const made = await writer.ok('create_role', { project_id, branch_id, name: 'ro2', access: 'read_only' });
    await writer.close();
    // Neon lists roles made with SQL too; its URI for them is what the fake returns here.
    api.fake.makeRole(branch_id, 'ro2');
    const fallback = api.fake.connectionUri!;
    api.fake.connectionUri = (a) => (a.role === 'ro2' ? made.uri : fallback(a));
    conn = await connect({ readOnly: true });
    const out = await conn.ok('get_connection_string', { project_id, role: 'ro2' });
    expect(out.uri).toBe(made.uri);
    expect(await as(out.uri, 'SELECT * FROM items')).toBe('ok');
    expect(await as(out.uri, `INSERT INTO items (name) VALUES ('x')`)).toBe('42501');
  });
});

/** Whether `role` exists on the test server, and what still depends on it in any database. */
async function traces(branch_id: string, role: string) {
  const [row] = await dbs.admin(
    branch_id,
    `SELECT (SELECT count(*)::int FROM pg_roles WHERE rolname = $1) AS roles,
            (SELECT count(*)::int FROM pg_shdepend d JOIN pg_roles r ON r.oid = d.refobjid WHERE r.rolname = $1) AS deps`,
    [role],
  );
  return row as { roles: number; deps: number };
}

describe('roles made with SQL: listed, got, given a connection string, reset and deleted', () => {
  it('a read-only role made by create_role, through every role tool, then gone from pg_roles', async () => {
    const { project_id, branch_id } = await seededWithTable();
    conn = await connect({ toolsets: ['roles', 'databases'] });
    const made = await conn.ok('create_role', { project_id, branch_id, name: 'sq_ro', access: 'read_only' });
    // Neon's API does not know it: every tool below falls back to SQL on Neon's 404.
    expect(api.fake.rolesOf(branch_id).map((r) => r.name)).toEqual([OWNER]);

    const list = await conn.ok('list_roles', { project_id, branch_id });
    expect(list.roles).toContainEqual({
      name: 'sq_ro',
      made_with: 'sql',
      access: 'read_only',
      made_by: 'create_role',
    });
    expect(list.roles.filter((r: any) => r.name === OWNER)).toHaveLength(1);
    expect(list.sql_roles_note).toBeUndefined();
    const got = await conn.ok('get_role', { project_id, branch_id, role: 'sq_ro' });
    expect(got.role).toMatchObject({ name: 'sq_ro', branch_id, made_with: 'sql', access: 'read_only' });

    // Later: a connection string, with a new password set with SQL (said so); the old one stops working.
    const res = await conn.call('get_connection_string', { project_id, branch_id, role: 'sq_ro' });
    expect(res.isError).toBeFalsy();
    const cs = res.structuredContent as any;
    expect(cs.role).toBe('sq_ro');
    expect(cs.password_note).toMatch(/new password for role sq_ro, set with SQL/);
    expect(decodeURIComponent(new URL(cs.uri).username)).toBe('sq_ro');
    expect(await as(cs.uri, 'SELECT * FROM items')).toBe('ok');
    expect(await as(cs.uri, `INSERT INTO items (name) VALUES ('x')`)).toBe('42501');
    expect(await login(made.uri)).toBe('28P01');
    // The new password is in no statement text PostgreSQL keeps.
    const pw = decodeURIComponent(new URL(cs.uri).password);
    const activity = await dbs.admin(branch_id, 'SELECT query FROM pg_stat_activity');
    expect(JSON.stringify(activity)).not.toContain(pw);

    const reveal = await conn.fails('reveal_role_password', { project_id, branch_id, role: 'sq_ro' });
    expect(reveal).toMatch(/role sq_ro was made with SQL; Neon cannot show its password/);
    const reset = await conn.ok('reset_role_password', { project_id, branch_id, role: 'sq_ro' });
    expect(reset.role).toEqual({ name: 'sq_ro', branch_id, made_with: 'sql' });
    expect(await as(reset.uri, 'SELECT * FROM items')).toBe('ok');
    expect(decodeURIComponent(new URL(reset.uri).password)).toBe(reset.password);
    expect(await login(cs.uri)).toBe('28P01');

    expect((await traces(branch_id, 'sq_ro')).deps).toBeGreaterThan(0);
    const del = await conn.ok('delete_role', { project_id, branch_id, role: 'sq_ro' });
    expect(del).toMatchObject({ deleted: true, role: { name: 'sq_ro', made_with: 'sql' } });
    expect(del.cleared).toEqual([expect.stringMatching(/^neondb: .*REASSIGN\/DROP OWNED/)]);
    expect(await traces(branch_id, 'sq_ro')).toEqual({ roles: 0, deps: 0 });
    const after = await conn.ok('list_roles', { project_id, branch_id });
    expect(after.roles.map((r: any) => r.name)).not.toContain('sq_ro');
    // What was not found is named: the role and the branch, not the project.
    for (const tool of ['get_role', 'delete_role', 'reset_role_password']) {
      const err = await conn.fails(tool, { project_id, branch_id, role: 'sq_ro' });
      expect(err).toMatch(new RegExp(`${tool}: role "sq_ro" was not found on branch ${branch_id}`));
      expect(err).not.toMatch(/project/);
    }
  });

  it('a login role made with SQL by someone else: listed with its access, its password left alone, deleted cleanly', async () => {
    const { project_id, branch_id } = await seededWithTable();
    // Made by the owner with SQL (the owner keeps the ADMIN OPTION), with a table of its own, grants
    // and default privileges: what DROP ROLE alone refuses.
    await dbs.query(
      branch_id,
      `CREATE ROLE sq_app LOGIN PASSWORD 'sq-app-pw-123';
       GRANT SELECT, INSERT ON items TO sq_app; GRANT CREATE ON SCHEMA public TO sq_app;
       ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO sq_app;
       ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE ON SEQUENCES TO sq_app`,
    );
    const dbUri = await api.fake.connectionUri!({
      project_id,
      branch_id,
      database: 'neondb',
      role: OWNER,
      pooled: false,
    });
    const appUri = Object.assign(new URL(dbUri), {
      username: 'sq_app',
      password: 'sq-app-pw-123',
    }).toString();
    expect(await as(appUri, 'CREATE TABLE public.app_table (x int)')).toBe('ok');
    conn = await connect({ toolsets: ['roles', 'databases'] });
    const list = await conn.ok('list_roles', { project_id, branch_id });
    const app = list.roles.find((r: any) => r.name === 'sq_app');
    expect(app).toMatchObject({ made_with: 'sql', access: 'writes' });
    expect(app.can_write).toMatch(/owns objects|may change|may create/);
    expect(app.made_by).toBeUndefined();
    // Its password may be an application's: not changed by a read.
    const cs = await conn.fails('get_connection_string', { project_id, branch_id, role: 'sq_app' });
    expect(cs).toMatch(/not by neon-mcp's create_role/);
    expect(cs).toMatch(/reset_role_password/);
    expect(await login(appUri)).toBe('ok');

    await conn.ok('delete_role', { project_id, branch_id, role: 'sq_app' });
    expect(await traces(branch_id, 'sq_app')).toEqual({ roles: 0, deps: 0 });
    // Its table stays, now the owner's.
    expect(
      await dbs.admin(branch_id, `SELECT tableowner FROM pg_tables WHERE tablename = 'app_table'`),
    ).toEqual([{ tableowner: OWNER }]);
  });

  it('without the right to act for the role: each grant revoked, and DROP ROLE refused said so', async () => {
    const { project_id, branch_id } = await seededWithTable();
    // Made by the superuser: the owner has no ADMIN OPTION on it, only the grants it made.
    await dbs.admin(branch_id, `CREATE ROLE sq_legacy LOGIN PASSWORD 'sq-legacy-pw-1'`);
    await dbs.query(
      branch_id,
      `GRANT SELECT ON items TO sq_legacy; GRANT USAGE ON SCHEMA public TO sq_legacy;
       ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO sq_legacy`,
    );
    conn = await connect({ toolsets: ['roles'] });
    const err = await conn.fails('delete_role', { project_id, branch_id, role: 'sq_legacy' });
    expect(err).toMatch(
      /Role sq_legacy was not deleted\. Its objects and grants were already removed in database neondb\./,
    );
    // What the owner granted is gone: only the role itself is left.
    expect(await traces(branch_id, 'sq_legacy')).toEqual({ roles: 1, deps: 0 });
    await dbs.admin(branch_id, 'DROP ROLE sq_legacy');
  });
});
