/**
 * Trunk health as the telephony process sees it, written to PostgreSQL (table trunk_status) so the
 * API, a different process, can show it: up or down and why, and for registration trunks whether
 * the carrier has us registered, until when, and when the next attempt is.
 *
 * Writes are the latest state per trunk, coalesced: while one is in flight further changes only
 * mark the trunk dirty. A failed write (database down) is retried with back-off, so an outage
 * delays the picture and never leaves a stale one once the database is back.
 */
import type { Db, Prisma } from '../../core/db/client.js';
import type { Logger } from '../../core/logger.js';
import { TelephonyConfigError } from '../config-errors.js';
import type { TrunkHealth, TrunkHealthState } from './health.js';

export interface TrunkStatusView {
  trunk: string;
  status: string;
  since: string;
  lastFailure: string | null;
  registration: Record<string, unknown> | null;
  updatedAt: string;
}

export class TrunkStatusStore {
  constructor(
    private readonly db: Db,
    private readonly logger?: Pick<Logger, 'warn'>,
  ) {}

  /** Writes every trunk now and on every change until the returned function is called. */
  publish(projectId: string, health: TrunkHealth, retryMs = { min: 500, max: 30_000 }): () => void {
    const writing = new Set<string>();
    const dirty = new Set<string>();
    const failures = new Map<string, number>();
    let stopped = false;
    const timers = new Set<NodeJS.Timeout>();

    const write = (trunk: string): void => {
      if (stopped) return;
      if (writing.has(trunk)) {
        dirty.add(trunk);
        return;
      }
      writing.add(trunk);
      dirty.delete(trunk);
      this.save(projectId, health.state(trunk))
        .then(() => {
          failures.delete(trunk);
          writing.delete(trunk);
          if (dirty.has(trunk)) write(trunk);
        })
        .catch((error: unknown) => {
          writing.delete(trunk);
          const count = (failures.get(trunk) ?? 0) + 1;
          failures.set(trunk, count);
          const delay = Math.min(retryMs.max, retryMs.min * 2 ** Math.min(20, count - 1));
          this.logger?.warn({ err: error, trunk, retryInMs: delay }, 'trunk status not saved; retrying');
          const timer = setTimeout(() => {
            timers.delete(timer);
            write(trunk);
          }, delay);
          timer.unref();
          timers.add(timer);
        });
    };

    const unsubscribe = health.onUpdate(write);
    for (const state of health.snapshot()) write(state.trunk);
    return () => {
      stopped = true;
      unsubscribe();
      for (const timer of timers) clearTimeout(timer);
    };
  }

  async get(projectId: string, trunk: string): Promise<TrunkStatusView> {
    const row = await this.db.trunkStatus.findUnique({ where: { projectId_trunkName: { projectId, trunkName: trunk } } });
    if (row === null) throw new TelephonyConfigError(404, `No status for trunk "${trunk}": no telephony process has reported it.`);
    return {
      trunk: row.trunkName, status: row.status, since: row.since.toISOString(), lastFailure: row.lastFailure,
      registration: row.registration as Record<string, unknown> | null, updatedAt: row.updatedAt.toISOString(),
    };
  }

  private async save(projectId: string, state: TrunkHealthState): Promise<void> {
    const registration = state.registration === undefined ? null : {
      status: state.registration.status,
      expiresAt: state.registration.expiresAt?.toISOString() ?? null,
      lastAttemptAt: state.registration.lastAttemptAt?.toISOString() ?? null,
      sipStatus: state.registration.sipStatus ?? null,
      lastError: state.registration.lastError ?? null,
      consecutiveFailures: state.registration.consecutiveFailures,
      nextAttemptAt: state.registration.nextAttemptAt?.toISOString() ?? null,
    };
    const data = {
      status: state.status, since: state.since, lastFailure: state.lastFailure ?? null,
      registration: (registration ?? undefined) as Prisma.InputJsonValue | undefined,
    };
    await this.db.trunkStatus.upsert({
      where: { projectId_trunkName: { projectId, trunkName: state.trunk } },
      create: { projectId, trunkName: state.trunk, ...data },
      update: data,
    });
  }
}
