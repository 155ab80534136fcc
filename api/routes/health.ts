// GET /healthz: can the hub take and run work right now? Each dependency is
// checked with a deadline so a hung dependency gives a red answer, not a hang.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { Db } from '../../core/db/client.js';
import type { TemporalGateway } from '../../core/temporal/gateway.js';

export interface HealthDeps {
  db: Db;
  temporal: TemporalGateway;
  taskQueue: string;
}

const checkSchema = z.object({ ok: z.boolean(), latencyMs: z.number(), detail: z.string().optional() });
const healthSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  checks: z.object({ database: checkSchema, temporal: checkSchema, worker: checkSchema }),
  outbox: z.object({ pending: z.number().int(), oldestSeconds: z.number().nullable() }).optional(),
});

const route = createRoute({
  method: 'get',
  path: '/healthz',
  tags: ['Operations'],
  summary: 'Database, Temporal and worker status',
  responses: {
    200: { description: 'Everything answers', content: { 'application/json': { schema: healthSchema } } },
    503: { description: 'Something does not answer; work is still accepted if the database is up', content: { 'application/json': { schema: healthSchema } } },
  },
});

const deadlineMs = 2000;

async function timed(check: () => Promise<string | undefined>): Promise<z.infer<typeof checkSchema>> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const detail = await Promise.race([
      check(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${deadlineMs} ms`)), deadlineMs);
      }),
    ]);
    return { ok: true, latencyMs: Math.round(performance.now() - started), ...(detail ? { detail } : {}) };
  } catch (error) {
    return { ok: false, latencyMs: Math.round(performance.now() - started), detail: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}

export function healthRoutes({ db, temporal, taskQueue }: HealthDeps) {
  const app = new OpenAPIHono();
  app.openapi(route, async (c) => {
    let outbox: { pending: number; oldestSeconds: number | null } | undefined;
    const [database, temporalCheck, worker] = await Promise.all([
      timed(async () => {
        const [row] = await db.$queryRaw<{ pending: bigint; oldest: number | null }[]>`
          SELECT count(*) AS pending, extract(epoch FROM now() - min(created_at))::float8 AS oldest FROM outbox`;
        outbox = { pending: Number(row?.pending ?? 0), oldestSeconds: row?.oldest === null || row?.oldest === undefined ? null : Math.round(row.oldest) };
        return undefined;
      }),
      timed(async () => {
        const client = await temporal.client();
        await client.workflowService.getSystemInfo({});
        return temporal.address;
      }),
      timed(async () => {
        const client = await temporal.client();
        const queue = await client.workflowService.describeTaskQueue({
          namespace: client.options.namespace,
          taskQueue: { name: taskQueue },
          taskQueueType: 1, // TASK_QUEUE_TYPE_WORKFLOW
        });
        const recentMs = 70_000;
        const live = (queue.pollers ?? []).filter((poller) => {
          const seconds = Number(poller.lastAccessTime?.seconds ?? 0);
          return Date.now() - seconds * 1000 < recentMs;
        });
        if (live.length === 0) throw new Error(`no worker polls task queue "${taskQueue}"`);
        return `${live.length} poller(s) on "${taskQueue}"`;
      }),
    ]);
    const ok = database.ok && temporalCheck.ok && worker.ok;
    const body = { status: ok ? ('ok' as const) : ('degraded' as const), checks: { database, temporal: temporalCheck, worker }, ...(outbox ? { outbox } : {}) };
    return c.json(body, ok ? 200 : 503);
  });
  return app;
}
