/**
 * The operations each tool declares (`operations` in src/tools, read by coverage.test.ts and the docs)
 * are the ones it calls. Every tool of ALL_TOOLS runs here with valid arguments on its main path (and
 * on its other paths where it has several), against the fake with real PostgreSQL behind the SQL
 * tools; every request it sends is mapped to its operationId through Neon's OpenAPI description.
 *
 * It fails when a tool calls an operation it does not declare, when a declared operation is never
 * called by any scenario of its tool (unless listed in OTHER_PATHS with the reason), or when a tool
 * has no scenario at all.
 */
import { HttpResponse, http } from 'msw';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REF_OPERATIONS } from '../src/neon/refs.js';
import { refFields } from '../src/tools/fields.js';
import type { ToolDef } from '../src/tools/framework.js';
import { ALL_TOOLS } from '../src/tools/registry.js';
import { withToken } from './confirm-token.js';
import { BASE, connect, neonError, text, useMockApi } from './helpers.js';
import { enableAuth } from './mock/auth.js';
import { handleDeployment } from './mock/functions.js';
import type { NeonFake } from './mock/neon-fake.js';
import { matchOperation } from './mock/spec.js';
import { accountStore, addMember, features, seedObject, seedOrg } from './mock/stores.js';
import { OWNER } from './pg/branches.js';
import { usePostgres } from './pg/use-postgres.js';

/**
 * Operations a tool that changes something (not read-only) may call without declaring them.
 * `ctx.wait` (src/server.ts) polls the operations a change returned, for every such tool; the tool
 * that serves the operation itself is get_operation, which declares it.
 */
const IMPLICIT: Record<string, string> = {
  getProjectOperation: 'polled by ctx.wait for the operations a change returned',
};

/**
 * Operations a tool with a reference field (a project_id or branch argument that takes a name) may call
 * without declaring them: src/server.ts resolves those fields for every tool (src/neon/refs.ts) before
 * the handler runs, from the field metadata of src/tools/fields.ts, as it polls operations for changes.
 */
function resolvedBy(tool: ToolDef): Set<string> {
  return new Set(Object.values(refFields(tool.input)).flatMap((kind) => REF_OPERATIONS[kind]));
}

/**
 * Declared operations that no scenario below reaches, by tool, each with the path that reaches them.
 * Keep it short: a path that can be reached with the fake belongs in SCENARIOS instead.
 */
const LEDGER_COPY = {
  getProjectBranch:
    'the branch size before a copy restore point: projects without history (test/safety.test.ts)',
  deleteProjectBranch:
    'dropping the copy of a call that wrote nothing, or records past 20: test/safety.test.ts',
};
const LEDGER_TRIM = {
  deleteProjectBranch: 'records past 20, deleted with their -before branch after a new one (ledger.ts trim)',
};
const OTHER_PATHS: Record<string, Record<string, string>> = {
  run_sql: LEDGER_COPY,
  run_sql_transaction: LEDGER_COPY,
  reset_branch_from_parent: LEDGER_TRIM,
  restore_branch: LEDGER_TRIM,
  delete_branch: {
    listProjectBranches:
      "a branch whose only children are the safety net's restore points: test/safety-ops.test.ts, test/scenarios.test.ts",
  },
  delete_database: {
    deleteProjectBranch:
      'dropping the copy of a deletion Neon refused, or records past 20: test/safety-ops.test.ts',
  },
};

type Args = Record<string, unknown>;
type Conn = Awaited<ReturnType<typeof connect>>;

function seedWorld(fake: NeonFake) {
  const org = seedOrg(fake, 'org-claims');
  seedOrg(fake, 'org-other');
  const { project, branch, endpoint } = fake.seedProject('claims', { org_id: 'org-claims' });
  const child = fake.makeBranch(project.id, { name: 'dev', parent_id: branch.id });
  fake.makeDatabase(child.id, 'neondb', 'neondb_owner');
  fake.makeRole(child.id, 'neondb_owner');
  const [op] = fake.startOperations(project.id, [{ action: 'apply_config', branch_id: branch.id }]);
  op.status = 'finished';
  return {
    fake,
    org,
    project,
    branch,
    endpoint,
    child,
    op,
    project_id: project.id as string,
    /** The default branch. */
    ids: { project_id: project.id as string, branch_id: branch.id as string },
  };
}
type World = ReturnType<typeof seedWorld>;

interface Scenario {
  tool: string;
  /** Which path of the tool, when it has several scenarios. */
  path?: string;
  /** Prepares the world (seeding the fake or calling other tools: not recorded) and gives the arguments. */
  args: (w: World, c: Conn) => Args | Promise<Args>;
  /** An error path: the call must fail with this message (its requests count like any others). */
  fails?: RegExp;
}

const range = { from: '2026-11-01T00:00:00Z', to: '2026-11-03T00:00:00Z', granularity: 'daily' };
const smtp = {
  host: 'smtp.example.com',
  port: 465,
  username: 'mailer',
  password: 'pw',
  sender_email: 'noreply@example.com',
  sender_name: 'App',
};
const rule = (column: string) => ({
  database_name: 'neondb',
  schema_name: 'public',
  table_name: 'users',
  column_name: column,
  masking_function: 'anon.fake_email()',
});

/** A snapshot of the default branch, made through the tool. */
const snapshot = async (w: World, c: Conn) => (await c.ok('create_snapshot', w.ids)).snapshot.id as string;
/** A branch deleted through the tool (kept by the fake for recovery). */
const deletedChild = async (w: World, c: Conn) => {
  await c.ok('delete_branch', { project_id: w.project_id, branch_id: w.child.id });
  return w.child.id as string;
};
/** A branch restored from a snapshot onto `main` and not yet finalized. */
const restoredBranch = (w: World) =>
  w.fake.makeBranch(w.project_id, {
    name: 'main (restored)',
    parent_id: w.branch.id,
    restore_status: 'restored',
    restored_as: w.branch.id,
  }).id as string;
const migration = async (w: World, c: Conn) =>
  (
    await c.ok('prepare_database_migration', {
      project_id: w.project_id,
      migration_sql: 'CREATE TABLE t (x int)',
    })
  ).migration_id as string;
const tuning = async (w: World, c: Conn) =>
  (
    await c.ok('prepare_query_tuning', {
      project_id: w.project_id,
      sql: 'SELECT * FROM users WHERE id = 1',
      ddl: ['CREATE INDEX users_name_idx ON users (name)'],
    })
  ).tuning_id as string;
/** An ID of pending work no temporary branch carries (completed already, or mistyped). */
const unknown = (w: World, kind: 'migration' | 'tuning') =>
  kind === 'migration'
    ? { project_id: w.project_id, migration_id: '0123456789abcdef' }
    : { project_id: w.project_id, tuning_id: '0123456789abcdef' };
/** Prepared work whose temporary branch Neon then refuses to delete (so complete_* renames it). */
const undeletable = async (w: World, c: Conn, kind: 'migration' | 'tuning') => {
  const id = kind === 'migration' ? await migration(w, c) : await tuning(w, c);
  const temp = [...w.fake.branches.values()].find((b) => b.name === `mcp-${kind}-${id}`)?.id;
  api.use(
    http.delete(`${BASE}/projects/:project_id/branches/${temp}`, () =>
      neonError(422, 'branch has running operations', 'BRANCH_BUSY'),
    ),
  );
  return kind === 'migration'
    ? { project_id: w.project_id, migration_id: id }
    : { project_id: w.project_id, tuning_id: id, apply: true };
};
const auth = (w: World) => {
  enableAuth(w.fake, w.branch.id);
  return w.ids;
};
const storage = (w: World) => {
  seedObject(w.fake, w.branch.id, 'docs', 'notes/today.md', 'hello');
  seedObject(w.fake, w.branch.id, 'docs', 'notes/old.md', 'bye');
  return { ...w.ids, bucket: 'docs' };
};
const deployed = async (w: World, c: Conn) => {
  await c.ok('deploy_function', { ...w.ids, slug: 'hello', files: { 'index.mjs': 'export default {}' } });
  return { ...w.ids, slug: 'hello' };
};

/** Neon's documentation site, served by msw (the docs tools call no Neon operation). */
const DOCS = 'https://docs.claims.test';
const docsSite = () =>
  api.use(
    http.get(`${DOCS}/*`, ({ request }) =>
      new URL(request.url).pathname === '/docs/llms.txt'
        ? new HttpResponse(`# Neon\n\n- [Branching](${DOCS}/docs/introduction/branching.md): Branches\n`)
        : new HttpResponse('# Branching\n\nCopy-on-write.', { headers: { 'content-type': 'text/markdown' } }),
    ),
  );

const SCENARIOS: Scenario[] = [
  // docs
  {
    tool: 'list_docs',
    args: () => {
      docsSite();
      return {};
    },
  },
  {
    tool: 'get_doc',
    args: () => {
      docsSite();
      return { slug: 'introduction/branching' };
    },
  },

  // projects
  { tool: 'list_projects', args: () => ({}) },
  { tool: 'list_projects', path: 'shared', args: () => ({ show: 'shared' }) },
  { tool: 'list_projects', path: 'deleted', args: () => ({ show: 'deleted' }) },
  { tool: 'get_project', args: (w) => ({ project_id: w.project_id }) },
  { tool: 'create_project', args: () => ({ name: 'fresh' }) },
  { tool: 'update_project', args: (w) => ({ project_id: w.project_id, name: 'renamed' }) },
  // Confirmed as a client without forms does: refused first (not recorded), then with its token.
  { tool: 'delete_project', args: (w, c) => withToken(c, 'delete_project', { project_id: w.project_id }) },
  {
    tool: 'recover_project',
    args: async (w, c) => {
      await c.ok('delete_project', await withToken(c, 'delete_project', { project_id: w.project_id }));
      return { project_id: w.project_id };
    },
  },
  { tool: 'list_project_access', args: (w) => ({ project_id: w.project_id }) },
  { tool: 'grant_project_access', args: (w) => ({ project_id: w.project_id, email: 'bob@example.com' }) },
  {
    tool: 'revoke_project_access',
    args: async (w, c) => {
      const granted = await c.ok('grant_project_access', {
        project_id: w.project_id,
        email: 'bob@example.com',
      });
      return { project_id: w.project_id, permission_id: granted.permission.id };
    },
  },
  { tool: 'list_preload_libraries', args: (w) => ({ project_id: w.project_id }) },
  { tool: 'create_project_transfer', args: (w) => ({ project_id: w.project_id, ttl_seconds: 3600 }) },
  {
    tool: 'accept_project_transfer',
    args: async (w, c) => {
      const { transfer_request } = await c.ok('create_project_transfer', { project_id: w.project_id });
      return { project_id: w.project_id, request_id: transfer_request.id, org_id: 'org-other' };
    },
  },
  { tool: 'list_advisor_issues', args: (w) => ({ project_id: w.project_id }) },

  // branches
  { tool: 'list_branches', args: (w) => ({ project_id: w.project_id }) },
  { tool: 'count_branches', args: (w) => ({ project_id: w.project_id }) },
  { tool: 'get_branch', args: (w) => w.ids },
  // Names: resolved by listing (REF_OPERATIONS), which the tool need not declare.
  {
    tool: 'get_branch',
    path: 'by names',
    args: (w) => ({ project_id: w.project.name, branch_id: 'dev' }),
  },
  { tool: 'create_branch', args: (w) => ({ project_id: w.project_id, name: 'feature' }) },
  {
    tool: 'create_branch',
    path: 'unknown parent',
    // The refusal is checked against the project, so the hint blames the parent and not the project.
    args: (w) => ({ project_id: w.project_id, name: 'orphan', parent_id: 'br-unknown-404' }),
    fails: /parent/i,
  },
  {
    tool: 'update_branch',
    args: (w) => ({ project_id: w.project_id, branch_id: w.child.id, name: 'dev2', protected: true }),
  },
  { tool: 'delete_branch', args: (w) => ({ project_id: w.project_id, branch_id: w.child.id }) },
  {
    tool: 'reset_branch_from_parent',
    args: (w, c) =>
      withToken(c, 'reset_branch_from_parent', { project_id: w.project_id, branch_id: w.child.id }),
  },
  {
    tool: 'reset_branch_from_parent',
    path: 'keeping the old state',
    args: (w, c) =>
      withToken(c, 'reset_branch_from_parent', {
        project_id: w.project_id,
        branch_id: w.child.id,
        preserve_under_name: 'dev-before',
      }),
  },
  {
    tool: 'restore_branch',
    args: (w, c) =>
      withToken(c, 'restore_branch', {
        project_id: w.project_id,
        branch_id: w.child.id,
        source_branch_id: w.branch.id,
        preserve_under_name: 'dev-before',
      }),
  },
  {
    tool: 'restore_branch',
    path: 'the old state kept by the change ledger',
    args: (w, c) =>
      withToken(c, 'restore_branch', {
        project_id: w.project_id,
        branch_id: w.child.id,
        source_branch_id: w.branch.id,
      }),
  },
  { tool: 'set_default_branch', args: (w) => ({ project_id: w.project_id, branch_id: w.child.id }) },
  {
    tool: 'recover_branch',
    args: async (w, c) => ({ project_id: w.project_id, branch_id: await deletedChild(w, c) }),
  },
  {
    tool: 'finalize_restore_branch',
    args: (w) => ({ project_id: w.project_id, branch_id: restoredBranch(w), name: 'main-old' }),
  },

  // computes
  { tool: 'list_computes', args: (w) => ({ project_id: w.project_id }) },
  { tool: 'list_computes', path: 'one branch', args: (w) => w.ids },
  { tool: 'get_compute', args: (w) => ({ project_id: w.project_id, compute_id: w.endpoint.id }) },
  {
    tool: 'create_compute',
    args: (w) => ({ project_id: w.project_id, branch_id: w.child.id, type: 'read_write' }),
  },
  {
    tool: 'update_compute',
    args: (w) => ({ project_id: w.project_id, compute_id: w.endpoint.id, max_cu: 4 }),
  },
  { tool: 'delete_compute', args: (w) => ({ project_id: w.project_id, compute_id: w.endpoint.id }) },
  { tool: 'start_compute', args: (w) => ({ project_id: w.project_id, compute_id: w.endpoint.id }) },
  { tool: 'suspend_compute', args: (w) => ({ project_id: w.project_id, compute_id: w.endpoint.id }) },
  { tool: 'restart_compute', args: (w) => ({ project_id: w.project_id, compute_id: w.endpoint.id }) },

  // databases and roles
  { tool: 'list_databases', args: (w) => ({ project_id: w.project_id }) },
  { tool: 'get_database', args: (w) => ({ project_id: w.project_id, database: 'neondb' }) },
  {
    tool: 'create_database',
    args: (w) => ({ ...w.ids, name: 'shop', owner: 'neondb_owner' }),
  },
  { tool: 'create_database', path: 'default owner', args: (w) => ({ ...w.ids, name: 'shop' }) },
  {
    tool: 'create_database',
    path: 'default owner of a branch without databases: its one role',
    args: (w) => {
      w.fake.databases = w.fake.databases.filter((d) => d.branch_id !== w.child.id);
      return { project_id: w.project_id, branch_id: w.child.id, name: 'shop' };
    },
  },
  { tool: 'update_database', args: (w) => ({ ...w.ids, database: 'neondb', name: 'main_db' }) },
  { tool: 'delete_database', args: (w) => ({ ...w.ids, database: 'neondb' }) },
  { tool: 'list_roles', args: (w) => ({ project_id: w.project_id }) },
  { tool: 'get_role', args: (w) => ({ project_id: w.project_id, role: 'neondb_owner' }) },
  { tool: 'create_role', args: (w) => ({ ...w.ids, name: 'app' }) },
  // A limited role is made with SQL by the database's owner, so it finds the owner's connection first.
  {
    tool: 'create_role',
    path: 'read_only',
    args: (w) => ({ ...w.ids, name: 'reader', access: 'read_only' }),
  },
  {
    tool: 'delete_role',
    args: async (w, c) => {
      await c.ok('create_role', { ...w.ids, name: 'app' });
      return { ...w.ids, role: 'app' };
    },
  },
  { tool: 'reveal_role_password', args: (w) => ({ ...w.ids, role: 'neondb_owner' }) },
  { tool: 'reset_role_password', args: (w) => ({ ...w.ids, role: 'neondb_owner' }) },
  // A role made with SQL: Neon answers 404, the tool goes on as the database's owner.
  ...(['get_role', 'delete_role', 'reveal_role_password', 'reset_role_password'] as const).map((tool) => ({
    tool,
    path: 'role made with SQL',
    // Neon cannot show such a password: reveal_role_password says so.
    ...(tool === 'reveal_role_password' ? { fails: /made with SQL; Neon cannot show its password/ } : {}),
    args: async (w: World) => {
      // Roles are the test server's, shared by every world: a name of its own each time. Made with SQL
      // here rather than by create_role, whose connection details the next call would find cached.
      const name = `sq_${tool.slice(0, 6)}_${Math.random().toString(36).slice(2, 8)}`;
      await dbs.query(w.ids.branch_id, `CREATE ROLE ${name} LOGIN PASSWORD 'sq-claims-pw-1'`);
      return { ...w.ids, role: name };
    },
  })),
  { tool: 'get_connection_string', args: (w) => ({ project_id: w.project_id }) },

  // operations
  { tool: 'list_operations', args: (w) => ({ project_id: w.project_id }) },
  { tool: 'get_operation', args: (w) => ({ project_id: w.project_id, operation_id: w.op.id }) },

  // SQL, on the real server
  { tool: 'run_sql', args: (w) => ({ project_id: w.project_id, sql: 'SELECT count(*) FROM users' }) },
  {
    tool: 'run_sql',
    path: 'a write, recorded in the change ledger',
    args: (w) => ({ project_id: w.project_id, sql: "INSERT INTO users VALUES (10, 'ten')" }),
  },
  { tool: 'run_sql_readonly', args: (w) => ({ project_id: w.project_id, sql: 'SELECT name FROM users' }) },
  {
    tool: 'run_sql_readonly',
    path: 'as_of a change: the ledger, a temporary branch made then, deleted after',
    args: async (w, c) => {
      const r = await c.ok('run_sql', { project_id: w.project_id, sql: 'DELETE FROM users WHERE id = 2' });
      return { project_id: w.project_id, sql: 'SELECT count(*) FROM users', as_of: r.change.change_id };
    },
  },
  {
    tool: 'run_sql_transaction',
    args: (w) => ({
      project_id: w.project_id,
      statements: ["INSERT INTO users VALUES (9, 'nine')", 'SELECT count(*) FROM users'],
    }),
  },
  { tool: 'list_tables', args: (w) => ({ project_id: w.project_id }) },
  { tool: 'describe_table', args: (w) => ({ project_id: w.project_id, table: 'users' }) },
  {
    tool: 'describe_table',
    path: 'as_of a change',
    args: async (w, c) => {
      const r = await c.ok('run_sql', {
        project_id: w.project_id,
        sql: 'ALTER TABLE users ADD COLUMN x int',
      });
      return { project_id: w.project_id, table: 'users', as_of: r.change.change_id };
    },
  },
  { tool: 'explain_sql', args: (w) => ({ project_id: w.project_id, sql: 'SELECT * FROM users' }) },
  { tool: 'list_slow_queries', args: (w) => ({ project_id: w.project_id }) },

  // schema, migrations and tuning on temporary branches
  { tool: 'get_branch_schema', args: (w) => ({ project_id: w.project_id }) },
  {
    tool: 'compare_schema',
    args: async (w) => {
      // Made before the call: creating it from its parent's template would end the parent's dump.
      await dbs.ensure(w.child.id);
      return { project_id: w.project_id, branch_id: w.child.id };
    },
  },
  {
    tool: 'compare_schema',
    path: 'as_of a change: the branch against itself before it',
    args: async (w, c) => {
      const r = await c.ok('run_sql', {
        project_id: w.project_id,
        sql: 'ALTER TABLE users ADD COLUMN y int',
      });
      return { ...w.ids, as_of: r.change.change_id };
    },
  },
  {
    tool: 'compare_schema',
    path: 'root branch',
    // Neon refuses a root branch (no parent); the tool reads the branch to say to pass base_branch_id.
    args: (w) => w.ids,
    fails: /root branch/,
  },
  {
    tool: 'prepare_database_migration',
    args: (w) => ({
      project_id: w.project_id,
      migration_sql: 'ALTER TABLE users ADD COLUMN email text',
      verify_sql: 'SELECT count(*) FROM users',
    }),
  },
  {
    tool: 'prepare_database_migration',
    path: 'a migration that fails deletes its temporary branch',
    args: (w) => ({ project_id: w.project_id, migration_sql: 'ALTER TABLE nope ADD COLUMN x int' }),
    fails: /relation "nope" does not exist/,
  },
  {
    tool: 'complete_database_migration',
    args: async (w, c) => ({ project_id: w.project_id, migration_id: await migration(w, c) }),
  },
  {
    tool: 'complete_database_migration',
    path: 'unknown ID: no temporary branch carries it',
    args: (w) => unknown(w, 'migration'),
    fails: /No migration 0123456789abcdef is pending/,
  },
  {
    tool: 'complete_database_migration',
    path: 'applied, but the temporary branch cannot be deleted: renamed instead',
    args: (w, c) => undeletable(w, c, 'migration'),
  },
  {
    tool: 'discard_database_migration',
    args: async (w, c) => ({ project_id: w.project_id, migration_id: await migration(w, c) }),
  },
  {
    tool: 'discard_database_migration',
    path: 'unknown ID: no temporary branch carries it',
    args: (w) => unknown(w, 'migration'),
    fails: /No migration 0123456789abcdef is pending/,
  },
  {
    tool: 'prepare_query_tuning',
    args: (w) => ({
      project_id: w.project_id,
      sql: 'SELECT * FROM users WHERE name = $1',
      params: ['user 1'],
      ddl: ['CREATE INDEX users_name_idx ON users (name)'],
    }),
  },
  {
    tool: 'prepare_query_tuning',
    path: 'DDL that fails deletes its temporary branch',
    args: (w) => ({
      project_id: w.project_id,
      sql: 'SELECT * FROM users',
      ddl: ['CREATE INDEX ON nope (x)'],
    }),
    fails: /relation "nope" does not exist/,
  },
  {
    tool: 'complete_query_tuning',
    args: async (w, c) => ({ project_id: w.project_id, tuning_id: await tuning(w, c), apply: true }),
  },
  {
    tool: 'complete_query_tuning',
    path: 'unknown ID: no temporary branch carries it',
    args: (w) => ({ ...unknown(w, 'tuning'), apply: true }),
    fails: /No tuning 0123456789abcdef is pending/,
  },
  {
    tool: 'complete_query_tuning',
    path: 'applied, but the temporary branch cannot be deleted: renamed instead',
    args: (w, c) => undeletable(w, c, 'tuning'),
  },
  {
    tool: 'complete_query_tuning',
    path: 'discard',
    args: async (w, c) => ({ project_id: w.project_id, tuning_id: await tuning(w, c), apply: false }),
  },

  // the safety net (a recorded write first)
  { tool: 'list_changes', args: (w) => ({ project_id: w.project_id }) },
  {
    tool: 'undo_change',
    args: async (w, c) => {
      await c.ok('run_sql', { project_id: w.project_id, sql: 'DELETE FROM users WHERE id = 1' });
      return withToken(c, 'undo_change', { project_id: w.project_id });
    },
  },
  {
    tool: 'compare_data',
    args: async (w) => {
      await dbs.ensure(w.child.id);
      return { project_id: w.project_id, table: 'users', branch_id: w.child.id };
    },
  },

  // snapshots
  { tool: 'create_snapshot', args: (w) => ({ ...w.ids, name: 'nightly' }) },
  { tool: 'list_snapshots', args: (w) => ({ project_id: w.project_id }) },
  {
    tool: 'rename_snapshot',
    args: async (w, c) => ({ project_id: w.project_id, snapshot_id: await snapshot(w, c), name: 'golden' }),
  },
  {
    tool: 'delete_snapshot',
    args: async (w, c) => ({ project_id: w.project_id, snapshot_id: await snapshot(w, c) }),
  },
  {
    tool: 'restore_snapshot',
    args: async (w, c) => ({ project_id: w.project_id, snapshot_id: await snapshot(w, c), name: 'preview' }),
  },
  { tool: 'get_snapshot_schedule', args: (w) => w.ids },
  {
    tool: 'set_snapshot_schedule',
    args: (w) => ({ ...w.ids, schedule: [{ frequency: 'daily', hour: 3, retention_seconds: 604800 }] }),
  },

  // anonymization
  { tool: 'create_anonymized_branch', args: (w) => ({ project_id: w.project_id, name: 'masked' }) },
  {
    tool: 'get_branch_anonymization',
    args: async (w, c) => {
      const created = await c.ok('create_anonymized_branch', { project_id: w.project_id });
      return { project_id: w.project_id, branch_id: created.branch.id };
    },
  },
  {
    tool: 'anonymize_branch',
    args: async (w, c) => {
      const created = await c.ok('create_anonymized_branch', { project_id: w.project_id });
      return { project_id: w.project_id, branch_id: created.branch.id, masking_rules: [rule('name')] };
    },
  },

  // organizations
  { tool: 'get_organization', args: () => ({ org_id: 'org-claims' }) },
  { tool: 'list_org_api_keys', args: () => ({ org_id: 'org-claims' }) },
  { tool: 'create_org_api_key', args: () => ({ org_id: 'org-claims', name: 'ci' }) },
  {
    tool: 'revoke_org_api_key',
    args: async (_w, c) => {
      const created = await c.ok('create_org_api_key', { org_id: 'org-claims', name: 'ci' });
      return { org_id: 'org-claims', key_id: created.api_key.id };
    },
  },
  { tool: 'list_org_members', args: () => ({ org_id: 'org-claims' }) },
  {
    tool: 'list_org_members',
    path: 'one member',
    args: (w) => ({ org_id: 'org-claims', member_id: w.org.members[0].member.id }),
  },
  {
    tool: 'update_org_member',
    args: (w) => ({
      org_id: 'org-claims',
      member_id: addMember(w.org, 'bob@example.com', 'member').id,
      role: 'admin',
    }),
  },
  {
    tool: 'remove_org_member',
    args: (w) => ({ org_id: 'org-claims', member_id: addMember(w.org, 'bob@example.com', 'member').id }),
  },
  { tool: 'list_org_invitations', args: () => ({ org_id: 'org-claims' }) },
  {
    tool: 'invite_org_members',
    args: () => ({ org_id: 'org-claims', invitations: [{ email: 'carol@example.com', role: 'member' }] }),
  },
  {
    tool: 'transfer_projects_to_org',
    args: (w) => ({ org_id: 'org-claims', destination_org_id: 'org-other', project_ids: [w.project_id] }),
  },

  // personal API keys, billing, the user
  { tool: 'list_api_keys', args: () => ({}) },
  { tool: 'create_api_key', args: () => ({ name: 'ci' }) },
  {
    tool: 'revoke_api_key',
    args: async (_w, c) => ({ key_id: (await c.ok('create_api_key', { name: 'ci' })).api_key.id }),
  },
  { tool: 'get_consumption', args: () => ({ org_id: 'org-claims', ...range }) },
  {
    tool: 'get_consumption',
    path: 'per branch',
    args: (w) => ({ org_id: 'org-claims', ...range, per: 'branch', project_ids: [w.project_id] }),
  },
  { tool: 'get_consumption', path: 'legacy plans', args: () => ({ ...range, legacy: true }) },
  { tool: 'get_spending_limit', args: () => ({ org_id: 'org-claims' }) },
  { tool: 'set_spending_limit', args: () => ({ org_id: 'org-claims', spending_limit_cents: 50_000 }) },
  {
    tool: 'set_spending_limit',
    path: 'remove the limit',
    args: () => ({ org_id: 'org-claims', spending_limit_cents: null }),
  },
  { tool: 'get_current_user', args: () => ({}) },
  { tool: 'list_organizations', args: () => ({}) },
  { tool: 'list_regions', args: () => ({}) },

  // networking
  { tool: 'list_project_vpc_restrictions', args: (w) => ({ project_id: w.project_id }) },
  {
    tool: 'set_project_vpc_restriction',
    args: async (w, c) => {
      await c.ok('assign_org_vpc_endpoint', {
        org_id: 'org-claims',
        region_id: 'aws-us-east-2',
        vpc_endpoint_id: 'vpce-1234567890abcdef0',
        label: 'office',
      });
      return { project_id: w.project_id, vpc_endpoint_id: 'vpce-1234567890abcdef0', label: 'office' };
    },
  },
  {
    tool: 'remove_project_vpc_restriction',
    args: (w) => {
      w.org.vpcEndpoints.set(
        'aws-us-east-2',
        new Map([['vpce-1234567890abcdef0', { label: 'x', state: 'new' }]]),
      );
      accountStore(w.fake).projectVpc.set(w.project_id, new Map([['vpce-1234567890abcdef0', 'office']]));
      return { project_id: w.project_id, vpc_endpoint_id: 'vpce-1234567890abcdef0' };
    },
  },
  { tool: 'list_org_vpc_endpoints', args: () => ({ org_id: 'org-claims' }) },
  {
    tool: 'list_org_vpc_endpoints',
    path: 'one region',
    args: () => ({ org_id: 'org-claims', region_id: 'aws-us-east-2' }),
  },
  {
    tool: 'list_org_vpc_endpoints',
    path: 'one endpoint',
    args: (w) => {
      w.org.vpcEndpoints.set(
        'aws-us-east-2',
        new Map([['vpce-1234567890abcdef0', { label: 'x', state: 'new' }]]),
      );
      return { org_id: 'org-claims', region_id: 'aws-us-east-2', vpc_endpoint_id: 'vpce-1234567890abcdef0' };
    },
  },
  {
    tool: 'assign_org_vpc_endpoint',
    args: () => ({
      org_id: 'org-claims',
      region_id: 'aws-us-east-2',
      vpc_endpoint_id: 'vpce-1234567890abcdef0',
      label: 'office',
    }),
  },
  {
    tool: 'delete_org_vpc_endpoint',
    args: (w) => {
      w.org.vpcEndpoints.set(
        'aws-us-east-2',
        new Map([['vpce-1234567890abcdef0', { label: 'x', state: 'new' }]]),
      );
      return { org_id: 'org-claims', region_id: 'aws-us-east-2', vpc_endpoint_id: 'vpce-1234567890abcdef0' };
    },
  },
  { tool: 'list_jwks', args: (w) => ({ project_id: w.project_id }) },
  {
    tool: 'add_jwks',
    args: (w) => ({
      project_id: w.project_id,
      jwks_url: 'https://auth.example.com/.well-known/jwks.json',
      provider_name: 'clerk',
    }),
  },
  {
    tool: 'delete_jwks',
    args: async (w, c) => {
      const res = await c.call('add_jwks', {
        project_id: w.project_id,
        jwks_url: 'https://auth.example.com/.well-known/jwks.json',
        provider_name: 'clerk',
      });
      return { project_id: w.project_id, jwks_id: (res.structuredContent as any).jwks.id };
    },
  },

  // Neon Auth
  { tool: 'enable_neon_auth', args: (w) => ({ ...w.ids, database: 'neondb' }) },
  { tool: 'get_neon_auth', args: (w) => auth(w) },
  { tool: 'get_neon_auth', path: 'every section', args: (w) => ({ ...auth(w), all: true }) },
  ...(
    [
      ['email_and_password', { require_email_verification: true }],
      ['email_provider', { sender_name: 'Shop' }],
      ['allow_localhost', { allow_localhost: false }],
      ['organization', { enabled: true }],
      ['magic_link', { enabled: true, expires_in: 30 }],
      ['phone_number', { enabled: true }],
      [
        'webhooks',
        { enabled: true, webhook_url: 'https://app.example.com/hook', enabled_events: ['send.otp'] },
      ],
    ] as const
  ).map(
    ([section, settings]): Scenario => ({
      tool: 'update_neon_auth',
      path: section,
      args: (w) => ({ ...auth(w), section, settings }),
    }),
  ),
  { tool: 'disable_neon_auth', args: (w) => auth(w) },
  {
    tool: 'update_neon_auth_domains',
    args: (w) => ({ ...auth(w), add: ['https://app.example.com'] }),
  },
  {
    tool: 'update_neon_auth_domains',
    path: 'remove',
    args: async (w, c) => {
      await c.ok('update_neon_auth_domains', { ...auth(w), add: ['https://app.example.com'] });
      return { ...w.ids, remove: ['https://app.example.com'] };
    },
  },
  {
    tool: 'set_neon_auth_oauth_provider',
    args: (w) => ({ ...auth(w), provider: 'github', client_id: 'gh-id', client_secret: 'gh-secret' }),
  },
  {
    tool: 'set_neon_auth_oauth_provider',
    path: 'update one',
    args: (w) => ({ ...auth(w), provider: 'google', client_id: 'g-id', client_secret: 'g-secret' }),
  },
  { tool: 'delete_neon_auth_oauth_provider', args: (w) => ({ ...auth(w), provider: 'google' }) },
  { tool: 'create_neon_auth_user', args: (w) => ({ ...auth(w), email: 'ada@example.com', name: 'Ada' }) },
  {
    tool: 'delete_neon_auth_user',
    args: async (w, c) => {
      const { id } = await c.ok('create_neon_auth_user', { ...auth(w), email: 'ada@example.com' });
      return { ...w.ids, user_id: id };
    },
  },
  {
    tool: 'set_neon_auth_user_roles',
    args: async (w, c) => {
      const { id } = await c.ok('create_neon_auth_user', { ...auth(w), email: 'ada@example.com' });
      return { ...w.ids, user_id: id, roles: ['admin'] };
    },
  },
  {
    tool: 'send_neon_auth_test_email',
    args: (w) => ({ ...auth(w), recipient_email: 'me@example.com', smtp }),
  },
  {
    tool: 'create_neon_auth_sdk_keys',
    args: (w) => ({ project_id: w.project_id, auth_provider: 'better_auth' }),
  },
  { tool: 'transfer_neon_auth_project', args: (w) => ({ project_id: w.project_id, auth_provider: 'stack' }) },

  // Data API
  { tool: 'create_data_api', args: (w) => ({ ...w.ids, database: 'neondb' }) },
  {
    tool: 'get_data_api',
    args: async (w, c) => {
      await c.ok('create_data_api', { ...w.ids, database: 'neondb' });
      return { ...w.ids, database: 'neondb' };
    },
  },
  {
    tool: 'update_data_api',
    args: async (w, c) => {
      await c.ok('create_data_api', { ...w.ids, database: 'neondb' });
      return { ...w.ids, database: 'neondb', settings: { db_max_rows: 100 } };
    },
  },
  {
    tool: 'delete_data_api',
    args: async (w, c) => {
      await c.ok('create_data_api', { ...w.ids, database: 'neondb' });
      return { ...w.ids, database: 'neondb' };
    },
  },

  // storage
  { tool: 'get_storage', args: (w) => storage(w) && w.ids },
  { tool: 'create_bucket', args: (w) => ({ ...storage(w), bucket: undefined, name: 'avatars' }) },
  { tool: 'delete_bucket', args: (w) => storage(w) },
  { tool: 'list_bucket_objects', args: (w) => ({ ...storage(w), prefix: 'notes/' }) },
  { tool: 'read_bucket_object', args: (w) => ({ ...storage(w), key: 'notes/today.md' }) },
  { tool: 'delete_bucket_objects', args: (w) => ({ ...storage(w), key: 'notes/old.md' }) },
  { tool: 'delete_bucket_objects', path: 'by prefix', args: (w) => ({ ...storage(w), prefix: 'notes/' }) },
  { tool: 'presign_bucket_object', args: (w) => ({ ...storage(w), key: 'notes/today.md' }) },
  {
    tool: 'create_branch_credential',
    args: (w) => ({ ...storage(w), bucket: undefined, scopes: ['storage:read'], name: 'reader' }),
  },
  { tool: 'list_branch_credentials', args: (w) => storage(w) && w.ids },
  {
    tool: 'revoke_branch_credential',
    args: async (w, c) => {
      storage(w);
      const created = await c.ok('create_branch_credential', { ...w.ids, scopes: ['storage:read'] });
      return { ...w.ids, token_id: created.credential.token_id };
    },
  },

  // functions
  {
    tool: 'deploy_function',
    args: (w) => ({ ...w.ids, slug: 'hello', files: { 'index.mjs': 'export default {}' }, env: { A: 'b' } }),
  },
  { tool: 'list_functions', args: async (w, c) => ({ ...(await deployed(w, c)), slug: undefined }) },
  { tool: 'get_function', args: (w, c) => deployed(w, c) },
  { tool: 'rename_function', args: async (w, c) => ({ ...(await deployed(w, c)), name: 'Greeter' }) },
  { tool: 'delete_function', args: (w, c) => deployed(w, c) },
  {
    tool: 'get_ai_gateway',
    args: (w) => {
      features(w.fake).gatewayBranches.add(w.branch.id);
      return w.ids;
    },
  },
];

const api = useMockApi();
const { dbs } = usePostgres(api, {
  preload: ['pg_stat_statements'],
  // As on Neon, the database owner may create roles (create_role with a limited access).
  setup: (server) => server.query('postgres', `ALTER ROLE ${OWNER} CREATEROLE`).then(() => undefined),
  // What the branch holds, made when a scenario first reaches its database (most never do: making it
  // before each of the ~170 tests cost about half of this file's time).
  rootSetup: async (db) => {
    await db.query(
      `CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL);
       INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, 3) g;`,
    );
    await db.admin('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  },
});

/** Requests the fake answered without msw (the multipart function deployment), as `METHOD path`. */
let direct: { method: string; path: string }[] = [];
let world: World;
let conn: Conn | undefined;
beforeEach(async () => {
  direct = [];
  world = seedWorld(api.fake);
  conn = await connect({
    toolsets: ['all'],
    docsUrl: DOCS,
    clientOptions: {
      // The multipart deployment cannot go through the JSON request check: the fake answers it here.
      fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
        const request = new Request(input, init);
        const url = new URL(request.url);
        if (request.method === 'POST' && url.pathname.endsWith('/deployments')) {
          direct.push({ method: 'POST', path: url.pathname.replace(/^\/api\/v2/, '') });
          return handleDeployment(api.fake, request);
        }
        return fetch(request);
      },
    },
  });
});
afterEach(async () => {
  await conn?.close();
  conn = undefined;
});

/** operationIds called per tool, over all its scenarios. */
const called = new Map<string, Set<string>>();
const TOOLS = new Map(ALL_TOOLS.map((t) => [t.name, t]));

function operationIdOf(method: string, path: string): string {
  const found = matchOperation(method, path);
  return found ? found.op.operationId : `${method} ${path} (no operation in the spec)`;
}

describe('each tool calls only the operations it declares', () => {
  for (const s of SCENARIOS) {
    it(`${s.tool}${s.path ? ` (${s.path})` : ''}`, { timeout: 30_000 }, async () => {
      const tool = TOOLS.get(s.tool);
      expect(tool, `${s.tool} is not a tool of ALL_TOOLS`).toBeDefined();
      const args = await s.args(world, conn!);
      await api.settle();
      const before = api.requests.length;
      const beforeDirect = direct.length;
      const res = await conn!.call(s.tool, JSON.parse(JSON.stringify(args)));
      if (s.fails) {
        expect(res.isError, text(res)).toBe(true);
        expect(text(res)).toMatch(s.fails);
      } else expect(res.isError, text(res)).toBeFalsy();
      await api.settle();
      const ids = [
        ...api.requests.slice(before).map((r) => operationIdOf(r.method, r.path)),
        ...direct.slice(beforeDirect).map((r) => operationIdOf(r.method, r.path)),
      ];
      // A tool that declares no Neon operation (the docs tools read Neon's docs site) must call none.
      if (ALL_TOOLS.find((t) => t.name === s.tool)?.operations.length)
        expect(ids.length, 'the scenario reached Neon').toBeGreaterThan(0);
      else expect(ids, 'a tool that declares no operation called Neon').toEqual([]);
      const mine = called.get(s.tool) ?? new Set<string>();
      called.set(s.tool, mine);
      for (const id of ids) mine.add(id);
      const declared = new Set(tool!.operations);
      const resolving = resolvedBy(tool!);
      const implicit = (id: string) =>
        (!tool!.hints.readOnlyHint && IMPLICIT[id] !== undefined) || resolving.has(id);
      const undeclared = [...new Set(ids)].filter((id) => !declared.has(id) && !implicit(id));
      expect(undeclared, `${s.tool} calls operations it does not declare`).toEqual([]);
    });
  }
});

describe('list_toolsets (made by the registry, not in ALL_TOOLS)', () => {
  it('declares no operation and calls none', async () => {
    const { tools } = await conn!.mcp.listTools();
    expect(tools.map((t) => t.name)).toContain('list_toolsets');
    await api.settle();
    const before = api.requests.length;
    const res = await conn!.call('list_toolsets');
    expect(res.isError, text(res)).toBeFalsy();
    await api.settle();
    expect(api.requests.slice(before)).toEqual([]);
  });
});

describe('every declared operation is called', () => {
  it('every tool has a scenario', () => {
    const covered = new Set(SCENARIOS.map((s) => s.tool));
    expect(ALL_TOOLS.map((t) => t.name).filter((n) => !covered.has(n))).toEqual([]);
  });

  it('each declared operation is reached by a scenario of its tool, or listed in OTHER_PATHS', () => {
    const never: string[] = [];
    for (const tool of ALL_TOOLS) {
      const mine = called.get(tool.name) ?? new Set();
      for (const id of new Set(tool.operations)) {
        if (!mine.has(id) && !OTHER_PATHS[tool.name]?.[id]) never.push(`${tool.name}: ${id}`);
      }
    }
    expect(never, 'declared but never called').toEqual([]);
  });

  it('OTHER_PATHS names only declared operations that no scenario reaches', () => {
    const stale: string[] = [];
    for (const [name, ops] of Object.entries(OTHER_PATHS)) {
      for (const id of Object.keys(ops)) {
        if (!TOOLS.get(name)?.operations.includes(id)) stale.push(`${name}: ${id} is not declared`);
        if (called.get(name)?.has(id)) stale.push(`${name}: ${id} is reached by a scenario`);
      }
    }
    expect(stale).toEqual([]);
  });
});
