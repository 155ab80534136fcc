// Contact resolution for CRM changes: a webhook names a CRM record, a journey is
// addressed by phone. What the rest of the hub may know about the workflow that
// bridges the two. Safe to import from workflow code.
import type { CrmChange, JourneyOptions } from '../journey/shared.js';

export interface ResolveCrmContactInput {
  projectId: string;
  /** The stored webhook event (webhook_events.id). */
  webhookEventId: string;
  change: CrmChange;
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

/** One resolution per stored event: starting it again for a redelivered outbox row is a no-op. */
export function resolveCrmContactWorkflowId(webhookEventId: string): string {
  return `resolve-crm-contact/${webhookEventId}`;
}
