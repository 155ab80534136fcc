// A CRM write that outlived its local attempts runs as a normal activity, and
// that activity heartbeats: when its worker dies in the middle of a CRM call,
// Temporal gives the write to another worker after the heartbeat timeout (5 s),
// not after the 30 s start-to-close timeout. Real Temporal, PostgreSQL, worker
// processes and a Bitrix24 sandbox portal as the primary CRM.
import { decodeTimeoutType } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBitrixSandbox, type BitrixSandbox } from '../connectors/bitrix24/sandbox/index.js';
import { journeyWorkflowId } from '../workflows/journey/shared.js';
import { eventually, startTestHub, type TestHub } from './support/hub.js';
import { startHubWorkerProcess, type WorkerProcess } from './support/worker-process.js';

describe('a worker killed during a CRM write that fell back to a normal activity', () => {
  const phone = '+79120005566';
  let hub: TestHub;
  let sandbox: BitrixSandbox;
  const workers: WorkerProcess[] = [];

  const startWorker = () => {
    const worker = startHubWorkerProcess(hub, 'error');
    workers.push(worker);
    return worker;
  };

  beforeAll(async () => {
    hub = await startTestHub({ worker: false, idleTimeoutMs: 120_000 });
    sandbox = await startBitrixSandbox();
    const created = await hub.request('/v1/connectors', {
      method: 'POST',
      json: { kind: 'bitrix24', name: 'portal', isPrimary: true, config: { webhookUrl: sandbox.webhookBase } },
    });
    expect(created.status).toBe(201);
  });
  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.kill('SIGKILL')));
    await sandbox?.close();
    await hub?.close();
  });

  it('hands the write to the next worker once heartbeats stop', async () => {
    const client = await hub.temporal.client();
    const journey = client.workflow.getHandle(journeyWorkflowId(hub.projectId, phone));
    const pendingDelivery = async () => {
      const description = await journey.describe().catch(() => undefined);
      return description?.raw.pendingActivities?.find((activity) => activity.activityType?.name === 'deliverTaskToCrm');
    };

    // The portal fails every call: the local attempts give up and a normal activity takes over.
    sandbox.setFailMode('5xx');
    const first = startWorker();
    const posted = await hub.request('/v1/tasks', { method: 'POST', json: { phone: '+7 912 000-55-66', name: 'Grace Hopper' } });
    expect(posted.status).toBe(202);
    const taskId = ((await posted.json()) as { task: { id: string } }).task.id;
    await eventually(async () => ((await pendingDelivery())?.attempt ?? 0) >= 1 ? true : undefined, 30_000, 'the delivery to run as a normal activity');

    // The portal answers again, but slowly: the next attempt is in the middle of a call when its worker dies.
    sandbox.setFailMode(undefined);
    sandbox.setLatency(60_000);
    const callsBefore = sandbox.stats().accepted;
    await eventually(async () => (sandbox.stats().accepted > callsBefore ? true : undefined), 30_000, 'the retried attempt to call the portal');
    await first.kill('SIGKILL');
    const killedAt = Date.now();
    sandbox.setLatency(0);

    startWorker();
    const task = await eventually(async () => {
      const row = await hub.db.task.findUniqueOrThrow({ where: { id: taskId } });
      return row.status === 'done' ? row : undefined;
    }, 40_000, 'the task to be done by the second worker');
    // Heartbeat timeout (5 s) plus the retry's backoff: well before the 30 s start-to-close timeout.
    expect(Date.now() - killedAt).toBeLessThan(25_000);
    expect(sandbox.records('contact')).toHaveLength(1);
    expect(task.result).toMatchObject({ crmRecords: { portal: String(sandbox.records('contact')[0]?.ID) } });

    // The attempt that delivered started after one whose heartbeats stopped.
    const events = (await journey.fetchHistory()).events ?? [];
    // Other activities (a reconciliation that fell back too) may start before it in the history.
    const startedAfter = events
      .map((event) => event.activityTaskStartedEventAttributes)
      .map((started) => decodeTimeoutType(started?.lastFailure?.timeoutFailureInfo?.timeoutType));
    expect(startedAfter).toContain('HEARTBEAT');
  }, 120_000);
});
