// crmPoller: one long-running workflow per polled connector instance. It asks the
// CRM what changed (the pollCrmChanges activity stores the changes and moves the
// checkpoint in PostgreSQL), then sleeps for the interval, and continues as new
// every so many rounds so its history stays small.
//
// Why a workflow loop and not a Temporal Schedule: a schedule starts a new
// execution per tick (17,280 a day at 5 s, per instance) that fills visibility and
// needs an overlap policy; the loop is one execution that never overlaps itself,
// polls again at once while pages are full, takes a new interval by signal, and
// lets the activity's retry policy pace an unreachable CRM (1 s doubling to 1 min,
// without limit) instead of ticking into it.
import { ActivityFailure, allHandlersFinished, condition, continueAsNew, log, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { CrmPollingActivities } from './activities.js';
import { pollerSettingsSignal, type CrmPollerInput } from './shared.js';

const { pollCrmChanges } = proxyActivities<CrmPollingActivities>({
  startToCloseTimeout: '2 minutes',
  // A poll beats per page: a worker killed mid-poll is noticed in seconds, not after the whole timeout.
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/** About 9 history events a round: a run stays far below Temporal's suggested 4 Ki events. */
const roundsPerRun = 200;
/** A CRM that refuses the poll itself (a mapping it cannot poll) is asked again this rarely. */
const refusedRetryMs = 5 * 60_000;

export async function crmPoller(input: CrmPollerInput): Promise<{ stopped: string }> {
  let intervalSeconds = input.intervalSeconds;
  let woken = false;
  setHandler(pollerSettingsSignal, (settings) => {
    intervalSeconds = settings.intervalSeconds;
    woken = true;
  });

  for (let round = 0; round < roundsPerRun && !workflowInfo().continueAsNewSuggested; round += 1) {
    let more: boolean;
    try {
      const outcome = await pollCrmChanges({ connectorInstanceId: input.connectorInstanceId });
      if (outcome.stop !== undefined) return { stopped: outcome.stop };
      more = outcome.more;
    } catch (error) {
      // Only a permanent refusal lands here (outages retry inside the activity's policy).
      if (!(error instanceof ActivityFailure)) throw error;
      log.warn('crm poller: the CRM refused the poll; asking again later', { connectorInstanceId: input.connectorInstanceId, error: error.cause?.message });
      await condition(() => woken, Math.max(refusedRetryMs, intervalSeconds * 1000));
      woken = false;
      continue;
    }
    if (more) continue;
    woken = false;
    await condition(() => woken, intervalSeconds * 1000);
  }
  await condition(allHandlersFinished);
  return continueAsNew<typeof crmPoller>({ ...input, intervalSeconds });
}
