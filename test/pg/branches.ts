/**
 * Gives each branch of the Neon fake its own database on the test PostgreSQL server, the way Neon gives
 * each branch its own copy of the data: the fake's connection_uri answers with a URI to
 * `b_<branch>_<database>`, created on first use — empty for a root branch, a copy of the parent's
 * database (CREATE DATABASE … TEMPLATE) for a child branch, so work on a temporary branch never touches
 * its parent. Also dumps a database's schema for the fake's schema endpoints.
 */
import { http } from 'msw';
import { afterEach, beforeEach } from 'vitest';
import { dumpSchema as dumpText } from '../../src/local/schema-text.js';
import { BASE, type NeonFake } from '../mock/neon-fake.js';
import { ROLE_PASSWORD, SUPERUSER, type TestPostgres } from './server.js';

/** Roles of the fake that exist as login roles on the test server. */
export const OWNER = 'neondb_owner';
export const READER = 'app_reader';

export function branchDatabase(branchId: string, database: string): string {
  return `b_${branchId}_${database}`
    .replace(/[^a-z0-9_]/gi, '_')
    .toLowerCase()
    .slice(0, 63);
}

/** Creates the login roles the tests use (once per server). */
export async function createRoles(pg: TestPostgres): Promise<void> {
  await pg.query('postgres', `CREATE ROLE ${OWNER} LOGIN PASSWORD '${ROLE_PASSWORD}' CREATEDB`);
  await pg.query('postgres', `GRANT pg_read_all_stats, pg_signal_backend TO ${OWNER}`);
  await pg.query('postgres', `CREATE ROLE ${READER} LOGIN PASSWORD '${ROLE_PASSWORD}'`);
}

/** A root branch's database being set up (useBranchDatabases' `rootSetup`). */
export interface RootDatabase {
  /** Runs SQL as its owner (neondb_owner). */
  query(sql: string): Promise<unknown>;
  /** Runs SQL as the superuser (CREATE EXTENSION). */
  admin(sql: string): Promise<unknown>;
}

export interface BranchDatabases {
  /** Name of the real database of a branch (creating it when `create`). */
  ensure(branchId: string, database?: string): Promise<string>;
  /** Runs SQL in a branch's database as its owner (neondb_owner), like a user of the branch would. */
  query<R extends Record<string, any> = Record<string, any>>(
    branchId: string,
    sql: string,
    params?: unknown[],
  ): Promise<R[]>;
  /** Runs SQL in a branch's database as the superuser (CREATE EXTENSION, checks of other sessions). */
  admin<R extends Record<string, any> = Record<string, any>>(
    branchId: string,
    sql: string,
    params?: unknown[],
  ): Promise<R[]>;
  /** A plain-text schema dump of a branch's database (what the fake's schema endpoints return). */
  dump(branchId: string, database: string): Promise<string>;
  /**
   * Drops a branch's databases, so that the next use copies them from its parent again: what a reset
   * from the parent does to the data on Neon.
   */
  reset(branchId: string): Promise<void>;
}

/**
 * Wires `api.fake` to `getPg()`'s server for every test: connection URIs, databases per branch, and
 * their removal after the test.
 */
export function useBranchDatabases(
  api: { fake: NeonFake; use(...h: any[]): void },
  getPg: () => TestPostgres,
  /**
   * Runs in each root branch's database once it is made (child branches copy it): what
   * every branch of a test's world starts with. Made on first use, so tests that never reach SQL pay
   * nothing for it.
   */
  rootSetup?: (db: RootDatabase) => Promise<void>,
): BranchDatabases {
  const created = new Map<string, Promise<string>>();

  function ensure(branchId: string, database = 'neondb'): Promise<string> {
    const name = branchDatabase(branchId, database);
    let pending = created.get(name);
    if (!pending) {
      pending = create(branchId, database, name);
      created.set(name, pending);
    }
    return pending;
  }

  async function create(branchId: string, database: string, name: string): Promise<string> {
    const pg = getPg();
    const parentId = api.fake.branches.get(branchId)?.parent_id as string | undefined;
    if (parentId) {
      const template = await ensure(parentId, database);
      // A template must have no other sessions: end them (our pools notice and reconnect later).
      for (let attempt = 0; ; attempt++) {
        await pg.query(
          'postgres',
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
          [template],
        );
        try {
          await pg.query('postgres', `CREATE DATABASE ${name} TEMPLATE ${template} OWNER ${OWNER}`);
          break;
        } catch (e) {
          if ((e as { code?: string }).code !== '55006' || attempt > 50) throw e;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    } else {
      await pg.query('postgres', `CREATE DATABASE ${name} OWNER ${OWNER}`);
      await rootSetup?.({
        query: (sql) => pg.query(name, sql, [], OWNER),
        admin: (sql) => pg.query(name, sql),
      });
    }
    return name;
  }

  /** Ends every other session of `name` (our pools notice and reconnect later), then runs `sql`. */
  async function alone(name: string, sql: string): Promise<void> {
    const pg = getPg();
    for (let attempt = 0; ; attempt++) {
      await pg.query(
        'postgres',
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [name],
      );
      try {
        await pg.query('postgres', sql);
        return;
      } catch (e) {
        if ((e as { code?: string }).code !== '55006' || attempt > 50) throw e;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  /**
   * A restore on real data: the branch's databases move to the branch keeping its old state (renamed),
   * and it gets copies of the source's. From its own history (an LSN or a time), which PostgreSQL cannot
   * go back to, the data stays as it is: the fake does not pretend.
   */
  async function restore(q: { target: string; source: string; preserved?: string; pointInTime: boolean }) {
    for (const d of api.fake.databasesOf(q.target)) {
      const name = branchDatabase(q.target, d.name);
      if (!created.has(name)) continue;
      await created.get(name);
      if (q.source === q.target && q.pointInTime) {
        if (q.preserved) {
          const kept = branchDatabase(q.preserved, d.name);
          created.set(kept, Promise.resolve(kept));
          await alone(name, `CREATE DATABASE ${kept} TEMPLATE ${name} OWNER ${OWNER}`);
        }
        continue;
      }
      const source = await ensure(q.source, d.name);
      if (q.preserved) {
        const kept = branchDatabase(q.preserved, d.name);
        await alone(name, `ALTER DATABASE ${name} RENAME TO ${kept}`);
        created.set(kept, Promise.resolve(kept));
      } else {
        await alone(name, `DROP DATABASE ${name}`);
      }
      await alone(source, `CREATE DATABASE ${name} TEMPLATE ${source} OWNER ${OWNER}`);
    }
  }

  beforeEach(() => {
    // In a project without history, a parent whose data exists is copied when the branch is made: the
    // child holds that moment (the safety net's copy restore points). With history the copy stays lazy,
    // as before: copying ends the sessions on the parent's database.
    api.fake.onBranchCreated = async (b) => {
      if (!b.parent_id || api.fake.projects.get(b.project_id)?.history_retention_seconds !== 0) return;
      for (const d of api.fake.databasesOf(b.id))
        if (created.has(branchDatabase(b.parent_id, d.name))) await ensure(b.id, d.name);
    };
    api.fake.onRestore = restore;
    api.fake.schemaDump = async (branchId, database) => dumpSchema(getPg(), await ensure(branchId, database));
    api.fake.connectionUri = ({ branch_id, database, role }) =>
      getPg().uri(branchDatabase(branch_id, database), role === OWNER || role === READER ? role : SUPERUSER);
    // Runs before the fake's own connection_uri handler and falls through to it.
    api.use(
      http.get(`${BASE}/projects/:project_id/connection_uri`, async ({ request }) => {
        const q = new URL(request.url).searchParams;
        const branchId = q.get('branch_id');
        if (branchId && api.fake.branches.has(branchId))
          await ensure(branchId, q.get('database_name') ?? 'neondb');
        return undefined;
      }),
    );
  });

  afterEach(async () => {
    const pg = getPg();
    await Promise.allSettled([...created.values()]);
    for (const name of [...created.keys()].reverse()) {
      await pg.query('postgres', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    }
    created.clear();
  });

  return {
    ensure,
    async query(branchId, sql, params) {
      return getPg().query(await ensure(branchId), sql, params, OWNER);
    },
    async admin(branchId, sql, params) {
      return getPg().query(await ensure(branchId), sql, params);
    },
    async dump(branchId, database) {
      return dumpSchema(getPg(), await ensure(branchId, database));
    },
    async reset(branchId) {
      const prefix = branchDatabase(branchId, '');
      for (const [name, pending] of [...created]) {
        if (!name.startsWith(prefix)) continue;
        created.delete(name);
        await pending.catch(() => undefined);
        await getPg().query('postgres', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      }
    },
  };
}

/** A deterministic, pg_dump-like schema text (the one local mode answers with). */
export async function dumpSchema(pg: TestPostgres, database: string): Promise<string> {
  return dumpText((sql) => pg.query<{ ddl: string }>(database, sql));
}
