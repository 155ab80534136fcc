// Accepted work reaches Temporal through the outbox: the API writes the task and
// an outbox row in one transaction, and this dispatcher hands rows to Temporal
// when it can. Temporal down means rows wait (with backoff), never that they are
// lost. Rows are claimed with SKIP LOCKED, so several API processes can run
// dispatchers side by side; a row is deleted only after Temporal took it, and
// every delivery is idempotent, so a crash between the two only repeats a no-op.
import type { Client } from '@temporalio/client';
import type { Db } from '../db/client.js';
import type { Logger } from '../logger.js';
import type { TemporalGateway } from '../temporal/gateway.js';
import { groupBy } from '../collections.js';

export interface OutboxRow {
  id: bigint;
  kind: string;
  workflowId: string;
  payload: unknown;
  attempts: number;
}

export type OutboxTx = Parameters<Parameters<Db['$transaction']>[0]>[0];

export interface OutboxDeliverer {
  /** Hands one row's payload to Temporal; must be idempotent. */
  deliver(client: Client, row: OutboxRow): Promise<void>;
  /**
   * Hands several rows for one workflow to Temporal at once (one signal carrying them all);
   * must be idempotent. When set, the dispatcher uses it for consecutive rows of this kind.
   */
  deliverMany?(client: Client, rows: OutboxRow[]): Promise<void>;
  /** Runs in the claiming transaction, before the delivered rows are deleted. */
  afterDelivery?(tx: OutboxTx, rows: OutboxRow[]): Promise<void>;
}

export interface DispatcherOptions {
  db: Db;
  temporal: TemporalGateway;
  deliverers: Record<string, OutboxDeliverer>;
  logger: Logger;
  pollMs: number;
  batchSize?: number;
  /** Parallel deliveries within a batch. */
  concurrency?: number;
}

export interface DrainResult {
  delivered: number;
  failed: number;
}

const maxBackoffMs = 30_000;

export class OutboxDispatcher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private wakeRequested = false;
  private consecutiveFailures = 0;

  constructor(private readonly options: DispatcherOptions) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Called after new rows are committed, so they go out without waiting for the poll. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.wakeRequested = true;
      return;
    }
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.loop().finally(() => {
        this.running = undefined;
      });
    }, delayMs);
  }

  private async loop(): Promise<void> {
    let nextDelay = this.options.pollMs;
    try {
      for (;;) {
        this.wakeRequested = false;
        const result = await this.drainOnce();
        if (result.failed > 0) {
          this.consecutiveFailures += 1;
          nextDelay = this.backoffMs();
          break;
        }
        this.consecutiveFailures = 0;
        if (result.delivered === 0 && !this.wakeRequested) break;
        if (this.stopped) break;
      }
    } catch (error) {
      // The database itself is unreachable: the rows are safe in it; try again later.
      this.consecutiveFailures += 1;
      nextDelay = this.backoffMs();
      // Once stopping, a database going down beside us (npm start's Ctrl-C reaches it too) is no news;
      // nor is one failed read, which that Ctrl-C can also cause just before this process stops. A
      // database that stays unreadable is warned about from the second try on.
      if (this.stopped) this.options.logger.debug({ err: error }, 'outbox: read failed while stopping; the rows wait for the next start');
      else if (this.consecutiveFailures === 1) this.options.logger.info({ err: error, retryInMs: nextDelay }, 'outbox: cannot read the outbox; trying again');
      else this.options.logger.warn({ err: error, retryInMs: nextDelay, failures: this.consecutiveFailures }, 'outbox: cannot read the outbox');
    }
    if (!this.stopped) this.schedule(nextDelay);
  }

  /** Doubles per consecutive failed round, from the poll interval up to 30 s. */
  private backoffMs(failures = this.consecutiveFailures): number {
    return Math.min(maxBackoffMs, this.options.pollMs * 2 ** Math.min(failures, 10));
  }

  /** Claims one batch of due rows and delivers them. Exposed for tests and tools. */
  async drainOnce(): Promise<DrainResult> {
    const { db, temporal, deliverers, logger } = this.options;
    const batchSize = this.options.batchSize ?? 200;
    const concurrency = this.options.concurrency ?? 32;

    return db.$transaction(
      async (tx) => {
        const rows = await tx.$queryRaw<OutboxRow[]>`
          SELECT id, kind, workflow_id AS "workflowId", payload, attempts
          FROM outbox WHERE available_at <= now()
          ORDER BY id LIMIT ${batchSize}
          FOR UPDATE SKIP LOCKED`;
        if (rows.length === 0) return { delivered: 0, failed: 0 };

        let client: Client;
        try {
          client = await temporal.client();
        } catch (error) {
          await postpone(tx, rows.map((row) => row.id), error, this.backoffMs(this.consecutiveFailures + 1));
          logger.warn({ pending: rows.length, reason: (error as Error).message }, 'outbox: Temporal unreachable, work kept');
          return { delivered: 0, failed: rows.length };
        }

        const delivered: OutboxRow[] = [];
        const failures: { id: bigint; error: unknown }[] = [];
        // Rows for one workflow go out in order; different workflows in parallel.
        await forEachLimited(groupBy(rows, (row) => row.workflowId), concurrency, async (group) => {
          for (const run of runsOfKind(group)) {
            const deliverer = deliverers[run[0]?.kind as string];
            try {
              if (!deliverer) throw new Error(`no deliverer for outbox kind "${run[0]?.kind}"`);
              if (deliverer.deliverMany && run.length > 1) {
                await deliverer.deliverMany(client, run);
                delivered.push(...run);
                continue;
              }
            } catch (error) {
              failures.push(...run.map((row) => ({ id: row.id, error })));
              continue;
            }
            for (const row of run) {
              try {
                await deliverer.deliver(client, row);
                delivered.push(row);
              } catch (error) {
                failures.push({ id: row.id, error });
              }
            }
          }
        });

        if (delivered.length > 0) {
          for (const [kind, kindRows] of groupBy(delivered, (row) => row.kind).map((group) => [group[0]?.kind, group] as const)) {
            await deliverers[kind as string]?.afterDelivery?.(tx, kindRows);
          }
          const ids = delivered.map((row) => row.id);
          await tx.$executeRaw`DELETE FROM outbox WHERE id = ANY(${ids}::bigint[])`;
        }
        for (const failure of failures) {
          await postpone(tx, [failure.id], failure.error, this.backoffMs(this.consecutiveFailures + 1));
        }
        if (failures.length > 0) {
          logger.warn(
            { failed: failures.length, delivered: delivered.length, reason: String((failures[0]?.error as Error)?.message) },
            'outbox: some deliveries failed, retrying later',
          );
        }
        return { delivered: delivered.length, failed: failures.length };
      },
      { timeout: 60_000, maxWait: 10_000 },
    );
  }
}

/** Consecutive rows of one kind, in order. */
function runsOfKind(rows: OutboxRow[]): OutboxRow[][] {
  const runs: OutboxRow[][] = [];
  for (const row of rows) {
    const last = runs.at(-1);
    if (last && last[0]?.kind === row.kind) last.push(row);
    else runs.push([row]);
  }
  return runs;
}

async function postpone(tx: OutboxTx, ids: bigint[], error: unknown, delayMs: number): Promise<void> {
  const message = (error instanceof Error ? error.message : String(error)).slice(0, 1000);
  await tx.$executeRaw`
    UPDATE outbox SET attempts = attempts + 1, last_error = ${message},
      available_at = now() + (${delayMs}::int * interval '1 millisecond')
    WHERE id = ANY(${ids}::bigint[])`;
}

async function forEachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(lanes);
}
