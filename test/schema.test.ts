/**
 * Schema tools, migrations and query tuning on temporary branches, against a real PostgreSQL server:
 * each Neon branch of the fake has its own database, a child branch starts as a copy of its parent's.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, useMockApi } from './helpers.js';
import { usePostgres } from './pg/use-postgres.js';

const api = useMockApi();
const { dbs } = usePostgres(api);

let conn: Awaited<ReturnType<typeof connect>>;
afterEach(() => conn?.close());

async function project() {
  const seeded = api.fake.seedProject('schema');
  const project_id = seeded.project.id as string;
  const branch_id = seeded.branch.id as string;
  await dbs.query(
    branch_id,
    `CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL);
     INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, 3) g;`,
  );
  return { project_id, branch_id };
}

const columnsOf = async (branchId: string, table: string) =>
  (
    await dbs.query<{ name: string }>(
      branchId,
      `SELECT attname AS name FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
      [table],
    )
  ).map((r) => r.name);

const tempBranches = () => [...api.fake.branches.values()].filter((b) => String(b.name).startsWith('mcp-'));

describe('branch schema', () => {
  it('gets the schema of a branch and compares a child branch with its parent', async () => {
    const { project_id, branch_id } = await project();
    conn = await connect();
    const schema = await conn.ok('get_branch_schema', { project_id });
    expect(schema.sql).toMatch(
      /CREATE TABLE public\.users \(\n {4}id integer NOT NULL,\n {4}name text NOT NULL\n\);/,
    );
    expect(schema).toMatchObject({ branch_id, database: 'neondb' });
    expect(schema.untrusted).toMatch(/^sql: untrusted data from the database schema/);

    const child = api.fake.makeBranch(project_id, { name: 'dev', parent_id: branch_id });
    api.fake.makeDatabase(child.id, 'neondb', 'neondb_owner');
    await dbs.query(child.id, 'ALTER TABLE users ADD COLUMN email text');
    const cmp = await conn.ok('compare_schema', { project_id, branch_id: child.id });
    expect(cmp.identical).toBe(false);
    expect(cmp.diff).toMatch(/^\+ {4}email text$/m);
    expect(cmp.diff).toMatch(/^- {4}name text NOT NULL$/m);
    const same = await conn.ok('compare_schema', {
      project_id,
      branch_id: child.id,
      base_branch_id: child.id,
    });
    expect(same).toMatchObject({ identical: true, diff: '' });
  });
});

describe('database migrations', () => {
  it('prepares on a temporary branch, leaves the original alone, then completes on the original', async () => {
    const { project_id, branch_id } = await project();
    conn = await connect();
    const migration = `
      ALTER TABLE users ADD COLUMN email text;
      UPDATE users SET email = 'u' || id || '@example.com';
      ALTER TABLE users ALTER COLUMN email SET NOT NULL;
      CREATE UNIQUE INDEX users_email_key ON users (email);`;
    const prep = await conn.ok('prepare_database_migration', {
      project_id,
      migration_sql: migration,
      verify_sql: 'SELECT count(*) AS missing FROM users WHERE email IS NULL',
    });
    expect(prep.migration_id).toMatch(/^[0-9a-f]{8}$/);
    expect(prep.branch_id).toBe(branch_id);
    expect(prep.diff).toMatch(/^\+ {4}email text NOT NULL$/m);
    expect(prep.diff).toMatch(/^\+CREATE UNIQUE INDEX users_email_key/m);
    expect(prep.verify.rows).toEqual([{ missing: 0 }]);
    expect(prep.next_steps).toMatch(/complete_database_migration/);
    // The temporary branch has its own compute, the change, and the copied data.
    const temp = api.fake.branches.get(prep.temp_branch_id);
    expect(temp).toMatchObject({ name: `mcp-migration-${prep.migration_id}`, parent_id: branch_id });
    expect(api.fake.endpointsOf(project_id, prep.temp_branch_id)).toEqual([
      expect.objectContaining({ type: 'read_write' }),
    ]);
    expect(await columnsOf(prep.temp_branch_id, 'users')).toEqual(['id', 'name', 'email']);
    expect(await columnsOf(branch_id, 'users')).toEqual(['id', 'name']);
    // It can be tested with the SQL tools.
    const peek = await conn.ok('run_sql', {
      project_id,
      branch_id: prep.temp_branch_id,
      sql: 'SELECT email FROM users WHERE id = 2',
    });
    expect(peek.rows).toEqual([{ email: 'u2@example.com' }]);

    const done = await conn.ok('complete_database_migration', {
      project_id,
      migration_id: prep.migration_id,
    });
    expect(done).toMatchObject({
      applied: true,
      branch_id,
      database: 'neondb',
      statements: 4,
      temp_branch_deleted: prep.temp_branch_id,
    });
    expect(await columnsOf(branch_id, 'users')).toEqual(['id', 'name', 'email']);
    expect(await dbs.query(branch_id, 'SELECT email FROM users ORDER BY id')).toEqual([
      { email: 'u1@example.com' },
      { email: 'u2@example.com' },
      { email: 'u3@example.com' },
    ]);
    expect(api.fake.branches.has(prep.temp_branch_id)).toBe(false);
    expect(api.count('DELETE', `/projects/${project_id}/branches/${prep.temp_branch_id}`)).toBe(1);
    // Done is done: the ID is gone.
    expect(
      await conn.fails('complete_database_migration', { project_id, migration_id: prep.migration_id }),
    ).toMatch(/not known to this server/);
  });

  it('compare_schema on a root branch says to pass base_branch_id', async () => {
    const { project_id, branch_id } = await project();
    conn = await connect();
    const err = await conn.fails('compare_schema', { project_id, branch_id });
    expect(err).toMatch(new RegExp(`branch ${branch_id} is a root branch`));
    expect(err).toMatch(/Pass base_branch_id/);
  });

  it('a failing migration leaves the original untouched and removes its temporary branch', async () => {
    const { project_id, branch_id } = await project();
    conn = await connect();
    const err = await conn.fails('prepare_database_migration', {
      project_id,
      migration_sql: 'ALTER TABLE users ADD COLUMN age int;\nALTER TABLE users ADD COLUMN age int;',
    });
    expect(err).toMatch(/Postgres error 42701 \(duplicate_column\)/);
    expect(err).toMatch(/column "age" of relation "users" already exists/);
    expect(err).toMatch(new RegExp(`original branch ${branch_id} was not touched`));
    expect(err).toMatch(/the temporary branch br-[^ ]+ was deleted/);
    // What became of the one write (the temporary branch) is said; no generic "may have been applied".
    expect(err).not.toMatch(/may have been applied|already accepted/);
    expect(await columnsOf(branch_id, 'users')).toEqual(['id', 'name']);
    expect(tempBranches()).toEqual([]);
    expect(api.count('POST', `/projects/${project_id}/branches`)).toBe(1);
    expect(api.count('DELETE', /\/branches\/br-/)).toBe(1);
  });

  it('discards a prepared migration without applying it', async () => {
    const { project_id, branch_id } = await project();
    conn = await connect();
    const prep = await conn.ok('prepare_database_migration', {
      project_id,
      migration_sql: 'DROP TABLE users',
    });
    expect(prep.diff).toMatch(/^-CREATE TABLE public\.users/m);
    const res = await conn.ok('discard_database_migration', { project_id, migration_id: prep.migration_id });
    expect(res).toEqual({ discarded: true, temp_branch_deleted: prep.temp_branch_id });
    expect(api.fake.branches.has(prep.temp_branch_id)).toBe(false);
    expect(await dbs.query(branch_id, 'SELECT count(*)::int AS n FROM users')).toEqual([{ n: 3 }]);
    expect(
      await conn.fails('complete_database_migration', { project_id, migration_id: prep.migration_id }),
    ).toMatch(/not known/);
  });

  it('after a restart, says the migration was forgotten and still finds its temporary branch', async () => {
    const { project_id, branch_id } = await project();
    const orphan = api.fake.makeBranch(project_id, { name: 'mcp-migration-deadbeef', parent_id: branch_id });
    conn = await connect();
    const err = await conn.fails('complete_database_migration', { project_id, migration_id: 'deadbeef' });
    expect(err).toMatch(/Migration deadbeef is not known to this server/);
    expect(err).toMatch(/lost when neon-mcp restarts/);
    expect(err).toMatch(
      new RegExp(`temporary branch ${orphan.id} \\(mcp-migration-deadbeef\\) still exists`),
    );
    const gone = await conn.ok('discard_database_migration', { project_id, migration_id: 'deadbeef' });
    expect(gone).toMatchObject({ discarded: true, temp_branch_deleted: orphan.id });
    expect(gone.note).toMatch(/found by name/);
    expect(api.fake.branches.has(orphan.id)).toBe(false);
    expect(await conn.fails('discard_database_migration', { project_id, migration_id: 'deadbeef' })).toMatch(
      /nothing to discard/,
    );
  });

  it('refuses to complete a migration of another project', async () => {
    const { project_id } = await project();
    const other = api.fake.seedProject('other');
    conn = await connect();
    const prep = await conn.ok('prepare_database_migration', {
      project_id,
      migration_sql: 'CREATE TABLE t (x int)',
    });
    expect(
      await conn.fails('complete_database_migration', {
        project_id: other.project.id,
        migration_id: prep.migration_id,
      }),
    ).toMatch(/belongs to project/);
    await conn.ok('discard_database_migration', { project_id, migration_id: prep.migration_id });
  });
});

describe('query tuning', () => {
  async function ordersProject() {
    const p = await project();
    await dbs.query(
      p.branch_id,
      `CREATE TABLE orders (id serial PRIMARY KEY, customer_id int NOT NULL, total numeric(10,2) NOT NULL);
       INSERT INTO orders (customer_id, total) SELECT g % 5000, g % 100 FROM generate_series(1, 50000) g;
       ANALYZE orders;`,
    );
    return p;
  }
  const indexesOf = async (branchId: string) =>
    (
      await dbs.query<{ n: string }>(
        branchId,
        `SELECT indexname AS n FROM pg_indexes WHERE tablename = 'orders' ORDER BY 1`,
      )
    ).map((r) => r.n);

  it('compares plans before and after an index on a temporary branch, then applies it', async () => {
    const { project_id, branch_id } = await ordersProject();
    conn = await connect();
    const ddl = 'CREATE INDEX CONCURRENTLY orders_customer_idx ON orders (customer_id)';
    const tune = await conn.ok('prepare_query_tuning', {
      project_id,
      sql: 'SELECT * FROM orders WHERE customer_id = $1',
      params: [42],
      ddl: [ddl],
    });
    expect(tune.tuning_id).toMatch(/^[0-9a-f]{8}$/);
    expect(tune.before.scans.join()).toMatch(/Seq Scan on orders/);
    expect(tune.after.scans.join()).toMatch(/(Bitmap Heap Scan|Index Scan) on orders|orders_customer_idx/);
    expect(tune.after.plan).toMatch(/orders_customer_idx/);
    expect(tune.before.rows).toBe(10);
    expect(tune.comparison.cost_after).toBeLessThan(tune.comparison.cost_before);
    expect(tune.comparison.verdict).toBe('faster');
    expect(tune.comparison.time_before_ms).toBeGreaterThan(0);
    expect(tune.next_steps).toMatch(/complete_query_tuning/);
    // Only the temporary branch has the index so far.
    expect(await indexesOf(tune.temp_branch_id)).toEqual(['orders_customer_idx', 'orders_pkey']);
    expect(await indexesOf(branch_id)).toEqual(['orders_pkey']);

    const done = await conn.ok('complete_query_tuning', {
      project_id,
      tuning_id: tune.tuning_id,
      apply: true,
    });
    expect(done).toEqual({ applied: [ddl], branch_id, temp_branch_deleted: tune.temp_branch_id });
    expect(await indexesOf(branch_id)).toEqual(['orders_customer_idx', 'orders_pkey']);
    expect(api.fake.branches.has(tune.temp_branch_id)).toBe(false);
  });

  it('discards a tuning without touching the original, and applies only tried statements', async () => {
    const { project_id, branch_id } = await ordersProject();
    conn = await connect();
    const tune = await conn.ok('prepare_query_tuning', {
      project_id,
      sql: 'SELECT count(*) FROM orders WHERE total > 98',
      ddl: ['CREATE INDEX orders_total_idx ON orders (total)'],
    });
    expect(
      await conn.fails('complete_query_tuning', {
        project_id,
        tuning_id: tune.tuning_id,
        apply: true,
        ddl: ['DROP TABLE orders'],
      }),
    ).toMatch(/only statements tried by prepare_query_tuning can be applied/);
    const res = await conn.ok('complete_query_tuning', {
      project_id,
      tuning_id: tune.tuning_id,
      apply: false,
    });
    expect(res).toEqual({ applied: [], branch_id, temp_branch_deleted: tune.temp_branch_id });
    expect(await indexesOf(branch_id)).toEqual(['orders_pkey']);
    expect(tempBranches()).toEqual([]);
  });

  it('removes the temporary branch when the DDL fails', async () => {
    const { project_id, branch_id } = await ordersProject();
    conn = await connect();
    const err = await conn.fails('prepare_query_tuning', {
      project_id,
      sql: 'SELECT * FROM orders WHERE customer_id = 1',
      ddl: ['CREATE INDEX bad_idx ON orders (no_such_column)'],
    });
    expect(err).toMatch(/42703 \(undefined_column\)/);
    expect(err).toMatch(new RegExp(`original branch ${branch_id} was not touched`));
    expect(tempBranches()).toEqual([]);
  });
});

describe('read-only mode', () => {
  it('hides the tools that create branches or apply changes, keeps schema reads', async () => {
    conn = await connect({ readOnly: true });
    const names = (await conn.mcp.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['get_branch_schema', 'compare_schema']));
    for (const hidden of [
      'prepare_database_migration',
      'complete_database_migration',
      'discard_database_migration',
      'prepare_query_tuning',
      'complete_query_tuning',
    ]) {
      expect(names).not.toContain(hidden);
    }
  });
});
