// What starts and steers a callback's workflow. Safe to import from workflow code.
import { defineQuery, defineSignal } from '@temporalio/workflow';

export interface CallbackOptions {
  /** Where placeCall and the agent figures run (any telephony process). */
  telephonyTaskQueue: string;
  /** How often a due callback looks for its agent. */
  pollMs: number;
  ringTimeoutMs: number;
}

export const defaultCallbackOptions: Omit<CallbackOptions, 'telephonyTaskQueue'> = { pollMs: 2_000, ringTimeoutMs: 25_000 };

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
  options: CallbackOptions;
}

export type CallbackPhase = 'scheduled' | 'waiting_owner' | 'waiting_queue' | 'dialing' | 'done' | 'failed' | 'cancelled';

export const cancelCallbackSignal = defineSignal('cancelCallback');
export const callbackPhaseQuery = defineQuery<CallbackPhase>('callbackPhase');

/** One workflow per callback, whoever asks to start it. */
export function callbackWorkflowId(projectId: string, callbackId: string): string {
  return `callback/${projectId}/${callbackId}`;
}
