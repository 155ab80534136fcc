// One durable workflow per contact per project. Tasks for the contact arrive as
// signals (the outbox dispatcher sends them with signalWithStart), are handled
// one at a time in arrival order, and the journey completes after a quiet spell.
import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancelledFailure,
  condition,
  continueAsNew,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  TemporalFailure,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { JourneyActivities } from './activities.js';
import { classifyCrmChange, rememberWrite } from '../../core/webhooks/echo.js';
import type { ReconcileActivities } from './reconcile-activities.js';
import { MAX_TASK_IDS_IN_SEARCH, TaskIdsKey } from '../search-attributes.js';
import { QuietSpell } from '../quiet-spell.js';
import { recordCallEvent } from './calls.js';
import { dialerOutcomeSignal, recordDialerOutcome } from './dialer-outcomes.js';
import {
  agentAnsweredSignal,
  callEventSignal,
  conflictResolvedSignal,
  crmChangedSignal,
  crmChangeKey,
  journeyStateQuery,
  MAX_AGENT_ANSWERS_IN_STATE,
  MAX_CRM_CHANGES_IN_STATE,
  MAX_RESOLVED_CONFLICTS_IN_STATE,
  MAX_TASKS_IN_STATE,
  taskReceivedSignal,
  type JourneyInput,
  type JourneyState,
  type JourneyTaskView,
} from './shared.js';

// Delivery and reconciliation first run as local activities: in the worker, inside
// the workflow task that asked for them, so the common case costs no activity task
// and no extra workflow task. Both are idempotent, so a local attempt repeated after
// a worker crash (local activities are at-least-once) writes nothing twice.
const localRetry = { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumAttempts: 3 } as const;
const localDelivery = proxyLocalActivities<JourneyActivities>({ startToCloseTimeout: '30 seconds', retry: localRetry });
const localReconciliation = proxyLocalActivities<ReconcileActivities>({ startToCloseTimeout: '2 minutes', retry: localRetry });
// When the local attempts fail (a CRM down or slow), the same work goes on as a
// normal activity: a CRM outage must delay a task, never lose it, so it retries
// without a cap on attempts, backing off to one try a minute, and a dead worker
// is noticed by its missing heartbeats. Permanent CRM refusals are non-retryable.
const durableRetry = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' } as const;
const durableDelivery = proxyActivities<JourneyActivities>({ startToCloseTimeout: '30 seconds', heartbeatTimeout: '5 seconds', retry: durableRetry });
const durableReconciliation = proxyActivities<ReconcileActivities>({ startToCloseTimeout: '2 minutes', heartbeatTimeout: '5 seconds', retry: durableRetry });
const { recordTaskFailure } = proxyActivities<JourneyActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

export async function contactJourney(input: JourneyInput): Promise<JourneyState> {
  const state: JourneyState = input.carried ?? {
    projectId: input.projectId,
    phone: input.phone,
    tasks: [],
    crmRecords: {},
    eventsHandled: 0,
    crmChanges: [],
    crmChangesReceived: 0,
    hubWrites: {},
  };
  const queue: string[] = [...(input.pending?.taskIds ?? [])];
  const known = new Set(state.tasks.map((task) => task.taskId));
  /** Connector instances whose record of the contact changed since the last reconciliation. */
  const changedSources = new Set<string>(input.pending?.changedSources);

  setHandler(taskReceivedSignal, ({ taskId }) => {
    // The outbox delivers at least once; a task seen before is not handled again.
    if (known.has(taskId)) return;
    known.add(taskId);
    queue.push(taskId);
    remember(state, { taskId, status: 'pending' });
    // The journey's first task is in the search attributes it was started with.
    const taskIds = state.tasks.slice(0, MAX_TASK_IDS_IN_SEARCH).map((task) => task.taskId);
    const current = workflowInfo().typedSearchAttributes.get(TaskIdsKey);
    if (current?.length !== taskIds.length || current.some((id, index) => id !== taskIds[index])) {
      upsertSearchAttributes({ [TaskIdsKey.name]: taskIds });
    }
  });
  // Runs carried over (continueAsNew) from before CRM changes existed have neither field.
  state.crmChanges ??= [];
  state.hubWrites ??= {};
  state.crmChangesReceived ??= 0;
  const knownCrmChanges = new Set(state.crmChanges.map(crmChangeKey));
  setHandler(crmChangedSignal, (change) => {
    // Delivered at least once (outbox, resolver retries); an event seen before is not recorded again.
    const key = crmChangeKey(change);
    if (knownCrmChanges.has(key)) {
      // A repeat of a value-less notification may stand for a second edit in the same second.
      if (change.recheck === true) changedSources.add(change.connectorInstanceId);
      return;
    }
    knownCrmChanges.add(key);
    state.crmChangesReceived += 1;
    const origin = classifyCrmChange(state.hubWrites, change);
    state.crmChanges.unshift({ ...change, origin });
    if (state.crmChanges.length > MAX_CRM_CHANGES_IN_STATE) state.crmChanges.length = MAX_CRM_CHANGES_IN_STATE;
    // The hub's own write coming back is not news; anything else is reconciled.
    if (origin !== 'hub-echo') changedSources.add(change.connectorInstanceId);
  });
  // A supervisor's decision is read from the journal by the next reconciliation, which writes it back.
  let reconcileRequested = input.pending?.reconcile === true;
  setHandler(conflictResolvedSignal, (resolved) => {
    state.resolvedConflicts ??= [];
    if (state.resolvedConflicts.some((known) => known.conflictId === resolved.conflictId)) return;
    state.resolvedConflicts.unshift({ conflictId: resolved.conflictId, field: resolved.field });
    if (state.resolvedConflicts.length > MAX_RESOLVED_CONFLICTS_IN_STATE) state.resolvedConflicts.length = MAX_RESOLVED_CONFLICTS_IN_STATE;
    reconcileRequested = true;
  });
  // So are agents' answers: stored before the signal, read by the next reconciliation. A
  // redelivered signal asks for one more reconciliation, which finds nothing new to write.
  setHandler(agentAnsweredSignal, (answered) => {
    const answers = (state.agentAnswers ??= []);
    reconcileRequested = true;
    if (answers.some((known) => known.agent === answered.agent && known.answeredAt === answered.answeredAt)) return;
    answers.unshift({ agent: answered.agent, fields: answered.fields, answeredAt: answered.answeredAt });
    if (answers.length > MAX_AGENT_ANSWERS_IN_STATE) answers.length = MAX_AGENT_ANSWERS_IN_STATE;
  });
  // Call events only update the state; a malformed one is recorded in it, never thrown.
  setHandler(callEventSignal, (event: unknown) => recordCallEvent(state, event));
  setHandler(dialerOutcomeSignal, (event: unknown) => recordDialerOutcome((state.dialerOutcomes ??= []), event));
  setHandler(journeyStateQuery, () => state);

  const hasWork = () => queue.length > 0 || changedSources.size > 0 || reconcileRequested || workflowInfo().continueAsNewSuggested;
  // One idle timer per quiet spell, not one started and cancelled per event. Runs started
  // without the flag (before the quiet spell existed) replay their history's timer per wait.
  const quiet = input.quietSpell === true ? new QuietSpell(input.idleTimeoutMs) : undefined;
  const waitForWork = () => (quiet ? quiet.waitFor(hasWork) : condition(hasWork, input.idleTimeoutMs));
  for (;;) {
    // With work already taken in there is nothing to wait for.
    if (!hasWork() && !(await waitForWork())) break;
    // Temporal suggests continuing once the history passes 4 Ki events or 4 MB and refuses
    // the 10,001st signal of a run. A contact under a steady stream of events never has a
    // quiet moment, so the run continues as new with its pending work rather than wait for one.
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof contactJourney>({ ...input, quietSpell: true, carried: state, pending: { taskIds: queue, changedSources: [...changedSources], reconcile: reconcileRequested } });
    }
    // One pass takes the next task and then the CRM changes pending by then, so a
    // task and a change that arrive together are handled in one workflow task.
    const taskId = queue.shift();
    if (taskId !== undefined) {
      await handleTask(state, taskId);
      state.eventsHandled += 1;
    }
    if (changedSources.size > 0 || reconcileRequested) {
      // Changes that arrive while this runs are reconciled by the next pass.
      const sources = [...changedSources];
      changedSources.clear();
      reconcileRequested = false;
      await reconcileAcrossCrms(state, sources);
      state.eventsHandled += 1;
    }
  }
  await condition(allHandlersFinished);
  return state;
}

async function handleTask(state: JourneyState, taskId: string): Promise<void> {
  try {
    const delivered = await localFirst(localDelivery.deliverTaskToCrm, durableDelivery.deliverTaskToCrm, { taskId });
    Object.assign(state.crmRecords, delivered.crmRecords);
    remember(state, { taskId, status: 'done', crmRecords: delivered.crmRecords });
  } catch (error) {
    // Only a permanent refusal lands here (retryable errors retry forever); the
    // task is marked failed with the CRM's words and the journey goes on.
    const failure = activityFailureOf(error);
    if (!failure) throw error;
    const reason = failure.message;
    await recordTaskFailure({ taskId, reason });
    remember(state, { taskId, status: 'failed', error: reason });
  }
}

async function reconcileAcrossCrms(state: JourneyState, changed: string[]): Promise<void> {
  const outcome = await localFirst(localReconciliation.reconcileContact, durableReconciliation.reconcileContact, { projectId: state.projectId, phone: state.phone, changedSources: changed });
  state.merged = outcome.merged;
  state.conflictFields = outcome.conflictFields;
  state.decidedFields = outcome.decidedFields;
  if (outcome.setAside) state.setAsideRecords = outcome.setAside;
  else delete state.setAsideRecords;
  state.reconciliations = (state.reconciliations ?? 0) + 1;
  Object.assign(state.crmRecords, outcome.crmRecords);
  for (const write of outcome.writes) rememberWrite(state.hubWrites, write.connectorInstanceId, write.externalId, write.fieldHashes, write.at);
}

/**
 * Runs an idempotent activity locally and, when its local attempts fail for a
 * reason that may pass (not a permanent refusal), as a normal activity: its
 * unbounded retries with backoff then carry the work through a long outage
 * without holding a workflow task open. A permanent failure is thrown as is.
 */
export async function localFirst<I, O>(runLocally: (input: I) => Promise<O>, runDurably: (input: I) => Promise<O>, input: I): Promise<O> {
  try {
    return await runLocally(input);
  } catch (error) {
    const failure = activityFailureOf(error);
    if (!failure || (failure instanceof ApplicationFailure && failure.nonRetryable === true)) throw error;
    return runDurably(input);
  }
}

/**
 * What an activity reported when it failed, or undefined for anything else (the
 * workflow being cancelled, a bug in workflow code). A normal activity's failure
 * arrives wrapped in an ActivityFailure, a local activity's as it was thrown.
 */
export function activityFailureOf(error: unknown): TemporalFailure | undefined {
  if (error instanceof ActivityFailure) return error.cause instanceof TemporalFailure ? error.cause : error;
  if (error instanceof CancelledFailure || !(error instanceof TemporalFailure)) return undefined;
  return error;
}

function remember(state: JourneyState, view: JourneyTaskView): void {
  const index = state.tasks.findIndex((task) => task.taskId === view.taskId);
  if (index >= 0) state.tasks.splice(index, 1);
  state.tasks.unshift(view);
  if (state.tasks.length > MAX_TASKS_IN_STATE) state.tasks.length = MAX_TASKS_IN_STATE;
}
