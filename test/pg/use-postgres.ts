/**
 * The real-PostgreSQL lifecycle of a test file, in one place: one server started before its tests
 * (with the test login roles, then the file's own `setup`), each fake branch given its own database
 * (useBranchDatabases), and, after the tests, every SQL pool of the server under test closed before
 * the PostgreSQL server stops (an open pool would hold it up).
 *
 *   const api = useMockApi();
 *   const { pg, dbs } = usePostgres(api, { preload: ['pg_stat_statements'] });
 *
 * `pg` stands for the server from the moment it is started: use it inside tests and hooks.
 */
import { afterAll, beforeAll } from 'vitest';
import { connections } from '../../src/sql/pools.js';
import type { NeonFake } from '../mock/neon-fake.js';
import { type BranchDatabases, createRoles, type RootDatabase, useBranchDatabases } from './branches.js';
import { type StartOptions, startPostgres, type TestPostgres } from './server.js';

export interface UsePostgresOptions extends StartOptions {
  /** Runs once after the roles exist (extra roles, grants), before the first test. */
  setup?: (pg: TestPostgres) => Promise<void>;
  /**
   * Runs in each root branch's database when it is first used (as its owner through `query`, as the
   * superuser through `admin`); child branches copy it. For a table or an extension every test's branch starts with, without making
   * the database in tests that never reach SQL.
   */
  rootSetup?: (db: RootDatabase) => Promise<void>;
}

/** Starting PostgreSQL (initdb) takes a while on a busy machine. */
const START_TIMEOUT_MS = 90_000;

export function usePostgres(
  api: { fake: NeonFake; use(...h: any[]): void },
  options: UsePostgresOptions = {},
): { pg: TestPostgres; dbs: BranchDatabases } {
  const { setup, rootSetup, ...start } = options;
  let server: TestPostgres | undefined;
  const running = (): TestPostgres => {
    if (!server) throw new Error('The test PostgreSQL is not started yet: use it inside a test or a hook.');
    return server;
  };
  beforeAll(async () => {
    server = await startPostgres(start);
    await createRoles(server);
    await setup?.(server);
  }, START_TIMEOUT_MS);
  afterAll(async () => {
    await connections.closeAll();
    await server?.stop();
  });
  // Hands on every call to the running server, so that files can hold `pg` in a const at the top.
  const pg: TestPostgres = {
    get port() {
      return running().port;
    },
    get tls() {
      return running().tls;
    },
    uri: (database, role) => running().uri(database, role),
    query: (database, sql, params, role) => running().query(database, sql, params, role),
    stop: () => running().stop(),
  };
  return { pg, dbs: useBranchDatabases(api, () => running(), rootSetup) };
}
