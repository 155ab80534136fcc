// Outbox rows of kind "journey.task" become signals to the contact's journey, and so do
// supervisors' conflict resolutions ("journey.conflict-resolved") and agents' answers
// ("journey.agent-answers");
// CRM changes (core/webhooks) become "crmChanged" signals, or, when the CRM record is
// not linked to a contact yet, go to the CRM's contact resolver (crmContactResolver).
import type { Client } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { z } from 'zod';
import type { OutboxDeliverer } from '../../core/outbox/dispatcher.js';
import { agentAnswersPayloadSchema, JOURNEY_AGENT_ANSWERS_OUTBOX_KIND } from '../../core/agent-desk/agent-answers.js';
import { conflictResolvedPayloadSchema, JOURNEY_CONFLICT_RESOLVED_OUTBOX_KIND } from '../../core/reconcile/journal.js';
import { JOURNEY_TASK_OUTBOX_KIND } from '../../core/tasks/intake.js';
import {
  JOURNEY_CRM_CHANGE_OUTBOX_KIND,
  journeyCrmChangePayloadSchema,
  RESOLVE_CRM_CONTACT_OUTBOX_KIND,
  resolveCrmContactPayloadSchema,
  type ResolveCrmContactPayload,
} from '../../core/webhooks/inbox.js';
import { crmContactResolverWorkflowId, unlinkedCrmChangesSignal } from '../crm-changes/shared.js';
import { crmContactResolver } from '../crm-changes/workflows.js';
import { ProjectIdKey } from '../search-attributes.js';
import { deliverAgentAnswersToJourney, deliverConflictResolutionToJourney, deliverCrmChangeToJourney, deliverTaskToJourney, type JourneyOptions } from './client.js';

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
    [JOURNEY_AGENT_ANSWERS_OUTBOX_KIND]: {
      async deliver(client, row) {
        const { projectId, phone, agent, fields, answeredAt } = agentAnswersPayloadSchema.parse(row.payload);
        await deliverAgentAnswersToJourney(client, { projectId, phone, answered: { agent, fields, answeredAt } }, options);
      },
    },
    [RESOLVE_CRM_CONTACT_OUTBOX_KIND]: {
      async deliver(client, row) {
        await sendToResolver(client, [resolveCrmContactPayloadSchema.parse(row.payload)], options);
      },
      // The dispatcher hands over rows of one workflow id: one resolver, so one connector instance.
      async deliverMany(client, rows) {
        await sendToResolver(client, rows.map((row) => resolveCrmContactPayloadSchema.parse(row.payload)), options);
      },
    },
  };
}

/**
 * Hands unlinked changes of one connector instance to its resolver, starting it if it is not
 * running. Safe to repeat: the resolver ignores a change it holds, and a change it already
 * routed is routed again to the same journey, which ignores an event id it has.
 */
async function sendToResolver(client: Client, changes: ResolveCrmContactPayload[], options: JourneyOptions): Promise<void> {
  const first = changes[0];
  if (!first) return;
  const connectorInstanceId = first.change.connectorInstanceId;
  await client.workflow.signalWithStart(crmContactResolver, {
    workflowId: crmContactResolverWorkflowId(connectorInstanceId),
    taskQueue: options.taskQueue,
    args: [{ connectorInstanceId, journey: options }],
    typedSearchAttributes: new TypedSearchAttributes([{ key: ProjectIdKey, value: first.projectId }]),
    signal: unlinkedCrmChangesSignal,
    signalArgs: [changes],
  });
}
