import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that take longest (docs/TESTING.md, "How long"), slowest first: started first, they run
 * beside the many short files instead of after them, where the run would wait on one of them alone.
 * A file missing from this list only starts in vitest's own order (durations of the last run on this
 * machine, or the largest file first on a fresh clone).
 */
const SLOW_FIRST = [
  'package.test.ts',
  'faults.test.ts',
  'operations-claims.test.ts',
  'schema.test.ts',
  'sql.test.ts',
  'local.test.ts',
  'http-lb.test.ts',
  'sql-catalog.test.ts',
  'sql-session.test.ts',
  'transport.test.ts',
  'stdio.test.ts',
];

class SlowFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => {
      const i = SLOW_FIRST.findIndex((name) => f.moduleId.endsWith(`/test/${name}`));
      return i < 0 ? SLOW_FIRST.length : i;
    };
    const sorted = await super.sort(files);
    return sorted
      .map((spec, i) => ({ spec, i }))
      .sort((a, b) => rank(a.spec) - rank(b.spec) || a.i - b.i)
      .map(({ spec }) => spec);
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One build directory per run, built at most once (test/setup/global.ts, test/built-server.ts).
    globalSetup: ['test/setup/global.ts'],
    // vitest's default is one worker per core but one (a single worker on two cores), but most files
    // spend much of their time waiting on PostgreSQL, a child process or a timer: with 1.5 workers per
    // core the run keeps both cores busy (docs/TESTING.md, "How long"). VITEST_MAX_WORKERS overrides.
    maxWorkers: Math.max(2, Math.ceil(availableParallelism() * 1.5)),
    sequence: { sequencer: SlowFirst },
    testTimeout: 20_000,
    hookTimeout: 120_000,
  },
});
