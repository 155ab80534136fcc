// resolveCrmContact: carries one CRM change whose record is not linked to a hub
// contact yet to the right journey. It exists so the CRM call needed to learn the
// record's phone happens in a Temporal activity, not in the webhook request (which
// must answer fast) nor in the outbox dispatcher (whose claiming transaction and
// shared backoff must not wait on one tenant's slow or broken CRM). A CRM outage
// retries here without limit, backing off to once a minute, like task delivery.
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import { activityFailureOf, localFirst } from '../journey/workflows.js';
import type { CrmChangeActivities } from './activities.js';
import type { CrmChangeRouting, ResolveCrmContactInput } from './shared.js';

// Routing runs locally first (one workflow task for the whole resolution), then as
// a normal activity with unbounded retries when the CRM does not answer: see localFirst.
const local = proxyLocalActivities<CrmChangeActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumAttempts: 3 },
});
const durable = proxyActivities<CrmChangeActivities>({
  startToCloseTimeout: '30 seconds',
  heartbeatTimeout: '5 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});
const { recordUnroutableCrmChange } = proxyActivities<CrmChangeActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

export async function resolveCrmContact(input: ResolveCrmContactInput): Promise<CrmChangeRouting> {
  let routing: CrmChangeRouting;
  try {
    routing = await localFirst(local.routeCrmChangeToJourney, durable.routeCrmChangeToJourney, input);
  } catch (error) {
    // Only a permanent refusal lands here (retryable failures retry forever).
    const failure = activityFailureOf(error);
    if (!failure) throw error;
    routing = { routed: false, reason: failure.message };
  }
  if (!routing.routed) await recordUnroutableCrmChange({ webhookEventId: input.webhookEventId, reason: routing.reason });
  return routing;
}
