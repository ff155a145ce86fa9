import { defineConfig } from 'vitest/config';

/**
 * Test files that start child processes (servers, ffmpeg, Chromium, the CLI, workers) or run a
 * heavy one (redocly, a Node script): they run one at a time, after the in-process files, with
 * timeouts for processes that boot on a loaded machine. A new file that spawns one belongs here
 * (packages/kit/test/vitest-projects.test.ts fails until it is).
 * One-shot `kubectl kustomize` renders stay in the parallel project: they take well under a second.
 */
export const processFiles = [
  'packages/cli/test/redis-wiring.test.ts',
  'packages/cli/test/serve.test.ts',
  'packages/cli/test/silence.test.ts',
  'packages/cli/test/workers.test.ts',
  'packages/kit/test/events/relay.test.ts',
  'services/bff/test/contract.test.ts',
  'services/bff/test/faults/faults.test.ts',
  'services/bff/test/fuzz.test.ts',
  'services/bff/test/sockets.test.ts',
  'services/chat/test/multi-instance.test.ts',
  'services/ingest/test/bad-input.test.ts',
  'services/ingest/test/e2e.test.ts',
  'services/ingest/test/restart.test.ts',
  'services/point/test/crash.test.ts',
  'services/web/test/e2e.test.ts',
  'services/web/test/latency.test.ts',
  'services/ingest/test/crash.test.ts',
  'services/ingest/test/passthrough.test.ts',
  'deploy/test/database-outage.test.ts',
  'deploy/test/image.test.ts',
  'deploy/test/serve-thumbnail.test.ts',
  'deploy/test/serve.test.ts',
  'loadtest/test/e2e.test.ts',
];

export default defineConfig({
  test: {
    globalSetup: ['packages/kit/src/test-setup.ts', 'services/web/test/build-setup.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'in-process',
          include: [
            'packages/*/test/**/*.test.ts',
            'services/*/test/**/*.test.ts',
            'deploy/test/**/*.test.ts',
            'loadtest/test/**/*.test.ts',
          ],
          exclude: processFiles,
          // Two full runs and other work share two cores: property tests over HTTP took 30 s. Inner waits ≤ 20 s.
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Two cores: more workers only add contention for the databases.
          maxWorkers: 2,
        },
      },
      {
        extends: true,
        test: {
          name: 'processes',
          include: processFiles,
          // One file at a time, after the in-process ones: a booting process never competes with a parallel file.
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
          // Inner waits (readiness, frames, segments) stay below these, so a slow boot fails with its own message.
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
