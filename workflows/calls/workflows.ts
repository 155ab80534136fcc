// Calls a contact: places the call through the project's trunks, then either hangs up after a
// while or hands it to an agent. Activities on the live call run on the task queue of the
// telephony worker that placed it (see telephony/activities.ts).
import { ActivityFailure, ApplicationFailure, proxyActivities, sleep } from '@temporalio/workflow';
import { activitiesOnCall } from './on-call.js';
import type { PlaceCallOutput, PlayAndCollectOutput, TelephonyActivities } from '../../telephony/activities.js';
import type { CallAndAskInput, CallContactInput } from './shared.js';

export async function callContact(input: CallContactInput): Promise<PlaceCallOutput & { then?: unknown }> {
  // Not retried: a second placement would ring the contact again.
  const { placeCall } = proxyActivities<TelephonyActivities>({
    taskQueue: input.telephonyTaskQueue,
    startToCloseTimeout: input.ringTimeoutMs * 4 + 30_000,
    heartbeatTimeout: '10 seconds',
    retry: { maximumAttempts: 1 },
  });
  const then = input.then;
  // A call for an agent is queued by telephony the moment it is answered; bridgeToAgent reports how it went.
  const connect = 'queue' in then ? { queue: then.queue, ...(then.preferredAgent === undefined ? {} : { preferredAgent: then.preferredAgent }) } : undefined;
  const placed = await placeCall({ projectId: input.projectId, callId: input.callId, to: input.to, callerId: input.callerId, ringTimeoutMs: input.ringTimeoutMs, ...(connect === undefined ? {} : { connect }) });
  if (placed.outcome !== 'answered') return placed;
  // The call lives in the placing worker; a short schedule-to-start says "that worker is gone".
  const onCall = activitiesOnCall(placed.taskQueue);
  if ('hangupAfterMs' in input.then) {
    await sleep(input.then.hangupAfterMs);
    return { ...placed, then: await onCall.hangupCall(input.callId) };
  }
  return { ...placed, then: await onCall.bridgeToAgent(input.callId, input.then.queue, input.then.preferredAgent) };
}

export interface CallAndAskOutput {
  placed: PlaceCallOutput;
  /** The keys pressed; absent when the call was not answered or ended before the answer was complete. */
  answer?: PlayAndCollectOutput;
  /** The callee hung up while the prompt played or the keys were awaited. */
  callEnded?: boolean;
}

/**
 * Calls a contact with media anchored, plays a prompt and collects the keys pressed (e.g. "press 1
 * to confirm your appointment"), then hangs up.
 */
export async function callAndAsk(input: CallAndAskInput): Promise<CallAndAskOutput> {
  const { placeCall } = proxyActivities<TelephonyActivities>({
    taskQueue: input.telephonyTaskQueue,
    startToCloseTimeout: input.ringTimeoutMs * 4 + 30_000,
    heartbeatTimeout: '10 seconds',
    retry: { maximumAttempts: 1 },
  });
  const placed = await placeCall({ projectId: input.projectId, callId: input.callId, to: input.to, callerId: input.callerId, ringTimeoutMs: input.ringTimeoutMs, media: true });
  if (placed.outcome !== 'answered') return { placed };
  const onCall = activitiesOnCall(placed.taskQueue, { startToCloseTimeout: '10 minutes' });
  try {
    const answer = await onCall.playAndCollect({ callId: input.callId, ...input.ask });
    await onCall.hangupCall(input.callId);
    return { placed, answer };
  } catch (error) {
    if (error instanceof ActivityFailure && error.cause instanceof ApplicationFailure && error.cause.type === 'CallNotLive') return { placed, callEnded: true };
    // Whatever went wrong, the callee is not left on a silent line.
    await onCall.hangupCall(input.callId);
    throw error;
  }
}
