// One callback: a durable timer until it is due, then the owning agent alone for the owner window
// (called as soon as the owner is ready), then any agent of the queue; the contact is called only
// once an agent who can take the call is ready, and handed to that agent (the owner preferred).
// A contact who is busy or lets it ring out is called again after a wait (options.retry: by
// default up to 3 calls, 10 minutes apart; a busy line may have its own wait), owner first again; the callback is `scheduled` (and
// cancellable) meanwhile, its outcome saying which call it was. Any other outcome ends it.
// A cancel signal (sent through the outbox when the API cancels it) ends it before the call.
import { ActivityFailure, condition, patched, proxyActivities, proxyLocalActivities, setHandler, sleep } from '@temporalio/workflow';
import { activitiesOnCall } from '../calls/on-call.js';
import type { PlaceCallOutput, TelephonyActivities } from '../../telephony/activities.js';
import type { AgentFigureActivities, QueueAgentFigures } from '../../telephony/dialer/agent-figures.js';
import type { CallbackActivities } from './activities.js';
import { callbackPhaseQuery, cancelCallbackSignal, defaultCallbackRetry, type CallbackInput, type CallbackPhase } from './shared.js';

const { moveCallback, callbackDue } = proxyLocalActivities<CallbackActivities>({
  startToCloseTimeout: '20 seconds',
  retry: { maximumInterval: '10 seconds' },
});

type CallbackResult = { phase: CallbackPhase; handledBy?: string; outcome?: string };

export async function callback(input: CallbackInput): Promise<CallbackResult> {
  let cancelled = false;
  let phase: CallbackPhase = 'scheduled';
  setHandler(cancelCallbackSignal, () => {
    cancelled = true;
  });
  setHandler(callbackPhaseQuery, () => phase);
  const { queueAgentFigures } = proxyActivities<AgentFigureActivities>({
    taskQueue: input.options.telephonyTaskQueue,
    scheduleToStartTimeout: '10 seconds',
    startToCloseTimeout: '10 seconds',
    retry: { maximumAttempts: 1 },
  });
  const figures = async (): Promise<QueueAgentFigures | undefined> => {
    try {
      return await queueAgentFigures({ projectId: input.projectId, queue: input.queue });
    } catch {
      // No telephony for the project right now: nobody can be offered the call; look again later.
      return undefined;
    }
  };
  const wait = (ms: number) => condition(() => cancelled, Math.max(1, ms));
  const move = async (from: CallbackPhase[], to: CallbackPhase, details: { handledBy?: string; outcome?: string } = {}): Promise<boolean> => {
    const moved = await moveCallback({ callbackId: input.callbackId, from, to, ...details });
    if (moved) phase = to;
    return moved;
  };
  const cancelledResult = () => ({ phase: 'cancelled' as const });

  // A durable timer until the callback is due (the database's clock says how long).
  const due = await callbackDue({ callbackId: input.callbackId });
  if (due.state !== 'scheduled') return { phase: due.state === 'missing' ? 'cancelled' : due.state };
  if (due.dueInMs > 0) await wait(due.dueInMs);
  if (cancelled) return cancelledResult();

  const retry = input.retry ?? input.options.retry ?? defaultCallbackRetry;
  for (let attempt = 1; ; attempt += 1) {
    const result = await callOnce(attempt);
    if (!('unanswered' in result)) return result;
    // Busy or rang out with calls left: back to scheduled (cancellable), the same steps after the wait.
    // Callbacks whose history predates retries ended here as failed, and replay the same way.
    if (attempt < retry.maxAttempts && patched('callback-retries')) {
      const waitMs = result.busy ? (retry.busyRetryAfterMs ?? retry.retryAfterMs) : retry.retryAfterMs;
      const outcome = `${result.unanswered}; call ${attempt} of ${retry.maxAttempts}, the next in ${Math.round(waitMs / 1000)} s`;
      if (!(await move(['dialing'], 'scheduled', { outcome }))) return cancelledResult();
      await wait(waitMs);
      if (cancelled) return cancelledResult();
      continue;
    }
    const outcome = attempt > 1 ? `${result.unanswered}; call ${attempt} of ${retry.maxAttempts}, no more calls` : result.unanswered;
    await move(['dialing'], 'failed', { outcome });
    return { phase, outcome };
  }

  /** Owner first for the owner window, then the queue; one call; the final result, or how it went unanswered. */
  async function callOnce(attempt: number): Promise<CallbackResult | { unanswered: string; busy: boolean }> {
    let preferred: string | undefined;
    if (input.agent !== undefined) {
      if (!(await move(['scheduled'], 'waiting_owner'))) return cancelledResult();
      let windowOver = false;
      void sleep(input.ownerWindowSeconds * 1000).then(() => {
        windowOver = true;
      });
      while (!cancelled && !windowOver) {
        const now = await figures();
        if (now?.agents.some((agent) => agent.id === input.agent && agent.offerable)) {
          preferred = input.agent;
          break;
        }
        await condition(() => cancelled || windowOver, input.options.pollMs);
      }
      if (cancelled) return cancelledResult();
    }
    if (preferred === undefined) {
      if (!(await move(['scheduled', 'waiting_owner'], 'waiting_queue'))) return cancelledResult();
      for (;;) {
        const now = await figures();
        if ((now?.ready ?? 0) > 0) break;
        await wait(input.options.pollMs);
        if (cancelled) return cancelledResult();
      }
    }
    if (!(await move(['waiting_owner', 'waiting_queue'], 'dialing'))) return cancelledResult();

    // Not retried: a second placement would ring the contact again. Each call has its own id.
    const { placeCall } = proxyActivities<TelephonyActivities>({
      taskQueue: input.options.telephonyTaskQueue,
      scheduleToStartTimeout: '30 seconds',
      startToCloseTimeout: input.options.ringTimeoutMs * 4 + 30_000,
      heartbeatTimeout: '10 seconds',
      retry: { maximumAttempts: 1 },
    });
    const callId = attempt === 1 ? `callback-${input.callbackId}` : `callback-${input.callbackId}-${attempt}`;
    let placed: PlaceCallOutput;
    try {
      // Telephony offers the answered call at once (owner first when found ready); bridgeToAgent reports how it went.
      placed = await placeCall({
        projectId: input.projectId, callId, to: input.phone, callerId: input.callerId, ringTimeoutMs: input.options.ringTimeoutMs,
        connect: { queue: input.queue, ...(preferred === undefined ? {} : { preferredAgent: preferred }) },
      });
    } catch (error) {
      const outcome = `the call could not be placed: ${failureMessage(error)}`;
      await move(['dialing'], 'failed', { outcome });
      return { phase, outcome };
    }
    if (placed.outcome !== 'answered') {
      const outcome = `${placed.outcome}${placed.sipStatus === undefined ? '' : ` (${placed.sipStatus})`}`;
      if (placed.outcome === 'busy' || placed.outcome === 'no-answer') return { unanswered: outcome, busy: placed.outcome === 'busy' };
      await move(['dialing'], 'failed', { outcome });
      return { phase, outcome };
    }
    const onCall = activitiesOnCall(placed.taskQueue, { maximumAttempts: 1 });
    try {
      const bridged = await onCall.bridgeToAgent(callId, input.queue, preferred);
      if (bridged.outcome === 'connected' && bridged.agentId !== undefined) {
        await move(['dialing'], 'done', { handledBy: bridged.agentId, outcome: 'connected' });
        return { phase, handledBy: bridged.agentId, outcome: 'connected' };
      }
      const outcome = `answered, no agent took it (${bridged.outcome})`;
      await move(['dialing'], 'failed', { outcome });
      return { phase, outcome };
    } catch (error) {
      const outcome = `answered, the hand-over to an agent failed: ${failureMessage(error)}`;
      await move(['dialing'], 'failed', { outcome });
      return { phase, outcome };
    }
  }
}

function failureMessage(error: unknown): string {
  if (error instanceof ActivityFailure) return error.cause?.message ?? error.message;
  return error instanceof Error ? error.message : String(error);
}
