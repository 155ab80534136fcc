// How the rest of the hub (outbox dispatcher, API) addresses a contact journey.
// Client side: not bundled into workflow code.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { ContactPhoneKey, ProjectIdKey, TaskIdsKey } from '../search-attributes.js';
import { contactJourney } from './workflows.js';
import { dialerOutcomeSignal, type DialerOutcomeEvent } from './dialer-outcomes.js';
import { agentAnsweredSignal, callEventSignal, conflictResolvedSignal, crmChangedSignal, journeyStateQuery, journeyWorkflowId, taskReceivedSignal, type AgentAnswered, type CallEventSignal, type ConflictResolved, type CrmChange, type JourneyInput, type JourneyOptions, type JourneyState } from './shared.js';

export interface JourneyTaskDelivery {
  projectId: string;
  phone: string;
  taskId: string;
}

export type { JourneyOptions };

export interface JourneyCrmChangeDelivery {
  projectId: string;
  phone: string;
  change: CrmChange;
}

/**
 * How a journey is started when a signal finds it not running: the same id, input and
 * search attributes whoever sends the signal (outbox dispatcher, activities).
 */
function journeyStart(contact: { projectId: string; phone: string }, options: JourneyOptions, taskIds: string[] = []) {
  return {
    workflowId: journeyWorkflowId(contact.projectId, contact.phone),
    taskQueue: options.taskQueue,
    args: [{ projectId: contact.projectId, phone: contact.phone, idleTimeoutMs: options.idleTimeoutMs, quietSpell: true }] as [JourneyInput],
    typedSearchAttributes: new TypedSearchAttributes([
      { key: ProjectIdKey, value: contact.projectId },
      { key: ContactPhoneKey, value: contact.phone },
      ...(taskIds.length > 0 ? [{ key: TaskIdsKey, value: taskIds }] : []),
    ]),
  };
}

/**
 * Hands a task to its contact's journey, starting the journey if it is not
 * running. Safe to repeat: the journey ignores a task id it has seen.
 */
export async function deliverTaskToJourney(client: Client, delivery: JourneyTaskDelivery, options: JourneyOptions): Promise<void> {
  await client.workflow.signalWithStart(contactJourney, {
    ...journeyStart(delivery, options, [delivery.taskId]),
    signal: taskReceivedSignal,
    signalArgs: [{ taskId: delivery.taskId }],
  });
}

/**
 * Hands a CRM change to its contact's journey, starting the journey if it is not
 * running. Safe to repeat: the journey ignores an event id it has seen.
 */
export async function deliverCrmChangeToJourney(client: Client, delivery: JourneyCrmChangeDelivery, options: JourneyOptions): Promise<void> {
  await client.workflow.signalWithStart(contactJourney, { ...journeyStart(delivery, options), signal: crmChangedSignal, signalArgs: [delivery.change] });
}

/**
 * Hands a call event (telephony/activities.ts) to its contact's journey, starting the journey if it
 * is not running. Repeating one merges into the same call entry.
 */
export async function deliverCallEventToJourney(client: Client, delivery: { projectId: string; phone: string; event: CallEventSignal }, options: JourneyOptions): Promise<void> {
  await client.workflow.signalWithStart(contactJourney, { ...journeyStart(delivery, options), signal: callEventSignal, signalArgs: [delivery.event] });
}

/**
 * Tells a contact's journey that a supervisor resolved one of its conflicts, starting the journey if
 * it is not running. Safe to repeat: the journey ignores a conflict id it has seen.
 */
export async function deliverConflictResolutionToJourney(client: Client, delivery: { projectId: string; phone: string; resolved: ConflictResolved }, options: JourneyOptions): Promise<void> {
  await client.workflow.signalWithStart(contactJourney, { ...journeyStart(delivery, options), signal: conflictResolvedSignal, signalArgs: [delivery.resolved] });
}

/**
 * Tells a contact's journey that an agent typed answers about the contact, starting the journey if
 * it is not running. Safe to repeat: a repeat costs one reconciliation that writes nothing.
 */
export async function deliverAgentAnswersToJourney(client: Client, delivery: { projectId: string; phone: string; answered: AgentAnswered }, options: JourneyOptions): Promise<void> {
  await client.workflow.signalWithStart(contactJourney, { ...journeyStart(delivery, options), signal: agentAnsweredSignal, signalArgs: [delivery.answered] });
}

/**
 * Hands a dialer attempt's outcome to its contact's journey, starting the journey if it is not
 * running. Safe to repeat: the journey ignores an attempt it has seen.
 */
export async function deliverDialerOutcomeToJourney(client: Client, delivery: { projectId: string; phone: string; event: DialerOutcomeEvent }, options: JourneyOptions): Promise<void> {
  await client.workflow.signalWithStart(contactJourney, { ...journeyStart(delivery, options), signal: dialerOutcomeSignal, signalArgs: [delivery.event] });
}

export type JourneyView =
  | { workflowId: string; status: string; state: JourneyState }
  | { workflowId: string; status: 'not-started' }
  | { workflowId: string; status: 'unknown'; reason: string };

/** The journey's state as its workflow reports it, within a deadline. */
export async function describeJourney(client: Client, workflowId: string, deadlineMs = 3000): Promise<JourneyView> {
  const handle = client.workflow.getHandle(workflowId);
  const deadline = new Promise<never>((_, reject) => {
    setTimeout(() => reject(new Error(`no answer within ${deadlineMs} ms`)), deadlineMs).unref();
  });
  try {
    const [description, state] = await Promise.race([
      Promise.all([handle.describe(), handle.query(journeyStateQuery)]),
      deadline,
    ]);
    return { workflowId, status: description.status.name, state };
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return { workflowId, status: 'not-started' };
    return { workflowId, status: 'unknown', reason: error instanceof Error ? error.message : String(error) };
  }
}
