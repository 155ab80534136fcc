// Calls a contact: places the call through the project's trunks, then either hangs up after a
// while or hands it to an agent. Activities on the live call run on the task queue of the
// telephony worker that placed it (see telephony/activities.ts).
import { proxyActivities, sleep } from '@temporalio/workflow';
import type { PlaceCallOutput, TelephonyActivities } from '../../telephony/activities.js';
import type { CallContactInput } from './shared.js';

export async function callContact(input: CallContactInput): Promise<PlaceCallOutput & { then?: unknown }> {
  // Not retried: a second placement would ring the contact again.
  const { placeCall } = proxyActivities<TelephonyActivities>({
    taskQueue: input.telephonyTaskQueue,
    startToCloseTimeout: input.ringTimeoutMs * 4 + 30_000,
    heartbeatTimeout: '10 seconds',
    retry: { maximumAttempts: 1 },
  });
  const placed = await placeCall({ projectId: input.projectId, callId: input.callId, to: input.to, callerId: input.callerId, ringTimeoutMs: input.ringTimeoutMs });
  if (placed.outcome !== 'answered') return placed;
  // The call lives in the placing worker; a short schedule-to-start says "that worker is gone".
  const onCall = proxyActivities<TelephonyActivities>({
    taskQueue: placed.taskQueue,
    scheduleToStartTimeout: '30 seconds',
    startToCloseTimeout: '1 hour',
    heartbeatTimeout: '10 seconds',
    retry: { maximumAttempts: 3 },
  });
  if ('hangupAfterMs' in input.then) {
    await sleep(input.then.hangupAfterMs);
    return { ...placed, then: await onCall.hangupCall(input.callId) };
  }
  return { ...placed, then: await onCall.bridgeToAgent(input.callId, input.then.queue, input.then.preferredAgent) };
}
