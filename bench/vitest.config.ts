import { defineConfig } from 'vitest/config';

/** Measurements that need a real PostgreSQL (see bench/sql-pooling.measure.ts); not part of npm test. */
export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['bench/**/*.measure.ts'],
    testTimeout: 600_000,
    hookTimeout: 120_000,
  },
});
