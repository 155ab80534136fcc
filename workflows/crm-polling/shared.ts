// What the rest of the hub may know about a CRM poller: its id, input and the
// signal that changes its interval. Safe to import from workflow code.
import { defineSignal } from '@temporalio/workflow';

export interface CrmPollerInput {
  projectId: string;
  connectorInstanceId: string;
  intervalSeconds: number;
}

export interface PollOutcome {
  /** Set when the poller should end: polling removed or disabled, instance gone, connector cannot poll. */
  stop?: string | undefined;
  /** Another page is ready: poll again at once. */
  more: boolean;
  /** Changes stored by this poll. */
  changes: number;
}

export interface PollerSettings {
  intervalSeconds: number;
}

/** Sent with every start: a running poller takes the new interval, a new one starts with it. */
export const pollerSettingsSignal = defineSignal<[PollerSettings]>('pollerSettings');

/** One poller per connector instance. */
export function crmPollerWorkflowId(connectorInstanceId: string): string {
  return `crm-poller/${connectorInstanceId}`;
}
