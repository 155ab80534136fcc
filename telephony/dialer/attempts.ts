/**
 * A campaign's dial attempts in PostgreSQL: claiming due tasks, and applying each attempt's outcome.
 *
 * - **Claim** (one transaction): the campaign row is locked (one claimer per campaign at a time, and
 *   only while the campaign is active), tasks whose lease ran out go back to pending after the retry
 *   delay, then up to `limit` due tasks are locked with `FOR UPDATE SKIP LOCKED`, each is checked
 *   against its dialing windows at that moment (`dialableAt`), and only those inside become
 *   `dialing` with a fresh attempt id and lease; the others go back to pending at their next
 *   dialable minute without an attempt counted. A claimed task is therefore inside its window when
 *   the claim commits, and no task is claimed twice.
 * - **Answer**: an answered call's `answered_at` is written as soon as it is up, so the pacer sees it
 *   as waiting for an agent (not ringing) until its outcome comes.
 * - **Figures**: every tick of an active campaign stores its live figures on the campaign row (dial
 *   level, answer rate, abandon rate, occupancy, from the same pacer state the decision used).
 * - **Outcome**: applied only while the task is still `dialing` for that attempt id, so a repeated
 *   outcome (an activity retried, a worker crash) changes nothing, and a late outcome after the
 *   lease ran out cannot undo the retry that replaced it. The same transaction queues the outcome
 *   for the contact's journey (outbox).
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../../core/db/client.js';
import { normalizePhone } from '../../core/phone.js';
import { journeyWorkflowId } from '../../workflows/journey/shared.js';
import { campaignConfigSchema, type AttemptOutcome, type CampaignConfig } from './campaign-config.js';
import { decideRetry } from './retry.js';
import { dialableAt, nextDialableAt, type Schedule } from './windows.js';
import type { AgentFigure } from './agent-figures.js';
import { decideLaunches, type PacerDecision, type PacerState } from './pacer.js';
import { loadPacerState } from './pacer-state.js';
import { releaseExpiredPreviews } from './preview.js';

/** Outbox kind: a dialer attempt's outcome on its way to the contact's journey. */
export const JOURNEY_DIALER_OUTCOME_OUTBOX_KIND = 'journey.dialer-outcome';

export interface ClaimRequest {
  campaignId: string;
  /** Agents of the campaign's queue who could take a call now (telephony's roster). */
  readyAgents: number;
  /** At most this many launches, whatever the pacing says. */
  maxLaunches?: number;
  /** The queue's agents one by one (predictive campaigns pace by them with the pacer). */
  agents?: readonly AgentFigure[];
  /** How long an attempt rings before it is given up (the pacer's look-ahead). */
  ringTimeoutMs?: number;
  /** How long an attempt may stay `dialing` without an outcome before the task is dialled again. */
  leaseMs: number;
  /**
   * The same for every run of one claim (the campaign workflow's run and tick). A claim repeated
   * under its key, because the workflow task that asked for it was lost with its worker before
   * the launches were recorded, returns the tasks that claim took, still dialing, and claims none.
   */
  claimKey?: string;
}

export interface ClaimedTask {
  taskId: string;
  attemptId: string;
  /** Attempts including this one. */
  attempt: number;
  phone: string;
  name: string | null;
}

export interface ClaimResult {
  /** The campaign's stored state; nothing is claimed unless active. `missing`: deleted. */
  campaignState: 'active' | 'paused' | 'stopped' | 'missing';
  claimed: ClaimedTask[];
  /** Due tasks found outside their windows and moved to their next window. */
  deferred: number;
  /** Tasks whose lease ran out, returned to pending. */
  expired: number;
  /** Tasks dialing for this campaign after the claim. */
  dialing: number;
  /** Tasks done in the last 60 s (answered and handed to an agent). */
  connectedLastMinute: number;
  /** Launches the pacing allowed this time. */
  limit: number;
  /** Predictive campaigns: what the pacer decided and why. */
  pacer?: { mode: PacerDecision['mode']; reason: string; launch: number; figures: PacerDecision['figures'] };
  /** The live figures stored with this tick (active campaigns whose agents were read). */
  figures?: CampaignFigures;
  /** What the attempts need from the campaign (absent when it is missing). */
  callerId?: string;
  queue?: string;
  mode?: CampaignConfig['mode'];
  /** Predictive: an answered call with no agent connected within this many seconds is abandoned. */
  connectSeconds?: number;
  /** How long the attempts ring: the campaign's own ring timeout, else the hub's. */
  ringTimeoutMs?: number;
  /** The campaign's own interval between decisions; absent: the hub's. */
  decisionIntervalMs?: number;
}

/** A campaign's live figures at one tick, from the pacer's state (stored on the campaign, served by the API). */
export interface CampaignFigures {
  /** Calls ringing after this tick's launches per ready agent (ready agents counted as at least 1). */
  dialLevel: number;
  /** Estimated answer probability (recent calls, with a prior). */
  answerRate: number;
  /** Abandoned / answered over the campaign window (the last 24 h). */
  abandonRate: number;
  /** Agents talking or wrapping up / logged-in agents. */
  occupancy: number;
  /** How this tick decided: predictive (the pacer's mode and reason) or one call per ready agent. */
  pacing: string;
  agents: { loggedIn: number; ready: number };
  /** `ahead`: launches beyond one per ready agent without a call in flight (what progressive would have dialled). */
  calls: { ringing: number; waiting: number; launched: number; ahead: number };
  window: { answered: number; abandoned: number };
}

/**
 * How many calls to launch now. Progressive (and predictive until its pacer runs here): one call per
 * ready agent who has no call in flight for them already. Preview dials nothing by itself (the agent
 * starts each call). With a CRM write budget, every call that may still be answered counts as
 * answered: connected in the last minute + dialing + new <= budget.
 */
export function launchLimit(
  config: Pick<CampaignConfig, 'mode' | 'crmWritesPerMinute'>,
  request: Pick<ClaimRequest, 'readyAgents' | 'maxLaunches'>,
  now: { dialing: number; connected: number },
): number {
  if (config.mode === 'preview') return 0;
  let limit = Math.max(0, Math.floor(request.readyAgents) - now.dialing);
  if (config.crmWritesPerMinute !== undefined) limit = Math.min(limit, Math.max(0, Math.floor(config.crmWritesPerMinute) - now.connected - now.dialing));
  if (request.maxLaunches !== undefined) limit = Math.min(limit, Math.max(0, Math.floor(request.maxLaunches)));
  return limit;
}

export type AttemptResult = AttemptOutcome | 'connected';

export interface OutcomeReport {
  taskId: string;
  attemptId: string;
  outcome: AttemptResult;
  endedAt: Date;
  callId?: string;
  agentId?: string;
  /** Words from telephony (SIP status, reason), kept with a failure. */
  detail?: string;
}

export type OutcomeApplied =
  | { applied: true; state: 'done' }
  | { applied: true; state: 'pending'; retryAt: string }
  | { applied: true; state: 'failed'; reason: string }
  | { applied: false; reason: string };

/** The dialer outcome the contact's journey hears. */
export interface DialerOutcomeEvent {
  campaign: string;
  taskId: string;
  attemptId: string;
  attempt: number;
  callId?: string;
  outcome: AttemptResult;
  at: string;
  agentId?: string;
  /** What the dialer does next: done, retry at, or failed with the reason. */
  next: { state: 'done' } | { state: 'pending'; retryAt: string } | { state: 'failed'; reason: string };
}

type Tx = Parameters<Parameters<Db['$transaction']>[0]>[0];

interface TaskRow {
  id: string;
  phones: string[];
  name: string | null;
  time_zones: string[];
  attempts: number;
  created_at: Date;
}

export function scheduleOf(config: CampaignConfig, timeZones: readonly string[]): Schedule {
  return { contactZones: timeZones, dialingWindows: config.dialingWindows, workSchedule: config.workSchedule };
}

/** The phone an attempt dials: the task's numbers in turn. */
export function phoneForAttempt(phones: readonly string[], attempt: number): string {
  return phones[(attempt - 1) % phones.length] as string;
}

export class DialerAttempts {
  constructor(
    private readonly db: Db,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    return this.db.$transaction(async (tx) => {
      const [campaign] = await tx.$queryRaw<{ state: 'active' | 'paused' | 'stopped'; config: unknown; default_region: string }[]>`
        SELECT c.state, c.config, p.default_region FROM campaigns c JOIN projects p ON p.id = c.project_id
        WHERE c.id = ${request.campaignId}::uuid FOR UPDATE OF c`;
      if (campaign === undefined) return { campaignState: 'missing', claimed: [], deferred: 0, expired: 0, dialing: 0, connectedLastMinute: 0, limit: 0 };
      const config = campaignConfigSchema.parse(campaign.config);
      const now = this.now();
      const expired = await this.expireLeases(tx, request.campaignId, config, now);
      // Preview holds that ran out, and every hold once the campaign is no longer a preview one.
      await releaseExpiredPreviews(tx, request.campaignId, config.mode === 'preview' ? now : new Date(8.64e15));
      const counts = async () => {
        const [row] = await tx.$queryRaw<{ dialing: number; connected: number }[]>`
          SELECT count(*) FILTER (WHERE state = 'dialing')::int AS dialing,
                 count(*) FILTER (WHERE state = 'done' AND last_outcome = 'connected' AND updated_at > ${new Date(now.getTime() - 60_000)})::int AS connected
          FROM dialer_tasks WHERE campaign_id = ${request.campaignId}::uuid AND state IN ('dialing', 'done')`;
        return { dialing: row?.dialing ?? 0, connected: row?.connected ?? 0 };
      };
      const before = await counts();
      let limit = campaign.state === 'active' ? launchLimit(config, request, before) : 0;
      let pacer: ClaimResult['pacer'];
      let paced: { state: PacerState; decision: PacerDecision } | undefined;
      if (campaign.state === 'active' && config.mode !== 'preview' && request.agents !== undefined) {
        const state = await loadPacerState(tx, {
          campaignId: request.campaignId, config, agents: request.agents, now,
          ringTimeoutMs: ringTimeoutMs(config, request.ringTimeoutMs), wrapUpSeconds: await wrapUpSeconds(tx, request.campaignId, config.queue),
        });
        // Progressive campaigns read the same state for their figures; only predictive ones follow the decision.
        const decision = decideLaunches(state);
        paced = { state, decision };
        if (config.mode === 'predictive') {
          pacer = { mode: decision.mode, reason: decision.reason, launch: decision.launch, figures: decision.figures };
          limit = request.maxLaunches === undefined ? decision.launch : Math.min(decision.launch, Math.max(0, Math.floor(request.maxLaunches)));
        }
      }
      const result: ClaimResult = {
        campaignState: campaign.state, claimed: [], deferred: 0, expired, dialing: before.dialing, connectedLastMinute: before.connected, limit,
        callerId: e164OrAsGiven(config.callerId, campaign.default_region), queue: config.queue, mode: config.mode,
        ...(config.mode === 'predictive' ? { connectSeconds: config.pacing.connectSeconds } : {}),
        ringTimeoutMs: ringTimeoutMs(config, request.ringTimeoutMs),
        ...(config.decisionIntervalSeconds === undefined ? {} : { decisionIntervalMs: config.decisionIntervalSeconds * 1000 }),
        ...(pacer === undefined ? {} : { pacer }),
      };
      const claimedBefore = request.claimKey === undefined ? [] : await this.claimedUnder(tx, request.campaignId, request.claimKey);
      if (claimedBefore.length > 0) {
        // Already counted as dialing: launched now, under the attempt ids they were given then.
        result.claimed.push(...claimedBefore);
      } else if (limit > 0) {
        await this.claimDue(tx, request, config, now, limit, result);
        result.dialing += result.claimed.length;
      }
      if (paced !== undefined) {
        const progressive = launchLimit({ mode: 'progressive', crmWritesPerMinute: undefined }, request, before);
        result.figures = figuresOf(paced.state, paced.decision, { launched: result.claimed.length, progressive }, pacer ? `${pacer.mode}: ${pacer.reason}` : 'progressive: one call per ready agent');
        await tx.$executeRaw`
          UPDATE campaigns SET figures = ${JSON.stringify(result.figures)}::jsonb, figures_at = ${now} WHERE id = ${request.campaignId}::uuid`;
      }
      return result;
    });
  }

  /** Records that an attempt's call was answered (once; the pacer then counts it as waiting, not ringing). */
  async markAnswered(attemptId: string, answeredAt: Date): Promise<void> {
    await this.db.$executeRaw`
      UPDATE dialer_attempts SET answered_at = ${answeredAt} WHERE id = ${attemptId}::uuid AND answered_at IS NULL AND ended_at IS NULL`;
  }

  /** The tasks a claim under `claimKey` took that are still dialing for the attempt it gave them. */
  private async claimedUnder(tx: Tx, campaignId: string, claimKey: string): Promise<ClaimedTask[]> {
    const rows = await tx.$queryRaw<{ task_id: string; attempt_id: string; attempt: number; phone: string; name: string | null }[]>`
      SELECT a.task_id, a.id AS attempt_id, a.attempt, a.phone, t.name
      FROM dialer_attempts a JOIN dialer_tasks t ON t.id = a.task_id
      WHERE a.campaign_id = ${campaignId}::uuid AND a.claim_key = ${claimKey} AND t.state = 'dialing' AND t.attempt_id = a.id
      ORDER BY a.launched_at, a.id`;
    return rows.map((row) => ({ taskId: row.task_id, attemptId: row.attempt_id, attempt: row.attempt, phone: row.phone, name: row.name }));
  }

  /** Locks up to `limit` due tasks and makes those inside their windows dialing (see the file header). */
  private async claimDue(tx: Tx, request: ClaimRequest, config: CampaignConfig, now: Date, limit: number, result: ClaimResult): Promise<void> {
    const due = await tx.$queryRaw<TaskRow[]>`
      SELECT id, phones, name, time_zones, attempts, created_at FROM dialer_tasks
      WHERE campaign_id = ${request.campaignId}::uuid AND state = 'pending' AND next_attempt_at <= ${now}
      ORDER BY priority DESC, next_attempt_at, id
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED`;
    for (const task of due) {
      // The moment of dialing decides, not the moment the task was scheduled.
      const schedule = scheduleOf(config, task.time_zones);
      if (!dialableAt(now, schedule)) {
        const next = nextDialableAt(now, schedule);
        result.deferred += 1;
        if (next === undefined) {
          await tx.$executeRaw`
            UPDATE dialer_tasks SET state = 'failed', failure_reason = 'the dialing windows never open for this contact', updated_at = now()
            WHERE id = ${task.id}::uuid`;
        } else {
          await tx.$executeRaw`UPDATE dialer_tasks SET next_attempt_at = ${next}, updated_at = now() WHERE id = ${task.id}::uuid`;
        }
        continue;
      }
      const attemptId = randomUUID();
      const leaseUntil = new Date(now.getTime() + request.leaseMs);
      await tx.$executeRaw`
        UPDATE dialer_tasks SET state = 'dialing', attempts = attempts + 1, attempt_id = ${attemptId}::uuid,
          lease_until = ${leaseUntil}, last_attempt_at = ${now}, updated_at = now()
        WHERE id = ${task.id}::uuid`;
      const attempt = task.attempts + 1;
      const phone = phoneForAttempt(task.phones, attempt);
      await tx.$executeRaw`
        INSERT INTO dialer_attempts (id, campaign_id, task_id, attempt, phone, launched_at, claim_key)
        VALUES (${attemptId}::uuid, ${request.campaignId}::uuid, ${task.id}::uuid, ${attempt}, ${phone}, ${now}, ${request.claimKey ?? null})`;
      result.claimed.push({ taskId: task.id, attemptId, attempt, phone, name: task.name });
    }
  }

  /** Applies an attempt's outcome once; see the file header. */
  async recordOutcome(report: OutcomeReport): Promise<OutcomeApplied> {
    return this.db.$transaction(async (tx) => {
      const [task] = await tx.$queryRaw<(TaskRow & { project_id: string; state: string; attempt_id: string | null; config: unknown; campaign: string })[]>`
        SELECT t.id, t.project_id, t.phones, t.name, t.time_zones, t.attempts, t.created_at, t.state, t.attempt_id, c.config, c.name AS campaign
        FROM dialer_tasks t JOIN campaigns c ON c.id = t.campaign_id
        WHERE t.id = ${report.taskId}::uuid FOR UPDATE OF t`;
      if (task === undefined) return { applied: false, reason: 'no such task' };
      if (task.state !== 'dialing' || task.attempt_id !== report.attemptId) {
        return { applied: false, reason: `task is ${task.state}${task.attempt_id ? ` for attempt ${task.attempt_id}` : ''}, not dialing for attempt ${report.attemptId}` };
      }
      const config = campaignConfigSchema.parse(task.config);
      await tx.$executeRaw`
        UPDATE dialer_attempts SET ended_at = ${report.endedAt}, outcome = ${report.outcome}, agent_id = ${report.agentId ?? null}
        WHERE id = ${report.attemptId}::uuid`;
      let next: DialerOutcomeEvent['next'];
      if (report.outcome === 'connected') {
        next = { state: 'done' };
        await tx.$executeRaw`
          UPDATE dialer_tasks SET state = 'done', last_outcome = 'connected', attempt_id = NULL, lease_until = NULL, updated_at = now()
          WHERE id = ${task.id}::uuid`;
      } else {
        next = await applyRetry(tx, task, config, report.outcome, report.endedAt, report.detail);
      }
      const event: DialerOutcomeEvent = {
        campaign: task.campaign,
        taskId: task.id,
        attemptId: report.attemptId,
        attempt: task.attempts,
        outcome: report.outcome,
        at: report.endedAt.toISOString(),
        next,
        ...(report.callId === undefined ? {} : { callId: report.callId }),
        ...(report.agentId === undefined ? {} : { agentId: report.agentId }),
      };
      const phone = phoneForAttempt(task.phones, task.attempts);
      await tx.outboxEntry.create({
        data: {
          projectId: task.project_id,
          kind: JOURNEY_DIALER_OUTCOME_OUTBOX_KIND,
          workflowId: journeyWorkflowId(task.project_id, phone),
          payload: { projectId: task.project_id, phone, event: JSON.parse(JSON.stringify(event)) as object },
        },
      });
      if (next.state === 'done') return { applied: true, state: 'done' };
      if (next.state === 'pending') return { applied: true, state: 'pending', retryAt: next.retryAt };
      return { applied: true, state: 'failed', reason: next.reason };
    });
  }

  /**
   * Dialing tasks whose lease ran out: the attempt's outcome never came back (a worker or the
   * telephony process died mid-call). Treated as a failed attempt: back to pending after the
   * campaign's retry delay for "failed", so the number is not rung again at once.
   */
  private async expireLeases(tx: Tx, campaignId: string, config: CampaignConfig, now: Date): Promise<number> {
    const stale = await tx.$queryRaw<(TaskRow & { attempt_id: string | null })[]>`
      SELECT id, phones, name, time_zones, attempts, created_at, attempt_id FROM dialer_tasks
      WHERE campaign_id = ${campaignId}::uuid AND state = 'dialing' AND lease_until < ${now}
      FOR UPDATE SKIP LOCKED`;
    for (const task of stale) {
      if (task.attempt_id !== null) await tx.$executeRaw`UPDATE dialer_attempts SET ended_at = ${now}, outcome = 'lost' WHERE id = ${task.attempt_id}::uuid`;
      await applyRetry(tx, task, config, 'failed', now, 'the attempt did not report back before its lease ran out');
    }
    return stale.length;
  }
}

/** The figures of one tick: the pacer state's agents, calls and window, with this tick's launches. */
export function figuresOf(state: PacerState, decision: PacerDecision, launches: { launched: number; progressive: number }, pacing: string): CampaignFigures {
  const { launched } = launches;
  const ready = state.agents.filter((agent) => agent.activity === 'ready').length;
  return {
    dialLevel: (state.ringingSeconds.length + launched) / Math.max(1, ready),
    answerRate: decision.figures.answerRate,
    abandonRate: decision.figures.abandonRate,
    occupancy: decision.figures.occupancy,
    pacing,
    agents: { loggedIn: state.agents.length, ready },
    calls: { ringing: state.ringingSeconds.length, waiting: state.waitingSeconds.length, launched, ahead: Math.max(0, launched - launches.progressive) },
    window: { ...state.window },
  };
}

/** How long a campaign's attempts ring: its own setting, else the hub's (`fallbackMs`), else 25 s. */
export function ringTimeoutMs(config: Pick<CampaignConfig, 'ringTimeoutSeconds'>, fallbackMs: number | undefined): number {
  return config.ringTimeoutSeconds !== undefined ? config.ringTimeoutSeconds * 1000 : (fallbackMs ?? 25_000);
}

/** The wrap-up of the campaign's queue, in seconds (0 when the queue is gone). */
async function wrapUpSeconds(tx: Tx, campaignId: string, queue: string): Promise<number> {
  const [row] = await tx.$queryRaw<{ definition: { wrapUpMs?: number } }[]>`
    SELECT f.definition FROM call_flows f JOIN campaigns c ON c.project_id = f.project_id
    WHERE c.id = ${campaignId}::uuid AND f.kind = 'queue' AND f.name = ${queue}`;
  return (row?.definition.wrapUpMs ?? 0) / 1000;
}

/** The caller ID as E.164 (the campaign was validated with it readable in the project's region). */
export function e164OrAsGiven(number: string, region: string): string {
  const normalized = normalizePhone(number, region);
  return normalized.ok ? normalized.e164 : number;
}

async function applyRetry(tx: Tx, task: TaskRow, config: CampaignConfig, outcome: AttemptOutcome, endedAt: Date, detail: string | undefined): Promise<DialerOutcomeEvent['next']> {
  const decision = decideRetry({ outcome, attempts: task.attempts, endedAt, taskCreatedAt: task.created_at }, config.retry, scheduleOf(config, task.time_zones));
  if ('stop' in decision) {
    const reason = detail === undefined ? decision.stop : `${decision.stop}; last attempt: ${detail}`;
    await tx.$executeRaw`
      UPDATE dialer_tasks SET state = 'failed', last_outcome = ${outcome}, failure_reason = ${reason}, attempt_id = NULL, lease_until = NULL, updated_at = now()
      WHERE id = ${task.id}::uuid`;
    return { state: 'failed', reason };
  }
  await tx.$executeRaw`
    UPDATE dialer_tasks SET state = 'pending', last_outcome = ${outcome}, next_attempt_at = ${decision.retryAt}, attempt_id = NULL, lease_until = NULL, updated_at = now()
    WHERE id = ${task.id}::uuid`;
  return { state: 'pending', retryAt: decision.retryAt.toISOString() };
}
