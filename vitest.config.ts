import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'packages/*/test/**/*.test.ts',
      'services/*/test/**/*.test.ts',
      'deploy/test/**/*.test.ts',
      'loadtest/test/**/*.test.ts',
    ],
    globalSetup: ['packages/kit/src/test-setup.ts', 'services/web/test/build-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: more workers only add contention for the databases.
    maxWorkers: 2,
  },
});
