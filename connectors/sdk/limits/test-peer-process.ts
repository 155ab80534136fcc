// A second worker process for the Redis-sharing tests: runs `jobs` jobs
// through a limiter on the same key and prints when each started, as one JSON
// line (a first line `{"started":true}` as soon as the first job starts).
// Started by limiter.redis.test.ts with `node --import tsx`.
import { createRequestLimiter } from './limiter.js';
import { collectingLogger } from './test-support.js';
import type { DeclaredLimits } from './types.js';

interface PeerOrder {
  key: string;
  redisUrl: string;
  limits: DeclaredLimits;
  jobs: number;
  /** Epoch ms to start scheduling at, so both processes run at the same time. */
  startAt: number;
  /** How long each job takes. */
  jobMs?: number;
  jobTimeoutMs?: number;
}

const order = JSON.parse(process.argv[2] ?? '{}') as PeerOrder;
const { logger, lines } = collectingLogger();
const limiter = createRequestLimiter({
  key: order.key,
  limits: order.limits,
  redisUrl: order.redisUrl,
  logger,
  ...(order.jobTimeoutMs ? { jobTimeoutMs: order.jobTimeoutMs } : {}),
});
const starts: number[] = [];
await new Promise((resolve) => setTimeout(resolve, Math.max(0, order.startAt - Date.now())));
await Promise.all(
  Array.from({ length: order.jobs }, () =>
    limiter.schedule(async () => {
      if (starts.length === 0) process.stdout.write(`${JSON.stringify({ started: true })}\n`);
      starts.push(Date.now());
      if (order.jobMs) await new Promise((resolve) => setTimeout(resolve, order.jobMs));
    }),
  ),
);
const shared = limiter.snapshot().shared;
await limiter.close();
process.stdout.write(`${JSON.stringify({ starts, shared, warnings: lines.filter((line) => line.level === 'warn') })}\n`);
