// How callbacks reach Temporal: outbox rows written by the API (telephony/callbacks/callback-store.ts)
// start a callback's workflow once (its id is the callback's) or tell it it was cancelled.
// Client side: not bundled into workflow code.
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import { TypedSearchAttributes, WorkflowIdReusePolicy } from '@temporalio/common';
import { z } from 'zod';
import type { OutboxDeliverer } from '../../core/outbox/dispatcher.js';
import { CALLBACK_CANCEL_OUTBOX_KIND, CALLBACK_START_OUTBOX_KIND } from '../../telephony/callbacks/callback-store.js';
import { ProjectIdKey } from '../search-attributes.js';
import { callbackWorkflowId, cancelCallbackSignal, defaultCallbackOptions, type CallbackOptions } from './shared.js';
import { callback } from './workflows.js';

const startSchema = z.object({
  projectId: z.string(),
  callbackId: z.string(),
  phone: z.string(),
  at: z.string(),
  agent: z.string().optional(),
  queue: z.string(),
  callerId: z.string(),
  ownerWindowSeconds: z.number(),
  retry: z.object({ maxAttempts: z.number(), retryAfterMs: z.number(), busyRetryAfterMs: z.number().optional() }).optional(),
});
const cancelSchema = z.object({ projectId: z.string(), callbackId: z.string() });

export function callbackDeliverers(options: Partial<CallbackOptions> & { taskQueue: string }): Record<string, OutboxDeliverer> {
  const { taskQueue, ...settings } = options;
  return {
    [CALLBACK_START_OUTBOX_KIND]: {
      async deliver(client, row) {
        const start = startSchema.parse(row.payload);
        try {
          await client.workflow.start(callback, {
            workflowId: callbackWorkflowId(start.projectId, start.callbackId),
            taskQueue,
            args: [{ ...start, ...(start.agent === undefined ? {} : { agent: start.agent }), ...(start.retry === undefined ? {} : { retry: start.retry }), options: { ...defaultCallbackOptions, telephonyTaskQueue: 'telephony', ...settings } }],
            workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
            typedSearchAttributes: new TypedSearchAttributes([{ key: ProjectIdKey, value: start.projectId }]),
          });
        } catch (error) {
          // Redelivered: the callback's workflow is running or has run; never a second one.
          if (error instanceof WorkflowExecutionAlreadyStartedError) return;
          throw error;
        }
      },
    },
    [CALLBACK_CANCEL_OUTBOX_KIND]: {
      async deliver(client, row) {
        const { projectId, callbackId } = cancelSchema.parse(row.payload);
        try {
          await client.workflow.getHandle(callbackWorkflowId(projectId, callbackId)).signal(cancelCallbackSignal);
        } catch (error) {
          if (error instanceof WorkflowNotFoundError) return;
          throw error;
        }
      },
    },
  };
}
