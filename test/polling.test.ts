// CRMs without webhooks are polled: a legacy CRM in MariaDB (behind a relay the test
// can cut) and the demo CRM in PostgreSQL, each with a poller started through the
// API. A row changed directly in the legacy tables reaches the contact's journey; the
// hub's own write-back comes back as an echo, not as news; the checkpoint survives a
// worker restart and a replay from an old cursor stores nothing twice; an unreachable
// CRM delays the change, never loses it; disabling and deleting stop the poller.
// Real Temporal, PostgreSQL, MariaDB.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestCrmDatabase, type TestCrmDatabase } from '../connectors/sql-crm/test-support.js';
import { ensureCrmPollers } from '../workflows/crm-polling/client.js';
import { crmPollerWorkflowId } from '../workflows/crm-polling/shared.js';
import { journeyStateQuery, journeyWorkflowId, type CrmChangeView, type JourneyState } from '../workflows/journey/shared.js';
import { eventually, startTestHub, type TestHub } from './support/hub.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

const phone = '+14155550140';

describe('polling CRMs without webhooks', () => {
  let hub: TestHub;
  let legacy: TestCrmDatabase;
  let proxy: TcpProxy;
  let table: string;
  let legacyId: string;
  let demoId: string;
  let legacyRowId: string;

  async function api(method: string, path: string, json?: unknown) {
    const response = await hub.request(path, { method, ...(json === undefined ? {} : { json }) });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- bodies are checked field by field
    return { status: response.status, body: response.status === 204 ? undefined : ((await response.json()) as any) };
  }

  async function journey(): Promise<JourneyState> {
    const client = await hub.temporal.client();
    return client.workflow.getHandle(journeyWorkflowId(hub.projectId, phone)).query(journeyStateQuery);
  }

  const changesFrom = (state: JourneyState, source: string): CrmChangeView[] => state.crmChanges.filter((change) => change.connectorInstanceId === source);

  async function pollEvents(connectorInstanceId: string): Promise<{ eventId: string; externalId: string }[]> {
    return hub.db.$queryRaw`
      SELECT event_id AS "eventId", external_id AS "externalId" FROM webhook_events
      WHERE connector_instance_id = ${connectorInstanceId}::uuid ORDER BY received_at, event_id`;
  }

  async function cursorOf(connectorInstanceId: string): Promise<string | null> {
    return (await hub.db.connectorPoller.findUniqueOrThrow({ where: { connectorInstanceId } })).cursor;
  }

  async function pollerStatus(connectorInstanceId: string): Promise<string> {
    const client = await hub.temporal.client();
    return (await client.workflow.getHandle(crmPollerWorkflowId(connectorInstanceId)).describe()).status.name;
  }

  beforeAll(async () => {
    hub = await startTestHub({ idleTimeoutMs: 300_000 });
    legacy = await createTestCrmDatabase('mariadb');
    table = `legacy_clients_${legacy.suffix}`;
    await legacy.db.schema.createTable(table, (t) => {
      t.increments('client_id');
      t.string('tel', 40);
      t.string('fio', 100);
      t.string('mail', 100).nullable();
      t.text('notes').nullable();
      // A legacy stamp: whole seconds, set by the CRM's own screens.
      t.dateTime('changed_at', { precision: 0 }).nullable();
    });
    const mariadb = new URL(inject('mariadbUrl'));
    proxy = await startTcpProxy({ host: mariadb.hostname, port: Number(mariadb.port || 3306) });
    mariadb.port = String(proxy.port);

    const created = await api('POST', '/v1/connectors', {
      kind: 'sql-crm',
      name: 'legacy-maria',
      config: {
        connectionString: mariadb.toString(),
        table,
        columns: { id: 'client_id', phone: 'tel', name: 'fio', email: 'mail', fields: 'notes', updatedAt: 'changed_at' },
        phoneFormat: 'raw',
        defaultRegion: 'US',
        changeSettleSeconds: 2,
        queryTimeoutMs: 3000,
      },
      polling: { intervalSeconds: 1 },
    });
    expect(created.status).toBe(201);
    expect(created.body.polling).toEqual({ intervalSeconds: 1, enabled: true, lastPolledAt: null, lastError: null });
    legacyId = created.body.id;
    demoId = (await api('GET', '/v1/connectors')).body.connectors.find((c: { name: string }) => c.name === 'demo-crm').id;
    // The demo CRM gets polling by a patch, the way an existing instance is switched over.
    const patched = await api('PATCH', `/v1/connectors/${demoId}`, { polling: { intervalSeconds: 1 } });
    expect(patched.status).toBe(200);
    expect(patched.body.polling).toMatchObject({ intervalSeconds: 1, enabled: true });
    // Names are kept right in the legacy CRM; the demo CRM owns the field and is written.
    const rules = await api('PUT', '/v1/reconciliation', { fields: { name: { rule: { kind: 'ranked', ranking: [legacyId, demoId] }, owner: demoId } } });
    expect(rules.status).toBe(200);
  }, 120_000);

  afterAll(async () => {
    await proxy?.close();
    await hub?.close();
    await legacy?.drop();
  });

  it('refuses polling settings it cannot use, naming the field', async () => {
    const bad = await api('PATCH', `/v1/connectors/${demoId}`, { polling: { intervalSeconds: 0 } });
    expect(bad.status).toBe(422);
    expect(bad.body.errors.map((error: { field: string }) => error.field)).toContain('polling.intervalSeconds');
    // A mapping with only a version column cannot order changes: refused when polling is asked for, nothing created.
    const unpollable = await api('POST', '/v1/connectors', {
      kind: 'sql-crm',
      name: 'no-stamp',
      config: { connectionString: hub.crmUrl, columns: { updatedAt: null, version: 'id' } },
      polling: { intervalSeconds: 5 },
    });
    expect(unpollable.status).toBe(422);
    expect(unpollable.body.errors).toEqual([{ field: 'config.columns.updatedAt', message: expect.stringContaining('updated-at column') }]);
    expect((await api('GET', '/v1/connectors')).body.connectors.map((c: { name: string }) => c.name)).not.toContain('no-stamp');
  });

  it('a row changed in the legacy CRM reaches the journey; the hub\'s write-back comes back as an echo', async () => {
    const task = await api('POST', '/v1/tasks', { phone: '+1 415 555 0140', name: 'Ada Lovelace' });
    expect(task.status).toBe(202);
    await eventually(async () => ((await hub.db.task.findUnique({ where: { id: task.body.task.id } }))?.status === 'done' ? true : undefined), 30_000, 'the task');
    const demoRow = await eventually(async () => (await hub.crmRows()).find((row) => row.phone === phone), 10_000, 'the demo CRM row');
    const demoRowId = String(demoRow.id);
    // The demo CRM's poller has seen the row the task created (its state is what later changes are compared with).
    await eventually(async () => ((await pollEvents(demoId)).some((event) => event.externalId === demoRowId) ? true : undefined), 30_000, 'the demo poller');
    // ...and the journey has reconciled on it, so what follows is caused by the legacy change alone.
    await eventually(async () => {
      const state = await journey();
      return changesFrom(state, demoId).length > 0 && (state.reconciliations ?? 0) >= 1 ? true : undefined;
    }, 30_000, 'the first reconciliation');

    // Someone types the customer into the legacy CRM, phone as people type it.
    const [inserted] = (await legacy.db(table).insert({ tel: '(415) 555-0140', fio: 'Ada King', changed_at: legacy.db.fn.now() })) as number[];
    legacyRowId = String(inserted);

    const merged = await eventually(async () => {
      const state = await journey();
      return state.merged?.name === 'Ada King' && changesFrom(state, legacyId).length > 0 ? state : undefined;
    }, 90_000, 'the legacy change and name in the merged view').catch(async (error: unknown) => {
      // What the legacy poller did meanwhile, so a failure on a loaded machine says where the change stopped.
      const connector = (await api('GET', `/v1/connectors/${legacyId}`)).body;
      const seen = await pollEvents(legacyId);
      throw new Error(`${String(error)}; legacy poller ${await pollerStatus(legacyId).catch(String)}, polling ${JSON.stringify(connector?.polling)}, cursor ${await cursorOf(legacyId).catch(String)}, ${seen.length} event(s) stored`);
    });
    expect(changesFrom(merged, legacyId).map((change) => change.externalId)).toContain(legacyRowId);
    expect(changesFrom(merged, legacyId)[0]).toMatchObject({ origin: 'crm', kind: 'contact.updated' });
    // The owner of the name was written.
    await eventually(async () => ((await hub.crmRows()).find((row) => row.phone === phone)?.full_name === 'Ada King' ? true : undefined), 30_000, 'the owner written');

    // The demo CRM's poller reads the hub's own write back: it reaches the journey as an echo and starts nothing.
    const echoed = await eventually(async () => {
      const state = await journey();
      const echo = changesFrom(state, demoId).find((change) => change.changes?.name === 'Ada King');
      return echo ? { state, echo } : undefined;
    }, 30_000, 'the echo of the hub write');
    expect(echoed.echo.origin).toBe('hub-echo');
    expect(Object.keys(echoed.echo.changes ?? {})).toEqual(['name']);
    const reconciliations = echoed.state.reconciliations ?? 0;
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    const later = await journey();
    expect(later.reconciliations ?? 0).toBe(reconciliations);
    expect(changesFrom(later, demoId).filter((change) => change.origin !== 'hub-echo' && change.changes?.name === 'Ada King')).toEqual([]);
  }, 150_000);

  it('keeps its checkpoint across a worker restart and stores nothing twice, even replayed from the start', async () => {
    const before = await pollEvents(legacyId);
    expect(before.length).toBeGreaterThan(0);
    await hub.stopWorker();
    // Changed while no worker runs.
    await legacy.db(table).where('client_id', legacyRowId).update({ mail: 'ada@example.com', changed_at: legacy.db.fn.now() });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await pollEvents(legacyId)).toEqual(before);
    await hub.startWorker();

    const afterRestart = await eventually(async () => {
      const state = await journey();
      return changesFrom(state, legacyId).some((change) => change.changes?.email === 'ada@example.com') ? state : undefined;
    }, 45_000, 'the change made during the restart');
    const events = await pollEvents(legacyId);
    expect(events).toHaveLength(before.length + 1);
    expect(new Set(changesFrom(afterRestart, legacyId).map((change) => change.eventId)).size).toBe(changesFrom(afterRestart, legacyId).length);

    // Replay: the checkpoint is thrown back to the start; every row is read again and nothing new is stored.
    await eventually(async () => ((await cursorOf(legacyId)) !== null ? true : undefined), 10_000, 'a stored cursor');
    await hub.db.connectorPoller.update({ where: { connectorInstanceId: legacyId }, data: { cursor: null } });
    await eventually(async () => ((await cursorOf(legacyId)) !== null ? true : undefined), 20_000, 'the replay');
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await pollEvents(legacyId)).toEqual(events);
    expect((await journey()).crmChangesReceived).toBe(afterRestart.crmChangesReceived);
  }, 150_000);

  it('an unreachable CRM delays the change with backoff and loses nothing', async () => {
    const client = await hub.temporal.client();
    const poller = client.workflow.getHandle(crmPollerWorkflowId(legacyId));
    const cursorBefore = await cursorOf(legacyId);
    proxy.down();
    await legacy.db(table).where('client_id', legacyRowId).update({ notes: JSON.stringify({ status: 'review' }), changed_at: legacy.db.fn.now() });
    // The poll fails and is retried with backoff (1 s, then 2 s, 4 s...), not in a hot loop:
    // within 4.5 s of the outage that is two or three attempts.
    await new Promise((resolve) => setTimeout(resolve, 4_500));
    const attempt = (await poller.describe()).raw.pendingActivities?.[0]?.attempt ?? 0;
    expect(attempt).toBeGreaterThanOrEqual(2);
    expect(attempt).toBeLessThanOrEqual(4);
    // Whoever looks at the connector sees why.
    expect((await api('GET', `/v1/connectors/${legacyId}`)).body.polling.lastError).toMatch(/SQL CRM unavailable/);
    expect(await cursorOf(legacyId)).toBe(cursorBefore);
    expect(changesFrom(await journey(), legacyId).some((change) => change.changes?.['fields.status'] === 'review')).toBe(false);

    proxy.up();
    const state = await eventually(async () => {
      const current = await journey();
      return current.merged?.['fields.status'] === 'review' ? current : undefined;
    }, 60_000, 'the change once the CRM is back');
    expect(changesFrom(state, legacyId).filter((change) => change.changes?.['fields.status'] === 'review')).toHaveLength(1);
    expect((await api('GET', `/v1/connectors/${legacyId}`)).body.polling).toMatchObject({ lastError: null, lastPolledAt: expect.any(String) });
  }, 120_000);

  it('at worker start, brings back every enabled poller whose workflow is gone', async () => {
    const client = await hub.temporal.client();
    await client.workflow.getHandle(crmPollerWorkflowId(demoId)).terminate('lost, as if Temporal never got the start');
    expect(await pollerStatus(demoId)).toBe('TERMINATED');
    expect(await ensureCrmPollers({ db: hub.db, client, taskQueue: hub.taskQueue })).toBe(2);
    expect(await pollerStatus(demoId)).toBe('RUNNING');
    expect(await pollerStatus(legacyId)).toBe('RUNNING');
  });

  // Stopped either way: terminated by the outbox, or ended by its own poll that found polling off first.
  it('stops the poller when polling is disabled and when the connector is deleted', async () => {
    const disabled = await api('PATCH', `/v1/connectors/${demoId}`, { polling: { intervalSeconds: 1, enabled: false } });
    expect(disabled.status).toBe(200);
    await eventually(async () => (['TERMINATED', 'COMPLETED'].includes(await pollerStatus(demoId)) ? true : undefined), 20_000, 'the demo poller stopped');
    expect((await hub.db.connectorPoller.findUniqueOrThrow({ where: { connectorInstanceId: demoId } })).cursor).not.toBeNull();

    expect((await api('DELETE', `/v1/connectors/${legacyId}`)).status).toBe(204);
    await eventually(async () => (['TERMINATED', 'COMPLETED'].includes(await pollerStatus(legacyId)) ? true : undefined), 20_000, 'the legacy poller stopped');
    expect(await hub.db.connectorPoller.findUnique({ where: { connectorInstanceId: legacyId } })).toBeNull();
  }, 60_000);
});
