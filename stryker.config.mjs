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

/** @type {Record<string, { mutate: string[]; testFiles: string[] }>} */
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
  // The client and the waits built on it (operation waits and the polling schedule moved to src/neon/).
  client: {
    mutate: [
      'src/client/**/*.ts',
      '!src/client/neon-api.gen.ts',
      'src/neon/operations.ts',
      'src/neon/poll.ts',
    ],
    testFiles: [
      'test/client.test.ts',
      'test/faults.test.ts',
      'test/concurrency.test.ts',
      'test/operations.test.ts',
    ],
  },
  server: {
    mutate: ['src/server.ts'],
    testFiles: [
      'test/server.test.ts',
      'test/registry.test.ts',
      'test/security.test.ts',
      'test/faults.test.ts',
    ],
  },
  cli: {
    mutate: ['src/cli.ts'],
    testFiles: ['test/cli.test.ts'],
  },
  sql: {
    mutate: ['src/sql/**/*.ts'],
    testFiles: [
      'test/sql.test.ts',
      'test/sql-caps.test.ts',
      'test/schema.test.ts',
      'test/connection.test.ts',
    ],
  },
  // The domain layer; its waits are measured with the client.
  neon: {
    mutate: ['src/neon/**/*.ts', '!src/neon/operations.ts', '!src/neon/poll.ts'],
    testFiles: ['test/*.test.ts', '!test/stdio.test.ts', '!test/concurrency.test.ts'],
  },
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
  ignorePatterns: ['dist', 'bench', 'docs', '.bench-cache', 'reports', 'coverage', '.pg-test-data'],
};
