// Two CRMs disagree about one contact: the journey reconciles them per the
// project's rules, journals the conflicts, writes each surviving value to the
// field's owner, and does not ping-pong when the owner's change comes back.
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { defaultUserFields, startBitrixSandbox, type BitrixSandbox } from '../connectors/bitrix24/sandbox/index.js';
import { journeyStateQuery, journeyWorkflowId, type JourneyState } from '../workflows/journey/shared.js';
import { eventually, startTestHub, type TestHub } from './support/hub.js';

const applicationToken = 'app-token-reconcile-01';
const phone = '+79120001122';

let hub: TestHub;
let sandbox: BitrixSandbox;
let server: ServerType;
let hubUrl: string;
let bitrixId: string;
let sqlId: string;

async function api(method: string, path: string, json?: unknown) {
  const response = await hub.request(path, { method, ...(json === undefined ? {} : { json }) });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- bodies are checked field by field
  return { status: response.status, body: (await response.json()) as any };
}

async function journey(): Promise<JourneyState> {
  const client = await hub.temporal.client();
  return client.workflow.getHandle(journeyWorkflowId(hub.projectId, phone)).query(journeyStateQuery);
}

beforeAll(async () => {
  hub = await startTestHub({ idleTimeoutMs: 120_000 });
  sandbox = await startBitrixSandbox({ applicationToken, userFields: [...defaultUserFields, 'UF_CRM_STATUS'] });
  const port = await new Promise<number>((resolve) => {
    server = serve({ fetch: hub.app.fetch, hostname: '127.0.0.1', port: 0 }, (info: AddressInfo) => resolve(info.port));
  });
  hubUrl = `http://127.0.0.1:${port}`;
  const created = await api('POST', '/v1/connectors', {
    kind: 'bitrix24',
    name: 'sales-bitrix',
    config: { webhookUrl: sandbox.webhookBase, applicationToken, phoneRegion: 'RU', fieldMap: { status: 'UF_CRM_STATUS' } },
  });
  expect(created.status).toBe(201);
  bitrixId = created.body.id;
  sqlId = (await api('GET', '/v1/connectors')).body.connectors.find((c: { name: string }) => c.name === 'demo-crm').id;
});
afterAll(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await sandbox?.close();
  await hub?.close();
});

it('merges per rules, journals the conflicts, writes owners once and ignores the echo', async () => {
  // Sales fixes names in Bitrix24; the loans CRM (SQL) decides application statuses.
  const rules = await api('PUT', '/v1/reconciliation', {
    fields: {
      name: { rule: { kind: 'ranked', ranking: [bitrixId, sqlId] }, owner: sqlId },
      'fields.status': { rule: { kind: 'ranked', ranking: [sqlId, bitrixId] }, owner: bitrixId },
    },
  });
  expect(rules.status).toBe(200);

  // The loans CRM learns the contact from a task; the portal already has it, spelled differently.
  const task = await api('POST', '/v1/tasks', { phone: '+7 912 000-11-22', name: 'Ada Lovelace', status: 'approved' });
  expect(task.status).toBe(202);
  await eventually(async () => ((await hub.db.task.findUnique({ where: { id: task.body.task.id } }))?.status === 'done' ? true : undefined), 30_000, 'the task');
  const bitrixContact = sandbox.seed('contact', { NAME: 'Ada King', PHONE: [{ VALUE: '8 (912) 000-11-22', VALUE_TYPE: 'MOBILE' }], UF_CRM_STATUS: 'review' });

  // The portal tells the hub its record changed.
  expect((await sandbox.emitContactEvent(`${hubUrl}/v1/webhooks/${bitrixId}`, 'ONCRMCONTACTUPDATE', bitrixContact)).status).toBe(200);
  const merged = await eventually(async () => {
    const state = await journey();
    return (state.reconciliations ?? 0) >= 1 ? state : undefined;
  }, 30_000, 'the first reconciliation');
  expect(merged.merged).toMatchObject({ name: 'Ada King', 'fields.status': 'approved' });
  expect(merged.conflictFields?.sort()).toEqual(['fields.status', 'name']);

  // Both conflicts are in the journal with both values and the rule.
  const conflicts = (await api('GET', '/v1/conflicts?status=open')).body;
  const byField = Object.fromEntries(conflicts.conflicts.map((c: { field: string }) => [c.field, c]));
  expect(byField.name).toMatchObject({ chosenValue: 'Ada King', chosenSource: bitrixId });
  expect(byField.name.candidates.map((c: { value: string }) => c.value).sort()).toEqual(['Ada King', 'Ada Lovelace']);
  expect(byField['fields.status']).toMatchObject({ chosenValue: 'approved', chosenSource: sqlId });

  // Each owner got the surviving value.
  const sqlRow = (await hub.crmRows()).find((row) => row.phone === phone);
  expect(sqlRow).toMatchObject({ full_name: 'Ada King' });
  expect(sandbox.records('contact').find((record) => String(record.ID) === String(bitrixContact))).toMatchObject({ UF_CRM_STATUS: 'approved', NAME: 'Ada King' });
  const updatesAfterFirstPass = sandbox.stats().byMethod['crm.contact.update'] ?? 0;
  expect(updatesAfterFirstPass).toBe(1);

  // The portal reports the hub's own write back; reconciling again finds agreement and writes nothing.
  // Bitrix24 stamps events in whole seconds and the hub de-duplicates on (event, record, second):
  // the portal's event for the hub's write carries a later second than the first one's.
  await new Promise((resolve) => setTimeout(resolve, 1_005 - (Date.now() % 1_000)));
  expect((await sandbox.emitContactEvent(`${hubUrl}/v1/webhooks/${bitrixId}`, 'ONCRMCONTACTUPDATE', bitrixContact)).status).toBe(200);
  const settled = await eventually(async () => {
    const state = await journey();
    return (state.reconciliations ?? 0) >= 2 ? state : undefined;
  }, 30_000, 'the second reconciliation');
  expect(settled.conflictFields).toEqual([]);
  expect(sandbox.stats().byMethod['crm.contact.update'] ?? 0).toBe(updatesAfterFirstPass);
  const sqlRowAgain = (await hub.crmRows()).find((row) => row.phone === phone);
  expect(sqlRowAgain?.updated_at).toEqual(sqlRow?.updated_at);
  expect((await api('GET', '/v1/conflicts?status=open')).body.conflicts).toEqual([]);
});
