import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // leaks.ts first: its teardown, which checks that nothing the run started is left, runs last.
    globalSetup: [
      'tests/setup/leaks.ts',
      'tests/setup/mariadb.ts',
      'tests/setup/cosmos.ts',
      'tests/setup/redis.ts',
    ],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
