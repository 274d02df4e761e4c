/**
 * Schema tools, migrations and query tuning on temporary branches, against a real PostgreSQL server:
 * each Neon branch of the fake has its own database, a child branch starts as a copy of its parent's.
 */
import { Client } from '@modelcontextprotocol/client';
import { InMemoryTransport } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { http } from 'msw';
import pgDriver from 'pg';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PART_CHARS } from '../src/neon/pending.js';
import { connections } from '../src/sql/pools.js';
import { BASE, connect, neonError, TEST_KEY, useMockApi } from './helpers.js';
import { branchDatabase } from './pg/branches.js';
import { usePostgres } from './pg/use-postgres.js';

const api = useMockApi();
const { pg, dbs } = usePostgres(api);

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

// Temporary branches; the change ledger's record branches (mcp-change-…, src/neon/ledger.ts) stay on purpose.
const tempBranches = () =>
  [...api.fake.branches.values()].filter(
    (b) => String(b.name).startsWith('mcp-') && !String(b.name).startsWith('mcp-change-'),
  );
const recorded = { change: expect.objectContaining({ recorded: true }) };

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
    expect(prep.migration_id).toMatch(/^[0-9a-f]{16}$/);
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
    // Done is done: the ID finds nothing any more.
    expect(
      await conn.fails('complete_database_migration', { project_id, migration_id: prep.migration_id }),
    ).toMatch(new RegExp(`No migration ${prep.migration_id} is pending in project ${project_id}`));
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
    ).toMatch(/No migration [0-9a-f]{16} is pending/);
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
    ).toMatch(new RegExp(`No migration ${prep.migration_id} is pending in project ${other.project.id}`));
    await conn.ok('discard_database_migration', { project_id, migration_id: prep.migration_id });
  });
});

/**
 * A server with none of this process's state: every module (the server, its Neon client, the SQL
 * connection pools and caches) imported anew after vi.resetModules, as another instance or a
 * restarted one would have them.
 */
async function freshServer(options: { projectId?: string } = {}) {
  vi.resetModules();
  const [{ NeonClient }, { prepareServer }, { connections: pools }] = await Promise.all([
    import('../src/client/neon-client.js'),
    import('../src/server.js'),
    import('../src/sql/pools.js'),
  ]);
  const client = new NeonClient({ apiKey: TEST_KEY, baseUrl: BASE, retryDelayMs: 5, maxRetryDelayMs: 200 });
  const prepared = prepareServer({ client, operationPollMs: [2, 10], secrets: [TEST_KEY], ...options });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const handle = serveStdio(prepared.create, { transport: serverSide });
  const mcp = new Client(
    { name: 'neon-mcp-test', version: '1.0.0' },
    { versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  await mcp.connect(clientSide);
  const call = (name: string, args: Record<string, unknown>) => mcp.callTool({ name, arguments: args });
  const textOf = (res: Awaited<ReturnType<typeof call>>) =>
    (res.content as { type: string; text: string }[]).map((c) => c.text).join('\n');
  const server = {
    call,
    async ok(name: string, args: Record<string, unknown>): Promise<any> {
      const res = await call(name, args);
      if (res.isError) throw new Error(`${name} failed: ${textOf(res)}`);
      return res.structuredContent;
    },
    async fails(name: string, args: Record<string, unknown>): Promise<string> {
      const res = await call(name, args);
      expect(res.isError, `${name} should fail`).toBe(true);
      return textOf(res);
    },
    async close() {
      await mcp.close();
      await handle.close();
      await pools.closeAll();
    },
  };
  fresh.push(server);
  return server;
}
const fresh: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const server of fresh.splice(0)) await server.close();
});

describe('pending work without server memory', () => {
  it('completes and discards through a fresh server: the temporary branch carries the work', async () => {
    const { project_id, branch_id } = await project();
    conn = await connect();
    const keep = await conn.ok('prepare_database_migration', {
      project_id,
      migration_sql: 'ALTER TABLE users ADD COLUMN email text; UPDATE users SET email = name;',
    });
    const drop = await conn.ok('prepare_database_migration', {
      project_id,
      migration_sql: 'DROP TABLE users',
    });
    // The record is in the annotations Neon keeps with the branch, not in the answer or in memory.
    const record = api.fake.annotations.get(keep.temp_branch_id)?.value ?? {};
    expect(JSON.parse(record['neon-mcp'])).toMatchObject({
      kind: 'migration',
      branch_id,
      database: 'neondb',
    });
    expect(record['neon-mcp-1']).toBe(
      'ALTER TABLE users ADD COLUMN email text; UPDATE users SET email = name;',
    );
    await conn.close();
    await connections.closeAll();

    const other = await freshServer();
    expect(
      await other.ok('complete_database_migration', { project_id, migration_id: keep.migration_id }),
    ).toMatchObject({
      applied: true,
      branch_id,
      database: 'neondb',
      statements: 2,
      temp_branch_deleted: keep.temp_branch_id,
    });
    expect(await columnsOf(branch_id, 'users')).toEqual(['id', 'name', 'email']);
    expect(await dbs.query(branch_id, 'SELECT email FROM users WHERE id = 1')).toEqual([{ email: 'user 1' }]);
    expect(
      await other.ok('discard_database_migration', { project_id, migration_id: drop.migration_id }),
    ).toEqual({
      discarded: true,
      temp_branch_deleted: drop.temp_branch_id,
    });
    expect(await dbs.query(branch_id, 'SELECT count(*)::int AS n FROM users')).toEqual([{ n: 3 }]);
    expect(tempBranches()).toEqual([]);
    // Found from the ID alone: one search by name and one read of the branch per call.
    expect(
      api.count('GET', `/projects/${project_id}/branches/${keep.temp_branch_id}`),
    ).toBeGreaterThanOrEqual(1);
    expect(
      api.requests
        .filter((r) => r.path === `/projects/${project_id}/branches` && r.method === 'GET')
        .map((r) => r.query.get('search')),
    ).toEqual(
      expect.arrayContaining([`mcp-migration-${keep.migration_id}`, `mcp-migration-${drop.migration_id}`]),
    );
  });

  it('completes a query tuning through a fresh server', async () => {
    const { project_id, branch_id } = await project();
    conn = await connect();
    const ddl = [
      'CREATE INDEX users_name_idx ON users (name)',
      'CREATE INDEX users_lower_idx ON users (lower(name))',
    ];
    const tune = await conn.ok('prepare_query_tuning', {
      project_id,
      sql: "SELECT * FROM users WHERE name = 'user 2'",
      ddl,
    });
    expect(tune.tuning_id).toMatch(/^[0-9a-f]{16}$/);
    await conn.close();
    await connections.closeAll();
    const other = await freshServer();
    // Only statements the tuning tried: the list came back from the branch's annotations.
    expect(
      await other.fails('complete_query_tuning', {
        project_id,
        tuning_id: tune.tuning_id,
        apply: true,
        ddl: ['DROP TABLE users'],
      }),
    ).toMatch(/only statements tried by prepare_query_tuning/);
    expect(
      await other.ok('complete_query_tuning', {
        project_id,
        tuning_id: tune.tuning_id,
        apply: true,
        ddl: [ddl[1]],
      }),
    ).toEqual({ applied: [ddl[1]], branch_id, temp_branch_deleted: tune.temp_branch_id, ...recorded });
    const indexes = await dbs.query(
      branch_id,
      `SELECT indexname AS n FROM pg_indexes WHERE tablename = 'users' ORDER BY 1`,
    );
    expect(indexes).toEqual([{ n: 'users_lower_idx' }, { n: 'users_pkey' }]);
    expect(tempBranches()).toEqual([]);
  });

  it('refuses an unknown, malformed or tampered ID, and a branch that only has the name', async () => {
    const { project_id, branch_id } = await project();
    conn = await connect();
    expect(
      await conn.fails('complete_database_migration', { project_id, migration_id: '0123456789abcdef' }),
    ).toMatch(
      /No migration 0123456789abcdef is pending in project .*no temporary branch mcp-migration-0123456789abcdef/,
    );
    expect(await conn.fails('discard_database_migration', { project_id, migration_id: 'deadbeef' })).toMatch(
      /must be the ID from prepare_database_migration \(16 hex digits\)/,
    );
    const prep = await conn.ok('prepare_database_migration', {
      project_id,
      migration_sql: 'CREATE TABLE audit (x int)',
    });
    // One changed digit names no branch.
    const changed = prep.migration_id.replace(/.$/, (c: string) => (c === '0' ? '1' : '0'));
    expect(await conn.fails('complete_database_migration', { project_id, migration_id: changed })).toMatch(
      /No migration [0-9a-f]{16} is pending/,
    );
    // A record changed behind neon-mcp's back no longer matches its ID: nothing runs.
    const record = api.fake.annotations.get(prep.temp_branch_id)!;
    const original = record.value['neon-mcp-1'];
    record.value['neon-mcp-1'] = 'DROP TABLE users';
    const err = await conn.fails('complete_database_migration', {
      project_id,
      migration_id: prep.migration_id,
    });
    expect(err).toMatch(
      /is not the temporary branch of migration [0-9a-f]{16}: its record does not match the ID/,
    );
    expect(err).toMatch(/Nothing was applied/);
    expect(await dbs.query(branch_id, 'SELECT count(*)::int AS n FROM users')).toEqual([{ n: 3 }]);
    expect(api.fake.branches.has(prep.temp_branch_id)).toBe(true);
    expect(api.count('GET', `/projects/${project_id}/connection_uri`)).toBe(1); // the prepare's only
    record.value['neon-mcp-1'] = original;
    await conn.ok('discard_database_migration', { project_id, migration_id: prep.migration_id });
    // A branch someone named like a temporary branch carries no record: refused, and left alone.
    const id = 'feedfacecafebeef';
    const forged = api.fake.makeBranch(project_id, { name: `mcp-migration-${id}`, parent_id: branch_id });
    expect(await conn.fails('complete_database_migration', { project_id, migration_id: id })).toMatch(
      new RegExp(
        `Branch ${forged.id} \\(mcp-migration-${id}\\) is not the temporary branch of migration ${id}: it carries no record`,
      ),
    );
    expect(await conn.fails('discard_database_migration', { project_id, migration_id: id })).toMatch(
      /carries no record/,
    );
    expect(api.fake.branches.has(forged.id)).toBe(true);
  });

  it('under --project-id, a handle of another project finds nothing and changes nothing', async () => {
    const { project_id } = await project();
    const other = api.fake.seedProject('scoped');
    conn = await connect();
    const prep = await conn.ok('prepare_database_migration', {
      project_id,
      migration_sql: 'DROP TABLE users',
    });
    const scoped = await freshServer({ projectId: other.project.id });
    for (const tool of ['complete_database_migration', 'discard_database_migration']) {
      expect(await scoped.fails(tool, { migration_id: prep.migration_id })).toMatch(
        new RegExp(`No migration ${prep.migration_id} is pending in project ${other.project.id}`),
      );
    }
    // A project_id argument is not even accepted there: the scope fixes it.
    const res = await scoped.call('complete_database_migration', {
      project_id,
      migration_id: prep.migration_id,
    });
    expect(res.isError).toBe(true);
    expect(api.fake.branches.has(prep.temp_branch_id)).toBe(true);
    expect(await dbs.query(prep.branch_id, 'SELECT count(*)::int AS n FROM users')).toEqual([{ n: 3 }]);
    await conn.ok('discard_database_migration', { project_id, migration_id: prep.migration_id });
  });

  it('applies once when two instances complete the same ID at the same time', async () => {
    const { project_id, branch_id } = await project();
    await dbs.query(branch_id, 'CREATE TABLE applied (at timestamptz DEFAULT now())');
    conn = await connect();
    const prep = await conn.ok('prepare_database_migration', {
      project_id,
      // Slow enough that the second call arrives while the first one applies.
      migration_sql: 'INSERT INTO applied DEFAULT VALUES; SELECT pg_sleep(0.5);',
    });
    await conn.close();
    await connections.closeAll();
    const a = await freshServer();
    const b = await freshServer();
    const both = await Promise.all(
      [a, b].map((s) =>
        s.call('complete_database_migration', { project_id, migration_id: prep.migration_id }),
      ),
    );
    expect(both.map((r) => Boolean(r.isError)).sort()).toEqual([false, true]);
    const refused = both.find((r) => r.isError)!;
    expect((refused.content as { text: string }[])[0].text).toMatch(
      /is being completed by another call right now .*nothing was applied by this call|was completed or discarded by another call just now|No migration [0-9a-f]{16} is pending/,
    );
    expect(await dbs.query(branch_id, 'SELECT count(*)::int AS n FROM applied')).toEqual([{ n: 1 }]);
    expect(tempBranches()).toEqual([]);
  });

  it('a complete that read the work before another one finished does not apply it again', async () => {
    const { project_id, branch_id } = await project();
    await dbs.query(branch_id, 'CREATE TABLE applied (at timestamptz DEFAULT now())');
    conn = await connect();
    const prep = await conn.ok('prepare_database_migration', {
      project_id,
      migration_sql: 'INSERT INTO applied DEFAULT VALUES',
    });
    await conn.close();
    await connections.closeAll();
    // The second call to ask for a connection waits until the first call has answered: it read the
    // record while the temporary branch still existed, and takes the lock only after it is released.
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let asked = 0;
    api.use(
      http.get(`${BASE}/projects/:project_id/connection_uri`, async () => {
        if (++asked === 2) await gate;
        return undefined;
      }),
    );
    const [a, b] = [await freshServer(), await freshServer()];
    const calls = [a, b].map((s) =>
      s.call('complete_database_migration', { project_id, migration_id: prep.migration_id }),
    );
    await Promise.race(calls);
    open();
    const both = await Promise.all(calls);
    expect(asked).toBe(2);
    expect(both.map((r) => Boolean(r.isError)).sort()).toEqual([false, true]);
    expect((both.find((r) => r.isError)!.content as { text: string }[])[0].text).toMatch(
      /was completed or discarded by another call just now: nothing was applied by this call/,
    );
    expect(await dbs.query(branch_id, 'SELECT count(*)::int AS n FROM applied')).toEqual([{ n: 1 }]);
  });

  it('a complete that read the work before another one renamed its undeletable branch does not apply it', async () => {
    const { project_id, branch_id } = await project();
    await dbs.query(branch_id, 'CREATE TABLE applied (at timestamptz DEFAULT now())');
    conn = await connect();
    const prep = await conn.ok('prepare_database_migration', {
      project_id,
      migration_sql: 'INSERT INTO applied DEFAULT VALUES',
    });
    api.use(
      http.delete(`${BASE}/projects/:project_id/branches/${prep.temp_branch_id}`, () =>
        neonError(422, 'branch has running operations', 'BRANCH_BUSY'),
      ),
    );
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let asked = 0;
    api.use(
      http.get(`${BASE}/projects/:project_id/connection_uri`, async () => {
        if (++asked === 2) await gate;
        return undefined;
      }),
    );
    const calls = [await freshServer(), await freshServer()].map((s) =>
      s.call('complete_database_migration', { project_id, migration_id: prep.migration_id }),
    );
    await Promise.race(calls);
    open();
    const both = await Promise.all(calls);
    const [done, refused] = both[0].isError ? [both[1], both[0]] : [both[0], both[1]];
    expect(done.isError).toBeFalsy();
    expect((done.structuredContent as { warning: string }).warning).toMatch(/renamed/);
    expect(refused.isError).toBe(true);
    expect((refused.content as { text: string }[])[0].text).toMatch(
      /completed or discarded by another call just now/,
    );
    expect(await dbs.query(branch_id, 'SELECT count(*)::int AS n FROM applied')).toEqual([{ n: 1 }]);
    expect(api.fake.branches.get(prep.temp_branch_id)?.name).toBe(
      `mcp-migration-${prep.migration_id}-applied`,
    );
  });

  it('carries a migration of 100,000 characters in annotation parts, and refuses DDL too long for them', async () => {
    const { project_id, branch_id } = await project();
    conn = await connect();
    // Comments make up the length; a character outside the BMP sits across the first part boundary.
    const filler = `-- ${'x'.repeat(PART_CHARS - 4)}😀\n`;
    const migration_sql = `${filler.repeat(24)}ALTER TABLE users ADD COLUMN note text;`.padEnd(100_000, ' ');
    expect(migration_sql.length).toBe(100_000);
    const prep = await conn.ok('prepare_database_migration', { project_id, migration_sql });
    const value = api.fake.annotations.get(prep.temp_branch_id)!.value;
    const parts = JSON.parse(value['neon-mcp']).parts;
    // 25 parts' worth; parts that end short of a surrogate pair (never split) make it 26.
    expect(parts).toBe(26);
    expect(value['neon-mcp-1'].length).toBe(PART_CHARS - 1);
    await conn.close();
    await connections.closeAll();
    const other = await freshServer();
    expect(
      await other.ok('complete_database_migration', { project_id, migration_id: prep.migration_id }),
    ).toMatchObject({
      applied: true,
    });
    expect(await columnsOf(branch_id, 'users')).toEqual(['id', 'name', 'note']);

    const long = Array.from(
      { length: 2 },
      (_, i) => `CREATE INDEX i${i} ON users (name) ${'/*x*/'.repeat(19_990)}`,
    );
    const many = [...long, ...long.map((d) => d.replace(/^CREATE INDEX i/, 'CREATE INDEX j'))];
    const err = await other.fails('prepare_query_tuning', { project_id, sql: 'SELECT 1', ddl: many });
    expect(err).toMatch(/too long to keep with its temporary branch/);
    expect(tempBranches()).toEqual([]);
  });

  it('refuses to complete while another call holds the work, then completes', async () => {
    const { project_id, branch_id } = await project();
    conn = await connect();
    const prep = await conn.ok('prepare_database_migration', {
      project_id,
      migration_sql: 'ALTER TABLE users ADD COLUMN email text',
    });
    // Another instance in the middle of completing it holds the lock keyed by the ID.
    const holder = new pgDriver.Client({ connectionString: pg.uri(branchDatabase(branch_id, 'neondb')) });
    await holder.connect();
    try {
      const key = BigInt.asIntN(64, BigInt(`0x${prep.migration_id}`)).toString();
      await holder.query('SELECT pg_advisory_lock($1::bigint)', [key]);
      const err = await conn.fails('complete_database_migration', {
        project_id,
        migration_id: prep.migration_id,
      });
      expect(err).toMatch(/is being completed by another call right now/);
      expect(await columnsOf(branch_id, 'users')).toEqual(['id', 'name']);
      expect(api.fake.branches.has(prep.temp_branch_id)).toBe(true);
      await holder.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
    } finally {
      await holder.end();
    }
    await conn.ok('complete_database_migration', { project_id, migration_id: prep.migration_id });
    expect(await columnsOf(branch_id, 'users')).toEqual(['id', 'name', 'email']);
  });

  it('says the migration was applied when its temporary branch cannot be deleted, and does not apply it again', async () => {
    const { project_id, branch_id } = await project();
    conn = await connect();
    const prep = await conn.ok('prepare_database_migration', {
      project_id,
      migration_sql: 'ALTER TABLE users ADD COLUMN email text',
    });
    api.use(
      http.delete(`${BASE}/projects/:project_id/branches/${prep.temp_branch_id}`, () =>
        neonError(422, 'branch has running operations', 'BRANCH_BUSY'),
      ),
    );
    const done = await conn.ok('complete_database_migration', {
      project_id,
      migration_id: prep.migration_id,
    });
    expect(done).toMatchObject({ applied: true, branch_id });
    expect(done.temp_branch_deleted).toBeUndefined();
    expect(done.warning).toMatch(
      new RegExp(
        `temporary branch ${prep.temp_branch_id} could not be deleted .*renamed mcp-migration-${prep.migration_id}-applied`,
      ),
    );
    expect(await columnsOf(branch_id, 'users')).toEqual(['id', 'name', 'email']);
    expect(
      await conn.fails('complete_database_migration', { project_id, migration_id: prep.migration_id }),
    ).toMatch(/No migration [0-9a-f]{16} is pending/);
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
    expect(tune.tuning_id).toMatch(/^[0-9a-f]{16}$/);
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
    expect(done).toEqual({
      applied: [ddl],
      branch_id,
      temp_branch_deleted: tune.temp_branch_id,
      ...recorded,
    });
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
