// bench:ratelimit - does the connector use a CRM's request limit fully without
// tripping it? The Bitrix24 sandbox enforces a limit (default 10 req/s, burst
// 20, 503 QUERY_LIMIT_EXCEEDED beyond) that the connector is not told about;
// two worker processes sharing Redis push the upserts. Same sandbox, same run:
//   ours      - the hub's limiter, limit undeclared (learned at run time)
//   naive     - p-limit concurrency + exponential backoff on 429, the reactive approach
//   declared  - the hub's limiter with the limit declared
//   batched   - upsertContacts (Bitrix batch of 50) on the standard plan limit (2 req/s, bucket 50),
//               which the connector declares by default
// utilization = requests the sandbox admitted / (burst + rate x seconds from first to last request).
// Final line: {"utilization","throttled","naive_utilization","naive_throttled","declared_utilization",
//              "declared_throttled","throttled_per_min_after_15s","batch_seconds","batch_min_seconds",...}
// batch_min_seconds is the floor for the upserts themselves: ceil(upserts / 50) requests
// at the plan's limit (bucket at once, then its drain rate); batch_requests is what was sent.
// batch_min_seconds_at_rate is the same requests at the drain rate alone (no bucket).
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { maxBatchCalls } from '../connectors/bitrix24/bitrix-client.js';
import { phoneSearchValues } from '../connectors/bitrix24/records.js';
import { startBitrixSandbox, type BitrixSandbox } from '../connectors/bitrix24/sandbox/index.js';
import { loadConfig } from '../core/config.js';
import { startEmbeddedRedis } from '../embedded/redis.js';
import { repoRoot } from '../prisma/tooling/paths.js';
import type { WorkerJob } from './ratelimit-worker.js';
import { log } from './support/stack.js';

const RATE = Number(process.env.BENCH_RATE ?? 10);
const BURST = Number(process.env.BENCH_BURST ?? 20);
const UPSERTS = Number(process.env.BENCH_UPSERTS ?? 3000);
const BATCH_UPSERTS = Number(process.env.BENCH_BATCH_UPSERTS ?? 10_000);
const SCENARIOS = (process.env.BENCH_SCENARIOS ?? 'ours,naive,declared,batched').split(',');
const PROCESSES = 2;

interface ScenarioResult {
  utilization: number;
  throttled: number;
  throttledPerMinuteAfter15s: number;
  seconds: number;
  accepted: number;
  /** Calls carried inside admitted batch requests. */
  batchedCalls: number;
  failed: number;
}

function runWorker(job: WorkerJob): Promise<{ failed: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'bench/ratelimit-worker.ts'), JSON.stringify(job)], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, LOG_LEVEL: 'warn' },
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`worker exited ${code}: ${out}`));
      resolve(JSON.parse(last) as { failed: number; ms: number });
    });
  });
}

async function scenario(
  sandbox: BitrixSandbox,
  redisUrl: string,
  name: WorkerJob['scenario'],
  limit: { ratePerSecond: number; burst: number },
  upserts: number,
): Promise<ScenarioResult> {
  sandbox.reset();
  sandbox.setLimit(limit);
  const instanceId = `${name}-${randomUUID()}`;
  const share = Math.ceil(upserts / PROCESSES);
  log(`${name}: ${upserts} upserts from ${PROCESSES} processes against ${limit.ratePerSecond} req/s, burst ${limit.burst}`);
  const results = await Promise.all(
    Array.from({ length: PROCESSES }, (_, p) =>
      runWorker({
        scenario: name,
        webhookUrl: sandbox.webhookBase,
        redisUrl,
        instanceId,
        first: 1_000_000 * (SCENARIOS.indexOf(name) + 1) + p * share,
        count: Math.min(share, upserts - p * share),
        declared: limit,
      }),
    ),
  );
  const stats = sandbox.stats();
  const seconds = Math.max(1, stats.timeline.length);
  const after15 = stats.timeline.filter((entry) => entry.second >= 15);
  const minutesAfter15 = Math.max(1 / 60, after15.length / 60);
  const result: ScenarioResult = {
    utilization: round(stats.accepted / (limit.burst + limit.ratePerSecond * seconds)),
    throttled: stats.throttled,
    throttledPerMinuteAfter15s: round(after15.reduce((sum, entry) => sum + entry.throttled, 0) / minutesAfter15),
    seconds,
    accepted: stats.accepted,
    batchedCalls: stats.batchedCalls,
    failed: results.reduce((sum, r) => sum + r.failed, 0),
  };
  log(`${name}: ${JSON.stringify(result)}`);
  return result;
}

const round = (value: number) => Math.round(value * 1000) / 1000;

async function main(): Promise<void> {
  const config = loadConfig();
  const redis = config.REDIS_URL ? undefined : await startEmbeddedRedis({});
  const redisUrl = config.REDIS_URL ?? (redis as { url: string }).url;
  const sandbox = await startBitrixSandbox({ ratePerSecond: RATE, burst: BURST, hideLimit: true });
  try {
    const figures: Record<string, number> = {};
    const limit = { ratePerSecond: RATE, burst: BURST };
    if (SCENARIOS.includes('ours')) {
      const ours = await scenario(sandbox, redisUrl, 'ours', limit, UPSERTS);
      Object.assign(figures, { utilization: ours.utilization, throttled: ours.throttled, throttled_per_min_after_15s: ours.throttledPerMinuteAfter15s, failed: ours.failed });
    }
    if (SCENARIOS.includes('naive')) {
      const naive = await scenario(sandbox, redisUrl, 'naive', limit, UPSERTS);
      Object.assign(figures, { naive_utilization: naive.utilization, naive_throttled: naive.throttled, naive_failed: naive.failed });
    }
    if (SCENARIOS.includes('declared')) {
      const declared = await scenario(sandbox, redisUrl, 'declared', limit, UPSERTS);
      Object.assign(figures, { declared_utilization: declared.utilization, declared_throttled: declared.throttled, declared_failed: declared.failed });
    }
    if (SCENARIOS.includes('batched')) {
      const standard = { ratePerSecond: 2, burst: 50 };
      const batched = await scenario(sandbox, redisUrl, 'batched', standard, BATCH_UPSERTS);
      // The floor for these upserts, whatever the client: one write each, 50 calls per
      // request, the bucket at once, then the drain rate. Lookups are not in it, so a
      // client that looks numbers up before writing pays for them in this ratio.
      const minRequests = Math.ceil(BATCH_UPSERTS / maxBatchCalls);
      const minSeconds = Math.max(0, (minRequests - standard.burst) / standard.ratePerSecond);
      // For context: the floor once each number is also looked up before its write
      // (no duplicates), at 20 values per crm.duplicate.findbycomm and the spellings
      // the connector sends per number.
      const numbersPerLookup = Math.floor(20 / phoneSearchValues('+79120000000').length);
      const withLookups = Math.ceil((BATCH_UPSERTS + Math.ceil(BATCH_UPSERTS / numbersPerLookup)) / maxBatchCalls);
      const withLookupsSeconds = Math.max(0, (withLookups - standard.burst) / standard.ratePerSecond);
      // The issue's own arithmetic ("50 per batch at 2 req/s"): every batch at the drain rate,
      // no bucket. Printed beside the stricter floors above.
      const atRateSeconds = minRequests / standard.ratePerSecond;
      Object.assign(figures, {
        batch_upserts: BATCH_UPSERTS,
        batch_requests: batched.accepted,
        batch_calls: batched.batchedCalls,
        batch_min_requests: minRequests,
        batch_seconds: batched.seconds,
        batch_min_seconds: round(minSeconds),
        batch_ratio: round(batched.seconds / Math.max(1, minSeconds)),
        batch_min_requests_with_lookups: withLookups,
        batch_min_seconds_with_lookups: round(withLookupsSeconds),
        batch_ratio_with_lookups: round(batched.seconds / Math.max(1, withLookupsSeconds)),
        batch_min_seconds_at_rate: round(atRateSeconds),
        batch_ratio_at_rate: round(batched.seconds / Math.max(1, atRateSeconds)),
        batch_throttled: batched.throttled,
        batch_failed: batched.failed,
      });
    }
    console.log(JSON.stringify({ rate: RATE, burst: BURST, upserts: UPSERTS, processes: PROCESSES, ...figures }));
  } finally {
    await sandbox.close();
    await redis?.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
