/**
 * Preview campaigns: the agent reads the task before anything rings, then dials it or skips it.
 *
 * - **Next** (`next`): the agent is given the campaign's next due task inside its dialing window
 *   (same order and window check as the dialer's claim, `FOR UPDATE SKIP LOCKED`), held for them
 *   (`previewing`, `preview_agent`, `preview_until`). No attempt is counted. An agent asking again
 *   while holding a task gets the same task back; a hold that runs out frees the task for anyone.
 * - **Dial** (`dial`): only the holding agent; the window is checked again at that moment. The task
 *   becomes an attempt like any other (`dialing`, attempt id, lease, `dialer_attempts` row) and an
 *   outbox row in the same transaction starts its `dialAttempt` workflow, which rings the contact
 *   and hands the answered call to the campaign's queue with that agent preferred. Outcomes, retries
 *   and the journey go the way of every attempt (telephony/dialer/attempts.ts).
 * - **Skip** (`skip`): only the holding agent; the task goes back to pending for later (by default
 *   an hour), still without an attempt counted.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../../core/db/client.js';
import type { Prisma } from '../../core/db/generated/client.js';
import { dialAttemptWorkflowId, type DialAttemptInput } from '../../workflows/campaigns/shared.js';
import { TelephonyConfigError } from '../config-errors.js';
import { e164OrAsGiven, phoneForAttempt, scheduleOf } from './attempts.js';
import { campaignConfigSchema, type CampaignConfig } from './campaign-config.js';
import { viewOf, type DialerTaskView } from './dialer-tasks.js';
import { dialableAt, nextDialableAt } from './windows.js';
import { isUuid } from '../../core/validation.js';

/** Outbox kind: a preview attempt the agent asked to dial, on its way to its dialAttempt workflow. */
export const CAMPAIGN_PREVIEW_DIAL_OUTBOX_KIND = 'campaign.preview-dial';

export const DEFAULT_PREVIEW_HOLD_SECONDS = 300;
export const DEFAULT_SKIP_RETRY_MINUTES = 60;

/**
 * What the outbox row carries to the dialAttempt workflow: the attempt as the dialer would start it,
 * less what the hub's settings give (queues, the ring timeout unless the campaign sets its own).
 */
export type PreviewDialPayload = Omit<DialAttemptInput, 'ringTimeoutMs' | 'telephonyTaskQueue' | 'preferredAgent' | 'connectSeconds'> & {
  /** The agent who dialled it: the answered call is offered to them first. */
  agent: string;
  /** The campaign's own ring timeout, when it has one. */
  ringTimeoutMs?: number;
};

export interface PreviewDialed {
  taskId: string;
  attemptId: string;
  attempt: number;
  phone: string;
}

type Tx = Prisma.TransactionClient;

interface CampaignRow {
  id: string;
  state: 'active' | 'paused' | 'stopped';
  config: unknown;
  default_region: string;
}

export class PreviewDesk {
  constructor(
    private readonly db: Db,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The task the agent holds, or the next due one now held for them; null when none is due. */
  async next(projectId: string, campaignName: string, agent: string, holdSeconds = DEFAULT_PREVIEW_HOLD_SECONDS): Promise<DialerTaskView | null> {
    return this.db.$transaction(async (tx) => {
      const { campaign, config } = await previewCampaign(tx, projectId, campaignName);
      const now = this.now();
      await releaseExpiredPreviews(tx, campaign.id, now);
      const holdUntil = new Date(now.getTime() + holdSeconds * 1000);
      const [held] = await tx.$queryRaw<{ id: string }[]>`
        SELECT id FROM dialer_tasks WHERE campaign_id = ${campaign.id}::uuid AND state = 'previewing' AND preview_agent = ${agent}
        ORDER BY updated_at LIMIT 1 FOR UPDATE`;
      if (held) return viewOf(await tx.dialerTask.update({ where: { id: held.id }, data: { previewUntil: holdUntil } }));
      // Due tasks in the dialer's order; those outside their windows move to their next window, as a claim does.
      for (;;) {
        const [task] = await tx.$queryRaw<{ id: string; time_zones: string[] }[]>`
          SELECT id, time_zones FROM dialer_tasks
          WHERE campaign_id = ${campaign.id}::uuid AND state = 'pending' AND next_attempt_at <= ${now}
          ORDER BY priority DESC, next_attempt_at, id
          LIMIT 1 FOR UPDATE SKIP LOCKED`;
        if (!task) return null;
        const schedule = scheduleOf(config, task.time_zones);
        if (dialableAt(now, schedule)) {
          return viewOf(await tx.dialerTask.update({ where: { id: task.id }, data: { state: 'previewing', previewAgent: agent, previewUntil: holdUntil } }));
        }
        const next = nextDialableAt(now, schedule);
        await tx.dialerTask.update({
          where: { id: task.id },
          data: next === undefined ? { state: 'failed', failureReason: 'the dialing windows never open for this contact' } : { nextAttemptAt: next },
        });
      }
    });
  }

  /** The holding agent dials the task: an attempt, started through the outbox. */
  async dial(projectId: string, campaignName: string, taskId: string, agent: string, leaseMs: number): Promise<PreviewDialed> {
    return this.db.$transaction(async (tx) => {
      const { campaign, config } = await previewCampaign(tx, projectId, campaignName);
      const task = await heldTask(tx, campaign.id, taskId, agent);
      const now = this.now();
      const schedule = scheduleOf(config, task.time_zones);
      if (!dialableAt(now, schedule)) {
        const next = nextDialableAt(now, schedule);
        await tx.dialerTask.update({ where: { id: task.id }, data: { state: 'pending', previewAgent: null, previewUntil: null, ...(next ? { nextAttemptAt: next } : {}) } });
        throw new TelephonyConfigError(409, `task ${task.id} is outside its dialing window now${next ? ` (it opens at ${next.toISOString()})` : ''}; it went back to the campaign`);
      }
      const attemptId = randomUUID();
      const attempt = task.attempts + 1;
      const phone = phoneForAttempt(task.phones, attempt);
      await tx.$executeRaw`
        UPDATE dialer_tasks SET state = 'dialing', attempts = ${attempt}, attempt_id = ${attemptId}::uuid,
          lease_until = ${new Date(now.getTime() + leaseMs)}, last_attempt_at = ${now}, preview_agent = NULL, preview_until = NULL, updated_at = now()
        WHERE id = ${task.id}::uuid`;
      await tx.$executeRaw`
        INSERT INTO dialer_attempts (id, campaign_id, task_id, attempt, phone, launched_at)
        VALUES (${attemptId}::uuid, ${campaign.id}::uuid, ${task.id}::uuid, ${attempt}, ${phone}, ${now})`;
      const payload: PreviewDialPayload = {
        projectId, campaign: campaignName, taskId: task.id, attemptId, attempt, phone,
        callerId: e164OrAsGiven(config.callerId, campaign.default_region), queue: config.queue, agent,
        ...(config.ringTimeoutSeconds === undefined ? {} : { ringTimeoutMs: config.ringTimeoutSeconds * 1000 }),
      };
      await tx.outboxEntry.create({
        data: { projectId, kind: CAMPAIGN_PREVIEW_DIAL_OUTBOX_KIND, workflowId: dialAttemptWorkflowId(projectId, attemptId), payload: { ...payload } },
      });
      return { taskId: task.id, attemptId, attempt, phone };
    });
  }

  /** The holding agent skips the task: back to pending, due again after `retryInMinutes`. */
  async skip(projectId: string, campaignName: string, taskId: string, agent: string, retryInMinutes = DEFAULT_SKIP_RETRY_MINUTES): Promise<DialerTaskView> {
    return this.db.$transaction(async (tx) => {
      const { campaign } = await previewCampaign(tx, projectId, campaignName);
      const task = await heldTask(tx, campaign.id, taskId, agent);
      const nextAttemptAt = new Date(this.now().getTime() + retryInMinutes * 60_000);
      return viewOf(await tx.dialerTask.update({ where: { id: task.id }, data: { state: 'pending', previewAgent: null, previewUntil: null, nextAttemptAt } }));
    });
  }
}

/** Holds that ran out: the task is free again, as it was (no attempt was counted). */
export async function releaseExpiredPreviews(tx: Tx, campaignId: string, now: Date): Promise<number> {
  return tx.$executeRaw`
    UPDATE dialer_tasks SET state = 'pending', preview_agent = NULL, preview_until = NULL, updated_at = now()
    WHERE campaign_id = ${campaignId}::uuid AND state = 'previewing' AND preview_until < ${now}`;
}

async function previewCampaign(tx: Tx, projectId: string, name: string): Promise<{ campaign: CampaignRow; config: CampaignConfig }> {
  const [campaign] = await tx.$queryRaw<CampaignRow[]>`
    SELECT c.id, c.state, c.config, p.default_region FROM campaigns c JOIN projects p ON p.id = c.project_id
    WHERE c.project_id = ${projectId}::uuid AND c.name = ${name}`;
  if (!campaign) throw new TelephonyConfigError(404, `no campaign "${name}"`);
  const config = campaignConfigSchema.parse(campaign.config);
  if (config.mode !== 'preview') throw new TelephonyConfigError(409, `campaign "${name}" is ${config.mode}, not preview: its dialer starts the calls`);
  if (campaign.state !== 'active') throw new TelephonyConfigError(409, `campaign "${name}" is ${campaign.state}; resume it to preview its tasks`);
  return { campaign, config };
}

async function heldTask(tx: Tx, campaignId: string, taskId: string, agent: string) {
  const [task] = isUuid(taskId)
    ? await tx.$queryRaw<{ id: string; state: string; preview_agent: string | null; phones: string[]; time_zones: string[]; attempts: number }[]>`
        SELECT id, state, preview_agent, phones, time_zones, attempts FROM dialer_tasks
        WHERE campaign_id = ${campaignId}::uuid AND id = ${taskId}::uuid FOR UPDATE`
    : [];
  if (!task) throw new TelephonyConfigError(404, `no task ${taskId} in this campaign`);
  // A hold that ran out still belongs to its agent until someone else takes the task.
  if (task.state !== 'previewing' || task.preview_agent !== agent) {
    const holder = task.state === 'previewing' ? `held by agent "${task.preview_agent}"` : task.state;
    throw new TelephonyConfigError(409, `task ${taskId} is ${holder}, not held by agent "${agent}": ask for the next task first`);
  }
  return task;
}
