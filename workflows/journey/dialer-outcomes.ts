// What the dialer tells a contact's journey: each campaign attempt's outcome and what the dialer
// does next (done, retry at, failed with the reason), signalled through the outbox when the outcome
// is stored (telephony/dialer/attempts.ts). Pure and deterministic: runs inside the journey workflow.
import { defineSignal } from '@temporalio/workflow';
import type { DialerOutcomeEvent } from '../../telephony/dialer/attempts.js';

export type { DialerOutcomeEvent };

export const dialerOutcomeSignal = defineSignal<[DialerOutcomeEvent]>('dialerOutcome');

/** Dialer outcomes remembered in the state. */
export const MAX_DIALER_OUTCOMES_IN_STATE = 20;

/** Folds an outcome into the list (most recent first); a redelivered one (same attempt) changes nothing. */
export function recordDialerOutcome(outcomes: DialerOutcomeEvent[], payload: unknown): void {
  if (typeof payload !== 'object' || payload === null) return;
  const event = payload as DialerOutcomeEvent;
  if (typeof event.attemptId !== 'string' || typeof event.taskId !== 'string') return;
  if (outcomes.some((known) => known.attemptId === event.attemptId)) return;
  outcomes.unshift(event);
  if (outcomes.length > MAX_DIALER_OUTCOMES_IN_STATE) outcomes.length = MAX_DIALER_OUTCOMES_IN_STATE;
}
