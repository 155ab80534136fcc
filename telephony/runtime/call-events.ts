/**
 * Call events on their way to the contact's journey, through the outbox: the telephony process
 * writes each event as an outbox row (one INSERT, in call order) and any outbox dispatcher hands
 * it to the journey with signalWithStart. Temporal being down delays the events, never loses
 * them; the journey merges a repeated event into the same call entry.
 */
import { z } from 'zod';
import type { Db } from '../../core/db/client.js';
import type { OutboxDeliverer } from '../../core/outbox/dispatcher.js';
import { deliverCallEventToJourney, type JourneyOptions } from '../../workflows/journey/client.js';
import { journeyWorkflowId, type CallEventSignal } from '../../workflows/journey/shared.js';

export const JOURNEY_CALL_EVENT_OUTBOX_KIND = 'journey.call-event';

const payloadSchema = z.object({
  projectId: z.string(),
  phone: z.string(),
  event: z.looseObject({ callId: z.string(), type: z.string(), at: z.string() }),
});

/** Stores one call event for delivery; resolves once it is committed (durable). */
export async function enqueueCallEvent(db: Db, projectId: string, phone: string, event: CallEventSignal): Promise<void> {
  const payload = JSON.stringify({ projectId, phone, event });
  await db.$executeRaw`
    INSERT INTO outbox (project_id, kind, workflow_id, payload)
    VALUES (${projectId}::uuid, ${JOURNEY_CALL_EVENT_OUTBOX_KIND}, ${journeyWorkflowId(projectId, phone)}, ${payload}::jsonb)`;
}

export function callEventDeliverers(options: JourneyOptions): Record<string, OutboxDeliverer> {
  return {
    [JOURNEY_CALL_EVENT_OUTBOX_KIND]: {
      async deliver(client, row) {
        const { projectId, phone, event } = payloadSchema.parse(row.payload);
        await deliverCallEventToJourney(client, { projectId, phone, event: event as unknown as CallEventSignal }, options);
      },
    },
  };
}
