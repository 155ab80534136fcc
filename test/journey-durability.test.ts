// A contact journey lives for months and survives its workers: it continues as new
// before Temporal's history and signal limits and keeps its state across runs, and
// a worker killed in the middle of a CRM write leaves exactly one write behind once
// another worker takes over. Real Temporal, PostgreSQL, worker processes and CRMs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBitrixSandbox, type BitrixSandbox } from '../connectors/bitrix24/sandbox/index.js';
import type { contactJourney } from '../workflows/journey/workflows.js';
import { crmChangedSignal, journeyStateQuery, journeyWorkflowId, MAX_CRM_CHANGES_IN_STATE, type CrmChange } from '../workflows/journey/shared.js';
import { eventually, startTestHub, type TestHub } from './support/hub.js';
import { startHubWorkerProcess, type WorkerProcess } from './support/worker-process.js';

/** Runs `send(i)` for every i in [from, to) with at most `inFlight` calls outstanding. */
async function sendRange(from: number, to: number, inFlight: number, send: (index: number) => Promise<void>): Promise<void> {
  let next = from;
  const lane = async () => {
    while (next < to) {
      const index = next;
      next += 1;
      await send(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, to - from) }, lane));
}

describe('a journey receiving 10,000 CRM changes', () => {
  const phone = '+14155552672';
  const events = 10_000;
  // Temporal force-closes a workflow task when more than 100 events pile up while it
  // runs, so no sender may run further ahead of a journey than that (the outbox
  // dispatcher sends one signal per journey at a time). The test sends 50 at once and
  // waits for the journey to have taken them: a query is answered only after the
  // workflow task holding the signals, so it doubles as the acknowledgement.
  const wave = 50;
  let hub: TestHub;

  beforeAll(async () => {
    // Short idle time: the last run completes soon after the last event.
    hub = await startTestHub({ idleTimeoutMs: 5_000 });
  });
  afterAll(async () => {
    await hub?.close();
  });

  it('continues as new, keeps its state, counts every change once and ignores redeliveries', async () => {
    const posted = await hub.request('/v1/tasks', { method: 'POST', json: { phone: '+1 415 555 2672', name: 'Grace Hopper', applicationNumber: 'A-10000' } });
    expect(posted.status).toBe(202);
    const taskId = ((await posted.json()) as { task: { id: string } }).task.id;
    const client = await hub.temporal.client();
    const journey = client.workflow.getHandle<typeof contactJourney>(journeyWorkflowId(hub.projectId, phone));
    const delivered = await eventually(async () => {
      const state = await journey.query(journeyStateQuery);
      return state.tasks[0]?.status === 'done' ? state : undefined;
    }, 30_000, 'the task delivered to the demo CRM');
    const externalId = delivered.crmRecords['demo-crm'];
    if (externalId === undefined) throw new Error(`the journey has no demo-crm record: ${JSON.stringify(delivered.crmRecords)}`);
    const sqlCrm = await hub.db.connectorInstance.findFirstOrThrow({ where: { projectId: hub.projectId, name: 'demo-crm' } });
    const firstRunId = (await journey.describe()).runId;

    const change = (index: number): CrmChange => ({
      eventId: `contact-update-${index}`,
      connectorInstanceId: sqlCrm.id,
      externalId,
      kind: 'contact.updated',
      receivedAt: new Date().toISOString(),
    });
    const received = async () => (await journey.query(journeyStateQuery)).crmChangesReceived;
    const sendAcknowledged = async (from: number, to: number, expectedReceived: number) => {
      await sendRange(from, to, wave, (index) => journey.signal(crmChangedSignal, change(index)));
      expect(await received()).toBe(expectedReceived);
    };

    let runId = firstRunId;
    let redeliveredAfterContinueAsNew = false;
    for (let sent = 0; sent < events; sent += wave) {
      await sendAcknowledged(sent, sent + wave, sent + wave);
      const current = (await journey.describe()).runId;
      if (current !== runId && !redeliveredAfterContinueAsNew) {
        // The run before `current` took every event up to `sent`; the new run has taken at most
        // this wave. The previous run's last 100 events are in the remembered window it carried
        // over: delivered again (an outbox row repeated after a crash), they change nothing.
        await sendAcknowledged(sent - 100, sent, sent + wave);
        redeliveredAfterContinueAsNew = true;
      }
      runId = current;
    }
    expect(redeliveredAfterContinueAsNew).toBe(true);

    // The last run completes after its idle time; the handle follows the chain of runs to it.
    const final = await journey.result();
    expect(final.crmChangesReceived).toBe(events);
    expect(final.tasks).toEqual([{ taskId, status: 'done', crmRecords: { 'demo-crm': externalId } }]);
    expect(final.crmRecords).toEqual({ 'demo-crm': externalId });
    expect(final.merged).toMatchObject({ name: 'Grace Hopper', 'fields.applicationNumber': 'A-10000' });
    expect(final.conflictFields).toEqual([]);
    // The most recent changes are remembered, each once (waves arrive in order, a wave's signals in any order).
    const remembered = final.crmChanges.map((entry) => entry.eventId).sort();
    const latest = Array.from({ length: MAX_CRM_CHANGES_IN_STATE }, (_, offset) => `contact-update-${events - MAX_CRM_CHANGES_IN_STATE + offset}`).sort();
    expect(remembered).toEqual(latest);
    expect(final.crmChanges.every((entry) => entry.origin === 'crm')).toBe(true);
    // Changes that arrive while a reconciliation runs are coalesced into the next one.
    expect(final.reconciliations).toBeGreaterThanOrEqual(1);
    expect(final.reconciliations).toBeLessThan(events / 10);
    expect(await hub.db.task.findUniqueOrThrow({ where: { id: taskId } })).toMatchObject({ status: 'done' });

    // Every run but the last continued as new, each well inside Temporal's history limits
    // (warning at 10,240 events or 10 MB; the server refuses a run's 10,001st signal).
    const runs = await eventually(async () => {
      const listed = [];
      for await (const execution of client.workflow.list({ query: `WorkflowId = '${journey.workflowId}'` })) listed.push(execution);
      return listed.some((execution) => execution.status.name === 'COMPLETED') ? listed : undefined;
    }, 10_000, 'the completed run in visibility');
    const statuses = runs.map((execution) => execution.status.name).sort();
    expect(statuses.filter((status) => status === 'CONTINUED_AS_NEW').length).toBeGreaterThanOrEqual(1);
    expect(statuses.filter((status) => status !== 'CONTINUED_AS_NEW')).toEqual(['COMPLETED']);
    const first = runs.find((execution) => execution.runId === firstRunId);
    expect(first?.status.name).toBe('CONTINUED_AS_NEW');
    for (const execution of runs) {
      const { historyLength, historySize } = await client.workflow.getHandle(journey.workflowId, execution.runId).describe();
      expect(historyLength).toBeLessThan(10_240);
      expect(historySize).toBeLessThan(10 * 1024 * 1024);
    }
  }, 90_000);
});

describe('a worker killed in the middle of a CRM write', () => {
  const phone = '+79120003344';
  let hub: TestHub;
  let sandbox: BitrixSandbox;
  const workers: WorkerProcess[] = [];

  const startWorker = () => {
    const worker = startHubWorkerProcess(hub, 'warn');
    workers.push(worker);
    return worker;
  };

  /** Polls `check` like `eventually`, but fails at once with the worker's output if the worker dies. */
  async function whileAlive<T>(worker: WorkerProcess, check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
    const died = worker.exited.then(({ code, signal }) => {
      throw new Error(`the worker exited (code ${code}, signal ${signal}) while waiting for ${what}:\n${worker.output()}`);
    });
    try {
      return await Promise.race([eventually(check, timeoutMs, what), died]);
    } catch (error) {
      if (error instanceof Error && !error.message.includes('the worker exited')) error.message += `\nworker output:\n${worker.output()}`;
      throw error;
    } finally {
      died.catch(() => undefined);
    }
  }

  beforeAll(async () => {
    // The API and the outbox dispatcher run here; the worker runs in processes of its own.
    hub = await startTestHub({ worker: false, idleTimeoutMs: 120_000 });
    // Each portal answer takes 1.5 s, so the kill lands while crm.contact.add is in flight.
    sandbox = await startBitrixSandbox({ latencyMs: 1_500 });
    const created = await hub.request('/v1/connectors', {
      method: 'POST',
      json: {
        kind: 'bitrix24',
        name: 'portal',
        isPrimary: true,
        config: { webhookUrl: sandbox.webhookBase, fieldMap: { hubTaskId: 'UF_CRM_HUB_TASK_ID', applicationNumber: 'UF_CRM_APPLICATION_NUMBER' } },
      },
    });
    expect(created.status).toBe(201);
  });
  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.kill('SIGKILL')));
    await sandbox?.close();
    await hub?.close();
  });

  it('completes the task after a restart, writing the contact once', async () => {
    const first = startWorker();
    const posted = await hub.request('/v1/tasks', { method: 'POST', json: { phone: '+7 912 000-33-44', name: 'Ada Lovelace', applicationNumber: 'A-0042' } });
    expect(posted.status).toBe(202);
    const taskId = ((await posted.json()) as { task: { id: string } }).task.id;

    // The portal has taken crm.contact.add and is still answering it: kill the worker now.
    await whileAlive(first, async () => ((sandbox.stats().byMethod['crm.contact.add'] ?? 0) >= 1 ? true : undefined), 30_000, 'crm.contact.add to reach the portal');
    await first.kill('SIGKILL');
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // The write landed in the portal, but nobody heard the answer: the task is not done.
    expect(sandbox.records('contact')).toHaveLength(1);
    expect((await hub.db.task.findUniqueOrThrow({ where: { id: taskId } })).status).not.toBe('done');

    // Temporal hands the abandoned activity to the next worker once its attempt times out.
    const second = startWorker();
    const task = await whileAlive(second, async () => {
      const row = await hub.db.task.findUniqueOrThrow({ where: { id: taskId } });
      return row.status === 'done' ? row : undefined;
    }, 60_000, 'the task to be done after the restart');

    // Exactly one contact, written once: the retry found the record the lost attempt created.
    const contacts = sandbox.records('contact');
    expect(contacts).toHaveLength(1);
    expect(contacts[0]).toMatchObject({ NAME: 'Ada Lovelace', UF_CRM_HUB_TASK_ID: taskId, UF_CRM_APPLICATION_NUMBER: 'A-0042' });
    const contactId = String(contacts[0]?.ID);
    const writes = sandbox.stats().byMethod;
    expect(writes['crm.contact.add']).toBe(1);
    expect(writes['crm.contact.update'] ?? 0).toBe(0);
    expect(task.result).toMatchObject({ crmRecords: { portal: contactId }, created: false });

    // The journey took the retried attempt's answer. The delivery runs as a local
    // activity, inside the first worker's workflow task: that task timed out with
    // its worker, and the second worker ran the delivery again and recorded it.
    const client = await hub.temporal.client();
    const journey = client.workflow.getHandle(journeyWorkflowId(hub.projectId, phone));
    const state = await journey.query(journeyStateQuery);
    expect(state.tasks).toEqual([{ taskId, status: 'done', crmRecords: { portal: contactId } }]);
    const events = (await journey.fetchHistory()).events ?? [];
    const timedOut = events.findIndex((event) => event.workflowTaskTimedOutEventAttributes);
    const delivered = events.findIndex((event) => event.markerRecordedEventAttributes?.markerName === 'core_local_activity' && !event.markerRecordedEventAttributes.failure);
    expect(timedOut).toBeGreaterThan(-1);
    expect(delivered).toBeGreaterThan(timedOut);
    const workerOf = (range: typeof events) => new Set(range.flatMap((event) => (event.workflowTaskStartedEventAttributes ? [event.workflowTaskStartedEventAttributes.identity] : [])));
    const before = workerOf(events.slice(0, timedOut));
    const after = workerOf(events.slice(timedOut, delivered));
    expect(before.size).toBe(1);
    expect(after.size).toBe(1);
    expect([...after][0]).not.toBe([...before][0]);
    // Nothing needed the normal-activity fallback.
    expect(events.filter((event) => event.activityTaskScheduledEventAttributes)).toEqual([]);
  }, 90_000);
});
