// bench:intake - tasks accepted durably through the HTTP API, against plain
// `pg` inserts of the same rows in the same run.
//
// Ours: batches of BATCH tasks POSTed to a real API process (validation, phone
// normalization, auth, task + outbox rows in one transaction), CONCURRENCY
// requests in flight, while the API's outbox dispatcher hands the tasks to a
// real Temporal server. Baseline: the same task rows written by plain `pg`, one
// INSERT per row as a straightforward integration writes them, with the same
// concurrency. Also printed: the same rows as one multi-row INSERT per batch
// (the floor no HTTP service can beat), for context.
// Final line: {"tasks_per_s","p99_batch_ms","baseline_insert_per_s",...}
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { findFreePort } from '../embedded/ports.js';
import { log, percentile, startBenchStack, waitForUrl } from './support/stack.js';

const TOTAL = Number(process.env.BENCH_TASKS ?? 20_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 100);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);

function taskRows(count: number, offset: number) {
  return Array.from({ length: count }, (_, index) => {
    const n = offset + index;
    return {
      phone: `+1 (415) ${String(200 + (Math.floor(n / 10_000) % 700)).padStart(3, '0')}-${String(n % 10_000).padStart(4, '0')}`,
      name: `Applicant ${n}`,
      externalId: `APP-${n}`,
      applicationDate: '2026-11-20',
      address: `${n} Market St, San Francisco`,
    };
  });
}

async function runBatches(label: string, work: (batchIndex: number) => Promise<void>): Promise<{ perSecond: number; p99: number }> {
  const batches = Math.ceil(TOTAL / BATCH);
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < batches) {
        const batchIndex = next++;
        const t0 = performance.now();
        await work(batchIndex);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const result = { perSecond: Math.round((batches * BATCH) / seconds), p99: Math.round(percentile(latencies, 99) * 10) / 10 };
  log(`${label}: ${result.perSecond} rows/s, p99 batch ${result.p99} ms`);
  return result;
}

async function main(): Promise<void> {
  const stack = await startBenchStack('intake');
  try {
    const port = await findFreePort();
    stack.spawnService('api/main.ts', { API_PORT: String(port), API_HOST: '127.0.0.1' });
    const base = `http://127.0.0.1:${port}`;
    await waitForUrl(`${base}/healthz`);

    // Warm-up: JIT, connection pools, key cache.
    for (let i = 0; i < 5; i += 1) await post(base, stack.apiKey, taskRows(BATCH, 10_000_000 + i * BATCH));

    const ours = await runBatches('api', async (batchIndex) => {
      const status = await post(base, stack.apiKey, taskRows(BATCH, batchIndex * BATCH));
      if (status !== 202) throw new Error(`batch ${batchIndex} answered ${status}`);
    });
    const stored = await stack.db.task.count({ where: { externalId: { startsWith: 'APP-' } } });
    if (stored < TOTAL) throw new Error(`only ${stored} of ${TOTAL} tasks are stored`);

    const pool = new pg.Pool({ connectionString: stack.databaseUrl, max: CONCURRENCY });
    const baseline = await runBatches('plain pg, row by row', async (batchIndex) => {
      const client = await pool.connect();
      try {
        for (const row of taskRows(BATCH, 20_000_000 + batchIndex * BATCH)) {
          const id = randomUUID();
          await client.query(
            `INSERT INTO tasks (id, project_id, external_id, phone, phone_input, name, data, journey_id, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())`,
            [id, stack.projectId, row.externalId + 'b', '+14155550000', row.phone, row.name, JSON.stringify(row), 'journey'],
          );
          await client.query(
            `INSERT INTO outbox (project_id, kind, workflow_id, payload) VALUES ($1, 'journey.task', 'journey', $2)`,
            [stack.projectId, JSON.stringify({ taskId: id })],
          );
        }
      } finally {
        client.release();
      }
    });
    const batched = await runBatches('plain pg, one multi-row INSERT per batch', async (batchIndex) => {
      const rows = taskRows(BATCH, 30_000_000 + batchIndex * BATCH);
      const ids = rows.map(() => randomUUID());
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(
          `INSERT INTO tasks (id, project_id, external_id, phone, phone_input, name, data, journey_id, updated_at)
           SELECT unnest($1::uuid[]), $2, unnest($3::text[]), '+14155550000', unnest($4::text[]), unnest($5::text[]), unnest($6::jsonb[]), 'journey', now()`,
          [ids, stack.projectId, rows.map((row) => row.externalId + 'c'), rows.map((row) => row.phone), rows.map((row) => row.name), rows.map((row) => JSON.stringify(row))],
        );
        await client.query(
          `INSERT INTO outbox (project_id, kind, workflow_id, payload)
           SELECT $1, 'journey.task', 'journey', unnest($2::jsonb[])`,
          [stack.projectId, ids.map((id) => JSON.stringify({ taskId: id }))],
        );
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    });
    await pool.end();

    console.log(
      JSON.stringify({
        tasks_per_s: ours.perSecond,
        p99_batch_ms: ours.p99,
        baseline_insert_per_s: baseline.perSecond,
        ratio: Math.round((ours.perSecond / baseline.perSecond) * 100) / 100,
        baseline_multirow_insert_per_s: batched.perSecond,
        batch: BATCH,
        concurrency: CONCURRENCY,
        tasks: TOTAL,
      }),
    );
  } finally {
    await stack.stop();
  }
}

async function post(base: string, apiKey: string, tasks: unknown[]): Promise<number> {
  const response = await fetch(`${base}/v1/tasks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ tasks }),
  });
  await response.arrayBuffer();
  return response.status;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
