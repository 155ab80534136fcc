// One worker process of bench:ratelimit. Upserts its share of contacts into
// the Bitrix24 sandbox the way the hub does (ConnectorRuntime: limiter shared
// through Redis) or the naive way (p-limit + exponential backoff on 429), and
// prints one JSON line when done.
import pLimit from 'p-limit';
import { bitrix24 } from '../connectors/bitrix24/connector.js';
import { buildRegistry } from '../connectors/registry.js';
import { ConnectorRuntime } from '../connectors/runtime.js';
import { CrmError } from '../connectors/sdk/errors.js';
import { createCrmHttpClient } from '../connectors/sdk/http.js';
import { ReadCache } from '../connectors/sdk/cache.js';
import { providerFactsSchema } from '../connectors/sdk/provider.js';
import type { ConnectorOperations, ContactInput } from '../connectors/sdk/types.js';
import type { LimiterSnapshot, RequestLimiter } from '../connectors/sdk/limits/types.js';
import { bitrix24ConfigSchema } from '../connectors/bitrix24/config.js';
import type { ConnectorDefinition } from '../connectors/sdk/define.js';

export interface WorkerJob {
  scenario: 'ours' | 'declared' | 'naive' | 'batched';
  webhookUrl: string;
  redisUrl: string;
  instanceId: string;
  /** Contacts this process upserts: phones from `first` on. */
  first: number;
  count: number;
  declared?: { ratePerSecond: number; burst: number };
  naiveConcurrency?: number;
}

const job = JSON.parse(process.argv[2] ?? '{}') as WorkerJob;

function contact(n: number): ContactInput {
  return { phone: `+7912${String(n).padStart(7, '0')}`, name: `Bench ${n}`, fields: {} };
}

async function ours(): Promise<{ failed: number; snapshot?: LimiterSnapshot }> {
  const runtime = new ConnectorRuntime({ registry: buildRegistry([bitrix24 as unknown as ConnectorDefinition]), redisUrl: job.redisUrl });
  // Batched: the connector's own declaration (the standard plan's documented bucket), as an instance gets by default.
  const limits = job.scenario === 'declared' ? job.declared : job.scenario === 'batched' ? undefined : 'undeclared';
  const crm = await runtime.get({
    id: job.instanceId,
    kind: 'bitrix24',
    name: 'bench',
    config: { webhookUrl: job.webhookUrl, ...(limits ? { limits } : {}) },
    secrets: null,
    limits: null,
    updatedAt: new Date(0),
  });
  let failed = 0;
  if (job.scenario === 'batched') {
    const contacts = Array.from({ length: job.count }, (_, i) => contact(job.first + i));
    const chunks: ContactInput[][] = [];
    for (let i = 0; i < contacts.length; i += 50) chunks.push(contacts.slice(i, i + 50));
    // Several batches in flight so the limiter, not our loop, sets the pace.
    await Promise.all(chunks.map((chunk) => upsertWithRetry(crm, () => crm.upsertContacts?.(chunk)).catch(() => (failed += chunk.length))));
  } else {
    const all = Array.from({ length: job.count }, (_, i) => contact(job.first + i));
    await Promise.all(all.map((one) => upsertWithRetry(crm, () => crm.upsertContact(one)).catch(() => (failed += 1))));
  }
  await runtime.closeAll();
  return { failed };
}

/** What Temporal would do with a retryable failure: try again (after the CRM's wait when it gave one). */
async function upsertWithRetry(_crm: ConnectorOperations, write: () => Promise<unknown> | undefined): Promise<void> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      await write();
      return;
    } catch (error) {
      if (!(error instanceof CrmError) || error.kind === 'rejected' || attempt >= 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, error.retryAfterMs ?? 1000));
    }
  }
}

/** The reactive client most integrations ship: bounded concurrency, back off when told "too many". */
async function naive(): Promise<{ failed: number }> {
  const passThrough: RequestLimiter = {
    schedule: (run) => run(),
    onThrottled: () => undefined,
    onRateLimitHeaders: () => undefined,
    onSuccess: () => undefined,
    snapshot: () => ({ allowedPerSecond: Infinity, throttledResponses: 0, succeeded: 0, queued: 0, shared: false }) as LimiterSnapshot,
    close: async () => undefined,
  };
  const config = bitrix24ConfigSchema.parse({ webhookUrl: job.webhookUrl });
  const provider = providerFactsSchema.parse(bitrix24.provider);
  const crm = bitrix24.create({
    instanceId: job.instanceId,
    config,
    http: createCrmHttpClient({ baseUrl: config.webhookUrl, provider, limiter: passThrough, maxThrottleRetries: 0 }),
    limiter: passThrough,
    cache: new ReadCache(5_000),
  });
  const limit = pLimit(job.naiveConcurrency ?? 10);
  let failed = 0;
  await Promise.all(
    Array.from({ length: job.count }, (_, i) =>
      limit(async () => {
        for (let attempt = 0; ; attempt += 1) {
          try {
            await crm.upsertContact(contact(job.first + i));
            return;
          } catch (error) {
            if (!(error instanceof CrmError) || error.kind !== 'throttled' || attempt >= 12) {
              failed += 1;
              return;
            }
            const backoff = Math.min(30_000, 250 * 2 ** attempt) * (0.5 + Math.random() / 2);
            await new Promise((resolve) => setTimeout(resolve, backoff));
          }
        }
      }),
    ),
  );
  return { failed };
}

const started = Date.now();
const result = job.scenario === 'naive' ? await naive() : await ours();
console.log(JSON.stringify({ ...result, ms: Date.now() - started }));
