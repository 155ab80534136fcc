// Limits shared through a real Redis: by two limiters on one key, by another
// process, and through Redis losing its data, dropping connections or
// restarting. Each test uses its own key and deletes what it left in Redis;
// the restart test runs its own private redis-server.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { findFreePort } from '../../../embedded/ports.js';
import { startEmbeddedRedis } from '../../../embedded/redis.js';
import { createRequestLimiter } from './limiter.js';
import { collectingLogger, maxInWindow, startedRate } from './test-support.js';
import type { LimiterOptions, RequestLimiter } from './types.js';

// The test setup's Redis (REDIS_URL, else a private redis-server).
const redisUrl = inject('redisUrl');
let admin: Redis;
const open: RequestLimiter[] = [];
const usedKeys: string[] = [];

beforeAll(() => {
  admin = new Redis(redisUrl);
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((each) => each.close()));
  for (const key of usedKeys.splice(0)) await deleteKeysOf(key);
});

afterAll(async () => {
  await admin.quit();
});

function uniqueKey(): string {
  const key = `test-${randomUUID()}`;
  usedKeys.push(key);
  return key;
}

function sharedLimiter(options: Omit<LimiterOptions, 'redisUrl' | 'logger'>, url = redisUrl) {
  const log = collectingLogger();
  const limiter = createRequestLimiter({ ...options, redisUrl: url, logger: log.logger });
  open.push(limiter);
  return { limiter, log };
}

/** Everything the limiter keeps for `key` (as FLUSHALL would, without touching other suites' data). */
async function deleteKeysOf(key: string): Promise<number> {
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `*${key}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await admin.del(...keys);
  } while (cursor !== '0');
  return deleted;
}

/** CLIENT KILL for the connections of one limiter key (TYPE normal would cut other suites too). */
async function killConnectionsOf(key: string): Promise<number> {
  const list = (await admin.call('CLIENT', 'LIST')) as string;
  const ids = list
    .split('\n')
    .filter((line) => line.includes(`name=limiter:${key}`))
    .map((line) => /\bid=(\d+)/.exec(line)?.[1])
    .filter((id): id is string => id !== undefined);
  for (const id of ids) await admin.call('CLIENT', 'KILL', 'ID', id);
  return ids.length;
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Starts slack for a stalled event loop. Redis hands out slots by its own clock, but a job starts
 * (and would send its request) only when this process's event loop gets to it: a stall of L ms on a
 * loaded machine delivers the slots granted meanwhile together, up to L / (window / count) more in
 * one sliding window than the rate. The slack is measured, not assumed: with no stall it is 0.
 */
function watchEventLoop() {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  const worstStallMs = (): number => {
    histogram.disable();
    return histogram.max / 1e6;
  };
  return {
    extraStarts(limits: { count: number; windowMs: number }): number {
      return Math.floor(worstStallMs() / (limits.windowMs / limits.count));
    },
    /**
     * The sliding window to count a job's own clock readings in: a stall between the limiter's
     * start and the job reading the clock makes one start look up to the stall later, so two
     * starts a window apart by the limiter's clock can read as closer. Shortened by the worst stall.
     */
    countedWindowMs(windowMs: number): number {
      return windowMs - Math.ceil(worstStallMs());
    },
  };
}

function startPeerProcess(order: object) {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./test-peer-process.ts', import.meta.url)), JSON.stringify(order)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { child, exited, output: () => output };
}

function runJobs(limiter: RequestLimiter, count: number, starts: number[]): Promise<void[]> {
  return Promise.all(Array.from({ length: count }, () => limiter.schedule(async () => void starts.push(Date.now()))));
}

describe('limits shared through Redis', () => {
  it('two limiters on one key share one declared bucket: it goes at once once, not once each', async () => {
    const key = uniqueKey();
    const limits = { requests: { count: 10, windowMs: 1000 }, burst: 20 };
    const a = sharedLimiter({ key, limits });
    const b = sharedLimiter({ key, limits });
    const starts: number[] = [];
    const loop = watchEventLoop();
    await Promise.all([runJobs(a.limiter, 15, starts), runJobs(b.limiter, 15, starts)]);
    const slack = loop.extraStarts(limits.requests);

    expect(a.limiter.snapshot().shared).toBe(true);
    // From the first start (connecting to Redis is not part of the bucket's behaviour).
    const first = Math.min(...starts);
    const offsets = starts.map((at) => at - first);
    // 19 (the bucket, a request under the declaration) between them at once, the other 11
    // as it refills (a request every 100 ms, noticed on bottleneck's 250 ms heartbeat).
    const early = offsets.filter((at) => at < 300 + slack * 100).length;
    expect(early).toBeGreaterThanOrEqual(19);
    expect(early).toBeLessThanOrEqual(22 + slack);
    expect(Math.max(...offsets)).toBeGreaterThanOrEqual(1000 - slack * 100);
    expect(Math.max(...offsets)).toBeLessThan(2000 + slack * 100);
  });

  it('two limiters on one key share one declared rate', async () => {
    const key = uniqueKey();
    const limits = { requests: { count: 20, windowMs: 1000 } };
    const a = sharedLimiter({ key, limits });
    const b = sharedLimiter({ key, limits });
    const starts: number[] = [];
    const loop = watchEventLoop();
    await Promise.all([runJobs(a.limiter, 40, starts), runJobs(b.limiter, 40, starts)]);
    const slack = loop.extraStarts(limits.requests);

    expect(a.limiter.snapshot().shared).toBe(true);
    expect(b.limiter.snapshot().shared).toBe(true);
    // Shared pacing hands out start slots through Redis; on a loaded machine the
    // delivery of two slots can bunch, putting 21 starts in one sliding second, more
    // after a stalled event loop (slack). CRMs with a burst allowance absorb that; a
    // strict sliding-log CRM would answer one 429, which the limiter honours. Known
    // gap, noted in the README.
    expect(maxInWindow(starts, 1000)).toBeLessThanOrEqual(21 + slack);
    expect(startedRate(starts) / 20).toBeGreaterThanOrEqual(0.95);
  });

  it('another process on the same key shares the limit', async () => {
    const key = uniqueKey();
    const limits = { requests: { count: 20, windowMs: 1000 } };
    const startAt = Date.now() + 2500;
    const peerProcess = startPeerProcess({ key, redisUrl, limits, jobs: 30, startAt });

    const { limiter } = sharedLimiter({ key, limits });
    const ours: number[] = [];
    await new Promise((resolve) => setTimeout(resolve, startAt - Date.now()));
    await runJobs(limiter, 30, ours);
    expect(await peerProcess.exited).toBe(0);
    const peer = JSON.parse(peerProcess.output().trim().split('\n').at(-1)!) as { starts: number[]; shared: boolean; warnings: unknown[] };

    expect(peer.shared).toBe(true);
    expect(peer.warnings).toEqual([]);
    const all = [...ours, ...peer.starts];
    // Start times come from two processes' clocks, read after each job's event-loop
    // turn; on a loaded machine a late read moves a start into the next window. One
    // start of slack covers that reading error, not the limiter: the limit as a CRM
    // sees it is checked against the Bitrix24 sandbox in bench:ratelimit (0 throttled).
    expect(maxInWindow(all, 1000)).toBeLessThanOrEqual(21);
    // Both processes ran at the same time, together at the declared rate.
    expect(Math.min(...peer.starts)).toBeLessThan(Math.max(...ours));
    expect(startedRate(all) / 20).toBeGreaterThanOrEqual(0.9);
  }, 30_000);

  it('frees the slots of a process killed mid-request after jobTimeoutMs', async () => {
    const key = uniqueKey();
    const limits = { concurrency: 1 };
    const peerProcess = startPeerProcess({ key, redisUrl, limits, jobs: 1, startAt: 0, jobMs: 60_000, jobTimeoutMs: 1000 });
    await waitFor(() => peerProcess.output().includes('"started"'), 10_000);
    peerProcess.child.kill('SIGKILL');

    const { limiter } = sharedLimiter({ key, limits, adaptive: false, jobTimeoutMs: 1000 });
    const askedAt = Date.now();
    const startedAt = await limiter.schedule(async () => Date.now());
    // The dead process held the only slot; it is freed a second after that request began.
    expect(startedAt - askedAt).toBeGreaterThan(300);
    expect(startedAt - askedAt).toBeLessThan(2500);
  }, 20_000);

  it('a throttle seen by one process pauses and slows every process on the key', async () => {
    const key = uniqueKey();
    const a = sharedLimiter({ key, limits: {}, tuning: { initialPerSecond: 20 } });
    const b = sharedLimiter({ key, limits: {}, tuning: { initialPerSecond: 20 } });
    await waitFor(() => a.limiter.snapshot().shared && b.limiter.snapshot().shared, 3000);
    const starts: number[] = [];
    const running = runJobs(b.limiter, 30, starts);
    await new Promise((resolve) => setTimeout(resolve, 300));

    let throttledAt = 0;
    await a.limiter.schedule(async () => {
      throttledAt = Date.now();
      a.limiter.onThrottled({ retryAfterMs: 800 });
    });
    await running;

    // A start already under way when the news arrived (a few ms) is not a violation.
    const during = starts.filter((at) => at > throttledAt + 10 && at < throttledAt + 800);
    expect(during.map((at) => at - throttledAt)).toEqual([]);
    expect(starts.filter((at) => at >= throttledAt + 800).length).toBeGreaterThan(0);
    expect(b.limiter.snapshot().allowedPerSecond).toBeLessThan(20);
  });

  it('counts one daily quota across limiters', async () => {
    const key = uniqueKey();
    const a = sharedLimiter({ key, limits: { dailyQuota: 6 }, adaptive: false });
    const b = sharedLimiter({ key, limits: { dailyQuota: 6 }, adaptive: false });
    await waitFor(() => a.limiter.snapshot().shared && b.limiter.snapshot().shared, 3000);
    const results = await Promise.allSettled([
      ...Array.from({ length: 5 }, () => a.limiter.schedule(async () => 'a')),
      ...Array.from({ length: 5 }, () => b.limiter.schedule(async () => 'b')),
    ]);
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(6);
  });
});

describe('when Redis fails', () => {
  const limits = { requests: { count: 20, windowMs: 1000 } };

  it('keeps running when Redis loses the shared state (FLUSHALL), then shares again', async () => {
    const key = uniqueKey();
    const { limiter, log } = sharedLimiter({ key, limits });
    await waitFor(() => limiter.snapshot().shared, 3000);
    const starts: number[] = [];
    const running = runJobs(limiter, 60, starts);
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(await deleteKeysOf(key)).toBeGreaterThan(0);
    await running;

    expect(starts).toHaveLength(60);
    expect(log.lines.some((line) => line.level === 'warn' && /SETTINGS_KEY_NOT_FOUND|UNKNOWN_CLIENT/.test(JSON.stringify(line.details)))).toBe(true);
    await waitFor(() => limiter.snapshot().shared, 5000);
    expect(maxInWindow(starts, 1000)).toBeLessThanOrEqual(20);
    // The shared state was rebuilt: a new limiter on the key joins it.
    const second = sharedLimiter({ key, limits });
    await expect(second.limiter.schedule(async () => 'joined')).resolves.toBe('joined');
    expect(second.limiter.snapshot().shared).toBe(true);
  }, 20_000);

  it('keeps running when its Redis connections are killed, then shares again', async () => {
    const key = uniqueKey();
    const { limiter } = sharedLimiter({ key, limits });
    await waitFor(() => limiter.snapshot().shared, 3000);
    const starts: number[] = [];
    const loop = watchEventLoop();
    const running = runJobs(limiter, 60, starts);
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(await killConnectionsOf(key)).toBeGreaterThan(0);
    await running;

    expect(starts).toHaveLength(60);
    // One process: the limiter's own window guard spaces its starts, whichever pacer it is on.
    expect(maxInWindow(starts, loop.countedWindowMs(limits.requests.windowMs))).toBeLessThanOrEqual(20);
    await waitFor(() => limiter.snapshot().shared, 5000);
  }, 20_000);

  it('limits each process to its share while Redis restarts, and shares again on the new, empty Redis', async () => {
    const redis = await startEmbeddedRedis();
    try {
      const key = uniqueKey();
      const a = sharedLimiter({ key, limits }, redis.url);
      const b = sharedLimiter({ key, limits }, redis.url);
      await waitFor(() => a.limiter.snapshot().shared && b.limiter.snapshot().shared && a.limiter.snapshot().peers === 2, 3000);

      await redis.stop();
      const starts: number[] = [];
      const loop = watchEventLoop();
      const running = Promise.all([runJobs(a.limiter, 30, starts), runJobs(b.limiter, 30, starts)]);
      await waitFor(() => starts.length >= 10, 5000);
      expect(a.limiter.snapshot().shared).toBe(false);
      // Each process takes half of the declared rate while they cannot agree.
      expect(a.limiter.snapshot().allowedPerSecond).toBeLessThanOrEqual(10);
      const restarted = await startEmbeddedRedis({ port: redis.port });
      try {
        await running;
        expect(starts).toHaveLength(60);
        expect(maxInWindow(starts, 1000)).toBeLessThanOrEqual(20 + loop.extraStarts(limits.requests));
        await waitFor(() => a.limiter.snapshot().shared && b.limiter.snapshot().shared, 8000);
      } finally {
        await Promise.all(open.splice(0).map((each) => each.close()));
        await restarted.stop();
      }
    } finally {
      await redis.stop();
    }
  }, 30_000);

  it('limits locally when Redis is unreachable from the start', async () => {
    const { limiter, log } = sharedLimiter({ key: uniqueKey(), limits }, `redis://127.0.0.1:${await findFreePort()}`);
    const starts: number[] = [];
    await runJobs(limiter, 10, starts);
    expect(starts).toHaveLength(10);
    expect(limiter.snapshot().shared).toBe(false);
    expect(log.lines.some((line) => line.level === 'warn')).toBe(true);
  });
});
