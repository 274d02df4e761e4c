/**
 * The everyday tasks (test/scenarios.ts) against local mode, end to end and without the Neon fake: a
 * real MCP client → the server → the local API (src/local, started in-process on a loopback port, as
 * `neon-mcp --local` does) → a real PostgreSQL (one per file). Every request the client sends and every
 * answer the local API gives is checked against Neon's OpenAPI description, as the fake's are.
 */
import { connect } from './helpers.js';
import { useLocalOnPostgres } from './local-on-postgres.js';
import { everydayScenarios } from './scenarios.js';

const harness = useLocalOnPostgres();

everydayScenarios('local mode + PostgreSQL', {
  // One cluster for every branch: a role logs in as its name and the branch's tag (physicalName).
  loginOf: (role) => new RegExp(`^${role}__[0-9a-f]{8}$`),
  // Snapshots need Neon's storage history, which local mode does not have.
  notServed: { snapshots: /not available in local mode \(neon-mcp --local\)/ },
  async project(name) {
    const made = await harness.api().post('/projects', { body: { project: { name } } });
    return made.project.id;
  },
  async connect(options = {}) {
    const conn = await connect({
      readOnly: options.readOnly,
      apiKey: harness.local.apiKey,
      clientOptions: { baseUrl: harness.local.baseUrl, fetch: harness.fetch },
    });
    return { mcp: conn.mcp, close: () => conn.close() };
  },
});
