// Starting and stopping pollers: from the outbox (an instance's polling was
// created, changed, disabled or deleted through the API) and at worker start (every
// enabled poller, in case its workflow was lost or never started).
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import type { Db } from '../../core/db/client.js';
import type { OutboxDeliverer } from '../../core/outbox/dispatcher.js';
import { CRM_POLLER_OUTBOX_KIND, crmPollerSyncPayloadSchema } from '../../core/polling/settings.js';
import { ProjectIdKey } from '../search-attributes.js';
import { crmPollerWorkflowId, pollerSettingsSignal, type CrmPollerInput } from './shared.js';
import { crmPoller } from './workflows.js';

/** Starts the instance's poller, or hands a running one its (new) interval. Idempotent. */
export async function startCrmPoller(client: Client, input: CrmPollerInput, taskQueue: string): Promise<void> {
  await client.workflow.signalWithStart(crmPoller, {
    workflowId: crmPollerWorkflowId(input.connectorInstanceId),
    taskQueue,
    args: [input],
    signal: pollerSettingsSignal,
    signalArgs: [{ intervalSeconds: input.intervalSeconds }],
    typedSearchAttributes: new TypedSearchAttributes([{ key: ProjectIdKey, value: input.projectId }]),
  });
}

/**
 * Stops the instance's poller. Terminated rather than cancelled: a poll holds no
 * state outside its transaction, and a start right after must not find the old run
 * still winding down. Stopping a poller that is not running is a no-op.
 */
export async function stopCrmPoller(client: Client, connectorInstanceId: string): Promise<void> {
  try {
    await client.workflow.getHandle(crmPollerWorkflowId(connectorInstanceId)).terminate('polling stopped for the connector');
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return;
    throw error;
  }
}

export function crmPollerDeliverers({ taskQueue }: { taskQueue: string }): Record<string, OutboxDeliverer> {
  return {
    [CRM_POLLER_OUTBOX_KIND]: {
      async deliver(client, row) {
        const { projectId, connectorInstanceId, run } = crmPollerSyncPayloadSchema.parse(row.payload);
        if (run) await startCrmPoller(client, { projectId, connectorInstanceId, intervalSeconds: run.intervalSeconds }, taskQueue);
        else await stopCrmPoller(client, connectorInstanceId);
      },
    },
  };
}

/** At worker start: every enabled poller runs (signalWithStart leaves running ones as they are). */
export async function ensureCrmPollers({ db, client, taskQueue }: { db: Db; client: Client; taskQueue: string }): Promise<number> {
  const pollers = await db.connectorPoller.findMany({ where: { enabled: true } });
  for (const poller of pollers) {
    await startCrmPoller(client, { projectId: poller.projectId, connectorInstanceId: poller.connectorInstanceId, intervalSeconds: poller.intervalSeconds }, taskQueue);
  }
  return pollers.length;
}
