// A campaign's dialer: one workflow per campaign (campaign/<projectId>/<name>), steered by the
// campaignState signal the outbox delivers when the API pauses, resumes or stops the campaign.
// Active: every tick it reads the queue's agents from telephony, claims due tasks for the launches
// the pacing allows (the claim re-checks each task's dialing window at that moment) and starts one
// dialAttempt workflow per claimed task. Paused: nothing is claimed. Stopped (or deleted): it ends;
// attempts already ringing finish on their own and report their outcome.
import {
  patched,
  ActivityFailure,
  ParentClosePolicy,
  WorkflowIdReusePolicy,
  condition,
  continueAsNew,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  startChild,
  workflowInfo,
  log,
} from '@temporalio/workflow';
import { activitiesOnCall } from '../calls/on-call.js';
import type { AgentFigureActivities, QueueAgentFigures } from '../../telephony/dialer/agent-figures.js';
import type { BridgeOutput, PlaceCallOutput, TelephonyActivities } from '../../telephony/activities.js';
import type { AttemptResult } from '../../telephony/dialer/attempts.js';
import type { CampaignActivities } from './activities.js';
import {
  ABANDON_PROMPT,
  campaignStateSignal,
  campaignStatusQuery,
  defaultCampaignDialerOptions,
  dialAttemptWorkflowId,
  type CampaignDialerInput,
  type CampaignRunState,
  type CampaignStatus,
  type CampaignTotals,
  type DialAttemptInput,
} from './shared.js';

const { claimDueTasks } = proxyLocalActivities<CampaignActivities>({
  startToCloseTimeout: '20 seconds',
  retry: { maximumInterval: '10 seconds' },
});

export async function campaignDialer(input: CampaignDialerInput): Promise<CampaignTotals & { state: CampaignRunState | 'deleted' }> {
  let state: CampaignRunState = input.state;
  const totals: CampaignTotals = input.totals ?? { ticks: 0, launched: 0, deferred: 0, expired: 0 };
  let dialing = 0;
  let readyAgents: number | string = 'not read yet';
  let pacing = 'not started';
  setHandler(campaignStateSignal, (signal) => {
    state = signal.state;
  });
  setHandler(campaignStatusQuery, (): CampaignStatus => ({ ...totals, state, dialing, readyAgents, pacing }));

  const { queueAgentFigures } = proxyActivities<AgentFigureActivities>({
    taskQueue: input.options.telephonyTaskQueue,
    scheduleToStartTimeout: '10 seconds',
    startToCloseTimeout: '10 seconds',
    retry: { maximumAttempts: 1 },
  });

  let queue: string | undefined;
  for (;;) {
    if (state === 'stopped') return { ...totals, state };
    if (state === 'paused') {
      await condition(() => state !== 'paused');
      continue;
    }
    let figures: QueueAgentFigures | undefined;
    if (queue !== undefined) {
      try {
        figures = await queueAgentFigures({ projectId: input.projectId, queue });
        readyAgents = figures.ready;
      } catch (error) {
        // No telephony for the project right now: nobody to hand calls to, so nothing is dialled.
        readyAgents = error instanceof ActivityFailure ? (error.cause?.message ?? error.message) : String(error);
      }
    }
    const claim = await claimDueTasks({
      // A claim repeated after its worker died (the local activity runs again) finds what it took.
      claimKey: `${workflowInfo().runId}/${totals.ticks}`,
      campaignId: input.campaignId, readyAgents: figures?.ready ?? 0, agents: figures?.agents ?? [], ringTimeoutMs: input.options.ringTimeoutMs, leaseMs: input.options.attemptLeaseMs,
    });
    pacing = claim.pacer ? `${claim.pacer.mode}: ${claim.pacer.reason}` : `${claim.mode ?? 'unknown'}: one call per ready agent`;
    totals.ticks += 1;
    totals.deferred += claim.deferred;
    if (claim.figures !== undefined && claim.figures.calls.ahead > 0) totals.launchedAhead = (totals.launchedAhead ?? 0) + claim.figures.calls.ahead;
    totals.expired += claim.expired;
    dialing = claim.dialing;
    if (claim.campaignState === 'missing') return { ...totals, state: 'deleted' };
    // The stored state wins over a signal still on its way.
    if (claim.campaignState !== state) {
      state = claim.campaignState;
      continue;
    }
    queue = claim.queue;
    for (const task of claim.claimed) {
      const attempt: DialAttemptInput = {
        projectId: input.projectId,
        campaign: input.name,
        taskId: task.taskId,
        attemptId: task.attemptId,
        attempt: task.attempt,
        phone: task.phone,
        callerId: claim.callerId as string,
        queue: claim.queue as string,
        ringTimeoutMs: claim.ringTimeoutMs ?? input.options.ringTimeoutMs,
        telephonyTaskQueue: input.options.telephonyTaskQueue,
        ...(claim.connectSeconds === undefined ? {} : { connectSeconds: claim.connectSeconds }),
      };
      // Abandoned, not cancelled, when this run ends: a call in progress finishes and reports.
      await startChild(dialAttempt, {
        workflowId: dialAttemptWorkflowId(input.projectId, task.attemptId),
        args: [attempt],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      });
      totals.launched += 1;
    }
    if (claim.claimed.length > 0) log.info('campaign launched attempts', { campaign: input.name, launched: claim.claimed.length, dialing: claim.dialing });
    await condition(() => state !== 'active', claim.decisionIntervalMs ?? input.options.tickMs);
    if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > (input.options.maxHistoryLength ?? defaultCampaignDialerOptions.maxHistoryLength)) {
      await continueAsNew<typeof campaignDialer>({ ...input, state, totals });
    }
  }
}

/**
 * One attempt of one task: place the call (telephony hands it to the campaign's queue the moment it
 * is answered; bridgeToAgent returns how that went), and report the outcome (applied once, only while the task is dialing for this attempt). The answer
 * is recorded beside the hand-over, so the pacer counts the call as waiting, not ringing. With
 * `connectSeconds` (predictive), the call is placed with media where the telephony process has it,
 * and one no agent took within `connectSeconds` of the answer hears the abandon message and is hung
 * up by telephony: abandoned.
 */
export async function dialAttempt(input: DialAttemptInput): Promise<{ outcome: AttemptResult; applied: boolean; detail?: string; abandonMessage?: string }> {
  const { recordAttemptOutcome } = proxyActivities<CampaignActivities>({
    startToCloseTimeout: '30 seconds',
    retry: { maximumInterval: '1 minute' },
  });
  const { markAttemptAnswered } = proxyLocalActivities<CampaignActivities>({
    startToCloseTimeout: '10 seconds',
    retry: { maximumInterval: '5 seconds', maximumAttempts: 5 },
  });
  // Not retried: a second placement would ring the contact again.
  const { placeCall } = proxyActivities<TelephonyActivities>({
    taskQueue: input.telephonyTaskQueue,
    scheduleToStartTimeout: '30 seconds',
    startToCloseTimeout: input.ringTimeoutMs * 4 + 30_000,
    heartbeatTimeout: '10 seconds',
    retry: { maximumAttempts: 1 },
  });
  const callId = `dial-${input.attemptId}`;
  let outcome: AttemptResult;
  let detail: string | undefined;
  let agentId: string | undefined;
  let placed: PlaceCallOutput | undefined;
  let abandonMessage: string | undefined;
  const ifNoAgent = input.connectSeconds === undefined ? undefined : { withinMs: input.connectSeconds * 1000, prompt: ABANDON_PROMPT };
  try {
    // Telephony hands the answered call to the queue itself (connect); bridgeToAgent below collects the outcome.
    placed = await placeCall({
      projectId: input.projectId, callId, to: input.phone, callerId: input.callerId, ringTimeoutMs: input.ringTimeoutMs,
      ...(ifNoAgent === undefined ? {} : { media: 'if-available' as const }),
      connect: { queue: input.queue, ...(input.preferredAgent === undefined ? {} : { preferredAgent: input.preferredAgent }), ...(ifNoAgent === undefined ? {} : { ifNoAgent }) },
    });
  } catch (error) {
    detail = `the call could not be placed: ${failureMessage(error)}`;
  }
  if (placed === undefined) {
    outcome = 'failed';
  } else if (placed.outcome === 'answered') {
    const onCall = activitiesOnCall(placed.taskQueue, { maximumAttempts: 1 });
    // A lost answer mark only makes the pacer see the call as ringing a little longer. Attempts
    // started by a build without the mark replay without it (patched).
    const answerMarked = placed.answeredAt === undefined || !patched('dialer-answer-mark') ? Promise.resolve()
      : markAttemptAnswered({ attemptId: input.attemptId, answeredAt: placed.answeredAt }).catch((error: unknown) => log.warn('answer not recorded', { callId, error: failureMessage(error) }));
    try {
      const bridged: BridgeOutput = await onCall.bridgeToAgent(callId, input.queue, input.preferredAgent, ifNoAgent);
      if (bridged.outcome === 'connected') {
        outcome = 'connected';
        agentId = bridged.agentId;
      } else {
        outcome = 'abandoned';
        detail = bridged.noAgent
          ? `answered, no agent within ${input.connectSeconds} s; message ${bridged.noAgent.message}; hung up ${(bridged.noAgent.hungUpAfterMs / 1000).toFixed(1)} s after the answer`
          : `answered, no agent took it (${bridged.outcome} after ${Math.round(bridged.waitedMs / 1000)} s)`;
        if (bridged.noAgent) abandonMessage = bridged.noAgent.message;
      }
    } catch (error) {
      outcome = 'abandoned';
      detail = `answered, the hand-over to an agent failed: ${failureMessage(error)}`;
    }
    await answerMarked;
  } else {
    outcome = placed.outcome === 'busy' ? 'busy' : placed.outcome === 'no-answer' ? 'no-answer' : 'failed';
    if (outcome === 'failed') detail = `${placed.outcome}${placed.sipStatus === undefined ? '' : ` ${placed.sipStatus}`}${placed.reason ? `: ${placed.reason}` : ''}`;
  }
  const applied = await recordAttemptOutcome({
    taskId: input.taskId,
    attemptId: input.attemptId,
    outcome,
    callId,
    ...(agentId === undefined ? {} : { agentId }),
    ...(detail === undefined ? {} : { detail }),
  });
  return { outcome, applied: applied.applied, ...(detail === undefined ? {} : { detail }), ...(abandonMessage === undefined ? {} : { abandonMessage }) };
}

function failureMessage(error: unknown): string {
  if (error instanceof ActivityFailure) return error.cause?.message ?? error.message;
  return error instanceof Error ? error.message : String(error);
}
