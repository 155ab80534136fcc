// Contact resolution: carries CRM changes whose record is not linked to a hub
// contact yet to the right journey. It exists so the CRM call needed to learn the
// record's phone happens in a Temporal activity, not in the webhook request (which
// must answer fast) nor in the outbox dispatcher (whose claiming transaction and
// shared backoff must not wait on one tenant's slow or broken CRM).
//
// crmContactResolver: one long-lived workflow per connector instance. The outbox
// dispatcher signals it the unlinked changes it finds (signalWithStart, many per
// signal); it resolves them in batches, each batch one local activity, and tries a
// change the CRM did not answer for again later, backing off to once a minute,
// while the others go on. Nothing is dropped: a change leaves the resolver routed
// to a journey or recorded on its stored event as unroutable, with why.
//
// resolveCrmContact: one execution per change, what earlier builds started; kept
// registered so the runs they left finish.
import { condition, continueAsNew, proxyActivities, proxyLocalActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import { activityFailureOf, localFirst } from '../journey/workflows.js';
import type { CrmChangeActivities } from './activities.js';
import {
  crmContactResolverStateQuery,
  MAX_RECENT_RESOLUTIONS,
  RESOLVER_BATCH_SIZE,
  unlinkedCrmChangesSignal,
  type BatchRouting,
  type CrmChangeRouting,
  type CrmContactResolverInput,
  type DeferredCrmChange,
  type ResolveCrmContactInput,
  type QueuedCrmChange,
  type ResolvedCrmChange,
  type UnlinkedCrmChange,
} from './shared.js';
import { workflowNow } from '../clock.js';

// Routing runs locally first (inside the workflow task that asked for it), then as
// a normal activity with unbounded retries when the local attempts fail: see localFirst.
const local = proxyLocalActivities<CrmChangeActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumAttempts: 3 },
});
const durable = proxyActivities<CrmChangeActivities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '5 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});
const { recordUnroutableCrmChange } = proxyActivities<CrmChangeActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

/** A change the CRM did not answer for is tried again after 1 s, 2 s, 4 s ... up to a minute. */
export function retryDelayMs(attempts: number, askedMs?: number): number {
  const backoff = Math.min(60_000, 1000 * 2 ** Math.max(0, attempts - 1));
  return askedMs !== undefined && askedMs > backoff ? Math.min(askedMs, 10 * 60_000) : backoff;
}

export async function crmContactResolver(input: CrmContactResolverInput): Promise<void> {
  // Each change with the tries it had so far (0 for a new one).
  const pending: QueuedCrmChange[] = [...(input.carried?.pending ?? [])];
  const deferred: DeferredCrmChange[] = [...(input.carried?.deferred ?? [])];
  const recent: ResolvedCrmChange[] = [...(input.carried?.recent ?? [])];
  let routed = input.carried?.routed ?? 0;
  let unroutable = input.carried?.unroutable ?? 0;
  // Events held right now: the dispatcher delivers at least once, so a change may come twice.
  const held = new Set([...pending, ...deferred].map((entry) => entry.item.webhookEventId));

  setHandler(unlinkedCrmChangesSignal, (changes) => {
    for (const item of changes) {
      if (held.has(item.webhookEventId)) continue;
      held.add(item.webhookEventId);
      pending.push({ item, attempts: 0 });
    }
  });
  setHandler(crmContactResolverStateQuery, () => ({ connectorInstanceId: input.connectorInstanceId, pending: pending.length, deferred, recent, routed, unroutable }));

  const settle = (item: UnlinkedCrmChange, routing: CrmChangeRouting) => {
    held.delete(item.webhookEventId);
    if (routing.routed) routed += 1;
    else unroutable += 1;
    recent.unshift({ webhookEventId: item.webhookEventId, externalId: item.change.externalId, routing });
    if (recent.length > MAX_RECENT_RESOLUTIONS) recent.length = MAX_RECENT_RESOLUTIONS;
  };
  const defer = (item: UnlinkedCrmChange, attempts: number, reason: string, askedMs?: number) => {
    deferred.push({ item, attempts, dueAt: workflowNow() + retryDelayMs(attempts, askedMs), lastError: reason });
  };

  for (;;) {
    // Changes due for another try join the queue.
    const now = workflowNow();
    for (let index = deferred.length - 1; index >= 0; index -= 1) {
      const entry = deferred[index] as DeferredCrmChange;
      if (entry.dueAt <= now) {
        deferred.splice(index, 1);
        pending.push({ item: entry.item, attempts: entry.attempts });
      }
    }
    // Temporal suggests continuing as new once the history grows large; the run carries its
    // queue over. Signals are synchronous, so no handler is left running.
    if (workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof crmContactResolver>({ ...input, carried: { pending, deferred, recent, routed, unroutable } });
    }
    if (pending.length === 0) {
      const nextDue = Math.min(...deferred.map((entry) => entry.dueAt));
      const wait = deferred.length > 0 ? Math.max(1, nextDue - workflowNow()) : input.journey.idleTimeoutMs;
      const woke = await condition(() => pending.length > 0 || workflowInfo().continueAsNewSuggested, wait);
      // Quiet and nothing left to try again: done; the next unlinked change starts a new run.
      if (!woke && deferred.length === 0) return;
      continue;
    }
    const batch = pending.splice(0, RESOLVER_BATCH_SIZE);
    let results: BatchRouting[];
    try {
      results = await localFirst(local.routeCrmChangesToJourneys, durable.routeCrmChangesToJourneys, { journey: input.journey, changes: batch.map((entry) => entry.item) });
    } catch (error) {
      // The batch activity reports each change's failure itself; a failure of the whole
      // activity (a bug, a permanent refusal) defers the batch rather than drop it.
      const failure = activityFailureOf(error);
      if (!failure) throw error;
      results = batch.map((entry) => ({ webhookEventId: entry.item.webhookEventId, retry: failure.message }));
    }
    const byEvent = new Map(results.map((result) => [result.webhookEventId, result]));
    for (const { item, attempts } of batch) {
      const result = byEvent.get(item.webhookEventId) ?? { webhookEventId: item.webhookEventId, retry: 'no result for this change' };
      if ('retry' in result) defer(item, attempts + 1, result.retry, result.afterMs);
      else settle(item, result.routed ? { routed: true, phone: result.phone } : { routed: false, reason: result.reason });
    }
  }
}

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
