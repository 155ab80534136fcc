// Outbox rows of kind "journey.task" become signals to the contact's journey.
import { z } from 'zod';
import type { OutboxDeliverer } from '../../core/outbox/dispatcher.js';
import { JOURNEY_TASK_OUTBOX_KIND } from '../../core/tasks/intake.js';
import { deliverTaskToJourney, type JourneyOptions } from './client.js';

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
  };
}
