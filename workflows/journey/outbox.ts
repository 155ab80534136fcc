// Outbox rows of kind "journey.task" become signals to the contact's journey, and so do
// supervisors' conflict resolutions ("journey.conflict-resolved");
// CRM changes (core/webhooks) become "crmChanged" signals, or first a
// resolveCrmContact workflow when the CRM record is not linked to a contact yet.
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { TypedSearchAttributes, WorkflowIdReusePolicy } from '@temporalio/common';
import { z } from 'zod';
import type { OutboxDeliverer } from '../../core/outbox/dispatcher.js';
import { conflictResolvedPayloadSchema, JOURNEY_CONFLICT_RESOLVED_OUTBOX_KIND } from '../../core/reconcile/journal.js';
import { JOURNEY_TASK_OUTBOX_KIND } from '../../core/tasks/intake.js';
import {
  JOURNEY_CRM_CHANGE_OUTBOX_KIND,
  journeyCrmChangePayloadSchema,
  RESOLVE_CRM_CONTACT_OUTBOX_KIND,
  resolveCrmContactPayloadSchema,
    type ResolveCrmContactPayload,
} from '../../core/webhooks/inbox.js';
import { resolveCrmContactWorkflowId } from '../crm-changes/shared.js';
import { resolveCrmContact } from '../crm-changes/workflows.js';
import { ProjectIdKey } from '../search-attributes.js';
import { deliverConflictResolutionToJourney, deliverCrmChangeToJourney, deliverTaskToJourney, type JourneyOptions } from './client.js';

const payloadSchema = z.object({ projectId: z.string(), phone: z.string(), taskId: z.string() });

export function journeyDeliverers(options: JourneyOptions): Record<string, OutboxDeliverer> {
  return {
    [JOURNEY_TASK_OUTBOX_KIND]: {
      async deliver(client, row) {
        await deliverTaskToJourney(client, payloadSchema.parse(row.payload), options);
      },
      async afterDelivery(tx, rows) {
        const taskIds = rows.map((row) => payloadSchema.parse(row.payload).taskId);
        // A journey may have finished the task already; only "accepted" moves on.
        await tx.$executeRaw`
          UPDATE tasks SET status = 'dispatched', updated_at = now()
          WHERE id = ANY(${taskIds}::uuid[]) AND status = 'accepted'`;
      },
    },
    [JOURNEY_CRM_CHANGE_OUTBOX_KIND]: {
      async deliver(client, row) {
        await deliverCrmChangeToJourney(client, journeyCrmChangePayloadSchema.parse(row.payload), options);
      },
      async afterDelivery(tx, rows) {
        const eventIds = rows.map((row) => journeyCrmChangePayloadSchema.parse(row.payload).webhookEventId);
        await tx.$executeRaw`
          UPDATE webhook_events SET processed_at = now()
          WHERE id = ANY(${eventIds}::uuid[]) AND processed_at IS NULL`;
      },
    },
    [JOURNEY_CONFLICT_RESOLVED_OUTBOX_KIND]: {
      async deliver(client, row) {
        const { projectId, phone, conflictId, field } = conflictResolvedPayloadSchema.parse(row.payload);
        await deliverConflictResolutionToJourney(client, { projectId, phone, resolved: { conflictId, field } }, options);
      },
    },
    [RESOLVE_CRM_CONTACT_OUTBOX_KIND]: {
      async deliver(client, row) {
        await startCrmContactResolution(client, resolveCrmContactPayloadSchema.parse(row.payload), options);
      },
    },
  };
}

/** Starts the event's resolution once; a redelivered row finds it started (or done) and stops. */
async function startCrmContactResolution(client: Client, payload: ResolveCrmContactPayload, options: JourneyOptions): Promise<void> {
  try {
    await client.workflow.start(resolveCrmContact, {
      workflowId: resolveCrmContactWorkflowId(payload.webhookEventId),
      taskQueue: options.taskQueue,
      // The resolution hands the change to the journey itself, started like the dispatcher starts journeys.
      args: [{ ...payload, journey: options }],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      typedSearchAttributes: new TypedSearchAttributes([{ key: ProjectIdKey, value: payload.projectId }]),
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return;
    throw error;
  }
}
