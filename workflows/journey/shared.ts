// What the rest of the hub may know about a contact journey: its id, its input,
// the signals it takes and the state it shows. Safe to import from workflow code.
import { defineQuery, defineSignal } from '@temporalio/workflow';

export interface JourneyInput {
  projectId: string;
  /** E.164; together with the project it names the contact. */
  phone: string;
  /** Complete after this long without an event; the next event starts a new run. */
  idleTimeoutMs: number;
  /** Carried over by continueAsNew. */
  carried?: JourneyState;
}

export interface TaskReceived {
  taskId: string;
}

export type JourneyTaskStatus = 'pending' | 'done' | 'failed';

export interface JourneyTaskView {
  taskId: string;
  status: JourneyTaskStatus;
  /** Where the contact landed: connector instance name -> the CRM's record id. */
  crmRecords?: Record<string, string>;
  error?: string;
}

export interface JourneyState {
  projectId: string;
  phone: string;
  /** Most recent first, bounded. */
  tasks: JourneyTaskView[];
  crmRecords: Record<string, string>;
  eventsHandled: number;
}

export const taskReceivedSignal = defineSignal<[TaskReceived]>('taskReceived');
export const journeyStateQuery = defineQuery<JourneyState>('journeyState');

/** Tasks remembered in the state (and for de-duplicating redelivered signals). */
export const MAX_TASKS_IN_STATE = 200;

export function journeyWorkflowId(projectId: string, phone: string): string {
  return `journey/${projectId}/${phone}`;
}
