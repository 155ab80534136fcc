// What starts and steers a campaign's dialer workflow and its attempts. Safe to import from workflow code.
import { defineQuery, defineSignal } from '@temporalio/workflow';

export type CampaignRunState = 'active' | 'paused' | 'stopped';

/** How the dialer runs; the outbox deliverer passes the hub's settings. */
export interface CampaignDialerOptions {
  /** Where placeCall and the agent figures run (any telephony process). */
  telephonyTaskQueue: string;
  /** Pause between two claims while active. */
  tickMs: number;
  /** An attempt without an outcome for this long is dialled again after the retry delay. */
  attemptLeaseMs: number;
  ringTimeoutMs: number;
  /** History this long (events) starts a fresh run (continueAsNew) with the totals carried over. */
  maxHistoryLength: number;
}

export const defaultCampaignDialerOptions: Omit<CampaignDialerOptions, 'telephonyTaskQueue'> = {
  tickMs: 2_000,
  // Ringing, then up to the queue's longest wait (10 minutes by default), and some slack.
  attemptLeaseMs: 15 * 60_000,
  ringTimeoutMs: 25_000,
  maxHistoryLength: 5_000,
};

export interface CampaignDialerInput {
  projectId: string;
  campaignId: string;
  name: string;
  state: CampaignRunState;
  options: CampaignDialerOptions;
  /** Carried over by continueAsNew. */
  totals?: CampaignTotals;
}

export interface CampaignTotals {
  ticks: number;
  launched: number;
  deferred: number;
  expired: number;
}

export interface CampaignStatus extends CampaignTotals {
  state: CampaignRunState;
  /** Tasks being dialled at the last tick. */
  dialing: number;
  /** Agents ready at the last tick, or the reason there were no figures. */
  readyAgents: number | string;
  /** How the last tick decided how many to launch (predictive: the pacer's mode and reason). */
  pacing: string;
}

export interface CampaignStateSignal {
  state: CampaignRunState;
}

export const campaignStateSignal = defineSignal<[CampaignStateSignal]>('campaignState');
export const campaignStatusQuery = defineQuery<CampaignStatus>('campaignStatus');

export interface DialAttemptInput {
  projectId: string;
  campaign: string;
  taskId: string;
  attemptId: string;
  attempt: number;
  /** E.164. */
  phone: string;
  callerId: string;
  queue: string;
  ringTimeoutMs: number;
  telephonyTaskQueue: string;
}

export function campaignWorkflowId(projectId: string, name: string): string {
  return `campaign/${projectId}/${name}`;
}

/** One attempt of one task: never started twice. */
export function dialAttemptWorkflowId(projectId: string, attemptId: string): string {
  return `campaign-attempt/${projectId}/${attemptId}`;
}
