// Activities of the contact journey: the only place its work touches the
// database and the CRMs. Built by a factory so the worker injects both.
import { ApplicationFailure, asyncLocalStorage } from '@temporalio/activity';
import { z } from 'zod';
import { sqlPoolOf, type Db } from '../../core/db/client.js';
import { HUB_TASK_ID_FIELD, markTaskDone, taskToDeliver } from '../../core/tasks/delivery.js';
import { CrmError } from '../../connectors/sdk/index.js';
import type { ConnectorRuntime } from '../../connectors/runtime.js';
import type { ProjectSettingsCache } from '../../core/connectors/project-settings.js';

export interface JourneyActivityDeps {
  db: Db;
  connectors: ConnectorRuntime;
  /** The projects' connector instances and rules, read through the worker's cache. */
  settings: ProjectSettingsCache;
}

export interface DeliveredTask {
  crmRecords: Record<string, string>;
}

const deliveredSchema = z.object({ crmRecords: z.record(z.string(), z.string()) });

export function createJourneyActivities({ db, connectors, settings }: JourneyActivityDeps) {
  // A delivery's two statements run on the pool under Prisma (see core/db/sql.ts).
  const sql = sqlPoolOf(db);
  return {
    /**
     * Upserts the task's contact into the project's primary CRM and marks the
     * task done. Idempotent: a task already done returns what it returned then.
     */
    async deliverTaskToCrm({ taskId }: { taskId: string }): Promise<DeliveredTask> {
      return whileHeartbeating(() => deliver(taskId));
    },

    async recordTaskFailure({ taskId, reason }: { taskId: string; reason: string }): Promise<void> {
      await db.task.updateMany({ where: { id: taskId, status: { not: 'done' } }, data: { status: 'failed', error: reason } });
    },
  };

  async function deliver(taskId: string): Promise<DeliveredTask> {
    const task = await taskToDeliver(sql, taskId);
    if (!task) throw ApplicationFailure.nonRetryable(`task ${taskId} does not exist`, 'TaskMissing');
    if (task.status === 'done') {
      const previous = deliveredSchema.safeParse(task.result);
      if (previous.success) return previous.data;
    }
    // A task whose journey already failed it is not retried by a redelivered signal.
    if (task.status === 'failed') {
      throw ApplicationFailure.nonRetryable(task.error ?? 'task failed earlier', 'TaskFailed');
    }
    const instance = (await settings.get(task.projectId)).instances.find((candidate) => candidate.isPrimary);
    if (!instance) {
      throw ApplicationFailure.nonRetryable('the project has no primary CRM connector configured', 'NoPrimaryCrm');
    }
    // A connector that cannot start (bad stored config, missing key) is retried:
    // fixing the configuration lets the waiting tasks through, none is lost.
    const crm = await connectors.get(instance).catch((error: unknown) => {
      throw ApplicationFailure.retryable(
        `connector "${instance.name}" cannot start: ${error instanceof Error ? error.message : String(error)}`,
        'ConnectorUnavailable',
      );
    });
    try {
      const upserted = await crm.upsertContact({
        phone: task.phone,
        name: task.name ?? undefined,
        email: task.email ?? undefined,
        fields: { ...(task.data as Record<string, unknown>), [HUB_TASK_ID_FIELD]: task.id },
      });
      const delivered: DeliveredTask = { crmRecords: { [instance.name]: upserted.externalId } };
      await markTaskDone(sql, taskId, { ...delivered, created: upserted.created }, { connectorInstanceId: instance.id, externalId: upserted.externalId });
      return delivered;
    } catch (error) {
      throw toActivityFailure(error);
    }
  }
}

export type JourneyActivities = ReturnType<typeof createJourneyActivities>;

/** How often a running CRM activity tells Temporal its worker is alive (the SDK throttles to 80% of the heartbeat timeout). */
const HEARTBEAT_EVERY_MS = 1_000;

/**
 * Heartbeats while `work` runs, so a worker that dies in the middle of a CRM call
 * is noticed after the activity's heartbeat timeout (seconds), not its
 * start-to-close timeout. Local attempts have no heartbeats: the timeout of the
 * workflow task running them plays that part.
 */
export async function whileHeartbeating<T>(work: () => Promise<T>): Promise<T> {
  const context = asyncLocalStorage.getStore();
  if (!context || context.info.isLocal) return work();
  context.heartbeat();
  const timer = setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/** Maps a CRM's failure to Temporal's retry semantics. */
export function toActivityFailure(error: unknown): unknown {
  if (!(error instanceof CrmError)) return error;
  switch (error.kind) {
    case 'rejected':
      return ApplicationFailure.create({ message: error.message, type: 'CrmRejected', nonRetryable: true });
    case 'throttled':
      return ApplicationFailure.create({
        message: error.message,
        type: 'CrmThrottled',
        ...(error.retryAfterMs !== undefined ? { nextRetryDelay: error.retryAfterMs } : {}),
      });
    case 'unavailable':
      return ApplicationFailure.create({ message: error.message, type: 'CrmUnavailable' });
  }
}
