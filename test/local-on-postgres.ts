/**
 * Local mode on a PostgreSQL of the test file's own, started as the command line starts it (the
 * server's SQL pools to a branch are closed before the branch is copied), with every request and answer
 * of its API checked against Neon's OpenAPI description after each test. Call once, at the top of a
 * test file: it registers the file's hooks.
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { NeonClient } from '../src/client/neon-client.js';
import { type LocalMode, startLocal } from '../src/local/index.js';
import { connections } from '../src/sql/pools.js';
import { validatingFetch } from './mock/spec.js';
import { startPostgres, type TestPostgres } from './pg/server.js';

export function useLocalOnPostgres() {
  let server: TestPostgres | undefined;
  let local: LocalMode | undefined;
  const problems: string[] = [];
  const fetch = validatingFetch(problems);

  beforeAll(async () => {
    server = await startPostgres();
    local = await startLocal({
      postgresUrl: server.uri('postgres'),
      beforeCopy: (branchId) => connections.closeTagged(branchId),
    });
  }, 90_000);

  afterAll(async () => {
    await connections.closeAll();
    await local?.stop();
    await server?.stop();
  });

  afterEach(() => {
    expect(problems.splice(0), 'requests and answers of the local API against the spec').toEqual([]);
  });

  const api = () =>
    new NeonClient({ apiKey: started().local.apiKey, baseUrl: started().local.baseUrl, fetch });
  const started = () => {
    if (!server || !local) throw new Error('local mode is not started yet (use it inside tests)');
    return { server, local };
  };
  return {
    get server(): TestPostgres {
      return started().server;
    },
    get local(): LocalMode {
      return started().local;
    },
    /** The fetch that checks every request and answer of the local API. */
    fetch,
    /** A client of the local API, every request and answer checked. */
    api,
    /** Runs SQL on a branch's database as its owner, straight in PostgreSQL. */
    async sql<R = Record<string, unknown>>(
      project_id: string,
      branch_id: string,
      text: string,
      database_name = 'neondb',
    ): Promise<R[]> {
      const { uri } = await api().get('/projects/{project_id}/connection_uri', {
        path: { project_id },
        query: { branch_id, database_name, role_name: 'neondb_owner' },
      });
      const c = new pg.Client({ connectionString: uri });
      await c.connect();
      try {
        return (await c.query(text)).rows as R[];
      } finally {
        await c.end();
      }
    },
  };
}
