// What the rest of the hub may know about a contact journey: its id, its input,
// the signals it takes and the state it shows. Safe to import from workflow code.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { WebhookEvent } from '../../connectors/sdk/types.js';
import type { ChangeOrigin, HubWriteLedger } from '../../core/webhooks/echo.js';
import type { DialerOutcomeEvent } from '../../telephony/dialer/attempts.js';

export interface JourneyInput {
  projectId: string;
  /** E.164; together with the project it names the contact. */
  phone: string;
  /** Complete after this long without an event; the next event starts a new run. */
  idleTimeoutMs: number;
  /**
   * Wait for events with one idle timer per quiet spell (workflows/quiet-spell.ts). Every start
   * and continueAsNew sets it; a run started without it, by an earlier build, keeps the timer it
   * started and cancelled per wait, so its history replays as it was written.
   */
  quietSpell?: boolean;
  /** Carried over by continueAsNew. */
  carried?: JourneyState;
  /** Work taken in but not done yet when the previous run continued as new. */
  pending?: { taskIds: string[]; changedSources: string[]; reconcile?: boolean };
}

/** Where journeys run and when they end; the outbox dispatcher's settings, passed on to whoever starts a journey. */
export interface JourneyOptions {
  taskQueue: string;
  idleTimeoutMs: number;
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

/** A CRM said one of its records of this contact changed (webhook today, polling later). */
export interface CrmChange {
  /** The CRM's event id; unique per connector instance, so the journey de-duplicates on both. */
  eventId: string;
  connectorInstanceId: string;
  externalId: string;
  kind: WebhookEvent['kind'];
  /** When the CRM says it happened (its clock), if it says. */
  occurredAt?: string | undefined;
  /** When the hub stored the event (hub clock); echo windows are measured on it. */
  receivedAt: string;
  /** Changed fields when the CRM sends them; absent means "re-read the record". */
  changes?: Record<string, unknown> | undefined;
  /**
   * The CRM sent this (value-less) notification again. A notification stamped in whole seconds
   * (Bitrix24's) names a second edit of the record in the same second with the same event id, so
   * a repeat is read as "the record may have changed since": the journey reads it once more.
   */
  recheck?: boolean | undefined;
}

export interface CrmChangeView extends CrmChange {
  /** Whether the change is the CRM's own or an echo of a hub write (core/webhooks/echo.ts). */
  origin: ChangeOrigin;
}

export interface JourneyState {
  projectId: string;
  phone: string;
  /** Most recent first, bounded. */
  tasks: JourneyTaskView[];
  crmRecords: Record<string, string>;
  eventsHandled: number;
  /** Most recent first, bounded; also what redelivered changes are recognized by. */
  crmChanges: CrmChangeView[];
  /** CRM changes taken in over the journey's life (redeliveries of a remembered event not counted). */
  crmChangesReceived: number;
  /** What the hub wrote to the contact's CRM records lately, to recognize their echoes. */
  hubWrites: HubWriteLedger;
  /** The contact as reconciled across the project's CRMs (hub field -> surviving value). */
  merged?: Record<string, unknown>;
  /** Fields the CRMs disagreed on at the last reconciliation (see the conflict journal). */
  conflictFields?: string[];
  /** Fields whose merged value is a supervisor's decision (a resolved conflict) at the last reconciliation. */
  decidedFields?: string[];
  /** Records found by the phone that the project's match rule said were someone else at the last reconciliation. */
  setAsideRecords?: SetAsideRecord[];
  /** Conflicts of this contact resolved by supervisors, as signalled (most recent first, bounded). */
  resolvedConflicts?: ConflictResolved[];
  /** Dialer attempts' outcomes for this contact (campaigns), most recent first, bounded. */
  dialerOutcomes?: DialerOutcomeEvent[];
  /** Answers agents typed about the contact, as signalled (most recent first, bounded); the values are in the database. */
  agentAnswers?: AgentAnswered[];
  reconciliations?: number;
  /** The contact's recent calls, most recent first, bounded; absent in runs carried over from before calls existed. */
  calls?: JourneyCallView[];
  /** Call events the journey could not read (recorded, never thrown), most recent first, bounded. */
  rejectedCallEvents?: RejectedCallEvent[];
}

/** A CRM record holding the contact's number that the match rule set aside: flagged, not merged, never written. */
export interface SetAsideRecord {
  connectorInstanceId: string;
  /** Connector instance name, as in crmRecords. */
  connector: string;
  externalId: string;
  /** The confirming field that disagreed, and how. */
  field: string;
  reason: string;
}

/** A supervisor resolved one of the contact's conflicts; the journey reconciles with the decision. */
export interface ConflictResolved {
  conflictId: string;
  field: string;
}

/** An agent typed answers about the contact (POST /v1/contacts/answers); the journey reconciles with them. */
export interface AgentAnswered {
  agent: string;
  fields: string[];
  answeredAt: string;
}

/** `ivr`, `queued` and `connected` are steps of an inbound call: the IVR's decision, the queue it waits in, the agent who took it. */
export type CallEventType = 'ringing' | 'answered' | 'ivr' | 'queued' | 'connected' | 'ended' | 'cdr';

/**
 * What telephony tells a contact's journey about a call (telephony/activities.ts sends it).
 * Times are ISO strings: signal payloads are JSON.
 */
export interface CallEventSignal {
  /** The hub's call id (one per placement, shared by its failover attempts). */
  callId: string;
  type: CallEventType;
  at: string;
  trunk?: string;
  /** Why the call ended (telephony's HangupCause), or the CDR's outcome. */
  cause?: string;
  sipStatus?: number;
  billableSeconds?: number;
  /** Decimal string in `currency` (e.g. "0.0020"): exact, unlike a float. */
  cost?: string;
  currency?: string;
  /** Who called whom: inbound calls are the contact calling a number of the project. */
  direction?: 'inbound' | 'outbound';
  /** Inbound: the project's number the contact dialled. */
  dialled?: string;
  queue?: string;
  agentId?: string;
  /** `queued`: the agent offered the caller first (the contact's responsible agent in the CRM). */
  preferredAgentId?: string;
  /** Words for the step: the IVR's decision and why, the reason a caller was queued. */
  detail?: string;
}

/** One call as the journey sees it: every event for its callId merged into one entry. */
export interface JourneyCallView {
  callId: string;
  trunk?: string;
  ringingAt?: string;
  answeredAt?: string;
  endedAt?: string;
  cause?: string;
  sipStatus?: number;
  cdr?: { at: string; trunk?: string; billableSeconds?: number; cost?: string; currency?: string; outcome?: string };
  direction?: 'inbound' | 'outbound';
  dialled?: string;
  /** Inbound: what the IVR decided, the queue the caller waited in, the agent who took the call and when. */
  ivr?: string;
  queue?: string;
  agentId?: string;
  /** The agent the caller was offered to first (the contact's responsible agent), when there was one. */
  preferredAgentId?: string;
  connectedAt?: string;
  /** Event types in arrival order. */
  events: CallEventType[];
}

export interface RejectedCallEvent {
  reason: string;
  /** The payload as received, cut to a readable length. */
  received: string;
}

export const taskReceivedSignal = defineSignal<[TaskReceived]>('taskReceived');
export const crmChangedSignal = defineSignal<[CrmChange]>('crmChanged');
export const callEventSignal = defineSignal<[CallEventSignal]>('callEvent');
export const conflictResolvedSignal = defineSignal<[ConflictResolved]>('conflictResolved');
export const agentAnsweredSignal = defineSignal<[AgentAnswered]>('agentAnswered');
export const journeyStateQuery = defineQuery<JourneyState>('journeyState');

/** Tasks remembered in the state (and for de-duplicating redelivered signals). */
export const MAX_TASKS_IN_STATE = 200;
/** CRM changes remembered in the state (and for de-duplicating redelivered signals). */
export const MAX_CRM_CHANGES_IN_STATE = 200;

/** Supervisor resolutions remembered in the state (and for de-duplicating redelivered signals). */
export const MAX_RESOLVED_CONFLICTS_IN_STATE = 50;
export const MAX_AGENT_ANSWERS_IN_STATE = 50;

/** Calls remembered in the state. */
export const MAX_CALLS_IN_STATE = 20;
/** Unreadable call events remembered in the state. */
export const MAX_REJECTED_CALL_EVENTS = 20;

/** A CRM event is unique per connector instance, not across CRMs. */
export function crmChangeKey(change: Pick<CrmChange, 'connectorInstanceId' | 'eventId'>): string {
  return `${change.connectorInstanceId}/${change.eventId}`;
}

export function journeyWorkflowId(projectId: string, phone: string): string {
  return `journey/${projectId}/${phone}`;
}
