// `npm run test:telephony`: the telephony suites only. They need SIPp (and rtpengine for media),
// not the database or Temporal, so the project-wide global setup is left out, and the few
// telephony tests that do need the database (`*.db.test.ts`) run under `npm test` only.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['telephony/**/*.test.ts'],
    exclude: ['telephony/**/*.db.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
