import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One build directory per run, built at most once (test/setup/global.ts, test/built-server.ts).
    globalSetup: ['test/setup/global.ts'],
    testTimeout: 20_000,
    hookTimeout: 120_000,
  },
});
