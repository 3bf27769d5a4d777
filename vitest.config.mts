import { defineConfig } from 'vitest/config';

/**
 * Tests that measure timing against the providers' rate windows (the shared governor's "never over
 * a window, at least 95% of it", the 5-a-minute Iterable bucket): they run after every other test
 * file has finished, one file at a time, so that the rest of the suite does not stall their
 * process between a grant and its request.
 */
const TIMING = ['test/integration/providers/governor.test.ts', 'test/integration/providers/iterable.test.ts'];

export default defineConfig({
  test: {
    globalSetup: ['test/setup/azurite.global.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 20_000,
    projects: [
      { extends: true, test: { name: 'suite', include: ['test/**/*.test.ts'], exclude: TIMING, sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'timing', include: TIMING, fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
});
