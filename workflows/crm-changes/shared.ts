// Contact resolution for CRM changes: a webhook names a CRM record, a journey is
// addressed by phone. What the rest of the hub may know about the workflows that
// bridge the two. Safe to import from workflow code.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { CrmChange, JourneyOptions } from '../journey/shared.js';

/** A stored webhook event whose CRM record is not linked to a hub contact yet. */
export interface UnlinkedCrmChange {
  projectId: string;
  /** The stored webhook event (webhook_events.id). */
  webhookEventId: string;
  change: CrmChange;
}

export interface ResolveCrmContactInput extends UnlinkedCrmChange {
  /**
   * Set by the outbox dispatcher: the resolved change is signalled to the journey
   * (started with these options if need be) straight from the activity. Without it
   * (resolutions started before it existed) the change goes through the outbox.
   */
  journey?: JourneyOptions | undefined;
}

export type CrmChangeRouting =
  /** The change is queued for the journey of this phone. */
  | { routed: true; phone: string }
  /** No contact to give it to (the record is gone, has no usable phone, the CRM refused); kept on the event. */
  | { routed: false; reason: string };

/** One resolution per stored event (the workflow of earlier builds, one execution per event). */
export function resolveCrmContactWorkflowId(webhookEventId: string): string {
  return `resolve-crm-contact/${webhookEventId}`;
}

// --- The resolver: one workflow per connector instance ---------------------------

/** One resolver per connector instance takes every unlinked change of that CRM, in batches. */
export function crmContactResolverWorkflowId(connectorInstanceId: string): string {
  return `crm-contact-resolver/${connectorInstanceId}`;
}

/** A change waiting in the resolver's queue, with the tries it had so far. */
export interface QueuedCrmChange {
  item: UnlinkedCrmChange;
  attempts: number;
}

/** A change the resolver will try again: the CRM did not answer, or answered with a failure that may pass. */
export interface DeferredCrmChange {
  item: UnlinkedCrmChange;
  attempts: number;
  /** Workflow time (ms since the epoch) of the next try. */
  dueAt: number;
  lastError: string;
}

/** What became of one change, as the resolver's query lists it. */
export interface ResolvedCrmChange {
  webhookEventId: string;
  externalId: string;
  routing: CrmChangeRouting;
}

export interface CrmContactResolverInput {
  connectorInstanceId: string;
  journey: JourneyOptions;
  /** State carried over by continueAsNew. */
  carried?: {
    pending: QueuedCrmChange[];
    deferred: DeferredCrmChange[];
    recent: ResolvedCrmChange[];
    routed: number;
    unroutable: number;
  };
}

export interface CrmContactResolverState {
  connectorInstanceId: string;
  /** Changes waiting for the next batch. */
  pending: number;
  /** Changes waiting to be tried again, with why. */
  deferred: DeferredCrmChange[];
  /** The last changes handled, newest first. */
  recent: ResolvedCrmChange[];
  routed: number;
  unroutable: number;
}

/** Changes per batch: one local activity resolves them side by side under the connector's limiter. */
export const RESOLVER_BATCH_SIZE = 50;
export const MAX_RECENT_RESOLUTIONS = 100;

export const unlinkedCrmChangesSignal = defineSignal<[UnlinkedCrmChange[]]>('unlinkedCrmChanges');
export const crmContactResolverStateQuery = defineQuery<CrmContactResolverState>('resolverState');

/** How the activity reports each change of a batch. */
export type BatchRouting = { webhookEventId: string } & (CrmChangeRouting | { retry: string; afterMs?: number });
