// What starts and steers a callback's workflow. Safe to import from workflow code.
import { defineQuery, defineSignal } from '@temporalio/workflow';

export interface CallbackOptions {
  /** Where placeCall and the agent figures run (any telephony process). */
  telephonyTaskQueue: string;
  /** How often a due callback looks for its agent. */
  pollMs: number;
  ringTimeoutMs: number;
  /**
   * A contact who is busy or lets it ring out is called again after `retryAfterMs` (a busy one after
   * `busyRetryAfterMs` when set), up to
   * `maxAttempts` calls in all (owner first again, then the queue). Absent in callbacks started
   * before retries existed: `defaultCallbackRetry`.
   */
  retry?: CallbackRetry;
}

// A type, not an interface: it travels in an outbox row's JSON payload.
export type CallbackRetry = {
  maxAttempts: number;
  retryAfterMs: number;
  /** The wait after a busy line, when it differs from `retryAfterMs`. */
  busyRetryAfterMs?: number;
};

/** Up to 3 calls, 10 minutes apart. */
export const defaultCallbackRetry: CallbackRetry = { maxAttempts: 3, retryAfterMs: 10 * 60_000 };

export const defaultCallbackOptions: Omit<CallbackOptions, 'telephonyTaskQueue'> = { pollMs: 2_000, ringTimeoutMs: 25_000, retry: defaultCallbackRetry };

export interface CallbackInput {
  projectId: string;
  callbackId: string;
  /** E.164. */
  phone: string;
  /** ISO time the callback is due. */
  at: string;
  agent?: string;
  queue: string;
  callerId: string;
  ownerWindowSeconds: number;
  /** This callback's own retry, over `options.retry`. */
  retry?: CallbackRetry;
  options: CallbackOptions;
}

export type CallbackPhase = 'scheduled' | 'waiting_owner' | 'waiting_queue' | 'dialing' | 'done' | 'failed' | 'cancelled';

export const cancelCallbackSignal = defineSignal('cancelCallback');
export const callbackPhaseQuery = defineQuery<CallbackPhase>('callbackPhase');

/** One workflow per callback, whoever asks to start it. */
export function callbackWorkflowId(projectId: string, callbackId: string): string {
  return `callback/${projectId}/${callbackId}`;
}
