import { defineConfig } from 'vitest/config';

// `npx vitest run --config loadtest/vitest.config.ts`: the load test's own tests (not part of `npm test`).
export default defineConfig({
  test: {
    include: ['loadtest/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
  },
});
