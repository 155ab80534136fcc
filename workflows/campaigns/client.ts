// How a campaign's state change reaches its dialer workflow: outbox rows written by the API
// (telephony/dialer/campaign-store.ts) become signals. Resume and pause start the workflow if it
// is not running (signalWithStart); a stop only tells a running one. Client side: not bundled into
// workflow code.
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { TypedSearchAttributes, WorkflowIdReusePolicy } from '@temporalio/common';
import { z } from 'zod';
import type { Db } from '../../core/db/client.js';
import type { OutboxDeliverer } from '../../core/outbox/dispatcher.js';
import { CAMPAIGN_STATE_OUTBOX_KIND, type CampaignStateChange } from '../../telephony/dialer/campaign-store.js';
import { JOURNEY_DIALER_OUTCOME_OUTBOX_KIND, type DialerOutcomeEvent } from '../../telephony/dialer/attempts.js';
import { deliverDialerOutcomeToJourney, type JourneyOptions } from '../journey/client.js';
import { ProjectIdKey } from '../search-attributes.js';
import { CAMPAIGN_PREVIEW_DIAL_OUTBOX_KIND, type PreviewDialPayload } from '../../telephony/dialer/preview.js';
import { campaignStateSignal, campaignWorkflowId, defaultCampaignDialerOptions, dialAttemptWorkflowId, type CampaignDialerOptions } from './shared.js';
import { campaignDialer, dialAttempt } from './workflows.js';

export interface CampaignDeliveryOptions extends Partial<CampaignDialerOptions> {
  /** The hub's task queue, where campaign workflows run. */
  taskQueue: string;
}

const payloadSchema = z.object({
  projectId: z.string(),
  campaignId: z.string(),
  name: z.string(),
  state: z.enum(['active', 'paused', 'stopped']),
});

export async function deliverCampaignState(client: Client, change: CampaignStateChange, options: CampaignDeliveryOptions): Promise<void> {
  const workflowId = campaignWorkflowId(change.projectId, change.name);
  if (change.state === 'stopped') {
    try {
      await client.workflow.getHandle(workflowId).signal(campaignStateSignal, { state: 'stopped' });
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return;
      throw error;
    }
    return;
  }
  const { taskQueue, ...dialer } = options;
  await client.workflow.signalWithStart(campaignDialer, {
    workflowId,
    taskQueue,
    args: [{
      projectId: change.projectId,
      campaignId: change.campaignId,
      name: change.name,
      state: change.state,
      options: { ...defaultCampaignDialerOptions, telephonyTaskQueue: 'telephony', ...dialer },
    }],
    signal: campaignStateSignal,
    signalArgs: [{ state: change.state }],
    typedSearchAttributes: new TypedSearchAttributes([{ key: ProjectIdKey, value: change.projectId }]),
  });
}

const outcomePayloadSchema = z.object({
  projectId: z.string(),
  phone: z.string(),
  event: z.looseObject({ taskId: z.string(), attemptId: z.string(), outcome: z.string(), at: z.string() }),
});

/** Campaign state changes to campaign workflows, attempt outcomes to contacts' journeys. */
export function campaignDeliverers(options: CampaignDeliveryOptions & { journey: JourneyOptions }): Record<string, OutboxDeliverer> {
  const { journey, ...campaign } = options;
  return {
    [JOURNEY_DIALER_OUTCOME_OUTBOX_KIND]: {
      async deliver(client, row) {
        const { projectId, phone, event } = outcomePayloadSchema.parse(row.payload);
        await deliverDialerOutcomeToJourney(client, { projectId, phone, event: event as unknown as DialerOutcomeEvent }, journey);
      },
    },
    [CAMPAIGN_STATE_OUTBOX_KIND]: {
      async deliver(client, row) {
        await deliverCampaignState(client, payloadSchema.parse(row.payload), campaign);
      },
    },
    [CAMPAIGN_PREVIEW_DIAL_OUTBOX_KIND]: {
      async deliver(client, row) {
        await startPreviewAttempt(client, previewDialSchema.parse(row.payload), campaign);
      },
    },
  };
}

const previewDialSchema = z.object({
  projectId: z.string(), campaign: z.string(), taskId: z.string(), attemptId: z.string(), attempt: z.number(),
  phone: z.string(), callerId: z.string(), queue: z.string(), agent: z.string(), ringTimeoutMs: z.number().optional(),
}) satisfies z.ZodType<PreviewDialPayload>;

/** Starts the attempt an agent dialled from a preview; a redelivered row finds it started and stops. */
async function startPreviewAttempt(client: Client, payload: PreviewDialPayload, options: CampaignDeliveryOptions): Promise<void> {
  const { agent, ringTimeoutMs, ...attempt } = payload;
  try {
    await client.workflow.start(dialAttempt, {
      workflowId: dialAttemptWorkflowId(payload.projectId, payload.attemptId),
      taskQueue: options.taskQueue,
      args: [{
        ...attempt,
        preferredAgent: agent,
        ringTimeoutMs: ringTimeoutMs ?? options.ringTimeoutMs ?? defaultCampaignDialerOptions.ringTimeoutMs,
        telephonyTaskQueue: options.telephonyTaskQueue ?? 'telephony',
      }],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      typedSearchAttributes: new TypedSearchAttributes([{ key: ProjectIdKey, value: payload.projectId }]),
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return;
    throw error;
  }
}

/**
 * At worker start: every active campaign has its dialer running (signalWithStart leaves a running
 * one as it is), whether or not its start ever reached Temporal or its workflow was terminated.
 */
export async function ensureCampaignDialers({ db, client, options }: { db: Db; client: Client; options: CampaignDeliveryOptions }): Promise<number> {
  const active = await db.campaign.findMany({ where: { state: 'active' }, select: { id: true, projectId: true, name: true } });
  for (const campaign of active) {
    await deliverCampaignState(client, { projectId: campaign.projectId, campaignId: campaign.id, name: campaign.name, state: 'active' }, options);
  }
  return active.length;
}
