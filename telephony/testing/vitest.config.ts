// `npm run test:telephony`: the telephony suites only. They need SIPp (and rtpengine for media),
// not the database or Temporal, so the project-wide global setup is left out.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['telephony/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
