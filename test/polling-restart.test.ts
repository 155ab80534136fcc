// A worker process killed in the middle of a poll: the poll is blocked on the CRM
// (a transaction of the CRM's own holds its table while it changes rows), the worker
// gets SIGKILL, the transaction commits, and a new worker process (which starts every
// enabled poller at boot) reads the changes from the stored checkpoint: each exactly
// once, including the rows stamped before the blocked poll began. Real worker
// processes, Temporal, PostgreSQL.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { journeyStateQuery, journeyWorkflowId, type JourneyState } from '../workflows/journey/shared.js';
import { eventually, startTestHub, type TestHub } from './support/hub.js';
import { startHubWorkerProcess, type WorkerProcess } from './support/worker-process.js';

describe('a worker killed during a poll', () => {
  let hub: TestHub;
  let crm: pg.Client;
  let demoId: string;
  const workers: WorkerProcess[] = [];
  const phones = { ada: '+14155550171', grace: '+14155550172' };

  const startWorker = () => {
    const worker = startHubWorkerProcess(hub, 'warn');
    workers.push(worker);
    return worker;
  };

  async function pollEvents(): Promise<{ eventId: string; externalId: string }[]> {
    return hub.db.$queryRaw`
      SELECT event_id AS "eventId", external_id AS "externalId" FROM webhook_events
      WHERE connector_instance_id = ${demoId}::uuid ORDER BY event_id`;
  }

  async function journeyOf(phone: string): Promise<JourneyState | undefined> {
    const client = await hub.temporal.client();
    return client.workflow
      .getHandle(journeyWorkflowId(hub.projectId, phone))
      .query(journeyStateQuery)
      .catch(() => undefined);
  }

  beforeAll(async () => {
    hub = await startTestHub({ worker: false, idleTimeoutMs: 300_000 });
    crm = new pg.Client({ connectionString: hub.crmUrl });
    await crm.connect();
    demoId = (await hub.db.connectorInstance.findFirstOrThrow({ where: { projectId: hub.projectId, name: 'demo-crm' } })).id;
    const patched = await hub.request(`/v1/connectors/${demoId}`, { method: 'PATCH', json: { polling: { intervalSeconds: 1 } } });
    expect(patched.status).toBe(200);
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled(workers.map((worker) => worker.kill('SIGKILL')));
    await crm?.end();
    await hub?.close();
  });

  it('resumes from the checkpoint in a new process and stores every change once', async () => {
    const first = startWorker();
    const [ada] = (await crm.query(`INSERT INTO clients (phone, full_name) VALUES ($1, 'Ada Lovelace') RETURNING id`, [phones.ada])).rows as { id: string }[];
    await eventually(async () => ((await pollEvents()).length === 1 ? true : undefined), 60_000, 'the first change stored');

    // The CRM's own transaction takes the table, changes two rows and stays open: the next poll blocks on it.
    const crmTransaction = new pg.Client({ connectionString: hub.crmUrl });
    await crmTransaction.connect();
    try {
      await crmTransaction.query('BEGIN');
      await crmTransaction.query('LOCK TABLE clients IN ACCESS EXCLUSIVE MODE');
      await crmTransaction.query(`UPDATE clients SET full_name = 'Ada King', updated_at = now() WHERE id = $1`, [ada?.id]);
      await crmTransaction.query(`INSERT INTO clients (phone, full_name) VALUES ($1, 'Grace Hopper')`, [phones.grace]);
      const crmDatabase = new URL(hub.crmUrl).pathname.slice(1);
      await eventually(async () => {
        const { rows } = await crm.query(`SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' AND query LIKE '%hub_change_at%'`, [crmDatabase]);
        return (rows[0] as { waiting: number }).waiting > 0 ? true : undefined;
      }, 20_000, 'the poller\'s query blocked on the CRM');
      await first.kill('SIGKILL');
      await crmTransaction.query('COMMIT');
    } finally {
      await crmTransaction.end();
    }
    expect(await pollEvents()).toHaveLength(1);

    startWorker();
    const ada2 = await eventually(async () => {
      const state = await journeyOf(phones.ada);
      return state?.crmChanges.some((change) => change.changes?.name === 'Ada King') ? state : undefined;
    }, 90_000, 'the update made while the poll was blocked');
    const grace = await eventually(async () => {
      const state = await journeyOf(phones.grace);
      return (state?.crmChanges.length ?? 0) > 0 ? state : undefined;
    }, 30_000, 'the row inserted while the poll was blocked');

    // Every state once: Ada's insert and update, Grace's insert; nothing more after further polls.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const events = await pollEvents();
    const [graceRow] = (await crm.query('SELECT id FROM clients WHERE phone = $1', [phones.grace])).rows as { id: string }[];
    expect(events.map((event) => event.externalId).sort()).toEqual([String(ada?.id), String(ada?.id), String(graceRow?.id)].sort());
    expect(grace.crmChanges.filter((change) => change.connectorInstanceId === demoId)).toHaveLength(1);
    // The first change's contact resolution was in the killed worker too; it is retried after its activity timeout.
    const adaNow = await eventually(async () => {
      const state = await journeyOf(phones.ada);
      return (state?.crmChanges.length ?? 0) >= 2 ? state : undefined;
    }, 90_000, 'both of Ada\'s changes in her journey');
    expect(adaNow.crmChanges.filter((change) => change.connectorInstanceId === demoId).map((change) => change.changes?.name).sort()).toEqual(['Ada King', 'Ada Lovelace']);
    expect(adaNow.crmChangesReceived).toBe(2);
    expect(ada2.crmChanges.some((change) => change.changes?.name === 'Ada King')).toBe(true);
  }, 180_000);
});
