/**
 * The everyday tasks (test/scenarios.ts) against local mode, end to end and without the Neon fake: a
 * real MCP client → the server → the local API (src/local, started in-process on a loopback port, as
 * `neon-mcp --local` does) → a real PostgreSQL (one per file). Every request the client sends and every
 * answer the local API gives is checked against Neon's OpenAPI description, as the fake's are.
 */
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { NeonClient } from '../src/client/neon-client.js';
import { type LocalMode, startLocal } from '../src/local/index.js';
import { connections } from '../src/sql/pools.js';
import { connect } from './helpers.js';
import { validatingFetch } from './mock/spec.js';
import { startPostgres, type TestPostgres } from './pg/server.js';
import { everydayScenarios } from './scenarios.js';

let server: TestPostgres;
let local: LocalMode;
const problems: string[] = [];

const validating = validatingFetch(problems);

beforeAll(async () => {
  server = await startPostgres();
  // As the command line starts it: the server's SQL pools to a branch are closed before it is copied.
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

everydayScenarios('local mode + PostgreSQL', {
  // One cluster for every branch: a role logs in as its name and the branch's tag (physicalName).
  loginOf: (role) => new RegExp(`^${role}__[0-9a-f]{8}$`),
  // Snapshots need Neon's storage history, which local mode does not have.
  notServed: { snapshots: /not available in local mode \(neon-mcp --local\)/ },
  async project(name) {
    const api = new NeonClient({ apiKey: local.apiKey, baseUrl: local.baseUrl, fetch: validating });
    const made = await api.post('/projects', { body: { project: { name } } });
    return made.project.id;
  },
  async connect(options = {}) {
    const conn = await connect({
      readOnly: options.readOnly,
      apiKey: local.apiKey,
      clientOptions: { baseUrl: local.baseUrl, fetch: validating },
    });
    return { mcp: conn.mcp, close: () => conn.close() };
  },
});
