// @ts-check
/**
 * Mutation testing (StrykerJS 9, vitest runner): `npm run mutation [module…]`, see docs/TESTING.md.
 *
 * The guarded modules are measured one at a time, each against the test files that are about it:
 * nearly every test goes through the registry and the client, so with the whole suite a single
 * surviving mutant would cost minutes on two cores. scripts/mutation.mjs picks the module through
 * STRYKER_MODULE; each module keeps its own incremental file (committed), so a rerun, also on a fresh
 * clone, only tests mutants in code or tests that changed since it was written.
 */

/**
 * The measured parts. A large module (the SQL layer, the domain layer) is measured in parts, each
 * against the test files about it, with its own incremental file: a part takes minutes rather than
 * hours, and a run stopped half-way loses one part, not the module. `GROUPS` names the modules.
 * @type {Record<string, { mutate: string[]; testFiles: string[] }>}
 */
export const MODULES = {
  log: {
    mutate: ['src/log.ts'],
    testFiles: ['test/log.test.ts', 'test/security.test.ts'],
  },
  registry: {
    mutate: ['src/tools/registry.ts', 'src/tools/json-schema.ts'],
    testFiles: [
      'test/json-schema.test.ts',
      'test/registry.test.ts',
      'test/security.test.ts',
      'test/schemas.test.ts',
    ],
  },
  // The limiter and the waits built on the client (operation waits and the polling schedule are in src/neon/).
  'client-waits': {
    mutate: ['src/client/rate-limiter.ts', 'src/neon/operations.ts', 'src/neon/poll.ts'],
    testFiles: ['test/client.test.ts', 'test/operations.test.ts'],
  },
  // Requests, retries, pagination and the typed errors.
  'client-requests': {
    mutate: ['src/client/**/*.ts', '!src/client/neon-api.gen.ts', '!src/client/rate-limiter.ts'],
    // Not the fault matrix: it runs every core tool under every fault, and each surviving mutant would
    // cost the whole matrix (minutes); client.test.ts holds the client's own contract.
    testFiles: ['test/client.test.ts', 'test/client-requests.test.ts', 'test/logging.test.ts'],
  },
  // The one place where a thrown error becomes an isError result, and the redaction of every answer.
  server: {
    mutate: ['src/server.ts'],
    testFiles: [
      'test/server.test.ts',
      'test/registry.test.ts',
      'test/security.test.ts',
      'test/schemas.test.ts',
      'test/logging.test.ts',
      'test/toolsets.test.ts',
      'test/confirm.test.ts',
      'test/resources.test.ts',
      'test/completions.test.ts',
      'test/http-tenants.test.ts',
    ],
  },
  // The configuration (a pure function), the command that dispatches it, and the modes it starts.
  cli: {
    mutate: ['src/config.ts', 'src/cli.ts', 'src/modes/**/*.ts'],
    testFiles: ['test/config.test.ts', 'test/cli.test.ts'],
  },
  // The read-only guard, the reader role behind it (the privilege wall) and the untrusted-data fences.
  'sql-guard': {
    mutate: ['src/sql/guard.ts', 'src/sql/readonly-role.ts', 'src/sql/statements.ts', 'src/sql/untrusted.ts'],
    testFiles: [
      'test/statements.test.ts',
      'test/sql-guard.test.ts',
      'test/sql-attacks.test.ts',
      'test/sql.test.ts',
      // The walls against a server set up like Neon's: the reader role made, found unfit, or missing.
      'test/sql-walls.test.ts',
      // readerWall inside each test with a memory of its own, so per-test mutant switching reaches setUp.
      'test/readonly-role.test.ts',
      // checkCatalog inside each test, on functions and operators made with each mark PostgreSQL keeps.
      'test/guard-catalog.test.ts',
      // Answers without untrusted data also go through the fences' text (untrusted.ts).
      'test/server.test.ts',
    ],
  },
  // Sessions, transactions, caps and connections.
  'sql-session': {
    mutate: ['src/sql/session.ts', 'src/sql/run.ts', 'src/sql/pools.ts', 'src/sql/driver.ts'],
    testFiles: [
      'test/sql-session.test.ts',
      'test/sql.test.ts',
      'test/sql-caps.test.ts',
      'test/sql-limits.test.ts',
      'test/sql-attacks.test.ts',
      'test/connection.test.ts',
    ],
  },
  // The errors Postgres sends, as agent-facing messages with what to do.
  'sql-errors': {
    mutate: ['src/sql/errors.ts'],
    testFiles: ['test/sql-errors.test.ts', 'test/sql.test.ts'],
  },
  // The protocol runner: one statement per round trip, the row cutter.
  'sql-protocol': {
    mutate: ['src/sql/protocol.ts', 'src/sql/row-cutter.ts'],
    testFiles: [
      'test/sql-protocol.test.ts',
      'test/sql-protocol-runner.test.ts',
      'test/row-cutter.test.ts',
      'test/sql-limits.test.ts',
    ],
  },
  // The catalog (schema, DDL), query plans and role grants.
  'sql-catalog': {
    mutate: ['src/sql/catalog.ts', 'src/sql/ddl.ts', 'src/sql/plan.ts', 'src/sql/limited-roles.ts'],
    testFiles: [
      'test/sql-catalog.test.ts',
      'test/schema.test.ts',
      'test/roles.test.ts',
      'test/database-url.test.ts',
    ],
  },
  // Resolving a connection (default branch, database, role) and roles' passwords and grants.
  'neon-connection': {
    mutate: ['src/neon/resolver.ts', 'src/neon/role-access.ts'],
    testFiles: [
      'test/neon-resolver.test.ts',
      'test/connection.test.ts',
      'test/roles.test.ts',
      'test/databases.test.ts',
      'test/database-url.test.ts',
      // Roles made with SQL (role-access.ts's second half): found, connected as, reset and deleted in
      // local mode, and under --read-only.
      'test/local-roles.test.ts',
    ],
  },
  // The safety net's reads as of a moment and its restore points out of listings (the ledger itself and
  // sql/data-diff.ts run too long per mutant on two cores for now: docs/TESTING.md).
  'neon-safety': {
    mutate: ['src/neon/as-of.ts', 'src/neon/restore-points.ts'],
    testFiles: ['test/safety.test.ts', 'test/resources-surface.test.ts', 'test/database-url.test.ts'],
  },
  // Temporary branches of migrations and tunings, and their stateless handles.
  'neon-migrations': {
    mutate: ['src/neon/temp-branches.ts', 'src/neon/pending.ts', 'src/neon/schema.ts'],
    testFiles: [
      'test/pending.test.ts',
      'test/neon-migrations.test.ts',
      'test/schema.test.ts',
      'test/sql-attacks.test.ts',
    ],
  },
  // Names for IDs, the default branch, response shapes, status polling, features, resources.
  'neon-refs': {
    mutate: [
      'src/neon/refs.ts',
      'src/neon/context.ts',
      'src/neon/util.ts',
      'src/neon/resources.ts',
      'src/neon/shape.ts',
      'src/neon/status.ts',
      'src/neon/features.ts',
    ],
    testFiles: [
      'test/refs.test.ts',
      'test/neon-refs.test.ts',
      'test/faults.test.ts',
      'test/resources.test.ts',
      'test/storage.test.ts',
      'test/branch-features.test.ts',
      'test/snapshots.test.ts',
      'test/auth.test.ts',
      'test/branches.test.ts',
    ],
  },
  'neon-docs': {
    mutate: ['src/neon/docs-site.ts'],
    testFiles: ['test/neon-docs.test.ts'],
  },
  // --http: per-caller state (tenants, the cap), narrowing, the body's bounds, whose credentials. In
  // process against the loopback fake; not http.test.ts nor http-lb.test.ts, which run the built
  // command (a mutant in src/ would not reach them without a build per mutant).
  http: {
    mutate: ['src/http/**/*.ts'],
    testFiles: [
      'test/http-tenants.test.ts',
      'test/http-limits.test.ts',
      'test/http-narrow.test.ts',
      // What serve.ts and auth.ts answer before the SDK, the timeout and the drain, in process.
      'test/http-serve.test.ts',
      // An unexpected failure inside a request: 500 and one log line.
      'test/http-serve-errors.test.ts',
    ],
  },
  // What the server offers besides tools: resources, prompts, completions (and whose cache they use).
  'mcp-surface': {
    mutate: ['src/mcp/surface.ts', 'src/mcp/completions.ts', 'src/mcp/resources.ts', 'src/mcp/prompts.ts'],
    testFiles: [
      'test/completions.test.ts',
      'test/resources.test.ts',
      'test/prompts.test.ts',
      'test/http-tenants.test.ts',
      // resources/list's pages, one listed project, the docs resources, a project's layout.
      'test/resources-surface.test.ts',
      // The prompts' words, pinned in test/__promptsnaps__/prompts.md.
      'test/prompts-text.test.ts',
      // The completer against a recording client: the cache's lifetime, failed loads, default branch.
      'test/completions-cache.test.ts',
    ],
  },
  // Confirmation of destructive tools, toolsets enabled at run time, logging to the client.
  'mcp-tools': {
    mutate: ['src/mcp/confirm.ts', 'src/mcp/toolsets.ts', 'src/mcp/logging.ts'],
    testFiles: [
      'test/confirm.test.ts',
      'test/toolsets.test.ts',
      'test/logging.test.ts',
      // runtimeToolsets and eventSink on their own: what a client's view of them leaves open.
      'test/toolsets-runtime.test.ts',
      'test/logging-sink.test.ts',
    ],
  },
  // Local mode's walls: where its PostgreSQL and its API listen (loopback only), the API's key check,
  // the superuser's password and role passwords (scram.ts, where present), the reader role of read-only
  // calls that branch roles may become and nothing more. The line ranges: api/http.ts's server and key check
  // (serveLocalApi, sameKey, and answer up to its key check); cluster.ts's ensureReader, grantReader
  // and createRole. Move them with that code when it moves.
  'local-guard': {
    mutate: [
      'src/local/index.ts',
      'src/local/scram.ts',
      'src/local/api/http.ts:45-80',
      'src/local/cluster.ts:120-182',
    ],
    testFiles: [
      'test/local-bind.test.ts',
      'test/local-admin.test.ts',
      'test/local-postgres-lock.test.ts',
      // scramVerifier called in each test's body (the other files reach it only from beforeAll).
      'test/local-scram.test.ts',
      'test/local-api.test.ts',
      'test/local.test.ts',
      'test/local-isolation.test.ts',
      'test/local-start.test.ts',
      'test/local-readonly.test.ts',
      // ensureReader / createRole inside each test on a Cluster of its own (fresh roles).
      'test/local-cluster-reader.test.ts',
    ],
  },
};

/** The modules of docs/TESTING.md, by the parts they are measured in. */
export const GROUPS = {
  client: ['client-waits', 'client-requests'],
  sql: ['sql-guard', 'sql-session', 'sql-errors', 'sql-protocol', 'sql-catalog'],
  neon: ['neon-connection', 'neon-migrations', 'neon-refs', 'neon-docs', 'neon-safety'],
  mcp: ['mcp-surface', 'mcp-tools'],
};

const name = process.env.STRYKER_MODULE ?? 'log';
const module = MODULES[name];
if (!module) throw new Error(`Unknown STRYKER_MODULE "${name}". Known: ${Object.keys(MODULES).join(', ')}.`);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  // The vitest runner supports only perTest; said here so that nobody wonders.
  coverageAnalysis: 'perTest',
  mutate: module.mutate,
  testFiles: module.testFiles,
  incremental: true,
  // Static mutants (module-level constants) are evaluated once, when vitest first imports the module;
  // the vitest runner reports them survived although the tests kill them (applied by hand, see
  // docs/TESTING.md), and each one would run every test file of the part. Left out of the score.
  ignoreStatic: true,
  incrementalFile: `reports/mutation/${name}.incremental.json`,
  // Two cores shared with other work: one worker, and generous timeouts for a busy machine.
  concurrency: Number(process.env.STRYKER_CONCURRENCY ?? 1),
  timeoutMS: 20_000,
  timeoutFactor: 2,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: `reports/mutation/${name}.html` },
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  clearTextReporter: { allowColor: false, logTests: false, reportMutants: true, reportScoreTable: true },
  thresholds: { high: 90, low: 80, break: null },
  // One sandbox directory per module, so that two modules can be measured at the same time.
  tempDirName: `.stryker-tmp/${name}`,
  // The sandbox needs the tests, the fakes, the spec and the sources; not benchmarks, docs or builds.
  // Other parts' sandboxes too: a part measured at the same time would be copied half-written.
  ignorePatterns: [
    'dist',
    'bench',
    'docs',
    '.bench-cache',
    'reports',
    'coverage',
    '.pg-test-data',
    '.stryker-tmp',
  ],
};
