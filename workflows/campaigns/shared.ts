// What starts and steers a campaign's dialer workflow and its attempts. Safe to import from workflow code.
import { defineQuery, defineSignal } from '@temporalio/workflow';

/** The catalog prompt an abandoned contact hears before the hub hangs up (telephony/media/prompts.json). */
export const ABANDON_PROMPT = 'abandoned-call';

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
  /** Launches beyond one per ready agent without a call in flight (predictive dialling ahead). */
  launchedAhead?: number;
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
  /** Preview campaigns: the agent who dialled the task gets the answered call first. */
  preferredAgent?: string;
  /**
   * Predictive campaigns: an answered call with no agent connected within this many seconds is
   * abandoned (the contact hears the abandon message, then the hub hangs up). Absent: the call
   * waits up to the queue's own wait limit.
   */
  connectSeconds?: number;
}

export function campaignWorkflowId(projectId: string, name: string): string {
  return `campaign/${projectId}/${name}`;
}

/** One attempt of one task: never started twice. */
export function dialAttemptWorkflowId(projectId: string, attemptId: string): string {
  return `campaign-attempt/${projectId}/${attemptId}`;
}
