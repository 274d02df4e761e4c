/**
 * The everyday tasks (test/scenarios.ts) against the stateful Neon fake, with a real PostgreSQL behind
 * the connection URIs it hands out: each branch has its own database, a child starts as a copy of its
 * parent's, and a reset from the parent copies it again, as on Neon.
 */
import { http } from 'msw';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { connections } from '../src/sql/pools.js';
import { BASE, connect, useMockApi } from './helpers.js';
import { createRoles, OWNER, useBranchDatabases } from './pg/branches.js';
import { startPostgres, type TestPostgres } from './pg/server.js';
import { everydayScenarios } from './scenarios.js';

const api = useMockApi();
let server: TestPostgres;
const dbs = useBranchDatabases(api, () => server);

beforeAll(async () => {
  server = await startPostgres();
  await createRoles(server);
  // As on Neon: the owner is a neon_superuser member and may create roles (create_role's limited roles).
  await server.query('postgres', `ALTER ROLE ${OWNER} CREATEROLE`);
  await server.query('postgres', 'CREATE ROLE neon_superuser NOLOGIN');
  await server.query('postgres', `GRANT neon_superuser TO ${OWNER}`);
}, 90_000);
afterAll(async () => {
  await connections.closeAll();
  await server?.stop();
});

beforeEach(() => {
  // A restore from the parent (reset_branch_from_parent) replaces the branch's data with its parent's;
  // the fake's own handler then answers.
  api.use(
    http.post(`${BASE}/projects/:project_id/branches/:branch_id/restore`, async ({ params }) => {
      await dbs.reset(String(params.branch_id));
      return undefined;
    }),
  );
});

everydayScenarios('Neon fake + PostgreSQL', {
  async project(name) {
    return api.fake.seedProject(name).project.id as string;
  },
  async connect(options = {}) {
    const conn = await connect({ readOnly: options.readOnly });
    return { mcp: conn.mcp, close: () => conn.close() };
  },
});
